//! Messages and slash commands are kept in the core's inbox until answered, so a crash
//! does not leave them unanswered.
//!
//! Discord has no acknowledgement to hold back (unlike Telegram's `getUpdates` offset): an
//! event is gone once the gateway delivered it, and a new session after a restart does not
//! send it again. So the handler writes each event it will answer (a DM or mention of a
//! person allowed to use the bot; a slash command once deferred) to the
//! [`InboxStore`](bot_core::store::InboxStore) as soon as it arrives, lets go of it once the
//! answer is delivered, and [`unanswered`] gives back at start what a crash left. A command
//! answered after a restart is edited into its "thinking…" response while Discord still
//! accepts the token (15 minutes); later the answer goes to the channel (or, for a private
//! answer, a DM), as any answer that outlives its token does.
//!
//! Answers are at least once: a crash between delivering an answer and letting go of the
//! event answers it again. Strangers' messages are not kept. What Discord cannot give:
//! messages sent while the bot is not connected at all are never delivered to it.

use std::ops::Deref;
use std::sync::Arc;

use bot_core::inbox::{self, Receipt};
use bot_core::store::InboxStore;
use bot_core::{Platform, UserKey};
use serde::{Deserialize, Serialize};
use serenity::all::{CommandInteraction, Message};

/// One event the inbox keeps: owned when read back ([`Kept`]), borrowed when written
/// ([`Keeping`]); both are stored the same way.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Event<M, C> {
    /// A DM or a mention.
    Message {
        /// The message as the gateway sent it.
        message: M,
    },
    /// A deferred slash command.
    Command {
        /// The interaction as the gateway sent it (its token answers it).
        interaction: C,
    },
}

/// An event read back from the inbox.
pub(crate) type Kept = Event<Box<Message>, Box<CommandInteraction>>;

/// An event being written to the inbox.
pub(crate) type Keeping<'a> = Event<&'a Message, &'a CommandInteraction>;

impl<M: Deref<Target = Message>, C: Deref<Target = CommandInteraction>> Event<M, C> {
    fn user_and_id(&self) -> (String, String) {
        match self {
            Event::Message { message } => (message.author.id.to_string(), message.id.to_string()),
            Event::Command { interaction } => {
                (interaction.user.id.to_string(), interaction.id.to_string())
            }
        }
    }

    /// When Discord created the event.
    pub(crate) fn created(&self) -> chrono::DateTime<chrono::Utc> {
        let at = match self {
            Event::Message { message } => message.id.created_at(),
            Event::Command { interaction } => interaction.id.created_at(),
        };
        chrono::DateTime::from_timestamp(at.unix_timestamp(), 0).unwrap_or_default()
    }
}

/// Writes `kept` to the inbox (durably) and returns its receipt. A failed write is logged
/// and the event answered all the same (only a crash before the answer would lose it).
pub(crate) async fn keep(store: &Arc<dyn InboxStore>, kept: &Keeping<'_>) -> Option<Receipt> {
    let (user_id, id) = kept.user_and_id();
    match serde_json::to_vec(kept) {
        Ok(bytes) => inbox::keep(store, UserKey::new(Platform::Discord, &user_id), id, bytes).await,
        Err(e) => {
            tracing::warn!(error = %e, "could not encode a Discord event for the inbox");
            None
        }
    }
}

/// The events a crash left unanswered, oldest first. Those older than a day, or
/// unreadable, are let go of with a log line.
pub(crate) async fn unanswered(store: &Arc<dyn InboxStore>) -> Vec<(Kept, Receipt)> {
    inbox::left(store, Platform::Discord, |bytes| {
        let event = serde_json::from_slice::<Kept>(bytes).map_err(|e| e.to_string())?;
        let created = event.created();
        Ok((event, created))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::store::memory::InMemoryStore;

    fn message(id: u64, author: u64, content: &str) -> Message {
        serde_json::from_value(serde_json::json!({
            "id": id.to_string(), "channel_id": "400000000000000099",
            "author": {"id": author.to_string(), "username": "a", "discriminator": "0"},
            "content": content, "timestamp": "2026-11-27T10:00:00Z", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "type": 0
        }))
        .unwrap()
    }

    /// A snowflake made now (Discord's epoch is 2015-01-01).
    fn fresh_id() -> u64 {
        let ms = chrono::Utc::now().timestamp_millis() as u64 - 1_420_070_400_000;
        ms << 22
    }

    #[tokio::test]
    async fn a_kept_message_comes_back_whole_until_answered_and_an_old_one_is_dropped() {
        let inbox: Arc<dyn InboxStore> = Arc::new(InMemoryStore::new());
        let fresh = message(fresh_id(), 7, "where are my keys");
        // 2015: far older than a day.
        let old = message(1 << 22, 7, "ancient");
        let receipt = keep(&inbox, &Event::Message { message: &fresh })
            .await
            .expect("kept");
        keep(&inbox, &Event::Message { message: &old })
            .await
            .expect("kept");
        let left = unanswered(&inbox).await;
        assert_eq!(left.len(), 1, "the old one is let go of");
        let Kept::Message { message } = &left[0].0 else {
            panic!("a message comes back as a message")
        };
        assert_eq!(message.content, "where are my keys");
        assert_eq!(message.author.id.get(), 7);
        receipt.answered().await;
        assert!(unanswered(&inbox).await.is_empty());
    }
}
