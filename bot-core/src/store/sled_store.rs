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

use std::path::Path;

use super::{HistoryStore, SettingsStore, StoreError, StoredTurn, Turn, UserSettings};
use crate::memory::{Memory, MemoryStore, short_id};
use crate::remind::{NewReminder, Reminder, ReminderState, ReminderStore, id_number};
use crate::types::{ScopeKey, UserKey};

/// Newest schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

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
        let mut attempts = 0;
        loop {
            match sled::Config::new().path(dir).open() {
                Ok(db) => return Self::from_db(db),
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

    /// Uses an already opened database (e.g. `sled::Config::temporary`).
    pub fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        let meta = db.open_tree("meta")?;
        match meta.get("schema_version")? {
            None => {
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
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
        std::thread::Builder::new()
            .name("hearth-store-flush".into())
            .spawn(move || {
                while let Ok(first) = requests.recv() {
                    // Everyone waiting now is covered by one flush.
                    let mut waiting = vec![first];
                    waiting.extend(requests.try_iter());
                    let result = flushing.flush().map(|_| ()).map_err(|e| e.to_string());
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
            db,
        })
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
        let seq = self.db.generate_id()?;
        let value = serde_json::to_vec(&turn).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.turns.insert(turn_key(scope, seq), value)?;
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
            let stored = decode_turn(&key, &value)?;
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
        let mut stored = decode_turn(&key, &raw)?;
        stored.turn.message_ids = ids;
        let value =
            serde_json::to_vec(&stored.turn).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.turns.insert(key, value)?;
        Ok(())
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
            if super::scope_belongs_to(&scope, platform, user_id) {
                out.push((ScopeKey::from_stored(scope), decode_turn(&key, &value)?));
            }
        }
        Ok(out)
    }
}

impl SledStore {
    fn blocking_settings(&self, user: &UserKey) -> Result<UserSettings, StoreError> {
        match self.settings.get(user.as_str())? {
            Some(raw) => serde_json::from_slice(&raw)
                .map_err(|e| StoreError::Corrupt(format!("settings of {user}: {e}"))),
            None => Ok(UserSettings::default()),
        }
    }

    fn blocking_set_settings(
        &self,
        user: &UserKey,
        settings: &UserSettings,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_vec(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.settings.insert(user.as_str(), value)?;
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
    fn decode_memory(&self, key: &[u8], raw: &[u8]) -> Result<Memory, StoreError> {
        let mut memory: Memory =
            serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt(format!("memory: {e}")))?;
        memory.embedding = self.vectors.get(key)?.map(|v| decode_vector(&v));
        Ok(memory)
    }
}

impl SledStore {
    fn blocking_next_id(&self) -> Result<String, StoreError> {
        Ok(short_id(self.db.generate_id()?))
    }

    fn blocking_put_memory(&self, memory: &Memory) -> Result<(), StoreError> {
        let key = memory_key(&memory.owner, &memory.id);
        let value = serde_json::to_vec(memory).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let vector: Option<Vec<u8>> = memory
            .embedding
            .as_ref()
            .map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect());
        // One batch per tree; the record and its vector are flushed together.
        self.memories.insert(key.as_slice(), value)?;
        match vector {
            Some(bytes) => self.vectors.insert(key, bytes)?,
            None => self.vectors.remove(key)?,
        };
        Ok(())
    }

    fn blocking_memory(&self, owner: &UserKey, id: &str) -> Result<Option<Memory>, StoreError> {
        let key = memory_key(owner, id);
        match self.memories.get(&key)? {
            Some(raw) => Ok(Some(self.decode_memory(&key, &raw)?)),
            None => Ok(None),
        }
    }

    fn blocking_memories(&self, owner: &UserKey) -> Result<Vec<Memory>, StoreError> {
        let mut out = Vec::new();
        for entry in self.memories.scan_prefix(owner_prefix(owner)) {
            let (key, raw) = entry?;
            out.push(self.decode_memory(&key, &raw)?);
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

#[async_trait::async_trait]
impl SettingsStore for SledStore {
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
        self.reminders
            .insert(reminder_key(&reminder.owner, n), value)?;
        Ok(())
    }

    fn blocking_reminder(&self, owner: &UserKey, id: &str) -> Result<Option<Reminder>, StoreError> {
        let Some(n) = id_number(id) else {
            return Ok(None);
        };
        self.reminders
            .get(reminder_key(owner, n))?
            .map(|raw| decode_reminder(&raw))
            .transpose()
    }

    fn blocking_reminders(&self, owner: &UserKey) -> Result<Vec<Reminder>, StoreError> {
        self.reminders
            .scan_prefix(owner_prefix(owner))
            .values()
            .map(|raw| decode_reminder(&raw?))
            .collect()
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
        for raw in self.reminders.iter().values() {
            match decode_reminder(&raw?) {
                Ok(r) if r.state == ReminderState::Pending => out.push(r),
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

fn document_key(owner: &UserKey, name: &str) -> Vec<u8> {
    let mut key = owner_prefix(owner);
    key.extend_from_slice(name.as_bytes());
    key
}

impl SledStore {
    fn blocking_put_document(
        &self,
        document: &crate::files::SavedDocument,
    ) -> Result<(), StoreError> {
        let raw = serde_json::to_vec(document)
            .map_err(|e| StoreError::Corrupt(format!("encoding a document: {e}")))?;
        self.documents
            .insert(document_key(&document.owner, &document.name), raw)?;
        Ok(())
    }

    fn blocking_documents(
        &self,
        owner: &UserKey,
    ) -> Result<Vec<crate::files::SavedDocument>, StoreError> {
        self.documents
            .scan_prefix(owner_prefix(owner))
            .values()
            .map(|raw| {
                serde_json::from_slice(&raw?)
                    .map_err(|e| StoreError::Corrupt(format!("a stored document: {e}")))
            })
            .collect()
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
