//! Bringing the index up to date with a vault, incrementally.
//!
//! The manifest (`DATA_DIR/notes/manifest.json`) remembers each indexed note's size,
//! modification time and content hash. A note whose size and time are unchanged is not
//! opened; one whose content hash is unchanged is not re-read into the index; deleted notes
//! leave it. So re-indexing an unchanged vault costs one `stat` per file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tantivy::IndexWriter;

use crate::NotesError;
use crate::index::{NotesIndex, PassageDoc, embed_text, text_hash};
use crate::logseq::{self, Syntax};
use crate::markup;
use crate::note::Note;
use crate::obsidian;
use crate::scan::{self, Kind, Skipped};

/// A vault as the owner configured it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultConfig {
    /// Its name (`main` in `HEARTH_NOTES=main=/path`).
    pub name: String,
    /// Its folder.
    pub root: PathBuf,
}

/// What the index knows about every vault.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Per vault name.
    pub vaults: BTreeMap<String, VaultState>,
}

impl Manifest {
    /// The passage hashes of every note of every vault (the keys of their vectors).
    pub fn passage_hashes(&self) -> impl Iterator<Item = u64> + '_ {
        self.vaults
            .values()
            .flat_map(|v| v.notes.values())
            .flat_map(|n| n.passage_hashes.iter().copied())
    }
}

/// What the index knows about one vault.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VaultState {
    /// The folder it was indexed from; another folder under the same name starts afresh.
    pub root: String,
    /// Obsidian or Logseq.
    pub kind: Option<Kind>,
    /// When the last update finished.
    pub indexed_at: Option<DateTime<Utc>>,
    /// Indexed notes by path.
    pub notes: BTreeMap<String, NoteState>,
    /// Files the last update could not use, and why.
    pub skipped: Vec<Skipped>,
    /// Files that are not notes.
    pub attachments: usize,
    /// Why the last update failed as a whole (the folder is gone), if it did.
    #[serde(default)]
    pub error: Option<String>,
}

/// What the index knows about one note.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NoteState {
    /// xxh3 of the content, hex.
    pub hash: String,
    /// Size in bytes when indexed.
    pub size: u64,
    /// Modification time when indexed, nanoseconds since the Unix epoch.
    pub modified: u64,
    /// Passages indexed.
    pub passages: usize,
    /// Hashes of the passages' texts as the embedding model reads them, in order: the keys
    /// of their vectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passage_hashes: Vec<u64>,
    /// Logseq block ids it defines, with their text, for resolving `((uuid))` elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_ids: Vec<(String, String)>,
    /// Notes it links to (wikilink and page-reference targets): the vault's link graph.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// What one update did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The vault.
    pub vault: String,
    /// Notes in the index now.
    pub notes: usize,
    /// Passages of the notes read in this update.
    pub passages_written: usize,
    /// Notes (re)read because they are new or changed.
    pub changed: usize,
    /// Notes that left the index.
    pub removed: usize,
    /// Files skipped (see the vault's `skipped`).
    pub skipped: usize,
    /// Files that are not notes.
    pub attachments: usize,
    /// How long it took.
    pub elapsed: Duration,
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Reads one note file into a [`Note`], by vault kind and extension.
pub fn parse(kind: Kind, path: &str, content: &str) -> Note {
    match kind {
        Kind::Obsidian => obsidian::read(path, content),
        Kind::Logseq if path.to_lowercase().ends_with(".org") => {
            logseq::read(path, content, Syntax::Org)
        }
        Kind::Logseq => logseq::read(path, content, Syntax::Markdown),
    }
}

/// A note read in this update, waiting for block references to be resolved.
struct Read {
    path: String,
    note: Note,
    modified: SystemTime,
}

/// Brings `vault`'s part of the index up to date; `progress(done, total)` is called as notes
/// are looked at. The caller commits `writer` and saves the manifest.
pub fn update_vault(
    index: &NotesIndex,
    writer: &IndexWriter,
    manifest: &mut Manifest,
    vault: &VaultConfig,
    progress: &dyn Fn(usize, usize),
) -> Result<Summary, NotesError> {
    let started = Instant::now();
    let scan = match scan::scan(&vault.root) {
        Ok(scan) => scan,
        Err(e) => {
            // The folder is gone (an unmounted disk?): keep what is indexed, say why.
            let state = manifest.vaults.entry(vault.name.clone()).or_default();
            state.error = Some(e.to_string());
            return Err(NotesError::Vault(e.to_string()));
        }
    };
    let root = vault.root.display().to_string();
    let state = manifest.vaults.entry(vault.name.clone()).or_default();
    if state.root != root || state.kind != Some(scan.kind) {
        index.remove_vault(writer, &vault.name);
        *state = VaultState {
            root,
            kind: Some(scan.kind),
            ..VaultState::default()
        };
    }
    let mut skipped = scan.skipped;
    let mut kept: BTreeMap<String, NoteState> = BTreeMap::new();
    let mut read: Vec<(Read, NoteState)> = Vec::new();
    let total = scan.notes.len();
    for (done, found) in scan.notes.into_iter().enumerate() {
        progress(done, total);
        let modified = nanos(found.modified);
        let old = state.notes.remove(&found.path);
        // A note indexed before passages had hashes is read again once.
        let old = old.filter(|o| o.passage_hashes.len() == o.passages);
        if let Some(old) = old
            .as_ref()
            .filter(|o| o.size == found.size && o.modified == modified)
        {
            kept.insert(found.path, old.clone());
            continue;
        }
        let bytes = match std::fs::read(&found.abs) {
            Ok(bytes) => bytes,
            Err(e) => {
                let reason = if e.kind() == std::io::ErrorKind::NotFound {
                    "deleted while indexing".to_owned()
                } else {
                    e.kind().to_string()
                };
                skipped.push(Skipped {
                    path: found.path.clone(),
                    reason,
                });
                if old.is_some() {
                    state.notes.insert(found.path, NoteState::default());
                }
                continue;
            }
        };
        let hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
        if let Some(old) = old.as_ref().filter(|o| o.hash == hash) {
            kept.insert(
                found.path,
                NoteState {
                    size: found.size,
                    modified,
                    ..old.clone()
                },
            );
            continue;
        }
        let Ok(content) = String::from_utf8(bytes) else {
            skipped.push(Skipped {
                path: found.path.clone(),
                reason: "not valid UTF-8 text".into(),
            });
            if old.is_some() {
                state.notes.insert(found.path, NoteState::default());
            }
            continue;
        };
        let note = parse(scan.kind, &found.path, &content);
        let note_state = NoteState {
            hash,
            size: found.size,
            modified,
            passages: 0,
            passage_hashes: Vec::new(),
            block_ids: note.block_ids.clone(),
            links: note.links.clone(),
        };
        read.push((
            Read {
                path: found.path,
                note,
                modified: found.modified,
            },
            note_state,
        ));
    }
    progress(total, total);
    // What is left in the old state is gone from the vault (or unreadable now).
    let removed = state.notes.len();
    for path in state.notes.keys() {
        index.replace_note(writer, &vault.name, path, &[])?;
    }
    let blocks: HashMap<String, String> = kept
        .values()
        .chain(read.iter().map(|(_, s)| s))
        .flat_map(|s| s.block_ids.iter().cloned())
        .collect();
    let changed = read.len();
    let mut passages_written = 0;
    for (read, mut note_state) in read {
        note_state.passage_hashes = write_note(index, writer, &vault.name, &read, &blocks)?;
        note_state.passages = note_state.passage_hashes.len();
        passages_written += note_state.passages;
        kept.insert(read.path, note_state);
    }
    state.notes = kept;
    state.skipped = skipped;
    state.attachments = scan.attachments;
    state.indexed_at = Some(Utc::now());
    state.error = None;
    Ok(Summary {
        vault: vault.name.clone(),
        notes: state.notes.len(),
        passages_written,
        changed,
        removed,
        skipped: state.skipped.len(),
        attachments: state.attachments,
        elapsed: started.elapsed(),
    })
}

fn write_note(
    index: &NotesIndex,
    writer: &IndexWriter,
    vault: &str,
    read: &Read,
    blocks: &HashMap<String, String>,
) -> Result<Vec<u64>, NotesError> {
    let note = &read.note;
    let date = note.date.or_else(|| {
        let at: DateTime<Utc> = read.modified.into();
        Some(at.date_naive()).filter(|d| *d > NaiveDate::MIN)
    });
    // Aliases, tags and the date are searchable with the passage ("notes from March 2024").
    let mut meta = note
        .aliases
        .iter()
        .chain(&note.tags)
        .cloned()
        .collect::<Vec<_>>();
    if let Some(date) = note.date {
        meta.push(date.format("%Y-%m-%d %B %Y").to_string());
    }
    let meta = meta.join(" ");
    let passages: Vec<(String, String)> = note
        .passages()
        .into_iter()
        .map(|p| {
            let text = markup::resolve_block_refs(&p.text, |id| blocks.get(id).cloned());
            (p.heading, text)
        })
        .collect();
    let docs: Vec<PassageDoc<'_>> = passages
        .iter()
        .map(|(heading, text)| PassageDoc {
            vault,
            path: &read.path,
            title: &note.title,
            meta: &meta,
            heading,
            text,
            date,
            hash: text_hash(&embed_text(&note.title, heading, text)),
        })
        .collect();
    index.replace_note(writer, vault, &read.path, &docs)?;
    Ok(docs.iter().map(|d| d.hash).collect())
}

/// Reads the manifest at `path`; a missing one is empty, a broken one is reported and
/// replaced by an empty one (the next update re-reads every note).
pub fn load_manifest(path: &Path) -> Manifest {
    match std::fs::read(path) {
        Ok(raw) => serde_json::from_slice(&raw).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "the notes manifest is unreadable; re-indexing every note");
            Manifest::default()
        }),
        Err(_) => Manifest::default(),
    }
}

/// Writes the manifest to `path` atomically (a temporary file renamed over it, synced).
pub fn save_manifest(path: &Path, manifest: &Manifest) -> Result<(), NotesError> {
    let tmp = path.with_extension("json.tmp");
    let raw = serde_json::to_vec(manifest).map_err(|e| NotesError::Index(e.to_string()))?;
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&raw)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| NotesError::io(path, e))
}
