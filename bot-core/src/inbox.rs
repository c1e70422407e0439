//! What every adapter does with the [`InboxStore`]: keep a message until it is answered,
//! let go of it then, and at start take back what a crash left.
//!
//! The store keeps bytes in the adapter's own encoding (a Telegram update, a Discord event);
//! how and when to keep (before Telegram is told the message arrived; as a Discord event
//! arrives) is the adapter's, the bookkeeping is here.

use std::sync::Arc;

use crate::store::{InboxStore, Unanswered};
use crate::{Platform, UserKey};

/// Messages older than this when the bot starts again are not answered any more (a
/// day-old question answered out of the blue confuses more than it helps).
pub const TOO_LATE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// A message kept in the inbox until answered.
#[derive(Clone)]
pub struct Receipt {
    inbox: Arc<dyn InboxStore>,
    user: UserKey,
    id: String,
}

impl Receipt {
    /// The receipt of message `id` of `user` (kept already, or about to be).
    pub fn new(inbox: &Arc<dyn InboxStore>, user: UserKey, id: String) -> Self {
        Self {
            inbox: Arc::clone(inbox),
            user,
            id,
        }
    }

    /// The message was answered (or needs no answer): the inbox lets go of it.
    pub async fn answered(self) {
        if let Err(e) = self.inbox.answered(&self.user, &self.id).await {
            tracing::warn!(error = %e, message = %self.id, "could not mark a message answered");
        }
    }
}

/// Keeps `message` (the adapter's encoding) of `user` under the platform's `id`, durably,
/// and returns its receipt. A failed write is logged and `None` returned: the message is
/// answered all the same, only a crash before the answer would lose it now.
pub async fn keep(
    inbox: &Arc<dyn InboxStore>,
    user: UserKey,
    id: String,
    message: Vec<u8>,
) -> Option<Receipt> {
    let entry = Unanswered {
        user: user.clone(),
        id: id.clone(),
        message,
    };
    if let Err(e) = inbox.keep(&entry).await {
        tracing::error!(error = %e, "could not keep a message in the inbox");
        return None;
    }
    Some(Receipt::new(inbox, user, id))
}

/// What a crash left unanswered on `platform`, oldest first, each decoded by `decode` into
/// the message and when it was sent. Those `decode` cannot read, and those older than
/// [`TOO_LATE`], are let go of with a log line.
pub async fn left<T>(
    inbox: &Arc<dyn InboxStore>,
    platform: Platform,
    decode: impl Fn(&[u8]) -> Result<(T, chrono::DateTime<chrono::Utc>), String>,
) -> Vec<(T, Receipt)> {
    let kept = match inbox.unanswered(platform).await {
        Ok(kept) => kept,
        Err(e) => {
            tracing::error!(error = %e, %platform, "could not read the messages left unanswered");
            return Vec::new();
        }
    };
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    let mut too_old = 0;
    for entry in kept {
        let receipt = Receipt::new(inbox, entry.user, entry.id);
        match decode(&entry.message) {
            Ok((message, sent)) if now - sent <= TOO_LATE => out.push((message, receipt)),
            Ok(_) => {
                too_old += 1;
                receipt.answered().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, message = %receipt.id, %platform, "an unanswered message could not be read; dropped");
                receipt.answered().await;
            }
        }
    }
    if too_old > 0 {
        tracing::warn!(
            messages = too_old,
            %platform,
            "messages left unanswered by a crash more than a day ago are not answered now"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::InMemoryStore;

    #[tokio::test]
    async fn kept_messages_come_back_until_answered_and_old_or_broken_ones_are_let_go() {
        let inbox: Arc<dyn InboxStore> = Arc::new(InMemoryStore::new());
        let alice = UserKey::new(Platform::Telegram, "1");
        let now = chrono::Utc::now();
        // The adapter's encoding here: "age in hours|text".
        let decode = |bytes: &[u8]| {
            let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
            let (hours, text) = text.split_once('|').ok_or("no age")?;
            let hours: i64 = hours.parse().map_err(|_| "bad age".to_owned())?;
            Ok((text.to_owned(), now - chrono::TimeDelta::hours(hours)))
        };
        let fresh = keep(&inbox, alice.clone(), "1".into(), b"1|fresh".to_vec()).await;
        keep(&inbox, alice.clone(), "2".into(), b"30|stale".to_vec()).await;
        keep(&inbox, alice.clone(), "3".into(), b"garbled".to_vec()).await;
        let other = UserKey::new(Platform::Discord, "1");
        keep(&inbox, other, "4".into(), b"0|elsewhere".to_vec()).await;
        let back = left(&inbox, Platform::Telegram, decode).await;
        let texts: Vec<&str> = back.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(texts, ["fresh"]);
        // The stale and the garbled one were let go of; the fresh one stays until answered.
        assert_eq!(left(&inbox, Platform::Telegram, decode).await.len(), 1);
        fresh.expect("kept").answered().await;
        assert!(left(&inbox, Platform::Telegram, decode).await.is_empty());
        assert_eq!(inbox.unanswered(Platform::Discord).await.unwrap().len(), 1);
    }
}
