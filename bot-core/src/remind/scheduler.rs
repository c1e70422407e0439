//! Delivers reminders on time.
//!
//! Every pending reminder sits in an in-memory queue ordered by its due instant (loaded
//! from the store at start, added to as reminders are set). One task sleeps on the
//! [`Clock`] until the earliest is due or a new one arrives, then fires everything due,
//! a bounded number at once. Firing reads the reminder back from the store (a cancelled or
//! changed one is skipped), writes what happens next (a one-shot delivered, a repeat moved
//! to its next time) and flushes that, and only then sends: a crash after the flush loses
//! at most this one delivery, never sends it twice. When the platform is not connected
//! yet (a start with reminders already due) or sending fails, the write is undone and the
//! reminder tried again shortly.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Kind, Reminder, ReminderState, ReminderStore};
use crate::access::AccessPolicy;
use crate::clock::Clock;
use crate::outbound::{OutboundError, OutboundMessage, Outbounds, Recipient};
use crate::types::{Platform, UserKey};

/// How many reminders are sent at once.
const AT_ONCE: usize = 64;

/// Less late than this counts as on time.
const ON_TIME: i64 = 60;

type Key = (DateTime<Utc>, UserKey, String);

/// Runs a scheduled prompt: the chat service answers it as if the person had asked.
#[async_trait::async_trait]
pub trait PromptRunner: Send + Sync {
    /// The answer's text, or why there is none (for the person to read).
    async fn run_prompt(&self, prompt: &Reminder) -> Result<String, String>;
}

/// Failed runs in a row after which a scheduled prompt pauses itself.
pub const PAUSE_AFTER_FAILURES: u32 = 3;

/// The reminder queue and its delivery task. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("queued", &self.queue().len())
            .finish()
    }
}

struct Inner {
    store: Arc<dyn ReminderStore>,
    outbounds: Outbounds,
    clock: Arc<dyn Clock>,
    access: AccessPolicy,
    max_late: Duration,
    queue: Mutex<BTreeSet<Key>>,
    retries: Mutex<HashMap<(UserKey, String), u32>>,
    wake: Notify,
    sending: Semaphore,
    runner: OnceLock<Weak<dyn PromptRunner>>,
}

impl Scheduler {
    /// A scheduler over `store`, sending through `outbounds` to people `access` allows;
    /// reminders later than `max_late` become a note that they were missed.
    pub fn new(
        store: Arc<dyn ReminderStore>,
        outbounds: Outbounds,
        clock: Arc<dyn Clock>,
        access: AccessPolicy,
        max_late: std::time::Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                outbounds,
                clock,
                access,
                max_late: Duration::from_std(max_late).unwrap_or(Duration::days(1)),
                queue: Mutex::default(),
                retries: Mutex::default(),
                wake: Notify::new(),
                sending: Semaphore::new(AT_ONCE),
                runner: OnceLock::new(),
            }),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, BTreeSet<Key>> {
        self.inner.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Who answers scheduled prompts (the chat service, once it exists).
    pub fn set_runner(&self, runner: Weak<dyn PromptRunner>) {
        let _ = self.inner.runner.set(runner);
    }

    /// Queues a pending reminder (a new one, a snoozed one, one moved to another zone).
    pub fn arm(&self, reminder: &Reminder) {
        if reminder.state != ReminderState::Pending {
            return;
        }
        self.arm_at(reminder.due, &reminder.owner, &reminder.id);
    }

    fn arm_at(&self, due: DateTime<Utc>, owner: &UserKey, id: &str) {
        let pending = {
            let mut queue = self.queue();
            queue.insert((due, owner.clone(), id.to_owned()));
            queue.len()
        };
        crate::telemetry::reminders_pending(pending);
        self.inner.wake.notify_one();
    }

    /// Loads the pending reminders and delivers them on time until `stop` is cancelled.
    /// Deliveries under way when it stops are finished (they are short).
    pub async fn run(self, stop: CancellationToken) {
        let tracker = TaskTracker::new();
        let mut attempt = 0u32;
        loop {
            match self.inner.store.pending().await {
                Ok(pending) => {
                    tracing::info!(pending = pending.len(), "reminders loaded");
                    for reminder in &pending {
                        self.arm(reminder);
                    }
                    break;
                }
                Err(e) => {
                    attempt += 1;
                    tracing::error!(error = %e, "could not load reminders; trying again");
                    let wait = std::time::Duration::from_secs(2u64.pow(attempt.min(6)));
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.cancelled() => return,
                    }
                }
            }
        }
        loop {
            let now = self.inner.clock.now();
            let (due, next) = {
                let mut queue = self.queue();
                let mut due = Vec::new();
                while queue.first().is_some_and(|(at, _, _)| *at <= now) {
                    due.extend(queue.pop_first());
                }
                crate::telemetry::reminders_pending(queue.len());
                (due, queue.first().map(|(at, _, _)| *at))
            };
            for (_, owner, id) in due {
                let scheduler = self.clone();
                tracker.spawn(async move {
                    let Ok(_permit) = scheduler.inner.sending.acquire().await else {
                        return;
                    };
                    let job = scheduler.fire(&owner, &id);
                    if crate::service::contain_panic("a reminder", job)
                        .await
                        .is_none()
                    {
                        tracing::error!(user = %owner, reminder = %id, "delivering a reminder panicked");
                    }
                });
            }
            let until = next.unwrap_or(now + Duration::days(1));
            tokio::select! {
                () = self.inner.clock.sleep_until(until) => {}
                () = self.inner.wake.notified() => {}
                () = stop.cancelled() => break,
            }
        }
        tracker.close();
        tracker.wait().await;
    }

    /// Delivers one reminder if it is still pending and due.
    async fn fire(&self, owner: &UserKey, id: &str) {
        let inner = &self.inner;
        let stored = match inner.store.get(owner, id).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, user = %owner, reminder = %id, "could not read a due reminder; trying again");
                self.retry(owner, id);
                return;
            }
        };
        let now = inner.clock.now();
        if stored.state != ReminderState::Pending {
            return;
        }
        if stored.due > now {
            // Snoozed or moved since it was queued; its new time is queued too.
            self.arm(&stored);
            return;
        }
        let zone = stored.tz();
        let late = now - stored.due;
        let missed = late > inner.max_late;
        let mut next = stored.clone();
        next.last_fired = Some(now);
        match next.repeat {
            None if missed => next.state = ReminderState::Missed,
            None => next.state = ReminderState::Delivered,
            Some(repeat) => next.due = repeat.next_after(now, zone),
        }
        if !inner.access.is_allowed(owner.parts().0, owner.parts().1) {
            tracing::info!(user = %owner, reminder = %id, "not delivering a reminder: the person is no longer allowed");
            if let Err(e) = self.save(&next).await {
                tracing::error!(error = %e, user = %owner, reminder = %id, "could not record a reminder as passed");
            }
            self.arm(&next);
            return;
        }
        // What happens next is on disk before anything is sent, so a crash never sends it
        // twice. A reminder is recorded by the adapter right before its request, after any
        // wait for a busy chat's turn (`Outbound::send_committed`), so a crash loses as
        // little as can be; a scheduled prompt is recorded before it runs.
        let commit = match stored.kind {
            Kind::Reminder => {
                let (scheduler, next) = (self.clone(), next.clone());
                Some(Box::pin(async move {
                    let saved = scheduler.save(&next).await.map_err(|e| {
                        tracing::error!(error = %e, user = %next.owner, reminder = %next.id, "could not record a reminder as delivered; not sending it yet");
                        format!("the reminder could not be recorded as sent: {e}")
                    });
                    scheduler.arm(&next);
                    saved
                }) as crate::outbound::Commit)
            }
            Kind::Prompt => {
                if let Err(e) = self.save(&next).await {
                    tracing::error!(error = %e, user = %owner, reminder = %id, "could not record a scheduled prompt as run; not running it yet");
                    self.retry(owner, id);
                    return;
                }
                self.arm(&next);
                None
            }
        };
        let text = match stored.kind {
            Kind::Reminder => message_text(&stored, late, missed, inner.max_late),
            Kind::Prompt if missed => message_text(&stored, late, missed, inner.max_late),
            Kind::Prompt => match self.run_prompt(&stored, next).await {
                Some(text) => text,
                None => return,
            },
        };
        match self.send(&stored, text, commit).await {
            Ok(()) => {
                self.retries().remove(&(owner.clone(), id.to_owned()));
                tracing::info!(user = %owner, reminder = %id, late_secs = late.num_seconds(), missed, "reminder delivered");
                if late.num_seconds() >= ON_TIME {
                    crate::telemetry::reminder_late();
                }
            }
            Err(e @ (OutboundError::PlatformOff(_) | OutboundError::Failed(_))) => {
                // Not sent: undo the write and try again shortly.
                tracing::warn!(error = %e, user = %owner, reminder = %id, "could not deliver a reminder; trying again");
                if let Err(e) = self.save(&stored).await {
                    tracing::error!(error = %e, user = %owner, reminder = %id, "could not put a reminder back after a failed delivery");
                    return;
                }
                self.retry(owner, id);
            }
            Err(e) => {
                tracing::warn!(error = %e, user = %owner, reminder = %id, "the platform will not deliver this reminder");
            }
        }
    }

    /// Runs a scheduled prompt; its answer, or a note when it failed a third time in a row
    /// (it is paused then), or `None` when there is nothing to send.
    async fn run_prompt(&self, stored: &Reminder, mut next: Reminder) -> Option<String> {
        let runner = self.inner.runner.get().and_then(Weak::upgrade);
        let result = match runner {
            Some(runner) => runner.run_prompt(stored).await,
            None => Err("the chat service is not running".to_owned()),
        };
        let id = &stored.id;
        match result {
            Ok(answer) => {
                if next.failures > 0 {
                    next.failures = 0;
                    if let Err(e) = self.save(&next).await {
                        tracing::warn!(error = %e, reminder = %id, "could not reset a schedule's failures");
                    }
                }
                let repeat = stored
                    .repeat
                    .map(|r| format!(", {}", r.describe()))
                    .unwrap_or_default();
                Some(format!("🗓 _Scheduled prompt {id}{repeat}_\n\n{answer}"))
            }
            Err(why) => {
                next.failures += 1;
                tracing::warn!(user = %stored.owner, reminder = %id, failures = next.failures, error = %why, "a scheduled prompt failed");
                let pause = next.failures >= PAUSE_AFTER_FAILURES && next.repeat.is_some();
                if pause {
                    next.state = ReminderState::Paused;
                }
                if let Err(e) = self.save(&next).await {
                    tracing::error!(error = %e, reminder = %id, "could not record a schedule's failure");
                }
                if pause {
                    Some(format!(
                        "⏸ Scheduled prompt {id} failed {PAUSE_AFTER_FAILURES} times in a row ({why}), so I paused it. \
                         /schedules resume {id} starts it again."
                    ))
                } else if next.repeat.is_none() {
                    Some(format!("🗓 Scheduled prompt {id} could not run: {why}"))
                } else {
                    None
                }
            }
        }
    }

    async fn save(&self, reminder: &Reminder) -> Result<(), crate::store::StoreError> {
        self.inner.store.put(reminder).await?;
        self.inner.store.flush().await
    }

    fn retries(&self) -> std::sync::MutexGuard<'_, HashMap<(UserKey, String), u32>> {
        self.inner.retries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tries `id` again after a pause that grows with each failure (5 s up to 5 min).
    fn retry(&self, owner: &UserKey, id: &str) {
        let attempt = {
            let mut retries = self.retries();
            let attempt = retries.entry((owner.clone(), id.to_owned())).or_insert(0);
            *attempt += 1;
            *attempt
        };
        let wait = (5i64 << attempt.min(6).saturating_sub(1)).min(300);
        self.arm_at(self.inner.clock.now() + Duration::seconds(wait), owner, id);
    }

    /// Sends to the person privately; when the platform will not let the bot write to
    /// them first and the reminder was set in a shared chat, there.
    async fn send(
        &self,
        reminder: &Reminder,
        text: String,
        commit: Option<crate::outbound::Commit>,
    ) -> Result<(), OutboundError> {
        let outbounds = &self.inner.outbounds;
        if let (Kind::Prompt, Some(chat)) = (reminder.kind, &reminder.chat) {
            // A scheduled prompt answers in the chat it was set in.
            let to = Recipient::Chat {
                platform: reminder.platform(),
                chat_id: chat.clone(),
            };
            return outbounds
                .send(&to, OutboundMessage::text(text))
                .await
                .map(|_| ());
        }
        let private = Recipient::User(reminder.owner.clone());
        let message = OutboundMessage::text(text.clone());
        let sent = match commit {
            Some(commit) => outbounds.send_committed(&private, message, commit).await,
            None => outbounds.send(&private, message).await,
        };
        match sent {
            Ok(_) => Ok(()),
            Err(e @ (OutboundError::NotReachable(_) | OutboundError::UnknownRecipient(_))) => {
                let Some(chat) = &reminder.chat else {
                    return Err(e);
                };
                let platform: Platform = reminder.platform();
                let shared = Recipient::Chat {
                    platform,
                    chat_id: chat.clone(),
                };
                outbounds
                    .send(&shared, OutboundMessage::text(text))
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }
}

/// What the person gets when `reminder` fires `late`, in the language it was set in.
fn message_text(reminder: &Reminder, late: Duration, missed: bool, max_late: Duration) -> String {
    use crate::lang::tr;
    let lang = reminder.language();
    let zone = reminder.tz();
    let due = crate::remind::when::format_instant_in(reminder.due, zone, lang);
    let text = &crate::service::escape_markdown(&reminder.text);
    let id = &reminder.id;
    let late_by = crate::remind::when::format_lateness_in(late, lang);
    if missed {
        return tr(
            lang,
            "reminder-missed",
            &[
                ("id", id),
                ("due", &due),
                ("zone", zone.name()),
                ("late", &late_by),
                (
                    "limit",
                    &crate::remind::when::format_lateness_in(max_late, lang),
                ),
                ("text", text),
            ],
        );
    }
    let mut out = if late.num_seconds() >= ON_TIME {
        tr(
            lang,
            "reminder-late",
            &[("late", &late_by), ("due", &due), ("text", text)],
        )
    } else {
        tr(lang, "reminder-fired", &[("text", text)])
    };
    out.push('\n');
    match &reminder.repeat {
        Some(repeat) => out.push_str(&tr(
            lang,
            "reminder-repeat-note",
            &[("id", id), ("repeat", &repeat.describe_in(lang))],
        )),
        None => out.push_str(&tr(lang, "reminder-snooze-hint", &[("id", id)])),
    }
    out
}
