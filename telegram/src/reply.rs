//! Streams one core reply into Telegram messages.
//!
//! The answer is shown in one message that is edited as text arrives; past
//! 4096 characters it continues in further messages. Every call to a chat goes
//! through the [`Pacer`], which allows one edit or send per interval per chat
//! and pushes the next slot back when Telegram answers 429 with `retry_after`.
//! Intermediate edits are skipped when the chat is busy; the final text is
//! always delivered, retrying as Telegram asks.

use std::time::Duration;

use bot_core::outbound::{OutboundError, OutboundMessage};
use bot_core::pacer::SendRetries;
use bot_core::render::{LiveReply, render};
use bot_core::{ReplyStream, TurnRef};
use teloxide::prelude::*;
use teloxide::types::{ChatAction, InputFile, MessageId, ParseMode, ReplyParameters};
use teloxide::{ApiError, RequestError};

use crate::format::{Chunk, TELEGRAM_LIMIT, render_chunks};

/// Where a reply goes.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The chat.
    pub chat: ChatId,
    /// The message to reply to (used in groups, so it is clear whom the bot answers).
    pub reply_to: Option<MessageId>,
}

/// The pacer of Telegram chats.
pub type Pacer = bot_core::pacer::Pacer<ChatId>;

struct Sent {
    id: MessageId,
    html: String,
}

/// The messages of one reply and the text they should show.
struct Live<'a> {
    bot: &'a Bot,
    pacer: &'a Pacer,
    target: Target,
    sent: Vec<Sent>,
    text: String,
    typing: Option<tokio::task::JoinHandle<()>>,
}

/// Whether an operation was done, is still needed, or failed for good.
enum Step {
    Done,
    Idle,
}

impl Live<'_> {
    fn chunks(&self) -> Vec<Chunk> {
        let mut chunks = render_chunks(&self.text, TELEGRAM_LIMIT);
        if chunks.is_empty() {
            chunks.push(Chunk {
                html: "…".into(),
                plain: "…".into(),
            });
        }
        chunks
    }

    /// The next message that needs a send or an edit, if any.
    fn next_change(&self) -> Option<(usize, Chunk)> {
        self.chunks()
            .into_iter()
            .enumerate()
            .find(|(i, chunk)| self.sent.get(*i).is_none_or(|s| s.html != chunk.html))
    }

    /// Performs the next needed send or edit. Returns `Idle` when nothing was needed.
    async fn step(&mut self) -> Result<Step, RequestError> {
        let Some((index, chunk)) = self.next_change() else {
            return Ok(Step::Idle);
        };
        let chat = self.target.chat;
        let result = match self.sent.get(index) {
            Some(sent) => {
                self.bot
                    .edit_message_text(chat, sent.id, &chunk.html)
                    .parse_mode(ParseMode::Html)
                    .await
            }
            None => {
                let mut request = self
                    .bot
                    .send_message(chat, &chunk.html)
                    .parse_mode(ParseMode::Html);
                if let (0, Some(reply_to)) = (index, self.target.reply_to) {
                    request = request.reply_parameters(
                        ReplyParameters::new(reply_to).allow_sending_without_reply(),
                    );
                }
                request.await
            }
        };
        let result = match result {
            Err(RequestError::Api(ApiError::CantParseEntities(reason))) => {
                tracing::warn!(reason = %reason, "Telegram refused the formatting; sending plain text");
                match self.sent.get(index) {
                    Some(sent) => {
                        self.bot
                            .edit_message_text(chat, sent.id, &chunk.plain)
                            .await
                    }
                    None => self.bot.send_message(chat, &chunk.plain).await,
                }
            }
            other => other,
        };
        match result {
            Ok(message) => self.record(index, message.id, chunk.html),
            Err(RequestError::Api(ApiError::MessageNotModified)) => {
                let id = self.sent[index].id;
                self.record(index, id, chunk.html);
            }
            Err(e) => return Err(e),
        }
        Ok(Step::Done)
    }

    fn record(&mut self, index: usize, id: MessageId, html: String) {
        match self.sent.get_mut(index) {
            Some(sent) => sent.html = html,
            None => self.sent.push(Sent { id, html }),
        }
    }

    /// An intermediate update: one call at most, only if the chat's slot is free.
    async fn update(&mut self) -> bool {
        if !self.pacer.try_take(self.target.chat) {
            return false;
        }
        match self.step().await {
            Ok(_) => true,
            Err(RequestError::RetryAfter(delay)) => {
                tracing::info!(
                    retry_after_s = delay.seconds(),
                    "Telegram asked to slow down"
                );
                self.pacer.back_off(self.target.chat, delay.duration());
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not update the reply in progress");
                false
            }
        }
    }

    /// Delivers the current text completely, retrying as Telegram asks.
    async fn settle(&mut self) {
        let mut retries = SendRetries::new();
        loop {
            if self.next_change().is_none() {
                break;
            }
            self.pacer.take(self.target.chat).await;
            match self.step().await {
                Ok(_) => retries.succeeded(),
                Err(RequestError::RetryAfter(delay)) => {
                    tracing::info!(
                        retry_after_s = delay.seconds(),
                        "Telegram asked to slow down; waiting"
                    );
                    self.pacer.back_off(self.target.chat, delay.duration());
                }
                Err(e) => {
                    if !retries.failed(&e).await {
                        break;
                    }
                }
            }
        }
        // The text can only have shrunk in an unusual edge case; remove leftovers.
        let wanted = self.chunks().len();
        for extra in self.sent.drain(wanted.min(self.sent.len())..) {
            let _ = self.bot.delete_message(self.target.chat, extra.id).await;
        }
    }

    fn message_ids(&self) -> Vec<String> {
        self.sent.iter().map(|s| s.id.0.to_string()).collect()
    }
}

/// Keeps "typing…" visible until it is aborted (Telegram shows it for 5 s).
fn start_typing(bot: &Bot, chat: ChatId) -> tokio::task::JoinHandle<()> {
    let bot = bot.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = bot.send_chat_action(chat, ChatAction::Typing).await {
                tracing::debug!(error = %e, "typing indicator failed");
            }
            tokio::time::sleep(Duration::from_millis(4500)).await;
        }
    })
}

impl LiveReply for Live<'_> {
    fn ready_at(&self) -> tokio::time::Instant {
        self.pacer.ready_at(self.target.chat)
    }

    fn text(&mut self) -> &mut String {
        &mut self.text
    }

    fn has_sent(&self) -> bool {
        !self.sent.is_empty()
    }

    async fn update(&mut self) -> bool {
        Live::update(self).await
    }

    async fn settle(&mut self) {
        Live::settle(self).await
    }

    fn start_typing(&mut self) {
        self.stop_typing();
        self.typing = Some(start_typing(self.bot, self.target.chat));
    }

    fn stop_typing(&mut self) {
        if let Some(handle) = self.typing.take() {
            handle.abort();
        }
    }

    async fn send_file(
        &mut self,
        name: String,
        bytes: Vec<u8>,
        caption: String,
    ) -> Result<(), String> {
        self.pacer.take(self.target.chat).await;
        let document = InputFile::memory(bytes).file_name(name);
        self.bot
            .send_document(self.target.chat, document)
            .caption(caption)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn ask(
        &mut self,
        id: String,
        prompt: String,
        buttons: [String; 2],
    ) -> Result<(), String> {
        use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
        let [run, cancel] = buttons;
        let keyboard = InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback(run, bot_core::actions::button_data(&id, true)),
            InlineKeyboardButton::callback(cancel, bot_core::actions::button_data(&id, false)),
        ]]);
        let chunk = render_chunks(&prompt, TELEGRAM_LIMIT)
            .into_iter()
            .next()
            .ok_or("an empty confirmation")?;
        self.pacer.take(self.target.chat).await;
        let sent = self
            .bot
            .send_message(self.target.chat, &chunk.html)
            .parse_mode(ParseMode::Html)
            .reply_markup(keyboard.clone())
            .await;
        match sent {
            Err(RequestError::Api(ApiError::CantParseEntities(_))) => self
                .bot
                .send_message(self.target.chat, &chunk.plain)
                .reply_markup(keyboard)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            other => other.map(drop).map_err(|e| e.to_string()),
        }
    }

    fn message_ids(&self) -> Vec<String> {
        Live::message_ids(self)
    }
}

/// Renders `events` into the chat. Returns the stored turn and the ids of the
/// messages that carry it, when the reply was a model answer.
pub async fn deliver(
    bot: &Bot,
    pacer: &Pacer,
    target: Target,
    events: ReplyStream,
) -> Option<(TurnRef, Vec<String>)> {
    let mut live = Live {
        bot,
        pacer,
        target,
        sent: Vec::new(),
        text: String::new(),
        typing: None,
    };
    render(&mut live, events).await
}

/// Sends a message the core starts (no inbound message): the first piece is sent at
/// once so a refusal can be told apart (the person never opened a private chat with the
/// bot), the rest is delivered like a reply, then the files.
pub async fn send_outbound(
    bot: &Bot,
    pacer: &Pacer,
    chat: ChatId,
    to_person: bool,
    message: OutboundMessage,
    mut commit: Option<bot_core::outbound::Commit>,
) -> Result<Vec<String>, OutboundError> {
    let mut live = Live {
        bot,
        pacer,
        target: Target {
            chat,
            reply_to: None,
        },
        sent: Vec::new(),
        text: message.text,
        typing: None,
    };
    loop {
        pacer.take(chat).await;
        // Recorded as sent now that the chat's turn has come, right before the request.
        if let Some(commit) = commit.take() {
            commit.await.map_err(OutboundError::Failed)?;
        }
        match live.step().await {
            Ok(_) => break,
            Err(RequestError::RetryAfter(delay)) => pacer.back_off(chat, delay.duration()),
            Err(e) => return Err(classify_outbound(&e, to_person)),
        }
    }
    live.settle().await;
    for (name, bytes, caption) in message.files {
        if let Err(e) = live.send_file(name, bytes, caption).await {
            return Err(OutboundError::Failed(format!("the file was not sent: {e}")));
        }
    }
    Ok(live.message_ids())
}

/// Telegram's refusals, by their description (Telegram words some of them differently
/// from what teloxide's error kinds expect, so the text is what is reliable).
fn classify_outbound(error: &RequestError, to_person: bool) -> OutboundError {
    let text = error.to_string();
    let lower = text.to_lowercase();
    let refused = [
        "forbidden",
        "initiate conversation",
        "blocked",
        "deactivated",
        "kicked",
    ];
    if refused.iter().any(|word| lower.contains(word)) {
        return OutboundError::NotReachable("this person".into());
    }
    if lower.contains("chat not found") || lower.contains("user not found") {
        // A person who never wrote to the bot has no private chat with it yet.
        return if to_person {
            OutboundError::NotReachable("this person".into())
        } else {
            OutboundError::UnknownRecipient("the chat".into())
        };
    }
    OutboundError::Failed(text)
}
