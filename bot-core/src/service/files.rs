//! Photos and documents: check, download, read, then answer the message's text with them.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::answer::{Attached, Exchange};
use super::{Inner, Reply};
use crate::files::{ChatDocument, FileError, FileKind, FileReader, IncomingFile, Picture};
use crate::lang::{Lang, t, tr};
use crate::types::{InboundMessage, ReplyEvent, ScopeKey};

/// Documents with more passages than this are searched by keywords only (embedding them
/// all would keep the person waiting too long).
const MAX_EMBEDDED_PASSAGES: usize = 1500;

/// The most text read from one document, in characters (about 1,000 dense pages).
const MAX_DOCUMENT_CHARS: usize = 4_000_000;

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// The reply to a file of `size` bytes over the `limit`.
fn too_large(lang: Lang, name: &str, size: u64, limit: u64) -> String {
    tr(
        lang,
        "file-too-large",
        &[
            ("name", name),
            ("size", &megabytes(size)),
            ("limit", &megabytes(limit)),
        ],
    )
}

/// Whether a file sent as a document is really a picture (an image sent "as a file").
fn is_picture(file: &IncomingFile) -> bool {
    if file.kind == FileKind::Photo {
        return true;
    }
    let mime = file
        .attachment
        .mime_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    if mime.starts_with("image/") {
        return true;
    }
    let name = file.name.as_deref().unwrap_or("").to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".webp", ".gif"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

impl Inner {
    /// Reads the files of `message` and answers its text with them; replies why not
    /// when none can be used.
    pub(super) async fn answer_files(
        &self,
        mut message: InboundMessage,
        files: Vec<IncomingFile>,
        reply: &Reply,
    ) -> Option<Exchange> {
        let lang = self.person_lang(&message).await;
        let Some(reader) = self.deps.files.clone() else {
            tracing::info!(user = %message.user_id, "a file arrived but file reading is not set up");
            reply.finish(t(lang, "files-off")).await;
            return None;
        };
        let (photos, documents): (Vec<_>, Vec<_>) = files.into_iter().partition(is_picture);
        let mut problems = Vec::new();

        // Pictures: a model that can see comes first, so nothing is downloaded for nothing.
        let mut pictures = Vec::new();
        let mut vision_model = None;
        if !photos.is_empty() {
            match self.vision_model_for(&message).await {
                Ok(model) => {
                    vision_model = Some(model);
                    for photo in photos {
                        match self.read_picture(&reader, photo, lang).await {
                            Ok(picture) => pictures.push(picture),
                            Err(problem) => problems.push(problem),
                        }
                    }
                }
                Err(problem) => problems.push(problem),
            }
        }

        let mut read = Vec::new();
        for document in documents {
            match self.read_document(&reader, document, lang, reply).await {
                Ok(doc) => read.push(doc),
                Err(problem) => problems.push(problem),
            }
        }

        if pictures.is_empty() && read.is_empty() {
            reply.finish(problems.join("\n")).await;
            return None;
        }
        for problem in &problems {
            reply.send(ReplyEvent::Status(problem.clone())).await;
        }

        let caption = message.text.trim().to_owned();
        let names: Vec<String> = read.iter().map(|d| d.name.clone()).collect();
        let photo_label = match pictures.len() {
            0 => None,
            1 => Some("photo".to_owned()),
            n => Some(format!("{n} photos")),
        };
        // What the conversation keeps: "[photo: caption]", "[document: a.pdf] caption".
        let stored = match (&photo_label, names.is_empty(), caption.is_empty()) {
            (Some(label), true, false) => format!("[{label}: {caption}]"),
            _ => {
                let mut notes: Vec<String> = photo_label.iter().map(|l| format!("[{l}]")).collect();
                notes.extend(names.iter().map(|n| format!("[document: {n}]")));
                if !caption.is_empty() {
                    notes.push(caption.clone());
                }
                notes.join(" ")
            }
        };
        let summarize = caption.is_empty() && !read.is_empty();
        let scope = message.scope();
        for doc in read {
            self.documents.add(&scope, doc);
        }
        message.text = if !caption.is_empty() {
            caption
        } else if summarize {
            tr(lang, "document-summarize", &[("name", &names.join(", "))])
        } else {
            crate::files::default_picture_prompt(lang)
        };
        message.attachments.clear();
        tracing::info!(
            user = %message.user_id,
            pictures = pictures.len(),
            documents = names.len(),
            "answering with files"
        );
        let attached = Attached {
            stored_text: Some(stored),
            pictures: pictures.into_iter().map(|p| p.base64).collect(),
            model: vision_model,
            summarize,
        };
        match self.answer_with(&message, reply, attached).await {
            Ok(exchange) => exchange,
            Err(e) => {
                tracing::error!(error = %e, scope = %scope, "storage failed while answering files");
                reply.fail(t(lang, "storage-trouble")).await;
                None
            }
        }
    }

    /// The model to show pictures to: the person's own when it can see, else
    /// `HEARTH_VISION_MODEL`; else the sentence telling why none.
    async fn vision_model_for(&self, message: &InboundMessage) -> Result<String, String> {
        let lang = self.person_lang(message).await;
        let settings = self
            .deps
            .settings
            .settings(&message.user_key())
            .await
            .unwrap_or_default();
        let own = settings
            .model
            .unwrap_or_else(|| self.config.default_model.clone());
        match self.deps.model.model_info(&own).await {
            Ok(info) if info.vision => return Ok(own),
            Ok(_) => {}
            Err(e) if self.config.vision_model.is_none() => {
                tracing::warn!(error = %e, model = %own, "model server unavailable");
                return Err(e.user_message(lang));
            }
            Err(e) => {
                tracing::warn!(error = %e, model = %own, "could not ask whether the model can see")
            }
        }
        match &self.config.vision_model {
            Some(vision) => Ok(vision.clone()),
            None => {
                tracing::info!(model = %own, "a picture arrived but no model that can see is configured");
                Err(tr(lang, "vision-unavailable", &[("model", &own)]))
            }
        }
    }

    /// Downloads and decodes one picture, downscaled for the model.
    async fn read_picture(
        &self,
        reader: &Arc<dyn FileReader>,
        photo: IncomingFile,
        lang: Lang,
    ) -> Result<Picture, String> {
        let limit = self.config.image_max_bytes;
        let name = photo.name.clone().unwrap_or_else(|| t(lang, "photo-name"));
        if let Some(size) = photo.attachment.size.filter(|&s| s > limit) {
            tracing::info!(size, limit, "refused an oversized picture");
            return Err(too_large(lang, &name, size, limit));
        }
        let bytes = self.fetch(photo, limit, &name, lang).await?;
        let reader = Arc::clone(reader);
        let side = self.config.image_max_side;
        let started = std::time::Instant::now();
        let size = bytes.len();
        let decoded = tokio::task::spawn_blocking(move || reader.picture(&bytes, side))
            .await
            .unwrap_or_else(|e| Err(FileError::Corrupt(format!("the decoder failed: {e}"))));
        match decoded {
            Ok(picture) => {
                tracing::info!(
                    bytes = size,
                    width = picture.width,
                    height = picture.height,
                    ms = started.elapsed().as_millis() as u64,
                    "decoded a picture"
                );
                Ok(picture)
            }
            Err(e) => {
                tracing::info!(error = %e, "could not read a picture");
                Err(e.user_message(lang, &name))
            }
        }
    }

    /// Downloads and reads one document into passages (embedded when a model is set).
    async fn read_document(
        &self,
        reader: &Arc<dyn FileReader>,
        document: IncomingFile,
        lang: Lang,
        reply: &Reply,
    ) -> Result<ChatDocument, String> {
        let limit = self.config.document_max_bytes;
        let name = document
            .name
            .clone()
            .map(|n| n.replace(['\n', '\r'], " "))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| t(lang, "document-name"));
        if let Some(size) = document.attachment.size.filter(|&s| s > limit) {
            tracing::info!(size, limit, "refused an oversized document");
            return Err(too_large(lang, &name, size, limit));
        }
        let mime = document.attachment.mime_type.clone();
        let bytes = self.fetch(document, limit, &name, lang).await?;
        reply
            .send(ReplyEvent::Status(tr(
                lang,
                "document-reading",
                &[("name", &name)],
            )))
            .await;
        let reader = Arc::clone(reader);
        let started = std::time::Instant::now();
        let size = bytes.len();
        let file_name = name.clone();
        let pages = tokio::task::spawn_blocking(move || {
            reader.document(&file_name, mime.as_deref(), &bytes)
        })
        .await
        .unwrap_or_else(|e| Err(FileError::Corrupt(format!("the reader failed: {e}"))));
        let mut pages = match pages {
            Ok(pages) => pages,
            Err(e) => {
                tracing::info!(error = %e, "could not read a document");
                return Err(e.user_message(lang, &name));
            }
        };
        // Bounded: a huge text file is read up to a limit (and the person is told).
        let mut total = 0;
        let mut cut = None;
        for (i, page) in pages.iter_mut().enumerate() {
            if total + page.text.len() > MAX_DOCUMENT_CHARS {
                let mut end = MAX_DOCUMENT_CHARS.saturating_sub(total);
                while !page.text.is_char_boundary(end) {
                    end -= 1;
                }
                page.text.truncate(end);
                cut = Some(i + 1);
                break;
            }
            total += page.text.len();
        }
        if let Some(keep) = cut {
            pages.truncate(keep);
            reply
                .send(ReplyEvent::Status(tr(
                    lang,
                    "document-cut",
                    &[("name", &name)],
                )))
                .await;
        }
        let mut doc = ChatDocument::new(&name, &pages);
        if doc.passages.is_empty() {
            return Err(FileError::NoText.user_message(lang, &name));
        }
        if doc.passages.len() <= MAX_EMBEDDED_PASSAGES {
            let texts = doc.passages.iter().map(|p| p.text.clone()).collect();
            doc.vectors = self.deps.memories.embed(texts).await;
        }
        tracing::info!(
            bytes = size,
            pages = pages.len(),
            passages = doc.passages.len(),
            embedded = doc.vectors.is_some(),
            ms = started.elapsed().as_millis() as u64,
            "read a document"
        );
        Ok(doc)
    }

    /// Downloads a file of at most `limit` bytes.
    async fn fetch(
        &self,
        file: IncomingFile,
        limit: u64,
        name: &str,
        lang: Lang,
    ) -> Result<Vec<u8>, String> {
        match file.fetch.await {
            Ok(bytes) if bytes.len() as u64 > limit => {
                tracing::info!(
                    size = bytes.len(),
                    "refused an oversized file after download"
                );
                Err(too_large(lang, name, bytes.len() as u64, limit))
            }
            Ok(bytes) => Ok(bytes),
            Err(cause) => {
                tracing::warn!(cause = %cause, "could not download a file");
                Err(tr(lang, "file-download-failed", &[("name", name)]))
            }
        }
    }

    /// Keeps `pictures` of the turn at `at`, and only the conversation's latest
    /// `images_in_context` pictures in all.
    pub(super) fn remember_pictures(
        &self,
        scope: &ScopeKey,
        at: DateTime<Utc>,
        pictures: Vec<String>,
    ) {
        let max = self.config.images_in_context;
        if max == 0 {
            return;
        }
        let mut all: Vec<(DateTime<Utc>, Vec<String>)> = self
            .pictures
            .get(scope)
            .map(|p| p.as_ref().clone())
            .unwrap_or_default();
        all.push((at, pictures));
        // Drop the oldest pictures beyond the limit (newest turn's first kept).
        let mut left = max;
        for (_, images) in all.iter_mut().rev() {
            let keep = images.len().min(left);
            let drop = images.len() - keep;
            images.drain(..drop);
            left -= keep;
        }
        all.retain(|(_, images)| !images.is_empty());
        self.pictures.insert(scope.clone(), Arc::new(all));
    }

    /// The conversation's latest pictures, by the time of their turn.
    pub(super) fn pictures_of(&self, scope: &ScopeKey) -> Vec<(DateTime<Utc>, Vec<String>)> {
        self.pictures
            .get(scope)
            .map(|p| p.as_ref().clone())
            .unwrap_or_default()
    }
}
