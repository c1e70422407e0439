//! Discord interactions and messages -> core [`InboundMessage`]s.
//!
//! Slash commands are built from the core's command list and handed to the core
//! typed ([`Command`]); `/ask prompt` is a question, never parsed as a command.
//! Discord and Telegram behave the same by construction.

use bot_core::commands::{COMMANDS, Command, CommandSpec};
use bot_core::{Attachment, ChatRef, InboundMessage, Membership, Platform};
use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, Message, MessageFlags, UserId,
};

/// The core's commands Discord registers as slash commands, besides `/ask`: all but
/// `/start` (Discord has no such convention; `/help` says the same).
pub fn registered() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS.iter().filter(|c| c.name != "start")
}

/// A slash command translated for the core.
#[derive(Debug)]
pub struct CommandRequest {
    /// The message for the core (for commands, its text is only for the log).
    pub inbound: InboundMessage,
    /// The typed command; `None` for `/ask`, whose prompt is a question.
    pub command: Option<Command>,
    /// Whether the reply must be visible only to the person who asked.
    pub ephemeral: bool,
}

fn string_option<'a>(options: &'a [CommandDataOption], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| o.value.as_str())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn bool_option(options: &[CommandDataOption], name: &str) -> bool {
    options
        .iter()
        .find(|o| o.name == name)
        .is_some_and(|o| matches!(o.value, CommandDataOptionValue::Boolean(true)))
}

/// Translates a slash command, or `None` for a command Hearth did not register.
pub fn command_to_inbound(interaction: &CommandInteraction) -> Option<CommandRequest> {
    let data = &interaction.data;
    let (text, command, ephemeral) = if data.name == "ask" {
        (
            string_option(&data.options, "prompt")?.to_owned(),
            None,
            bool_option(&data.options, "private"),
        )
    } else {
        let spec = registered().find(|c| c.name == data.name)?;
        let argument = spec
            .argument
            .and_then(|argument| string_option(&data.options, argument.name));
        let command = Command::from_parts(spec.name, argument);
        let shown = format!("/{} {}", spec.name, argument.unwrap_or_default());
        // Every core command concerns only the asker: answered ephemerally.
        (shown.trim_end().to_owned(), Some(command), true)
    };
    let membership = command_membership(interaction);
    let user = &interaction.user;
    Some(CommandRequest {
        inbound: InboundMessage {
            platform: Platform::Discord,
            chat: ChatRef {
                id: interaction.channel_id.to_string(),
                // Nobody else reads an ephemeral reply, so it is as private as a DM.
                is_shared: interaction.guild_id.is_some() && !ephemeral,
            },
            user_id: user.id.to_string(),
            display_name: user
                .global_name
                .clone()
                .unwrap_or_else(|| user.name.clone()),
            message_id: Some(interaction.id.to_string()),
            text,
            attachments: Vec::new(),
            reply_to: None,
            membership,
            locale: Some(interaction.locale.clone()).filter(|l| !l.is_empty()),
        },
        command,
        ephemeral,
    })
}

/// The server and roles a slash command was used from (`None` in DMs).
pub fn command_membership(interaction: &CommandInteraction) -> Option<Membership> {
    let member = interaction.member.as_ref()?;
    Some(Membership {
        group_id: interaction.guild_id?.to_string(),
        role_ids: member.roles.iter().map(ToString::to_string).collect(),
    })
}

/// Translates a channel message, or `None` when the bot should not answer it:
/// messages from bots, and server messages (when mention chat is on) that
/// neither mention the bot nor reply to it. DMs are always translated.
pub fn message_to_inbound(
    message: &Message,
    me: UserId,
    mention_chat: bool,
) -> Option<InboundMessage> {
    if message.author.bot || message.author.id == me {
        return None;
    }
    let shared = message.guild_id.is_some();
    if shared {
        let mentioned = message.mentions.iter().any(|u| u.id == me);
        let replied_to_me = message
            .referenced_message
            .as_ref()
            .is_some_and(|m| m.author.id == me);
        if !mention_chat || !(mentioned || replied_to_me) {
            return None;
        }
    }
    let membership = message.guild_id.map(|guild| Membership {
        group_id: guild.to_string(),
        role_ids: message
            .member
            .as_ref()
            .map(|m| m.roles.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
    });
    let author = &message.author;
    Some(InboundMessage {
        platform: Platform::Discord,
        chat: ChatRef {
            id: message.channel_id.to_string(),
            is_shared: shared,
        },
        user_id: author.id.to_string(),
        display_name: author
            .global_name
            .clone()
            .unwrap_or_else(|| author.name.clone()),
        message_id: Some(message.id.to_string()),
        text: strip_mention(&message.content, me),
        attachments: message
            .attachments
            .iter()
            .map(|a| Attachment {
                id: a.url.clone(),
                mime_type: a.content_type.clone(),
                size: Some(u64::from(a.size)),
                duration_secs: a.duration_secs,
            })
            .collect(),
        reply_to: message
            .message_reference
            .as_ref()
            .and_then(|r| r.message_id)
            .map(|id| id.to_string()),
        membership,
        // Messages carry no locale on Discord; interactions do.
        locale: None,
    })
}

/// Removes `<@ID>` and `<@!ID>` mentions of the bot and tidies the spaces.
pub fn strip_mention(content: &str, me: UserId) -> String {
    let plain = format!("<@{me}>");
    let nick = format!("<@!{me}>");
    content
        .replace(&nick, " ")
        .replace(&plain, " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first voice message or audio file of `message`: the core's description
/// and serenity's attachment (to download it).
pub fn voice_attachment(message: &Message) -> Option<(Attachment, serenity::all::Attachment)> {
    let (attachment, file) = audio_files(message).next()?;
    Some((attachment, file.clone()))
}

/// The pictures and documents of `message` (every attachment that is not audio), each
/// with the core's description and serenity's attachment (to download it).
pub fn files(
    message: &Message,
) -> Vec<(
    bot_core::files::FileKind,
    Option<String>,
    Attachment,
    serenity::all::Attachment,
)> {
    let voice = message
        .flags
        .is_some_and(|f| f.contains(MessageFlags::IS_VOICE_MESSAGE));
    if voice {
        return Vec::new();
    }
    message
        .attachments
        .iter()
        .filter(|a| {
            !a.content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("audio/"))
        })
        .map(|a| {
            let picture = a
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("image/"))
                || a.width.is_some();
            let kind = if picture {
                bot_core::files::FileKind::Photo
            } else {
                bot_core::files::FileKind::Document
            };
            let attachment = Attachment {
                id: a.url.clone(),
                mime_type: a.content_type.clone(),
                size: Some(u64::from(a.size)),
                duration_secs: None,
            };
            (kind, Some(a.filename.clone()), attachment, a.clone())
        })
        .collect()
}

/// Voice messages and audio files, each with the core's description; other
/// attachments are not for the bot.
fn audio_files(
    message: &Message,
) -> impl Iterator<Item = (Attachment, &serenity::all::Attachment)> {
    let voice = message
        .flags
        .is_some_and(|f| f.contains(MessageFlags::IS_VOICE_MESSAGE));
    message
        .attachments
        .iter()
        .filter(move |a| {
            voice
                || a.content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("audio/"))
        })
        .map(move |a| {
            let attachment = Attachment {
                id: a.url.clone(),
                mime_type: a
                    .content_type
                    .clone()
                    .or_else(|| voice.then(|| "audio/ogg".into())),
                size: Some(u64::from(a.size)),
                duration_secs: a.duration_secs,
            };
            (attachment, a)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ME: u64 = 900_000_000_000_000_001;

    fn message(extra: serde_json::Value) -> Message {
        let mut base = json!({
            "id": "10", "channel_id": "20", "author": {"id": "1001", "username": "alice"},
            "content": "hello", "timestamp": "2026-11-27T10:00:00Z", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "type": 0
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn direct_messages_are_answered_and_private() {
        let inbound = message_to_inbound(&message(json!({})), UserId::new(ME), false).unwrap();
        assert!(!inbound.chat.is_shared);
        assert_eq!(inbound.text, "hello");
        assert_eq!(inbound.scope().as_str(), "discord:20:1001");
        assert!(inbound.membership.is_none());
    }

    #[test]
    fn server_messages_need_mention_chat_and_a_mention_or_reply() {
        let me = UserId::new(ME);
        let plain = message(json!({"guild_id": "30"}));
        assert!(message_to_inbound(&plain, me, true).is_none());
        let mention = message(json!({
            "guild_id": "30", "content": format!("<@{ME}> what time is it?"),
            "mentions": [{"id": ME.to_string(), "username": "hearth", "bot": true}],
            "member": {"roles": ["77"], "deaf": false, "mute": false, "flags": 0}
        }));
        assert!(
            message_to_inbound(&mention, me, false).is_none(),
            "mention chat off"
        );
        let inbound = message_to_inbound(&mention, me, true).unwrap();
        assert_eq!(inbound.text, "what time is it?");
        assert!(inbound.chat.is_shared);
        assert_eq!(
            inbound.membership,
            Some(Membership {
                group_id: "30".into(),
                role_ids: vec!["77".into()]
            })
        );
        let bot = message(json!({"author": {"id": "5", "username": "other", "bot": true}}));
        assert!(message_to_inbound(&bot, me, true).is_none());
    }

    #[test]
    fn voice_messages_carry_their_audio() {
        let voice = message(json!({
            "flags": 1 << 13, "content": "",
            "attachments": [{"id": "1", "filename": "voice-message.ogg", "size": 5000,
                "url": "http://127.0.0.1:1/a.ogg", "proxy_url": "http://127.0.0.1:1/a.ogg",
                "content_type": "audio/ogg", "duration_secs": 3.5}]
        }));
        let inbound = message_to_inbound(&voice, UserId::new(ME), false).unwrap();
        assert_eq!(inbound.attachments.len(), 1);
        assert_eq!(inbound.attachments[0].duration_secs, Some(3.5));
        assert_eq!(inbound.attachments[0].id, "http://127.0.0.1:1/a.ogg");
    }
}

#[cfg(test)]
mod proptests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_text_loses_only_the_bot_mention(before in "\\PC{0,60}", after in "\\PC{0,60}", id in 1u64..u64::MAX) {
            let me = UserId::new(id);
            let text = format!("{before}<@{id}>{after}");
            let cleaned = strip_mention(&text, me);
            let mention = format!("<@{id}>");
            proptest::prop_assert!(!cleaned.contains(&mention));
            let plain = strip_mention(&format!("{before} {after}"), me);
            proptest::prop_assert_eq!(cleaned, plain);
        }
    }
}
