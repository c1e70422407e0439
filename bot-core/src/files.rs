//! Photos and documents people send.
//!
//! - [`IncomingFile`]: what an adapter hands over (the platform's description and a fetch
//!   that runs only after the sender, the kind and the size were checked).
//! - [`FileReader`]: the port that decodes them (the `hearth-media` crate implements it:
//!   images decoded with limits and downscaled, PDF/Word/HTML/text read into pages).
//! - [`ChatDocuments`]: the documents of each conversation, split into passages and kept
//!   for follow-up questions until `/reset`; it is a [`Retriever`](crate::retrieve::Retriever)
//!   like memories and notes, citing `report.pdf p. 4`.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::lang::{Lang, t, tr};
use crate::retrieve::{ContextGroup, Passage, Query, RetrieveError, Retriever};
use crate::types::{Attachment, ScopeKey};

/// What kind of file a message carried, as the platform tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A picture (Telegram photo, Discord image attachment, an image sent as a file).
    Photo,
    /// Anything else sent as a file.
    Document,
}

/// A file an adapter received, and how to fetch it.
pub struct IncomingFile {
    /// Photo or document.
    pub kind: FileKind,
    /// The file's name, when the platform has one (documents).
    pub name: Option<String>,
    /// The platform's description (MIME type, size).
    pub attachment: Attachment,
    /// Downloads the file; the error is a cause for the log.
    pub fetch: BoxFuture<'static, Result<Vec<u8>, String>>,
}

impl std::fmt::Debug for IncomingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingFile")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("attachment", &self.attachment)
            .finish()
    }
}

/// A picture ready for a vision model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    /// The re-encoded image (JPEG, or PNG for pictures with transparency), base64.
    pub base64: String,
    /// Its size after downscaling.
    pub width: u32,
    /// Its size after downscaling.
    pub height: u32,
}

/// One page (or the whole text, for formats without pages) of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The page number, 1-based, for formats that have pages (PDF).
    pub number: Option<u32>,
    /// The page's text.
    pub text: String,
}

/// Why a file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// A format the bot does not read (named for the person).
    #[error("unsupported format: {0}")]
    Unsupported(String),
    /// The bytes are not a valid file of their format.
    #[error("corrupt file: {0}")]
    Corrupt(String),
    /// An image larger than the decoder allows (a decompression bomb, or just huge).
    #[error("image too large: {width}x{height}")]
    TooManyPixels {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A password-protected document.
    #[error("the document is encrypted")]
    Encrypted,
    /// A document with no text to read (a scanned PDF without a text layer, an empty file).
    #[error("no text in the document")]
    NoText,
    /// Unpacking would take more memory than allowed (a zip or stream bomb).
    #[error("the contents expand beyond the limit")]
    Expands,
}

impl FileError {
    /// A short sentence for the person, about the file called `name`.
    pub fn user_message(&self, lang: Lang, name: &str) -> String {
        match self {
            FileError::Unsupported(format) => tr(
                lang,
                "file-unsupported",
                &[("name", name), ("format", format)],
            ),
            FileError::Corrupt(_) => tr(lang, "file-corrupt", &[("name", name)]),
            FileError::TooManyPixels { width, height } => tr(
                lang,
                "image-too-many-pixels",
                &[
                    ("width", &width.to_string()),
                    ("height", &height.to_string()),
                ],
            ),
            FileError::Encrypted => tr(lang, "document-encrypted", &[("name", name)]),
            FileError::NoText => tr(lang, "document-no-text", &[("name", name)]),
            FileError::Expands => tr(lang, "file-expands", &[("name", name)]),
        }
    }
}

/// Decodes pictures and reads documents. Blocking: the service calls it off the async
/// runtime.
pub trait FileReader: Send + Sync {
    /// Decodes `bytes` as an image (PNG, JPEG, WebP, GIF's first frame), downscales it so
    /// its longest side is at most `max_side` pixels and re-encodes it.
    fn picture(&self, bytes: &[u8], max_side: u32) -> Result<Picture, FileError>;

    /// Reads the text of a document called `name` (its extension and `mime` tell the
    /// format), page by page where the format has pages.
    fn document(
        &self,
        name: &str,
        mime: Option<&str>,
        bytes: &[u8],
    ) -> Result<Vec<Page>, FileError>;
}

/// A document read in a conversation, split into passages.
#[derive(Debug)]
pub struct ChatDocument {
    /// The file's name, as cited.
    pub name: String,
    /// Its passages, in document order.
    pub passages: Vec<DocPassage>,
    /// One vector per passage, when an embedding model is configured.
    pub vectors: Option<Vec<Vec<f32>>>,
}

/// A piece of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocPassage {
    /// The page it starts on, for formats with pages.
    pub page: Option<u32>,
    /// The text.
    pub text: String,
}

impl ChatDocument {
    /// Splits `pages` into passages of about `PASSAGE_CHARS` characters, on paragraph or
    /// line breaks where there are some.
    pub fn new(name: &str, pages: &[Page]) -> Self {
        let mut passages = Vec::new();
        for page in pages {
            for text in split_passages(&page.text, PASSAGE_CHARS) {
                passages.push(DocPassage {
                    page: page.number,
                    text,
                });
            }
        }
        Self {
            name: name.to_owned(),
            passages,
            vectors: None,
        }
    }

    /// How a passage is cited: `report.pdf p. 4`, or the name alone.
    pub fn citation(&self, passage: &DocPassage) -> String {
        match passage.page {
            Some(page) => format!("{} p. {page}", self.name),
            None => self.name.clone(),
        }
    }

    /// Characters of text in all passages.
    pub fn chars(&self) -> usize {
        self.passages.iter().map(|p| p.text.len()).sum()
    }
}

/// About how long a document passage is, in characters.
pub const PASSAGE_CHARS: usize = 900;

/// Splits `text` into pieces of at most about `max` characters, breaking at paragraph
/// ends, then line ends, then spaces, then anywhere (on a character boundary).
pub fn split_passages(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for paragraph in text.split("\n\n") {
        let paragraph = paragraph.trim();
        if paragraph.is_empty() {
            continue;
        }
        if !current.is_empty() && current.chars().count() + paragraph.chars().count() + 2 > max {
            out.push(std::mem::take(&mut current));
        }
        if paragraph.chars().count() <= max {
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(paragraph);
            continue;
        }
        // A long paragraph: cut at the last line end or space before `max` characters.
        let mut rest = paragraph;
        while !rest.is_empty() {
            let end = rest
                .char_indices()
                .nth(max)
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
            let cut = if end == rest.len() {
                end
            } else {
                let window = &rest[..end];
                window
                    .rfind('\n')
                    .or_else(|| window.rfind(' '))
                    .filter(|&i| i > end / 2)
                    .map(|i| i + 1)
                    .unwrap_or(end)
            };
            let piece = rest[..cut].trim();
            if !piece.is_empty() {
                out.push(piece.to_owned());
            }
            rest = &rest[cut..];
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The documents of every conversation, kept in memory for follow-up questions: bounded
/// in total size, dropped by `/reset` or after a day unused.
pub struct ChatDocuments {
    cache: mini_moka::sync::Cache<ScopeKey, Arc<Vec<Arc<ChatDocument>>>>,
    /// How many passages go into a prompt at most.
    pub max_passages: usize,
}

impl Default for ChatDocuments {
    fn default() -> Self {
        Self::new(256 * 1024 * 1024)
    }
}

impl ChatDocuments {
    /// Keeps at most about `max_bytes` of document text in all.
    pub fn new(max_bytes: u64) -> Self {
        Self {
            cache: mini_moka::sync::Cache::builder()
                .weigher(|_k: &ScopeKey, v: &Arc<Vec<Arc<ChatDocument>>>| {
                    let bytes: usize = v
                        .iter()
                        .map(|d| {
                            d.chars()
                                + d.vectors
                                    .as_ref()
                                    .map_or(0, |v| v.iter().map(|v| v.len() * 4).sum())
                        })
                        .sum();
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .max_capacity(max_bytes)
                .time_to_idle(std::time::Duration::from_secs(24 * 3600))
                .build(),
            max_passages: 8,
        }
    }

    /// Adds `document` to the conversation `scope` (newest last; a document of the same
    /// name replaces the older one).
    pub fn add(&self, scope: &ScopeKey, document: ChatDocument) {
        let mut docs: Vec<Arc<ChatDocument>> = self
            .cache
            .get(scope)
            .map(|d| d.as_ref().clone())
            .unwrap_or_default();
        docs.retain(|d| d.name != document.name);
        docs.push(Arc::new(document));
        // A conversation keeps its latest few documents.
        if docs.len() > MAX_DOCUMENTS_PER_CONVERSATION {
            docs.remove(0);
        }
        self.cache.insert(scope.clone(), Arc::new(docs));
    }

    /// The conversation's documents, oldest first.
    pub fn of(&self, scope: &ScopeKey) -> Vec<Arc<ChatDocument>> {
        self.cache
            .get(scope)
            .map(|d| d.as_ref().clone())
            .unwrap_or_default()
    }

    /// Drops the conversation's documents (`/reset`).
    pub fn clear(&self, scope: &ScopeKey) {
        self.cache.invalidate(scope);
    }

    /// Drops every conversation's documents whose scope belongs to `user` (`/forget all`).
    pub fn clear_user(&self, user: &crate::UserKey) {
        let (platform, id) = user.parts();
        let prefix = format!("{}:", platform.as_str());
        let suffix = format!(":{id}");
        let keys: Vec<ScopeKey> = self
            .cache
            .iter()
            .map(|entry| entry.key().clone())
            .filter(|k| k.as_str().starts_with(&prefix) && k.as_str().ends_with(&suffix))
            .collect();
        for key in keys {
            self.cache.invalidate(&key);
        }
    }

    /// The passages to put in a prompt: the most relevant to `question` (cosine with
    /// `question_vector` when there are vectors, plus shared words), or for a summary the
    /// document's passages spread from start to end.
    pub fn passages(
        &self,
        scope: &ScopeKey,
        question: &str,
        question_vector: Option<&[f32]>,
        summarize: bool,
    ) -> Vec<Passage> {
        let docs = self.of(scope);
        let Some(latest) = docs.last() else {
            return Vec::new();
        };
        if summarize {
            // The newest document, start to end, evenly spread.
            let n = latest.passages.len();
            let take = n.min(self.max_passages.max(1) + 4);
            return (0..take)
                .map(|i| {
                    if take <= 1 {
                        0
                    } else {
                        i * (n - 1) / (take - 1)
                    }
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(|i| passage_of(latest, i, 1.0))
                .collect();
        }
        rank(&docs, question, question_vector, self.max_passages)
    }
}

/// The `max` passages of `docs` (newest last) most relevant to `question`: cosine with
/// `question_vector` where a document has vectors, plus the share of the question's words
/// the passage holds; newer documents first among equals.
pub fn rank(
    docs: &[Arc<ChatDocument>],
    question: &str,
    question_vector: Option<&[f32]>,
    max: usize,
) -> Vec<Passage> {
    let question_words = crate::sources::words(question);
    let mut scored: Vec<(f32, &Arc<ChatDocument>, usize)> = Vec::new();
    for (age, doc) in docs.iter().rev().enumerate() {
        for (i, passage) in doc.passages.iter().enumerate() {
            let words = crate::sources::words(&passage.text);
            let shared = question_words.iter().filter(|w| words.contains(*w)).count();
            let keyword = if question_words.is_empty() {
                0.0
            } else {
                shared as f32 / question_words.len() as f32
            };
            let cosine = match (question_vector, doc.vectors.as_ref()) {
                (Some(q), Some(vectors)) => vectors.get(i).map_or(0.0, |v| cosine(q, v)),
                _ => 0.0,
            };
            let score = cosine + 0.5 * keyword - 0.01 * age as f32;
            scored.push((score, doc, i));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(max);
    scored
        .into_iter()
        .map(|(score, doc, i)| passage_of(doc, i, score))
        .collect()
}

/// How many documents one conversation keeps.
pub const MAX_DOCUMENTS_PER_CONVERSATION: usize = 5;

fn passage_of(doc: &ChatDocument, i: usize, score: f32) -> Passage {
    let p = &doc.passages[i];
    let source = doc.citation(p);
    Passage {
        label: source.clone(),
        source,
        text: p.text.clone(),
        score,
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// The conversation's documents, and the person's filed ones, as prompt context.
pub struct DocumentRetriever {
    documents: Arc<ChatDocuments>,
    memories: Arc<crate::memory::Memories>,
    store: Arc<dyn DocumentStore>,
    /// Each person's filed documents, decoded once (dropped when they change).
    filed: mini_moka::sync::Cache<crate::UserKey, Arc<Vec<Arc<ChatDocument>>>>,
}

impl DocumentRetriever {
    /// Retrieves from `documents` and `store`, embedding questions with the memories' model.
    pub fn new(
        documents: Arc<ChatDocuments>,
        memories: Arc<crate::memory::Memories>,
        store: Arc<dyn DocumentStore>,
    ) -> Self {
        Self {
            documents,
            memories,
            store,
            filed: mini_moka::sync::Cache::builder()
                .max_capacity(1000)
                .time_to_idle(std::time::Duration::from_secs(3600))
                .build(),
        }
    }

    /// Forgets the decoded copy of `user`'s filed documents (they changed).
    pub fn invalidate(&self, user: &crate::UserKey) {
        self.filed.invalidate(user);
    }

    /// `user`'s filed documents, decoded.
    pub async fn filed(
        &self,
        user: &crate::UserKey,
    ) -> Result<Arc<Vec<Arc<ChatDocument>>>, crate::store::StoreError> {
        if let Some(docs) = self.filed.get(user) {
            return Ok(docs);
        }
        let model = self.memories.embedder().map(|e| e.describe());
        let docs: Vec<Arc<ChatDocument>> = self
            .store
            .documents(user)
            .await?
            .iter()
            .map(|d| Arc::new(d.to_chat_document(model.as_deref())))
            .collect();
        let docs = Arc::new(docs);
        self.filed.insert(user.clone(), Arc::clone(&docs));
        Ok(docs)
    }
}

#[async_trait::async_trait]
impl Retriever for DocumentRetriever {
    async fn retrieve(&self, query: &Query<'_>) -> Result<Option<ContextGroup>, RetrieveError> {
        let here = self.documents.of(query.scope);
        // Filed documents are the person's own: not in shared chats unless they allowed it.
        let personal = !query.shared_chat || query.personal_in_shared;
        let filed = if personal && !query.summarize {
            self.filed(query.user)
                .await
                .map_err(|e| RetrieveError::Backend(e.to_string()))?
        } else {
            Arc::new(Vec::new())
        };
        if here.is_empty() && filed.is_empty() {
            return Ok(None);
        }
        let passages = if query.summarize {
            self.documents.passages(query.scope, query.text, None, true)
        } else {
            let wants_vector = here.iter().chain(filed.iter()).any(|d| d.vectors.is_some());
            let vector = if wants_vector {
                self.memories
                    .embed(vec![query.text.to_owned()])
                    .await
                    .and_then(|mut v| v.pop())
            } else {
                None
            };
            // Filed ones count as older than anything sent in this conversation.
            let all: Vec<Arc<ChatDocument>> = filed.iter().chain(here.iter()).cloned().collect();
            let mut found = rank(
                &all,
                query.text,
                vector.as_deref(),
                self.documents.max_passages,
            );
            if here.is_empty() {
                // Only filed documents: they must share something with the question.
                // Near enough in meaning, or (without vectors) a third of the question's words.
                let floor = if vector.is_some() {
                    self.memories
                        .embedder()
                        .and_then(|e| e.relevance_floor())
                        .unwrap_or(0.3)
                } else {
                    0.15
                };
                found.retain(|p| p.score >= floor);
            }
            found
        };
        if passages.is_empty() {
            return Ok(None);
        }
        let names: Vec<&str> = here.iter().map(|d| d.name.as_str()).collect();
        let heading = if names.is_empty() {
            "Passages of documents this person filed (use them only when relevant; each starts with its source)".to_owned()
        } else {
            format!(
                "Passages of the document(s) {} sent in this conversation, and of documents this person filed (answer from them; each starts with its source)",
                names.join(", ")
            )
        };
        Ok(Some(ContextGroup {
            heading,
            cite: true,
            passages,
        }))
    }
}

/// A document a person filed into their own collection (`/notes add`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedDocument {
    /// Whose it is.
    pub owner: crate::UserKey,
    /// The file's name (unique per person: filing the same name again replaces it).
    pub name: String,
    /// When it was filed.
    pub saved_at: chrono::DateTime<chrono::Utc>,
    /// Its passages, in document order.
    pub passages: Vec<SavedPassage>,
    /// The embedding model of `vectors` (an embedder's `describe()`).
    #[serde(default)]
    pub embedding_model: Option<String>,
    /// One vector per passage, when an embedding model was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vectors: Option<Vec<Vec<f32>>>,
}

/// A passage of a filed document.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedPassage {
    /// The page it starts on, for formats with pages.
    pub page: Option<u32>,
    /// The text.
    pub text: String,
}

impl SavedDocument {
    /// As a conversation document (for the retriever), its vectors kept only when they
    /// were made by `model`.
    pub fn to_chat_document(&self, model: Option<&str>) -> ChatDocument {
        ChatDocument {
            name: self.name.clone(),
            passages: self
                .passages
                .iter()
                .map(|p| DocPassage {
                    page: p.page,
                    text: p.text.clone(),
                })
                .collect(),
            vectors: self
                .vectors
                .clone()
                .filter(|_| model.is_some() && self.embedding_model.as_deref() == model),
        }
    }
}

/// Where people's filed documents are kept.
#[async_trait::async_trait]
pub trait DocumentStore: Send + Sync {
    /// Stores `document` (replacing the owner's document of the same name).
    async fn put_document(&self, document: &SavedDocument) -> Result<(), crate::store::StoreError>;
    /// The owner's documents, by name.
    async fn documents(
        &self,
        owner: &crate::UserKey,
    ) -> Result<Vec<SavedDocument>, crate::store::StoreError>;
    /// Deletes every document of `owner`; returns how many there were.
    async fn remove_all_documents(
        &self,
        owner: &crate::UserKey,
    ) -> Result<usize, crate::store::StoreError>;
    /// Makes every write so far durable.
    async fn flush(&self) -> Result<(), crate::store::StoreError>;
}

/// Filed documents in memory, for tests.
#[derive(Debug, Default)]
pub struct InMemoryDocuments {
    documents: std::sync::Mutex<std::collections::BTreeMap<(String, String), SavedDocument>>,
}

#[async_trait::async_trait]
impl DocumentStore for InMemoryDocuments {
    async fn put_document(&self, document: &SavedDocument) -> Result<(), crate::store::StoreError> {
        self.documents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (document.owner.as_str().to_owned(), document.name.clone()),
                document.clone(),
            );
        Ok(())
    }

    async fn documents(
        &self,
        owner: &crate::UserKey,
    ) -> Result<Vec<SavedDocument>, crate::store::StoreError> {
        Ok(self
            .documents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|d| &d.owner == owner)
            .cloned()
            .collect())
    }

    async fn remove_all_documents(
        &self,
        owner: &crate::UserKey,
    ) -> Result<usize, crate::store::StoreError> {
        let mut documents = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        let before = documents.len();
        documents.retain(|_, d| &d.owner != owner);
        Ok(before - documents.len())
    }

    async fn flush(&self) -> Result<(), crate::store::StoreError> {
        Ok(())
    }
}

/// The prompt for a picture sent without a caption, in `lang`.
pub fn default_picture_prompt(lang: Lang) -> String {
    t(lang, "photo-default-prompt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passages_break_at_paragraphs_and_never_exceed_the_limit_much() {
        let text = format!(
            "{}\n\n{}\n\n{}",
            "a ".repeat(200),
            "b ".repeat(300),
            "한글 ".repeat(800)
        );
        let parts = split_passages(&text, 500);
        assert!(parts.len() >= 4, "{parts:?}");
        for p in &parts {
            assert!(p.chars().count() <= 500, "{}", p.chars().count());
            assert!(!p.is_empty());
        }
        assert!(parts[0].starts_with('a'));
        let joined: String = parts.concat();
        assert_eq!(
            joined.chars().filter(|c| !c.is_whitespace()).count(),
            text.chars().filter(|c| !c.is_whitespace()).count()
        );
    }

    #[test]
    fn a_question_finds_the_page_it_is_about_and_cites_it() {
        let docs = ChatDocuments::default();
        let scope = ScopeKey::new(crate::Platform::Telegram, "1", "1");
        let pages = vec![
            Page {
                number: Some(1),
                text: "Introduction to the annual report.".into(),
            },
            Page {
                number: Some(4),
                text: "Revenue grew by twelve percent in the northern region.".into(),
            },
        ];
        docs.add(&scope, ChatDocument::new("report.pdf", &pages));
        let hits = docs.passages(&scope, "how much did revenue grow?", None, false);
        assert_eq!(hits[0].source, "report.pdf p. 4");
        let summary = docs.passages(&scope, "", None, true);
        assert_eq!(summary.len(), 2);
        assert_eq!(summary[0].source, "report.pdf p. 1");
        let other = ScopeKey::new(crate::Platform::Telegram, "1", "2");
        assert!(docs.passages(&other, "revenue", None, false).is_empty());
        docs.clear(&scope);
        assert!(docs.passages(&scope, "revenue", None, false).is_empty());
    }
}
