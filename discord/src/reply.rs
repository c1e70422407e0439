//! Streams one core reply into Discord messages.
//!
//! A slash command's answer is edited into the deferred original response; a
//! mention or DM is answered with a channel message that is then edited.
//! Past 2,000 characters the answer continues in follow-ups (or further
//! channel messages), split without breaking code blocks. Every call goes
//! through the channel's [`Pacer`] slot (one per interval) and a 429 pushes the
//! slot back. An interaction token lives 15 minutes: close to that, or when
//! Discord refuses the token, the rest of the answer goes to a normal channel
//! message (for a private answer, to a DM).
//!
//! Model output is sent with mentions disabled, so an answer can never ping
//! `@everyone` or a role.

use std::sync::Arc;
use std::time::Duration;

use bot_core::outbound::{OutboundError, OutboundMessage};
use bot_core::pacer::{Pacer, SendRetries};
use bot_core::render::{LiveReply, render};
use bot_core::{ReplyStream, TurnRef};
use serenity::all::{
    ChannelId, CommandInteraction, CreateAllowedMentions, CreateAttachment,
    CreateInteractionResponseFollowup, CreateMessage, EditInteractionResponse, EditMessage, Http,
    HttpError, Message, MessageId,
};
use tokio::time::Instant;

use crate::split::{DISCORD_LIMIT, split_for_discord};

/// How long an interaction token is used before answers move to the channel.
/// Discord allows 15 minutes; the margin covers a slow last edit.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// Waiting time after a 429 when the answer does not say how long (with a
/// custom API URL serenity's own rate limiter, which reads `retry_after`, is off).
const RATE_LIMIT_PAUSE: Duration = Duration::from_secs(1);

/// Where a reply goes.
pub enum Surface {
    /// The deferred response of a slash command.
    Interaction {
        /// The command.
        interaction: Box<CommandInteraction>,
        /// Visible only to the person who asked.
        ephemeral: bool,
        /// When the token was issued.
        received: Instant,
    },
    /// Messages in a channel, the first replying to `reply_to` when set.
    Channel {
        /// The channel.
        channel: ChannelId,
        /// The message answered (in servers, so it is clear whom the bot answers).
        reply_to: Option<MessageId>,
    },
}

impl Surface {
    fn channel(&self) -> ChannelId {
        match self {
            Surface::Interaction { interaction, .. } => interaction.channel_id,
            Surface::Channel { channel, .. } => *channel,
        }
    }
}

/// What one pacing slot covers. Discord limits an interaction's webhook calls
/// per interaction token and channel messages per channel, so many people
/// asking in one channel do not slow each other's answers down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaceKey {
    /// The responses and follow-ups of one interaction.
    Interaction(u64),
    /// Messages in one channel.
    Channel(ChannelId),
}

/// How one sent message is edited.
#[derive(Clone, Copy, Debug)]
enum Handle {
    Original,
    Followup(MessageId),
    Channel(ChannelId, MessageId),
}

struct Sent {
    handle: Handle,
    id: MessageId,
    content: String,
}

/// The messages of one reply and the text they should show.
struct Live<'a> {
    http: &'a Arc<Http>,
    pacer: &'a Pacer<PaceKey>,
    surface: Surface,
    sent: Vec<Sent>,
    text: String,
    /// The interaction token can no longer be used; new text goes to `fallback`.
    token_expired: bool,
    fallback: Option<ChannelId>,
    rate_limited: u32,
    typing: Option<tokio::task::JoinHandle<()>>,
}

fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// Discord refused because of rate limiting.
fn is_rate_limit(error: &serenity::Error) -> bool {
    matches!(error, serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) if r.status_code.as_u16() == 429)
}

/// Discord refused the interaction token (expired or unknown).
fn is_dead_token(error: &serenity::Error) -> bool {
    matches!(error, serenity::Error::Http(HttpError::UnsuccessfulRequest(r))
        if matches!(r.error.code, 10015 | 10062 | 50027) || r.status_code.as_u16() == 401)
}

impl Live<'_> {
    fn key(&self) -> PaceKey {
        match (&self.surface, self.token_expired) {
            (Surface::Interaction { interaction, .. }, false) => {
                PaceKey::Interaction(interaction.id.get())
            }
            (surface, _) => PaceKey::Channel(self.fallback.unwrap_or(surface.channel())),
        }
    }

    fn chunks(&self) -> Vec<String> {
        let mut chunks = split_for_discord(&self.text, DISCORD_LIMIT);
        if chunks.is_empty() {
            chunks.push("…".into());
        }
        chunks
    }

    fn next_change(&self) -> Option<(usize, String)> {
        self.chunks()
            .into_iter()
            .enumerate()
            .find(|(i, chunk)| self.sent.get(*i).is_none_or(|s| &s.content != chunk))
    }

    fn interaction_usable(&mut self) -> Option<(&CommandInteraction, bool)> {
        if let Surface::Interaction {
            interaction,
            ephemeral,
            received,
        } = &self.surface
        {
            if !self.token_expired && received.elapsed() < TOKEN_LIFETIME {
                return Some((interaction, *ephemeral));
            }
            if !self.token_expired {
                tracing::info!(
                    "the interaction token is about to expire; continuing in the channel"
                );
                self.token_expired = true;
            }
        }
        None
    }

    /// The channel for messages that cannot go through the interaction.
    async fn fallback_channel(&mut self) -> serenity::Result<ChannelId> {
        if let Some(channel) = self.fallback {
            return Ok(channel);
        }
        let channel = match &self.surface {
            Surface::Interaction {
                interaction,
                ephemeral: true,
                ..
            } => interaction.user.id.create_dm_channel(self.http).await?.id,
            surface => surface.channel(),
        };
        self.fallback = Some(channel);
        Ok(channel)
    }

    async fn send(&mut self, index: usize, chunk: &str) -> serenity::Result<(Handle, Message)> {
        let handle = self.sent.get(index).map(|s| s.handle);
        let http = self.http;
        if let Some((interaction, ephemeral)) = self.interaction_usable() {
            let result = match handle {
                Some(Handle::Original) | None if index == 0 => interaction
                    .edit_response(
                        http,
                        EditInteractionResponse::new()
                            .content(chunk)
                            .allowed_mentions(no_pings()),
                    )
                    .await
                    .map(|m| (Handle::Original, m)),
                Some(Handle::Followup(id)) => interaction
                    .edit_followup(
                        http,
                        id,
                        CreateInteractionResponseFollowup::new()
                            .content(chunk)
                            .allowed_mentions(no_pings()),
                    )
                    .await
                    .map(|m| (Handle::Followup(m.id), m)),
                None | Some(Handle::Original) => interaction
                    .create_followup(
                        http,
                        CreateInteractionResponseFollowup::new()
                            .content(chunk)
                            .ephemeral(ephemeral)
                            .allowed_mentions(no_pings()),
                    )
                    .await
                    .map(|m| (Handle::Followup(m.id), m)),
                Some(Handle::Channel(..)) => {
                    unreachable!("channel messages exist only after the token expired")
                }
            };
            match result {
                Err(e) if is_dead_token(&e) => {
                    tracing::warn!(error = %e, "Discord refused the interaction token; continuing in the channel");
                    self.token_expired = true;
                }
                other => return other,
            }
        }
        match handle {
            Some(Handle::Channel(channel, id)) => channel
                .edit_message(
                    http,
                    id,
                    EditMessage::new()
                        .content(chunk)
                        .allowed_mentions(no_pings()),
                )
                .await
                .map(|m| (Handle::Channel(channel, m.id), m)),
            _ => {
                let channel = self.fallback_or_surface().await?;
                let mut message = CreateMessage::new()
                    .content(chunk)
                    .allowed_mentions(no_pings());
                if let (
                    0,
                    Surface::Channel {
                        reply_to: Some(reply_to),
                        ..
                    },
                ) = (index, &self.surface)
                {
                    message = message.reference_message((channel, *reply_to));
                }
                channel
                    .send_message(http, message)
                    .await
                    .map(|m| (Handle::Channel(channel, m.id), m))
            }
        }
    }

    async fn fallback_or_surface(&mut self) -> serenity::Result<ChannelId> {
        match self.surface {
            Surface::Channel { channel, .. } => Ok(channel),
            Surface::Interaction { .. } => self.fallback_channel().await,
        }
    }

    /// Performs the next needed send or edit. Returns false when nothing was needed.
    async fn step(&mut self) -> serenity::Result<bool> {
        let Some((index, chunk)) = self.next_change() else {
            return Ok(false);
        };
        let (handle, message) = self.send(index, &chunk).await?;
        self.rate_limited = 0;
        let sent = Sent {
            handle,
            id: message.id,
            content: chunk,
        };
        match self.sent.get_mut(index) {
            Some(slot) => *slot = sent,
            None => self.sent.push(sent),
        }
        Ok(true)
    }

    fn back_off(&mut self) {
        self.rate_limited += 1;
        let pause = RATE_LIMIT_PAUSE * self.rate_limited.min(8);
        tracing::info!(
            pause_ms = pause.as_millis() as u64,
            "Discord asked to slow down"
        );
        self.pacer.back_off(self.key(), pause);
    }

    /// An intermediate update: one call at most, only if the channel's slot is free.
    async fn update(&mut self) -> bool {
        if !self.pacer.try_take(self.key()) {
            return false;
        }
        match self.step().await {
            Ok(_) => true,
            Err(e) if is_rate_limit(&e) => {
                self.back_off();
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not update the reply in progress");
                false
            }
        }
    }

    /// Delivers the current text completely, retrying as Discord asks.
    async fn settle(&mut self) {
        let mut retries = SendRetries::new();
        while self.next_change().is_some() {
            self.pacer.take(self.key()).await;
            match self.step().await {
                Ok(_) => retries.succeeded(),
                Err(e) if is_rate_limit(&e) => self.back_off(),
                Err(e) => {
                    if !retries.failed(&e).await {
                        break;
                    }
                }
            }
        }
    }

    async fn send_file(
        &mut self,
        name: String,
        bytes: Vec<u8>,
        caption: String,
    ) -> serenity::Result<()> {
        let file = CreateAttachment::bytes(bytes, name);
        self.pacer.take(self.key()).await;
        let http = self.http;
        if let Some((interaction, ephemeral)) = self.interaction_usable() {
            let followup = CreateInteractionResponseFollowup::new()
                .content(caption)
                .add_file(file)
                .ephemeral(ephemeral);
            return interaction.create_followup(http, followup).await.map(drop);
        }
        let channel = self.fallback_or_surface().await?;
        channel
            .send_message(http, CreateMessage::new().content(caption).add_file(file))
            .await
            .map(drop)
    }

    fn message_ids(&self) -> Vec<String> {
        self.sent.iter().map(|s| s.id.to_string()).collect()
    }

    /// Sends `prompt` with approve and cancel buttons, the way the answer goes (a
    /// follow-up of the slash command, else a channel message).
    async fn ask(
        &mut self,
        id: &str,
        prompt: String,
        buttons: [String; 2],
    ) -> serenity::Result<()> {
        use serenity::all::{ButtonStyle, CreateActionRow, CreateButton};
        let [run, cancel] = buttons;
        let row = CreateActionRow::Buttons(vec![
            CreateButton::new(bot_core::actions::button_data(id, true))
                .label(run)
                .style(ButtonStyle::Success),
            CreateButton::new(bot_core::actions::button_data(id, false))
                .label(cancel)
                .style(ButtonStyle::Secondary),
        ]);
        let prompt: String = prompt.chars().take(1900).collect();
        self.pacer.take(self.key()).await;
        let http = self.http;
        if let Some((interaction, ephemeral)) = self.interaction_usable() {
            let followup = CreateInteractionResponseFollowup::new()
                .content(prompt)
                .components(vec![row])
                .ephemeral(ephemeral);
            return interaction.create_followup(http, followup).await.map(drop);
        }
        let channel = self.fallback_or_surface().await?;
        channel
            .send_message(
                http,
                CreateMessage::new().content(prompt).components(vec![row]),
            )
            .await
            .map(drop)
    }
}

/// Keeps "typing…" visible in a channel until aborted (Discord shows it for 10 s).
fn start_typing(http: &Arc<Http>, channel: ChannelId) -> tokio::task::JoinHandle<()> {
    let http = Arc::clone(http);
    tokio::spawn(async move {
        loop {
            if let Err(e) = channel.broadcast_typing(&http).await {
                tracing::debug!(error = %e, "typing indicator failed");
            }
            tokio::time::sleep(Duration::from_secs(8)).await;
        }
    })
}

impl LiveReply for Live<'_> {
    fn ready_at(&self) -> Instant {
        self.pacer.ready_at(self.key())
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
        // A deferred interaction already shows "thinking…".
        if let Surface::Channel { channel, .. } = self.surface {
            self.stop_typing();
            self.typing = Some(start_typing(self.http, channel));
        }
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
        Live::send_file(self, name, bytes, caption)
            .await
            .map_err(|e| e.to_string())
    }

    async fn ask(
        &mut self,
        id: String,
        prompt: String,
        buttons: [String; 2],
    ) -> Result<(), String> {
        Live::ask(self, &id, prompt, buttons)
            .await
            .map_err(|e| e.to_string())
    }

    fn message_ids(&self) -> Vec<String> {
        Live::message_ids(self)
    }
}

/// Renders `events` on `surface`. Returns the stored turn and the ids of the
/// messages that carry it, when the reply was a model answer.
pub async fn deliver(
    http: &Arc<Http>,
    pacer: &Pacer<PaceKey>,
    surface: Surface,
    events: ReplyStream,
) -> Option<(TurnRef, Vec<String>)> {
    let interaction = match &surface {
        Surface::Interaction { interaction, .. } => {
            Some(PaceKey::Interaction(interaction.id.get()))
        }
        Surface::Channel { .. } => None,
    };
    let mut live = Live {
        http,
        pacer,
        surface,
        sent: Vec::new(),
        text: String::new(),
        token_expired: false,
        fallback: None,
        rate_limited: 0,
        typing: None,
    };
    let delivered = render(&mut live, events).await;
    live.stop_typing();
    if let Some(key) = interaction {
        pacer.forget(key);
    }
    delivered
}

/// Sends a message the core starts (no inbound message) to `channel`: the first piece at
/// once so a refusal can be told apart, the rest like a reply, then the files.
pub async fn send_outbound(
    http: &Arc<Http>,
    pacer: &Pacer<PaceKey>,
    channel: ChannelId,
    message: OutboundMessage,
) -> Result<Vec<String>, OutboundError> {
    let mut live = Live {
        http,
        pacer,
        surface: Surface::Channel {
            channel,
            reply_to: None,
        },
        sent: Vec::new(),
        text: message.text,
        token_expired: false,
        fallback: None,
        rate_limited: 0,
        typing: None,
    };
    loop {
        pacer.take(live.key()).await;
        match live.step().await {
            Ok(_) => break,
            Err(e) if is_rate_limit(&e) => live.back_off(),
            Err(e) => return Err(classify_outbound(e)),
        }
    }
    live.settle().await;
    for (name, bytes, caption) in message.files {
        Live::send_file(&mut live, name, bytes, caption)
            .await
            .map_err(|e| OutboundError::Failed(format!("the file was not sent: {e}")))?;
    }
    Ok(live.message_ids())
}

/// Discord's refusals: 403 / 50007 "Cannot send messages to this user" (DMs closed),
/// 404 unknown channel or user.
pub fn classify_outbound(error: serenity::Error) -> OutboundError {
    if let serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) = &error {
        match response.status_code.as_u16() {
            403 => return OutboundError::NotReachable("this person or channel".into()),
            404 => return OutboundError::UnknownRecipient("the user or channel".into()),
            _ => {}
        }
    }
    OutboundError::Failed(error.to_string())
}
