//! Telegram adapter for Hearth, on teloxide.
//!
//! It translates Telegram updates into core [`InboundMessage`]s and core
//! [`ReplyEvent`](bot_core::ReplyEvent)s back into Telegram messages. No
//! business logic lives here.
//!
//! - [`run`]: start-up checks, command registration, long polling until shutdown.
//! - [`translate`]: Telegram message -> [`InboundMessage`] (private chats; groups
//!   only when enabled and the bot is mentioned or replied to).
//! - [`reply`]: streams one reply into one edited message, split at 4096
//!   characters, paced per chat, honouring 429 `retry_after`.
//! - [`format`]: Markdown -> Telegram HTML and splitting.
//! - `inbox`: each message is kept in the core's inbox before Telegram counts it delivered
//!   and let go of once answered; what a crash left is answered at the next start.

pub mod format;
mod inbox;
pub mod reply;
pub mod translate;

use std::sync::Arc;
use std::time::Duration;

use bot_core::ChatService;
use bot_core::service::{contain_panic, something_went_wrong};
use secrecy::{ExposeSecret, SecretString};
use teloxide::dispatching::{Dispatcher, UpdateFilterExt};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::types::{BotCommand, Me};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;

pub use reply::Pacer;

/// Settings of the Telegram adapter.
#[derive(Clone, Debug)]
pub struct TelegramConfig {
    /// The bot token from @BotFather. Never logged.
    pub token: SecretString,
    /// Bot API base URL: the official API, a self-hosted Bot API server, or a test fake.
    pub api_url: Url,
    /// Answer in group chats (only when mentioned or replied to).
    pub allow_groups: bool,
    /// Shortest time between two edits or sends in one chat.
    pub edit_interval: Duration,
}

/// What can stop the Telegram adapter from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelegramError {
    /// Telegram refused the token.
    #[error("Telegram refused the bot token (check TELEGRAM_BOT_TOKEN): {0}")]
    InvalidToken(String),
    /// The Bot API server could not be reached.
    #[error("the Telegram Bot API at {url} is not reachable: {cause}")]
    Unreachable {
        /// The API base URL (never contains the token).
        url: String,
        /// What went wrong.
        cause: String,
    },
}

/// Builds a teloxide bot for `config`.
pub fn bot(config: &TelegramConfig) -> Bot {
    Bot::new(config.token.expose_secret()).set_api_url(config.api_url.clone())
}

/// Checks the token with `getMe`; returns the bot's own user.
pub async fn check_token(config: &TelegramConfig) -> Result<Me, TelegramError> {
    bot(config).get_me().await.map_err(|e| classify(config, e))
}

fn classify(config: &TelegramConfig, error: teloxide::RequestError) -> TelegramError {
    use teloxide::{ApiError, RequestError};
    match error {
        RequestError::Api(ApiError::InvalidToken) => {
            TelegramError::InvalidToken("getMe was refused".into())
        }
        RequestError::Api(other) => TelegramError::InvalidToken(other.to_string()),
        // teloxide removes the token from network errors; the API URL never contains it.
        other => TelegramError::Unreachable {
            url: config.api_url.to_string(),
            cause: other.to_string(),
        },
    }
}

/// The Telegram side of the core's [`Outbound`](bot_core::outbound::Outbound) port.
pub struct TelegramOutbound {
    bot: Bot,
    pacer: Pacer,
}

impl TelegramOutbound {
    /// Sends through `bot`, sharing `pacer` with the replies so both respect one pace.
    pub fn new(bot: Bot, pacer: Pacer) -> Self {
        Self { bot, pacer }
    }
}

/// The Telegram chat a recipient is, and whether it is a person (their private chat).
fn chat_of(
    to: &bot_core::outbound::Recipient,
) -> Result<(ChatId, bool), bot_core::outbound::OutboundError> {
    let (id, to_person) = to.target();
    let chat = id.parse::<i64>().map(ChatId).map_err(|_| {
        bot_core::outbound::OutboundError::UnknownRecipient(format!("telegram:{id}"))
    })?;
    Ok((chat, to_person))
}

#[async_trait::async_trait]
impl bot_core::outbound::Outbound for TelegramOutbound {
    async fn send(
        &self,
        to: &bot_core::outbound::Recipient,
        message: bot_core::outbound::OutboundMessage,
    ) -> Result<Vec<String>, bot_core::outbound::OutboundError> {
        let (chat, to_person) = chat_of(to)?;
        reply::send_outbound(&self.bot, &self.pacer, chat, to_person, message, None).await
    }

    async fn send_committed(
        &self,
        to: &bot_core::outbound::Recipient,
        message: bot_core::outbound::OutboundMessage,
        commit: bot_core::outbound::Commit,
    ) -> Result<Vec<String>, bot_core::outbound::OutboundError> {
        let (chat, to_person) = chat_of(to)?;
        reply::send_outbound(
            &self.bot,
            &self.pacer,
            chat,
            to_person,
            message,
            Some(commit),
        )
        .await
    }
}

/// Everything a message handler needs.
#[derive(Clone)]
struct Context {
    service: ChatService,
    me: Arc<Me>,
    allow_groups: bool,
    pacer: Pacer,
    /// Replies being delivered; waited for at shutdown.
    deliveries: TaskTracker,
    /// Per chat, the end of the reply delivered last: the next reply in that chat waits
    /// for it, so a chat's replies appear in the order of its messages even when Telegram
    /// makes one of them wait (429).
    tails: Arc<std::sync::Mutex<Tails>>,
    /// Albums being gathered, by media group id, with each part's inbox receipt.
    albums: Arc<std::sync::Mutex<std::collections::HashMap<String, Album>>>,
}

/// The inbox receipts of the messages one reply answers.
type Receipts = Vec<bot_core::inbox::Receipt>;

/// The parts of an album gathered so far, each with its inbox receipts.
type Album = Vec<(Message, Receipts)>;

/// Per chat, the end of the reply being delivered last.
type Tails = std::collections::HashMap<ChatId, tokio::sync::oneshot::Receiver<()>>;

async fn answered(receipts: Receipts) {
    for receipt in receipts {
        receipt.answered().await;
    }
}

#[async_trait::async_trait]
impl bot_core::adapter::Adapter for TelegramConfig {
    fn name(&self) -> &'static str {
        "Telegram"
    }

    async fn run(
        self: Box<Self>,
        service: ChatService,
        shutdown: CancellationToken,
    ) -> Result<(), bot_core::adapter::AdapterError> {
        run(*self, service, shutdown).await.map_err(Into::into)
    }
}

/// Runs the adapter until `shutdown` is cancelled; then stops polling and
/// waits for the replies in flight (the service decides how long).
pub async fn run(
    config: TelegramConfig,
    service: ChatService,
    shutdown: CancellationToken,
) -> Result<(), TelegramError> {
    let bot = bot(&config);
    let me = bot.get_me().await.map_err(|e| classify(&config, e))?;
    tracing::info!(username = %me.username(), "connected to Telegram");
    // The menu in English for everyone, and in each other language for apps set to it.
    for lang in bot_core::lang::Lang::ALL {
        let commands: Vec<BotCommand> = bot_core::commands::COMMANDS
            .iter()
            .map(|command| {
                BotCommand::new(command.name, bot_core::commands::description(lang, command))
            })
            .collect();
        let request = bot.set_my_commands(commands);
        let sent = if lang == bot_core::lang::Lang::En {
            request.await
        } else {
            request.language_code(lang.code()).await
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, language = lang.code(), "could not register the command menu");
        }
    }
    let pacer = Pacer::new(config.edit_interval);
    service.outbounds().register(
        bot_core::Platform::Telegram,
        Arc::new(TelegramOutbound::new(bot.clone(), pacer.clone())),
    );
    let context = Context {
        service,
        me: Arc::new(me),
        allow_groups: config.allow_groups,
        pacer,
        deliveries: TaskTracker::new(),
        tails: Arc::default(),
        albums: Arc::default(),
    };
    let deliveries = context.deliveries.clone();
    // What a crash left unanswered goes first, in the order it came.
    let left = inbox::unanswered(&context.service).await;
    if !left.is_empty() {
        tracing::info!(
            messages = left.len(),
            "answering messages taken before a restart"
        );
    }
    let mut replayed = std::collections::HashSet::new();
    for (update, message, receipt) in left {
        replayed.insert(update.id.0);
        take_message(bot.clone(), message, context.clone(), vec![receipt]).await;
    }
    let listener = inbox::Journaled::new(
        bot.clone(),
        Duration::from_secs(10),
        context.service.clone(),
        replayed,
    )
    .await;
    let handler = dptree::entry()
        .branch(Update::filter_message().endpoint(handle_message))
        .branch(Update::filter_callback_query().endpoint(handle_callback));
    let mut dispatcher = Dispatcher::builder(bot, handler)
        .dependencies(dptree::deps![context])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text(
            "error in the Telegram handler",
        ))
        .build();
    let token = dispatcher.shutdown_token();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        // The dispatcher refuses to shut down before it has started; retry until it runs.
        loop {
            match token.shutdown() {
                Ok(done) => {
                    done.await;
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    tracing::info!("polling Telegram for updates");
    dispatcher
        .dispatch_with_listener(
            listener,
            LoggingErrorHandler::with_custom_text("error getting Telegram updates"),
        )
        .await;
    deliveries.close();
    deliveries.wait().await;
    tracing::info!("Telegram adapter stopped");
    Ok(())
}

/// Downloads a file by id (teloxide removes the token from its errors).
fn fetch_file(
    bot: Bot,
    id: String,
) -> futures::future::BoxFuture<'static, Result<Vec<u8>, String>> {
    use teloxide::net::Download;
    Box::pin(async move {
        let file = bot
            .get_file(teloxide::types::FileId(id))
            .await
            .map_err(|e| e.to_string())?;
        let mut bytes = Vec::with_capacity(file.size as usize);
        bot.download_file(&file.path, &mut bytes)
            .await
            .map_err(|e| e.to_string())?;
        Ok(bytes)
    })
}

/// How long the pictures of an album are gathered after its first one arrives: Telegram
/// sends each as an update of its own, within a moment of each other.
const ALBUM_WAIT: Duration = Duration::from_millis(800);

/// Takes one update: translates it and hands it to the core at once (so the core sees
/// one chat's messages in arrival order), then delivers the reply in a task of its own so
/// a long answer in one chat never holds up updates for the others. A panic anywhere in
/// here is contained: logged, and the chat is told something went wrong.
async fn handle_message(
    bot: Bot,
    update: Update,
    message: Message,
    context: Context,
) -> ResponseResult<()> {
    let receipts = inbox::receipt(&context.service, &update)
        .into_iter()
        .collect();
    take_message(bot, message, context, receipts).await;
    Ok(())
}

/// Hands one message to the core; `receipts` are let go of once it is answered.
async fn take_message(bot: Bot, message: Message, context: Context, receipts: Receipts) {
    let chat = message.chat.id;
    let sender = sender_of(&message);
    if message.media_group_id().is_some()
        && (message.photo().is_some() || message.document().is_some())
    {
        gather_album(bot, message, context, receipts);
        return;
    }
    let started = contain_panic("a Telegram update", async {
        start_reply(&bot, &message, &context)
    })
    .await;
    match started {
        Some(Some((target, events))) => {
            deliver_in_background(bot, context, target, events, sender, receipts)
        }
        Some(None) => answered(receipts).await,
        None => {
            say_something_went_wrong(&bot, &context, chat, sender).await;
            answered(receipts).await;
        }
    }
}

fn sender_of(message: &Message) -> Option<(bot_core::UserKey, Option<String>)> {
    message.from.as_ref().map(|from| {
        let user = bot_core::UserKey::new(bot_core::Platform::Telegram, &from.id.0.to_string());
        (user, from.language_code.clone())
    })
}

/// Delivers `events` in a task of its own (waited for at shutdown).
fn deliver_in_background(
    bot: Bot,
    context: Context,
    target: reply::Target,
    events: bot_core::ReplyStream,
    sender: Option<(bot_core::UserKey, Option<String>)>,
    receipts: Receipts,
) {
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let previous = {
        let mut tails = context.tails.lock().unwrap_or_else(|e| e.into_inner());
        if tails.len() >= 1000 {
            // Only chats with a reply still being delivered need an entry.
            tails.retain(|_, tail| {
                matches!(
                    tail.try_recv(),
                    Err(tokio::sync::oneshot::error::TryRecvError::Empty)
                )
            });
        }
        tails.insert(target.chat, finished)
    };
    let tracker = context.deliveries.clone();
    tracker.spawn(async move {
        if let Some(previous) = previous {
            // Ends when the previous reply's task does (delivered, failed or panicked).
            let _ = previous.await;
        }
        let _done = done;
        let delivered = contain_panic("a Telegram reply", async {
            reply::deliver(&bot, &context.pacer, target, events).await
        })
        .await;
        match delivered {
            Some(Some((turn, ids))) => context.service.note_delivered(&turn, ids).await,
            Some(None) => {}
            None => say_something_went_wrong(&bot, &context, target.chat, sender).await,
        }
        answered(receipts).await;
    });
}

/// Collects the pictures (or documents) of one album and answers them as one message,
/// with the caption one of them carries.
fn gather_album(bot: Bot, message: Message, context: Context, receipts: Receipts) {
    let Some(group) = message.media_group_id().map(|g| g.0.clone()) else {
        return;
    };
    let first = {
        let mut albums = context.albums.lock().unwrap_or_else(|e| e.into_inner());
        if albums.len() > 1000 && !albums.contains_key(&group) {
            tracing::warn!("too many albums being gathered; dropping a picture");
            drop(albums);
            tokio::spawn(answered(receipts));
            return;
        }
        let parts = albums.entry(group.clone()).or_default();
        parts.push((message, receipts));
        parts.len() == 1
    };
    if !first {
        return;
    }
    let tracker = context.deliveries.clone();
    tracker.spawn(async move {
        tokio::time::sleep(ALBUM_WAIT).await;
        let Some(mut parts) = context
            .albums
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&group)
        else {
            return;
        };
        parts.sort_by_key(|(m, _)| m.id.0);
        let (parts, receipts): (Vec<Message>, Vec<Receipts>) = parts.into_iter().unzip();
        let receipts: Receipts = receipts.into_iter().flatten().collect();
        let lead = parts
            .iter()
            .find(|m| m.caption().is_some_and(|c| !c.trim().is_empty()))
            .unwrap_or(&parts[0])
            .clone();
        let sender = sender_of(&lead);
        let started = contain_panic("a Telegram album", async {
            let inbound = translate::to_inbound(&lead, &context.me, context.allow_groups)?;
            let config = context.service.config();
            let files: Vec<bot_core::files::IncomingFile> = parts
                .iter()
                .filter_map(|m| translate::file(m, config.image_max_side, config.image_max_bytes))
                .map(|(kind, name, attachment)| bot_core::files::IncomingFile {
                    kind,
                    name,
                    fetch: fetch_file(bot.clone(), attachment.id.clone()),
                    attachment,
                })
                .collect();
            tracing::debug!(chat = %inbound.chat.id, parts = files.len(), "album received");
            let events = context.service.handle_files(inbound, files);
            let target = reply::Target {
                chat: lead.chat.id,
                reply_to: (!lead.chat.is_private()).then_some(lead.id),
            };
            Some((target, events))
        })
        .await;
        match started {
            Some(Some((target, events))) => {
                deliver_in_background(bot, context, target, events, sender, receipts)
            }
            Some(None) => answered(receipts).await,
            None => {
                say_something_went_wrong(&bot, &context, lead.chat.id, sender).await;
                answered(receipts).await;
            }
        }
    });
}

fn start_reply(
    bot: &Bot,
    message: &Message,
    context: &Context,
) -> Option<(reply::Target, bot_core::ReplyStream)> {
    let inbound = translate::to_inbound(message, &context.me, context.allow_groups)?;
    tracing::debug!(chat = %inbound.chat.id, user = %inbound.user_id, "message received");
    let config = context.service.config();
    let events = if let Some(attachment) = translate::voice_attachment(message) {
        let fetch = fetch_file(bot.clone(), attachment.id.clone());
        let note = bot_core::VoiceNote { attachment, fetch };
        context.service.handle_voice(inbound, note)
    } else if let Some((kind, name, attachment)) =
        translate::file(message, config.image_max_side, config.image_max_bytes)
    {
        let file = bot_core::files::IncomingFile {
            kind,
            name,
            fetch: fetch_file(bot.clone(), attachment.id.clone()),
            attachment,
        };
        context.service.handle_files(inbound, vec![file])
    } else {
        context.service.handle(inbound)
    };
    let target = reply::Target {
        chat: message.chat.id,
        reply_to: (!message.chat.is_private()).then_some(message.id),
    };
    Some((target, events))
}

/// A tap on a confirmation button: the core decides (only the person who asked counts);
/// Telegram's spinner is answered with a short note, and the buttons go once decided.
async fn handle_callback(bot: Bot, query: CallbackQuery, context: Context) -> ResponseResult<()> {
    let parsed = query
        .data
        .as_deref()
        .and_then(bot_core::actions::parse_button_data);
    let Some((id, approve)) = parsed else {
        // Not one of ours: just stop the spinner.
        let _ = bot.answer_callback_query(query.id.clone()).await;
        return Ok(());
    };
    let user = bot_core::UserKey::new(bot_core::Platform::Telegram, &query.from.id.0.to_string());
    let decided = context.service.decide(&id, &user, approve);
    let lang = context
        .service
        .language_of(&user, query.from.language_code.as_deref())
        .await;
    let note = decided.note(lang);
    if let Err(e) = bot.answer_callback_query(query.id.clone()).text(note).await {
        tracing::warn!(error = %e, "could not answer a button tap");
    }
    if decided != bot_core::Decided::NotYours
        && let Some(message) = &query.message
    {
        let outcome = decided.outcome(lang);
        // An edit without a keyboard removes the buttons: one tap per question.
        let asked = message
            .regular_message()
            .and_then(|m| m.text())
            .unwrap_or_default();
        let edited = bot
            .edit_message_text(
                message.chat().id,
                message.id(),
                format!("{asked}\n\n{outcome}"),
            )
            .await;
        if let Err(e) = edited {
            tracing::debug!(error = %e, "could not mark a confirmation as answered");
        }
    }
    Ok(())
}

/// Tells a chat that handling a message failed (the panic is logged), in the language
/// of the person who sent it.
async fn say_something_went_wrong(
    bot: &Bot,
    context: &Context,
    chat: ChatId,
    sender: Option<(bot_core::UserKey, Option<String>)>,
) {
    let lang = match &sender {
        Some((user, locale)) => context.service.language_of(user, locale.as_deref()).await,
        None => context.service.default_language(),
    };
    if let Err(e) = bot.send_message(chat, something_went_wrong(lang)).await {
        tracing::warn!(error = %e, "could not tell a chat that something went wrong");
    }
}
