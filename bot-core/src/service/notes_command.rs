//! `/notes`: the owner's vaults, a search in them, and turning them off for one's answers.

use super::memory_commands::escape_markdown;
use super::{Inner, Reply};
use crate::notes::{NoteHit, Reader, VaultOverview};
use crate::store::StoreError;
use crate::types::InboundMessage;

/// Passages listed by `/notes QUERY`.
const LISTED: usize = 5;
/// Characters of a passage shown as its snippet.
const SNIPPET: usize = 240;
/// Failed files listed per vault.
const FAILED_LISTED: usize = 10;

const NOT_SET_UP: &str = "No notes are set up. The owner can point `HEARTH_NOTES` at an Obsidian vault or a Logseq graph.";

impl Inner {
    pub(super) async fn notes_command(
        &self,
        arg: Option<String>,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let Some(notes) = self.deps.notes.as_ref() else {
            reply.finish(NOT_SET_UP).await;
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
                    .finish(if off {
                        "Notes are off: I will not use the owner's notes in your answers. /notes on turns them back on."
                    } else {
                        "Notes are on: I will use the owner's notes in your answers when they help."
                    })
                    .await;
            }
            _ if notes.vaults_for(reader).is_empty() => {
                reply.finish(no_vaults(reader)).await;
            }
            "" => {
                let off = self.deps.settings.settings(&user).await?.notes_off;
                reply
                    .finish(overview(&notes.overview(reader).await, off))
                    .await;
            }
            _ => {
                match notes.search(reader, &arg, LISTED).await {
                    Ok(hits) if hits.is_empty() => {
                        reply
                            .finish(format!(
                                "Nothing in the notes matches “{}”.",
                                escape_markdown(&arg)
                            ))
                            .await;
                    }
                    Ok(hits) => reply.finish(listing(&hits)).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "notes search failed");
                        reply
                        .fail("The notes index cannot be searched right now; the problem is logged.")
                        .await;
                    }
                }
            }
        }
        Ok(())
    }
}

fn no_vaults(reader: Reader<'_>) -> &'static str {
    if reader.shared_chat {
        "The owner's notes are not used in group chats. Ask me in a private chat."
    } else {
        "The owner has not shared any notes with you."
    }
}

fn overview(vaults: &[VaultOverview], off: bool) -> String {
    let mut text = String::from("**Notes**");
    text.push_str(if off {
        " (off for your answers: /notes on)\n"
    } else {
        " (used in your answers: /notes off)\n"
    });
    for vault in vaults {
        let when = vault.indexed_at.map_or_else(
            || "not indexed yet".to_owned(),
            |at| format!("indexed {}", at.format("%Y-%m-%d %H:%M UTC")),
        );
        text.push_str(&format!(
            "- {}: {} notes, {} passages, {when}\n",
            escape_markdown(&vault.name),
            vault.notes,
            vault.passages
        ));
        if let Some(error) = &vault.error {
            text.push_str(&format!("  ⚠️ {}\n", escape_markdown(error)));
        }
        if !vault.failed.is_empty() {
            text.push_str(&format!(
                "  {} file(s) could not be read:\n",
                vault.failed.len()
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
                    "  - … and {} more\n",
                    vault.failed.len() - FAILED_LISTED
                ));
            }
        }
    }
    text.push_str("\nSearch them with /notes QUERY.");
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
