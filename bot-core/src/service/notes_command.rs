//! `/notes`: the owner's vaults, a search in them, and turning them off for one's answers.

use super::memory_commands::escape_markdown;
use super::{Inner, Reply};
use crate::lang::{Lang, t, tr};
use crate::notes::{NoteHit, Reader, VaultOverview};
use crate::store::StoreError;
use crate::types::InboundMessage;

/// Passages listed by `/notes QUERY`.
const LISTED: usize = 5;
/// Characters of a passage shown as its snippet.
const SNIPPET: usize = 240;
/// Failed files listed per vault.
const FAILED_LISTED: usize = 10;

impl Inner {
    /// `/notes add`: files the conversation's latest document into the person's own
    /// collection, searched in their answers from then on.
    async fn file_document(
        &self,
        message: &InboundMessage,
        reply: &Reply,
        lang: Lang,
    ) -> Result<(), StoreError> {
        let user = message.user_key();
        let Some(latest) = self.documents.of(&message.scope()).pop() else {
            reply.finish(t(lang, "notes-add-nothing")).await;
            return Ok(());
        };
        let document = crate::files::SavedDocument {
            owner: user.clone(),
            name: latest.name.clone(),
            saved_at: self.deps.clock.now(),
            passages: latest
                .passages
                .iter()
                .map(|p| crate::files::SavedPassage {
                    page: p.page,
                    text: p.text.clone(),
                })
                .collect(),
            embedding_model: latest
                .vectors
                .as_ref()
                .and(self.deps.memories.embedder())
                .map(|e| e.describe()),
            vectors: latest.vectors.clone(),
        };
        self.deps.documents.put_document(&document).await?;
        self.deps.documents.flush().await?;
        self.document_retriever.invalidate(&user);
        tracing::info!(user = %user, passages = document.passages.len(), "filed a document");
        reply
            .finish(tr(
                lang,
                "notes-add-done",
                &[
                    ("name", &escape_markdown(&document.name)),
                    ("passages", &document.passages.len().to_string()),
                ],
            ))
            .await;
        Ok(())
    }

    /// A line naming the person's filed documents, empty when there are none.
    async fn filed_line(&self, user: &crate::UserKey, lang: Lang) -> Result<String, StoreError> {
        let docs = self.deps.documents.documents(user).await?;
        if docs.is_empty() {
            return Ok(String::new());
        }
        let names: Vec<String> = docs.iter().map(|d| escape_markdown(&d.name)).collect();
        Ok(format!(
            "\n\n{}",
            tr(
                lang,
                "notes-filed",
                &[
                    ("count", &docs.len().to_string()),
                    ("names", &names.join(", "))
                ]
            )
        ))
    }

    pub(super) async fn notes_command(
        &self,
        arg: Option<String>,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let lang = self.person_lang(message).await;
        if arg
            .as_deref()
            .is_some_and(|a| a.trim().eq_ignore_ascii_case("add"))
        {
            return self.file_document(message, reply, lang).await;
        }
        let Some(notes) = self.deps.notes.as_ref() else {
            let filed = self.filed_line(&message.user_key(), lang).await?;
            reply
                .finish(format!("{}{filed}", t(lang, "notes-not-set-up")))
                .await;
            return Ok(());
        };
        let user = message.user_key();
        let reader = Reader {
            user: &user,
            shared_chat: message.chat.is_shared,
        };
        let arg = arg.unwrap_or_default();
        match arg.to_lowercase().as_str() {
            "off" | "on" => {
                let off = arg.eq_ignore_ascii_case("off");
                let mut settings = self.deps.settings.settings(&user).await?;
                settings.notes_off = off;
                self.deps.settings.set_settings(&user, &settings).await?;
                self.deps.settings.flush().await?;
                tracing::info!(user = %user, notes_off = off, "notes setting changed");
                reply
                    .finish(t(lang, if off { "notes-now-off" } else { "notes-now-on" }))
                    .await;
            }
            _ if notes.vaults_for(reader).is_empty() => {
                reply.finish(no_vaults(reader, lang)).await;
            }
            "" => {
                let off = self.deps.settings.settings(&user).await?.notes_off;
                let zone = self.zone_for(&user).await?;
                let vaults = notes.overview(reader).await;
                let filed = self.filed_line(&user, lang).await?;
                reply
                    .finish(format!("{}{filed}", overview(&vaults, off, lang, zone)))
                    .await;
            }
            _ => match notes.search(reader, &arg, LISTED).await {
                Ok(hits) if hits.is_empty() => {
                    reply
                        .finish(tr(
                            lang,
                            "notes-nothing",
                            &[("query", &escape_markdown(&arg))],
                        ))
                        .await;
                }
                Ok(hits) => reply.finish(listing(&hits)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "notes search failed");
                    reply.fail(t(lang, "notes-search-failed")).await;
                }
            },
        }
        Ok(())
    }
}

fn no_vaults(reader: Reader<'_>, lang: Lang) -> String {
    if reader.shared_chat {
        t(lang, "notes-not-in-groups")
    } else {
        t(lang, "notes-none-shared")
    }
}

/// The vaults a person may read; index times in their zone.
fn overview(vaults: &[VaultOverview], off: bool, lang: Lang, zone: chrono_tz::Tz) -> String {
    let mut text = format!(
        "**{}** {}\n",
        t(lang, "notes-title"),
        t(
            lang,
            if off {
                "notes-off-mark"
            } else {
                "notes-on-mark"
            }
        )
    );
    for vault in vaults {
        let when = vault.indexed_at.map_or_else(
            || t(lang, "notes-not-indexed"),
            |at| {
                tr(
                    lang,
                    "notes-indexed-at",
                    &[(
                        "at",
                        &format!(
                            "{} ({})",
                            at.with_timezone(&zone).format("%Y-%m-%d %H:%M"),
                            zone.name()
                        ),
                    )],
                )
            },
        );
        text.push_str(&format!(
            "- {}: {}, {when}\n",
            escape_markdown(&vault.name),
            tr(
                lang,
                "notes-counts",
                &[
                    ("notes", &vault.notes.to_string()),
                    ("passages", &vault.passages.to_string())
                ],
            )
        ));
        if let Some(error) = &vault.error {
            text.push_str(&format!("  ⚠️ {}\n", escape_markdown(error)));
        }
        if !vault.failed.is_empty() {
            text.push_str(&format!(
                "  {}\n",
                tr(
                    lang,
                    "notes-failed-files",
                    &[("count", &vault.failed.len().to_string())]
                )
            ));
            for (path, reason) in vault.failed.iter().take(FAILED_LISTED) {
                text.push_str(&format!(
                    "  - {}: {}\n",
                    escape_markdown(path),
                    escape_markdown(reason)
                ));
            }
            if vault.failed.len() > FAILED_LISTED {
                text.push_str(&format!(
                    "  - {}\n",
                    tr(
                        lang,
                        "notes-failed-more",
                        &[("count", &(vault.failed.len() - FAILED_LISTED).to_string())]
                    )
                ));
            }
        }
    }
    text.push('\n');
    text.push_str(&t(lang, "notes-search-hint"));
    text
}

fn listing(hits: &[NoteHit]) -> String {
    let mut text = String::new();
    for hit in hits {
        let mut title = hit.path.clone();
        if !hit.heading.is_empty() {
            title.push_str(" › ");
            title.push_str(&hit.heading);
        }
        text.push_str(&format!("**{}**", escape_markdown(&title)));
        if let Some(date) = hit.date {
            text.push_str(&format!(" · {}", date.format("%Y-%m-%d")));
        }
        text.push('\n');
        text.push_str(&escape_markdown(&snippet(&hit.text)));
        text.push_str("\n\n");
    }
    text.trim_end().to_owned()
}

/// The start of a passage on one line, cut at a word.
fn snippet(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= SNIPPET {
        return flat;
    }
    let cut: String = flat.chars().take(SNIPPET).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}
