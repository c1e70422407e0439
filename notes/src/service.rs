//! [`Notes`]: the vaults, their index and manifest, as the bot and the terminal use them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bot_core::notes::{NoteHit, NotesSource, Reader, VaultOverview};

use crate::NotesError;
use crate::access::VaultAccess;
use crate::index::{Hit, NotesIndex};
use crate::indexer::{self, Manifest, Summary, VaultConfig, VaultState};
use crate::scan::Skipped;

/// A configured vault with its readers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vault {
    /// Name and folder.
    pub config: VaultConfig,
    /// Who may read it, and where.
    pub access: VaultAccess,
}

/// One vault's state, for `/notes`, `hearth notes status` and `doctor`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VaultStatus {
    /// Its name.
    pub name: String,
    /// Its folder.
    pub root: String,
    /// Obsidian or Logseq (once indexed).
    pub kind: Option<crate::scan::Kind>,
    /// Notes indexed.
    pub notes: usize,
    /// Passages indexed.
    pub passages: usize,
    /// Files that are not notes.
    pub attachments: usize,
    /// When the index last caught up.
    pub indexed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Files that could not be used.
    pub skipped: Vec<Skipped>,
    /// Why the vault could not be read, if so.
    pub error: Option<String>,
}

/// The owner's vaults and their index.
pub struct Notes {
    vaults: Vec<Vault>,
    index: NotesIndex,
    manifest_path: PathBuf,
    manifest: Mutex<Manifest>,
    /// One update at a time in this process (tantivy's lock covers other processes).
    updating: Mutex<()>,
}

impl Notes {
    /// Opens (or creates) the index under `dir` (`DATA_DIR/notes`) for `vaults`.
    pub fn open(dir: &Path, vaults: Vec<Vault>) -> Result<Self, NotesError> {
        let index = NotesIndex::open(&dir.join("index"))?;
        let manifest_path = dir.join("manifest.json");
        let mut manifest = indexer::load_manifest(&manifest_path);
        // A manifest that promises notes the index does not hold (the index folder was
        // removed) would keep them out forever: start that vault afresh.
        for (name, state) in &mut manifest.vaults {
            if !state.notes.is_empty() && index.passages_in(name)? == 0 {
                *state = VaultState::default();
            }
        }
        Ok(Self {
            vaults,
            index,
            manifest_path,
            manifest: Mutex::new(manifest),
            updating: Mutex::new(()),
        })
    }

    /// The configured vaults.
    pub fn vaults(&self) -> &[Vault] {
        &self.vaults
    }

    /// Brings the index up to date with every vault (or only `only`); `progress(vault,
    /// done, total)` follows along. Blocking: run it off the async workers. A vault that
    /// cannot be read is reported in its summary's place and the others go on.
    pub fn update(
        &self,
        only: Option<&str>,
        progress: &dyn Fn(&str, usize, usize),
    ) -> Result<Vec<Result<Summary, NotesError>>, NotesError> {
        let selected: Vec<&Vault> = self
            .vaults
            .iter()
            .filter(|v| only.is_none_or(|name| v.config.name == name))
            .collect();
        if let Some(name) = only
            && selected.is_empty()
        {
            return Err(NotesError::UnknownVault(name.to_owned()));
        }
        let _one_at_a_time = self.updating.lock().unwrap_or_else(|e| e.into_inner());
        let mut writer = self.index.writer()?;
        let mut manifest = self.lock_manifest().clone();
        // Vaults no longer configured leave the index.
        let gone: Vec<String> = manifest
            .vaults
            .keys()
            .filter(|name| !self.vaults.iter().any(|v| &v.config.name == *name))
            .cloned()
            .collect();
        for name in gone {
            self.index.remove_vault(&writer, &name);
            manifest.vaults.remove(&name);
        }
        let mut summaries = Vec::new();
        for vault in selected {
            let name = vault.config.name.clone();
            let summary = indexer::update_vault(
                &self.index,
                &writer,
                &mut manifest,
                &vault.config,
                &|done, total| progress(&name, done, total),
            );
            if let Err(e) = &summary {
                tracing::warn!(vault = %name, error = %e, "a vault could not be indexed");
            }
            summaries.push(summary);
        }
        writer.commit()?;
        drop(writer);
        indexer::save_manifest(&self.manifest_path, &manifest)?;
        *self.lock_manifest() = manifest;
        self.index.reload()?;
        Ok(summaries)
    }

    fn lock_manifest(&self) -> std::sync::MutexGuard<'_, Manifest> {
        self.manifest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The best passages for `query` in `vaults` (every configured vault when `None`).
    pub fn search(
        &self,
        query: &str,
        vaults: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<Hit>, NotesError> {
        let names: Vec<&str> = match vaults {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => self.vaults.iter().map(|v| v.config.name.as_str()).collect(),
        };
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // The reader sees the latest commit: it was opened with this `Notes` (a terminal
        // command) and is reloaded after every update (the bot).
        self.index.search(query, &names, limit)
    }

    /// The state of every configured vault.
    pub fn status(&self) -> Vec<VaultStatus> {
        let manifest = self.lock_manifest();
        let empty = VaultState::default();
        self.vaults
            .iter()
            .map(|vault| {
                let name = &vault.config.name;
                let state = manifest.vaults.get(name).unwrap_or(&empty);
                VaultStatus {
                    name: name.clone(),
                    root: vault.config.root.display().to_string(),
                    kind: state.kind,
                    notes: state.notes.len(),
                    passages: state.notes.values().map(|n| n.passages).sum(),
                    attachments: state.attachments,
                    indexed_at: state.indexed_at,
                    skipped: state.skipped.clone(),
                    error: state.error.clone(),
                }
            })
            .collect()
    }

    /// Names of the vaults `reader` may use.
    pub fn readable(&self, reader: Reader<'_>) -> Vec<String> {
        self.vaults
            .iter()
            .filter(|v| v.access.allows(reader.user, reader.shared_chat))
            .map(|v| v.config.name.clone())
            .collect()
    }
}

/// The notes as the chat service sees them (searches run on blocking threads).
#[derive(Clone)]
pub struct NotesPort(pub Arc<Notes>);

#[async_trait::async_trait]
impl NotesSource for NotesPort {
    fn vaults_for(&self, reader: Reader<'_>) -> Vec<String> {
        self.0.readable(reader)
    }

    async fn search(
        &self,
        reader: Reader<'_>,
        query: &str,
        limit: usize,
    ) -> Result<Vec<NoteHit>, bot_core::notes::NotesError> {
        let vaults = self.0.readable(reader);
        if vaults.is_empty() {
            return Ok(Vec::new());
        }
        let notes = Arc::clone(&self.0);
        let query = query.to_owned();
        let hits = tokio::task::spawn_blocking(move || notes.search(&query, Some(&vaults), limit))
            .await
            .map_err(|e| bot_core::notes::NotesError::Unavailable(e.to_string()))?
            .map_err(|e| bot_core::notes::NotesError::Unavailable(e.to_string()))?;
        Ok(hits)
    }

    async fn overview(&self, reader: Reader<'_>) -> Vec<VaultOverview> {
        let readable = self.0.readable(reader);
        self.0
            .status()
            .into_iter()
            .filter(|s| readable.contains(&s.name))
            .map(|s| VaultOverview {
                name: s.name,
                notes: s.notes,
                passages: s.passages,
                indexed_at: s.indexed_at,
                failed: s.skipped.into_iter().map(|k| (k.path, k.reason)).collect(),
                error: s.error,
            })
            .collect()
    }
}
