//! The notes port: the owner's vaults (Obsidian, Logseq) as context, behind a small trait.
//!
//! The `hearth-notes` crate implements [`NotesSource`] (reading vaults, the index, the
//! watcher); the core only asks it for passages a person may see and for an overview, so
//! it never learns about files, tantivy or notify. [`NotesRetriever`] puts passages in the
//! prompt (cited, so answers show their sources); `/notes` lists them.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::retrieve::{ContextGroup, Passage, Query, RetrieveError, Retriever};
use crate::types::UserKey;

/// A passage of a note that matched.
#[derive(Clone, Debug, PartialEq)]
pub struct NoteHit {
    /// The vault's name.
    pub vault: String,
    /// The note's path in the vault, forward slashes.
    pub path: String,
    /// The note's title.
    pub title: String,
    /// The heading path of the passage (` › `-joined), empty at the top of a note.
    pub heading: String,
    /// The passage.
    pub text: String,
    /// The note's date.
    pub date: Option<NaiveDate>,
    /// Relevance, higher is better.
    pub score: f32,
}

impl NoteHit {
    /// How a source is cited: `NAS/Backup.md › Restic schedule` (the innermost heading).
    pub fn citation(&self) -> String {
        match self.heading.rsplit(" › ").next().filter(|h| !h.is_empty()) {
            Some(heading) => format!("{} › {heading}", self.path),
            None => self.path.clone(),
        }
    }
}

/// One vault as `/notes` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct VaultOverview {
    /// Its name.
    pub name: String,
    /// Notes indexed.
    pub notes: usize,
    /// Passages indexed.
    pub passages: usize,
    /// When the index last caught up with the folder.
    pub indexed_at: Option<DateTime<Utc>>,
    /// Files that could not be used, with the reason.
    pub failed: Vec<(String, String)>,
    /// Why the vault could not be read at all, if so.
    pub error: Option<String>,
}

/// Who is asking, and where the answer will be read.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    /// The person.
    pub user: &'a UserKey,
    /// Others read the chat too (a group, a public channel).
    pub shared_chat: bool,
}

/// Why the notes could not be searched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotesError {
    /// The index could not be used; the cause is for the log.
    #[error("the notes index is unavailable: {0}")]
    Unavailable(String),
}

/// The owner's notes, as far as one reader may see them.
#[async_trait::async_trait]
pub trait NotesSource: Send + Sync {
    /// The vaults `reader` may use in this chat (none in a shared chat unless the owner
    /// allowed that vault there).
    fn vaults_for(&self, reader: Reader<'_>) -> Vec<String>;

    /// The best passages for `query` among the vaults `reader` may use, best first.
    async fn search(
        &self,
        reader: Reader<'_>,
        query: &str,
        limit: usize,
    ) -> Result<Vec<NoteHit>, NotesError>;

    /// The vaults `reader` may use, for `/notes`.
    async fn overview(&self, reader: Reader<'_>) -> Vec<VaultOverview>;
}

/// How many passages of notes go into a prompt at most.
pub const PROMPT_PASSAGES: usize = 5;

/// The owner's notes as prompt context.
pub struct NotesRetriever {
    source: Arc<dyn NotesSource>,
}

impl NotesRetriever {
    /// Retrieves from `source`.
    pub fn new(source: Arc<dyn NotesSource>) -> Self {
        Self { source }
    }
}

#[async_trait::async_trait]
impl Retriever for NotesRetriever {
    async fn retrieve(&self, query: &Query<'_>) -> Result<Option<ContextGroup>, RetrieveError> {
        if !query.notes_enabled {
            return Ok(None);
        }
        let reader = Reader {
            user: query.user,
            shared_chat: query.shared_chat,
        };
        let started = std::time::Instant::now();
        let hits = self
            .source
            .search(reader, query.text, PROMPT_PASSAGES)
            .await
            .map_err(|e| RetrieveError::Backend(e.to_string()))?;
        crate::telemetry::notes_search(started.elapsed());
        if hits.is_empty() {
            return Ok(None);
        }
        Ok(Some(ContextGroup {
            heading: "Passages from the owner's notes (use them when they answer the question)"
                .into(),
            cite: true,
            passages: hits
                .into_iter()
                .map(|hit| Passage {
                    label: if hit.heading.is_empty() {
                        hit.title.clone()
                    } else {
                        format!("{} › {}", hit.title, hit.heading)
                    },
                    source: hit.citation(),
                    text: hit.text,
                    score: hit.score,
                })
                .collect(),
        }))
    }
}
