//! Reminders: parsed by code ([`when`]), stored before they are confirmed
//! ([`ReminderStore`]), delivered on time by the [`scheduler`].
//!
//! A reminder belongs to one person. It fires once ([`Reminder::repeat`] `None`) or
//! repeatedly at a wall-clock time in its zone. A one-shot is marked delivered (and that
//! is flushed) before it is sent, so a crash never sends it twice; one that came due while
//! the bot was down is sent on start marked late, or, past the owner's limit, replaced by
//! a short note that it was missed.

pub mod scheduler;
pub mod when;

#[cfg(test)]
mod when_tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::types::{Platform, UserKey};

pub use when::{Days, Repeat, Request, When, WhenError};

/// Where a reminder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderState {
    /// Waiting for its time.
    Pending,
    /// A one-shot that was sent (it stays for `/reminders snooze` and for export).
    Delivered,
    /// A one-shot missed for longer than the owner allows: the person got a note instead.
    Missed,
    /// A repeat the person paused.
    Paused,
}

/// What firing does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Sends the text (`/remind`).
    #[default]
    Reminder,
    /// Runs the text as a prompt, with the person's memories and notes, and sends the
    /// answer to the chat it was set in (`/schedule`).
    Prompt,
}

/// One reminder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    /// The person's own id for it: `r1`, `r2`, ...
    pub id: String,
    /// Whose it is.
    pub owner: UserKey,
    /// What to remind of.
    pub text: String,
    /// The next time it fires (for a delivered one-shot: when it was due).
    pub due: DateTime<Utc>,
    /// How it repeats; `None` for a one-shot.
    #[serde(default)]
    pub repeat: Option<Repeat>,
    /// The IANA zone its local times are in.
    pub zone: String,
    /// Where it stands.
    pub state: ReminderState,
    /// When it was set.
    pub created: DateTime<Utc>,
    /// When it was last sent.
    #[serde(default)]
    pub last_fired: Option<DateTime<Utc>>,
    /// The shared chat it was set in, if any: reminders go to the person privately, and
    /// only when the platform will not let the bot write to them is this chat used.
    #[serde(default)]
    pub chat: Option<String>,
    /// A reminder or a scheduled prompt.
    #[serde(default)]
    pub kind: Kind,
    /// How the person is called (for a scheduled prompt's system prompt).
    #[serde(default)]
    pub name: String,
    /// Scheduled prompts: failed runs in a row (three pause it).
    #[serde(default)]
    pub failures: u32,
    /// The language code its messages are sent in (the person's when it was set).
    #[serde(default)]
    pub lang: Option<String>,
    /// The platform message that asked for it (`chat/message id`): the same message
    /// answered again after a restart finds it instead of setting it twice.
    #[serde(default)]
    pub source: Option<String>,
}

impl Reminder {
    /// The zone, UTC when the stored name is not one chrono-tz knows.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.zone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The language its messages are sent in (English when none was stored).
    pub fn language(&self) -> crate::lang::Lang {
        self.lang
            .as_deref()
            .and_then(crate::lang::Lang::from_code)
            .unwrap_or(crate::lang::Lang::En)
    }

    /// The platform it is delivered on.
    pub fn platform(&self) -> Platform {
        self.owner.parts().0
    }
}

/// A reminder before the store has given it an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReminder {
    /// Whose it is.
    pub owner: UserKey,
    /// What to remind of.
    pub text: String,
    /// The first time it fires.
    pub due: DateTime<Utc>,
    /// How it repeats.
    pub repeat: Option<Repeat>,
    /// The IANA zone.
    pub zone: String,
    /// When it was set.
    pub created: DateTime<Utc>,
    /// The shared chat it was set in.
    pub chat: Option<String>,
    /// A reminder or a scheduled prompt.
    pub kind: Kind,
    /// How the person is called.
    pub name: String,
    /// The language code its messages are sent in.
    pub lang: Option<String>,
    /// The platform message that asked for it (`chat/message id`), if any.
    pub source: Option<String>,
}

impl NewReminder {
    /// The stored reminder, as the person's `n`-th: pending, never fired.
    pub fn numbered(self, n: u64) -> Reminder {
        Reminder {
            id: reminder_id(n),
            owner: self.owner,
            text: self.text,
            due: self.due,
            repeat: self.repeat,
            zone: self.zone,
            state: ReminderState::Pending,
            created: self.created,
            last_fired: None,
            chat: self.chat,
            kind: self.kind,
            name: self.name,
            failures: 0,
            lang: self.lang,
            source: self.source,
        }
    }
}

/// Reminders, per person.
#[async_trait::async_trait]
pub trait ReminderStore: Send + Sync {
    /// Stores a new reminder under the person's next id (`r1`, `r2`, ...; never reused).
    async fn create(&self, reminder: NewReminder) -> Result<Reminder, StoreError>;

    /// Replaces a stored reminder (same owner and id).
    async fn put(&self, reminder: &Reminder) -> Result<(), StoreError>;

    /// One reminder of `owner`.
    async fn get(&self, owner: &UserKey, id: &str) -> Result<Option<Reminder>, StoreError>;

    /// Every reminder of `owner`, in creation order.
    async fn list(&self, owner: &UserKey) -> Result<Vec<Reminder>, StoreError>;

    /// Removes one; whether it existed.
    async fn remove(&self, owner: &UserKey, id: &str) -> Result<bool, StoreError>;

    /// Removes all of `owner`'s; how many there were.
    async fn remove_all(&self, owner: &UserKey) -> Result<usize, StoreError>;

    /// Every pending reminder of everyone (the scheduler loads them at start).
    async fn pending(&self) -> Result<Vec<Reminder>, StoreError>;

    /// Makes every write so far durable.
    async fn flush(&self) -> Result<(), StoreError>;
}

/// The id the `n`-th reminder of a person gets.
pub fn reminder_id(n: u64) -> String {
    format!("r{n}")
}

/// The last number given out per person, and the reminders by (person, number).
type Table = (
    std::collections::HashMap<UserKey, u64>,
    std::collections::BTreeMap<(UserKey, u64), Reminder>,
);

/// Reminders in memory, for tests and `--ephemeral`.
#[derive(Debug, Default)]
pub struct InMemoryReminders {
    inner: std::sync::Mutex<Table>,
}

impl InMemoryReminders {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The number in an id such as `r12`.
pub fn id_number(id: &str) -> Option<u64> {
    id.trim()
        .strip_prefix(['r', 'R'])
        .unwrap_or(id.trim())
        .parse()
        .ok()
}

#[async_trait::async_trait]
impl ReminderStore for InMemoryReminders {
    async fn create(&self, new: NewReminder) -> Result<Reminder, StoreError> {
        let mut inner = self.lock();
        let counter = inner.0.entry(new.owner.clone()).or_insert(0);
        *counter += 1;
        let n = *counter;
        let owner = new.owner.clone();
        let reminder = new.numbered(n);
        inner.1.insert((owner, n), reminder.clone());
        Ok(reminder)
    }

    async fn put(&self, reminder: &Reminder) -> Result<(), StoreError> {
        let n = id_number(&reminder.id)
            .ok_or_else(|| StoreError::NotFound(format!("reminder {}", reminder.id)))?;
        self.lock()
            .1
            .insert((reminder.owner.clone(), n), reminder.clone());
        Ok(())
    }

    async fn get(&self, owner: &UserKey, id: &str) -> Result<Option<Reminder>, StoreError> {
        let Some(n) = id_number(id) else {
            return Ok(None);
        };
        Ok(self.lock().1.get(&(owner.clone(), n)).cloned())
    }

    async fn list(&self, owner: &UserKey) -> Result<Vec<Reminder>, StoreError> {
        Ok(self
            .lock()
            .1
            .iter()
            .filter(|((o, _), _)| o == owner)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn remove(&self, owner: &UserKey, id: &str) -> Result<bool, StoreError> {
        let Some(n) = id_number(id) else {
            return Ok(false);
        };
        Ok(self.lock().1.remove(&(owner.clone(), n)).is_some())
    }

    async fn remove_all(&self, owner: &UserKey) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let before = inner.1.len();
        inner.1.retain(|(o, _), _| o != owner);
        Ok(before - inner.1.len())
    }

    async fn pending(&self) -> Result<Vec<Reminder>, StoreError> {
        Ok(self
            .lock()
            .1
            .values()
            .filter(|r| r.state == ReminderState::Pending)
            .cloned()
            .collect())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
