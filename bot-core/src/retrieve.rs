//! The retriever port: context for a prompt, from wherever it lives.
//!
//! Each [`Retriever`] returns scored [`Passage`]s for one person's question, each with
//! a label and a source; the prompt shows them under the retriever's heading within the
//! token budget ([`crate::prompt`]). Memories are the first retriever
//! ([`MemoryRetriever`]); the owner's notes and uploaded documents come next, behind the
//! same port.

use std::sync::Arc;

use crate::memory::Memories;
use crate::types::{ScopeKey, UserKey};

/// One piece of context.
#[derive(Clone, Debug, PartialEq)]
pub struct Passage {
    /// Shown before the text in the prompt, e.g. a date or `Note › Heading`.
    pub label: String,
    /// Where it came from, for citing: a memory id, a note path.
    pub source: String,
    /// The passage itself.
    pub text: String,
    /// Relevance, higher is better (0..=1 where the retriever can say).
    pub score: f32,
}

/// Passages of one retriever, under its heading, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextGroup {
    /// What the passages are, for the model.
    pub heading: String,
    /// The answer cites these passages' sources when it uses them (notes, documents; not
    /// memories, which are the person's own words).
    pub cite: bool,
    /// The passages, best first.
    pub passages: Vec<Passage>,
}

/// What to retrieve for.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// Whose context: a retriever returns only what belongs to (or is shared with) them.
    pub user: &'a UserKey,
    /// The conversation asked in (documents sent there are its context).
    pub scope: &'a ScopeKey,
    /// The question asks for a summary of the latest document sent (no caption).
    pub summarize: bool,
    /// The person's display name (headings may address them).
    pub display_name: &'a str,
    /// The question.
    pub text: &'a str,
    /// The answer will be read by others too (a group chat, a public channel).
    pub shared_chat: bool,
    /// The person allowed their personal context in shared chats.
    pub personal_in_shared: bool,
    /// The person wants the owner's notes in their answers (`/notes off` turns it off).
    pub notes_enabled: bool,
}

/// Why a retriever returned nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetrieveError {
    /// The backend behind the retriever failed; the answer goes on without it.
    #[error("retrieval failed: {0}")]
    Backend(String),
}

/// A source of context for prompts.
#[async_trait::async_trait]
pub trait Retriever: Send + Sync {
    /// The passages for `query`, best first, under this retriever's heading; `None` when
    /// it has nothing to add (or may not add anything in this chat).
    async fn retrieve(&self, query: &Query<'_>) -> Result<Option<ContextGroup>, RetrieveError>;
}

/// The person's long-term memories as context.
pub struct MemoryRetriever {
    memories: Arc<Memories>,
}

impl MemoryRetriever {
    /// Retrieves from `memories`, as many as its `prompt_memories` setting allows.
    pub fn new(memories: Arc<Memories>) -> Self {
        Self { memories }
    }
}

#[async_trait::async_trait]
impl Retriever for MemoryRetriever {
    async fn retrieve(&self, query: &Query<'_>) -> Result<Option<ContextGroup>, RetrieveError> {
        if query.shared_chat && !query.personal_in_shared {
            return Ok(None);
        }
        let limit = self.memories.config().prompt_memories;
        let started = std::time::Instant::now();
        let hits = self
            .memories
            .search(query.user, query.text, limit)
            .await
            .map_err(|e| RetrieveError::Backend(e.to_string()))?;
        crate::telemetry::memory_search(started.elapsed());
        if hits.is_empty() {
            return Ok(None);
        }
        Ok(Some(ContextGroup {
            cite: false,
            heading: format!(
                "What you remember about {} from earlier conversations (use it only when relevant)",
                query.display_name
            ),
            passages: hits
                .into_iter()
                .map(|hit| Passage {
                    label: hit.memory.updated.format("%Y-%m-%d").to_string(),
                    source: format!("memory {}", hit.memory.id),
                    text: hit.memory.text,
                    score: hit.score,
                })
                .collect(),
        }))
    }
}
