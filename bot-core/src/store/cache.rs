//! Write-through caches in front of any history and settings backend.
//!
//! An answer needs the conversation's recent turns and the person's settings before the model
//! request goes out. With a backend on its own thread (sled) or across a network (a future
//! Postgres one) each read is a round trip; for an active conversation the answer is already
//! known, because every write went through here. [`CachedHistory`] keeps the recent turns of
//! recently active conversations, [`CachedSettings`] the settings of recently active people,
//! both bounded (in bytes and in idle time) so memory does not grow with the number of people
//! who ever wrote.
//!
//! Every write goes to the backend first and reaches the cache only once the backend took it,
//! so the cache never shows what is not stored. Writes and cache fills of one conversation (or
//! one person) are serialized by a lock chosen by its key, so a fill racing a write cannot
//! bring back a stale list. Reads that hit the cache take no lock. Both caches pass the store
//! conformance suite over every backend.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

use mini_moka::sync::Cache;

use super::{HistoryStore, SettingsStore, StoreError, StoredTurn, Turn, UserSettings};
use crate::Platform;
use crate::types::{ScopeKey, UserKey};

/// Bytes of recent turns the bot keeps cached by default (about 32 MiB).
pub const HISTORY_BYTES: u64 = 32 << 20;
/// People whose settings the bot keeps cached by default.
pub const SETTINGS_USERS: u64 = 10_000;

/// How long an untouched conversation or person stays cached.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// Locks that serialize writes per key (keys share a lock by hash; collisions only wait).
const LOCKS: usize = 64;

/// One lock per key hash, so two operations on the same key never interleave.
struct KeyLocks {
    locks: Vec<tokio::sync::Mutex<()>>,
    hasher: std::collections::hash_map::RandomState,
}

impl KeyLocks {
    fn new() -> Self {
        Self {
            locks: (0..LOCKS).map(|_| tokio::sync::Mutex::new(())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    async fn lock(&self, key: &impl Hash) -> tokio::sync::MutexGuard<'_, ()> {
        let index = (self.hasher.hash_one(key) as usize) % self.locks.len();
        self.locks[index].lock().await
    }
}

/// The cached tail of one conversation.
#[derive(Clone)]
struct Tail {
    /// The most recent turns of the current conversation, oldest first.
    turns: VecDeque<StoredTurn>,
    /// `turns` holds the whole current conversation (it had fewer turns than the cache keeps).
    complete: bool,
    /// The current conversation's number, when known (it is not for an empty one).
    conversation: Option<u32>,
}

impl Tail {
    fn bytes(&self) -> u32 {
        let text: usize = self
            .turns
            .iter()
            .map(|t| {
                t.turn.text.len() + 96 + t.turn.message_ids.iter().map(String::len).sum::<usize>()
            })
            .sum();
        u32::try_from(text + 64).unwrap_or(u32::MAX)
    }
}

/// [`HistoryStore`] with the recent turns of active conversations kept in memory.
pub struct CachedHistory {
    inner: Arc<dyn HistoryStore>,
    keep: usize,
    tails: Cache<ScopeKey, Arc<Tail>>,
    locks: KeyLocks,
}

impl CachedHistory {
    /// Caches up to `keep` recent turns per conversation in front of `inner`, at most
    /// `max_bytes` of turns in all.
    pub fn new(inner: Arc<dyn HistoryStore>, keep: usize, max_bytes: u64) -> Self {
        Self {
            inner,
            keep: keep.max(1),
            tails: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, tail: &Arc<Tail>| tail.bytes())
                .time_to_idle(IDLE)
                .build(),
            locks: KeyLocks::new(),
        }
    }

    fn serve(tail: &Tail, limit: usize) -> Option<Vec<StoredTurn>> {
        (tail.complete || tail.turns.len() >= limit).then(|| {
            let skip = tail.turns.len().saturating_sub(limit);
            tail.turns.iter().skip(skip).cloned().collect()
        })
    }
}

#[async_trait::async_trait]
impl HistoryStore for CachedHistory {
    async fn append(&self, scope: &ScopeKey, turn: Turn) -> Result<u64, StoreError> {
        let _guard = self.locks.lock(scope).await;
        let result = self.inner.append(scope, turn.clone()).await;
        let Ok(seq) = result else {
            self.tails.invalidate(scope);
            return result;
        };
        match self.tails.get(scope) {
            Some(tail) if tail.conversation.is_some() => {
                let mut tail = Tail::clone(&tail);
                let conversation = tail.conversation.unwrap_or_default();
                tail.turns.push_back(StoredTurn {
                    seq,
                    turn: Turn {
                        conversation,
                        ..turn
                    },
                });
                while tail.turns.len() > self.keep {
                    tail.turns.pop_front();
                    tail.complete = false;
                }
                self.tails.insert(scope.clone(), Arc::new(tail));
            }
            // Not cached, or the conversation number is unknown: the next read fills it.
            _ => self.tails.invalidate(scope),
        }
        Ok(seq)
    }

    async fn recent(&self, scope: &ScopeKey, limit: usize) -> Result<Vec<StoredTurn>, StoreError> {
        if let Some(turns) = self.tails.get(scope).and_then(|t| Self::serve(&t, limit)) {
            return Ok(turns);
        }
        let _guard = self.locks.lock(scope).await;
        if let Some(turns) = self.tails.get(scope).and_then(|t| Self::serve(&t, limit)) {
            return Ok(turns);
        }
        let fetch = limit.max(self.keep);
        let turns = self.inner.recent(scope, fetch).await?;
        let tail = Tail {
            complete: turns.len() < fetch,
            conversation: turns.last().map(|t| t.turn.conversation),
            turns: turns.into_iter().collect(),
        };
        let served = Self::serve(&tail, limit).unwrap_or_default();
        if tail.turns.len() <= self.keep {
            self.tails.insert(scope.clone(), Arc::new(tail));
        }
        Ok(served)
    }

    async fn reset(&self, scope: &ScopeKey) -> Result<(), StoreError> {
        let _guard = self.locks.lock(scope).await;
        let result = self.inner.reset(scope).await;
        self.tails.invalidate(scope);
        result
    }

    async fn set_message_ids(
        &self,
        scope: &ScopeKey,
        seq: u64,
        ids: Vec<String>,
    ) -> Result<(), StoreError> {
        let _guard = self.locks.lock(scope).await;
        let result = self.inner.set_message_ids(scope, seq, ids.clone()).await;
        match (&result, self.tails.get(scope)) {
            (Ok(()), Some(tail)) => {
                let mut tail = Tail::clone(&tail);
                if let Some(stored) = tail.turns.iter_mut().find(|t| t.seq == seq) {
                    stored.turn.message_ids = ids;
                }
                self.tails.insert(scope.clone(), Arc::new(tail));
            }
            (Ok(()), None) => {}
            (Err(_), _) => self.tails.invalidate(scope),
        }
        result
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }

    async fn user_turns(
        &self,
        platform: Platform,
        user_id: &str,
    ) -> Result<Vec<(ScopeKey, StoredTurn)>, StoreError> {
        self.inner.user_turns(platform, user_id).await
    }

    async fn erase_user(&self, platform: Platform, user_id: &str) -> Result<usize, StoreError> {
        let removed = self.inner.erase_user(platform, user_id).await;
        // Rare: dropping every cached tail costs one read per active conversation.
        self.tails.invalidate_all();
        removed
    }
}

/// [`SettingsStore`] with the settings of recently active people kept in memory.
pub struct CachedSettings {
    inner: Arc<dyn SettingsStore>,
    settings: Cache<UserKey, UserSettings>,
    locks: KeyLocks,
}

impl CachedSettings {
    /// Caches the settings of up to `max_users` people in front of `inner`.
    pub fn new(inner: Arc<dyn SettingsStore>, max_users: u64) -> Self {
        Self {
            inner,
            settings: Cache::builder()
                .max_capacity(max_users)
                .time_to_idle(IDLE)
                .build(),
            locks: KeyLocks::new(),
        }
    }
}

#[async_trait::async_trait]
impl SettingsStore for CachedSettings {
    async fn settings(&self, user: &UserKey) -> Result<UserSettings, StoreError> {
        if let Some(settings) = self.settings.get(user) {
            return Ok(settings);
        }
        let _guard = self.locks.lock(user).await;
        if let Some(settings) = self.settings.get(user) {
            return Ok(settings);
        }
        let settings = self.inner.settings(user).await?;
        self.settings.insert(user.clone(), settings.clone());
        Ok(settings)
    }

    async fn set_settings(
        &self,
        user: &UserKey,
        settings: &UserSettings,
    ) -> Result<(), StoreError> {
        let _guard = self.locks.lock(user).await;
        let result = self.inner.set_settings(user, settings).await;
        match &result {
            Ok(()) => self.settings.insert(user.clone(), settings.clone()),
            Err(_) => self.settings.invalidate(user),
        }
        result
    }

    async fn remove_settings(&self, user: &UserKey) -> Result<(), StoreError> {
        let _guard = self.locks.lock(user).await;
        let result = self.inner.remove_settings(user).await;
        self.settings.invalidate(user);
        result
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::store::conformance::{self, turn};
    use crate::store::memory::InMemoryStore;

    fn cached(store: &Arc<InMemoryStore>, keep: usize) -> (CachedHistory, CachedSettings) {
        (
            CachedHistory::new(store.clone(), keep, 1 << 20),
            CachedSettings::new(store.clone(), 100),
        )
    }

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        for keep in [1, 3, 400] {
            conformance::run_history(|| cached(&Arc::new(InMemoryStore::new()), keep).0).await;
        }
        conformance::run_settings(|| cached(&Arc::new(InMemoryStore::new()), 1).1).await;
    }

    #[cfg(feature = "sled")]
    #[tokio::test]
    async fn passes_the_conformance_suite_over_sled() {
        let sled = || {
            Arc::new(
                crate::store::sled_store::SledStore::from_db(
                    sled::Config::new().temporary(true).open().unwrap(),
                )
                .unwrap(),
            )
        };
        conformance::run_history(|| CachedHistory::new(sled(), 400, 1 << 20)).await;
        conformance::run_settings(|| CachedSettings::new(sled(), 100)).await;
    }

    #[tokio::test]
    async fn serves_a_warm_conversation_from_memory_and_writes_through() {
        let store = Arc::new(InMemoryStore::new());
        let (history, _) = cached(&store, 4);
        let scope = ScopeKey::new(Platform::Telegram, "1", "1");
        history.append(&scope, turn(Role::User, "a")).await.unwrap();
        assert_eq!(history.recent(&scope, 10).await.unwrap().len(), 1);
        for text in ["b", "c", "d", "e"] {
            history
                .append(&scope, turn(Role::User, text))
                .await
                .unwrap();
        }
        // Every write reached the backend.
        let stored: Vec<_> = store.recent(&scope, 10).await.unwrap();
        assert_eq!(stored.len(), 5);
        // Within what the cache keeps, the cache and the backend agree, seq and all.
        assert_eq!(history.recent(&scope, 4).await.unwrap(), stored[1..]);
        // Beyond it, the backend answers.
        assert_eq!(history.recent(&scope, 10).await.unwrap(), stored);
        // The cached copy carries the conversation number the backend gave.
        history.reset(&scope).await.unwrap();
        history.append(&scope, turn(Role::User, "f")).await.unwrap();
        history.recent(&scope, 10).await.unwrap();
        let seq = history.append(&scope, turn(Role::User, "g")).await.unwrap();
        history
            .set_message_ids(&scope, seq, vec!["42".into()])
            .await
            .unwrap();
        assert_eq!(
            history.recent(&scope, 10).await.unwrap(),
            store.recent(&scope, 10).await.unwrap()
        );
    }

    #[tokio::test]
    async fn a_write_to_the_backend_behind_the_cache_is_not_seen_but_own_writes_are() {
        // The cache is the only writer in a running bot; this pins down that a hit really
        // is served from memory (the backend is not asked).
        let store = Arc::new(InMemoryStore::new());
        let (history, settings) = cached(&store, 10);
        let scope = ScopeKey::new(Platform::Discord, "c", "u");
        let user = UserKey::new(Platform::Discord, "u");
        history.append(&scope, turn(Role::User, "a")).await.unwrap();
        assert_eq!(history.recent(&scope, 10).await.unwrap().len(), 1);
        assert_eq!(
            settings.settings(&user).await.unwrap(),
            UserSettings::default()
        );
        store
            .append(&scope, turn(Role::User, "behind"))
            .await
            .unwrap();
        let changed = UserSettings {
            model: Some("m".into()),
            ..UserSettings::default()
        };
        store.set_settings(&user, &changed).await.unwrap();
        assert_eq!(history.recent(&scope, 10).await.unwrap().len(), 1);
        assert_eq!(
            settings.settings(&user).await.unwrap(),
            UserSettings::default()
        );
        settings.set_settings(&user, &changed).await.unwrap();
        assert_eq!(settings.settings(&user).await.unwrap(), changed);
    }
}
