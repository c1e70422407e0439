//! `/remind`, `/reminders`, `/timezone`, and "remind me in 20 minutes to …" in a message.
//!
//! The bot writes every confirmation itself, and only once the reminder is on disk; the
//! model never sees a reminder request nor computes a time.

use std::sync::LazyLock;

use chrono::Duration;
use chrono_tz::Tz;
use regex::Regex;

use super::memory_commands::escape_markdown;
use super::{Inner, Reply};
use crate::lang::{Lang, t, tr};
use crate::model::{ChatRequest, PromptMessage, Role};
use crate::outbound::OutboundMessage;
use crate::remind::when::{self, WhenError, format_instant, format_instant_in};
use crate::remind::{Kind, NewReminder, Reminder, ReminderState, When};
use crate::store::StoreError;
use crate::types::{InboundMessage, UserKey};

/// "remind me …" at the start of a message (not "remind me what …", a question).
static ASKS_EN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\W*(?:(?:hey|hi|ok|okay|please|pls|can you|could you|would you|will you|kindly)[\s,]+)*(?:remind me|set an? reminder|reminder:)\b(?:\s+(what|who|where|when|why|how|which|whether|if)\b)?")
        .expect("a valid pattern")
});
/// Korean ways to ask for a reminder: "…라고 알려줘", "리마인드", "알림 설정", "알람".
static ASKS_KO_STRONG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:라고|하라고|고)\s*알려\s*(?:줘|주세요|줄래|주라)|리마인드|리마인더|알림\s*(?:설정|해\s*줘|해\s*주세요|맞춰)|알람\s*(?:맞춰|설정|해\s*줘)|잊지\s*않게")
        .expect("a valid pattern")
});
/// "알려줘" alone asks for a reminder only with a clock time or an offset ("20분 후에
/// 알려줘"), not with a bare day ("내일 날씨 알려줘" asks for the weather).
static ASKS_KO_WEAK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"알려\s*(?:줘|주세요|줄래|주라)").expect("a valid pattern"));
static KO_CLOCK_OR_OFFSET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\d+\s*시(?:[^간]|$)|\d+\s*(?:초|분|시간|일|주)\s*(?:후|뒤|있다가|이따가)|\d{1,2}:\d{2}",
    )
    .expect("a valid pattern")
});

/// Whether a message (typed, or a voice note's transcript) asks for a reminder.
pub fn asks_for_reminder(text: &str) -> bool {
    if let Some(c) = ASKS_EN.captures(text) {
        return c.get(1).is_none();
    }
    ASKS_KO_STRONG.is_match(text)
        || (ASKS_KO_WEAK.is_match(text) && KO_CLOCK_OR_OFFSET.is_match(text))
}

/// What the model is asked when the grammar cannot read a reminder request.
const READ_REQUEST_PROMPT: &str = "The user's message asks for a reminder. Copy two parts of it \
into a JSON object. \"when\": the words that say when, rewritten plainly with digits \
(\"half past nine tomorrow\" becomes \"tomorrow at 9:30\", \"in twenty minutes\" becomes \
\"in 20 minutes\", \"삼십 분 뒤\" becomes \"30분 후\"); an empty string if the message says \
no time. \"what\": what to remind them of. Do not compute dates. Answer with the JSON only.";

/// How long the model may take to help read a request.
const READ_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether a request the grammar could not read still seems to say a time (a number,
/// a number word, a day or part of the day): only then is the model asked to help, so
/// it never makes up a time the person did not give.
fn sounds_timed(text: &str) -> bool {
    static TIMED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|half|quarter|noon|midnight|tomorrow|tonight|today|morning|afternoon|evening|night|weekend|week|month|monday|tuesday|wednesday|thursday|friday|saturday|sunday|hours?|minutes?)\b|[일이삼사오육칠팔구십]\s*(?:분|시)|반|정오|자정|오늘|내일|모레|아침|점심|저녁|밤|주말|다음\s*주|요일")
            .expect("a valid pattern")
    });
    TIMED.is_match(text)
}

/// A person's time zone: theirs if set and known, else the owner's default.
pub(super) fn zone_of(settings_zone: Option<&str>, default: Tz) -> Tz {
    settings_zone
        .and_then(|name| name.parse().ok())
        .unwrap_or(default)
}

fn help_for(kind: Kind, lang: Lang) -> String {
    match kind {
        Kind::Reminder => t(lang, "remind-help"),
        Kind::Prompt => t(lang, "schedule-help"),
    }
}

/// What to tell someone whose request could not be read.
fn explain(error: &WhenError, help: &str, lang: Lang) -> String {
    format!(
        "{} {}\n\n{help}",
        why_not(error, lang),
        t(lang, "nothing-set")
    )
}

/// Why a time could not be read, in one sentence.
pub(super) fn why_not(error: &WhenError, lang: Lang) -> String {
    match error {
        WhenError::NoTime => t(lang, "when-no-time"),
        WhenError::Conflicting(a, b) => {
            tr(lang, "when-conflicting", &[("first", a), ("second", b)])
        }
        WhenError::Invalid(what) => tr(lang, "when-invalid", &[("phrase", what)]),
        WhenError::Past(what) => tr(lang, "when-past", &[("phrase", what)]),
        WhenError::RepeatWithoutTime => t(lang, "when-repeat-without-time"),
        WhenError::NoText => t(lang, "when-no-text"),
    }
}

impl Inner {
    pub(super) async fn zone_for(&self, user: &UserKey) -> Result<Tz, StoreError> {
        let settings = self.deps.settings.settings(user).await?;
        Ok(zone_of(
            settings.timezone.as_deref(),
            self.config.default_timezone,
        ))
    }

    /// Sets a reminder from a message that asks for one; `false` when it does not ask
    /// (the message is answered by the model).
    pub(super) async fn reminder_in_text(
        &self,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<bool, StoreError> {
        if !asks_for_reminder(&message.text) {
            return Ok(false);
        }
        self.set_reminder(&message.text, Kind::Reminder, message, reply)
            .await?;
        Ok(true)
    }

    /// `/remind` (`Kind::Reminder`) and `/schedule` (`Kind::Prompt`): set one, or show how.
    pub(super) async fn remind_command(
        &self,
        arg: Option<String>,
        kind: Kind,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        match arg {
            Some(text) => self.set_reminder(&text, kind, message, reply).await,
            None => {
                let lang = self.person_lang(message).await;
                reply.finish(help_for(kind, lang)).await;
                Ok(())
            }
        }
    }

    async fn set_reminder(
        &self,
        text: &str,
        kind: Kind,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let user = message.user_key();
        let zone = self.zone_for(&user).await?;
        let now = self.deps.clock.now();
        let parsed = match when::parse(text, now, zone) {
            Err(e @ (WhenError::NoTime | WhenError::Invalid(_))) if sounds_timed(text) => {
                match self.model_reads_request(text, &user, zone).await {
                    Some(request) => Ok(request),
                    None => Err(e),
                }
            }
            other => other,
        };
        let request = match parsed {
            Ok(request) => request,
            Err(e) => {
                tracing::info!(user = %user, error = %e, "could not read a reminder request");
                let lang = self.person_lang(message).await;
                reply.finish(explain(&e, &help_for(kind, lang), lang)).await;
                return Ok(());
            }
        };
        let reminder = self.store_reminder(request, kind, message, zone).await?;
        let mut text = confirmation(&reminder);
        if message.chat.is_shared && kind == Kind::Reminder {
            text.push('\n');
            text.push_str(&crate::lang::t(
                reminder.language(),
                "reminder-private-note",
            ));
        }
        reply.finish(text).await;
        Ok(())
    }

    /// The JSON-format fallback for a request the grammar could not read ("at twenty past
    /// nine"): the person's model only copies out the time phrase (numbers as digits) and
    /// the text, in a JSON object; the grammar still reads the time, so the model never
    /// computes one. `None` when the model is down, says nothing usable, or the phrase
    /// does not parse.
    async fn model_reads_request(
        &self,
        text: &str,
        user: &UserKey,
        zone: Tz,
    ) -> Option<when::Request> {
        let settings = self.deps.settings.settings(user).await.ok()?;
        let model = settings
            .model
            .unwrap_or_else(|| self.config.default_model.clone());
        let request = ChatRequest {
            format: Some(serde_json::json!({
                "type": "object",
                "properties": {"when": {"type": "string"}, "what": {"type": "string"}},
                "required": ["when", "what"],
            })),
            num_predict: Some(128),
            ..ChatRequest::new(
                model,
                vec![
                    PromptMessage::new(Role::System, READ_REQUEST_PROMPT),
                    PromptMessage::new(Role::User, text),
                ],
            )
        };
        let raw = match tokio::time::timeout(READ_REQUEST_TIMEOUT, self.complete(request)).await {
            Ok(Ok(raw)) => raw,
            Ok(Err(e)) => {
                tracing::info!(error = %e, "the model could not help read a reminder request");
                return None;
            }
            Err(_) => {
                tracing::info!("the model took too long to help read a reminder request");
                return None;
            }
        };
        let value: serde_json::Value = serde_json::from_str(raw.trim()).ok()?;
        let when_phrase = value["when"].as_str()?;
        let what = value["what"].as_str()?;
        let now = self.deps.clock.now();
        let request = when::parse_parts(when_phrase, what, now, zone).ok()?;
        tracing::info!(when = %when_phrase, "the model helped read a reminder request");
        Some(request)
    }

    /// Stores what `request` asks for, durably, and arms the scheduler.
    pub(super) async fn store_reminder(
        &self,
        request: when::Request,
        kind: Kind,
        message: &InboundMessage,
        zone: Tz,
    ) -> Result<Reminder, StoreError> {
        let user = message.user_key();
        let lang = self.person_lang(message).await;
        let now = self.deps.clock.now();
        let due = request.first(now, zone);
        let repeat = match request.when {
            When::Once(_) => None,
            When::Every(repeat) => Some(repeat),
        };
        // A message answered again after a restart (the platform's inbox) may have set this
        // reminder before the bot stopped: it is confirmed again, not set twice.
        let source = message
            .message_id
            .as_ref()
            .map(|id| format!("{}/{id}", message.chat.id));
        if let Some(source) = &source {
            let set_before = self
                .deps
                .reminders
                .list(&user)
                .await?
                .into_iter()
                .find(|r| {
                    r.source.as_ref() == Some(source) && r.text == request.what && r.kind == kind
                });
            if let Some(reminder) = set_before {
                tracing::info!(user = %user, reminder = %reminder.id, "reminder already set by this message");
                return Ok(reminder);
            }
        }
        let reminder = self
            .deps
            .reminders
            .create(NewReminder {
                owner: user.clone(),
                text: request.what,
                due,
                repeat,
                zone: zone.name().to_owned(),
                created: now,
                chat: message.chat.is_shared.then(|| message.chat.id.clone()),
                kind,
                name: message.display_name.clone(),
                lang: Some(lang.code().to_owned()),
                source,
            })
            .await?;
        self.deps.reminders.flush().await?;
        self.scheduler.arm(&reminder);
        tracing::info!(user = %user, reminder = %reminder.id, due = %reminder.due, repeat = reminder.repeat.is_some(), "reminder set");
        Ok(reminder)
    }

    pub(super) async fn reminders_command(
        &self,
        arg: Option<String>,
        kind: Kind,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let user = message.user_key();
        let lang = self.person_lang(message).await;
        let arg = arg.unwrap_or_default();
        let mut words = arg.split_whitespace();
        let action = words.next().unwrap_or("").to_lowercase();
        let id = words.next().unwrap_or("").to_owned();
        let rest = words.collect::<Vec<_>>().join(" ");
        match action.as_str() {
            "" | "list" => {
                let listing = self.listing(&user, kind, lang).await?;
                self.answer_privately(message, reply, OutboundMessage::text(listing))
                    .await;
            }
            "cancel" | "delete" | "remove" | "취소" | "삭제" => {
                if id.is_empty() {
                    reply.finish(t(lang, "reminder-cancel-which")).await;
                    return Ok(());
                }
                let removed = self.deps.reminders.remove(&user, &id).await?;
                self.deps.reminders.flush().await?;
                reply
                    .finish(if removed {
                        tracing::info!(user = %user, reminder = %id, "reminder cancelled");
                        tr(lang, "reminder-cancelled", &[("id", &normal_id(&id))])
                    } else {
                        no_such(&id, lang)
                    })
                    .await;
            }
            "snooze" => self.snooze(&user, &id, &rest, message, reply).await?,
            "pause" | "resume" => {
                let Some(mut reminder) = self.deps.reminders.get(&user, &id).await? else {
                    reply.finish(no_such(&id, lang)).await;
                    return Ok(());
                };
                if reminder.repeat.is_none() {
                    reply
                        .finish(tr(lang, "reminder-not-repeating", &[("id", &reminder.id)]))
                        .await;
                    return Ok(());
                }
                if action == "pause" {
                    reminder.state = ReminderState::Paused;
                } else {
                    let repeat = reminder.repeat.expect("checked above");
                    reminder.state = ReminderState::Pending;
                    reminder.failures = 0;
                    reminder.due = repeat.next_after(self.deps.clock.now(), reminder.tz());
                }
                self.deps.reminders.put(&reminder).await?;
                self.deps.reminders.flush().await?;
                self.scheduler.arm(&reminder);
                reply
                    .finish(if action == "pause" {
                        tr(lang, "reminder-paused", &[("id", &reminder.id)])
                    } else {
                        tr(
                            lang,
                            "reminder-resumed",
                            &[
                                ("id", &reminder.id),
                                ("at", &format_instant_in(reminder.due, reminder.tz(), lang)),
                                ("zone", &reminder.zone),
                            ],
                        )
                    })
                    .await;
            }
            _ => {
                reply.finish(t(lang, "reminders-usage")).await;
            }
        }
        Ok(())
    }

    pub(super) async fn listing(
        &self,
        user: &UserKey,
        kind: Kind,
        lang: Lang,
    ) -> Result<String, StoreError> {
        let now = self.deps.clock.now();
        let mut all = self.deps.reminders.list(user).await?;
        all.retain(|r| r.kind == kind);
        let mut upcoming: Vec<&Reminder> = all
            .iter()
            .filter(|r| matches!(r.state, ReminderState::Pending | ReminderState::Paused))
            .collect();
        upcoming.sort_by_key(|r| (r.state != ReminderState::Pending, r.due));
        let recent: Vec<&Reminder> = all
            .iter()
            .filter(|r| {
                r.state == ReminderState::Delivered
                    && r.last_fired.is_some_and(|at| now - at < Duration::days(1))
            })
            .collect();
        if upcoming.is_empty() && recent.is_empty() {
            return Ok(match kind {
                Kind::Reminder => {
                    format!("{}\n\n{}", t(lang, "reminders-none"), help_for(kind, lang))
                }
                Kind::Prompt => {
                    format!("{}\n\n{}", t(lang, "schedules-none"), help_for(kind, lang))
                }
            });
        }
        let mut text = String::new();
        if !upcoming.is_empty() {
            text.push_str(&t(
                lang,
                match kind {
                    Kind::Reminder => "reminders-header",
                    Kind::Prompt => "schedules-header",
                },
            ));
            text.push('\n');
            for r in &upcoming {
                let repeat = r
                    .repeat
                    .map(|rep| format!(", {}", rep.describe_in(lang)))
                    .unwrap_or_default();
                let paused = if r.state == ReminderState::Paused {
                    format!(" {}", t(lang, "reminder-paused-mark"))
                } else {
                    String::new()
                };
                text.push_str(&format!(
                    "- {}: {} ({}){repeat}{paused}: {}\n",
                    r.id,
                    format_instant_in(r.due, r.tz(), lang),
                    r.zone,
                    escape_markdown(&r.text)
                ));
            }
        }
        if !recent.is_empty() {
            text.push('\n');
            text.push_str(&t(lang, "reminders-recent"));
            text.push('\n');
            for r in &recent {
                text.push_str(&format!(
                    "- {}: {}: {}\n",
                    r.id,
                    format_instant_in(r.due, r.tz(), lang),
                    escape_markdown(&r.text)
                ));
            }
        }
        text.push('\n');
        text.push_str(&t(
            lang,
            match kind {
                Kind::Reminder => "reminders-cancel-hint",
                Kind::Prompt => "schedules-cancel-hint",
            },
        ));
        Ok(text)
    }

    async fn snooze(
        &self,
        user: &UserKey,
        id: &str,
        by: &str,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let Some(reminder) = self.deps.reminders.get(user, id).await? else {
            let lang = self.person_lang(message).await;
            reply.finish(no_such(id, lang)).await;
            return Ok(());
        };
        let by = if by.trim().is_empty() { "10m" } else { by };
        let Some(by) = when::parse_duration(by) else {
            let lang = self.person_lang(message).await;
            reply
                .finish(tr(
                    lang,
                    "snooze-unreadable",
                    &[("by", by), ("id", &reminder.id)],
                ))
                .await;
            return Ok(());
        };
        let now = self.deps.clock.now();
        if reminder.last_fired.is_none() {
            let lang = self.person_lang(message).await;
            reply
                .finish(tr(
                    lang,
                    "snooze-not-fired",
                    &[
                        ("id", &reminder.id),
                        ("at", &format_instant_in(reminder.due, reminder.tz(), lang)),
                    ],
                ))
                .await;
            return Ok(());
        }
        let snoozed = if reminder.repeat.is_none() {
            // A one-shot comes back under its own id.
            let mut again = reminder.clone();
            again.state = ReminderState::Pending;
            again.due = now + by;
            self.deps.reminders.put(&again).await?;
            again
        } else {
            // A repeat keeps its schedule; the snooze is a one-shot of its own.
            self.deps
                .reminders
                .create(NewReminder {
                    owner: user.clone(),
                    text: reminder.text.clone(),
                    due: now + by,
                    repeat: None,
                    zone: reminder.zone.clone(),
                    created: now,
                    chat: message.chat.is_shared.then(|| message.chat.id.clone()),
                    kind: reminder.kind,
                    name: reminder.name.clone(),
                    lang: reminder.lang.clone(),
                    source: None,
                })
                .await?
        };
        self.deps.reminders.flush().await?;
        self.scheduler.arm(&snoozed);
        tracing::info!(user = %user, reminder = %snoozed.id, due = %snoozed.due, "reminder snoozed");
        let lang = self.person_lang(message).await;
        reply
            .finish(tr(
                lang,
                "snoozed",
                &[
                    ("id", &snoozed.id),
                    ("at", &format_instant_in(snoozed.due, snoozed.tz(), lang)),
                    ("zone", &snoozed.zone),
                    ("text", &escape_markdown(&snoozed.text)),
                ],
            ))
            .await;
        Ok(())
    }

    pub(super) async fn timezone_command(
        &self,
        arg: Option<String>,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let user = message.user_key();
        let mut settings = self.deps.settings.settings(&user).await?;
        let now = self.deps.clock.now();
        let lang = self.lang_of(message, settings.language.as_deref());
        let Some(wanted) = arg else {
            let zone = zone_of(settings.timezone.as_deref(), self.config.default_timezone);
            let key = if settings.timezone.is_some() {
                "timezone-shown"
            } else {
                "timezone-shown-default"
            };
            let shown = crate::lang::tr(
                lang,
                key,
                &[("zone", zone.name()), ("now", &format_instant(now, zone))],
            );
            reply
                .finish(format!("{shown}\n{}", crate::lang::t(lang, "timezone-how")))
                .await;
            return Ok(());
        };
        let wanted = wanted.trim();
        let zone = if wanted.eq_ignore_ascii_case("default") {
            None
        } else {
            match Tz::from_str_insensitive(wanted) {
                Ok(zone) => Some(zone),
                Err(_) => {
                    reply
                        .finish(crate::lang::tr(
                            lang,
                            "timezone-unknown",
                            &[("zone", &escape_markdown(wanted))],
                        ))
                        .await;
                    return Ok(());
                }
            }
        };
        settings.timezone = zone.map(|z| z.name().to_owned());
        self.deps.settings.set_settings(&user, &settings).await?;
        self.deps.settings.flush().await?;
        let zone = zone.unwrap_or(self.config.default_timezone);
        // Repeating reminders follow the person: "every day at 7" stays at 7 in the new
        // zone. One-shots keep their instant.
        let mut moved = 0;
        for mut reminder in self.deps.reminders.list(&user).await? {
            let Some(repeat) = reminder.repeat else {
                continue;
            };
            if reminder.zone == zone.name() {
                continue;
            }
            reminder.zone = zone.name().to_owned();
            if reminder.state == ReminderState::Pending {
                reminder.due = repeat.next_after(now, zone);
            }
            self.deps.reminders.put(&reminder).await?;
            self.scheduler.arm(&reminder);
            moved += 1;
        }
        self.deps.reminders.flush().await?;
        tracing::info!(user = %user, zone = zone.name(), moved, "time zone set");
        let mut text = crate::lang::tr(
            lang,
            "timezone-set",
            &[("zone", zone.name()), ("now", &format_instant(now, zone))],
        );
        if moved > 0 {
            text.push(' ');
            text.push_str(&crate::lang::tr(
                lang,
                "timezone-moved",
                &[("count", &moved.to_string())],
            ));
        }
        reply.finish(text).await;
        Ok(())
    }
}

pub(super) fn normal_id(id: &str) -> String {
    crate::remind::id_number(id)
        .map(crate::remind::reminder_id)
        .unwrap_or_else(|| id.to_owned())
}

fn no_such(id: &str, lang: Lang) -> String {
    if id.is_empty() {
        return t(lang, "reminder-which");
    }
    tr(
        lang,
        "reminder-no-such",
        &[("id", &escape_markdown(&normal_id(id)))],
    )
}

/// "⏰ Reminder r12 set for Fri 15 Jan 2027 09:00 (Asia/Seoul): call the dentist".
pub fn confirmation(reminder: &Reminder) -> String {
    use crate::lang::tr;
    let lang = reminder.language();
    let zone = reminder.tz();
    let at = when::format_instant_in(reminder.due, zone, lang);
    let text = escape_markdown(&reminder.text);
    let repeat = reminder
        .repeat
        .map(|r| r.describe_in(lang))
        .unwrap_or_default();
    let args = [
        ("id", reminder.id.as_str()),
        ("at", at.as_str()),
        ("zone", reminder.zone.as_str()),
        ("text", text.as_str()),
        ("repeat", repeat.as_str()),
    ];
    let key = match (reminder.kind, reminder.repeat.is_some()) {
        (Kind::Prompt, false) => "schedule-set",
        (Kind::Prompt, true) => "schedule-set-repeat",
        (Kind::Reminder, false) => "reminder-set",
        (Kind::Reminder, true) => "reminder-set-repeat",
    };
    tr(lang, key, &args)
}

#[async_trait::async_trait]
impl crate::remind::scheduler::PromptRunner for Inner {
    async fn run_prompt(&self, prompt: &Reminder) -> Result<String, String> {
        let (platform, user_id) = prompt.owner.parts();
        let message = InboundMessage {
            platform,
            chat: crate::types::ChatRef {
                id: prompt.chat.clone().unwrap_or_else(|| user_id.to_owned()),
                is_shared: prompt.chat.is_some(),
            },
            user_id: user_id.to_owned(),
            display_name: if prompt.name.is_empty() {
                user_id.to_owned()
            } else {
                prompt.name.clone()
            },
            message_id: None,
            text: prompt.text.clone(),
            attachments: Vec::new(),
            reply_to: None,
            membership: None,
            locale: None,
        };
        let (tx, mut events) = tokio::sync::mpsc::channel(256);
        // Nobody is there to tap a button: actions that need approval are not offered.
        let reply = Reply {
            tx,
            can_ask: false,
            platform: message.platform,
        };
        let answering = async {
            let result = self.answer(&message, &reply).await;
            drop(reply);
            result
        };
        let collecting = async {
            let mut last = None;
            while let Some(event) = events.recv().await {
                last = Some(event);
            }
            last
        };
        let (result, last) = tokio::join!(answering, collecting);
        if let Err(e) = result {
            tracing::error!(error = %e, "storage failed while running a scheduled prompt");
            return Err("I could not save the conversation".to_owned());
        }
        match last {
            Some(crate::types::ReplyEvent::Finished { text, .. }) => Ok(text),
            Some(crate::types::ReplyEvent::Failed { message }) => Err(message),
            _ => Err("the model gave no answer".to_owned()),
        }
    }
}
