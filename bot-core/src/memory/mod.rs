//! Long-term memory: what the bot learns about each person.
//!
//! - [`Memory`] and the [`MemoryStore`] port (sled in [`crate::store::sled_store`],
//!   memory in [`crate::store::memory`]). Every key starts with the owner:
//!   isolation by construction.
//! - [`embed`]: the [`Embedder`](embed::Embedder) port and fastembed, offline.
//! - [`index`]: per-user search index: contiguous vectors and BM25.
//! - [`Memories`]: the service the chat service talks to: remember, search,
//!   list, forget, export. Writes are flushed before they are acknowledged.
//! - [`extract`]: automatic capture of durable facts after each exchange.

pub mod embed;
pub mod extract;
#[cfg(feature = "fastembed")]
mod fastembed;
pub mod index;
mod service;
#[cfg(feature = "fastembed")]
pub mod unigram;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::types::UserKey;

pub use service::{Memories, MemoryConfig, MemoryError, SearchHit};

/// Where a memory came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MemorySource {
    /// The user said `/remember`.
    Explicit,
    /// Taken from a conversation.
    Extracted {
        /// The chat it was said in.
        chat: String,
        /// The platform message id, when known.
        message_id: Option<String>,
    },
    /// Brought in from elsewhere.
    Imported,
}

impl MemorySource {
    /// A word for listings.
    pub fn label(&self) -> &'static str {
        match self {
            MemorySource::Explicit => "you told me",
            MemorySource::Extracted { .. } => "from our chat",
            MemorySource::Imported => "imported",
        }
    }
}

/// One thing the bot remembers about one person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Short stable id shown to the user, e.g. `m1k`.
    pub id: String,
    /// Whose memory it is.
    pub owner: UserKey,
    /// The fact.
    pub text: String,
    /// Where it came from.
    pub source: MemorySource,
    /// When it was first stored.
    pub created: DateTime<Utc>,
    /// When it last changed.
    pub updated: DateTime<Utc>,
    /// The text's embedding, when an embedding model is configured.
    #[serde(skip)]
    pub embedding: Option<Vec<f32>>,
    /// Which model made `embedding` ([`Embedder::describe`](embed::Embedder::describe)):
    /// vectors of another model are never searched together with the current one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
}

/// Turns a number into a short id: `m` followed by base 36.
pub fn short_id(n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut digits = Vec::new();
    let mut n = n;
    loop {
        digits.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    format!("m{}", String::from_utf8(digits).unwrap_or_default())
}

/// Storage of memories. Every operation names the owner.
#[async_trait::async_trait]
pub trait MemoryStore: Send + Sync {
    /// A fresh id, never handed out before.
    async fn next_id(&self) -> Result<String, StoreError>;

    /// Stores `memory`, replacing one with the same owner and id.
    async fn put_memory(&self, memory: &Memory) -> Result<(), StoreError>;

    /// One memory of `owner`.
    async fn memory(&self, owner: &UserKey, id: &str) -> Result<Option<Memory>, StoreError>;

    /// All memories of `owner`, oldest first, with embeddings.
    async fn memories(&self, owner: &UserKey) -> Result<Vec<Memory>, StoreError>;

    /// Removes one memory; false when there was none.
    async fn remove_memory(&self, owner: &UserKey, id: &str) -> Result<bool, StoreError>;

    /// Removes all of `owner`'s memories; returns how many.
    async fn remove_all_memories(&self, owner: &UserKey) -> Result<usize, StoreError>;

    /// Makes every write so far durable.
    async fn flush(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn short_ids_are_short_and_distinct() {
        assert_eq!(short_id(0), "m0");
        assert_eq!(short_id(35), "mz");
        assert_eq!(short_id(36), "m10");
        let ids: std::collections::HashSet<_> = (0..5000).map(short_id).collect();
        assert_eq!(ids.len(), 5000);
    }
}
