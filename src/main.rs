//! `hearth`: the binary. It wires configuration, tracing, storage, the model
//! and the adapters together, and shuts them down cleanly. Everything else
//! lives in the library crates.

mod actions;
mod admin;
mod backup;
mod config;
mod data_dir;
mod doctor;
mod env_file;
mod hooks;
mod mcp;
mod memory_cli;
mod notes_cli;
mod observe;
mod terminal;
mod user_cli;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use bot_core::access::AccessPolicy;
use bot_core::adapter::Adapter;
use bot_core::memory::Memories;
use bot_core::memory::embed::{Embedder, load_models_in_background};
use bot_core::model::ollama::{OllamaConfig, OllamaModel};
use bot_core::model::openai::{OpenAiConfig, OpenAiModel};
use bot_core::service::Deps;
use bot_core::store::cache::{self, CachedHistory, CachedSettings};
use bot_core::store::sled_store::SledStore;
use bot_core::voice::whisper::WhisperTranscriber;
use bot_core::voice::{Transcriber, Voice};
use bot_core::{ChatService, Platform};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// Hearth: your own AI assistant on Telegram, answered by your own Ollama.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot on every platform whose token is set (the default).
    Run,
    /// Check the configuration, Ollama, the model, the Telegram token and the data directory.
    Doctor,
    /// Chat in the terminal with the same core, no platform token needed.
    Chat,
    /// Send a message to a person through the running bot, e.g.
    /// `hearth send --user telegram:123456 "Dinner is ready"`.
    Send {
        /// Who: telegram:ID or discord:ID (they must be on an allow-list).
        #[arg(long)]
        user: String,
        /// The text (Markdown).
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Look at or remove what Hearth remembers about a user (stop the bot first).
    Memory {
        #[command(subcommand)]
        action: memory_cli::Action,
    },
    /// Everything about one person: export it, or erase it for good. Works while the bot
    /// runs (through it) and when it does not.
    User {
        #[command(subcommand)]
        action: user_cli::Action,
    },
    /// Copy the whole database (and the keyring) into DIR, a new or empty directory, as it
    /// is at one moment. Works while the bot runs (through it) and when it does not.
    Backup {
        /// Where to put it.
        dir: std::path::PathBuf,
    },
    /// Restore a backup made by `hearth backup` into HEARTH_DATA_DIR, which must have no
    /// database yet (stop the bot).
    Restore {
        /// The backup.
        dir: std::path::PathBuf,
    },
    /// Write a new master key for encryption at rest (64 hex digits, mode 0600), to PATH or
    /// to HEARTH_MASTER_KEY_FILE. Keep a copy somewhere safe: without it the data cannot be
    /// read.
    Keygen {
        /// Where to write it (default: HEARTH_MASTER_KEY_FILE).
        path: Option<std::path::PathBuf>,
    },
    /// The owner's notes (HEARTH_NOTES): index, search, status. Works while the bot runs.
    Notes {
        #[command(subcommand)]
        action: notes_cli::Action,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Everything Hearth writes (database, logs, exports) is for the owner alone.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let env_file = dotenvy::dotenv();
    // A missing .env is fine; a broken one is not. Its lines may hold tokens: never print them.
    if let Err(e) = &env_file
        && !e.not_found()
    {
        eprintln!("Configuration error: {}", env_file::describe_error(e));
        return ExitCode::FAILURE;
    }
    let vars: HashMap<String, String> = std::env::vars().collect();
    let config = match config::from_vars(&vars) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("Configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Run);
    let logs_to_file = match init_tracing(&command, &config) {
        Ok(to_file) => to_file,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        Command::Run => run(config).await,
        Command::Doctor => return doctor::run(&config).await,
        Command::Chat => terminal::run(config).await,
        Command::Memory { action } => memory_cli::run(config, action).await,
        Command::Notes { action } => notes_cli::run(config, action).await,
        Command::Send { user, text } => admin::send(&config, &user, &text.join(" ")).await,
        Command::User { action } => user_cli::run(config, action).await,
        Command::Keygen { path } => keygen(&config, path),
        Command::Backup { dir } => backup::backup(&config, &dir).await,
        Command::Restore { dir } => backup::restore(&config, &dir),
    };
    // A model still loading in the background (a short command that never needed it, or a
    // shutdown right after the start) finishes first: exiting under it can hang.
    let finished = tokio::task::spawn_blocking(|| {
        bot_core::memory::embed::finish_loading(std::time::Duration::from_secs(120))
    })
    .await;
    if !matches!(finished, Ok(true)) {
        tracing::warn!("exiting while the embedding model is still loading");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            if logs_to_file {
                // The log went to a file; the person at the terminal needs to see why.
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Where the log goes: standard error, except in `hearth chat`, where log lines would
/// land between the answers: there it goes to `chat.log` in the data directory unless
/// `RUST_LOG` asks for something else. Returns whether the log goes to a file.
fn init_tracing(command: &Command, config: &config::Config) -> anyhow::Result<bool> {
    let explicit = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,serenity=warn,tantivy=warn".into());
    if matches!(command, Command::Chat) && explicit.is_none() {
        data_dir::create(&config.data_dir)?;
        let path = config.data_dir.join("chat.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open the log file {}", path.display()))?;
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file));
        if config.log_json {
            builder.json().init();
        } else {
            builder.init();
        }
        return Ok(true);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_json {
        // One JSON object per line (timestamp, level, target, fields), for log shippers.
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(false)
}

/// The embedding model, if one is configured: its files are checked now (a missing one
/// stops the start with a clear error) and it loads on a background thread, so the bot
/// polls at once; a message that needs it meanwhile waits, with a notice.
pub async fn load_embedder(config: &config::Config) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    if config.embed.is_empty() {
        tracing::info!(
            "no embedding model configured (HEARTH_EMBED_MODEL_DIR): memory search uses keywords only"
        );
        return Ok(None);
    }
    Ok(Some(load_models_in_background(
        &config.embed,
        &config.embed_weights,
    )?))
}

/// Loads the speech models, if any are configured. Blocking work runs off the runtime.
async fn load_voice(config: &config::Config) -> anyhow::Result<Option<Voice>> {
    let mut loaded: Vec<Arc<dyn Transcriber>> = Vec::new();
    for whisper in config.voice.models.clone() {
        let started = std::time::Instant::now();
        let transcriber =
            tokio::task::spawn_blocking(move || WhisperTranscriber::load(whisper)).await??;
        tracing::info!(model = %transcriber.describe(), check_ms = started.elapsed().as_millis() as u64, "speech model ready (its weights load with the first voice note and are released after 2 idle minutes)");
        loaded.push(Arc::new(transcriber));
    }
    let mut models = loaded.into_iter();
    let Some(first) = models.next() else {
        tracing::info!(
            "voice notes are off: no speech model configured (HEARTH_WHISPER_MODEL); \
             voice notes get a reply saying so"
        );
        return Ok(None);
    };
    let voice = Voice::with_models(
        first,
        models.next(),
        config.voice.speech.clone(),
        config.voice.limits.clone(),
    );
    tracing::info!(models = %voice.describe(), "voice notes are on");
    Ok(Some(voice))
}

/// The model client for the configured API.
pub fn build_model(config: &config::Config) -> Arc<dyn bot_core::model::LanguageModel> {
    match config.model_api {
        config::ModelApi::Ollama => {
            let mut ollama = OllamaConfig::new(config.model_url.clone());
            ollama.keep_alive = config.keep_alive.clone();
            Arc::new(OllamaModel::new(ollama))
        }
        config::ModelApi::OpenAi => {
            let mut openai =
                OpenAiConfig::new(config.model_url.clone(), config.service.max_context_tokens);
            openai.api_key = config.model_api_key.clone();
            Arc::new(OpenAiModel::new(openai))
        }
    }
}

/// Storage, model and service, shared by `run`, `chat` and `memory`. Only `run` receives voice
/// notes, so only it loads the speech model (`with_voice`); `run` and `chat` answer questions,
/// so they connect to the owner's MCP servers (`with_mcp`; stopped with `Services::mcp_stop`).
async fn build_service(
    config: &config::Config,
    with_voice: bool,
    with_mcp: bool,
) -> anyhow::Result<Services> {
    let store = open_store(config)?;
    let discord = &config.discord_access;
    let access = AccessPolicy::deny_all()
        .allow_all(Platform::Telegram, config.telegram_allowed.iter().cloned())
        .allow_all(Platform::Discord, discord.users.iter().cloned())
        .allow_roles(Platform::Discord, discord.roles.iter().cloned())
        .allow_groups(Platform::Discord, discord.guilds.iter().cloned());
    let embedder = load_embedder(config).await?;
    let notes = open_notes(config, embedder.clone(), true).await?;
    let clock: Arc<dyn bot_core::clock::Clock> = Arc::new(bot_core::clock::SystemClock);
    let memories = Memories::new(Arc::new(store.clone()), embedder, config.memory.clone())
        .with_clock(Arc::clone(&clock));
    let memories = Arc::new(memories);
    let mut retrievers: Vec<Arc<dyn bot_core::retrieve::Retriever>> = vec![Arc::new(
        bot_core::retrieve::MemoryRetriever::new(Arc::clone(&memories)),
    )];
    let notes_source = notes.clone().map(|notes| {
        Arc::new(hearth_notes::NotesPort(notes)) as Arc<dyn bot_core::notes::NotesSource>
    });
    if let Some(source) = &notes_source {
        retrievers.push(Arc::new(bot_core::notes::NotesRetriever::new(Arc::clone(
            source,
        ))));
    }
    let deps = Deps {
        model: build_model(config),
        history: Arc::new(CachedHistory::new(
            Arc::new(store.clone()),
            bot_core::service::HISTORY_WINDOW,
            cache::HISTORY_BYTES,
        )),
        settings: Arc::new(CachedSettings::new(
            Arc::new(store.clone()),
            cache::SETTINGS_USERS,
        )),
        access,
        retrievers,
        notes: notes_source,
        memories,
        voice: if with_voice {
            load_voice(config).await?
        } else {
            None
        },
        outbounds: bot_core::outbound::Outbounds::default(),
        clock,
        reminders: Arc::new(store.clone()),
        tool_sources: Vec::new(),
        files: Some(Arc::new(hearth_media::MediaReader)),
        documents: Arc::new(store.clone()),
        erasers: vec![Arc::new(store.clone())],
        inbox: Arc::new(store.clone()),
    };
    let mut deps = deps;
    let mcp_stop = tokio_util::sync::CancellationToken::new();
    if with_mcp && !config.mcp.is_empty() {
        deps.tool_sources
            .push(mcp::McpTools::start(config.mcp.clone(), mcp_stop.clone()));
    }
    Ok(Services {
        service: ChatService::new(config.service.clone(), deps),
        store,
        notes,
        mcp_stop,
    })
}

/// Opens the database: encrypted with the master key when HEARTH_MASTER_KEY_FILE is set
/// (data written before without encryption is encrypted now, the old copy kept), else
/// unencrypted (an encrypted one is refused with a clear message).
pub fn open_store(config: &config::Config) -> anyhow::Result<SledStore> {
    data_dir::create(&config.data_dir)?;
    let dir = config.data_dir.join("db");
    let context = || format!("cannot open the database in {}", config.data_dir.display());
    let Some(key_file) = &config.master_key_file else {
        return SledStore::open(&dir).with_context(context);
    };
    let master = bot_core::store::seal::MasterKey::read(key_file)
        .map_err(|e| anyhow::anyhow!("HEARTH_MASTER_KEY_FILE: {e}"))?;
    let ring_path = config.data_dir.join(bot_core::store::seal::KEYRING_FILE);
    if !ring_path.exists() && SledStore::is_encrypted(&dir).with_context(context)? == Some(true) {
        anyhow::bail!(
            "the data in {} is encrypted but its keyring {} is missing: without it nothing can be read (restore it from the backup it came with)",
            config.data_dir.display(),
            ring_path.display()
        );
    }
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(key_file)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %key_file.display(),
                "the master key file is readable by other users: chmod 600 it"
            );
        }
    }
    let keyring = bot_core::store::seal::Keyring::open(
        &config.data_dir.join(bot_core::store::seal::KEYRING_FILE),
        master,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (store, backup) = SledStore::open_encrypted(&dir, keyring).with_context(context)?;
    if let Some(backup) = backup {
        tracing::warn!(
            backup = %backup.display(),
            "the existing data is encrypted now; its unencrypted copy is kept as a backup: delete it once the bot runs well"
        );
    }
    Ok(store)
}

/// `hearth keygen [PATH]`: writes a new master key.
fn keygen(config: &config::Config, path: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let Some(path) = path.or_else(|| config.master_key_file.clone()) else {
        anyhow::bail!(
            "say where to write the key: hearth keygen /etc/hearth/master.key (or set HEARTH_MASTER_KEY_FILE)"
        );
    };
    let key = bot_core::store::seal::MasterKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
    key.write_new(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "wrote a new master key to {} (0600). Set HEARTH_MASTER_KEY_FILE={} and keep a copy of the file somewhere safe: without it the data cannot be read.",
        path.display(),
        path.display()
    );
    Ok(())
}

/// What `build_service` builds.
pub struct Services {
    /// The chat service.
    pub service: ChatService,
    /// The database (flushed at shutdown).
    pub store: SledStore,
    /// The owner's notes, when vaults are configured.
    pub notes: Option<Arc<hearth_notes::Notes>>,
    /// Stops the MCP connections (and the servers started over stdio).
    pub mcp_stop: tokio_util::sync::CancellationToken,
}

/// Opens the notes index for the configured vaults, searched by meaning too with the notes'
/// embedding model (`memory_model` unless HEARTH_NOTES_EMBED_MODEL_DIR says otherwise);
/// `writable: false` only reads the vectors (terminal searches while the bot may run).
/// `None` without vaults.
pub async fn open_notes(
    config: &config::Config,
    memory_model: Option<Arc<dyn Embedder>>,
    writable: bool,
) -> anyhow::Result<Option<Arc<hearth_notes::Notes>>> {
    if config.notes.is_empty() {
        return Ok(None);
    }
    let model = match &config.notes_embed {
        config::NotesEmbed::Off => None,
        config::NotesEmbed::SameAsMemory => memory_model,
        config::NotesEmbed::Models(models) => Some(load_models_in_background(models, &[])?),
    };
    let dir = config.data_dir.join("notes");
    let mut notes = hearth_notes::Notes::open(&dir, config.notes.clone())
        .with_context(|| format!("cannot open the notes index in {}", dir.display()))?;
    match model {
        Some(model) => {
            let name = model.describe();
            notes = if writable {
                notes.with_embedder(model)
            } else {
                notes.with_embedder_read_only(model)
            }
            .with_context(|| format!("cannot open the notes vectors in {}", dir.display()))?;
            tracing::debug!(model = %name, "notes are searched by meaning and keywords");
        }
        None => tracing::info!("notes are searched by keywords only (no embedding model)"),
    }
    Ok(Some(Arc::new(notes)))
}

/// Brings the notes index up to date in the background (the bot answers meanwhile): the
/// keywords first, then the passages' vectors (long for a big vault the first time; keyword
/// search serves until they are done).
fn index_notes_in_background(notes: &Arc<hearth_notes::Notes>) {
    let notes = Arc::clone(notes);
    tokio::task::spawn_blocking(move || {
        match notes.update_keywords(None, &|_, _, _| {}) {
            Ok(summaries) => {
                for summary in summaries.into_iter().flatten() {
                    tracing::info!(
                        vault = %summary.vault,
                        notes = summary.notes,
                        changed = summary.changed,
                        removed = summary.removed,
                        skipped = summary.skipped,
                        elapsed_ms = summary.elapsed.as_millis() as u64,
                        "notes indexed"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "the notes could not be indexed"),
        }
        if let Err(e) = notes.embed_pending(&|_, _| {}) {
            tracing::warn!(error = %e, "notes could not be embedded; they are searched by keywords");
        }
    });
}

async fn run(config: config::Config) -> anyhow::Result<()> {
    if config.telegram.is_none() && config.discord.is_none() {
        anyhow::bail!(
            "no chat platform is configured: set TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN \
             (see .env.example), or talk to the model in the terminal with `hearth chat`"
        );
    }
    if config.telegram.is_some() && config.telegram_allowed.is_empty() {
        tracing::warn!(
            "HEARTH_TELEGRAM_ALLOWED_USERS is empty: nobody may use the bot; strangers are told their id"
        );
    }
    if config.discord.is_some() && config.discord_access.is_empty() {
        tracing::warn!(
            "HEARTH_DISCORD_ALLOWED_USERS/ROLES/GUILDS are empty: nobody may use the bot on Discord"
        );
    }
    // Before anything records, so nothing is lost.
    let recorder = match config.metrics_addr {
        Some(_) => Some(observe::install()?),
        None => None,
    };
    let Services {
        service,
        store,
        notes,
        mcp_stop,
    } = build_service(&config, true, true).await?;
    tracing::info!(model_server = %bot_core::model::redact_url(&config.model_url), api = ?config.model_api, model = %config.service.default_model, data_dir = %config.data_dir.display(), "starting Hearth");
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let watcher = match &notes {
        Some(notes) => {
            // Watch first, so edits made while the first update runs are not missed.
            let watcher = hearth_notes::watch::spawn(Arc::clone(notes), shutdown.clone())
                .map_err(|e| tracing::warn!(error = %e, "notes are not watched for changes; run `hearth notes index` after editing"))
                .ok();
            index_notes_in_background(notes);
            watcher
        }
        None => None,
    };

    // Every configured platform, started the same way (a new platform: one line here).
    let configured: Vec<Box<dyn Adapter>> = [
        config
            .telegram
            .clone()
            .map(|c| Box::new(c) as Box<dyn Adapter>),
        config
            .discord
            .clone()
            .map(|c| Box::new(c) as Box<dyn Adapter>),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut adapters = tokio::task::JoinSet::new();
    for adapter in configured {
        let (service, shutdown) = (service.clone(), shutdown.clone());
        let name = adapter.name();
        adapters.spawn(async move {
            adapter
                .run(service, shutdown)
                .await
                .map_err(|e| anyhow::anyhow!("the {name} adapter stopped: {e}"))
        });
    }
    let admin = tokio::spawn(admin::serve(
        admin::socket_path(&config.data_dir),
        admin::Backends {
            service: service.clone(),
            notes: notes.clone(),
            store: store.clone(),
            data_dir: config.data_dir.clone(),
        },
        shutdown.clone(),
    ));
    let hooks = match config.hooks.clone() {
        Some(hooks) => Some(hooks::start(hooks, service.clone(), shutdown.clone()).await?),
        None => None,
    };
    let observing = match (config.metrics_addr, recorder) {
        (Some(addr), Some(recorder)) => {
            let mut platforms = Vec::new();
            if config.telegram.is_some() {
                platforms.push(Platform::Telegram);
            }
            if config.discord.is_some() {
                platforms.push(Platform::Discord);
            }
            Some(
                observe::start(
                    addr,
                    recorder,
                    service.clone(),
                    store.clone(),
                    platforms,
                    shutdown.clone(),
                )
                .await?,
            )
        }
        _ => None,
    };
    // An adapter that ends before shutdown failed: stop everything and report it.
    let mut failure: Option<anyhow::Error> = None;
    let broken = store.broken();
    tokio::select! {
        _ = shutdown.cancelled() => {}
        Some(done) = adapters.join_next() => {
            failure = flatten(done).err();
        }
        _ = broken.cancelled() => {
            failure = Some(anyhow::anyhow!(
                "the database could not write to {} (is the disk full?); stopping so that the \
                 service manager starts Hearth again, which opens it anew once it can write \
                 (messages not answered yet are answered then)",
                config.data_dir.display()
            ));
        }
    }
    tracing::info!("shutting down");
    shutdown.cancel();
    if let Some(notes) = &notes {
        // A long first embedding pass stops between batches; the next start goes on.
        notes.stop();
    }
    let (_, rest) = tokio::join!(service.shutdown(config.shutdown_grace), async {
        let mut results = Vec::new();
        while let Some(done) = adapters.join_next().await {
            results.push(flatten(done));
        }
        results
    });
    // After the replies in flight: they may still call tools.
    mcp_stop.cancel();
    if let Some(observing) = observing {
        match observing.await {
            Ok(Err(e)) => tracing::error!("{e:#}"),
            Err(e) => tracing::warn!(error = %e, "the metrics task failed"),
            Ok(Ok(())) => {}
        }
    }
    if let Some(hooks) = hooks {
        match hooks.await {
            Ok(Err(e)) => tracing::error!("{e:#}"),
            Err(e) => tracing::warn!(error = %e, "the hooks task failed"),
            Ok(Ok(())) => {}
        }
    }
    match admin.await {
        Ok(Err(e)) => tracing::warn!("{e:#}"),
        Err(e) => tracing::warn!(error = %e, "the admin socket task failed"),
        Ok(Ok(())) => {}
    }
    let flushed = store.flush_all().context("flushing the database");
    // The watcher thread stops at its next look at `shutdown`; an update it is running
    // may be cut off by the exit, which is safe: the manifest is written after the commit,
    // so the next start redoes it.
    drop(watcher);
    if let Some(e) = failure {
        return Err(e);
    }
    flushed?;
    rest.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    tracing::info!("stopped");
    Ok(())
}

fn flatten(done: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    done.context("an adapter panicked")?
}

/// Cancels `token` on SIGINT or SIGTERM.
async fn cancel_on_signal(token: CancellationToken) {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                token.cancel();
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT"),
        _ = terminate.recv() => tracing::info!("received SIGTERM"),
    }
    token.cancel();
}
