//! `/remember`, `/memory`, `/forget`, `/export`.

use serde_json::json;

use super::{Erased, Inner, Reply};
use crate::lang::{Lang, t, tr};
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

/// One memory in a listing; its date is the day it was said in the person's zone.
fn line(memory: &Memory, lang: Lang, zone: chrono_tz::Tz) -> String {
    let source = t(
        lang,
        match memory.source {
            crate::memory::MemorySource::Explicit => "memory-source-explicit",
            crate::memory::MemorySource::Extracted { .. } => "memory-source-extracted",
            crate::memory::MemorySource::Imported => "memory-source-imported",
        },
    );
    format!(
        "- `{}` · {} · {source}: {}\n",
        memory.id,
        memory.created.with_timezone(&zone).format("%Y-%m-%d"),
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
fn explain(error: MemoryError, limit: usize, lang: Lang) -> Result<String, StoreError> {
    match error {
        MemoryError::Empty => Ok(t(lang, "remember-how")),
        MemoryError::TooLong { chars, .. } => Ok(tr(
            lang,
            "remember-too-long",
            &[("chars", &chars.to_string()), ("limit", &limit.to_string())],
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
        let lang = self.person_lang(message).await;
        let text = arg.unwrap_or_default();
        match self
            .deps
            .memories
            .remember_once(&message.user_key(), &text, MemorySource::Explicit)
            .await
        {
            Ok(memory) => {
                tracing::info!(user = %message.user_key(), id = %memory.id, "remembered");
                reply
                    .finish(tr(lang, "remembered", &[("id", &memory.id)]))
                    .await;
            }
            Err(e) => reply.finish(explain(e, limit, lang)?).await,
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
        let lang = self.lang_of(message, settings.language.as_deref());
        // Lists and searches show what is remembered: never in a chat others can read.
        let private = !matches!(
            words.as_slice(),
            ["off"] | ["on"] | ["shared", "on" | "off"]
        );
        let text = match words.as_slice() {
            [] => self.memory_page(message, 1, lang).await?,
            ["page", n] => match n.parse::<usize>() {
                Ok(n) if n >= 1 => self.memory_page(message, n, lang).await?,
                _ => t(lang, "memory-page-number"),
            },
            ["off"] | ["on"] => {
                settings.memory_capture_off = words[0] == "off";
                self.deps.settings.set_settings(&user, &settings).await?;
                self.flush().await?;
                if settings.memory_capture_off {
                    t(lang, "memory-capture-off")
                } else {
                    t(lang, "memory-capture-on")
                }
            }
            ["shared", choice @ ("on" | "off")] => {
                settings.memory_in_shared = *choice == "on";
                self.deps.settings.set_settings(&user, &settings).await?;
                self.flush().await?;
                if settings.memory_in_shared {
                    t(lang, "memory-shared-on")
                } else {
                    t(lang, "memory-shared-off")
                }
            }
            _ => {
                let zone = self.zone_for(&user).await?;
                let hits = self
                    .deps
                    .memories
                    .search(&user, &arg, PAGE)
                    .await
                    .map_err(store_error)?;
                let query = escape_markdown(&arg);
                if hits.is_empty() {
                    tr(lang, "memory-none-about", &[("query", &query)])
                } else {
                    let mut text = tr(lang, "memory-about", &[("query", &query)]);
                    text.push('\n');
                    hits.iter()
                        .for_each(|hit| text.push_str(&line(&hit.memory, lang, zone)));
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
        lang: Lang,
    ) -> Result<String, StoreError> {
        let zone = self.zone_for(&message.user_key()).await?;
        let all = self
            .deps
            .memories
            .list(&message.user_key())
            .await
            .map_err(store_error)?;
        if all.is_empty() {
            return Ok(t(lang, "memory-empty"));
        }
        let pages = all.len().div_ceil(PAGE);
        if page > pages {
            return Ok(tr(lang, "memory-no-page", &[("pages", &pages.to_string())]));
        }
        // Newest first.
        let mut text = tr(
            lang,
            "memory-page",
            &[
                ("page", &page.to_string()),
                ("pages", &pages.to_string()),
                ("count", &all.len().to_string()),
            ],
        );
        text.push('\n');
        all.iter()
            .rev()
            .skip((page - 1) * PAGE)
            .take(PAGE)
            .for_each(|m| text.push_str(&line(m, lang, zone)));
        if page < pages {
            text.push('\n');
            text.push_str(&tr(
                lang,
                "memory-more",
                &[("next", &(page + 1).to_string())],
            ));
        }
        text.push('\n');
        text.push_str(&t(lang, "memory-forget-hint"));
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
        let lang = self.person_lang(message).await;
        let arg = arg.unwrap_or_default().to_lowercase();
        let words: Vec<&str> = arg.split_whitespace().collect();
        let text = match words.as_slice() {
            [] => t(lang, "forget-which"),
            ["all"] => {
                let n = memories.list(&user).await.map_err(store_error)?.len();
                let filed = self.deps.documents.documents(&user).await?.len();
                match (n, filed) {
                    (0, 0) => t(lang, "forget-nothing"),
                    (n, 0) => tr(lang, "forget-all-ask", &[("count", &n.to_string())]),
                    (n, filed) => tr(
                        lang,
                        "forget-all-ask-documents",
                        &[("count", &n.to_string()), ("documents", &filed.to_string())],
                    ),
                }
            }
            ["everything"] => {
                let counts = self.erase_counts(&user).await?;
                if counts.is_empty() {
                    t(lang, "forget-nothing-at-all")
                } else {
                    erased_text(
                        lang,
                        "forget-everything-ask",
                        &counts,
                        message.chat.is_shared,
                    )
                }
            }
            ["everything", "confirm"] => {
                let counts = self.erase_person(&user).await?;
                erased_text(
                    lang,
                    "forget-everything-done",
                    &counts,
                    message.chat.is_shared,
                )
            }
            ["all", "confirm"] => {
                let n = memories.forget_all(&user).await.map_err(store_error)?;
                // Filed documents and the documents of their conversations go too.
                let filed = self.deps.documents.remove_all_documents(&user).await?;
                self.deps.documents.flush().await?;
                self.document_retriever.invalidate(&user);
                self.documents.clear_user(&user);
                tracing::info!(user = %user, removed = n, documents = filed, "forgot all memories");
                let mut text = tr(lang, "forget-all-done", &[("count", &n.to_string())]);
                if filed > 0 {
                    text.push(' ');
                    text.push_str(&tr(
                        lang,
                        "forget-documents-done",
                        &[("documents", &filed.to_string())],
                    ));
                }
                text
            }
            [id] if id.starts_with('m')
                && id.len() > 1
                && id.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                match memories.get(&user, id).await.map_err(store_error)? {
                    Some(memory) if memories.forget(&user, id).await.map_err(store_error)? => {
                        if message.chat.is_shared {
                            // Others read this chat: confirm without quoting the memory.
                            tr(lang, "forgotten-id", &[("id", id)])
                        } else {
                            tr(
                                lang,
                                "forgotten-text",
                                &[("text", &escape_markdown(&memory.text))],
                            )
                        }
                    }
                    _ => tr(lang, "forget-no-such", &[("id", id)]),
                }
            }
            _ => t(lang, "forget-not-an-id"),
        };
        reply.finish(text).await;
        Ok(())
    }

    /// How much is stored about `user`, by kind.
    pub(super) async fn erase_counts(&self, user: &UserKey) -> Result<Erased, StoreError> {
        let (platform, user_id) = user.parts();
        let settings = self.deps.settings.settings(user).await?;
        Ok(Erased {
            memories: self
                .deps
                .memories
                .list(user)
                .await
                .map_err(store_error)?
                .len(),
            messages: self.deps.history.user_turns(platform, user_id).await?.len(),
            reminders: self.deps.reminders.list(user).await?.len(),
            documents: self.deps.documents.documents(user).await?.len(),
            settings: settings != crate::store::UserSettings::default(),
        })
    }

    /// Deletes everything stored about `user`; see [`ChatService::erase_person`].
    pub(super) async fn erase_person(&self, user: &UserKey) -> Result<Erased, StoreError> {
        let counts = self.erase_counts(user).await?;
        let (platform, user_id) = user.parts();
        // The stores that can destroy the person's key do so before anything is removed.
        for eraser in &self.deps.erasers {
            eraser.erase_person(user).await?;
        }
        self.deps
            .memories
            .forget_all(user)
            .await
            .map_err(store_error)?;
        self.deps.documents.remove_all_documents(user).await?;
        self.deps.reminders.remove_all(user).await?;
        self.deps.history.erase_user(platform, user_id).await?;
        self.deps.settings.remove_settings(user).await?;
        self.deps.inbox.erase_user(user).await?;
        self.deps.documents.flush().await?;
        self.deps.reminders.flush().await?;
        self.deps.history.flush().await?;
        self.deps.settings.flush().await?;
        // What the service keeps in memory.
        self.document_retriever.invalidate(user);
        self.documents.clear_user(user);
        self.decline_all(user);
        tracing::info!(
            user = %user,
            memories = counts.memories,
            messages = counts.messages,
            reminders = counts.reminders,
            documents = counts.documents,
            "erased everything about a person"
        );
        Ok(counts)
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
        // Messages taken and not answered yet, as the platform sent them.
        let unanswered: Vec<serde_json::Value> = self
            .deps
            .inbox
            .unanswered(platform)
            .await?
            .into_iter()
            .filter(|m| &m.user == user)
            .map(|m| {
                let message = serde_json::from_slice::<serde_json::Value>(&m.message)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&m.message).into());
                json!({"id": m.id, "message": message})
            })
            .collect();
        // Memories with their vectors (the store keeps both).
        let memory_json: Vec<serde_json::Value> = memories
            .iter()
            .map(|m| {
                let mut value = serde_json::to_value(m).unwrap_or_default();
                if let (Some(object), Some(vector)) = (value.as_object_mut(), &m.embedding) {
                    object.insert("embedding".into(), json!(vector));
                }
                value
            })
            .collect();
        // Filed documents, whole: their text by passage and page, and their vectors.
        let documents: Vec<serde_json::Value> = self
            .deps
            .documents
            .documents(user)
            .await?
            .into_iter()
            .map(|d| {
                json!({
                    "name": d.name,
                    "saved_at": d.saved_at,
                    "passages": d.passages,
                    "embedding_model": d.embedding_model,
                    "vectors": d.vectors,
                })
            })
            .collect();
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
        // Instants stay UTC (RFC 3339) so programs read them alike; `time_zone` is the
        // person's zone, in which the bot shows them.
        let zone = self.zone_for(user).await?;
        let export = json!({
            "format": "hearth-export/1",
            "exported_at": self.deps.clock.now(),
            "time_zone": zone.name(),
            "user": user,
            "settings": settings,
            "memories": memory_json,
            "reminders": reminders,
            "documents": documents,
            "conversations": conversations,
            "unanswered": unanswered,
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
        let lang = self.person_lang(message).await;
        let text = tr(
            lang,
            "export-done",
            &[
                ("memories", &memories.to_string()),
                ("messages", &messages.to_string()),
            ],
        );
        let export = OutboundMessage {
            text,
            files: vec![(name, bytes, t(lang, "export-caption"))],
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
        let lang = self.person_lang(message).await;
        let said = match self.deps.outbounds.send(&to, answer).await {
            Ok(_) => t(lang, "private-sent"),
            Err(e @ (OutboundError::NotReachable(_) | OutboundError::UnknownRecipient(_))) => {
                tracing::info!(error = %e, user = %message.user_key(), "could not answer privately");
                private_chat_hint(message.platform, lang)
            }
            Err(e) => {
                tracing::warn!(error = %e, user = %message.user_key(), "could not answer privately");
                t(lang, "private-failed")
            }
        };
        reply.finish(said).await;
    }
}

/// The `key` text with the counts, or its `-shared` form without them (others read it).
fn erased_text(lang: Lang, key: &str, counts: &Erased, shared: bool) -> String {
    if shared {
        return t(lang, &format!("{key}-shared"));
    }
    tr(
        lang,
        key,
        &[
            ("memories", &counts.memories.to_string()),
            ("messages", &counts.messages.to_string()),
            ("reminders", &counts.reminders.to_string()),
            ("documents", &counts.documents.to_string()),
        ],
    )
}

/// What to do when the bot may not write to someone first.
fn private_chat_hint(platform: Platform, lang: Lang) -> String {
    match platform {
        Platform::Discord => t(lang, "private-hint-discord"),
        _ => t(lang, "private-hint-telegram"),
    }
}
