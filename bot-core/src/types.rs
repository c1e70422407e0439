//! Platform-neutral message types shared by every adapter.

use std::fmt;

use tokio::sync::mpsc;

/// The chat platform a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Telegram, through the Bot API.
    Telegram,
    /// Discord, through the gateway and REST API.
    Discord,
    /// The terminal (`hearth chat`).
    Terminal,
}

impl Platform {
    /// Short lowercase name used in storage keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
            Platform::Terminal => "terminal",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message was written: the chat (or channel) and whether others can read it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChatRef {
    /// Platform-specific chat or channel id, as text.
    pub id: String,
    /// True for group chats and server channels, false for private chats and DMs.
    pub is_shared: bool,
}

/// Identifies one person on one platform. Settings (and later memories) hang off it.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UserKey(String);

impl UserKey {
    /// The key of `user_id` on `platform`.
    pub fn new(platform: Platform, user_id: &str) -> Self {
        UserKey(format!("{}:{user_id}", platform.as_str()))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The platform and the platform's user id.
    pub fn parts(&self) -> (Platform, &str) {
        let (platform, id) = self.0.split_once(':').unwrap_or(("terminal", &self.0));
        let platform = match platform {
            "telegram" => Platform::Telegram,
            "discord" => Platform::Discord,
            _ => Platform::Terminal,
        };
        (platform, id)
    }

    /// Parses `platform:id` as typed by the owner on the command line.
    pub fn parse(raw: &str) -> Option<Self> {
        let (platform, id) = raw.split_once(':')?;
        let platform = match platform {
            "telegram" => Platform::Telegram,
            "discord" => Platform::Discord,
            "terminal" => Platform::Terminal,
            _ => return None,
        };
        (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| UserKey::new(platform, id))
    }
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies one conversation thread: one person in one chat.
///
/// In a private chat that is simply the chat. In a group each person has a
/// conversation of their own, so the bot never mixes up who said what and one
/// person's history never reaches another person's prompt.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeKey(String);

impl ScopeKey {
    /// The scope of `user_id` in `chat_id` on `platform`.
    pub fn new(platform: Platform, chat_id: &str, user_id: &str) -> Self {
        ScopeKey(format!("{}:{chat_id}:{user_id}", platform.as_str()))
    }

    /// A key read back from storage (for store backends; the text is what
    /// [`as_str`](Self::as_str) gave when it was written).
    pub fn from_stored(raw: String) -> Self {
        ScopeKey(raw)
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScopeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file that came with a message (voice notes, documents). Downloaded lazily by the adapter.
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    /// Platform file id or URL.
    pub id: String,
    /// MIME type when the platform reports one.
    pub mime_type: Option<String>,
    /// Size in bytes when known.
    pub size: Option<u64>,
    /// Duration in seconds for audio and video.
    pub duration_secs: Option<f64>,
}

/// A message from a person, translated from the platform's own shape.
#[derive(Clone, Debug)]
pub struct InboundMessage {
    /// Where it came from.
    pub platform: Platform,
    /// The chat it was written in.
    pub chat: ChatRef,
    /// The author's platform user id.
    pub user_id: String,
    /// The author's display name.
    pub display_name: String,
    /// The platform's id of this message.
    pub message_id: Option<String>,
    /// The text, with any bot mention already removed by the adapter.
    pub text: String,
    /// Attached files.
    pub attachments: Vec<Attachment>,
    /// The platform id of the message this one replies to.
    pub reply_to: Option<String>,
    /// The author's server and roles, where the platform has them (Discord guilds).
    pub membership: Option<Membership>,
    /// The language the author's app is set to, as the platform reports it (Telegram
    /// `language_code`, Discord interaction `locale`): `ko`, `en-US`, ...
    pub locale: Option<String>,
}

/// Where a person writes from inside a community (a Discord server) and the roles they hold
/// there; the access policy can admit whole servers or roles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// The server (guild) id.
    pub group_id: String,
    /// The ids of the author's roles in that server.
    pub role_ids: Vec<String>,
}

impl InboundMessage {
    /// The author's settings key.
    pub fn user_key(&self) -> UserKey {
        UserKey::new(self.platform, &self.user_id)
    }

    /// The conversation this message belongs to.
    pub fn scope(&self) -> ScopeKey {
        ScopeKey::new(self.platform, &self.chat.id, &self.user_id)
    }
}

/// Points at one stored turn, so an adapter can attach the ids of the messages it sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnRef {
    /// The conversation.
    pub scope: ScopeKey,
    /// The turn's sequence number inside the conversation store.
    pub seq: u64,
}

/// What the core tells an adapter while it answers one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyEvent {
    /// The model was asked; show a typing indicator.
    Started,
    /// All model slots are busy; the request waits at this place in the queue (1 = next).
    Queued {
        /// Place in the queue, 1-based.
        position: usize,
        /// What to show, in the person's language.
        notice: String,
    },
    /// A short progress note, e.g. that the model is still loading.
    Status(String),
    /// What was heard in a voice note; the answer to it follows.
    Transcript(String),
    /// More answer text (reasoning already removed), in Markdown.
    Delta(String),
    /// The reply is complete. `text` is the whole visible answer in Markdown.
    Finished {
        /// The whole answer.
        text: String,
        /// The stored assistant turn, when the reply was a model answer.
        turn: Option<TurnRef>,
    },
    /// A file for the user (e.g. `/export`), sent after the text.
    File {
        /// File name, e.g. `hearth-export.json`.
        name: String,
        /// Contents.
        bytes: Vec<u8>,
        /// A short caption.
        caption: String,
    },
    /// Ask the person to approve an action before it runs: show `prompt` with two
    /// buttons, approve and cancel, that call [`ChatService::decide`](crate::ChatService::decide)
    /// with `id`. The reply goes on after the tap (or without the action when none comes).
    Confirm {
        /// Identifies the request in the buttons' data (short, ASCII).
        id: String,
        /// What will be sent where, in Markdown.
        prompt: String,
        /// The two buttons' labels, approve then cancel, in the person's language.
        buttons: [String; 2],
    },
    /// The reply failed; `message` is a short sentence for the user (the cause is logged).
    Failed {
        /// What to show the user.
        message: String,
    },
}

/// The receiving end of one reply. Ends after `Finished` or `Failed`.
pub type ReplyStream = mpsc::Receiver<ReplyEvent>;
