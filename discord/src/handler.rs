//! serenity event handler: gateway events -> core service -> Discord replies.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bot_core::pacer::Pacer;
use bot_core::service::{contain_panic, something_went_wrong};
use bot_core::{ChatService, Platform};
use serenity::all::{
    AutocompleteChoice, ChannelId, Command, CommandInteraction, CommandOptionType,
    ComponentInteraction, Context, CreateAllowedMentions, CreateAutocompleteResponse,
    CreateCommand, CreateCommandOption, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateMessage, EventHandler, GuildId, Interaction, Message,
    Ready, ResumedEvent, UserId,
};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use crate::inbox;
use crate::reply::{self, PaceKey, Surface};
use crate::translate;

/// How long `/model` autocomplete may wait for the model list (Discord allows 3 s).
const AUTOCOMPLETE_BUDGET: Duration = Duration::from_millis(2000);

/// Adapter settings the handler needs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Servers to register commands in; empty = global.
    pub command_guilds: Vec<GuildId>,
    /// Answer mentions and replies in server channels.
    pub mention_chat: bool,
    /// Shortest time between two edits or sends in one channel.
    pub edit_interval: Duration,
}

/// Handles gateway events. One per client.
pub struct Handler {
    service: ChatService,
    settings: Settings,
    pacer: Pacer<PaceKey>,
    me: OnceLock<UserId>,
    sessions: AtomicUsize,
    tracker: TaskTracker,
}

impl Handler {
    /// A handler answering through `service`; deliveries are counted in `tracker`.
    pub fn new(service: ChatService, settings: Settings, tracker: TaskTracker) -> Self {
        Self {
            pacer: Pacer::new(settings.edit_interval),
            service,
            settings,
            me: OnceLock::new(),
            sessions: AtomicUsize::new(0),
            tracker,
        }
    }

    /// The pacer of channel messages, shared with the outbound side.
    pub fn pacer(&self) -> Pacer<PaceKey> {
        self.pacer.clone()
    }

    async fn register_commands(&self, ctx: &Context) {
        let commands = slash_commands();
        if self.settings.command_guilds.is_empty() {
            match Command::set_global_commands(&ctx.http, commands).await {
                Ok(set) => tracing::info!(
                    count = set.len(),
                    "registered global slash commands (they can take a while to appear)"
                ),
                Err(e) => tracing::warn!(error = %e, "could not register the slash commands"),
            }
            return;
        }
        for guild in &self.settings.command_guilds {
            match guild.set_commands(&ctx.http, commands.clone()).await {
                Ok(set) => {
                    tracing::info!(guild = %guild, count = set.len(), "registered slash commands")
                }
                Err(e) => {
                    tracing::warn!(guild = %guild, error = %e, "could not register the slash commands")
                }
            }
        }
    }

    async fn command(&self, ctx: &Context, interaction: CommandInteraction) {
        let received = Instant::now();
        let Some(request) = translate::command_to_inbound(&interaction) else {
            tracing::info!(command = %interaction.data.name, "unknown slash command");
            let user = bot_core::UserKey::new(Platform::Discord, &interaction.user.id.to_string());
            let lang = self
                .service
                .language_of(&user, Some(interaction.locale.as_str()))
                .await;
            let name = interaction.data.name.chars().take(32).collect::<String>();
            let text = bot_core::lang::tr(lang, "unknown-command", &[("name", &name)]);
            respond_now(ctx, &interaction, &text).await;
            return;
        };
        let inbound = request.inbound;
        // A slash command must be answered at once: the core says whether and how to refuse.
        if let Some(refusal) = self.service.refusal(&inbound) {
            respond_now(ctx, &interaction, &refusal).await;
            return;
        }
        let defer = CreateInteractionResponse::Defer(
            CreateInteractionResponseMessage::new().ephemeral(request.ephemeral),
        );
        if let Err(e) = interaction.create_response(&ctx.http, defer).await {
            tracing::warn!(error = %e, "could not acknowledge a slash command");
            return;
        }
        tracing::debug!(command = %interaction.data.name, user = %inbound.user_id, "slash command deferred");
        let kept = inbox::Keeping::Command {
            interaction: &interaction,
        };
        let receipt = inbox::keep(self.service.inbox(), &kept).await;
        self.answer_command(
            ctx,
            interaction,
            request.command,
            inbound,
            request.ephemeral,
            received,
        )
        .await;
        if let Some(receipt) = receipt {
            receipt.answered().await;
        }
    }

    /// Answers a deferred slash command: the answer is edited into its response (while the
    /// token, issued at `received`, lasts).
    async fn answer_command(
        &self,
        ctx: &Context,
        interaction: CommandInteraction,
        command: Option<bot_core::commands::Command>,
        inbound: bot_core::InboundMessage,
        ephemeral: bool,
        received: Instant,
    ) {
        let events = match command {
            Some(command) => self.service.handle_command(inbound, command),
            None => self.service.handle_question(inbound),
        };
        let surface = Surface::Interaction {
            interaction: Box::new(interaction),
            ephemeral,
            received,
        };
        if let Some((turn, ids)) = reply::deliver(&ctx.http, &self.pacer, surface, events).await {
            self.service.note_delivered(&turn, ids).await;
        }
    }

    /// Answers what a crash left unanswered (once, at the first connection), each in its
    /// own task.
    fn answer_left_over(&self, ctx: &Context) {
        let (ctx, this) = (ctx.clone(), self.replayer());
        self.tracker.spawn(async move {
            let left = inbox::unanswered(this.service.inbox()).await;
            if !left.is_empty() {
                tracing::info!(
                    events = left.len(),
                    "answering Discord messages and commands left unanswered by a restart"
                );
            }
            for (kept, receipt) in left {
                let (ctx, this) = (ctx.clone(), this.clone());
                this.tracker.clone().spawn(async move {
                    this.replay(&ctx, kept).await;
                    receipt.answered().await;
                });
            }
        });
    }

    async fn autocomplete(&self, ctx: &Context, interaction: CommandInteraction) {
        let typed = interaction
            .data
            .autocomplete()
            .map(|option| option.value.to_lowercase())
            .unwrap_or_default();
        let membership = translate::command_membership(&interaction);
        let allowed = self.service.admits(
            Platform::Discord,
            &interaction.user.id.to_string(),
            membership.as_ref(),
        );
        let models = if allowed {
            match tokio::time::timeout(AUTOCOMPLETE_BUDGET, self.service.model().list_models())
                .await
            {
                Ok(Ok(models)) => models,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "could not list models for autocomplete");
                    Vec::new()
                }
                Err(_) => {
                    tracing::warn!("listing models for autocomplete took too long");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let choices = models
            .into_iter()
            .filter(|name| name.to_lowercase().contains(&typed))
            .take(25)
            .map(|name| AutocompleteChoice::new(name.clone(), name))
            .collect();
        let response = CreateInteractionResponse::Autocomplete(
            CreateAutocompleteResponse::new().set_choices(choices),
        );
        if let Err(e) = interaction.create_response(&ctx.http, response).await {
            tracing::warn!(error = %e, "could not answer autocomplete");
        }
    }
}

/// Answers an interaction at once with a message only its author sees.
async fn respond_now(ctx: &Context, interaction: &CommandInteraction, text: &str) {
    let response = CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(text)
            .ephemeral(true),
    );
    if let Err(e) = interaction.create_response(&ctx.http, response).await {
        tracing::warn!(error = %e, "could not answer a slash command");
    }
}

/// The registered slash commands: `/ask` and the core's command list.
pub fn slash_commands() -> Vec<CreateCommand> {
    use bot_core::lang::{Lang, t};
    let ask = CreateCommand::new("ask")
        .description("Ask the assistant")
        .description_localized("ko", t(Lang::Ko, "cmd-ask"))
        .add_option(
            CreateCommandOption::new(CommandOptionType::String, "prompt", "What to ask")
                .description_localized("ko", t(Lang::Ko, "arg-ask-prompt"))
                .required(true),
        )
        .add_option(
            CreateCommandOption::new(
                CommandOptionType::Boolean,
                "private",
                "Only you see the answer (your memories may then be used)",
            )
            .description_localized("ko", t(Lang::Ko, "arg-ask-private")),
        );
    let core = translate::registered().map(|spec| {
        // Korean clients see Korean descriptions (Discord's `ko` locale).
        let mut command = CreateCommand::new(spec.name)
            .description(spec.description)
            .description_localized("ko", bot_core::commands::description(Lang::Ko, spec));
        if let Some(argument) = spec.argument {
            command = command.add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    argument.name,
                    argument.description,
                )
                .description_localized(
                    "ko",
                    bot_core::commands::argument_description(Lang::Ko, spec).unwrap_or_default(),
                )
                .required(argument.required)
                .set_autocomplete(argument.autocomplete),
            );
        }
        command
    });
    std::iter::once(ask).chain(core).collect()
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        let _ = self.me.set(ready.user.id);
        let session = self.sessions.fetch_add(1, Ordering::SeqCst);
        if session == 0 {
            tracing::info!(username = %ready.user.name, "connected to the Discord gateway");
            self.answer_left_over(&ctx);
            self.register_commands(&ctx).await;
        } else {
            tracing::info!(
                session = session + 1,
                "reconnected to the Discord gateway (new session)"
            );
        }
    }

    async fn resume(&self, _ctx: Context, _event: ResumedEvent) {
        tracing::info!("reconnected to the Discord gateway (session resumed)");
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let _guard = self.tracker.token();
        let channel = match &interaction {
            Interaction::Command(command) => {
                let user = bot_core::UserKey::new(Platform::Discord, &command.user.id.to_string());
                Some((command.channel_id, user, Some(command.locale.clone())))
            }
            _ => None,
        };
        let handled = contain_panic("a Discord interaction", async {
            match interaction {
                Interaction::Command(command) => self.command(&ctx, command).await,
                Interaction::Autocomplete(command) => self.autocomplete(&ctx, command).await,
                Interaction::Component(component) => self.button(&ctx, component).await,
                _ => {}
            }
        })
        .await;
        if let (None, Some((channel, user, locale))) = (handled, channel) {
            let lang = self.service.language_of(&user, locale.as_deref()).await;
            say_something_went_wrong(&ctx, channel, lang).await;
        }
    }

    async fn message(&self, ctx: Context, message: Message) {
        let _guard = self.tracker.token();
        let receipt = match self.keeps(&message) {
            true => {
                let kept = inbox::Keeping::Message { message: &message };
                inbox::keep(self.service.inbox(), &kept).await
            }
            false => None,
        };
        self.message_contained(&ctx, message).await;
        if let Some(receipt) = receipt {
            receipt.answered().await;
        }
    }
}

impl Handler {
    /// A tap on a confirmation button: the core decides (only the person who asked
    /// counts). Decided: the message loses its buttons and says how it ended; someone
    /// else's tap gets a note only they see.
    async fn button(&self, ctx: &Context, component: ComponentInteraction) {
        let Some((id, approve)) = bot_core::actions::parse_button_data(&component.data.custom_id)
        else {
            return;
        };
        let user = bot_core::UserKey::new(Platform::Discord, &component.user.id.to_string());
        let decided = self.service.decide(&id, &user, approve);
        let lang = self
            .service
            .language_of(&user, Some(component.locale.as_str()))
            .await;
        let response = match decided {
            bot_core::Decided::NotYours => CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content(decided.note(lang))
                    .ephemeral(true),
            ),
            other => {
                let outcome = other.outcome(lang);
                CreateInteractionResponse::UpdateMessage(
                    CreateInteractionResponseMessage::new()
                        .content(format!("{}\n\n{outcome}", component.message.content))
                        .components(Vec::new()),
                )
            }
        };
        if let Err(e) = component.create_response(&ctx.http, response).await {
            tracing::warn!(error = %e, "could not answer a button tap");
        }
    }
}

/// Tells a channel that handling a message failed (the panic is logged).
async fn say_something_went_wrong(ctx: &Context, channel: ChannelId, lang: bot_core::lang::Lang) {
    let message = CreateMessage::new()
        .content(something_went_wrong(lang))
        .allowed_mentions(CreateAllowedMentions::new());
    if let Err(e) = channel.send_message(&ctx.http, message).await {
        tracing::warn!(error = %e, "could not tell a channel that something went wrong");
    }
}

impl Handler {
    /// Whether `message` is one the bot answers for a person allowed to use it, and so
    /// one the inbox keeps until answered.
    fn keeps(&self, message: &Message) -> bool {
        let Some(&me) = self.me.get() else {
            return false;
        };
        translate::message_to_inbound(message, me, self.settings.mention_chat).is_some_and(
            |inbound| {
                self.service.admits(
                    Platform::Discord,
                    &inbound.user_id,
                    inbound.membership.as_ref(),
                )
            },
        )
    }

    /// A handler for answering left-over events on their own tasks (the same service,
    /// pacer and tracker).
    fn replayer(&self) -> std::sync::Arc<Handler> {
        let me = OnceLock::new();
        if let Some(id) = self.me.get() {
            let _ = me.set(*id);
        }
        std::sync::Arc::new(Handler {
            service: self.service.clone(),
            settings: self.settings.clone(),
            pacer: self.pacer.clone(),
            me,
            sessions: AtomicUsize::new(1),
            tracker: self.tracker.clone(),
        })
    }

    /// Answers one event a crash left unanswered, as it would have been answered then.
    async fn replay(&self, ctx: &Context, kept: inbox::Kept) {
        let created = kept.created();
        match kept {
            inbox::Kept::Message { message } => self.message_contained(ctx, *message).await,
            inbox::Kept::Command { interaction } => {
                let Some(request) = translate::command_to_inbound(&interaction) else {
                    return;
                };
                // The token counts from when Discord made the interaction: past its
                // lifetime the answer goes to the channel (or a DM) instead.
                let age = (chrono::Utc::now() - created).to_std().unwrap_or_default();
                let received = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                let channel = interaction.channel_id;
                let user = bot_core::UserKey::new(Platform::Discord, &request.inbound.user_id);
                let answered = contain_panic(
                    "a Discord interaction",
                    self.answer_command(
                        ctx,
                        *interaction,
                        request.command,
                        request.inbound,
                        request.ephemeral,
                        received,
                    ),
                )
                .await;
                if answered.is_none() {
                    let lang = self.service.language_of(&user, None).await;
                    say_something_went_wrong(ctx, channel, lang).await;
                }
            }
        }
    }

    /// Answers a message; a panic is contained, logged and told to the channel.
    async fn message_contained(&self, ctx: &Context, message: Message) {
        let channel = message.channel_id;
        // Messages carry no locale: the person's /language, else the owner's language.
        let user = bot_core::UserKey::new(Platform::Discord, &message.author.id.to_string());
        if contain_panic("a Discord message", self.answer_message(ctx, message))
            .await
            .is_none()
        {
            let lang = self.service.language_of(&user, None).await;
            say_something_went_wrong(ctx, channel, lang).await;
        }
    }

    async fn answer_message(&self, ctx: &Context, message: Message) {
        let Some(&me) = self.me.get() else { return };
        let Some(inbound) = translate::message_to_inbound(&message, me, self.settings.mention_chat)
        else {
            return;
        };
        tracing::debug!(channel = %inbound.chat.id, user = %inbound.user_id, "message received");
        let surface = Surface::Channel {
            channel: message.channel_id,
            reply_to: message.guild_id.is_some().then_some(message.id),
        };
        let events = match translate::voice_attachment(&message) {
            Some((attachment, file)) => {
                let fetch =
                    Box::pin(async move { file.download().await.map_err(|e| e.to_string()) });
                let note = bot_core::VoiceNote { attachment, fetch };
                self.service.handle_voice(inbound, note)
            }
            None => {
                let files: Vec<bot_core::files::IncomingFile> = translate::files(&message)
                    .into_iter()
                    .map(
                        |(kind, name, attachment, file)| bot_core::files::IncomingFile {
                            kind,
                            name,
                            attachment,
                            fetch: Box::pin(async move {
                                file.download().await.map_err(|e| e.to_string())
                            }),
                        },
                    )
                    .collect();
                if files.is_empty() {
                    self.service.handle(inbound)
                } else {
                    self.service.handle_files(inbound, files)
                }
            }
        };
        if let Some((turn, ids)) = reply::deliver(&ctx.http, &self.pacer, surface, events).await {
            self.service.note_delivered(&turn, ids).await;
        }
    }
}
