//! Configuration: read the environment once, validate into typed settings.
//!
//! Libraries never read the environment; this module does, at start, and an
//! error names the variable and what is wrong with it. Token values never
//! appear in errors.

mod discord;
mod notes;
mod voice;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use bot_core::ServiceConfig;
use bot_core::memory::MemoryConfig;
use bot_core::memory::embed::{EmbedModelSource, FastEmbedConfig};
use hearth_discord::DiscordConfig;
use hearth_telegram::TelegramConfig;

pub use discord::DiscordAccess;
use url::Url;
pub use voice::VoiceSettings;

/// The API the model server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelApi {
    /// Ollama's own API (`/api/chat`, `/api/tags`, `/api/show`).
    Ollama,
    /// The OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`).
    OpenAi,
}

/// A variable with a bad value.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    /// The variable's name.
    pub var: &'static str,
    /// What is wrong, in words a user can act on.
    pub problem: String,
}

fn bad(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

/// Which embedding model the notes use (`HEARTH_NOTES_EMBED_MODEL_DIR`).
#[derive(Clone, Debug)]
pub enum NotesEmbed {
    /// The memory model(s), already loaded (the default).
    SameAsMemory,
    /// Keywords only.
    Off,
    /// Their own model folders (side by side, equal weights, when several).
    Models(Vec<FastEmbedConfig>),
}

/// Everything `hearth` needs, validated.
#[derive(Debug)]
pub struct Config {
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// Which API the model server speaks.
    pub model_api: ModelApi,
    /// The model server (Ollama's address, or an OpenAI-compatible base URL).
    pub model_url: Url,
    /// The API key for an OpenAI-compatible server, if it needs one. Never logged.
    pub model_api_key: Option<secrecy::SecretString>,
    /// How long Ollama keeps the model loaded after a request.
    pub keep_alive: Option<String>,
    /// The chat service settings.
    pub service: ServiceConfig,
    /// Telegram, when a token is set.
    pub telegram: Option<TelegramConfig>,
    /// Telegram user ids allowed to use the bot.
    pub telegram_allowed: Vec<String>,
    /// Discord, when a token is set.
    pub discord: Option<DiscordConfig>,
    /// Who may use the bot on Discord.
    pub discord_access: DiscordAccess,
    /// Voice notes.
    pub voice: VoiceSettings,
    /// How long in-flight replies may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Memory settings.
    pub memory: MemoryConfig,
    /// The embedding models, side by side when several; none means keyword retrieval only.
    pub embed: Vec<FastEmbedConfig>,
    /// Each model's weight in the fused similarity (`HEARTH_EMBED_WEIGHTS`; equal by default).
    pub embed_weights: Vec<f32>,
    /// The owner's vaults (`HEARTH_NOTES`), with who may read each.
    pub notes: Vec<hearth_notes::Vault>,
    /// Which embedding model the notes are searched by meaning with.
    pub notes_embed: NotesEmbed,
    /// The `POST /hooks/notify` listener, when enabled.
    pub hooks: Option<crate::hooks::HooksConfig>,
    /// The owner's MCP servers (`[[mcp]]` in the `HEARTH_ACTIONS` file).
    pub mcp: Vec<crate::mcp::McpServerConfig>,
    /// The master key file (`HEARTH_MASTER_KEY_FILE`): with one, every person's data is
    /// stored encrypted; without, unencrypted.
    pub master_key_file: Option<PathBuf>,
    /// Log lines as JSON objects (`HEARTH_LOG_FORMAT=json`) instead of text.
    pub log_json: bool,
    /// Where `/metrics` and `/healthz` are served (`HEARTH_METRICS_ADDR`); off without one.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Reads and validates the configuration from `vars` (the environment after `.env`).
pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
    let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

    let model_api = match get("HEARTH_MODEL_API")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("ollama") => ModelApi::Ollama,
        Some("openai") => ModelApi::OpenAi,
        Some(other) => {
            return Err(bad(
                "HEARTH_MODEL_API",
                format!("'{other}' is not a model API: use ollama or openai"),
            ));
        }
    };
    let model_url = match (model_api, get("HEARTH_MODEL_URL")) {
        (ModelApi::Ollama, Some(url)) => parse_ollama_host(url, "HEARTH_MODEL_URL")?,
        (ModelApi::Ollama, None) => parse_ollama_host(
            get("OLLAMA_HOST").unwrap_or("http://127.0.0.1:11434"),
            "OLLAMA_HOST",
        )?,
        (ModelApi::OpenAi, Some(url)) => Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                bad(
                    "HEARTH_MODEL_URL",
                    "is not an address like http://127.0.0.1:1234 (LM Studio) or http://gpu:8000/v1 (vLLM)",
                )
            })?,
        (ModelApi::OpenAi, None) => {
            return Err(bad(
                "HEARTH_MODEL_URL",
                "is needed with HEARTH_MODEL_API=openai: the server's base URL, e.g. http://127.0.0.1:1234",
            ));
        }
    };
    let model_api_key =
        get("HEARTH_MODEL_API_KEY").map(|key| secrecy::SecretString::new(key.to_owned()));
    let model = get("OLLAMA_MODEL").unwrap_or("llama3.2").to_owned();
    if model.chars().any(char::is_whitespace) {
        return Err(bad(
            "OLLAMA_MODEL",
            format!("'{model}' is not a model name (no spaces allowed)"),
        ));
    }
    let mut service = ServiceConfig::new(model);
    if let Some(prompt) = get("HEARTH_SYSTEM_PROMPT") {
        service.system_prompt = prompt.to_owned();
    }
    service.max_concurrent_requests = number(
        get("HEARTH_MAX_CONCURRENT_REQUESTS"),
        "HEARTH_MAX_CONCURRENT_REQUESTS",
        1,
        1..=64,
    )? as usize;
    service.max_context_tokens = number(
        get("HEARTH_CONTEXT_TOKENS"),
        "HEARTH_CONTEXT_TOKENS",
        8192,
        512..=1_048_576,
    )?;
    service.max_input_chars = number(
        get("HEARTH_MAX_INPUT_CHARS"),
        "HEARTH_MAX_INPUT_CHARS",
        16_000,
        1..=1_000_000,
    )? as usize;
    service.show_thinking = flag(get("HEARTH_SHOW_THINKING"), "HEARTH_SHOW_THINKING")?;
    service.log_content = flag(get("HEARTH_LOG_CONTENT"), "HEARTH_LOG_CONTENT")?;
    if get("HEARTH_TOOLS").is_some() {
        service.tools = flag(get("HEARTH_TOOLS"), "HEARTH_TOOLS")?;
    }
    service.max_answer_tokens = number(
        get("HEARTH_MAX_ANSWER_TOKENS"),
        "HEARTH_MAX_ANSWER_TOKENS",
        2048,
        16..=1_048_576,
    )?;
    service.max_queue = number(
        get("HEARTH_MAX_QUEUE"),
        "HEARTH_MAX_QUEUE",
        100,
        1..=100_000,
    )? as usize;
    if let Some(zone) = get("HEARTH_TIMEZONE") {
        service.default_timezone =
            chrono_tz::Tz::from_str_insensitive(zone.trim()).map_err(|_| {
                bad(
                    "HEARTH_TIMEZONE",
                    format!(
                        "'{zone}' is not an IANA time zone (e.g. Asia/Seoul, Europe/Berlin, UTC)"
                    ),
                )
            })?;
    }
    if let Some(language) = get("HEARTH_LANGUAGE") {
        service.language = bot_core::lang::Choice::parse(language).ok_or_else(|| {
            bad(
                "HEARTH_LANGUAGE",
                format!("'{language}' is not a language Hearth speaks: use auto, en or ko"),
            )
        })?;
    }
    let mut mcp = Vec::new();
    if let Some(path) = get("HEARTH_ACTIONS") {
        let loaded =
            crate::actions::load(std::path::Path::new(path), &|var| vars.get(var).cloned())
                .map_err(|e| bad("HEARTH_ACTIONS", e))?;
        service.actions = loaded.actions;
        mcp = loaded.mcp;
    }
    if let Some(late) = get("HEARTH_REMINDER_MAX_LATE") {
        service.reminder_max_late = bot_core::remind::when::parse_duration(late)
            .and_then(|d| d.to_std().ok())
            .ok_or_else(|| {
                bad(
                    "HEARTH_REMINDER_MAX_LATE",
                    format!("'{late}' is not a length of time (e.g. 24h, 90m, 2d)"),
                )
            })?;
    }
    if let Some(model) = get("HEARTH_VISION_MODEL")
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        if model.contains(char::is_whitespace) {
            return Err(bad(
                "HEARTH_VISION_MODEL",
                format!("'{model}' is not a model name (no spaces allowed)"),
            ));
        }
        service.vision_model = Some(model.to_owned());
    }
    service.image_max_bytes = number(
        get("HEARTH_IMAGE_MAX_MB"),
        "HEARTH_IMAGE_MAX_MB",
        10,
        1..=100,
    )? * 1024
        * 1024;
    service.image_max_side = number(
        get("HEARTH_IMAGE_MAX_SIDE"),
        "HEARTH_IMAGE_MAX_SIDE",
        1024,
        64..=8192,
    )? as u32;
    service.images_in_context = number(
        get("HEARTH_IMAGES_IN_CONTEXT"),
        "HEARTH_IMAGES_IN_CONTEXT",
        4,
        0..=32,
    )? as usize;
    service.document_max_bytes = number(
        get("HEARTH_DOCUMENT_MAX_MB"),
        "HEARTH_DOCUMENT_MAX_MB",
        20,
        1..=200,
    )? * 1024
        * 1024;

    let telegram = match get("TELEGRAM_BOT_TOKEN") {
        None => None,
        Some(token) => {
            if !looks_like_token(token) {
                return Err(bad(
                    "TELEGRAM_BOT_TOKEN",
                    "does not look like a bot token (expected digits, a colon, then letters; get one from @BotFather)",
                ));
            }
            let api_url = get("TELEGRAM_API_URL").unwrap_or("https://api.telegram.org");
            let api_url = Url::parse(api_url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    bad(
                        "TELEGRAM_API_URL",
                        format!("'{api_url}' is not an http(s) URL"),
                    )
                })?;
            let interval = number(
                get("HEARTH_TELEGRAM_EDIT_INTERVAL_MS"),
                "HEARTH_TELEGRAM_EDIT_INTERVAL_MS",
                1500,
                50..=60_000,
            )?;
            Some(TelegramConfig {
                token: token.to_owned().into(),
                api_url,
                allow_groups: flag(get("HEARTH_TELEGRAM_GROUPS"), "HEARTH_TELEGRAM_GROUPS")?,
                edit_interval: Duration::from_millis(interval),
            })
        }
    };
    let telegram_allowed = id_list(
        get("HEARTH_TELEGRAM_ALLOWED_USERS"),
        "HEARTH_TELEGRAM_ALLOWED_USERS",
    )?;
    let (discord, discord_access) = discord::from_vars(&|name| get(name).map(str::to_owned))?;
    let voice = voice::from_vars(&|name| get(name).map(str::to_owned))?;
    let notes = notes::from_vars(
        &|name| get(name).map(str::to_owned),
        &telegram_allowed,
        &discord_access.users,
    )?;
    let data_dir = PathBuf::from(get("HEARTH_DATA_DIR").unwrap_or("data"));

    let memory = MemoryConfig {
        auto_capture: match get("HEARTH_MEMORY_AUTO") {
            None => true,
            raw => flag(raw, "HEARTH_MEMORY_AUTO")?,
        },
        ..MemoryConfig::default()
    };
    let models: Vec<EmbedModelSource> = match (
        get("HEARTH_EMBED_MODEL_DIR"),
        get("HEARTH_EMBED_MODEL"),
    ) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "HEARTH_EMBED_MODEL",
                "set either HEARTH_EMBED_MODEL_DIR or HEARTH_EMBED_MODEL, not both",
            ));
        }
        (Some(dirs), None) => {
            // One folder, or several side by side: "models/minilm,models/use-multilingual".
            let mut models = Vec::new();
            for dir in dirs.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                let dir = PathBuf::from(dir);
                if !dir.join("model.onnx").is_file() {
                    return Err(bad(
                        "HEARTH_EMBED_MODEL_DIR",
                        format!(
                            "{} has no model.onnx (scripts/install-models.sh puts models in \
                                 models/minilm and models/use-multilingual)",
                            dir.display()
                        ),
                    ));
                }
                models.push(EmbedModelSource::Dir(dir));
            }
            models
        }
        (None, Some(name)) => {
            // fastembed fetches a built-in model from Hugging Face on first use: the one
            // connection Hearth would make beyond the configured endpoints.
            if !flag(get("HEARTH_ALLOW_DOWNLOADS"), "HEARTH_ALLOW_DOWNLOADS")? {
                return Err(bad(
                    "HEARTH_EMBED_MODEL",
                    format!(
                        "'{name}' is downloaded from the internet (Hugging Face) on first use;                              set HEARTH_ALLOW_DOWNLOADS=true to allow that, or use                              HEARTH_EMBED_MODEL_DIR with a model folder                              (scripts/install-models.sh)"
                    ),
                ));
            }
            vec![EmbedModelSource::Builtin(name.to_owned())]
        }
        (None, None) => Vec::new(),
    };
    let embed_weights = match get("HEARTH_EMBED_WEIGHTS") {
        None => vec![1.0; models.len()],
        Some(raw) => {
            let weights: Result<Vec<f32>, _> =
                raw.split(',').map(|w| w.trim().parse::<f32>()).collect();
            match weights {
                Ok(weights)
                    if weights.len() == models.len()
                        && weights.iter().all(|w| w.is_finite() && *w >= 0.0)
                        && weights.iter().any(|w| *w > 0.0) =>
                {
                    weights
                }
                _ => {
                    return Err(bad(
                        "HEARTH_EMBED_WEIGHTS",
                        format!(
                            "needs {} non-negative numbers, one per model in \
                             HEARTH_EMBED_MODEL_DIR (e.g. 0.5,0.5)",
                            models.len()
                        ),
                    ));
                }
            }
        }
    };
    let mut embed = Vec::new();
    if !models.is_empty() {
        let library = get("ORT_DYLIB_PATH").ok_or_else(|| {
            bad(
                "ORT_DYLIB_PATH",
                "is needed with an embedding model: the path of libonnxruntime.so \
                 (scripts/install-models.sh puts one in models/onnxruntime)",
            )
        })?;
        if !std::path::Path::new(library).is_file() {
            return Err(bad("ORT_DYLIB_PATH", format!("{library} does not exist")));
        }
        let threads = number(
            get("HEARTH_EMBED_THREADS"),
            "HEARTH_EMBED_THREADS",
            1,
            1..=64,
        )? as usize;
        for model in models {
            embed.push(FastEmbedConfig {
                ort_library: PathBuf::from(library),
                model,
                threads,
                max_length: 256,
                cache_dir: data_dir.join("embedding-models"),
            });
        }
    }

    let notes_embed = match get("HEARTH_NOTES_EMBED_MODEL_DIR") {
        None => NotesEmbed::SameAsMemory,
        Some(raw) if raw.eq_ignore_ascii_case("off") => NotesEmbed::Off,
        Some(dirs) => {
            let Some(first) = embed.first() else {
                return Err(bad(
                    "HEARTH_NOTES_EMBED_MODEL_DIR",
                    "needs ORT_DYLIB_PATH and a memory model (HEARTH_EMBED_MODEL_DIR) too, \
                     or `off`",
                ));
            };
            let mut models = Vec::new();
            for dir in dirs.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                let dir = PathBuf::from(dir);
                if !dir.join("model.onnx").is_file() {
                    return Err(bad(
                        "HEARTH_NOTES_EMBED_MODEL_DIR",
                        format!(
                            "{} has no model.onnx (scripts/install-models.sh puts models in \
                             models/minilm and models/use-multilingual), or use `off`",
                            dir.display()
                        ),
                    ));
                }
                models.push(FastEmbedConfig {
                    model: EmbedModelSource::Dir(dir),
                    ..first.clone()
                });
            }
            NotesEmbed::Models(models)
        }
    };

    let hooks = hooks(&get)?;
    Ok(Config {
        master_key_file: get("HEARTH_MASTER_KEY_FILE").map(PathBuf::from),
        metrics_addr: match get("HEARTH_METRICS_ADDR") {
            None => None,
            Some(addr) => Some(addr.parse().map_err(|_| {
                bad(
                    "HEARTH_METRICS_ADDR",
                    format!("'{addr}' is not an address and port like 127.0.0.1:9464"),
                )
            })?),
        },
        log_json: match get("HEARTH_LOG_FORMAT")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(bad(
                    "HEARTH_LOG_FORMAT",
                    format!("'{other}' is not a log format: use text or json"),
                ));
            }
        },
        notes_embed,
        hooks,
        mcp,
        notes,
        data_dir,
        memory,
        embed,
        embed_weights,
        model_api,
        model_url,
        model_api_key,
        keep_alive: Some(get("HEARTH_KEEP_ALIVE").unwrap_or("30m").to_owned()),
        service,
        telegram,
        telegram_allowed,
        discord,
        discord_access,
        voice,
        shutdown_grace: Duration::from_secs(number(
            get("HEARTH_SHUTDOWN_GRACE_SECS"),
            "HEARTH_SHUTDOWN_GRACE_SECS",
            10,
            0..=600,
        )?),
    })
}

/// `HEARTH_HOOKS_ADDR`, `HEARTH_HOOKS_TOKEN`, `HEARTH_HOOKS_CHATS`: off without an address;
/// an address without a token is refused (the listener never runs open).
fn hooks<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Option<crate::hooks::HooksConfig>, ConfigError> {
    let Some(addr) = get("HEARTH_HOOKS_ADDR") else {
        if get("HEARTH_HOOKS_TOKEN").is_some() || get("HEARTH_HOOKS_CHATS").is_some() {
            return Err(bad(
                "HEARTH_HOOKS_ADDR",
                "is needed to turn the hooks listener on (e.g. 127.0.0.1:8787)",
            ));
        }
        return Ok(None);
    };
    let addr: std::net::SocketAddr = addr.trim().parse().map_err(|_| {
        bad(
            "HEARTH_HOOKS_ADDR",
            format!("'{addr}' is not an address and port like 127.0.0.1:8787"),
        )
    })?;
    let token = match get("HEARTH_HOOKS_TOKEN").map(str::trim) {
        Some(token) if token.len() >= 16 && !token.chars().any(char::is_whitespace) => token,
        Some(_) => {
            return Err(bad(
                "HEARTH_HOOKS_TOKEN",
                "must be at least 16 characters without spaces (e.g. from `openssl rand -hex 32`)",
            ));
        }
        None => {
            return Err(bad(
                "HEARTH_HOOKS_TOKEN",
                "is needed with HEARTH_HOOKS_ADDR: the hooks listener never runs without a token",
            ));
        }
    };
    let mut chats = Vec::new();
    for raw in get("HEARTH_HOOKS_CHATS")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        chats.push(crate::hooks::parse_chat(raw).ok_or_else(|| {
            bad(
                "HEARTH_HOOKS_CHATS",
                format!("'{raw}' is not like telegram:-100123 or discord:123456"),
            )
        })?);
    }
    Ok(Some(crate::hooks::HooksConfig {
        addr,
        token: secrecy::SecretString::new(token.to_owned()),
        chats,
    }))
}

/// Accepts what Ollama itself accepts: `http://host:port`, `host:port` or `host`.
fn parse_ollama_host(raw: &str, var: &'static str) -> Result<Url, ConfigError> {
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let mut url = Url::parse(&with_scheme)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            bad(
                var,
                format!("'{raw}' is not an address like http://127.0.0.1:11434"),
            )
        })?;
    if !raw.contains("://") && url.port().is_none() {
        let _ = url.set_port(Some(11434));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn looks_like_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_digit())
                && secret.len() >= 10
                && secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        None => false,
    }
}

fn number(
    raw: Option<&str>,
    var: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    let value: u64 = raw
        .parse()
        .map_err(|_| bad(var, format!("'{raw}' is not a whole number")))?;
    if !range.contains(&value) {
        return Err(bad(
            var,
            format!(
                "{value} is out of range ({}..={})",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(value)
}

fn flag(raw: Option<&str>, var: &'static str) -> Result<bool, ConfigError> {
    match raw.map(str::to_ascii_lowercase).as_deref() {
        None | Some("0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(other) => Err(bad(var, format!("'{other}' is not true or false"))),
    }
}

fn id_list(raw: Option<&str>, var: &'static str) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            if id.parse::<i64>().is_ok() {
                Ok(id.to_owned())
            } else {
                Err(bad(
                    var,
                    format!("'{id}' is not a numeric user id (the bot tells strangers their id)"),
                ))
            }
        })
        .collect()
}

/// A variable lookup over fixed pairs, for the tests of each part.
#[cfg(test)]
fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pictures_and_documents_have_limits_and_an_optional_vision_model() {
        let config = from_vars(&vars(&[])).unwrap();
        assert_eq!(config.service.vision_model, None);
        assert_eq!(config.service.image_max_bytes, 10 * 1024 * 1024);
        assert_eq!(config.service.image_max_side, 1024);
        assert_eq!(config.service.images_in_context, 4);
        assert_eq!(config.service.document_max_bytes, 20 * 1024 * 1024);
        let config = from_vars(&vars(&[
            ("HEARTH_VISION_MODEL", "qwen2.5vl:3b"),
            ("HEARTH_IMAGE_MAX_MB", "5"),
            ("HEARTH_IMAGE_MAX_SIDE", "768"),
            ("HEARTH_IMAGES_IN_CONTEXT", "1"),
            ("HEARTH_DOCUMENT_MAX_MB", "50"),
        ]))
        .unwrap();
        assert_eq!(config.service.vision_model.as_deref(), Some("qwen2.5vl:3b"));
        assert_eq!(config.service.image_max_bytes, 5 * 1024 * 1024);
        assert_eq!(config.service.image_max_side, 768);
        assert_eq!(config.service.images_in_context, 1);
        assert_eq!(config.service.document_max_bytes, 50 * 1024 * 1024);
        let err = from_vars(&vars(&[("HEARTH_IMAGE_MAX_MB", "lots")])).unwrap_err();
        assert_eq!(err.var, "HEARTH_IMAGE_MAX_MB");
        let err = from_vars(&vars(&[("HEARTH_VISION_MODEL", "two words")])).unwrap_err();
        assert_eq!(err.var, "HEARTH_VISION_MODEL");
    }

    #[test]
    fn defaults_are_usable() {
        let config = from_vars(&vars(&[])).unwrap();
        assert_eq!(config.model_url.as_str(), "http://127.0.0.1:11434/");
        assert!(config.telegram.is_none());
        assert_eq!(config.service.max_concurrent_requests, 1);
    }

    #[test]
    fn errors_name_the_variable_and_never_show_the_token() {
        let err = from_vars(&vars(&[("TELEGRAM_BOT_TOKEN", "secret-value-123")])).unwrap_err();
        assert_eq!(err.var, "TELEGRAM_BOT_TOKEN");
        assert!(!err.to_string().contains("secret-value-123"));
        let err = from_vars(&vars(&[("HEARTH_TELEGRAM_ALLOWED_USERS", "12, bob")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("HEARTH_TELEGRAM_ALLOWED_USERS:")
                && err.to_string().contains("bob")
        );
        let err = from_vars(&vars(&[("HEARTH_MAX_CONCURRENT_REQUESTS", "0")])).unwrap_err();
        assert_eq!(err.var, "HEARTH_MAX_CONCURRENT_REQUESTS");
    }

    #[test]
    fn reminder_settings_are_checked() {
        let config = from_vars(&vars(&[
            ("HEARTH_TIMEZONE", "asia/seoul"),
            ("HEARTH_REMINDER_MAX_LATE", "90m"),
        ]))
        .unwrap();
        assert_eq!(config.service.default_timezone, chrono_tz::Asia::Seoul);
        assert_eq!(
            config.service.reminder_max_late,
            Duration::from_secs(90 * 60)
        );
        let err = from_vars(&vars(&[("HEARTH_TIMEZONE", "Mars/Olympus")])).unwrap_err();
        assert_eq!(err.var, "HEARTH_TIMEZONE");
        let err = from_vars(&vars(&[("HEARTH_REMINDER_MAX_LATE", "a while")])).unwrap_err();
        assert_eq!(err.var, "HEARTH_REMINDER_MAX_LATE");
    }

    #[test]
    fn embedding_models_may_run_side_by_side_with_weights() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("minilm"), dir.path().join("use"));
        for model in [&a, &b] {
            std::fs::create_dir(model).unwrap();
            std::fs::write(model.join("model.onnx"), b"x").unwrap();
        }
        let library = dir.path().join("libonnxruntime.so");
        std::fs::write(&library, b"x").unwrap();
        let both = format!("{}, {}", a.display(), b.display());
        let library = library.display().to_string();
        let config = from_vars(&vars(&[
            ("HEARTH_EMBED_MODEL_DIR", &both),
            ("ORT_DYLIB_PATH", &library),
        ]))
        .unwrap();
        assert_eq!(config.embed.len(), 2);
        assert_eq!(config.embed[1].model, EmbedModelSource::Dir(b.clone()));
        assert_eq!(config.embed_weights, vec![1.0, 1.0]);
        let config = from_vars(&vars(&[
            ("HEARTH_EMBED_MODEL_DIR", &both),
            ("HEARTH_EMBED_WEIGHTS", "0.3, 0.7"),
            ("ORT_DYLIB_PATH", &library),
        ]))
        .unwrap();
        assert_eq!(config.embed_weights, vec![0.3, 0.7]);
        for wrong in ["1", "a,b", "-1,2", "0,0"] {
            let err = from_vars(&vars(&[
                ("HEARTH_EMBED_MODEL_DIR", &both),
                ("HEARTH_EMBED_WEIGHTS", wrong),
                ("ORT_DYLIB_PATH", &library),
            ]))
            .unwrap_err();
            assert_eq!(err.var, "HEARTH_EMBED_WEIGHTS", "{wrong}");
        }
        let missing = format!("{},{}/nothing", a.display(), b.display());
        let err = from_vars(&vars(&[
            ("HEARTH_EMBED_MODEL_DIR", &missing),
            ("ORT_DYLIB_PATH", &library),
        ]))
        .unwrap_err();
        assert_eq!(err.var, "HEARTH_EMBED_MODEL_DIR");
        assert!(from_vars(&vars(&[])).unwrap().embed.is_empty());
    }

    #[test]
    fn notes_use_the_memory_model_their_own_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("use"), dir.path().join("minilm"));
        for model in [&a, &b] {
            std::fs::create_dir(model).unwrap();
            std::fs::write(model.join("model.onnx"), b"x").unwrap();
        }
        let library = dir.path().join("libonnxruntime.so");
        std::fs::write(&library, b"x").unwrap();
        let (a, library) = (a.display().to_string(), library.display().to_string());
        let with = |notes: Option<&str>| {
            let mut pairs = vec![
                ("HEARTH_EMBED_MODEL_DIR", a.as_str()),
                ("ORT_DYLIB_PATH", library.as_str()),
            ];
            if let Some(notes) = notes {
                pairs.push(("HEARTH_NOTES_EMBED_MODEL_DIR", notes));
            }
            from_vars(&vars(&pairs))
        };
        assert!(matches!(
            with(None).unwrap().notes_embed,
            NotesEmbed::SameAsMemory
        ));
        assert!(matches!(
            with(Some("OFF")).unwrap().notes_embed,
            NotesEmbed::Off
        ));
        match with(Some(&b.display().to_string())).unwrap().notes_embed {
            NotesEmbed::Models(models) => {
                assert_eq!(models.len(), 1);
                assert_eq!(models[0].model, EmbedModelSource::Dir(b.clone()));
                assert_eq!(models[0].ort_library.display().to_string(), library);
            }
            other => panic!("{other:?}"),
        }
        let err = with(Some("/nowhere")).unwrap_err();
        assert_eq!(err.var, "HEARTH_NOTES_EMBED_MODEL_DIR");
        let err = from_vars(&vars(&[("HEARTH_NOTES_EMBED_MODEL_DIR", a.as_str())])).unwrap_err();
        assert_eq!(
            err.var, "HEARTH_NOTES_EMBED_MODEL_DIR",
            "no ONNX Runtime configured"
        );
    }

    #[test]
    fn the_language_is_auto_en_or_ko() {
        use bot_core::lang::{Choice, Lang};
        assert_eq!(
            from_vars(&vars(&[])).unwrap().service.language,
            Choice::Auto
        );
        let config = from_vars(&vars(&[("HEARTH_LANGUAGE", "ko")])).unwrap();
        assert_eq!(config.service.language, Choice::Fixed(Lang::Ko));
        let err = from_vars(&vars(&[("HEARTH_LANGUAGE", "tlh")])).unwrap_err();
        assert_eq!(err.var, "HEARTH_LANGUAGE");
    }

    #[test]
    fn tools_are_on_unless_turned_off() {
        assert!(from_vars(&vars(&[])).unwrap().service.tools);
        let config = from_vars(&vars(&[("HEARTH_TOOLS", "false")])).unwrap();
        assert!(!config.service.tools);
        let err = from_vars(&vars(&[("HEARTH_TOOLS", "maybe")])).unwrap_err();
        assert_eq!(err.var, "HEARTH_TOOLS");
    }

    #[test]
    fn hooks_never_listen_without_a_token() {
        assert!(from_vars(&vars(&[])).unwrap().hooks.is_none());
        let err = from_vars(&vars(&[("HEARTH_HOOKS_ADDR", "127.0.0.1:8787")])).unwrap_err();
        assert_eq!(err.var, "HEARTH_HOOKS_TOKEN");
        let err = from_vars(&vars(&[
            ("HEARTH_HOOKS_ADDR", "127.0.0.1:8787"),
            ("HEARTH_HOOKS_TOKEN", "short"),
        ]))
        .unwrap_err();
        assert!(!err.to_string().contains("short"));
        let config = from_vars(&vars(&[
            ("HEARTH_HOOKS_ADDR", "127.0.0.1:8787"),
            ("HEARTH_HOOKS_TOKEN", "0123456789abcdef0123"),
            ("HEARTH_HOOKS_CHATS", "telegram:-100123"),
        ]))
        .unwrap();
        let hooks = config.hooks.unwrap();
        assert_eq!(
            hooks.chats,
            [(bot_core::Platform::Telegram, "-100123".to_owned())]
        );
        assert!(!format!("{hooks:?}").contains("0123456789abcdef0123"));
    }

    #[test]
    fn the_openai_compatible_api_needs_its_url() {
        let vars = |extra: &[(&str, &str)]| {
            let mut vars: HashMap<String, String> = HashMap::new();
            for (k, v) in extra {
                vars.insert((*k).to_owned(), (*v).to_owned());
            }
            vars
        };
        let error = from_vars(&vars(&[("HEARTH_MODEL_API", "openai")])).unwrap_err();
        assert_eq!(error.var, "HEARTH_MODEL_URL");
        let config = from_vars(&vars(&[
            ("HEARTH_MODEL_API", "OpenAI"),
            ("HEARTH_MODEL_URL", "http://127.0.0.1:1234/v1"),
            ("HEARTH_MODEL_API_KEY", "sk-secret"),
        ]))
        .unwrap();
        assert_eq!(config.model_api, ModelApi::OpenAi);
        assert!(!format!("{config:?}").contains("sk-secret"));
        let error = from_vars(&vars(&[("HEARTH_MODEL_API", "bard")])).unwrap_err();
        assert_eq!(error.var, "HEARTH_MODEL_API");
    }

    #[test]
    fn ollama_host_like_ollama_reads_it() {
        let host = |raw| {
            from_vars(&vars(&[("OLLAMA_HOST", raw)]))
                .unwrap()
                .model_url
                .to_string()
        };
        assert_eq!(host("gpu-box"), "http://gpu-box:11434/");
        assert_eq!(host("10.0.0.2:8080"), "http://10.0.0.2:8080/");
        assert_eq!(
            host("https://ollama.example.org/base"),
            "https://ollama.example.org/base/"
        );
        assert!(from_vars(&vars(&[("OLLAMA_HOST", "ftp://x")])).is_err());
    }

    #[test]
    fn telegram_settings() {
        let config = from_vars(&vars(&[
            ("TELEGRAM_BOT_TOKEN", "123456:ABCdefGHIjklMNO"),
            ("TELEGRAM_API_URL", "http://127.0.0.1:9/tg"),
            ("HEARTH_TELEGRAM_ALLOWED_USERS", "1001, 1002"),
            ("HEARTH_TELEGRAM_GROUPS", "yes"),
        ]))
        .unwrap();
        let telegram = config.telegram.unwrap();
        assert!(telegram.allow_groups);
        assert_eq!(telegram.api_url.as_str(), "http://127.0.0.1:9/tg");
        assert_eq!(config.telegram_allowed, ["1001", "1002"]);
        assert!(!format!("{telegram:?}").contains("ABCdef"));
    }

    #[test]
    fn privacy_and_log_settings() {
        let runtime = tempfile::NamedTempFile::new().unwrap();
        let runtime = runtime.path().to_str().unwrap();
        let refused = from_vars(&vars(&[("HEARTH_EMBED_MODEL", "MultilingualE5Small")]))
            .err()
            .unwrap();
        assert_eq!(refused.var, "HEARTH_EMBED_MODEL");
        assert!(
            refused.problem.contains("HEARTH_ALLOW_DOWNLOADS"),
            "{}",
            refused.problem
        );
        let allowed = from_vars(&vars(&[
            ("HEARTH_EMBED_MODEL", "MultilingualE5Small"),
            ("HEARTH_ALLOW_DOWNLOADS", "true"),
            ("ORT_DYLIB_PATH", runtime),
        ]))
        .unwrap();
        assert_eq!(allowed.embed.len(), 1);

        let plain = from_vars(&vars(&[])).unwrap();
        assert!(plain.master_key_file.is_none() && !plain.log_json && !plain.service.log_content);
        let set = from_vars(&vars(&[
            ("HEARTH_MASTER_KEY_FILE", "/etc/hearth/master.key"),
            ("HEARTH_LOG_FORMAT", "JSON"),
            ("HEARTH_LOG_CONTENT", "true"),
        ]))
        .unwrap();
        assert_eq!(
            set.master_key_file.as_deref(),
            Some(std::path::Path::new("/etc/hearth/master.key"))
        );
        assert!(set.log_json && set.service.log_content);
        let bad = from_vars(&vars(&[("HEARTH_LOG_FORMAT", "xml")]))
            .err()
            .unwrap();
        assert_eq!(bad.var, "HEARTH_LOG_FORMAT");
        assert!(plain.metrics_addr.is_none());
        let metrics = from_vars(&vars(&[("HEARTH_METRICS_ADDR", "127.0.0.1:9464")])).unwrap();
        assert_eq!(metrics.metrics_addr.unwrap().port(), 9464);
        let bad = from_vars(&vars(&[("HEARTH_METRICS_ADDR", "localhost")]))
            .err()
            .unwrap();
        assert_eq!(bad.var, "HEARTH_METRICS_ADDR");
    }
}
