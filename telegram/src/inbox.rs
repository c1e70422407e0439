//! Messages are kept in the core's inbox before Telegram is told they arrived, so a crash
//! never loses one.
//!
//! Telegram counts an update delivered once the next `getUpdates` asks for later ones, and
//! teloxide asks as soon as it has handed the last batch to the handlers, long before the
//! answers are written. A bot killed then (SIGKILL, power cut, OOM) used to lose every
//! message it had taken but not answered. [`Journaled`] is the long polling instead: each
//! message of a person allowed to use the bot is written to the
//! [`InboxStore`](bot_core::store::InboxStore) (durably, a whole batch at once) before the
//! stream hands it on, and the stream asks Telegram for the next batch only after that, so
//! Telegram forgets nothing the inbox does not hold. The handler lets go of it once the answer is delivered, and
//! [`unanswered`] gives back at start what a crash left.
//!
//! Answers are at least once: a crash between delivering an answer and letting go of the
//! message answers it again after the restart. Strangers' messages are not kept (they are
//! refused anyway, and a stranger must not be able to fill the disk).

use std::collections::HashSet;
use std::sync::Arc;

use bot_core::inbox::{self, Receipt};
use bot_core::{ChatService, Platform, UserKey};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use teloxide::RequestError;
use teloxide::backoff::exponential_backoff_strategy;
use teloxide::errors::AsResponseParameters;
use teloxide::prelude::*;
use teloxide::stop::{StopFlag, StopToken, mk_stop_token};
use teloxide::types::{AllowedUpdate, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};

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

/// Telegram's long polling, with every kept message written to the inbox before the
/// stream hands it on (and so before Telegram is told it arrived).
///
/// teloxide's own `Polling` hands a batch over one update at a time and asks for the next
/// batch as soon as the last one is taken, so the only safe place to keep a message was
/// between two updates: a burst of 100 messages waited for 100 disk flushes in a row. This
/// listener does the same `getUpdates` long poll (same timeout, backoff and graceful stop)
/// but keeps a whole batch at once (the writes share one grouped flush) before handing any
/// of it on; the next `getUpdates`, which confirms the batch to Telegram, is sent only when
/// the dispatcher asks for more after the last one.
pub(crate) struct Journaled {
    token: StopToken,
    /// Where each stream starts from.
    start: PollState,
}

impl Journaled {
    /// A listener polling with `bot`, each long poll waiting up to `timeout` for updates.
    /// A webhook left set up (Telegram refuses `getUpdates` while one is) is deleted first.
    pub(crate) async fn new(
        bot: Bot,
        timeout: Duration,
        service: ChatService,
        replayed: HashSet<u32>,
    ) -> Self {
        match bot.get_webhook_info().await {
            Ok(info) if info.url.is_some() => {
                if let Err(e) = bot.delete_webhook().await {
                    tracing::error!(error = %e, "could not delete the bot's webhook");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "could not ask Telegram for the bot's webhook"),
        }
        let (token, flag) = mk_stop_token();
        Self {
            token,
            start: PollState {
                bot,
                timeout,
                service,
                replayed: Arc::new(replayed),
                allowed_updates: None,
                flag,
                offset: 0,
                errors: 0,
                pause: None,
            },
        }
    }
}

impl UpdateListener for Journaled {
    type Err = RequestError;

    fn stop_token(&mut self) -> StopToken {
        self.token.clone()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.start.allowed_updates = Some(hint.collect());
    }
}

/// Where the long poll is between two batches.
#[derive(Clone)]
struct PollState {
    bot: Bot,
    timeout: Duration,
    service: ChatService,
    /// Updates answered from the inbox at start: Telegram sends those again when the
    /// crash came before it was told they arrived, and the copies are skipped.
    replayed: Arc<HashSet<u32>>,
    /// The kinds of update to ask for, sent with the first `getUpdates`.
    allowed_updates: Option<Vec<AllowedUpdate>>,
    flag: StopFlag,
    /// The first update not yet confirmed to Telegram.
    offset: i32,
    /// Failed `getUpdates` in a row (for the backoff).
    errors: u32,
    /// How long to wait before the next `getUpdates` (after an error).
    pause: Option<Duration>,
}

impl PollState {
    /// The next batch: kept updates and errors to hand on, or `None` once stopped.
    async fn next_batch(&mut self) -> Option<Vec<Result<Update, RequestError>>> {
        if let Some(pause) = self.pause.take() {
            tokio::select! {
                biased;
                () = &mut self.flag => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        if self.flag.is_stopped() {
            self.confirm().await;
            return None;
        }
        let mut request = self
            .bot
            .get_updates()
            .offset(self.offset)
            .timeout(u32::try_from(self.timeout.as_secs()).unwrap_or(u32::MAX));
        if let Some(allowed) = self.allowed_updates.take() {
            request = request.allowed_updates(allowed);
        }
        let answer = tokio::select! {
            biased;
            () = &mut self.flag => {
                self.confirm().await;
                return None;
            }
            answer = request.send() => answer,
        };
        match answer {
            Ok(updates) => {
                self.errors = 0;
                if let Some(last) = updates.last() {
                    self.offset = last.id.as_offset();
                }
                let updates: Vec<Update> = updates
                    .into_iter()
                    .filter(|update| {
                        let again = self.replayed.contains(&update.id.0);
                        if again {
                            tracing::debug!(
                                update = update.id.0,
                                "already answered from the inbox"
                            );
                        }
                        !again
                    })
                    .collect();
                // All at once: the writes go to the storage thread in order and share the
                // flushes, so the batch costs about one flush, not one per message.
                futures::future::join_all(updates.iter().map(|u| keep(&self.service, u))).await;
                Some(updates.into_iter().map(Ok).collect())
            }
            Err(e) => {
                let pause = match e.retry_after() {
                    Some(after) => {
                        self.errors = 0;
                        after.duration()
                    }
                    None => {
                        let pause = exponential_backoff_strategy(self.errors);
                        self.errors = self.errors.saturating_add(1);
                        pause
                    }
                };
                tracing::info!(
                    seconds = pause.as_secs(),
                    "asking Telegram for updates again soon"
                );
                self.pause = Some(pause);
                Some(vec![Err(e)])
            }
        }
    }

    /// Tells Telegram every update handed on so far arrived, without waiting for new ones
    /// (the stop's last `getUpdates`, as teloxide's polling does it).
    async fn confirm(&self) {
        if let Err(e) = self
            .bot
            .get_updates()
            .offset(self.offset)
            .limit(1)
            .timeout(0)
            .await
        {
            tracing::warn!(error = %e, "could not confirm the last updates to Telegram");
        }
    }
}

impl<'a> AsUpdateStream<'a> for Journaled {
    type StreamErr = RequestError;
    type Stream = BoxStream<'a, Result<Update, RequestError>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let state = self.start.clone();
        futures::stream::unfold(state, |mut state| async move {
            let batch = state.next_batch().await?;
            Some((futures::stream::iter(batch), state))
        })
        .flatten()
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
