//! [`Notes`]: the vaults, their index and manifest, as the bot and the terminal use them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bot_core::memory::embed::Embedder;
use bot_core::notes::{NoteHit, NotesSource, Reader, VaultOverview};

use crate::NotesError;
use crate::access::VaultAccess;
use crate::index::{Found, Hit, NotesIndex, embed_text};
use crate::indexer::{self, Manifest, Summary, VaultConfig, VaultState};
use crate::scan::Skipped;
use crate::vectors::Vectors;

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
    /// Passages with a vector of the embedding model (`None`: no model, keywords only).
    /// Until every passage has one, the vault is searched by keywords alone.
    pub embedded: Option<usize>,
}

/// What one pass of embedding did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Embedded {
    /// Passages embedded.
    pub passages: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// The passages' vectors and what makes them.
struct Dense {
    embedder: Arc<dyn Embedder>,
    vectors: Vectors,
    /// The cosine a passage needs to be found by meaning alone (no shared keyword).
    floor: f32,
    /// How much the scaled keyword score adds ([`KEYWORD_WEIGHT`]).
    keyword_weight: f32,
    /// One embedding pass at a time; others leave their passages to it.
    embedding: Mutex<()>,
    /// Set when passages may be waiting for a vector: the running pass looks again.
    again: AtomicBool,
}

/// Passages embedded in one call of the model: small, so a question's embedding (which
/// shares the model) never waits long behind a batch of long passages.
const EMBED_BATCH: usize = 8;
/// How much the keyword score (scaled to the best keyword hit) adds to the cosine. The notes
/// benchmark compared 0-0.3 with each installed model (BENCHMARKS.md): 0.3 is the one weight
/// that beats BM25 on every vault with every model (MiniLM alone is best near 0 in English but
/// falls below BM25 on Korean notes there; the multilingual model gains most from keywords on
/// the Logseq graph), while the cosine still leads: exact names the model does not know are
/// rescued, paraphrases are found.
pub const KEYWORD_WEIGHT: f32 = 0.3;
/// The cosine a passage needs without a shared keyword, unless the model has its own.
pub const DEFAULT_FLOOR: f32 = 0.3;

/// The owner's vaults and their index.
pub struct Notes {
    vaults: Vec<Vault>,
    index: NotesIndex,
    manifest_path: PathBuf,
    manifest: Mutex<Manifest>,
    /// One update at a time in this process (tantivy's lock covers other processes).
    updating: Mutex<()>,
    dir: PathBuf,
    dense: Option<Dense>,
    /// Set at shutdown: a long embedding pass stops between batches.
    stopping: AtomicBool,
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
            dir: dir.to_path_buf(),
            dense: None,
            stopping: AtomicBool::new(false),
        })
    }

    /// Searches by meaning too, with `embedder`: passages get vectors (cached in
    /// `DATA_DIR/notes/vectors.bin`, by text hash, for this model only) after each update,
    /// and a vault whose passages all have one is searched by cosine, with keywords as a
    /// small weight. Another model than last time starts the vectors afresh; keyword search
    /// serves until they are done.
    pub fn with_embedder(self, embedder: Arc<dyn Embedder>) -> Result<Self, NotesError> {
        self.with_embedder_as(embedder, true)
    }

    /// [`Notes::with_embedder`] for searching only (`hearth notes search` and `status` while
    /// the bot may run): the vectors file is read, never written.
    pub fn with_embedder_read_only(self, embedder: Arc<dyn Embedder>) -> Result<Self, NotesError> {
        self.with_embedder_as(embedder, false)
    }

    fn with_embedder_as(
        mut self,
        embedder: Arc<dyn Embedder>,
        writable: bool,
    ) -> Result<Self, NotesError> {
        let path = self.dir.join("vectors.bin");
        let model = embedder.describe();
        let vectors = if writable {
            Vectors::open(&path, &model)?
        } else {
            Vectors::open_read_only(&path, &model)?
        };
        let floor = embedder.relevance_floor().unwrap_or(DEFAULT_FLOOR);
        self.dense = Some(Dense {
            embedder,
            vectors,
            floor,
            keyword_weight: KEYWORD_WEIGHT,
            embedding: Mutex::new(()),
            again: AtomicBool::new(false),
        });
        Ok(self)
    }

    /// Sets how much the keyword score (scaled to the best keyword hit) adds to the cosine
    /// (default [`KEYWORD_WEIGHT`]); the notes benchmark compares weights with it.
    pub fn with_keyword_weight(mut self, weight: f32) -> Self {
        if let Some(dense) = self.dense.as_mut() {
            dense.keyword_weight = weight;
        }
        self
    }

    /// The embedding model's name, when notes are searched by meaning.
    pub fn embedding_model(&self) -> Option<&str> {
        self.dense.as_ref().map(|d| d.vectors.model())
    }

    /// Stops a running embedding pass between two batches (at shutdown); what is embedded
    /// is kept and the next start goes on from there.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// The configured vaults.
    pub fn vaults(&self) -> &[Vault] {
        &self.vaults
    }

    /// Brings the index up to date with every vault (or only `only`), then gives the new
    /// passages their vectors ([`Notes::embed_pending`]); `progress(vault, done, total)`
    /// follows the reading. Blocking: run it off the async workers. A vault that cannot be
    /// read is reported in its summary's place and the others go on.
    pub fn update(
        &self,
        only: Option<&str>,
        progress: &dyn Fn(&str, usize, usize),
    ) -> Result<Vec<Result<Summary, NotesError>>, NotesError> {
        let summaries = self.update_keywords(only, progress)?;
        if let Err(e) = self.embed_pending(&|_, _| {}) {
            tracing::warn!(error = %e, "notes could not be embedded; they are searched by keywords");
        }
        Ok(summaries)
    }

    /// [`Notes::update`] without the embedding: the keyword index only.
    pub fn update_keywords(
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

    /// Gives every indexed passage without a vector one, in batches, until none is left;
    /// `progress(done, total)` follows along. When a pass is already running (the first
    /// index of a big vault takes long), this returns at once and that pass takes these
    /// passages too. Blocking. Without an embedding model, nothing to do.
    pub fn embed_pending(&self, progress: &dyn Fn(usize, usize)) -> Result<Embedded, NotesError> {
        let Some(dense) = &self.dense else {
            return Ok(Embedded::default());
        };
        let started = Instant::now();
        let mut done = 0;
        loop {
            dense.again.store(true, Ordering::SeqCst);
            let Ok(_one_pass) = dense.embedding.try_lock() else {
                break;
            };
            let mut tried: HashSet<u64> = HashSet::new();
            while dense.again.swap(false, Ordering::SeqCst) {
                let pending = self.pending(dense, &tried);
                let total = done + pending.len();
                for batch in pending.chunks(EMBED_BATCH) {
                    if self.stopping.load(Ordering::SeqCst) {
                        return Ok(Embedded {
                            passages: done,
                            elapsed: started.elapsed(),
                        });
                    }
                    let mut hashes = Vec::with_capacity(batch.len());
                    let mut texts = Vec::with_capacity(batch.len());
                    for &hash in batch {
                        tried.insert(hash);
                        // Gone since (the note changed again): the next look skips it.
                        if let Some(found) = self.index.by_hash(hash)?.into_iter().next() {
                            let h = &found.hit;
                            hashes.push(hash);
                            texts.push(embed_text(&h.title, &h.heading, &h.text));
                        }
                    }
                    if texts.is_empty() {
                        continue;
                    }
                    let vectors = dense
                        .embedder
                        .embed(&texts)
                        .map_err(|e| NotesError::Index(format!("embedding model: {e}")))?;
                    done += texts.len();
                    dense
                        .vectors
                        .insert(hashes.into_iter().zip(vectors).collect())?;
                    progress(done, total);
                }
                if !pending.is_empty() {
                    // Passages may have arrived meanwhile: look again.
                    dense.again.store(true, Ordering::SeqCst);
                }
            }
            let live: HashSet<u64> = self.lock_manifest().passage_hashes().collect();
            dense.vectors.retain(&live)?;
            drop(_one_pass);
            // Asked for again after this pass last looked: take another turn.
            if !dense.again.load(Ordering::SeqCst) {
                break;
            }
        }
        if done > 0 {
            tracing::info!(
                passages = done,
                elapsed_ms = started.elapsed().as_millis() as u64,
                model = %dense.vectors.model(),
                "notes embedded"
            );
        }
        Ok(Embedded {
            passages: done,
            elapsed: started.elapsed(),
        })
    }

    /// Passage hashes of the manifest with no vector, not yet tried in this pass.
    fn pending(&self, dense: &Dense, tried: &HashSet<u64>) -> Vec<u64> {
        let manifest = self.lock_manifest();
        let vectors = dense.vectors.read();
        let mut seen = HashSet::new();
        manifest
            .passage_hashes()
            .filter(|h| !tried.contains(h) && !vectors.contains(*h) && seen.insert(*h))
            .collect()
    }

    /// The best passages of `vaults` for the question vector `query`, by cosine plus the
    /// scaled keyword score, at most `keep` of them; `None` when some passage has no vector
    /// yet (those vaults are searched by keywords until it has).
    fn fused(
        &self,
        dense: &Dense,
        query: &[f32],
        vaults: &[&str],
        keyword: &[Found],
        keep: usize,
    ) -> Option<Vec<(f32, Scored)>> {
        let best_keyword = keyword.iter().map(|f| f.hit.score).fold(0.0_f32, f32::max);
        let mut by_hash: HashMap<u64, Vec<&Found>> = HashMap::new();
        for found in keyword {
            by_hash.entry(found.hash).or_default().push(found);
        }
        let query = crate::vectors::Query::new(query);
        let manifest = self.lock_manifest();
        let vectors = dense.vectors.read();
        let mut ranked: Vec<(f32, Scored)> = Vec::new();
        // The lowest score in `ranked` once it holds `keep`.
        let mut bar = f32::NEG_INFINITY;
        for vault in vaults {
            let Some(state) = manifest.vaults.get(*vault) else {
                continue;
            };
            for (path, note) in &state.notes {
                for &hash in &note.passage_hashes {
                    let cosine = vectors.cosine(hash, &query)?;
                    let kw = by_hash
                        .get(&hash)
                        .and_then(|found| {
                            found
                                .iter()
                                .find(|f| f.hit.vault == *vault && f.hit.path == *path)
                        })
                        .map_or(0.0, |f| f.hit.score);
                    if kw <= 0.0 && cosine < dense.floor {
                        continue;
                    }
                    let score = cosine
                        + if best_keyword > 0.0 {
                            dense.keyword_weight * kw / best_keyword
                        } else {
                            0.0
                        };
                    if score <= bar {
                        continue;
                    }
                    ranked.push((
                        score,
                        Scored {
                            vault: (*vault).to_owned(),
                            path: path.clone(),
                            hash,
                        },
                    ));
                    if ranked.len() >= keep * 2 {
                        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
                        ranked.truncate(keep);
                        bar = ranked.last().map_or(bar, |r| r.0);
                    }
                }
            }
        }
        Some(ranked)
    }

    /// Cosine first, keywords as a small weight: the passages of `vaults` for `query`.
    fn dense_search(
        &self,
        dense: &Dense,
        query: &str,
        vaults: &[&str],
        keyword: &[Found],
        limit: usize,
    ) -> Result<Option<Vec<Hit>>, NotesError> {
        let asked = match dense.embedder.embed(&[query.to_owned()]) {
            Ok(mut v) if !v.is_empty() => v.remove(0),
            Ok(_) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "the question could not be embedded; notes are searched by keywords");
                return Ok(None);
            }
        };
        // Enough candidates to fill `limit` after at most two passages per note.
        let Some(mut ranked) = self.fused(dense, &asked, vaults, keyword, limit * 4 + 20) else {
            return Ok(None);
        };
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let from_keywords: HashMap<(&str, &str, u64), &Hit> = keyword
            .iter()
            .map(|f| ((f.hit.vault.as_str(), f.hit.path.as_str(), f.hash), &f.hit))
            .collect();
        let mut hits: Vec<Hit> = Vec::new();
        let mut per_note: HashMap<(String, String), usize> = HashMap::new();
        for (score, passage) in ranked {
            if hits.len() == limit {
                break;
            }
            let count = per_note
                .entry((passage.vault.clone(), passage.path.clone()))
                .or_default();
            if *count >= crate::index::PER_NOTE {
                continue;
            }
            let key = (passage.vault.as_str(), passage.path.as_str(), passage.hash);
            let hit = match from_keywords.get(&key) {
                Some(hit) => Some((*hit).clone()),
                None => self
                    .index
                    .by_hash(passage.hash)?
                    .into_iter()
                    .map(|f| f.hit)
                    .find(|h| h.vault == passage.vault && h.path == passage.path),
            };
            if let Some(mut hit) = hit {
                *count += 1;
                hit.score = score;
                hits.push(hit);
            }
        }
        Ok(Some(hits))
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
        // By meaning, the keyword hits are candidates for the fusion: more of them.
        let candidates = match self.dense {
            Some(_) => limit.max(1) * 4 + 20,
            None => limit,
        };
        let keyword = self.index.search(query, &names, candidates)?;
        if let Some(dense) = &self.dense
            && limit > 0
            && let Some(hits) = self.dense_search(dense, query, &names, &keyword, limit)?
        {
            return Ok(hits);
        }
        Ok(keyword.into_iter().take(limit).map(|f| f.hit).collect())
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
                    embedded: self.dense.as_ref().map(|dense| {
                        let vectors = dense.vectors.read();
                        state
                            .notes
                            .values()
                            .flat_map(|n| &n.passage_hashes)
                            .filter(|h| vectors.contains(**h))
                            .count()
                    }),
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

/// A passage found by meaning.
struct Scored {
    vault: String,
    path: String,
    hash: u64,
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
