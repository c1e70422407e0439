//! The sled backend: one database in the data directory.
//!
//! Trees:
//! - `meta`: `schema_version` (u32, big-endian).
//! - `turns`: `scope \0 seq(u64 BE)` -> JSON [`Turn`]. Keys sort by scope, then time.
//! - `conversations`: `scope` -> current conversation number (u32 BE).
//! - `settings`: `user` -> JSON [`UserSettings`].
//! - `memories`: `user \0 id` -> JSON [`Memory`] (without the embedding).
//! - `memory_vectors`: `user \0 id` -> the embedding, f32 little-endian.

use std::path::Path;

use super::{HistoryStore, SettingsStore, StoreError, StoredTurn, Turn, UserSettings};
use crate::memory::{Memory, MemoryStore, short_id};
use crate::types::{ScopeKey, UserKey};

/// Newest schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Storage in a sled database.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    turns: sled::Tree,
    conversations: sled::Tree,
    settings: sled::Tree,
    memories: sled::Tree,
    vectors: sled::Tree,
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
        Ok(Self {
            turns: db.open_tree("turns")?,
            conversations: db.open_tree("conversations")?,
            settings: db.open_tree("settings")?,
            memories: db.open_tree("memories")?,
            vectors: db.open_tree("memory_vectors")?,
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

impl HistoryStore for SledStore {
    fn append(&self, scope: &ScopeKey, mut turn: Turn) -> Result<u64, StoreError> {
        turn.conversation = self.current_conversation(scope)?;
        // sled ids increase across restarts, so keys stay in time order.
        let seq = self.db.generate_id()?;
        let value = serde_json::to_vec(&turn).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.turns.insert(turn_key(scope, seq), value)?;
        Ok(seq)
    }

    fn recent(&self, scope: &ScopeKey, limit: usize) -> Result<Vec<StoredTurn>, StoreError> {
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

    fn reset(&self, scope: &ScopeKey) -> Result<(), StoreError> {
        let next = self.current_conversation(scope)? + 1;
        self.conversations
            .insert(scope.as_str(), &next.to_be_bytes())?;
        Ok(())
    }

    fn set_message_ids(
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

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn user_turns(
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

impl SettingsStore for SledStore {
    fn settings(&self, user: &UserKey) -> Result<UserSettings, StoreError> {
        match self.settings.get(user.as_str())? {
            Some(raw) => serde_json::from_slice(&raw)
                .map_err(|e| StoreError::Corrupt(format!("settings of {user}: {e}"))),
            None => Ok(UserSettings::default()),
        }
    }

    fn set_settings(&self, user: &UserKey, settings: &UserSettings) -> Result<(), StoreError> {
        let value = serde_json::to_vec(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.settings.insert(user.as_str(), value)?;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
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

impl MemoryStore for SledStore {
    fn next_id(&self) -> Result<String, StoreError> {
        Ok(short_id(self.db.generate_id()?))
    }

    fn put_memory(&self, memory: &Memory) -> Result<(), StoreError> {
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

    fn memory(&self, owner: &UserKey, id: &str) -> Result<Option<Memory>, StoreError> {
        let key = memory_key(owner, id);
        match self.memories.get(&key)? {
            Some(raw) => Ok(Some(self.decode_memory(&key, &raw)?)),
            None => Ok(None),
        }
    }

    fn memories(&self, owner: &UserKey) -> Result<Vec<Memory>, StoreError> {
        let mut out = Vec::new();
        for entry in self.memories.scan_prefix(owner_prefix(owner)) {
            let (key, raw) = entry?;
            out.push(self.decode_memory(&key, &raw)?);
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    fn remove_memory(&self, owner: &UserKey, id: &str) -> Result<bool, StoreError> {
        let key = memory_key(owner, id);
        self.vectors.remove(&key)?;
        Ok(self.memories.remove(key)?.is_some())
    }

    fn remove_all_memories(&self, owner: &UserKey) -> Result<usize, StoreError> {
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

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_and_settings_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let scope = ScopeKey::new(crate::Platform::Telegram, "1", "1");
        let user = UserKey::new(crate::Platform::Telegram, "1");
        {
            let store = SledStore::open(dir.path()).unwrap();
            let turn = crate::store::conformance::turn(crate::model::Role::User, "kept");
            store.append(&scope, turn).unwrap();
            store
                .set_settings(
                    &user,
                    &UserSettings {
                        model: Some("m".into()),
                        ..UserSettings::default()
                    },
                )
                .unwrap();
            HistoryStore::flush(&store).unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.recent(&scope, 10).unwrap()[0].turn.text, "kept");
        assert_eq!(store.settings(&user).unwrap().model.as_deref(), Some("m"));
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
