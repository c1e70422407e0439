//! The owner's notes as context: Obsidian vaults and Logseq graphs, read, indexed, kept
//! current and searched, behind the core's [`NotesSource`](bot_core::notes::NotesSource)
//! port.
//!
//! The parts:
//! - [`scan`]: which files of a vault are notes; what is skipped and why.
//! - [`obsidian`], [`logseq`], [`markup`]: reading a note into a [`note::Note`] (title,
//!   aliases, tags, date, links, sections); [`note`] cuts it into passages.
//! - [`tokenize`]: the analyzer (words, CJK bigrams, English stemming).
//! - [`index`]: the tantivy index of passages; [`indexer`]: bringing it up to date with a
//!   vault incrementally (content hashes in a manifest).
//! - [`service`]: [`Notes`], what the bot and the `hearth notes` commands use: update,
//!   search, status, and who may read which vault ([`access`]).
//! - [`watch`]: following the vault folders while the bot runs (notify, debounced).
//!
//! Reading is synchronous (files, tantivy); the async side runs it on blocking threads.

pub mod access;
pub mod index;
pub mod indexer;
pub mod logseq;
pub mod markup;
pub mod note;
pub mod obsidian;
pub mod scan;
pub mod service;
pub mod tokenize;
pub mod vectors;
pub mod watch;

pub use access::{Users, VaultAccess};
pub use indexer::{Summary, VaultConfig};
pub use service::{Embedded, Notes, NotesPort, Vault, VaultStatus};

use std::path::Path;

/// What went wrong with the notes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotesError {
    /// A file or folder of the index could not be used.
    #[error("{path}: {source}")]
    Io {
        /// Which.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The index itself failed.
    #[error("notes index: {0}")]
    Index(String),
    /// Another process is writing the index (a running bot, or another `hearth notes index`).
    #[error("the notes index is being updated by another process (is the bot running?)")]
    Busy,
    /// A vault folder cannot be read.
    #[error("{0}")]
    Vault(String),
    /// No vault has that name.
    #[error("no vault is called {0}")]
    UnknownVault(String),
}

impl NotesError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        NotesError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

impl From<tantivy::TantivyError> for NotesError {
    fn from(error: tantivy::TantivyError) -> Self {
        NotesError::Index(error.to_string())
    }
}

/// The file name of `path` without its extension.
pub(crate) fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}

#[cfg(test)]
mod tests;
