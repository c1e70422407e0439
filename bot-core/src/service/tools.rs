//! The built-in tools a tool-capable model may call while answering: reminders,
//! memories, the owner's notes and the time.
//!
//! Each tool runs as the person who sent the message and sees only what they may see
//! there: in a shared chat no tool reads their memories or reminders (unless they allowed
//! memories there) and notes only from vaults the owner opened to shared chats. Times are
//! read by the reminder grammar, never by the model. Every run gives the model a result
//! and the user one short line written by the bot ("🔧 searched your notes for 'restic'").

use serde_json::{Value, json};

use super::memory_commands::escape_markdown;
use super::{Inner, Pending, Reply};
use crate::lang::{Lang, t, tr};
use crate::memory::MemorySource;
use crate::model::{ToolCall, ToolSpec};
use crate::notes::Reader;
use crate::remind::Kind;
use crate::remind::when::{self, format_instant, format_instant_in};
use crate::retrieve::Passage;
use crate::store::{StoreError, UserSettings};
use crate::types::InboundMessage;
use crate::types::ReplyEvent;

/// How many tool rounds one answer may take before the model must answer in words.
pub(super) const MAX_TOOL_ROUNDS: usize = 4;
/// How many calls of one round are run; the rest are refused.
pub(super) const MAX_CALLS_PER_ROUND: usize = 8;
/// How many memories or passages a search gives the model.
const SEARCH_LIMIT: usize = 5;

/// What came of one tool call.
pub(super) struct ToolRun {
    /// The result, for the model.
    pub(super) result: String,
    /// The line the user sees, starting with 🔧.
    pub(super) shown: String,
    /// Passages of notes the result holds, to cite when the answer uses them.
    pub(super) cited: Vec<Passage>,
}

impl ToolRun {
    /// A call that was not run because of how it was made: the model is told why, the
    /// user sees nothing (nothing happened).
    pub(super) fn refused(result: impl Into<String>) -> Self {
        Self {
            result: result.into(),
            shown: String::new(),
            cited: Vec::new(),
        }
    }

    fn new(result: impl Into<String>, shown: impl Into<String>) -> Self {
        Self {
            result: result.into(),
            shown: format!("🔧 {}", shown.into()),
            cited: Vec::new(),
        }
    }
}

fn spec(name: &str, description: &str, properties: Value, required: &[&str]) -> ToolSpec {
    ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters: json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        }),
    }
}

/// What is wrong with `call`'s arguments for `tool`, in words the model can act on:
/// arguments the tool does not take (when its schema closes them) or required ones
/// missing. `None` when they fit. A call that names the wrong tool for its arguments gets
/// the name of an offered tool that takes them.
fn argument_problem(call: &ToolCall, tool: &ToolSpec, offered: &[ToolSpec]) -> Option<String> {
    let empty = serde_json::Map::new();
    let given = call.arguments.as_object().unwrap_or(&empty);
    let properties = |t: &ToolSpec| -> Vec<String> {
        t.parameters["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    };
    let takes = properties(tool);
    let closed = tool.parameters["additionalProperties"] == Value::Bool(false);
    let unknown: Vec<&str> = given
        .keys()
        .filter(|k| !takes.contains(k))
        .map(String::as_str)
        .collect();
    if closed && !unknown.is_empty() {
        let takes = if takes.is_empty() {
            "no arguments".to_owned()
        } else {
            format!("only {}", takes.join(", "))
        };
        let mut problem = format!(
            "Not run: {} takes {takes}, not {}.",
            tool.name,
            unknown.join(", ")
        );
        if let Some(other) = offered
            .iter()
            .find(|t| t.name != tool.name && given.keys().all(|k| properties(t).contains(k)))
        {
            problem.push_str(&format!(" To use those arguments, call {}.", other.name));
        }
        return Some(problem);
    }
    let missing: Vec<&str> = tool.parameters["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|k| {
            given
                .get(*k)
                .is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
        })
        .collect();
    (!missing.is_empty()).then(|| format!("Not run: {} needs {}.", tool.name, missing.join(", ")))
}

/// A string argument, trimmed; `None` when missing or empty.
fn text_arg(call: &ToolCall, name: &str) -> Option<String> {
    call.arguments
        .get(name)
        .and_then(|v| match v {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|s| !s.is_empty())
}

/// At most `n` characters of `text`, for a shown line.
fn short(text: &str, n: usize) -> String {
    let mut out: String = text.chars().take(n).collect();
    if text.chars().count() > n {
        out.push('…');
    }
    escape_markdown(&out)
}

/// What the person said to an action that needs approval.
enum Approval {
    Approved,
    Declined,
    TimedOut,
}

impl Inner {
    /// Shows what `action` would send and waits for the person's tap (or a new message
    /// from them, which declines). Nothing is called before an approval.
    async fn approval(
        &self,
        message: &InboundMessage,
        name: &str,
        arguments: &Value,
        reply: &Reply,
        lang: Lang,
    ) -> Approval {
        let id = format!("{:016x}", fastrand::u64(..));
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                Pending {
                    user: message.user_key(),
                    scope: message.scope(),
                    decide: tx,
                },
            );
        let shown = serde_json::to_string_pretty(arguments).unwrap_or_default();
        // The action's address stays private: chat users never see internal addresses.
        let prompt = format!(
            "{}\n```\n{}\n```",
            tr(lang, "confirm-prompt", &[("name", &escape_markdown(name))]),
            shown.replace("```", "'''")
        );
        reply
            .send(ReplyEvent::Confirm {
                id: id.clone(),
                prompt,
                buttons: [t(lang, "confirm-run"), t(lang, "confirm-cancel")],
            })
            .await;
        tracing::info!(tool = %name, "waiting for the person to confirm a tool call");
        let outcome = tokio::select! {
            decided = rx => match decided {
                Ok(true) => Approval::Approved,
                _ => Approval::Declined,
            },
            _ = tokio::time::sleep(self.config.confirm_timeout) => Approval::TimedOut,
            _ = self.cancel.cancelled() => Approval::TimedOut,
        };
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        outcome
    }

    /// Runs `call` on the tool source that offers it, or says there is no such tool.
    async fn source_tool(
        &self,
        message: &InboundMessage,
        call: &ToolCall,
        reply: &Reply,
        lang: Lang,
    ) -> ToolRun {
        let name = call.name.as_str();
        let found = self.deps.tool_sources.iter().find_map(|source| {
            source
                .tools()
                .into_iter()
                .find(|t| t.spec.name == name)
                .map(|t| (source, t.confirm))
        });
        let Some((source, confirm)) = found else {
            return ToolRun::new(
                format!("There is no tool named {name}."),
                tr(lang, "tool-unknown", &[("name", &short(name, 40))]),
            );
        };
        if confirm && let Some(refused) = self.ask_first(message, call, reply, lang).await {
            return refused;
        }
        tracing::info!(tool = %name, user = %message.user_key(), "calling an MCP tool");
        match source.call(name, &call.arguments).await {
            Ok(result) => ToolRun::new(result, tr(lang, "tool-ran", &[("name", &short(name, 40))])),
            Err(e) => ToolRun::new(
                format!("The tool failed: {e}. Tell the person."),
                tr(
                    lang,
                    "tool-failed",
                    &[("name", &short(name, 40)), ("error", &short(&e, 120))],
                ),
            ),
        }
    }

    /// Asks the person before `call` runs; `None` when they approved, else what to tell
    /// the model and show.
    async fn ask_first(
        &self,
        message: &InboundMessage,
        call: &ToolCall,
        reply: &Reply,
        lang: Lang,
    ) -> Option<ToolRun> {
        let name = &call.name;
        match self
            .approval(message, name, &call.arguments, reply, lang)
            .await
        {
            Approval::Approved => None,
            Approval::Declined => Some(ToolRun::new(
                "The person declined: nothing was sent. Do not try again unless they ask.",
                tr(lang, "tool-declined", &[("name", &short(name, 40))]),
            )),
            Approval::TimedOut => Some(ToolRun::new(
                "The person did not confirm in time: nothing was sent.",
                tr(lang, "tool-unconfirmed", &[("name", &short(name, 40))]),
            )),
        }
    }

    /// Whether the tool `name` is an action that waits for the person's approval.
    pub(super) fn needs_approval(&self, name: &str) -> bool {
        self.config
            .actions
            .iter()
            .any(|a| a.name == name && a.confirm)
            || self
                .deps
                .tool_sources
                .iter()
                .flat_map(|source| source.tools())
                .any(|t| t.spec.name == name && t.confirm)
    }

    /// Declines every action waiting for `user` in `scope` (they wrote something new).
    pub(super) fn supersede(&self, scope: &crate::types::ScopeKey, user: &crate::UserKey) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let ids: Vec<String> = pending
            .iter()
            .filter(|(_, p)| &p.scope == scope && &p.user == user)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(p) = pending.remove(&id) {
                let _ = p.decide.send(false);
            }
        }
    }

    /// Declines every confirmation `user` was asked for, in every chat.
    pub(super) fn decline_all(&self, user: &crate::UserKey) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let ids: Vec<String> = pending
            .iter()
            .filter(|(_, p)| &p.user == user)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(p) = pending.remove(&id) {
                let _ = p.decide.send(false);
            }
        }
    }

    /// Whether `message`'s sender may have their own memories and reminders read here.
    fn personal_here(message: &InboundMessage, settings: &UserSettings) -> bool {
        !message.chat.is_shared || settings.memory_in_shared
    }

    /// The tools offered for `message`: only those whose results its chat may see.
    pub(super) fn tool_specs(
        &self,
        message: &InboundMessage,
        settings: &UserSettings,
        can_ask: bool,
    ) -> Vec<ToolSpec> {
        let mut tools = vec![
            spec(
                "create_reminder",
                "Set a reminder the bot will send the person at a time. Use it whenever they \
                 ask to be reminded. Give the time in their own words; it is read by code.",
                json!({
                    "when": {"type": "string", "description": "When, as the person said it: 'in 20 minutes', 'tomorrow at 9', 'on Friday at 8', 'every weekday at 7:30', '내일 오전 9시'."},
                    "text": {"type": "string", "description": "What to remind them of, e.g. 'call the dentist'."}
                }),
                &["when", "text"],
            ),
            spec(
                "current_time",
                "The current date, time and weekday in the person's time zone.",
                json!({}),
                &[],
            ),
        ];
        if Self::personal_here(message, settings) {
            tools.extend([
                spec(
                    "list_reminders",
                    "The person's upcoming reminders with their ids.",
                    json!({}),
                    &[],
                ),
                spec(
                    "cancel_reminder",
                    "Cancel one of the person's reminders by id (as list_reminders shows it).",
                    json!({"id": {"type": "string", "description": "The reminder's id, e.g. r3."}}),
                    &["id"],
                ),
                spec(
                    "search_memories",
                    "Search what you remember about the person from earlier conversations.",
                    json!({"query": {"type": "string", "description": "What to look for."}}),
                    &["query"],
                ),
                spec(
                    "remember",
                    "Store one lasting fact about the person (a preference, a name, a plan) \
                     when they ask you to remember it.",
                    json!({"fact": {"type": "string", "description": "The fact, one short sentence."}}),
                    &["fact"],
                ),
            ]);
        }
        // The owner's actions; those that need the person's approval only where someone
        // can tap the button.
        tools.extend(
            self.config
                .actions
                .iter()
                .filter(|a| can_ask || !a.confirm)
                .map(|a| ToolSpec {
                    name: a.name.clone(),
                    description: a.description.clone(),
                    parameters: a.parameters.clone(),
                }),
        );
        tools.extend(
            self.deps
                .tool_sources
                .iter()
                .flat_map(|source| source.tools())
                .filter(|t| can_ask || !t.confirm)
                .map(|t| t.spec),
        );
        if self.notes_readable(message, settings) {
            tools.push(spec(
                "search_notes",
                "Search the owner's notes (Obsidian, Logseq) for passages.",
                json!({"query": {"type": "string", "description": "Words to look for."}}),
                &["query"],
            ));
        }
        tools
    }

    fn notes_readable(&self, message: &InboundMessage, settings: &UserSettings) -> bool {
        let user = message.user_key();
        !settings.notes_off
            && self.deps.notes.as_ref().is_some_and(|notes| {
                !notes
                    .vaults_for(Reader {
                        user: &user,
                        shared_chat: message.chat.is_shared,
                    })
                    .is_empty()
            })
    }

    /// Runs one call as `message`'s sender. Storage failures are told to the model and
    /// the user like any other failed tool; they are logged.
    pub(super) async fn run_tool(
        &self,
        message: &InboundMessage,
        settings: &UserSettings,
        call: &ToolCall,
        reply: &Reply,
    ) -> ToolRun {
        let lang = self.lang_of(message, settings.language.as_deref());
        let offered = self.tool_specs(message, settings, reply.can_ask);
        let Some(tool) = offered.iter().find(|t| t.name == call.name) else {
            tracing::info!(tool = %call.name, "the model called a tool it was not offered");
            return ToolRun::new(
                format!("There is no tool named {} here.", call.name),
                tr(lang, "tool-unknown", &[("name", &short(&call.name, 40))]),
            );
        };
        if let Some(problem) = argument_problem(call, tool, &offered) {
            tracing::info!(tool = %call.name, problem = %problem, "the model called a tool with the wrong arguments");
            return ToolRun::refused(problem);
        }
        tracing::info!(tool = %call.name, user = %message.user_key(), "running a tool");
        match self.tool(message, settings, call, reply, lang).await {
            Ok(run) => run,
            Err(e) => {
                tracing::error!(error = %e, tool = %call.name, "a tool failed on storage");
                ToolRun::new(
                    "The tool failed: storage is unavailable. Tell the person it did not work.",
                    tr(
                        lang,
                        "tool-storage-failed",
                        &[("name", &short(&call.name, 40))],
                    ),
                )
            }
        }
    }

    async fn tool(
        &self,
        message: &InboundMessage,
        settings: &UserSettings,
        call: &ToolCall,
        reply: &Reply,
        lang: Lang,
    ) -> Result<ToolRun, StoreError> {
        let user = message.user_key();
        let zone =
            super::reminders::zone_of(settings.timezone.as_deref(), self.config.default_timezone);
        let now = self.deps.clock.now();
        Ok(match call.name.as_str() {
            "current_time" => {
                let local = now.with_timezone(&zone);
                ToolRun::new(
                    format!("{} ({})", local.format("%A %Y-%m-%d %H:%M"), zone.name()),
                    t(lang, "tool-checked-time"),
                )
            }
            "create_reminder" => {
                let when_text = text_arg(call, "when").unwrap_or_default();
                let what = text_arg(call, "text").unwrap_or_default();
                match when::parse_parts(&when_text, &what, now, zone) {
                    Ok(request) => {
                        let reminder = self
                            .store_reminder(request, Kind::Reminder, message, zone)
                            .await?;
                        let at =
                            format!("{} ({})", format_instant(reminder.due, zone), reminder.zone);
                        let repeat = reminder
                            .repeat
                            .map(|r| format!(", {}", r.describe()))
                            .unwrap_or_default();
                        let shown_at = format!(
                            "{} ({})",
                            format_instant_in(reminder.due, zone, lang),
                            reminder.zone
                        );
                        let shown_repeat = reminder
                            .repeat
                            .map(|r| format!(", {}", r.describe_in(lang)))
                            .unwrap_or_default();
                        let private = if message.chat.is_shared {
                            " It will be sent to them in a private message."
                        } else {
                            ""
                        };
                        ToolRun::new(
                            format!(
                                "Reminder {} is set for {at}{repeat}: {}.{private}",
                                reminder.id, reminder.text
                            ),
                            tr(
                                lang,
                                "tool-reminder-set",
                                &[
                                    ("id", &reminder.id),
                                    ("at", &format!("{shown_at}{shown_repeat}")),
                                    ("text", &short(&reminder.text, 80)),
                                ],
                            ),
                        )
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "a reminder tool call could not be read");
                        ToolRun::new(
                            format!(
                                "Nothing was set: {e}. Ask the person when, in words such as \
                                 'in 20 minutes' or 'tomorrow at 9'."
                            ),
                            tr(
                                lang,
                                "tool-reminder-failed",
                                &[("why", &super::reminders::why_not(&e, lang))],
                            ),
                        )
                    }
                }
            }
            "list_reminders" => ToolRun::new(
                self.listing(&user, Kind::Reminder, crate::lang::Lang::En)
                    .await?,
                t(lang, "tool-listed-reminders"),
            ),
            "cancel_reminder" => {
                let id = text_arg(call, "id").unwrap_or_default();
                let id = super::reminders::normal_id(&id);
                let removed = !id.is_empty() && self.deps.reminders.remove(&user, &id).await?;
                if removed {
                    self.deps.reminders.flush().await?;
                    tracing::info!(user = %user, reminder = %id, "reminder cancelled by a tool");
                    ToolRun::new(
                        format!("Reminder {id} is cancelled."),
                        tr(lang, "tool-reminder-cancelled", &[("id", &short(&id, 20))]),
                    )
                } else {
                    ToolRun::new(
                        format!("There is no reminder {id}. Nothing was cancelled."),
                        tr(lang, "tool-reminder-missing", &[("id", &short(&id, 20))]),
                    )
                }
            }
            "search_memories" => {
                let query = text_arg(call, "query").unwrap_or_default();
                let shown = tr(
                    lang,
                    "tool-searched-memories",
                    &[("query", &short(&query, 60))],
                );
                match self.deps.memories.search(&user, &query, SEARCH_LIMIT).await {
                    Ok(hits) if hits.is_empty() => ToolRun::new("Nothing found.", shown),
                    Ok(hits) => ToolRun::new(
                        hits.iter()
                            .map(|h| {
                                format!(
                                    "- ({}) {}",
                                    h.memory.updated.format("%Y-%m-%d"),
                                    h.memory.text
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n"),
                        shown,
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "memory search failed in a tool");
                        ToolRun::new("The memory search failed.", shown)
                    }
                }
            }
            "remember" => {
                let fact = text_arg(call, "fact").unwrap_or_default();
                match self
                    .deps
                    .memories
                    .remember(&user, &fact, MemorySource::Explicit)
                    .await
                {
                    Ok(memory) => ToolRun::new(
                        format!("Remembered as {}: {}", memory.id, memory.text),
                        tr(
                            lang,
                            "tool-remembered",
                            &[("text", &short(&memory.text, 80))],
                        ),
                    ),
                    Err(e) => ToolRun::new(
                        format!("Nothing was stored: {e}."),
                        tr(lang, "tool-remember-failed", &[("error", &e.to_string())]),
                    ),
                }
            }
            "search_notes" => {
                let query = text_arg(call, "query").unwrap_or_default();
                let shown = tr(
                    lang,
                    "tool-searched-notes",
                    &[("query", &short(&query, 60))],
                );
                let Some(notes) = &self.deps.notes else {
                    return Ok(ToolRun::new("No notes are configured.", shown));
                };
                let reader = Reader {
                    user: &user,
                    shared_chat: message.chat.is_shared,
                };
                match notes.search(reader, &query, SEARCH_LIMIT).await {
                    Ok(hits) if hits.is_empty() => ToolRun::new("Nothing found.", shown),
                    Ok(hits) => ToolRun {
                        cited: hits
                            .iter()
                            .map(|h| Passage {
                                label: h.title.clone(),
                                source: h.citation(),
                                text: h.text.clone(),
                                score: h.score,
                            })
                            .collect(),
                        ..ToolRun::new(
                            hits.iter()
                                .map(|h| format!("[{}]\n{}", h.citation(), h.text))
                                .collect::<Vec<_>>()
                                .join("\n\n"),
                            shown,
                        )
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "notes search failed in a tool");
                        ToolRun::new("The notes search failed.", shown)
                    }
                }
            }
            name => match self.config.actions.iter().find(|a| a.name == name) {
                Some(action) => {
                    if action.confirm
                        && let Some(refused) = self.ask_first(message, call, reply, lang).await
                    {
                        return Ok(refused);
                    }
                    tracing::info!(action = %action.name, user = %user, "calling an action");
                    match self.actions.call(action, &call.arguments).await {
                        Ok(result) => ToolRun::new(
                            result,
                            tr(lang, "tool-ran", &[("name", &short(name, 40))]),
                        ),
                        Err(e) => ToolRun::new(
                            format!("The action failed: {e}. Tell the person."),
                            tr(
                                lang,
                                "tool-failed",
                                &[
                                    ("name", &short(name, 40)),
                                    ("error", &short(&e.to_string(), 120)),
                                ],
                            ),
                        ),
                    }
                }
                None => self.source_tool(message, call, reply, lang).await,
            },
        })
    }
}
