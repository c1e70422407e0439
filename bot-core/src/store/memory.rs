//! In-memory backend, for tests and for `hearth chat --ephemeral`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{HistoryStore, SettingsStore, StoreError, StoredTurn, Turn, UserSettings};
use crate::memory::{Memory, short_id};
use crate::types::{ScopeKey, UserKey};

#[derive(Default)]
struct Inner {
    turns: HashMap<ScopeKey, BTreeMap<u64, Turn>>,
    conversation: HashMap<ScopeKey, u32>,
    settings: HashMap<UserKey, UserSettings>,
    memories: HashMap<UserKey, BTreeMap<String, Memory>>,
    next_seq: u64,
    /// Unanswered messages in the order kept, with the order number as key.
    inbox: BTreeMap<u64, super::Unanswered>,
}

/// Keeps everything in memory; nothing survives the process.
#[derive(Default)]
pub struct InMemoryStore {
    inner: Mutex<Inner>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl super::InboxStore for InMemoryStore {
    async fn keep(&self, message: &super::Unanswered) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let same = |m: &super::Unanswered| m.user == message.user && m.id == message.id;
        if !inner.inbox.values().any(same) {
            inner.next_seq += 1;
            let seq = inner.next_seq;
            inner.inbox.insert(seq, message.clone());
        }
        Ok(())
    }

    async fn answered(&self, user: &UserKey, id: &str) -> Result<(), StoreError> {
        self.lock()
            .inbox
            .retain(|_, m| !(&m.user == user && m.id == id));
        Ok(())
    }

    async fn unanswered(
        &self,
        platform: crate::Platform,
    ) -> Result<Vec<super::Unanswered>, StoreError> {
        Ok(self
            .lock()
            .inbox
            .values()
            .filter(|m| m.user.parts().0 == platform)
            .cloned()
            .collect())
    }

    async fn erase_user(&self, user: &UserKey) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let before = inner.inbox.len();
        inner.inbox.retain(|_, m| &m.user != user);
        Ok(before - inner.inbox.len())
    }
}

#[async_trait::async_trait]
impl HistoryStore for InMemoryStore {
    async fn erase_user(
        &self,
        platform: crate::Platform,
        user_id: &str,
    ) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let mine = |scope: &ScopeKey| super::scope_belongs_to(scope.as_str(), platform, user_id);
        let removed = inner
            .turns
            .iter()
            .filter(|(scope, _)| mine(scope))
            .map(|(_, turns)| turns.len())
            .sum();
        inner.turns.retain(|scope, _| !mine(scope));
        inner.conversation.retain(|scope, _| !mine(scope));
        Ok(removed)
    }

    async fn append(&self, scope: &ScopeKey, mut turn: Turn) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        turn.conversation = inner.conversation.get(scope).copied().unwrap_or(0);
        inner.next_seq += 1;
        let seq = inner.next_seq;
        inner
            .turns
            .entry(scope.clone())
            .or_default()
            .insert(seq, turn);
        Ok(seq)
    }

    async fn recent(&self, scope: &ScopeKey, limit: usize) -> Result<Vec<StoredTurn>, StoreError> {
        let inner = self.lock();
        let current = inner.conversation.get(scope).copied().unwrap_or(0);
        let mut out: Vec<StoredTurn> = inner
            .turns
            .get(scope)
            .into_iter()
            .flat_map(|turns| turns.iter().rev())
            .take_while(|(_, t)| t.conversation == current)
            .take(limit)
            .map(|(&seq, turn)| StoredTurn {
                seq,
                turn: turn.clone(),
            })
            .collect();
        out.reverse();
        Ok(out)
    }

    async fn reset(&self, scope: &ScopeKey) -> Result<(), StoreError> {
        *self.lock().conversation.entry(scope.clone()).or_insert(0) += 1;
        Ok(())
    }

    async fn set_message_ids(
        &self,
        scope: &ScopeKey,
        seq: u64,
        ids: Vec<String>,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let turn = inner
            .turns
            .get_mut(scope)
            .and_then(|t| t.get_mut(&seq))
            .ok_or_else(|| StoreError::NotFound(format!("turn {seq} of {scope}")))?;
        turn.message_ids = ids;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn user_turns(
        &self,
        platform: crate::Platform,
        user_id: &str,
    ) -> Result<Vec<(ScopeKey, StoredTurn)>, StoreError> {
        let inner = self.lock();
        let mut out = Vec::new();
        for (scope, turns) in &inner.turns {
            if super::scope_belongs_to(scope.as_str(), platform, user_id) {
                out.extend(turns.iter().map(|(&seq, turn)| {
                    (
                        scope.clone(),
                        StoredTurn {
                            seq,
                            turn: turn.clone(),
                        },
                    )
                }));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.seq.cmp(&b.1.seq)));
        Ok(out)
    }
}

#[async_trait::async_trait]
impl SettingsStore for InMemoryStore {
    async fn settings(&self, user: &UserKey) -> Result<UserSettings, StoreError> {
        Ok(self.lock().settings.get(user).cloned().unwrap_or_default())
    }

    async fn set_settings(
        &self,
        user: &UserKey,
        settings: &UserSettings,
    ) -> Result<(), StoreError> {
        self.lock().settings.insert(user.clone(), settings.clone());
        Ok(())
    }

    async fn remove_settings(&self, user: &UserKey) -> Result<(), StoreError> {
        self.lock().settings.remove(user);
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::memory::MemoryStore for InMemoryStore {
    async fn next_id(&self) -> Result<String, StoreError> {
        let mut inner = self.lock();
        inner.next_seq += 1;
        Ok(short_id(inner.next_seq))
    }

    async fn put_memory(&self, memory: &Memory) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner
            .memories
            .entry(memory.owner.clone())
            .or_default()
            .insert(memory.id.clone(), memory.clone());
        Ok(())
    }

    async fn memory(&self, owner: &UserKey, id: &str) -> Result<Option<Memory>, StoreError> {
        Ok(self
            .lock()
            .memories
            .get(owner)
            .and_then(|m| m.get(id))
            .cloned())
    }

    async fn memories(&self, owner: &UserKey) -> Result<Vec<Memory>, StoreError> {
        let mut out: Vec<Memory> = self
            .lock()
            .memories
            .get(owner)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn remove_memory(&self, owner: &UserKey, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .memories
            .get_mut(owner)
            .and_then(|m| m.remove(id))
            .is_some())
    }

    async fn remove_all_memories(&self, owner: &UserKey) -> Result<usize, StoreError> {
        Ok(self
            .lock()
            .memories
            .remove(owner)
            .map(|m| m.len())
            .unwrap_or(0))
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
