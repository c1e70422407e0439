//! Discord adapter for Hearth, on serenity.
//!
//! It translates Discord interactions and messages into core
//! [`InboundMessage`](bot_core::InboundMessage)s and core reply events back
//! into Discord messages. No business logic lives here.
//!
//! - [`run`]: start-up checks, gateway connection (serenity reconnects by
//!   itself), until shutdown.
//! - [`handler`]: slash commands (deferred at once, then streamed), `/model`
//!   autocomplete, mentions and DMs, access checks.
//! - [`translate`]: interaction or message -> core message; the command list.
//! - [`reply`]: streams one reply into the interaction response or channel
//!   messages, paced per channel, moving to the channel when the interaction
//!   token expires.
//! - [`split`]: 2,000-character pieces that keep code blocks intact.
//! - `inbox`: each DM, mention and deferred command is kept in the core's inbox until
//!   answered, and answered after a crash.

pub mod handler;
mod inbox;
pub mod reply;
pub mod split;
pub mod translate;

use std::sync::Arc;
use std::time::Duration;

use bot_core::ChatService;
use secrecy::{ExposeSecret, SecretString};
use serenity::all::{
    ChannelId, ClientBuilder, GatewayIntents, GuildId, Http, HttpBuilder, HttpError, UserId,
};
use tokio_util::sync::CancellationToken;
use url::Url;

/// Discord's own REST base URL.
pub const DISCORD_URL: &str = "https://discord.com";

/// Settings of the Discord adapter.
#[derive(Clone, Debug)]
pub struct DiscordConfig {
    /// The bot token from the Discord developer portal. Never logged.
    pub token: SecretString,
    /// REST base URL: Discord itself, or a local fake in tests.
    pub api_url: Url,
    /// Servers to register the slash commands in (they appear at once); empty = global.
    pub command_guilds: Vec<u64>,
    /// Answer mentions and replies in server channels (needs the message content intent).
    pub mention_chat: bool,
    /// Shortest time between two edits or sends in one channel.
    pub edit_interval: Duration,
}

impl DiscordConfig {
    fn is_custom_url(&self) -> bool {
        self.api_url.as_str().trim_end_matches('/') != DISCORD_URL
    }
}

/// What can stop the Discord adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscordError {
    /// Discord refused the token.
    #[error("Discord refused the bot token (check DISCORD_BOT_TOKEN)")]
    InvalidToken,
    /// The REST API could not be reached or answered unexpectedly.
    #[error("the Discord API at {url} is not usable: {cause}")]
    Unreachable {
        /// The API base URL (never contains the token).
        url: String,
        /// What went wrong.
        cause: String,
    },
    /// The gateway URL could not be fetched from a custom API URL; serenity would
    /// otherwise silently connect to Discord's public gateway.
    #[error(
        "could not get the gateway URL from {url}/api/v10/gateway ({cause}); \
         not falling back to Discord's public gateway with a custom DISCORD_API_URL"
    )]
    NoGateway {
        /// The API base URL.
        url: String,
        /// What went wrong.
        cause: String,
    },
    /// The gateway connection failed for good (e.g. disallowed intents).
    #[error("the Discord gateway connection failed: {0}")]
    Gateway(String),
}

/// Builds serenity's HTTP client for `config`.
///
/// With a custom URL serenity's rate limiter must be off: it ignores the proxy
/// setting and would call discord.com. The adapter's own pacer then handles 429s.
pub fn http(config: &DiscordConfig) -> Http {
    let builder = HttpBuilder::new(config.token.expose_secret());
    if config.is_custom_url() {
        builder
            .proxy(config.api_url.as_str().trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build()
    } else {
        builder.build()
    }
}

fn classify(config: &DiscordConfig, error: serenity::Error) -> DiscordError {
    match &error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r))
            if r.status_code.as_u16() == 401 =>
        {
            DiscordError::InvalidToken
        }
        _ => DiscordError::Unreachable {
            url: config.api_url.to_string(),
            cause: error.to_string(),
        },
    }
}

/// Checks the token with `GET /users/@me`; returns the bot's user name.
pub async fn check_token(config: &DiscordConfig) -> Result<String, DiscordError> {
    let me = http(config)
        .get_current_user()
        .await
        .map_err(|e| classify(config, e))?;
    Ok(me.name.clone())
}

/// The gateway intents: servers and DMs; server messages and their content only
/// when mention chat is on (message content is a privileged intent).
pub fn intents(mention_chat: bool) -> GatewayIntents {
    let base = GatewayIntents::GUILDS | GatewayIntents::DIRECT_MESSAGES;
    if mention_chat {
        base | GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT
    } else {
        base
    }
}

/// The Discord side of the core's [`Outbound`](bot_core::outbound::Outbound) port: a
/// person is written to in a DM, a chat is a channel id.
struct DiscordOutbound {
    http: Arc<Http>,
    pacer: bot_core::pacer::Pacer<reply::PaceKey>,
}

#[async_trait::async_trait]
impl bot_core::outbound::Outbound for DiscordOutbound {
    async fn send(
        &self,
        to: &bot_core::outbound::Recipient,
        message: bot_core::outbound::OutboundMessage,
    ) -> Result<Vec<String>, bot_core::outbound::OutboundError> {
        use bot_core::outbound::OutboundError;
        let (id, to_person) = to.target();
        let id = id
            .parse::<u64>()
            .ok()
            .filter(|&id| id != 0)
            .ok_or_else(|| OutboundError::UnknownRecipient(format!("discord:{id}")))?;
        let channel = if to_person {
            UserId::new(id)
                .create_dm_channel(&self.http)
                .await
                .map_err(reply::classify_outbound)?
                .id
        } else {
            ChannelId::new(id)
        };
        reply::send_outbound(&self.http, &self.pacer, channel, message).await
    }
}

#[async_trait::async_trait]
impl bot_core::adapter::Adapter for DiscordConfig {
    fn name(&self) -> &'static str {
        "Discord"
    }

    async fn run(
        self: Box<Self>,
        service: ChatService,
        shutdown: CancellationToken,
    ) -> Result<(), bot_core::adapter::AdapterError> {
        run(*self, service, shutdown).await.map_err(Into::into)
    }
}

/// Runs the adapter until `shutdown` is cancelled; then closes the gateway and
/// waits for the replies being delivered (the service decides how long).
pub async fn run(
    config: DiscordConfig,
    service: ChatService,
    shutdown: CancellationToken,
) -> Result<(), DiscordError> {
    let http = http(&config);
    let me = http
        .get_current_user()
        .await
        .map_err(|e| classify(&config, e))?;
    tracing::info!(username = %me.name, "Discord token accepted");
    if config.is_custom_url() {
        let gateway = http
            .get_gateway()
            .await
            .map_err(|e| DiscordError::NoGateway {
                url: config.api_url.as_str().trim_end_matches('/').to_owned(),
                cause: e.to_string(),
            })?;
        tracing::info!(gateway = %gateway.url, "using a custom Discord API");
    }
    let tracker = tokio_util::task::TaskTracker::new();
    let handler = handler::Handler::new(
        service.clone(),
        handler::Settings {
            command_guilds: config
                .command_guilds
                .iter()
                .map(|&g| GuildId::new(g))
                .collect(),
            mention_chat: config.mention_chat,
            edit_interval: config.edit_interval,
        },
        tracker.clone(),
    );
    let pacer = handler.pacer();
    let mut client = ClientBuilder::new_with_http(http, intents(config.mention_chat))
        .event_handler(handler)
        .await
        .map_err(|e| DiscordError::Gateway(e.to_string()))?;
    service.outbounds().register(
        bot_core::Platform::Discord,
        Arc::new(DiscordOutbound {
            http: Arc::clone(&client.http),
            pacer,
        }),
    );
    let shards = Arc::clone(&client.shard_manager);
    let stopping = shutdown.clone();
    tokio::spawn(async move {
        stopping.cancelled().await;
        shards.shutdown_all().await;
    });
    tracing::info!("connecting to the Discord gateway");
    let result = client.start().await;
    if !shutdown.is_cancelled() {
        if let Err(e) = result {
            return Err(DiscordError::Gateway(e.to_string()));
        }
        return Err(DiscordError::Gateway("the gateway connection ended".into()));
    }
    tracker.close();
    tracker.wait().await;
    tracing::info!("Discord adapter stopped");
    Ok(())
}
