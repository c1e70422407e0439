//! The chat service: turns an [`InboundMessage`] into a [`ReplyStream`].
//!
//! - Messages of one conversation are answered in arrival order: each job
//!   waits for the previous job of its scope ([`Chains`]).
//! - Different conversations run concurrently, but at most
//!   `max_concurrent_requests` model requests run at once; the rest wait in a
//!   queue and their users see their place in it.
//! - Writes a user was told about are flushed before the final event.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::AccessPolicy;
use crate::commands::{self, Command};
use crate::lang;
use crate::model::{LanguageModel, Role};
use crate::store::{HistoryStore, SettingsStore, StoreError, Turn};
use crate::types::{InboundMessage, ReplyEvent, ReplyStream, ScopeKey, TurnRef};

mod answer;
mod extraction;
mod files;
mod language;
mod memory_commands;
mod notes_command;
mod reminders;
mod tools;
mod voice_note;

pub(crate) use memory_commands::escape_markdown;
pub use voice_note::VoiceNote;

/// How many stored turns are read back to build a prompt.
pub const HISTORY_WINDOW: usize = 400;

/// Settings of the chat service, validated by the binary at start.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Model used when the user has not picked one.
    pub default_model: String,
    /// The operator's system prompt.
    pub system_prompt: String,
    /// Model requests allowed at once; the rest queue.
    pub max_concurrent_requests: usize,
    /// Largest context window to ask the server for, in tokens.
    pub max_context_tokens: u64,
    /// Context window assumed when the server does not report one.
    pub fallback_context_tokens: u64,
    /// Show `<think>` reasoning instead of removing it.
    pub show_thinking: bool,
    /// Longest message accepted, in characters.
    pub max_input_chars: usize,
    /// After this long without a first token, tell the user the model is loading.
    pub loading_notice_after: Duration,
    /// Give up when the first token takes longer than this.
    pub first_token_timeout: Duration,
    /// Give up when the stream stalls for longer than this.
    pub idle_timeout: Duration,
    /// The most tokens one answer may have (`num_predict`), so a model that never stops
    /// cannot hold a slot forever.
    pub max_answer_tokens: u64,
    /// The most messages that may wait for a model slot; past that new ones are told the
    /// bot is busy instead of queueing without end.
    pub max_queue: usize,
    /// The time zone of people who have not set their own (`HEARTH_TIMEZONE`, else the host's).
    pub default_timezone: chrono_tz::Tz,
    /// The language for people who have not chosen one (`HEARTH_LANGUAGE`): `auto`
    /// follows each person's app and messages.
    pub language: crate::lang::Choice,
    /// A reminder missed for longer than this (the bot was down) is not delivered as a
    /// reminder any more, only noted (`HEARTH_REMINDER_MAX_LATE`).
    pub reminder_max_late: Duration,
    /// Offer the built-in tools (reminders, memories, notes, the time) to models that can
    /// call tools (`HEARTH_TOOLS`).
    pub tools: bool,
    /// The owner's automations, offered as tools to models that can call them
    /// (`HEARTH_ACTIONS`).
    pub actions: Vec<crate::actions::Action>,
    /// How long an action that needs approval waits for the person's tap.
    pub confirm_timeout: Duration,
    /// The model for pictures when the person's own cannot see (`HEARTH_VISION_MODEL`).
    pub vision_model: Option<String>,
    /// Largest picture accepted, in bytes (`HEARTH_IMAGE_MAX_MB`).
    pub image_max_bytes: u64,
    /// Pictures are downscaled to this longest side, in pixels (`HEARTH_IMAGE_MAX_SIDE`).
    pub image_max_side: u32,
    /// How many of a conversation's latest pictures go to the model
    /// (`HEARTH_IMAGES_IN_CONTEXT`); older ones are only their `[photo: …]` note.
    pub images_in_context: usize,
    /// Largest document accepted, in bytes (`HEARTH_DOCUMENT_MAX_MB`).
    pub document_max_bytes: u64,
    /// Message and answer text may go to the log at debug level (`HEARTH_LOG_CONTENT`); off,
    /// the log holds no one's words.
    pub log_content: bool,
}

impl ServiceConfig {
    /// Sensible defaults for `default_model`.
    pub fn new(default_model: impl Into<String>) -> Self {
        Self {
            default_model: default_model.into(),
            system_prompt: "You are Hearth, a helpful personal assistant. Answer concisely. \
                            Use Markdown for formatting when it helps."
                .into(),
            max_concurrent_requests: 1,
            max_context_tokens: 8192,
            fallback_context_tokens: 2048,
            show_thinking: false,
            max_input_chars: 16_000,
            loading_notice_after: Duration::from_secs(8),
            first_token_timeout: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(120),
            max_answer_tokens: 2048,
            max_queue: 100,
            default_timezone: host_timezone(),
            language: crate::lang::Choice::Auto,
            reminder_max_late: Duration::from_secs(24 * 3600),
            tools: true,
            actions: Vec::new(),
            confirm_timeout: Duration::from_secs(5 * 60),
            vision_model: None,
            image_max_bytes: 10 * 1024 * 1024,
            image_max_side: 1024,
            images_in_context: 4,
            document_max_bytes: 20 * 1024 * 1024,
            log_content: false,
        }
    }
}

/// The host's IANA time zone, UTC when it cannot be told.
pub fn host_timezone() -> chrono_tz::Tz {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| name.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

/// The ports and policy the service works with.
#[derive(Clone)]
pub struct Deps {
    /// The model server.
    pub model: Arc<dyn LanguageModel>,
    /// Conversation storage.
    pub history: Arc<dyn HistoryStore>,
    /// Settings storage.
    pub settings: Arc<dyn SettingsStore>,
    /// Who may use the bot.
    pub access: AccessPolicy,
    /// Long-term memory.
    pub memories: Arc<crate::memory::Memories>,
    /// Voice note transcription; `None` when no speech model is configured.
    pub voice: Option<crate::voice::Voice>,
    /// The platforms the core can send to on its own (adapters register when connected).
    pub outbounds: crate::outbound::Outbounds,
    /// The wall clock.
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Where prompt context comes from, in order (memories, the owner's notes).
    pub retrievers: Vec<Arc<dyn crate::retrieve::Retriever>>,
    /// The owner's notes, for `/notes`; `None` when no vault is configured.
    pub notes: Option<Arc<dyn crate::notes::NotesSource>>,
    /// Reminders.
    pub reminders: Arc<dyn crate::remind::ReminderStore>,
    /// Tools from elsewhere (the owner's MCP servers), offered like the owner's actions.
    pub tool_sources: Vec<Arc<dyn crate::actions::ToolSource>>,
    /// Reads photos and documents; `None`: files are answered with a note that the bot
    /// cannot read them.
    pub files: Option<Arc<dyn crate::files::FileReader>>,
    /// Documents people filed into their own collection (`/notes add`).
    pub documents: Arc<dyn crate::files::DocumentStore>,
    /// Stores that remove a person whole beyond each port's own removal (the sled store:
    /// destroys the person's key first); asked first by [`ChatService::erase_person`].
    pub erasers: Vec<Arc<dyn crate::store::Eraser>>,
    /// Messages taken from a platform and not answered yet (kept across a crash).
    pub inbox: Arc<dyn crate::store::InboxStore>,
}

/// What one inbound message asks for.
enum Job {
    /// Typed text: a command when it reads as one, else a question.
    Message,
    /// A question, never a command.
    Question,
    /// A command the platform handed over typed.
    Command(Command),
    /// A voice note, answered as typed text once transcribed.
    Voice(VoiceNote),
    /// Photos and documents, with the message's text as the question.
    Files(Vec<crate::files::IncomingFile>),
}

/// Per-scope job chains: each new job waits until the previous one is done.
#[derive(Default)]
struct Chains {
    next_id: u64,
    tails: HashMap<ScopeKey, (u64, oneshot::Receiver<()>)>,
}

struct Inner {
    config: ServiceConfig,
    deps: Deps,
    slots: Semaphore,
    waiting: AtomicUsize,
    chains: Mutex<Chains>,
    /// Per model: the context window to ask for, and whether it can call tools.
    model_facts: Mutex<HashMap<String, ModelFacts>>,
    tracker: TaskTracker,
    cancel: CancellationToken,
    /// Strangers refused recently: each is answered at most once per [`REFUSAL_INTERVAL`].
    refused: mini_moka::sync::Cache<crate::UserKey, ()>,
    /// Delivers reminders.
    scheduler: crate::remind::scheduler::Scheduler,
    /// Stops background work (the reminder scheduler) at shutdown.
    background: CancellationToken,
    /// Calls the owner's actions.
    actions: crate::actions::ActionClient,
    /// Actions waiting for the person's tap, by confirmation id.
    pending: Mutex<HashMap<String, Pending>>,
    /// Documents sent in each conversation, for follow-up questions.
    documents: Arc<crate::files::ChatDocuments>,
    /// Their retriever (asked before the others: a question about a document is about it).
    document_retriever: crate::files::DocumentRetriever,
    /// The latest pictures of each conversation, by the time of the turn they came with.
    pictures: mini_moka::sync::Cache<ScopeKey, Arc<Vec<crate::prompt::TurnPictures>>>,
}

/// An action call waiting for a tap.
struct Pending {
    user: crate::UserKey,
    scope: ScopeKey,
    decide: oneshot::Sender<bool>,
}

/// What [`ChatService::erase_person`] found and deleted, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    /// Memories (with their vectors).
    pub memories: usize,
    /// Messages of their conversations (theirs and the bot's answers to them).
    pub messages: usize,
    /// Reminders and scheduled prompts.
    pub reminders: usize,
    /// Filed documents.
    pub documents: usize,
    /// Whether they had chosen any setting.
    pub settings: bool,
}

impl Erased {
    /// Nothing was stored.
    pub fn is_empty(&self) -> bool {
        self == &Erased::default()
    }
}

/// What came of a tap on a confirmation button ([`ChatService::decide`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decided {
    /// The action runs now.
    Approved,
    /// The action will not run.
    Declined,
    /// Someone else's button: nothing changed.
    NotYours,
    /// Already decided, timed out, or from before a restart: nothing changed.
    Expired,
}

impl Decided {
    /// The short note for the person who tapped, in `lang`.
    pub fn note(self, lang: crate::lang::Lang) -> String {
        crate::lang::t(
            lang,
            match self {
                Decided::Approved => "decided-running",
                Decided::Declined => "decided-declined",
                Decided::NotYours => "decided-not-yours",
                Decided::Expired => "decided-expired",
            },
        )
    }

    /// How the question ended, added under it when its buttons go, in `lang`.
    pub fn outcome(self, lang: crate::lang::Lang) -> String {
        crate::lang::t(
            lang,
            match self {
                Decided::Approved => "decided-outcome-approved",
                Decided::Declined => "decided-outcome-declined",
                _ => "decided-outcome-expired",
            },
        )
    }
}

/// How often a stranger who keeps writing is told they are not allowed.
pub const REFUSAL_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// What the service keeps about a model once the server has said.
#[derive(Clone, Copy, Debug)]
struct ModelFacts {
    /// The context window to ask for, in tokens.
    context_tokens: u64,
    /// Whether to offer it tools.
    tools: bool,
    /// Whether it can see pictures.
    vision: bool,
}

/// The platform-neutral chat service. Cheap to clone.
#[derive(Clone)]
pub struct ChatService {
    inner: Arc<Inner>,
}

impl ChatService {
    /// A service over `deps`.
    pub fn new(config: ServiceConfig, deps: Deps) -> Self {
        let slots = Semaphore::new(config.max_concurrent_requests.max(1));
        let scheduler = crate::remind::scheduler::Scheduler::new(
            Arc::clone(&deps.reminders),
            deps.outbounds.clone(),
            Arc::clone(&deps.clock),
            deps.access.clone(),
            config.reminder_max_late,
        );
        let background = CancellationToken::new();
        let documents = Arc::new(crate::files::ChatDocuments::default());
        let inner = Arc::new(Inner {
            document_retriever: crate::files::DocumentRetriever::new(
                Arc::clone(&documents),
                Arc::clone(&deps.memories),
                Arc::clone(&deps.documents),
            ),
            documents,
            pictures: mini_moka::sync::Cache::builder()
                .weigher(|_k: &ScopeKey, v: &Arc<Vec<crate::prompt::TurnPictures>>| {
                    let bytes: usize = v.iter().flat_map(|(_, p)| p.iter().map(String::len)).sum();
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .max_capacity(256 * 1024 * 1024)
                .time_to_idle(Duration::from_secs(6 * 3600))
                .build(),
            scheduler,
            background,
            actions: crate::actions::ActionClient::new(),
            pending: Mutex::default(),
            config,
            deps,
            slots,
            waiting: AtomicUsize::new(0),
            chains: Mutex::default(),
            model_facts: Mutex::default(),
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            refused: mini_moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(REFUSAL_INTERVAL)
                .build(),
        });
        let runner: Arc<dyn crate::remind::scheduler::PromptRunner> = inner.clone();
        inner.scheduler.set_runner(Arc::downgrade(&runner));
        // Reminders are delivered from the moment the service exists in a runtime.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(inner.scheduler.clone().run(inner.background.clone()));
        }
        Self { inner }
    }

    /// The service's configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// The model port, for adapters that list models (autocomplete) and for `doctor`.
    pub fn model(&self) -> &Arc<dyn LanguageModel> {
        &self.inner.deps.model
    }

    /// Whether `user_id` on `platform` may use the bot. Adapters call this before
    /// downloading anything a stranger sent.
    pub fn is_allowed(&self, platform: crate::Platform, user_id: &str) -> bool {
        self.inner.deps.access.is_allowed(platform, user_id)
    }

    /// Whether a person may use the bot, given the server and roles they write from.
    pub fn admits(
        &self,
        platform: crate::Platform,
        user_id: &str,
        membership: Option<&crate::Membership>,
    ) -> bool {
        self.inner.deps.access.admits(platform, user_id, membership)
    }

    /// The refusal to show `message`'s author when they may not use the bot, for
    /// platforms that must answer at once (Discord slash commands); `None` when allowed.
    pub fn refusal(&self, message: &InboundMessage) -> Option<String> {
        if self.inner.deps.access.admits_message(message) {
            return None;
        }
        tracing::info!(platform = %message.platform, user = %message.user_id, "refused a user who is not allowed (on no allow-list)");
        Some(AccessPolicy::refusal(
            message.platform,
            &message.user_id,
            self.inner.lang_of(message, None),
        ))
    }

    /// The language of the bot's words to `user`, whose app is set to `locale`: their
    /// `/language`, else the app's, else `HEARTH_LANGUAGE` (for adapters' own short texts).
    pub async fn language_of(
        &self,
        user: &crate::UserKey,
        locale: Option<&str>,
    ) -> crate::lang::Lang {
        let settings = self.inner.deps.settings.settings(user).await;
        let setting = settings.ok().and_then(|s| s.language);
        crate::lang::for_person(setting.as_deref(), locale, self.inner.config.language)
    }

    /// The owner's language (`HEARTH_LANGUAGE`), for texts with no person to ask.
    pub fn default_language(&self) -> crate::lang::Lang {
        crate::lang::for_person(None, None, self.inner.config.language)
    }

    /// Applies a tap on a confirmation button ([`ReplyEvent::Confirm`]): `approve` runs
    /// the action, otherwise it is not run. Only the person who asked may decide.
    pub fn decide(&self, id: &str, user: &crate::UserKey, approve: bool) -> Decided {
        let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get(id) {
            None => Decided::Expired,
            Some(p) if &p.user != user => {
                tracing::info!(user = %user, "a confirmation was tapped by someone else");
                Decided::NotYours
            }
            Some(_) => {
                let p = pending.remove(id).expect("checked above");
                if p.decide.send(approve).is_err() {
                    return Decided::Expired;
                }
                if approve {
                    Decided::Approved
                } else {
                    Decided::Declined
                }
            }
        }
    }

    /// Answers `message`. Returns at once; events arrive on the stream.
    ///
    /// Call it in arrival order: jobs of one conversation run in the order of
    /// these calls.
    pub fn handle(&self, message: InboundMessage) -> ReplyStream {
        self.start(message, Job::Message)
    }

    /// Answers a command the platform handed over typed (Discord slash commands):
    /// nothing is re-parsed from text. Returns at once, like [`handle`](Self::handle).
    pub fn handle_command(&self, message: InboundMessage, command: Command) -> ReplyStream {
        self.start(message, Job::Command(command))
    }

    /// Answers `message.text` as a question, never as a command (Discord's `/ask`).
    pub fn handle_question(&self, message: InboundMessage) -> ReplyStream {
        self.start(message, Job::Question)
    }

    /// Answers a voice note: checks the sender, the format and the limits,
    /// downloads it, transcribes it, shows the transcript
    /// ([`ReplyEvent::Transcript`]) and answers it as typed text (never as a
    /// command). Returns at once, like [`handle`](Self::handle).
    pub fn handle_voice(&self, message: InboundMessage, note: VoiceNote) -> ReplyStream {
        self.start(message, Job::Voice(note))
    }

    /// Answers photos and documents: checks the sender, the kinds and the sizes, downloads
    /// them, reads them ([`FileReader`](crate::files::FileReader)) and answers the message's
    /// text as the question (a picture without a caption: "What's in this picture?"; a
    /// document without one: a summary). Returns at once, like [`handle`](Self::handle).
    pub fn handle_files(
        &self,
        message: InboundMessage,
        files: Vec<crate::files::IncomingFile>,
    ) -> ReplyStream {
        self.start(message, Job::Files(files))
    }

    fn start(&self, message: InboundMessage, job: Job) -> ReplyStream {
        let (tx, rx) = mpsc::channel(256);
        let inner = Arc::clone(&self.inner);
        if !inner.deps.access.admits_message(&message) {
            let stranger = message.user_key();
            if inner.refused.contains_key(&stranger) {
                // Told a moment ago: a stranger who keeps writing is not answered each time.
                tracing::debug!(user = %stranger, "ignored a stranger refused recently");
                return rx;
            }
            inner.refused.insert(stranger, ());
            tracing::info!(platform = %message.platform, user = %message.user_id, "refused a user who is not allowed (on no allow-list)");
            let text = AccessPolicy::refusal(
                message.platform,
                &message.user_id,
                inner.lang_of(&message, None),
            );
            let _ = tx.try_send(ReplyEvent::Finished { text, turn: None });
            return rx;
        }
        let scope = message.scope();
        crate::telemetry::message_in(message.platform);
        if inner.config.log_content {
            // Only when the owner asked for it (HEARTH_LOG_CONTENT): logs hold no one's words
            // otherwise.
            tracing::debug!(scope = %scope, text = %message.text, "message");
        }
        // A new message while an action waits for this person's tap: the action is not
        // run (they moved on), and the new message is answered once that job ends.
        inner.supersede(&scope, &message.user_key());
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let (job_id, previous) = {
            let mut chains = inner.chains.lock().unwrap_or_else(|e| e.into_inner());
            chains.next_id += 1;
            let id = chains.next_id;
            (id, chains.tails.insert(scope.clone(), (id, done_rx)))
        };
        inner.tracker.clone().spawn(async move {
            if let Some((_, previous)) = previous {
                let _ = previous.await;
            }
            let reply = Reply {
                tx,
                can_ask: true,
                platform: message.platform,
            };
            // For the one reply that cannot read settings: a panic's.
            let panic_lang = inner.lang_of(&message, None);
            let job = async {
                match job {
                    Job::Message => {
                        let command = commands::parse(&message.text);
                        inner.run_job(message, &reply, command).await
                    }
                    Job::Question => inner.run_job(message, &reply, None).await,
                    Job::Command(command) => inner.run_job(message, &reply, Some(command)).await,
                    // A transcript is answered as typed text, never as a command.
                    Job::Voice(note) => match inner.transcribe_note(message, note, &reply).await {
                        Some(message) => inner.run_job(message, &reply, None).await,
                        None => None,
                    },
                    Job::Files(files) => inner.answer_files(message, files, &reply).await,
                }
            };
            let exchange = match contain_panic("a message", job).await {
                Some(exchange) => exchange,
                None => {
                    reply
                        .fail(lang::t(panic_lang, "something-went-wrong"))
                        .await;
                    None
                }
            };
            drop(reply);
            if let Some(exchange) = exchange {
                let worker = Arc::clone(&inner);
                inner
                    .tracker
                    .spawn(async move { worker.capture(exchange).await });
            }
            let mut chains = inner.chains.lock().unwrap_or_else(|e| e.into_inner());
            if chains
                .tails
                .get(&scope)
                .is_some_and(|(id, _)| *id == job_id)
            {
                chains.tails.remove(&scope);
            }
            drop(done_tx);
        });
        rx
    }

    /// The adapters' outbound sides, for adapters to register with and for senders.
    pub fn outbounds(&self) -> &crate::outbound::Outbounds {
        &self.inner.deps.outbounds
    }

    /// Sends `text` to `user` privately, for the owner (`hearth send`) and, later, for
    /// reminders. Only people on an allow-list are written to.
    pub async fn send_to_user(
        &self,
        user: &crate::UserKey,
        message: crate::outbound::OutboundMessage,
    ) -> Result<Vec<String>, SendError> {
        let (platform, user_id) = user.parts();
        if !self.inner.deps.access.is_allowed(platform, user_id) {
            return Err(SendError::NotAllowed(user.clone()));
        }
        let to = crate::outbound::Recipient::User(user.clone());
        let ids = self.inner.deps.outbounds.send(&to, message).await?;
        tracing::info!(user = %user, messages = ids.len(), "sent a message on the owner's behalf");
        Ok(ids)
    }

    /// The memory service.
    pub fn memories(&self) -> &Arc<crate::memory::Memories> {
        &self.inner.deps.memories
    }

    /// Deletes everything stored about `user` (`/forget everything`, `hearth user erase`):
    /// conversations, memories and their vectors, settings, reminders and schedules, filed
    /// documents, and what the service keeps of them in memory. What there was, counted
    /// before.
    pub async fn erase_person(&self, user: &crate::UserKey) -> Result<Erased, StoreError> {
        self.inner.erase_person(user).await
    }

    /// Messages taken from a platform and not answered yet: adapters keep each one there
    /// before the platform counts it delivered, and answer what is left after a crash.
    pub fn inbox(&self) -> &Arc<dyn crate::store::InboxStore> {
        &self.inner.deps.inbox
    }

    /// Everything stored about `user` (memories, conversations, settings) as JSON,
    /// for `/export` and `hearth memory export`.
    pub async fn export(&self, user: &crate::UserKey) -> Result<serde_json::Value, StoreError> {
        self.inner.export_json(user).await.map(|(json, _, _)| json)
    }

    /// Records the platform ids of the messages that carried a stored turn.
    pub async fn note_delivered(&self, turn: &TurnRef, message_ids: Vec<String>) {
        if let Err(e) = self
            .inner
            .deps
            .history
            .set_message_ids(&turn.scope, turn.seq, message_ids)
            .await
        {
            tracing::warn!(error = %e, scope = %turn.scope, "could not record delivered message ids");
        }
    }

    /// Stops taking part in replies: waits up to `grace` for in-flight replies,
    /// then cancels the rest (their partial answers are saved) and flushes storage.
    pub async fn shutdown(&self, grace: Duration) {
        let inner = &self.inner;
        inner.background.cancel();
        inner.tracker.close();
        if tokio::time::timeout(grace, inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::info!("cancelling replies still in flight");
            inner.cancel.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), inner.tracker.wait()).await;
        }
        if let Err(e) = inner.flush().await {
            tracing::error!(error = %e, "could not flush storage at shutdown");
        }
    }
}

/// Why [`ChatService::send_to_user`] sent nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The person is on no allow-list: the bot does not write to strangers.
    #[error("{0} is not allowed to use this bot (add the id to the platform's allow-list first)")]
    NotAllowed(crate::UserKey),
    /// The platform refused or failed.
    #[error(transparent)]
    Outbound(#[from] crate::outbound::OutboundError),
}

/// The sending half of a reply; a closed receiver (adapter gone) is not an error.
struct Reply {
    tx: mpsc::Sender<ReplyEvent>,
    /// Where it goes (counted when it ends).
    platform: crate::Platform,
    /// Someone reads this reply and can tap a confirmation button (not so for a
    /// scheduled prompt).
    can_ask: bool,
}

impl Reply {
    async fn send(&self, event: ReplyEvent) {
        if matches!(
            event,
            ReplyEvent::Finished { .. } | ReplyEvent::Failed { .. }
        ) {
            crate::telemetry::message_out(self.platform);
        }
        let _ = self.tx.send(event).await;
    }

    async fn finish(&self, text: impl Into<String>) {
        self.send(ReplyEvent::Finished {
            text: text.into(),
            turn: None,
        })
        .await;
    }

    async fn fail(&self, message: impl Into<String>) {
        self.send(ReplyEvent::Failed {
            message: message.into(),
        })
        .await;
    }
}

impl Inner {
    /// Runs `command`, or answers the message when there is none; returns
    /// the exchange to learn from, if it was a model answer.
    async fn run_job(
        &self,
        message: InboundMessage,
        reply: &Reply,
        command: Option<Command>,
    ) -> Option<answer::Exchange> {
        let result = match command {
            Some(command) => self
                .run_command(command, &message, reply)
                .await
                .map(|()| None),
            None => match self.reminder_in_text(&message, reply).await {
                Ok(true) => Ok(None),
                Ok(false) => self.answer(&message, reply).await,
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(exchange) => exchange,
            Err(e) => {
                tracing::error!(error = %e, scope = %message.scope(), "storage failed while handling a message");
                crate::telemetry::error("store");
                // Storage failed: the person's setting may be unreadable too.
                let lang = self.lang_of(&message, None);
                reply.fail(lang::t(lang, "storage-trouble")).await;
                None
            }
        }
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.deps.history.flush().await?;
        self.deps.settings.flush().await
    }

    async fn run_command(
        &self,
        command: Command,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        match command {
            Command::Start => {
                let lang = self.person_lang(message).await;
                let text = format!(
                    "{} {}",
                    lang::tr(lang, "start-greeting", &[("name", &message.display_name)]),
                    commands::help_text(lang)
                );
                reply.finish(text).await;
            }
            Command::Help => {
                let lang = self.person_lang(message).await;
                reply.finish(commands::help_text(lang)).await
            }
            Command::Reset => {
                self.deps.history.reset(&message.scope()).await?;
                self.documents.clear(&message.scope());
                self.pictures.invalidate(&message.scope());
                self.flush().await?;
                let lang = self.person_lang(message).await;
                reply.finish(lang::t(lang, "reset-done")).await;
            }
            Command::Model(choice) => self.model_command(choice, message, reply).await?,
            Command::Remember(text) => self.remember_command(text, message, reply).await?,
            Command::Memory(arg) => self.memory_command(arg, message, reply).await?,
            Command::Forget(arg) => self.forget_command(arg, message, reply).await?,
            Command::Export => self.export_command(message, reply).await?,
            Command::Notes(arg) => self.notes_command(arg, message, reply).await?,
            Command::Remind(arg) => {
                self.remind_command(arg, crate::remind::Kind::Reminder, message, reply)
                    .await?
            }
            Command::Reminders(arg) => {
                self.reminders_command(arg, crate::remind::Kind::Reminder, message, reply)
                    .await?
            }
            Command::Schedule(arg) => {
                self.remind_command(arg, crate::remind::Kind::Prompt, message, reply)
                    .await?
            }
            Command::Schedules(arg) => {
                self.reminders_command(arg, crate::remind::Kind::Prompt, message, reply)
                    .await?
            }
            Command::Timezone(arg) => self.timezone_command(arg, message, reply).await?,
            Command::Language(arg) => self.language_command(arg, message, reply).await?,
            Command::Unknown(name) => {
                tracing::info!(command = %name, "unknown command");
                let lang = self.person_lang(message).await;
                reply
                    .finish(lang::tr(lang, "unknown-command", &[("name", &name)]))
                    .await;
            }
        }
        Ok(())
    }

    async fn model_command(
        &self,
        choice: Option<String>,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let user = message.user_key();
        let mut settings = self.deps.settings.settings(&user).await?;
        let current = settings
            .model
            .clone()
            .unwrap_or_else(|| self.config.default_model.clone());
        let available = match self.deps.model.list_models().await {
            Ok(models) => models,
            Err(e) => {
                tracing::warn!(error = %e, "could not list models");
                let lang = self.lang_of(message, settings.language.as_deref());
                reply.fail(e.user_message(lang)).await;
                return Ok(());
            }
        };
        let Some(wanted) = choice else {
            let mut text = format!("Your model: `{current}`\n\nAvailable on the server:\n");
            // Which can see pictures (asked once per model, then remembered).
            let facts = futures::future::join_all(
                available.iter().take(50).map(|name| self.model_facts(name)),
            )
            .await;
            for (i, name) in available.iter().enumerate() {
                let sees = facts
                    .get(i)
                    .is_some_and(|f| f.as_ref().is_ok_and(|f| f.vision));
                let mut mark = String::new();
                if sees {
                    mark.push_str(" 🖼 sees pictures");
                }
                if *name == current {
                    mark.push_str(" (current)");
                }
                text.push_str(&format!("- `{name}`{mark}\n"));
            }
            if available.is_empty() {
                text.push_str("(none: install one with `ollama pull NAME`)\n");
            }
            if let Some(vision) = &self.config.vision_model {
                text.push_str(&format!(
                    "\nPictures go to `{vision}` when your model cannot see them.\n"
                ));
            }
            text.push_str("\nPick one with /model NAME, or /model default.");
            reply.finish(text).await;
            return Ok(());
        };
        if wanted.eq_ignore_ascii_case("default") {
            settings.model = None;
        } else {
            let latest = format!("{wanted}:latest");
            let Some(found) = available.iter().find(|m| **m == wanted || **m == latest) else {
                let names: Vec<String> = available.iter().map(|m| format!("`{m}`")).collect();
                reply
                    .finish(format!(
                        "There is no model `{wanted}` on the server. Available: {}.",
                        names.join(", ")
                    ))
                    .await;
                return Ok(());
            };
            settings.model = Some(found.clone());
        }
        self.deps.settings.set_settings(&user, &settings).await?;
        self.flush().await?;
        let now = settings
            .model
            .unwrap_or_else(|| self.config.default_model.clone());
        reply
            .finish(format!("Done: I will answer you with `{now}`."))
            .await;
        Ok(())
    }

    /// Records a user or assistant turn.
    async fn record(
        &self,
        scope: &ScopeKey,
        role: Role,
        text: &str,
        message_ids: Vec<String>,
    ) -> Result<u64, StoreError> {
        let turn = self.turn(role, text, message_ids);
        self.deps.history.append(scope, turn).await
    }

    /// A turn said now.
    fn turn(&self, role: Role, text: &str, message_ids: Vec<String>) -> Turn {
        Turn {
            role,
            text: text.to_owned(),
            at: self.deps.clock.now(),
            conversation: 0,
            message_ids,
        }
    }

    /// Waits for a model slot, telling the user their place while they wait.
    /// `None` when the queue is full: the caller tells the user the bot is busy.
    async fn acquire_slot(
        &self,
        reply: &Reply,
        lang: crate::lang::Lang,
    ) -> Option<tokio::sync::SemaphorePermit<'_>> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Some(permit);
        }
        let claimed = self
            .waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |waiting| {
                (waiting < self.config.max_queue).then_some(waiting + 1)
            });
        crate::telemetry::queue_depth(self.waiting.load(Ordering::SeqCst));
        let Ok(before) = claimed else {
            tracing::warn!(
                max_queue = self.config.max_queue,
                "the model queue is full; turning a message away"
            );
            return None;
        };
        reply
            .send(ReplyEvent::Queued {
                position: before + 1,
                notice: crate::lang::tr(lang, "queued", &[("position", &(before + 1).to_string())]),
            })
            .await;
        let permit = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let left = self.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
        crate::telemetry::queue_depth(left);
        Some(permit)
    }
}

/// What the user sees when handling their message panicked (the panic is logged), in
/// their language.
pub fn something_went_wrong(lang: crate::lang::Lang) -> String {
    crate::lang::t(lang, "something-went-wrong")
}

/// Runs `job`; a panic inside it is contained, logged, and returns `None`.
pub async fn contain_panic<T>(what: &str, job: impl std::future::Future<Output = T>) -> Option<T> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(job).catch_unwind().await {
        Ok(value) => Some(value),
        Err(panic) => {
            let cause = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(panic = %cause, "a panic while handling {what} was contained");
            crate::telemetry::error("panic");
            None
        }
    }
}

#[cfg(all(test, feature = "sled"))]
mod erase_tests;
#[cfg(test)]
mod files_tests;
#[cfg(test)]
mod reminder_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tool_tests;
#[cfg(all(test, feature = "opus"))]
mod voice_tests;
