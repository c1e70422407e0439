//! The sled backend: one database in the data directory.
//!
//! Trees:
//! - `meta`: `schema_version` (u32, big-endian).
//! - `turns`: `scope \0 seq(u64 BE)` -> JSON [`Turn`]. Keys sort by scope, then time.
//! - `conversations`: `scope` -> current conversation number (u32 BE).
//! - `settings`: `user` -> JSON [`UserSettings`].
//! - `memories`: `user \0 id` -> JSON [`Memory`] (without the embedding).
//! - `memory_vectors`: `user \0 id` -> the embedding, f32 little-endian.
//! - `reminders`: `user \0 n(u64 BE)` -> JSON [`Reminder`] (its id is `r{n}`).
//! - `reminder_ids`: `user` -> the last reminder number given out (u64 BE).
//! - `documents`: `user \0 name` -> JSON [`SavedDocument`](crate::files::SavedDocument).
//! - `inbox`: `user \0 id` -> order kept (u64 BE) then the message as the platform sent it
//!   ([`Unanswered`](super::Unanswered)): taken, not answered yet.
//!
//! Encrypted (opened with [`SledStore::open_encrypted`], schema 2): every value of `turns`,
//! `settings`, `memories`, `memory_vectors`, `reminders`, `documents` and `inbox` is sealed with its
//! person's key ([`seal`](super::seal)), the tree and key as associated data; a document's
//! name in its key is replaced by a blind name. The counters (`conversations`,
//! `reminder_ids`) and `meta` stay plain: they hold numbers, no one's words. `meta` also
//! keeps `encrypted` and `id_base` (where this database's ids continue after a migration).

use std::path::Path;

use super::{HistoryStore, SettingsStore, StoreError, StoredTurn, Turn, UserSettings};
use crate::memory::{Memory, MemoryStore, short_id};
use crate::remind::{NewReminder, Reminder, ReminderState, ReminderStore, id_number};
use crate::types::{ScopeKey, UserKey};

/// Newest schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// The schema of a database without encryption (version 2 is the same with every person's
/// values sealed; a Hearth that knows only 1 refuses it rather than misread it).
const PLAIN_SCHEMA: u32 = 1;

/// Trees whose values are a person's own and sealed with their key.
const SEALED_TREES: [&str; 7] = [
    "turns",
    "settings",
    "memories",
    "memory_vectors",
    "reminders",
    "documents",
    "inbox",
];

/// Trees that hold something of one person (sealed or not): everything an erase removes.
const PERSON_TREES: [&str; 9] = [
    "turns",
    "conversations",
    "settings",
    "memories",
    "memory_vectors",
    "reminders",
    "reminder_ids",
    "documents",
    "inbox",
];

/// A blocking store operation, run on the store's own thread.
type Job = Box<dyn FnOnce() + Send>;

/// Storage in a sled database.
///
/// The ports are async; sled's calls block (a read may wait on the disk), so every
/// operation runs on one thread of the store's own, in order, and the caller awaits its
/// result. Flushes run on a second thread that commits in groups: every flush asked for while
/// one runs is answered by the next single flush. Measured against tokio's `spawn_blocking`
/// per operation, which cost about half a millisecond per message (BENCHMARKS.md, core
/// overhead).
#[derive(Clone)]
pub struct SledStore {
    jobs: std::sync::mpsc::Sender<Job>,
    flushes: std::sync::mpsc::Sender<tokio::sync::oneshot::Sender<Result<(), StoreError>>>,
    db: sled::Db,
    turns: sled::Tree,
    conversations: sled::Tree,
    settings: sled::Tree,
    memories: sled::Tree,
    vectors: sled::Tree,
    reminders: sled::Tree,
    reminder_ids: sled::Tree,
    documents: sled::Tree,
    inbox: sled::Tree,
    /// Every person's key when the store is encrypted.
    keyring: Option<super::seal::Keyring>,
    /// Added to sled's ids (turn sequence, memory ids): a migrated database goes on where
    /// the old one stopped.
    id_base: u64,
    /// Cancelled once a write to disk failed: see [`SledStore::broken`].
    broken: tokio_util::sync::CancellationToken,
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    ///
    /// sled releases its file lock from a background thread, so a database
    /// closed a moment ago may still be locked: retry for a second before
    /// reporting that another process uses the directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::from_db(open_db(dir)?)
    }

    /// Opens (or creates) the encrypted database in `dir`, every person's values sealed
    /// with their key from `keyring`. A database written without encryption is first
    /// copied whole into a new, encrypted one; the old one is kept beside it as the backup
    /// (its path is returned, for the owner to delete once the bot runs well).
    pub fn open_encrypted(
        dir: &Path,
        keyring: super::seal::Keyring,
    ) -> Result<(Self, Option<std::path::PathBuf>), StoreError> {
        let backup = encrypt_existing(dir, &keyring)?;
        let db = open_db(dir)?;
        let meta = db.open_tree("meta")?;
        if meta.get("schema_version")?.is_none() {
            meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            meta.insert("encrypted", &[1u8])?;
            db.flush()?;
        }
        let store = Self::build(db, Some(keyring))?;
        store.sweep_erased()?;
        Ok((store, backup))
    }

    /// Whether the database in `dir` is encrypted (`None` when there is none yet). Opens
    /// it, so not while the bot runs.
    pub fn is_encrypted(dir: &Path) -> Result<Option<bool>, StoreError> {
        if !dir.exists() {
            return Ok(None);
        }
        let db = open_db(dir)?;
        Ok(Some(db.open_tree("meta")?.get("encrypted")?.is_some()))
    }

    /// Uses an already opened database (e.g. `sled::Config::temporary`), without encryption.
    pub fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        Self::build(db, None)
    }

    /// An already opened database, encrypted with `keyring` (for tests).
    pub fn from_db_encrypted(
        db: sled::Db,
        keyring: super::seal::Keyring,
    ) -> Result<Self, StoreError> {
        let meta = db.open_tree("meta")?;
        if meta.get("schema_version")?.is_none() {
            meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            meta.insert("encrypted", &[1u8])?;
        }
        Self::build(db, Some(keyring))
    }
}

/// Opens sled in `dir`.
///
/// sled releases its file lock from a background thread, so a database closed a moment ago
/// may still be locked: retry for two seconds before reporting that another process uses
/// the directory.
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    let mut attempts = 0;
    loop {
        match sled::Config::new().path(dir).open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                attempts += 1;
                if attempts >= 40 {
                    return Err(StoreError::Locked(dir.display().to_string()));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl SledStore {
    fn build(db: sled::Db, keyring: Option<super::seal::Keyring>) -> Result<Self, StoreError> {
        let meta = db.open_tree("meta")?;
        let encrypted = meta.get("encrypted")?.is_some();
        match (encrypted, keyring.is_some()) {
            (true, false) => return Err(StoreError::Encrypted),
            (false, true) if meta.get("schema_version")?.is_some() => {
                return Err(StoreError::Unavailable(
                    "the database is not encrypted; open it with SledStore::open_encrypted to encrypt it".into(),
                ));
            }
            _ => {}
        }
        let id_base = read_id_base(&meta)?;
        match meta.get("schema_version")? {
            None => {
                meta.insert("schema_version", &PLAIN_SCHEMA.to_be_bytes())?;
                db.flush()?;
            }
            Some(raw) => {
                let found = u32::from_be_bytes(
                    raw.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("schema_version".into()))?,
                );
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
        }
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("hearth-store".into())
            // Ends when the last handle of the store (and so the last sender) is dropped.
            .spawn(move || {
                for job in queue {
                    // A panicking job drops its result sender: that caller gets an error,
                    // the thread goes on serving the others.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("starting the storage thread: {e}")))?;
        let (flushes, requests) =
            std::sync::mpsc::channel::<tokio::sync::oneshot::Sender<Result<(), StoreError>>>();
        let flushing = db.clone();
        let broken = tokio_util::sync::CancellationToken::new();
        let breaking = broken.clone();
        std::thread::Builder::new()
            .name("hearth-store-flush".into())
            .spawn(move || {
                while let Ok(first) = requests.recv() {
                    // Everyone waiting now is covered by one flush.
                    let mut waiting = vec![first];
                    waiting.extend(requests.try_iter());
                    let result = flushing.flush().map(|_| ()).map_err(|e| e.to_string());
                    if let Err(e) = &result {
                        // sled keeps failing after one failed write, even once the disk has
                        // room again, until the database is opened anew.
                        if !breaking.is_cancelled() {
                            tracing::error!(error = %e, "the database could not write; it must be opened again");
                        }
                        breaking.cancel();
                    }
                    for done in waiting {
                        let _ = done.send(result.clone().map_err(StoreError::Unavailable));
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("starting the flush thread: {e}")))?;
        Ok(Self {
            jobs,
            flushes,
            turns: db.open_tree("turns")?,
            conversations: db.open_tree("conversations")?,
            settings: db.open_tree("settings")?,
            memories: db.open_tree("memories")?,
            vectors: db.open_tree("memory_vectors")?,
            reminders: db.open_tree("reminders")?,
            reminder_ids: db.open_tree("reminder_ids")?,
            documents: db.open_tree("documents")?,
            inbox: db.open_tree("inbox")?,
            db,
            keyring,
            id_base,
            broken,
        })
    }

    /// Cancelled once a write to disk failed (disk full, I/O error). sled refuses every
    /// later write until the database is opened again, so the process should stop and be
    /// started again (what it had not answered yet is answered then, see
    /// [`InboxStore`](super::InboxStore)).
    pub fn broken(&self) -> tokio_util::sync::CancellationToken {
        self.broken.clone()
    }

    /// Makes every write so far durable.
    pub fn flush_all(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    fn current_conversation(&self, scope: &ScopeKey) -> Result<u32, StoreError> {
        Ok(match self.conversations.get(scope.as_str())? {
            Some(raw) => u32::from_be_bytes(
                raw.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("conversation of {scope}")))?,
            ),
            None => 0,
        })
    }
}

fn scope_prefix(scope: &ScopeKey) -> Vec<u8> {
    let mut key = scope.as_str().as_bytes().to_vec();
    key.push(0);
    key
}

fn turn_key(scope: &ScopeKey, seq: u64) -> Vec<u8> {
    let mut key = scope_prefix(scope);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// What a sealed value is bound to: its tree and its key.
fn aad(tree: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tree.len() + 1 + key.len());
    out.extend_from_slice(tree.as_bytes());
    out.push(0);
    out.extend_from_slice(key);
    out
}

/// The person whose conversation `scope` is, as the keyring names them.
fn scope_owner(scope: &str) -> String {
    super::seal::user_of_scope(scope).unwrap_or_else(|| scope.to_owned())
}

impl SledStore {
    /// The bytes to store at `key` of `tree` for `owner`: sealed with their key when the
    /// store is encrypted (the key is made on their first value).
    fn seal(
        &self,
        tree: &str,
        key: &[u8],
        owner: &str,
        plain: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        match &self.keyring {
            None => Ok(plain),
            Some(ring) => Ok(ring.get_or_create(owner)?.seal(&aad(tree, key), &plain)),
        }
    }

    /// The plain bytes of a value read at `key` of `tree`; `None` when its person's key is
    /// gone (an erase that stopped half-way: the value is unreadable and swept at start).
    fn unseal(
        &self,
        tree: &str,
        key: &[u8],
        owner: &str,
        raw: sled::IVec,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.keyring {
            None => Ok(Some(raw.to_vec())),
            Some(ring) => match ring.get(owner) {
                None => Ok(None),
                Some(person) => person.open(&aad(tree, key), &raw).map(Some).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "a value in {tree} does not open with its person's key"
                    ))
                }),
            },
        }
    }

    /// A stored turn, opened; `None` for one whose person was erased.
    fn read_turn(&self, key: &[u8], value: sled::IVec) -> Result<Option<StoredTurn>, StoreError> {
        let end = key.iter().position(|&b| b == 0).unwrap_or(key.len());
        let owner = scope_owner(&String::from_utf8_lossy(&key[..end]));
        match self.unseal("turns", key, &owner, value)? {
            Some(plain) => decode_turn(key, &plain).map(Some),
            None => Ok(None),
        }
    }
}

fn decode_turn(key: &[u8], value: &[u8]) -> Result<StoredTurn, StoreError> {
    let seq_bytes = key.get(key.len().saturating_sub(8)..).unwrap_or_default();
    let seq = u64::from_be_bytes(
        seq_bytes
            .try_into()
            .map_err(|_| StoreError::Corrupt("turn key".into()))?,
    );
    let turn = serde_json::from_slice(value)
        .map_err(|e| StoreError::Corrupt(format!("turn {seq}: {e}")))?;
    Ok(StoredTurn { seq, turn })
}

/// The operations themselves; they block, so the ports below run them off the async workers.
impl SledStore {
    fn blocking_append(&self, scope: &ScopeKey, mut turn: Turn) -> Result<u64, StoreError> {
        turn.conversation = self.current_conversation(scope)?;
        // sled ids increase across restarts, so keys stay in time order.
        let seq = self.id_base + self.db.generate_id()?;
        let value = serde_json::to_vec(&turn).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let key = turn_key(scope, seq);
        let value = self.seal("turns", &key, &scope_owner(scope.as_str()), value)?;
        self.turns.insert(key, value)?;
        Ok(seq)
    }

    fn blocking_recent(
        &self,
        scope: &ScopeKey,
        limit: usize,
    ) -> Result<Vec<StoredTurn>, StoreError> {
        let current = self.current_conversation(scope)?;
        let mut out = Vec::new();
        for entry in self.turns.scan_prefix(scope_prefix(scope)).rev() {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry?;
            let Some(stored) = self.read_turn(&key, value)? else {
                continue;
            };
            if stored.turn.conversation != current {
                break;
            }
            out.push(stored);
        }
        out.reverse();
        Ok(out)
    }

    fn blocking_reset(&self, scope: &ScopeKey) -> Result<(), StoreError> {
        let next = self.current_conversation(scope)? + 1;
        self.conversations
            .insert(scope.as_str(), &next.to_be_bytes())?;
        Ok(())
    }

    fn blocking_set_message_ids(
        &self,
        scope: &ScopeKey,
        seq: u64,
        ids: Vec<String>,
    ) -> Result<(), StoreError> {
        let key = turn_key(scope, seq);
        let raw = self
            .turns
            .get(&key)?
            .ok_or_else(|| StoreError::NotFound(format!("turn {seq} of {scope}")))?;
        let mut stored = self
            .read_turn(&key, raw)?
            .ok_or_else(|| StoreError::NotFound(format!("turn {seq} of {scope}")))?;
        stored.turn.message_ids = ids;
        let value =
            serde_json::to_vec(&stored.turn).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let value = self.seal("turns", &key, &scope_owner(scope.as_str()), value)?;
        self.turns.insert(key, value)?;
        Ok(())
    }

    fn blocking_erase_user(
        &self,
        platform: crate::Platform,
        user_id: &str,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        for (tree, counts) in [(&self.turns, true), (&self.conversations, false)] {
            for key in tree.iter().keys() {
                let key = key?;
                let end = key.iter().position(|&b| b == 0).unwrap_or(key.len());
                let scope = String::from_utf8_lossy(&key[..end]);
                if super::scope_belongs_to(&scope, platform, user_id) {
                    tree.remove(&key)?;
                    if counts {
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }

    fn blocking_user_turns(
        &self,
        platform: crate::Platform,
        user_id: &str,
    ) -> Result<Vec<(ScopeKey, StoredTurn)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.turns.iter() {
            let (key, value) = entry?;
            let Some(split) = key.iter().position(|&b| b == 0) else {
                continue;
            };
            let scope = String::from_utf8_lossy(&key[..split]).into_owned();
            if super::scope_belongs_to(&scope, platform, user_id)
                && let Some(turn) = self.read_turn(&key, value)?
            {
                out.push((ScopeKey::from_stored(scope), turn));
            }
        }
        Ok(out)
    }
}

impl SledStore {
    fn blocking_settings(&self, user: &UserKey) -> Result<UserSettings, StoreError> {
        let key = user.as_str().as_bytes();
        match self.settings.get(key)? {
            Some(raw) => match self.unseal("settings", key, user.as_str(), raw)? {
                Some(plain) => serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Corrupt(format!("settings of {user}: {e}"))),
                None => Ok(UserSettings::default()),
            },
            None => Ok(UserSettings::default()),
        }
    }

    fn blocking_set_settings(
        &self,
        user: &UserKey,
        settings: &UserSettings,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_vec(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let key = user.as_str().as_bytes();
        let value = self.seal("settings", key, user.as_str(), value)?;
        self.settings.insert(key, value)?;
        Ok(())
    }
}

fn owner_prefix(owner: &UserKey) -> Vec<u8> {
    let mut key = owner.as_str().as_bytes().to_vec();
    key.push(0);
    key
}

fn memory_key(owner: &UserKey, id: &str) -> Vec<u8> {
    let mut key = owner_prefix(owner);
    key.extend_from_slice(id.as_bytes());
    key
}

fn decode_vector(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

impl SledStore {
    /// A stored memory with its vector; `None` for one whose person was erased.
    fn decode_memory(&self, key: &[u8], raw: sled::IVec) -> Result<Option<Memory>, StoreError> {
        let end = key.iter().position(|&b| b == 0).unwrap_or(key.len());
        let owner = String::from_utf8_lossy(&key[..end]).into_owned();
        let Some(plain) = self.unseal("memories", key, &owner, raw)? else {
            return Ok(None);
        };
        let mut memory: Memory = serde_json::from_slice(&plain)
            .map_err(|e| StoreError::Corrupt(format!("memory: {e}")))?;
        memory.embedding = match self.vectors.get(key)? {
            Some(v) => self
                .unseal("memory_vectors", key, &owner, v)?
                .map(|v| decode_vector(&v)),
            None => None,
        };
        Ok(Some(memory))
    }
}

impl SledStore {
    fn blocking_next_id(&self) -> Result<String, StoreError> {
        Ok(short_id(self.id_base + self.db.generate_id()?))
    }

    fn blocking_put_memory(&self, memory: &Memory) -> Result<(), StoreError> {
        let key = memory_key(&memory.owner, &memory.id);
        let value = serde_json::to_vec(memory).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let vector: Option<Vec<u8>> = memory
            .embedding
            .as_ref()
            .map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect());
        let owner = memory.owner.as_str();
        let value = self.seal("memories", &key, owner, value)?;
        // One batch per tree; the record and its vector are flushed together.
        self.memories.insert(key.as_slice(), value)?;
        match vector {
            Some(bytes) => {
                let bytes = self.seal("memory_vectors", &key, owner, bytes)?;
                self.vectors.insert(key, bytes)?
            }
            None => self.vectors.remove(key)?,
        };
        Ok(())
    }

    fn blocking_memory(&self, owner: &UserKey, id: &str) -> Result<Option<Memory>, StoreError> {
        let key = memory_key(owner, id);
        match self.memories.get(&key)? {
            Some(raw) => self.decode_memory(&key, raw),
            None => Ok(None),
        }
    }

    fn blocking_memories(&self, owner: &UserKey) -> Result<Vec<Memory>, StoreError> {
        let mut out = Vec::new();
        for entry in self.memories.scan_prefix(owner_prefix(owner)) {
            let (key, raw) = entry?;
            out.extend(self.decode_memory(&key, raw)?);
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    fn blocking_remove_memory(&self, owner: &UserKey, id: &str) -> Result<bool, StoreError> {
        let key = memory_key(owner, id);
        self.vectors.remove(&key)?;
        Ok(self.memories.remove(key)?.is_some())
    }

    fn blocking_remove_all_memories(&self, owner: &UserKey) -> Result<usize, StoreError> {
        let prefix = owner_prefix(owner);
        let mut removed = 0;
        for key in self.memories.scan_prefix(&prefix).keys() {
            let key = key?;
            self.memories.remove(&key)?;
            self.vectors.remove(&key)?;
            removed += 1;
        }
        Ok(removed)
    }
}

impl SledStore {
    /// Runs `op` on the store's thread (sled reads and writes may wait on the disk) and
    /// awaits its result, so no async worker ever blocks on storage.
    async fn offload<T: Send + 'static>(
        &self,
        op: impl FnOnce(&SledStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let store = self.clone();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(op(&store));
            }))
            .map_err(|_| StoreError::Unavailable("the storage thread has stopped".into()))?;
        result
            .await
            .map_err(|_| StoreError::Unavailable("a storage operation failed".into()))?
    }

    /// Makes every write so far durable, on the flush thread (grouped with other flushes).
    async fn flush_without_blocking(&self) -> Result<(), StoreError> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.flushes
            .send(done)
            .map_err(|_| StoreError::Unavailable("the flush thread has stopped".into()))?;
        result
            .await
            .map_err(|_| StoreError::Unavailable("a flush failed".into()))?
    }
}

#[async_trait::async_trait]
impl HistoryStore for SledStore {
    async fn erase_user(
        &self,
        platform: crate::Platform,
        user_id: &str,
    ) -> Result<usize, StoreError> {
        let user_id = user_id.to_owned();
        self.offload(move |s| s.blocking_erase_user(platform, &user_id))
            .await
    }

    async fn append(&self, scope: &ScopeKey, turn: Turn) -> Result<u64, StoreError> {
        let scope = scope.clone();
        self.offload(move |s| s.blocking_append(&scope, turn)).await
    }

    async fn recent(&self, scope: &ScopeKey, limit: usize) -> Result<Vec<StoredTurn>, StoreError> {
        let scope = scope.clone();
        self.offload(move |s| s.blocking_recent(&scope, limit))
            .await
    }

    async fn reset(&self, scope: &ScopeKey) -> Result<(), StoreError> {
        let scope = scope.clone();
        self.offload(move |s| s.blocking_reset(&scope)).await
    }

    async fn set_message_ids(
        &self,
        scope: &ScopeKey,
        seq: u64,
        ids: Vec<String>,
    ) -> Result<(), StoreError> {
        let scope = scope.clone();
        self.offload(move |s| s.blocking_set_message_ids(&scope, seq, ids))
            .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flush_without_blocking().await
    }

    async fn user_turns(
        &self,
        platform: crate::Platform,
        user_id: &str,
    ) -> Result<Vec<(ScopeKey, StoredTurn)>, StoreError> {
        let user_id = user_id.to_owned();
        self.offload(move |s| s.blocking_user_turns(platform, &user_id))
            .await
    }
}

fn inbox_key(user: &UserKey, id: &str) -> Vec<u8> {
    let mut key = user.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

impl SledStore {
    fn blocking_keep(&self, message: &super::Unanswered) -> Result<(), StoreError> {
        let key = inbox_key(&message.user, &message.id);
        if self.inbox.contains_key(&key)? {
            return Ok(());
        }
        let mut value = self.db.generate_id()?.to_be_bytes().to_vec();
        value.extend_from_slice(&message.message);
        let value = self.seal("inbox", &key, message.user.as_str(), value)?;
        self.inbox.insert(key, value)?;
        Ok(())
    }

    fn blocking_unanswered(
        &self,
        platform: crate::Platform,
    ) -> Result<Vec<super::Unanswered>, StoreError> {
        let mut found = Vec::new();
        let mut prefix = platform.as_str().as_bytes().to_vec();
        prefix.push(b':');
        for entry in self.inbox.scan_prefix(&prefix) {
            let (key, raw) = entry?;
            let split = key.iter().position(|&b| b == 0).unwrap_or(key.len());
            let user = String::from_utf8_lossy(&key[..split]).into_owned();
            let id = String::from_utf8_lossy(key.get(split + 1..).unwrap_or_default()).into_owned();
            let Some(user) = UserKey::parse(&user) else {
                continue;
            };
            // `None`: the person was erased while this waited.
            let Some(value) = self.unseal("inbox", &key, user.as_str(), raw)? else {
                continue;
            };
            if value.len() < 8 {
                return Err(StoreError::Corrupt(format!("unanswered message {id}")));
            }
            let (order, message) = value.split_at(8);
            let order = u64::from_be_bytes(order.try_into().unwrap_or_default());
            found.push((
                order,
                super::Unanswered {
                    user,
                    id,
                    message: message.to_vec(),
                },
            ));
        }
        found.sort_by_key(|(order, _)| *order);
        Ok(found.into_iter().map(|(_, m)| m).collect())
    }
}

#[async_trait::async_trait]
impl super::InboxStore for SledStore {
    async fn keep(&self, message: &super::Unanswered) -> Result<(), StoreError> {
        let message = message.clone();
        self.offload(move |s| s.blocking_keep(&message)).await?;
        self.flush_without_blocking().await
    }

    async fn answered(&self, user: &UserKey, id: &str) -> Result<(), StoreError> {
        let key = inbox_key(user, id);
        // Not flushed: if the removal is lost in a crash the message is answered again,
        // never lost.
        self.offload(move |s| {
            s.inbox.remove(key)?;
            Ok(())
        })
        .await
    }

    async fn unanswered(
        &self,
        platform: crate::Platform,
    ) -> Result<Vec<super::Unanswered>, StoreError> {
        self.offload(move |s| s.blocking_unanswered(platform)).await
    }

    async fn erase_user(&self, user: &UserKey) -> Result<usize, StoreError> {
        let mut prefix = user.as_str().as_bytes().to_vec();
        prefix.push(0);
        self.offload(move |s| {
            let mut removed = 0;
            for key in s.inbox.scan_prefix(&prefix).keys() {
                s.inbox.remove(key?)?;
                removed += 1;
            }
            Ok(removed)
        })
        .await
    }
}

#[async_trait::async_trait]
impl SettingsStore for SledStore {
    async fn remove_settings(&self, user: &UserKey) -> Result<(), StoreError> {
        let user = user.clone();
        self.offload(move |s| {
            s.settings.remove(user.as_str())?;
            Ok(())
        })
        .await
    }

    async fn settings(&self, user: &UserKey) -> Result<UserSettings, StoreError> {
        let user = user.clone();
        self.offload(move |s| s.blocking_settings(&user)).await
    }

    async fn set_settings(
        &self,
        user: &UserKey,
        settings: &UserSettings,
    ) -> Result<(), StoreError> {
        let (user, settings) = (user.clone(), settings.clone());
        self.offload(move |s| s.blocking_set_settings(&user, &settings))
            .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flush_without_blocking().await
    }
}

#[async_trait::async_trait]
impl MemoryStore for SledStore {
    async fn next_id(&self) -> Result<String, StoreError> {
        self.offload(SledStore::blocking_next_id).await
    }

    async fn put_memory(&self, memory: &Memory) -> Result<(), StoreError> {
        let memory = memory.clone();
        self.offload(move |s| s.blocking_put_memory(&memory)).await
    }

    async fn memory(&self, owner: &UserKey, id: &str) -> Result<Option<Memory>, StoreError> {
        let (owner, id) = (owner.clone(), id.to_owned());
        self.offload(move |s| s.blocking_memory(&owner, &id)).await
    }

    async fn memories(&self, owner: &UserKey) -> Result<Vec<Memory>, StoreError> {
        let owner = owner.clone();
        self.offload(move |s| s.blocking_memories(&owner)).await
    }

    async fn remove_memory(&self, owner: &UserKey, id: &str) -> Result<bool, StoreError> {
        let (owner, id) = (owner.clone(), id.to_owned());
        self.offload(move |s| s.blocking_remove_memory(&owner, &id))
            .await
    }

    async fn remove_all_memories(&self, owner: &UserKey) -> Result<usize, StoreError> {
        let owner = owner.clone();
        self.offload(move |s| s.blocking_remove_all_memories(&owner))
            .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flush_without_blocking().await
    }
}

fn reminder_key(owner: &UserKey, n: u64) -> Vec<u8> {
    let mut key = owner_prefix(owner);
    key.extend_from_slice(&n.to_be_bytes());
    key
}

fn decode_reminder(raw: &[u8]) -> Result<Reminder, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt(format!("reminder: {e}")))
}

impl SledStore {
    /// A stored reminder, opened; `None` for one whose person was erased.
    fn read_reminder(&self, key: &[u8], raw: sled::IVec) -> Result<Option<Reminder>, StoreError> {
        let end = key.iter().position(|&b| b == 0).unwrap_or(key.len());
        let owner = String::from_utf8_lossy(&key[..end]).into_owned();
        self.unseal("reminders", key, &owner, raw)?
            .map(|plain| decode_reminder(&plain))
            .transpose()
    }
}

impl SledStore {
    fn blocking_create_reminder(&self, new: NewReminder) -> Result<Reminder, StoreError> {
        let counter = self
            .reminder_ids
            .update_and_fetch(new.owner.as_str(), |old| {
                let last = old
                    .and_then(|raw| raw.try_into().ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                Some((last + 1).to_be_bytes().to_vec())
            })?
            .ok_or_else(|| StoreError::Corrupt("reminder counter".into()))?;
        let n = u64::from_be_bytes(
            counter
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("reminder counter".into()))?,
        );
        let reminder = new.numbered(n);
        self.blocking_put_reminder(&reminder)?;
        Ok(reminder)
    }

    fn blocking_put_reminder(&self, reminder: &Reminder) -> Result<(), StoreError> {
        let n = id_number(&reminder.id)
            .ok_or_else(|| StoreError::NotFound(format!("reminder {}", reminder.id)))?;
        let value = serde_json::to_vec(reminder).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let key = reminder_key(&reminder.owner, n);
        let value = self.seal("reminders", &key, reminder.owner.as_str(), value)?;
        self.reminders.insert(key, value)?;
        Ok(())
    }

    fn blocking_reminder(&self, owner: &UserKey, id: &str) -> Result<Option<Reminder>, StoreError> {
        let Some(n) = id_number(id) else {
            return Ok(None);
        };
        let key = reminder_key(owner, n);
        match self.reminders.get(&key)? {
            Some(raw) => self.read_reminder(&key, raw),
            None => Ok(None),
        }
    }

    fn blocking_reminders(&self, owner: &UserKey) -> Result<Vec<Reminder>, StoreError> {
        let mut out = Vec::new();
        for entry in self.reminders.scan_prefix(owner_prefix(owner)) {
            let (key, raw) = entry?;
            out.extend(self.read_reminder(&key, raw)?);
        }
        Ok(out)
    }

    fn blocking_remove_reminder(&self, owner: &UserKey, id: &str) -> Result<bool, StoreError> {
        let Some(n) = id_number(id) else {
            return Ok(false);
        };
        Ok(self.reminders.remove(reminder_key(owner, n))?.is_some())
    }

    fn blocking_remove_all_reminders(&self, owner: &UserKey) -> Result<usize, StoreError> {
        let mut removed = 0;
        for key in self.reminders.scan_prefix(owner_prefix(owner)).keys() {
            self.reminders.remove(key?)?;
            removed += 1;
        }
        Ok(removed)
    }

    fn blocking_pending_reminders(&self) -> Result<Vec<Reminder>, StoreError> {
        let mut out = Vec::new();
        for entry in self.reminders.iter() {
            let (key, raw) = entry?;
            match self.read_reminder(&key, raw) {
                Ok(Some(r)) if r.state == ReminderState::Pending => out.push(r),
                Ok(_) => {}
                // One unreadable record must not keep everyone's reminders from loading.
                Err(e) => tracing::error!(error = %e, "skipping an unreadable reminder"),
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl ReminderStore for SledStore {
    async fn create(&self, reminder: NewReminder) -> Result<Reminder, StoreError> {
        self.offload(move |s| s.blocking_create_reminder(reminder))
            .await
    }

    async fn put(&self, reminder: &Reminder) -> Result<(), StoreError> {
        let reminder = reminder.clone();
        self.offload(move |s| s.blocking_put_reminder(&reminder))
            .await
    }

    async fn get(&self, owner: &UserKey, id: &str) -> Result<Option<Reminder>, StoreError> {
        let (owner, id) = (owner.clone(), id.to_owned());
        self.offload(move |s| s.blocking_reminder(&owner, &id))
            .await
    }

    async fn list(&self, owner: &UserKey) -> Result<Vec<Reminder>, StoreError> {
        let owner = owner.clone();
        self.offload(move |s| s.blocking_reminders(&owner)).await
    }

    async fn remove(&self, owner: &UserKey, id: &str) -> Result<bool, StoreError> {
        let (owner, id) = (owner.clone(), id.to_owned());
        self.offload(move |s| s.blocking_remove_reminder(&owner, &id))
            .await
    }

    async fn remove_all(&self, owner: &UserKey) -> Result<usize, StoreError> {
        let owner = owner.clone();
        self.offload(move |s| s.blocking_remove_all_reminders(&owner))
            .await
    }

    async fn pending(&self) -> Result<Vec<Reminder>, StoreError> {
        self.offload(SledStore::blocking_pending_reminders).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flush_without_blocking().await
    }
}

impl SledStore {
    /// `owner \0 name`; encrypted, the name is replaced by its blind name (the person's
    /// key hides it, and the same name still finds the same key).
    fn document_key(&self, owner: &UserKey, name: &str) -> Result<Vec<u8>, StoreError> {
        Ok(match &self.keyring {
            None => {
                let mut key = owner_prefix(owner);
                key.extend_from_slice(name.as_bytes());
                key
            }
            Some(ring) => blind_document_key(
                &owner_prefix(owner),
                &ring.get_or_create(owner.as_str())?,
                name,
            ),
        })
    }
}

/// `prefix` (`owner \0`) and the blind name of `name` under the person's key.
fn blind_document_key(prefix: &[u8], person: &super::seal::PersonKey, name: &str) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(person.blind(name).as_bytes());
    key
}

/// Where this database's ids continue (`meta.id_base`; 0 when never migrated).
fn read_id_base(meta: &sled::Tree) -> Result<u64, StoreError> {
    Ok(match meta.get("id_base")? {
        Some(raw) => u64::from_be_bytes(
            raw.as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("id_base".into()))?,
        ),
        None => 0,
    })
}

impl SledStore {
    fn blocking_put_document(
        &self,
        document: &crate::files::SavedDocument,
    ) -> Result<(), StoreError> {
        let raw = serde_json::to_vec(document)
            .map_err(|e| StoreError::Corrupt(format!("encoding a document: {e}")))?;
        let key = self.document_key(&document.owner, &document.name)?;
        let raw = self.seal("documents", &key, document.owner.as_str(), raw)?;
        self.documents.insert(key, raw)?;
        Ok(())
    }

    fn blocking_documents(
        &self,
        owner: &UserKey,
    ) -> Result<Vec<crate::files::SavedDocument>, StoreError> {
        let mut out: Vec<crate::files::SavedDocument> = Vec::new();
        for entry in self.documents.scan_prefix(owner_prefix(owner)) {
            let (key, raw) = entry?;
            if let Some(plain) = self.unseal("documents", &key, owner.as_str(), raw)? {
                out.push(
                    serde_json::from_slice(&plain)
                        .map_err(|e| StoreError::Corrupt(format!("a stored document: {e}")))?,
                );
            }
        }
        // Keys may be blind names: list by the names themselves.
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn blocking_remove_all_documents(&self, owner: &UserKey) -> Result<usize, StoreError> {
        let keys: Vec<sled::IVec> = self
            .documents
            .scan_prefix(owner_prefix(owner))
            .keys()
            .collect::<Result<_, _>>()?;
        for key in &keys {
            self.documents.remove(key)?;
        }
        Ok(keys.len())
    }
}

#[async_trait::async_trait]
impl crate::files::DocumentStore for SledStore {
    async fn put_document(&self, document: &crate::files::SavedDocument) -> Result<(), StoreError> {
        let document = document.clone();
        self.offload(move |s| s.blocking_put_document(&document))
            .await
    }

    async fn documents(
        &self,
        owner: &UserKey,
    ) -> Result<Vec<crate::files::SavedDocument>, StoreError> {
        let owner = owner.clone();
        self.offload(move |s| s.blocking_documents(&owner)).await
    }

    async fn remove_all_documents(&self, owner: &UserKey) -> Result<usize, StoreError> {
        let owner = owner.clone();
        self.offload(move |s| s.blocking_remove_all_documents(&owner))
            .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flush_without_blocking().await
    }
}

/// What an erase removed, by tree.
pub type Erased = Vec<(&'static str, usize)>;

impl SledStore {
    /// Removes every entry of every tree that belongs to `user` and, when encrypted,
    /// destroys their key first, so whatever copies sled's log still holds cannot be read.
    /// Flushed before it returns.
    pub fn erase_person(&self, user: &UserKey) -> Result<Erased, StoreError> {
        if let Some(ring) = &self.keyring {
            ring.destroy(user.as_str())?;
        }
        let mut erased = Vec::new();
        for tree in PERSON_TREES {
            let tree_handle = self.db.open_tree(tree)?;
            let mut removed = 0;
            for key in tree_handle.iter().keys() {
                let key = key?;
                if super::seal::owner_of(tree.as_bytes(), &key).as_deref() == Some(user.as_str()) {
                    tree_handle.remove(&key)?;
                    removed += 1;
                }
            }
            erased.push((tree, removed));
        }
        self.db.flush()?;
        if let Some(ring) = &self.keyring {
            ring.erased(user.as_str())?;
        }
        Ok(erased)
    }

    /// Every tree and key that holds something of `user`, read from the raw trees (every
    /// tree the database has, so a kind of data added later is listed too): for tests
    /// that check exports and erases miss nothing.
    pub fn person_entries(&self, user: &UserKey) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            for key in tree.iter().keys() {
                let key = key?;
                let owned = super::seal::owner_of(&name, &key).as_deref() == Some(user.as_str())
                    // A tree the owner rule does not know: any key naming the person.
                    || (!PERSON_TREES.iter().any(|t| t.as_bytes() == name.as_ref())
                        && key.windows(user.as_str().len()).any(|w| w == user.as_str().as_bytes()));
                if owned {
                    out.push((String::from_utf8_lossy(&name).into_owned(), key.to_vec()));
                }
            }
        }
        Ok(out)
    }

    /// Finishes erases that stopped between destroying the key and removing the values
    /// (the keyring marks those people). Values of anyone else without a key are never
    /// removed: that is a keyring that does not belong to this data, and is reported.
    fn sweep_erased(&self) -> Result<(), StoreError> {
        let Some(ring) = &self.keyring else {
            return Ok(());
        };
        for user in ring.erasing() {
            if let Some(user) = UserKey::parse(&user) {
                let erased = self.erase_person(&user)?;
                let values: usize = erased.iter().map(|(_, n)| n).sum();
                tracing::info!(values, "finished an interrupted erase");
            }
        }
        let mut unreadable = 0usize;
        for tree in SEALED_TREES {
            let handle = self.db.open_tree(tree)?;
            for key in handle.iter().keys() {
                let key = key?;
                if let Some(owner) = super::seal::owner_of(tree.as_bytes(), &key)
                    && ring.get(&owner).is_none()
                {
                    unreadable += 1;
                }
            }
        }
        if unreadable > 0 {
            tracing::error!(
                values = unreadable,
                keyring = %ring.path().display(),
                "encrypted values whose person has no key in the keyring cannot be read (is this the keyring written with this data?); they are kept"
            );
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl super::Eraser for SledStore {
    async fn erase_person(&self, user: &UserKey) -> Result<usize, StoreError> {
        let user = user.clone();
        self.offload(move |s| s.erase_person(&user))
            .await
            .map(|erased| erased.iter().map(|(_, n)| n).sum())
    }
}

/// `dir` with `suffix` added to its last component.
fn sibling(dir: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Copies every tree of `from` into a new database at `to`, sealing each person's values
/// with `seal` when given (a database without encryption becoming an encrypted one), else
/// byte for byte (a backup: sealed values stay sealed). `meta` gets the `id_base` where
/// `from`'s ids stopped, so sequence numbers and memory ids go on from there. Flushed and
/// closed before it returns; how many entries were copied.
fn copy_database(
    from: &sled::Db,
    to: &Path,
    seal: Option<&super::seal::Keyring>,
) -> Result<usize, StoreError> {
    let old_base = read_id_base(&from.open_tree("meta")?)?;
    // Past every id the old database gave out.
    let id_base = old_base + from.generate_id()? + 1;
    let new = sled::Config::new().path(to).open()?;
    let mut copied = 0usize;
    for name in from.tree_names() {
        if name.as_ref() == b"__sled__default" {
            continue;
        }
        let source = from.open_tree(&name)?;
        let target = new.open_tree(&name)?;
        let tree = String::from_utf8_lossy(&name).into_owned();
        let sealed = SEALED_TREES.contains(&tree.as_str());
        for entry in source.iter() {
            let (key, value) = entry?;
            let owner = super::seal::owner_of(&name, &key).filter(|_| sealed);
            match (seal, owner) {
                (Some(keyring), Some(owner)) => {
                    let person = keyring.get_or_create(&owner)?;
                    let key = if tree == "documents" {
                        let split = key.iter().position(|&b| b == 0).unwrap_or(key.len());
                        let name = key.get(split + 1..).unwrap_or_default();
                        let mut prefix = key[..split].to_vec();
                        prefix.push(0);
                        blind_document_key(&prefix, &person, &String::from_utf8_lossy(name))
                    } else {
                        key.to_vec()
                    };
                    let value = person.seal(&aad(&tree, &key), &value);
                    target.insert(key, value)?;
                }
                _ => {
                    target.insert(key, value)?;
                }
            }
            copied += 1;
        }
    }
    let new_meta = new.open_tree("meta")?;
    if seal.is_some() {
        new_meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
        new_meta.insert("encrypted", &[1u8])?;
    }
    new_meta.insert("id_base", &id_base.to_be_bytes())?;
    new.flush()?;
    Ok(copied)
}

impl SledStore {
    /// Copies the whole database into a new one at `to` (which must not exist), as it is
    /// at one moment: the copy runs on the store's own thread, so no write of the store
    /// lands while it runs. Values stay as stored (sealed ones sealed). How many entries.
    pub async fn backup_to(&self, to: std::path::PathBuf) -> Result<usize, StoreError> {
        self.offload(move |s| {
            if to.exists() {
                return Err(StoreError::Unavailable(format!(
                    "{} already exists",
                    to.display()
                )));
            }
            s.db.flush()?;
            copy_database(&s.db, &to, None)
        })
        .await
    }

    /// Copies the closed database in `dir` into a new one at `to` (see
    /// [`backup_to`](Self::backup_to)), for a backup while the bot does not run.
    pub fn backup_closed(dir: &Path, to: &Path) -> Result<usize, StoreError> {
        if to.exists() {
            return Err(StoreError::Unavailable(format!(
                "{} already exists",
                to.display()
            )));
        }
        copy_database(&open_db(dir)?, to, None)
    }

    /// Whether the store takes a write: writes the time into `meta` and flushes it.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.offload(|s| {
            let now = chrono::Utc::now().timestamp().to_be_bytes();
            s.db.open_tree("meta")?.insert("health_checked_at", &now)?;
            Ok(())
        })
        .await?;
        self.flush_without_blocking().await
    }

    /// Runs `f` on the store's thread, between two store operations (for copying files that
    /// must match the database, such as the keyring, with no write in between).
    pub async fn between_writes<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.offload(move |_| f()).await
    }
}

/// Turns a database written without encryption into an encrypted one: every entry is
/// copied into a new database beside it (`DIR.encrypting`), each person's values sealed,
/// then the old one is renamed to `DIR.unencrypted-backup-TIME` and the new one takes its
/// place. Copying rather than sealing in place leaves no plain text in the live database's
/// log. A start that finds `DIR.encrypting` finishes or redoes what a crash interrupted.
/// Returns the backup's path when a migration ran.
fn encrypt_existing(
    dir: &Path,
    keyring: &super::seal::Keyring,
) -> Result<Option<std::path::PathBuf>, StoreError> {
    let staging = sibling(dir, ".encrypting");
    let io = |what: &str, e: std::io::Error| StoreError::Unavailable(format!("{what}: {e}"));
    if staging.exists() {
        if dir.exists() {
            // Interrupted before the copy was complete: start again.
            std::fs::remove_dir_all(&staging).map_err(|e| io("removing an unfinished copy", e))?;
        } else {
            // The copy was complete and the old database already moved aside.
            std::fs::rename(&staging, dir).map_err(|e| io("moving the encrypted copy", e))?;
            return Ok(None);
        }
    }
    if !dir.exists() {
        return Ok(None);
    }
    let old = open_db(dir)?;
    let meta = old.open_tree("meta")?;
    if meta.get("encrypted")?.is_some() || meta.get("schema_version")?.is_none() {
        return Ok(None);
    }
    let has_data = PERSON_TREES
        .iter()
        .map(|t| old.open_tree(t).map(|t| !t.is_empty()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .any(|b| b);
    if !has_data {
        meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
        meta.insert("encrypted", &[1u8])?;
        old.flush()?;
        return Ok(None);
    }
    let copied = copy_database(&old, &staging, Some(keyring))?;
    drop(meta);
    drop(old);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let backup = sibling(dir, &format!(".unencrypted-backup-{stamp}"));
    std::fs::rename(dir, &backup).map_err(|e| io("moving the old database aside", e))?;
    std::fs::rename(&staging, dir).map_err(|e| io("moving the encrypted copy", e))?;
    if let Some(parent) = dir.parent()
        && let Ok(parent) = std::fs::File::open(parent)
    {
        let _ = parent.sync_all();
    }
    tracing::info!(entries = copied, backup = %backup.display(), "encrypted the existing data");
    Ok(Some(backup))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn filed_documents_survive_a_reopen_per_owner_and_are_removed_whole() {
        use crate::files::{DocumentStore, SavedDocument, SavedPassage};
        let dir = tempfile::tempdir().unwrap();
        let alice = UserKey::new(crate::Platform::Telegram, "1");
        let bob = UserKey::new(crate::Platform::Telegram, "12");
        let doc = |owner: &UserKey, name: &str, text: &str| SavedDocument {
            owner: owner.clone(),
            name: name.into(),
            saved_at: chrono::Utc::now(),
            passages: vec![SavedPassage {
                page: Some(3),
                text: text.into(),
            }],
            embedding_model: Some("m".into()),
            vectors: Some(vec![vec![0.5, 0.25]]),
        };
        {
            let store = SledStore::open(dir.path()).unwrap();
            store
                .put_document(&doc(&alice, "a.pdf", "one"))
                .await
                .unwrap();
            store
                .put_document(&doc(&alice, "a.pdf", "two"))
                .await
                .unwrap();
            store
                .put_document(&doc(&alice, "b.md", "three"))
                .await
                .unwrap();
            store
                .put_document(&doc(&bob, "a.pdf", "bob's"))
                .await
                .unwrap();
            DocumentStore::flush(&store).await.unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let docs = store.documents(&alice).await.unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].passages[0].text, "two");
        assert_eq!(docs[0].vectors, Some(vec![vec![0.5, 0.25]]));
        assert_eq!(store.remove_all_documents(&alice).await.unwrap(), 2);
        assert!(store.documents(&alice).await.unwrap().is_empty());
        assert_eq!(
            store.documents(&bob).await.unwrap()[0].passages[0].text,
            "bob's"
        );
    }

    #[tokio::test]
    async fn history_and_settings_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let scope = ScopeKey::new(crate::Platform::Telegram, "1", "1");
        let user = UserKey::new(crate::Platform::Telegram, "1");
        {
            let store = SledStore::open(dir.path()).unwrap();
            let turn = crate::store::conformance::turn(crate::model::Role::User, "kept");
            store.append(&scope, turn).await.unwrap();
            store
                .set_settings(
                    &user,
                    &UserSettings {
                        model: Some("m".into()),
                        ..UserSettings::default()
                    },
                )
                .await
                .unwrap();
            HistoryStore::flush(&store).await.unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.recent(&scope, 10).await.unwrap()[0].turn.text, "kept");
        assert_eq!(
            store.settings(&user).await.unwrap().model.as_deref(),
            Some("m")
        );
    }

    fn ring(dir: &Path) -> crate::store::seal::Keyring {
        crate::store::seal::Keyring::open(
            &dir.join(crate::store::seal::KEYRING_FILE),
            crate::store::seal::MasterKey::generate().unwrap(),
        )
        .unwrap()
    }

    fn files_contain(dir: &Path, needle: &str) -> bool {
        std::fs::read_dir(dir).unwrap().flatten().any(|entry| {
            let path = entry.path();
            if path.is_dir() {
                files_contain(&path, needle)
            } else {
                std::fs::read(&path)
                    .unwrap()
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
            }
        })
    }

    #[tokio::test]
    async fn existing_data_is_encrypted_on_the_first_start_with_a_key_and_a_backup_kept() {
        use crate::files::DocumentStore as _;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let scope = ScopeKey::new(crate::Platform::Telegram, "-5", "1");
        let user = UserKey::new(crate::Platform::Telegram, "1");
        let first_memory;
        {
            let store = SledStore::open(&db).unwrap();
            let turn = crate::store::conformance::turn(crate::model::Role::User, "plainsecret42");
            store.append(&scope, turn).await.unwrap();
            first_memory = store.next_id().await.unwrap();
            store
                .put_document(&crate::files::SavedDocument {
                    owner: user.clone(),
                    name: "passport-scan.pdf".into(),
                    saved_at: chrono::Utc::now(),
                    passages: vec![],
                    embedding_model: None,
                    vectors: None,
                })
                .await
                .unwrap();
            store.flush_all().unwrap();
        }
        assert!(files_contain(&db, "plainsecret42"));
        let keyring = ring(dir.path());
        let (store, backup) = SledStore::open_encrypted(&db, keyring.clone()).unwrap();
        let backup = backup.expect("a migration ran");
        assert!(
            files_contain(&backup, "plainsecret42"),
            "the backup is the old data"
        );
        assert!(
            !files_contain(&db, "plainsecret42"),
            "plain text left in the database"
        );
        assert!(
            !files_contain(&db, "passport-scan"),
            "a document name left in a key"
        );
        assert_eq!(
            store.recent(&scope, 10).await.unwrap()[0].turn.text,
            "plainsecret42"
        );
        assert_eq!(
            store.documents(&user).await.unwrap()[0].name,
            "passport-scan.pdf"
        );
        // Ids go on after the old database's: new turns sort after, memory ids are new.
        let turn = crate::store::conformance::turn(crate::model::Role::User, "later");
        store.append(&scope, turn).await.unwrap();
        let texts: Vec<String> = store
            .recent(&scope, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.turn.text)
            .collect();
        assert_eq!(texts, ["plainsecret42", "later"]);
        assert_ne!(store.next_id().await.unwrap(), first_memory);
        store.flush_all().unwrap();
        drop(store);
        // The next start finds it encrypted: no second migration; without the key, refused.
        let (store, again) = SledStore::open_encrypted(&db, keyring).unwrap();
        assert!(again.is_none());
        assert_eq!(store.recent(&scope, 10).await.unwrap().len(), 2);
        drop(store);
        assert!(matches!(SledStore::open(&db), Err(StoreError::Encrypted)));
        assert_eq!(SledStore::is_encrypted(&db).unwrap(), Some(true));
    }

    #[tokio::test]
    async fn a_copy_interrupted_before_it_was_complete_is_started_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let scope = ScopeKey::new(crate::Platform::Telegram, "1", "1");
        {
            let store = SledStore::open(&db).unwrap();
            let turn = crate::store::conformance::turn(crate::model::Role::User, "kept");
            store.append(&scope, turn).await.unwrap();
            store.flush_all().unwrap();
        }
        // What a crash in the middle of copying leaves: a half-made copy beside the old one.
        std::fs::create_dir_all(sibling(&db, ".encrypting")).unwrap();
        std::fs::write(sibling(&db, ".encrypting").join("conf"), b"half").unwrap();
        let (store, backup) = SledStore::open_encrypted(&db, ring(dir.path())).unwrap();
        assert!(backup.is_some());
        assert!(!sibling(&db, ".encrypting").exists());
        assert_eq!(store.recent(&scope, 10).await.unwrap()[0].turn.text, "kept");
    }

    #[tokio::test]
    async fn values_of_a_person_whose_key_is_gone_are_swept_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let master = crate::store::seal::MasterKey::generate().unwrap();
        let keyring = keyring_again(dir.path(), &master);
        let alice = ScopeKey::new(crate::Platform::Telegram, "1", "1");
        let bob = ScopeKey::new(crate::Platform::Telegram, "2", "2");
        {
            let (store, _) = SledStore::open_encrypted(&db, keyring.clone()).unwrap();
            for scope in [&alice, &bob] {
                let turn = crate::store::conformance::turn(crate::model::Role::User, "hi");
                store.append(scope, turn).await.unwrap();
            }
            store.flush_all().unwrap();
        }
        // An erase that stopped right after destroying the key.
        keyring.destroy("telegram:1").unwrap();
        let (store, _) = SledStore::open_encrypted(&db, keyring).unwrap();
        let alice_key = UserKey::new(crate::Platform::Telegram, "1");
        let left = store.person_entries(&alice_key).unwrap();
        assert!(
            left.iter().all(|(tree, _)| tree == "conversations"),
            "{left:?}"
        );
        assert!(store.recent(&alice, 10).await.unwrap().is_empty());
        assert_eq!(store.recent(&bob, 10).await.unwrap().len(), 1);
        drop(store);
        assert!(
            keyring_again(dir.path(), &master).erasing().is_empty(),
            "the finished erase is still marked"
        );

        // A keyring that does not belong to this data (another master key, another file):
        // nothing is readable, and nothing is removed either.
        let stranger = tempfile::tempdir().unwrap();
        let (store, _) = SledStore::open_encrypted(&db, ring(stranger.path())).unwrap();
        assert!(store.recent(&bob, 10).await.unwrap().is_empty());
        drop(store);
        let (store, _) =
            SledStore::open_encrypted(&db, keyring_again(dir.path(), &master)).unwrap();
        assert_eq!(
            store.recent(&bob, 10).await.unwrap().len(),
            1,
            "bob's data was swept"
        );
    }

    fn keyring_again(
        dir: &Path,
        master: &crate::store::seal::MasterKey,
    ) -> crate::store::seal::Keyring {
        crate::store::seal::Keyring::open(
            &dir.join(crate::store::seal::KEYRING_FILE),
            master.clone(),
        )
        .unwrap()
    }

    #[test]
    fn refuses_a_newer_schema() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &99u32.to_be_bytes())
            .unwrap();
        assert!(matches!(
            SledStore::from_db(db),
            Err(StoreError::NewerSchema { found: 99, .. })
        ));
    }
}
