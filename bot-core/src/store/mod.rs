//! Storage ports and their backends.
//!
//! - [`HistoryStore`]: conversation turns per [`ScopeKey`], with `/reset`
//!   starting a new conversation while the old ones stay for export.
//! - [`SettingsStore`]: per-user settings such as the chosen model.
//! - `sled_store::SledStore` (feature `sled`) implements both on disk;
//!   [`memory::InMemoryStore`] in memory. Both pass the same conformance suite
//!   (`conformance`, public with the `testing` feature for other backends).
//!
//! The ports are async: a backend with an async driver (a future Postgres one) awaits it, a
//! blocking one (sled) runs each operation on a thread of its own, so storage never runs on
//! the async workers. Errors say what went wrong ([`StoreError`]), never which backend failed,
//! so a second backend implements the ports without touching the core.

pub mod cache;
pub mod memory;
#[cfg(feature = "sled")]
pub mod seal;
#[cfg(feature = "sled")]
pub mod sled_store;

#[cfg(any(test, feature = "testing"))]
pub mod conformance;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Role;
use crate::types::{ScopeKey, UserKey};

/// One stored message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// Who said it.
    pub role: Role,
    /// What was said (for the assistant: the visible answer, reasoning removed).
    pub text: String,
    /// When it was said.
    pub at: DateTime<Utc>,
    /// Which conversation of the scope it belongs to; `/reset` starts the next.
    #[serde(default)]
    pub conversation: u32,
    /// The platform's ids of the message(s) that carried it.
    #[serde(default)]
    pub message_ids: Vec<String>,
}

/// A turn with its place in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTurn {
    /// Sequence number, increasing within a scope.
    pub seq: u64,
    /// The turn.
    pub turn: Turn,
}

/// Settings a user chose.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserSettings {
    /// The model to answer with, if not the default.
    pub model: Option<String>,
    /// The user turned automatic memory capture off (`/memory off`).
    pub memory_capture_off: bool,
    /// The user allows their memories in chats others can read (`/memory shared on`).
    pub memory_in_shared: bool,
    /// The user turned the owner's notes off for their answers (`/notes off`).
    pub notes_off: bool,
    /// The person's IANA time zone (`/timezone`), if not the owner's default.
    pub timezone: Option<String>,
    /// The person's language code (`/language ko`); `None` follows their app and messages.
    pub language: Option<String>,
}

/// Storage errors, whatever the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be used (I/O error, connection lost, disk full); the
    /// backend's own message is kept for the log.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Another process holds the data directory or database.
    #[error("the data directory {0} is in use by another process (is Hearth already running?)")]
    Locked(String),
    /// A stored value could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The data directory was written by a newer version of Hearth.
    #[error(
        "the data directory has schema version {found}, this Hearth understands up to {supported}"
    )]
    NewerSchema {
        /// Version found on disk.
        found: u32,
        /// Newest version this build can read.
        supported: u32,
    },
    /// The data is encrypted and no master key was given.
    #[error(
        "the data directory is encrypted: set HEARTH_MASTER_KEY_FILE to the master key it was encrypted with"
    )]
    Encrypted,
    /// What was asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A write collided with another one (for backends with transactions).
    #[error("conflicting write: {0}")]
    Conflict(String),
}

/// Removes everything one person has in a store at once (`/forget everything`,
/// `hearth user erase`): for a store that holds several kinds of data in one place and can
/// do more than each port's own removal, e.g. destroy the person's key first so copies the
/// store's log still holds cannot be read.
#[async_trait::async_trait]
pub trait Eraser: Send + Sync {
    /// Removes all of `user`'s data; how many entries went.
    async fn erase_person(&self, user: &UserKey) -> Result<usize, StoreError>;
}

/// Whether `scope` (a [`ScopeKey`] as stored) is a conversation of `user_id` on `platform`.
pub fn scope_belongs_to(scope: &str, platform: crate::Platform, user_id: &str) -> bool {
    scope
        .strip_prefix(platform.as_str())
        .and_then(|r| r.strip_prefix(':'))
        .is_some_and(|rest| {
            rest.rsplit_once(':')
                .is_some_and(|(_, user)| user == user_id)
        })
}

/// Conversation history, per scope.
#[async_trait::async_trait]
pub trait HistoryStore: Send + Sync {
    /// Appends a turn to the scope's current conversation; returns its sequence number.
    /// The turn's `conversation` field is set by the store.
    async fn append(&self, scope: &ScopeKey, turn: Turn) -> Result<u64, StoreError>;

    /// Up to `limit` most recent turns of the current conversation, oldest first.
    async fn recent(&self, scope: &ScopeKey, limit: usize) -> Result<Vec<StoredTurn>, StoreError>;

    /// Starts a new conversation in the scope; older turns are kept but no longer recent.
    async fn reset(&self, scope: &ScopeKey) -> Result<(), StoreError>;

    /// Records the platform message ids that carried a turn.
    async fn set_message_ids(
        &self,
        scope: &ScopeKey,
        seq: u64,
        ids: Vec<String>,
    ) -> Result<(), StoreError>;

    /// Makes every write so far durable.
    async fn flush(&self) -> Result<(), StoreError>;

    /// Every turn of every conversation `user_id` had on `platform`, for export.
    async fn user_turns(
        &self,
        platform: crate::Platform,
        user_id: &str,
    ) -> Result<Vec<(ScopeKey, StoredTurn)>, StoreError>;

    /// Removes every turn of every conversation `user_id` had on `platform`, and where
    /// their conversations stood; how many turns went.
    async fn erase_user(
        &self,
        platform: crate::Platform,
        user_id: &str,
    ) -> Result<usize, StoreError>;
}

/// A message the bot took from a platform but has not answered yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unanswered {
    /// Who sent it.
    pub user: UserKey,
    /// The platform's id for it (e.g. Telegram's update id), unique per platform.
    pub id: String,
    /// The message as the platform sent it (the adapter's own encoding).
    pub message: Vec<u8>,
}

/// Messages taken from a platform and not yet answered. An adapter keeps each one here
/// before it tells the platform the message arrived, and lets go of it once answered, so a
/// crash in between never loses it: the next start answers what is still here.
#[async_trait::async_trait]
pub trait InboxStore: Send + Sync {
    /// Keeps `message` durably (on disk when the call returns, for a disk backend).
    async fn keep(&self, message: &Unanswered) -> Result<(), StoreError>;

    /// The message `id` of `user` was answered (or needs no answer): forget it.
    async fn answered(&self, user: &UserKey, id: &str) -> Result<(), StoreError>;

    /// Every message still unanswered on `platform`, in the order they were kept.
    async fn unanswered(&self, platform: crate::Platform) -> Result<Vec<Unanswered>, StoreError>;

    /// Forgets every unanswered message of `user`; how many went.
    async fn erase_user(&self, user: &UserKey) -> Result<usize, StoreError>;
}

/// Per-user settings.
#[async_trait::async_trait]
pub trait SettingsStore: Send + Sync {
    /// The user's settings, default when none are stored.
    async fn settings(&self, user: &UserKey) -> Result<UserSettings, StoreError>;

    /// Replaces the user's settings.
    async fn set_settings(&self, user: &UserKey, settings: &UserSettings)
    -> Result<(), StoreError>;

    /// Removes the user's settings (they read as default afterwards).
    async fn remove_settings(&self, user: &UserKey) -> Result<(), StoreError>;

    /// Makes every write so far durable.
    async fn flush(&self) -> Result<(), StoreError>;
}
