//! `/remember`, `/memory`, `/forget`, `/export`.

use serde_json::json;

use super::{Inner, Reply};
use crate::memory::{Memory, MemoryError, MemorySource};
use crate::outbound::{OutboundError, OutboundMessage, Recipient};
use crate::store::StoreError;
use crate::types::{InboundMessage, Platform, ReplyEvent, UserKey};

/// Memories per page of `/memory`.
const PAGE: usize = 10;

/// Escapes Markdown so a user's text shows as written.
pub(crate) fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_[]()#+-.!|<>~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn line(memory: &Memory) -> String {
    format!(
        "- `{}` · {} · {}: {}\n",
        memory.id,
        memory.created.format("%Y-%m-%d"),
        memory.source.label(),
        escape_markdown(&memory.text)
    )
}

/// A memory error where only storage can fail (reads, deletes, searches).
fn store_error(error: MemoryError) -> StoreError {
    match error {
        MemoryError::Store(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// Turns memory errors into a reply; storage errors go up.
fn explain(error: MemoryError, limit: usize) -> Result<String, StoreError> {
    match error {
        MemoryError::Empty => Ok(
            "Tell me what to remember, for example: /remember my sister Ana lives in Lisbon."
                .into(),
        ),
        MemoryError::TooLong { chars, .. } => Ok(format!(
            "That is too long to remember ({chars} characters; the limit is {limit}). Please shorten it."
        )),
        MemoryError::Store(e) => Err(e),
    }
}

impl Inner {
    pub(super) async fn remember_command(
        &self,
        arg: Option<String>,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let limit = self.deps.memories.config().max_chars;
        let text = arg.unwrap_or_default();
        match self
            .deps
            .memories
            .remember(&message.user_key(), &text, MemorySource::Explicit)
            .await
        {
            Ok(memory) => {
                tracing::info!(user = %message.user_key(), id = %memory.id, "remembered");
                reply
                    .finish(format!(
                        "Got it, I will remember that (id `{}`).",
                        memory.id
                    ))
                    .await;
            }
            Err(e) => reply.finish(explain(e, limit)?).await,
        }
        Ok(())
    }

    pub(super) async fn memory_command(
        &self,
        arg: Option<String>,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let user = message.user_key();
        let arg = arg.unwrap_or_default();
        let lower = arg.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let mut settings = self.deps.settings.settings(&user).await?;
        // Lists and searches show what is remembered: never in a chat others can read.
        let private = !matches!(
            words.as_slice(),
            ["off"] | ["on"] | ["shared", "on" | "off"]
        );
        let text = match words.as_slice() {
            [] => self.memory_page(message, 1).await?,
            ["page", n] => match n.parse::<usize>() {
                Ok(n) if n >= 1 => self.memory_page(message, n).await?,
                _ => "Page numbers are whole numbers from 1, e.g. /memory page 2.".into(),
            },
            ["off"] | ["on"] => {
                settings.memory_capture_off = words[0] == "off";
                self.deps.settings.set_settings(&user, &settings).await?;
                self.flush().await?;
                if settings.memory_capture_off {
                    "I will no longer pick up facts from our chats by myself. /remember still works; /memory on turns it back on.".into()
                } else {
                    "I will pick up lasting facts from our chats again. /memory off stops that."
                        .into()
                }
            }
            ["shared", choice @ ("on" | "off")] => {
                settings.memory_in_shared = *choice == "on";
                self.deps.settings.set_settings(&user, &settings).await?;
                self.flush().await?;
                if settings.memory_in_shared {
                    "In group chats and channels I will now use your memories when I answer you. Others there can read my answers.".into()
                } else {
                    "In group chats and channels I will not use your memories.".into()
                }
            }
            _ => {
                let hits = self
                    .deps
                    .memories
                    .search(&user, &arg, PAGE)
                    .await
                    .map_err(store_error)?;
                if hits.is_empty() {
                    format!("I remember nothing about “{}”.", escape_markdown(&arg))
                } else {
                    let mut text = format!("What I remember about “{}”:\n", escape_markdown(&arg));
                    hits.iter()
                        .for_each(|hit| text.push_str(&line(&hit.memory)));
                    text
                }
            }
        };
        if private {
            self.answer_privately(message, reply, OutboundMessage::text(text))
                .await;
        } else {
            reply.finish(text).await;
        }
        Ok(())
    }

    async fn memory_page(
        &self,
        message: &InboundMessage,
        page: usize,
    ) -> Result<String, StoreError> {
        let all = self
            .deps
            .memories
            .list(&message.user_key())
            .await
            .map_err(store_error)?;
        if all.is_empty() {
            return Ok(
                "I don't remember anything about you yet. Tell me with /remember TEXT.".into(),
            );
        }
        let pages = all.len().div_ceil(PAGE);
        if page > pages {
            return Ok(format!("There are only {pages} page(s) of memories."));
        }
        // Newest first.
        let mut text = format!(
            "What I remember about you (page {page} of {pages}, {} in all):\n",
            all.len()
        );
        all.iter()
            .rev()
            .skip((page - 1) * PAGE)
            .take(PAGE)
            .for_each(|m| text.push_str(&line(m)));
        if page < pages {
            text.push_str(&format!("\nMore: /memory page {}.", page + 1));
        }
        text.push_str("\nForget one with /forget ID.");
        Ok(text)
    }

    pub(super) async fn forget_command(
        &self,
        arg: Option<String>,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let user = message.user_key();
        let memories = &self.deps.memories;
        let arg = arg.unwrap_or_default().to_lowercase();
        let words: Vec<&str> = arg.split_whitespace().collect();
        let text = match words.as_slice() {
            [] => "Which memory? Send /forget ID (the ids are in /memory), or /forget all.".to_owned(),
            ["all"] => match memories.list(&user).await.map_err(store_error)?.len() {
                0 => "I don't remember anything about you.".to_owned(),
                n => format!("This deletes all {n} memories I keep about you. To go ahead, send /forget all confirm."),
            },
            ["all", "confirm"] => {
                let n = memories.forget_all(&user).await.map_err(store_error)?;
                tracing::info!(user = %user, removed = n, "forgot all memories");
                format!("Done: I forgot all {n} memories about you.")
            }
            [id] if id.starts_with('m') && id.len() > 1 && id.chars().all(|c| c.is_ascii_alphanumeric()) => {
                match memories.get(&user, id).await.map_err(store_error)? {
                    Some(memory) if memories.forget(&user, id).await.map_err(store_error)? => {
                        if message.chat.is_shared {
                            // Others read this chat: confirm without quoting the memory.
                            format!("Forgotten: memory `{id}`.")
                        } else {
                            format!("Forgotten: “{}”.", escape_markdown(&memory.text))
                        }
                    }
                    _ => format!("I have no memory `{id}`. /memory lists them with their ids."),
                }
            }
            _ => "That is not a memory id. Ids look like m3; /memory lists them. To forget everything, send /forget all."
                .to_owned(),
        };
        reply.finish(text).await;
        Ok(())
    }

    /// Everything stored about `user`: memories, conversations and settings, as JSON.
    pub(super) async fn export_json(
        &self,
        user: &UserKey,
    ) -> Result<(serde_json::Value, usize, usize), StoreError> {
        let (platform, user_id) = user.parts();
        let memories = self.deps.memories.list(user).await.map_err(store_error)?;
        let settings = self.deps.settings.settings(user).await?;
        let turns = self.deps.history.user_turns(platform, user_id).await?;
        let reminders = self.deps.reminders.list(user).await?;
        let mut conversations: Vec<serde_json::Value> = Vec::new();
        for (scope, stored) in &turns {
            let turn = serde_json::to_value(&stored.turn).unwrap_or_default();
            match conversations.last_mut() {
                Some(last) if last["scope"] == scope.as_str() => {
                    if let Some(list) = last["turns"].as_array_mut() {
                        list.push(turn);
                    }
                }
                _ => conversations.push(json!({"scope": scope.as_str(), "turns": [turn]})),
            }
        }
        let export = json!({
            "format": "hearth-export/1",
            "exported_at": self.deps.clock.now(),
            "user": user,
            "settings": settings,
            "memories": memories,
            "reminders": reminders,
            "conversations": conversations,
        });
        Ok((export, memories.len(), turns.len()))
    }

    pub(super) async fn export_command(
        &self,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let user = message.user_key();
        let (export, memories, messages) = self.export_json(&user).await?;
        let bytes = serde_json::to_vec_pretty(&export)
            .map_err(|e| StoreError::Corrupt(format!("the export could not be written: {e}")))?;
        let name = format!("hearth-export-{}.json", user.as_str().replace(':', "-"));
        let text = format!(
            "Everything I keep about you is in the file: {memories} memories, {messages} messages, your reminders and your settings."
        );
        let export = OutboundMessage {
            text,
            files: vec![(name, bytes, "Everything Hearth keeps about you".to_owned())],
        };
        self.answer_privately(message, reply, export).await;
        Ok(())
    }

    /// Answers something only its asker may read. In a private chat (or an ephemeral
    /// Discord reply) that is the reply itself; from a shared chat it goes to the person
    /// privately, and the shared chat only hears where it went.
    pub(super) async fn answer_privately(
        &self,
        message: &InboundMessage,
        reply: &Reply,
        answer: OutboundMessage,
    ) {
        if !message.chat.is_shared {
            for (name, bytes, caption) in answer.files {
                reply
                    .send(ReplyEvent::File {
                        name,
                        bytes,
                        caption,
                    })
                    .await;
            }
            reply.finish(answer.text).await;
            return;
        }
        let to = Recipient::User(message.user_key());
        let said = match self.deps.outbounds.send(&to, answer).await {
            Ok(_) => "🔒 That is private, so I sent it to you in a private message.".to_owned(),
            Err(e @ (OutboundError::NotReachable(_) | OutboundError::UnknownRecipient(_))) => {
                tracing::info!(error = %e, user = %message.user_key(), "could not answer privately");
                private_chat_hint(message.platform)
            }
            Err(e) => {
                tracing::warn!(error = %e, user = %message.user_key(), "could not answer privately");
                "🔒 That is private, so I won't show it here, and I could not send it to you \
                 privately just now. Please ask me in a private chat."
                    .to_owned()
            }
        };
        reply.finish(said).await;
    }
}

/// What to do when the bot may not write to someone first.
fn private_chat_hint(platform: Platform) -> String {
    match platform {
        Platform::Discord => "🔒 That is private, so I won't show it here, and Discord does not let \
             me send you a direct message. Allow direct messages from this server's members, or use \
             the slash command: only you see its answer."
            .into(),
        _ => "🔒 That is private, so I won't show it here. Open a private chat with me (tap my \
              name, then Start) and ask there."
            .into(),
    }
}
