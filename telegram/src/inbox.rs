//! Messages are kept in the core's inbox before Telegram is told they arrived, so a crash
//! never loses one.
//!
//! Telegram counts an update delivered once the next `getUpdates` asks for later ones, and
//! teloxide asks as soon as it has handed the last batch to the handlers, long before the
//! answers are written. A bot killed then (SIGKILL, power cut, OOM) used to lose every
//! message it had taken but not answered. [`Journaled`] wraps teloxide's long polling: each
//! message of a person allowed to use the bot is written to the
//! [`InboxStore`](bot_core::store::InboxStore) (durably) before the stream hands it on, and
//! the stream asks Telegram for the next batch only after that, so Telegram forgets nothing
//! the inbox does not hold. The handler lets go of it once the answer is delivered, and
//! [`unanswered`] gives back at start what a crash left.
//!
//! Answers are at least once: a crash between delivering an answer and letting go of the
//! message answers it again after the restart. Strangers' messages are not kept (they are
//! refused anyway, and a stranger must not be able to fill the disk).

use std::collections::HashSet;
use std::sync::Arc;

use bot_core::inbox::{self, Receipt};
use bot_core::{ChatService, Platform, UserKey};
use futures::StreamExt;
use futures::stream::BoxStream;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::stop::StopToken;
use teloxide::types::{AllowedUpdate, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, Polling, UpdateListener};

/// The person `update` comes from and its id, when it is a message the inbox keeps (one
/// from a person allowed to use the bot); `None` for anything else.
fn kept_as(service: &ChatService, update: &Update) -> Option<(UserKey, String)> {
    let UpdateKind::Message(message) = &update.kind else {
        return None;
    };
    let from = message.from.as_ref()?;
    let user_id = from.id.0.to_string();
    service.is_allowed(Platform::Telegram, &user_id).then(|| {
        (
            UserKey::new(Platform::Telegram, &user_id),
            update.id.0.to_string(),
        )
    })
}

/// The receipt for `update` (kept by the listener) when it is one the inbox keeps.
pub(crate) fn receipt(service: &ChatService, update: &Update) -> Option<Receipt> {
    let (user, id) = kept_as(service, update)?;
    Some(Receipt::new(service.inbox(), user, id))
}

/// Writes `update` to the inbox when it is one the inbox keeps.
async fn keep(service: &ChatService, update: &Update) {
    let Some((user, id)) = kept_as(service, update) else {
        return;
    };
    match serde_json::to_vec(update) {
        Ok(bytes) => {
            inbox::keep(service.inbox(), user, id, bytes).await;
        }
        Err(e) => tracing::warn!(error = %e, "could not encode a message for the inbox"),
    }
}

/// teloxide's long polling, with every kept message written to the inbox before the
/// stream hands it on (and so before Telegram is told it arrived).
pub(crate) struct Journaled {
    polling: Polling<Bot>,
    service: ChatService,
    /// Updates answered from the inbox at start: Telegram sends those again when the
    /// crash came before it was told they arrived, and the copies are skipped.
    replayed: Arc<HashSet<u32>>,
}

impl Journaled {
    pub(crate) fn new(polling: Polling<Bot>, service: ChatService, replayed: HashSet<u32>) -> Self {
        Self {
            polling,
            service,
            replayed: Arc::new(replayed),
        }
    }
}

impl UpdateListener for Journaled {
    type Err = RequestError;

    fn stop_token(&mut self) -> StopToken {
        self.polling.stop_token()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.polling.hint_allowed_updates(hint);
    }
}

impl<'a> AsUpdateStream<'a> for Journaled {
    type StreamErr = RequestError;
    type Stream = BoxStream<'a, Result<Update, RequestError>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let Journaled {
            polling,
            service,
            replayed,
        } = self;
        let (service, replayed) = (service.clone(), Arc::clone(replayed));
        polling
            .as_stream()
            .filter_map(move |item| {
                let (service, replayed) = (service.clone(), Arc::clone(&replayed));
                async move {
                    match item {
                        Ok(update) if replayed.contains(&update.id.0) => {
                            tracing::debug!(
                                update = update.id.0,
                                "already answered from the inbox"
                            );
                            None
                        }
                        Ok(update) => {
                            keep(&service, &update).await;
                            Some(Ok(update))
                        }
                        Err(e) => Some(Err(e)),
                    }
                }
            })
            .boxed()
    }
}

/// The messages a crash left unanswered, oldest first, to answer before polling again.
/// Those older than a day, or unreadable, are let go of with a log line.
pub(crate) async fn unanswered(service: &ChatService) -> Vec<(Update, Message, Receipt)> {
    let left = inbox::left(service.inbox(), Platform::Telegram, |bytes| {
        let update = serde_json::from_slice::<Update>(bytes).map_err(|e| e.to_string())?;
        let UpdateKind::Message(message) = update.kind.clone() else {
            return Err("not a message".to_owned());
        };
        let sent = message.date;
        Ok(((update, message), sent))
    })
    .await;
    left.into_iter()
        .map(|((update, message), receipt)| (update, message, receipt))
        .collect()
}
