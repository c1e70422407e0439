//! The outbound port: the core speaks first, without an inbound message.
//!
//! Reminders, scheduled prompts, webhooks, the owner's `hearth send`, and private answers
//! to commands sent from a group all need to reach a person or a chat on their own.
//! Each adapter implements [`Outbound`] with the same rendering, splitting and 429
//! handling as its replies; the service reaches them through [`Outbounds`], where each
//! adapter registers itself once it is connected.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::types::{Platform, UserKey};

/// Where an outbound message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A person, privately: the Telegram private chat with them, a Discord DM.
    User(UserKey),
    /// A chat or channel, as the platform names it.
    Chat {
        /// The platform.
        platform: Platform,
        /// The platform's chat or channel id.
        chat_id: String,
    },
}

impl Recipient {
    /// The platform's id to send to, and whether it is a person (a private chat, a DM)
    /// rather than a chat. On Telegram a person's private chat has the person's id.
    pub fn target(&self) -> (&str, bool) {
        match self {
            Recipient::User(user) => (user.parts().1, true),
            Recipient::Chat { chat_id, .. } => (chat_id, false),
        }
    }

    /// The platform the message goes through.
    pub fn platform(&self) -> Platform {
        match self {
            Recipient::User(user) => user.parts().0,
            Recipient::Chat { platform, .. } => *platform,
        }
    }
}

/// A message the core sends on its own: Markdown text and files that follow it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundMessage {
    /// The text, in Markdown (rendered like a reply).
    pub text: String,
    /// Files sent after the text: (name, bytes, caption).
    pub files: Vec<(String, Vec<u8>, String)>,
}

impl OutboundMessage {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            files: Vec::new(),
        }
    }
}

/// Why an outbound message did not arrive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// The platform will not let the bot write there first (the person never opened a
    /// private chat with the bot, blocked it, or closed their DMs).
    #[error(
        "the platform does not let the bot write to {0} (they have not started a private chat with the bot, or blocked it)"
    )]
    NotReachable(String),
    /// The recipient's id is not one the platform knows.
    #[error("{0} is not a user or chat the platform knows")]
    UnknownRecipient(String),
    /// No adapter for that platform is running.
    #[error("{0} is not connected in this bot")]
    PlatformOff(Platform),
    /// The platform failed; the cause is for the log.
    #[error("sending failed: {0}")]
    Failed(String),
}

/// Sends messages to people and chats of one platform.
#[async_trait::async_trait]
pub trait Outbound: Send + Sync {
    /// Delivers `message` to `to`; returns the platform ids of the messages sent.
    async fn send(
        &self,
        to: &Recipient,
        message: OutboundMessage,
    ) -> Result<Vec<String>, OutboundError>;

    /// Like [`send`](Self::send), and runs `commit` (recording the message as sent) right
    /// before the platform is first asked to deliver it, after any wait for the chat's
    /// turn: a crash in between loses the message rather than sending it twice, and the
    /// adapter keeps that moment as short as it can. When `commit` fails nothing is sent
    /// ([`OutboundError::Failed`]). The default commits, then sends.
    async fn send_committed(
        &self,
        to: &Recipient,
        message: OutboundMessage,
        commit: Commit,
    ) -> Result<Vec<String>, OutboundError> {
        commit.await.map_err(OutboundError::Failed)?;
        self.send(to, message).await
    }
}

/// What [`Outbound::send_committed`] runs just before sending; an error says why it could
/// not be recorded.
pub type Commit = futures::future::BoxFuture<'static, Result<(), String>>;

/// The outbound side of every connected adapter, by platform. Cheap to clone.
#[derive(Clone, Default)]
pub struct Outbounds {
    by_platform: Arc<RwLock<HashMap<Platform, Arc<dyn Outbound>>>>,
}

impl std::fmt::Debug for Outbounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let platforms: Vec<Platform> = self.read().keys().copied().collect();
        f.debug_struct("Outbounds")
            .field("platforms", &platforms)
            .finish()
    }
}

impl Outbounds {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Platform, Arc<dyn Outbound>>> {
        self.by_platform.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The platforms whose adapters are connected.
    pub fn platforms(&self) -> Vec<Platform> {
        self.read().keys().copied().collect()
    }

    /// Registers the adapter of `platform` (an adapter calls this once connected).
    pub fn register(&self, platform: Platform, outbound: Arc<dyn Outbound>) {
        self.by_platform
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(platform, outbound);
    }

    /// The connected adapter of the recipient's platform.
    fn adapter_for(&self, to: &Recipient) -> Result<Arc<dyn Outbound>, OutboundError> {
        let platform = to.platform();
        self.read()
            .get(&platform)
            .cloned()
            .ok_or(OutboundError::PlatformOff(platform))
    }

    /// Sends `message` through the adapter of the recipient's platform.
    pub async fn send(
        &self,
        to: &Recipient,
        message: OutboundMessage,
    ) -> Result<Vec<String>, OutboundError> {
        self.adapter_for(to)?.send(to, message).await
    }

    /// Sends like [`send`](Self::send), with `commit` run just before the platform is
    /// asked ([`Outbound::send_committed`]); nothing is committed when the platform is not
    /// connected.
    pub async fn send_committed(
        &self,
        to: &Recipient,
        message: OutboundMessage,
        commit: Commit,
    ) -> Result<Vec<String>, OutboundError> {
        self.adapter_for(to)?
            .send_committed(to, message, commit)
            .await
    }
}

/// An [`Outbound`] that keeps what it is asked to send, for tests; recipients in
/// `unreachable` refuse like a person who never opened a private chat.
#[derive(Debug, Default)]
pub struct RecordingOutbound {
    sent: std::sync::Mutex<Vec<(Recipient, OutboundMessage)>>,
    count: tokio::sync::watch::Sender<usize>,
    /// Recipients that cannot be written to.
    pub unreachable: Vec<Recipient>,
}

impl RecordingOutbound {
    /// One that cannot write to `unreachable`.
    pub fn refusing(unreachable: Vec<Recipient>) -> Self {
        Self {
            unreachable,
            ..Self::default()
        }
    }

    /// Everything sent so far.
    pub fn sent(&self) -> Vec<(Recipient, OutboundMessage)> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until at least `count` messages were sent; returns everything sent.
    pub async fn wait_for(&self, count: usize) -> Vec<(Recipient, OutboundMessage)> {
        let mut changes = self.count.subscribe();
        let _ = changes.wait_for(|sent| *sent >= count).await;
        self.sent()
    }
}

#[async_trait::async_trait]
impl Outbound for RecordingOutbound {
    async fn send(
        &self,
        to: &Recipient,
        message: OutboundMessage,
    ) -> Result<Vec<String>, OutboundError> {
        if self.unreachable.contains(to) {
            return Err(OutboundError::NotReachable(format!("{to:?}")));
        }
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.push((to.clone(), message));
        let count = sent.len();
        drop(sent);
        self.count.send_replace(count);
        Ok(vec![count.to_string()])
    }
}
