//! Paces calls to a chat platform: one edit or send per interval per chat,
//! pushed back when the platform answers 429.
//!
//! Written here rather than taken from a rate-limit crate because the limit is
//! steered by the server: the next slot moves to whatever `retry_after` says,
//! and a pending edit must be flushed exactly when the slot frees. Every
//! adapter streams replies the same way, so the pacer lives in the core.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Past this many chats, slots that are already free are dropped.
const PRUNE_AT: usize = 256;

/// One call per interval per chat (`K` is the platform's chat id), pushed back by 429s.
#[derive(Clone, Debug)]
pub struct Pacer<K> {
    interval: Duration,
    next: Arc<Mutex<HashMap<K, Instant>>>,
}

impl<K: Copy + Eq + Hash> Pacer<K> {
    /// A pacer allowing one call per `interval` in each chat.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: Arc::default(),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<K, Instant>> {
        self.next.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the next call to `chat` is allowed.
    pub fn ready_at(&self, chat: K) -> Instant {
        self.slots()
            .get(&chat)
            .copied()
            .unwrap_or_else(Instant::now)
    }

    /// Takes the slot if it is free now.
    pub fn try_take(&self, chat: K) -> bool {
        let now = Instant::now();
        let mut slots = self.slots();
        if slots.len() >= PRUNE_AT {
            // A slot in the past says nothing a missing entry would not: drop them, so
            // chats that were busy once (strangers' included) do not stay in memory.
            slots.retain(|_, next| *next > now);
        }
        let next = slots.entry(chat).or_insert(now);
        if *next > now {
            return false;
        }
        *next = now + self.interval;
        true
    }

    /// Waits for the slot and takes it.
    pub async fn take(&self, chat: K) {
        loop {
            let at = self.ready_at(chat);
            tokio::time::sleep_until(at).await;
            if self.try_take(chat) {
                return;
            }
        }
    }

    /// Drops what is known about `chat` (for keys that are used once, such as one
    /// interaction's response), so the table does not grow without end.
    pub fn forget(&self, chat: K) {
        self.slots().remove(&chat);
    }

    /// The platform asked to wait `delay` before the next call to `chat`.
    pub fn back_off(&self, chat: K, delay: Duration) {
        let until = Instant::now() + delay;
        let mut slots = self.slots();
        let next = slots.entry(chat).or_insert(until);
        *next = (*next).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_call_per_interval_and_back_off_moves_the_slot() {
        let pacer = Pacer::new(Duration::from_millis(50));
        assert!(pacer.try_take(1));
        assert!(!pacer.try_take(1));
        assert!(pacer.try_take(2), "chats are paced separately");
        pacer.back_off(1, Duration::from_millis(300));
        let start = Instant::now();
        pacer.take(1).await;
        assert!(start.elapsed() >= Duration::from_millis(290));
        assert!(!pacer.try_take(1), "taking the slot starts a new interval");
    }

    #[tokio::test(start_paused = true)]
    async fn free_slots_of_many_chats_are_not_kept() {
        let pacer = Pacer::new(Duration::from_millis(50));
        for chat in 0..10_000 {
            assert!(pacer.try_take(chat));
        }
        tokio::time::advance(Duration::from_millis(60)).await;
        assert!(pacer.try_take(10_000));
        assert!(
            pacer.slots().len() < PRUNE_AT * 2,
            "{}",
            pacer.slots().len()
        );
        assert!(!pacer.try_take(10_000), "a busy slot is kept");
    }
}
