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

/// Retries of a send that failed for another reason than a 429 (those move the pacer's
/// slot instead): one policy, from backon, for every adapter. Waits 0.5-1, 1-2, 2-4 and
/// 4-8 s (exponential with jitter), then gives up.
#[derive(Debug)]
pub struct SendRetries {
    delays: backon::ExponentialBackoff,
}

impl Default for SendRetries {
    fn default() -> Self {
        Self::new()
    }
}

impl SendRetries {
    /// A fresh budget of retries.
    pub fn new() -> Self {
        use backon::BackoffBuilder;
        Self {
            delays: backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_factor(2.0)
                .with_max_times(4)
                .with_jitter()
                .build(),
        }
    }

    /// A send went through: the next failure starts from the shortest wait again.
    pub fn succeeded(&mut self) {
        *self = Self::new();
    }

    /// A send failed with `error`: waits before the next try and returns true, or
    /// returns false when the retries are used up (the caller gives up).
    pub async fn failed(&mut self, error: &(dyn std::fmt::Display + Sync)) -> bool {
        match self.delays.next() {
            Some(delay) => {
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "could not deliver a reply message");
                tokio::time::sleep(delay).await;
                true
            }
            None => {
                tracing::error!(error = %error, "giving up on delivering a reply");
                false
            }
        }
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

    #[tokio::test(start_paused = true)]
    async fn failed_sends_are_retried_four_times_with_growing_waits() {
        let mut retries = SendRetries::new();
        let mut waits = Vec::new();
        loop {
            let before = Instant::now();
            if !retries.failed(&"refused").await {
                break;
            }
            waits.push(before.elapsed());
        }
        assert_eq!(waits.len(), 4);
        assert!(waits[0] >= Duration::from_millis(500), "{waits:?}");
        assert!(waits.windows(2).all(|w| w[1] > w[0]), "{waits:?}");
        retries.succeeded();
        assert!(
            retries.failed(&"again").await,
            "a success restores the budget"
        );
    }
}
