//! The clock port: every wall-clock reading in the core goes through a [`Clock`].
//!
//! Production uses [`SystemClock`]; tests use [`ManualClock`] and set the time they need
//! instead of sleeping. (Durations inside one process, such as timeouts and pacing, use
//! tokio's clock, which tests pause and advance with `tokio::time::pause`.)

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Duration, Utc};

/// A future the clock hands out.
pub type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Tells the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once [`now`](Self::now) has reached `at`. The default sleeps on tokio's
    /// timer in steps of at most a minute and reads the clock again after each, so a wall
    /// clock that jumps (a laptop waking from sleep, NTP) is followed.
    fn sleep_until(&self, at: DateTime<Utc>) -> Wait<'_> {
        Box::pin(async move {
            loop {
                let left = at - self.now();
                if left <= Duration::zero() {
                    return;
                }
                let step = left
                    .to_std()
                    .unwrap_or_default()
                    .min(std::time::Duration::from_secs(60));
                tokio::time::sleep(step).await;
            }
        })
    }
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that shows what it is told, for tests: nothing waiting on it wakes until the
/// test moves it.
#[derive(Debug)]
pub struct ManualClock {
    now: tokio::sync::watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: tokio::sync::watch::Sender::new(now),
        }
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: DateTime<Utc>) {
        self.now.send_replace(now);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| *now += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Wait<'_> {
        let mut changes = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock, which outlives this borrow.
            let _ = changes.wait_for(|now| *now >= at).await;
        })
    }
}
