//! `hearth doctor`: one pass/fail line per check, with a hint to fix each failure.

use std::process::ExitCode;

use bot_core::memory::embed::load_models;

use crate::config::Config;

struct Report {
    failures: usize,
}

impl Report {
    fn pass(&self, what: &str) {
        println!("PASS  {what}");
    }

    fn fail(&mut self, what: &str, fix: &str) {
        self.failures += 1;
        println!("FAIL  {what}\n      fix: {fix}");
    }

    fn skip(&self, what: &str) {
        println!("SKIP  {what}");
    }
}

/// Runs every check; exit code 1 when any fails.
pub async fn run(config: &Config) -> ExitCode {
    let mut report = Report { failures: 0 };
    check_data_dir(config, &mut report);
    check_encryption(config, &mut report);
    check_logs(config, &mut report);

    let model = crate::build_model(config);
    let wanted = &config.service.default_model;
    let (server, install, start) = match config.model_api {
        crate::config::ModelApi::Ollama => (
            "Ollama",
            format!("run `ollama pull {wanted}` on the Ollama machine"),
            "start Ollama (`ollama serve`) or point OLLAMA_HOST at it",
        ),
        crate::config::ModelApi::OpenAi => (
            "the OpenAI-compatible server",
            format!("load {wanted} in the server"),
            "start the server or point HEARTH_MODEL_URL at it (and set HEARTH_MODEL_API_KEY if it needs one)",
        ),
    };
    match model.list_models().await {
        Ok(models) => {
            report.pass(&format!(
                "{server} at {} is reachable ({} models)",
                model.describe(),
                models.len()
            ));
            let latest = format!("{wanted}:latest");
            if models.iter().any(|m| m == wanted || *m == latest) {
                report.pass(&format!("model '{wanted}' is installed"));
                check_tools(config, model.as_ref(), &mut report).await;
                check_pictures(config, model.as_ref(), &models, &mut report).await;
            } else {
                report.fail(
                    &format!(
                        "model '{wanted}' is not installed (have: {})",
                        models.join(", ")
                    ),
                    &format!("{install}, or set OLLAMA_MODEL to one of the installed models"),
                );
            }
        }
        Err(e) => {
            report.fail(
                &format!("{server} at {} is not reachable: {e}", model.describe()),
                start,
            );
            report.skip(&format!("model '{wanted}' ({server} not reachable)"));
        }
    }

    check_embedder(config, &mut report).await;
    check_voice(config, &mut report).await;
    check_notes(config, &mut report).await;
    check_reminders(config, &mut report);
    check_language(config, &mut report);
    check_actions(config, &mut report);
    check_mcp(config, &mut report).await;
    match config.metrics_addr {
        None => {
            report.skip("metrics: HEARTH_METRICS_ADDR is not set (/metrics and /healthz are off)")
        }
        Some(addr) if addr.ip().is_loopback() => report.pass(&format!(
            "metrics: /metrics and /healthz on {addr} (loopback)"
        )),
        Some(addr) => println!(
            "NOTE  metrics: /metrics and /healthz on {addr}, reachable beyond this machine; they carry no message text, but keep them on a private network"
        ),
    }
    match &config.hooks {
        None => report.skip("hooks: HEARTH_HOOKS_ADDR is not set (POST /hooks/notify is off)"),
        Some(hooks) => report.pass(&format!(
            "hooks: POST /hooks/notify on {} with a bearer token (HEARTH_HOOKS_TOKEN); {} extra chat(s) allowed",
            hooks.addr,
            hooks.chats.len()
        )),
    }

    match &config.telegram {
        None => report.skip("Telegram: TELEGRAM_BOT_TOKEN is not set"),
        Some(telegram) => match hearth_telegram::check_token(telegram).await {
            Ok(me) => report.pass(&format!("Telegram token is valid (@{})", me.username())),
            Err(e) => report.fail(
                &format!("Telegram: {e}"),
                "check TELEGRAM_BOT_TOKEN (from @BotFather) and TELEGRAM_API_URL",
            ),
        },
    }
    if config.telegram.is_some() && config.telegram_allowed.is_empty() {
        println!("NOTE  HEARTH_TELEGRAM_ALLOWED_USERS is empty: nobody can use the bot yet");
    }

    match &config.discord {
        None => report.skip("Discord: DISCORD_BOT_TOKEN is not set"),
        Some(discord) => match hearth_discord::check_token(discord).await {
            Ok(name) => report.pass(&format!("Discord token is valid ({name})")),
            Err(e) => report.fail(
                &format!("Discord: {e}"),
                "check DISCORD_BOT_TOKEN (developer portal, Bot page) and DISCORD_API_URL",
            ),
        },
    }
    if config.discord.is_some() && config.discord_access.is_empty() {
        println!(
            "NOTE  HEARTH_DISCORD_ALLOWED_USERS/ROLES/GUILDS are empty: nobody can use the bot on Discord yet"
        );
    }

    if report.failures == 0 {
        println!("\nAll checks passed.");
        ExitCode::SUCCESS
    } else {
        println!("\n{} check(s) failed.", report.failures);
        ExitCode::FAILURE
    }
}

fn check_data_dir(config: &Config, report: &mut Report) {
    let dir = &config.data_dir;
    let probe = dir.join(".hearth-doctor-probe");
    let result = crate::data_dir::create(dir).and_then(|()| {
        std::fs::write(&probe, b"ok")?;
        std::fs::remove_file(&probe)?;
        Ok(())
    });
    match result {
        Ok(()) => report.pass(&format!(
            "data directory {} is writable and private (0700)",
            dir.display()
        )),
        Err(e) => report.fail(
            &format!("data directory {} is not usable: {e:#}", dir.display()),
            "set HEARTH_DATA_DIR to a directory the bot's user owns and can write",
        ),
    }
    let socket = crate::admin::socket_path(dir);
    if socket.exists() {
        println!(
            "NOTE  a running bot may be listening at {} (hearth send uses it)",
            socket.display()
        );
    }
}

/// What the log holds, and the one download the configuration may allow.
fn check_logs(config: &Config, report: &mut Report) {
    report.pass(&format!(
        "logs: {} lines; {}",
        if config.log_json { "JSON" } else { "text" },
        if config.service.log_content {
            "message and answer text at debug level (HEARTH_LOG_CONTENT=true)"
        } else {
            "no message or answer text (HEARTH_LOG_CONTENT is off)"
        }
    ));
    if config.embed.iter().any(|m| {
        matches!(
            m.model,
            bot_core::memory::embed::EmbedModelSource::Builtin(_)
        )
    }) {
        println!(
            "NOTE  HEARTH_ALLOW_DOWNLOADS=true: the built-in embedding model is downloaded from Hugging Face on first use"
        );
    }
}

/// Encryption at rest: the master key file, its mode, and whether it opens the keyring.
fn check_encryption(config: &Config, report: &mut Report) {
    use bot_core::store::seal::{KEYRING_FILE, Keyring, MasterKey};
    let backups: Vec<String> = std::fs::read_dir(&config.data_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("db.unencrypted-backup-")
        })
        .map(|e| e.path().display().to_string())
        .collect();
    let Some(path) = &config.master_key_file else {
        if config.data_dir.join(KEYRING_FILE).exists() {
            report.fail(
                "encryption: the data directory is encrypted but HEARTH_MASTER_KEY_FILE is not set",
                "set HEARTH_MASTER_KEY_FILE to the master key it was encrypted with",
            );
            return;
        }
        report.skip(
            "encryption: off (HEARTH_MASTER_KEY_FILE is not set): conversations, memories and documents are stored unencrypted; `hearth keygen PATH` makes a key",
        );
        return;
    };
    let master = match MasterKey::read(path) {
        Ok(master) => master,
        Err(e) => {
            report.fail(
                &format!("encryption: {e}"),
                "point HEARTH_MASTER_KEY_FILE at the key file `hearth keygen` wrote",
            );
            return;
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            report.fail(
                &format!(
                    "encryption: the master key {} is readable by other users (mode {:o})",
                    path.display(),
                    meta.permissions().mode() & 0o777
                ),
                &format!("chmod 600 {}", path.display()),
            );
            return;
        }
    }
    let ring_path = config.data_dir.join(KEYRING_FILE);
    if !ring_path.exists() {
        report.pass(&format!(
            "encryption: on with the master key {} (no data yet; existing unencrypted data is encrypted at the next start, a backup kept)",
            path.display()
        ));
    } else {
        // Read only: opening the keyring of an existing file writes nothing.
        match Keyring::open(&ring_path, master) {
            Ok(ring) => report.pass(&format!(
                "encryption: on; the master key {} opens the keyring ({} people have a key)",
                path.display(),
                ring.people().len()
            )),
            Err(e) => report.fail(
                &format!("encryption: {e}"),
                "use the master key this data directory was encrypted with",
            ),
        }
    }
    for backup in backups {
        println!(
            "NOTE  {backup} is the unencrypted copy kept when the data was encrypted: delete it once the bot runs well"
        );
    }
}

/// Whether the default model will be offered the built-in tools.
async fn check_tools(
    config: &Config,
    model: &dyn bot_core::model::LanguageModel,
    report: &mut Report,
) {
    let wanted = &config.service.default_model;
    if !config.service.tools {
        report.skip("tools: HEARTH_TOOLS=false (the model is offered no tools)");
        return;
    }
    if config.model_api == crate::config::ModelApi::OpenAi {
        // That API cannot say whether a model takes tools: a one-token request that offers
        // one shows whether the server refuses them.
        use bot_core::model::{ChatRequest, PromptMessage, Role, ToolSpec};
        let request = ChatRequest {
            num_predict: Some(1),
            tools: vec![ToolSpec {
                name: "current_time".into(),
                description: "The current time.".into(),
                parameters: serde_json::json!({"type": "object", "properties": {}}),
            }],
            ..ChatRequest::new(wanted.clone(), vec![PromptMessage::new(Role::User, "hi")])
        };
        match model.chat(request).await {
            Ok(_) => report.pass(&format!(
                "tools: the server takes tools for '{wanted}' (reminders, memories, notes, the time)"
            )),
            Err(bot_core::model::ModelError::ToolsUnsupported(why)) => println!(
                "NOTE  tools: the server refuses tools for '{wanted}' ({why}); reminders and memories \
                 work through commands and plain requests (llama-server needs --jinja, vLLM \
                 --enable-auto-tool-choice and a --tool-call-parser)"
            ),
            Err(e) => report.skip(&format!("tools: could not ask about '{wanted}': {e}")),
        }
        return;
    }
    match model.model_info(wanted).await {
        Ok(info) if info.tools => report.pass(&format!(
            "tools: '{wanted}' can call tools (reminders, memories, notes, the time)"
        )),
        Ok(_) => println!(
            "NOTE  tools: '{wanted}' cannot call tools; reminders and memories work through \
             commands and plain requests (a tool-capable model such as qwen2.5 or llama3.2 adds them to answers)"
        ),
        Err(e) => report.skip(&format!("tools: could not ask about '{wanted}': {e}")),
    }
}

/// Which model answers pictures: the default one if it can see, else
/// `HEARTH_VISION_MODEL` (which must be installed and able to see); and the file limits.
async fn check_pictures(
    config: &Config,
    model: &dyn bot_core::model::LanguageModel,
    installed: &[String],
    report: &mut Report,
) {
    let service = &config.service;
    let mb = |bytes: u64| bytes / (1024 * 1024);
    let limits = format!(
        "pictures up to {} MB downscaled to {} px, the latest {} sent to the model          (HEARTH_IMAGE_MAX_MB, HEARTH_IMAGE_MAX_SIDE, HEARTH_IMAGES_IN_CONTEXT); documents up to {} MB          (HEARTH_DOCUMENT_MAX_MB): PDF, .docx, .html, .txt, .md, .csv, .json",
        mb(service.image_max_bytes),
        service.image_max_side,
        service.images_in_context,
        mb(service.document_max_bytes)
    );
    let wanted = &service.default_model;
    let own_sees = matches!(model.model_info(wanted).await, Ok(info) if info.vision);
    match (&service.vision_model, own_sees) {
        (_, true) => report.pass(&format!("pictures: '{wanted}' can see them; {limits}")),
        (None, false) => println!(
            "NOTE  pictures: '{wanted}' cannot see pictures and HEARTH_VISION_MODEL is not set:              photos get a note saying so (e.g. `ollama pull qwen2.5vl:3b` and set HEARTH_VISION_MODEL); {limits}"
        ),
        (Some(vision), false) => {
            let latest = format!("{vision}:latest");
            if !installed.iter().any(|m| m == vision || *m == latest) {
                report.fail(
                    &format!("pictures: HEARTH_VISION_MODEL '{vision}' is not installed"),
                    &format!("run `ollama pull {vision}`, or unset HEARTH_VISION_MODEL"),
                );
                return;
            }
            match model.model_info(vision).await {
                Ok(info) if info.vision => report.pass(&format!(
                    "pictures: answered by '{vision}' (HEARTH_VISION_MODEL); {limits}"
                )),
                Ok(_) if config.model_api == crate::config::ModelApi::OpenAi => report.pass(&format!(
                    "pictures: sent to '{vision}' (HEARTH_VISION_MODEL; the server does not say whether it can see); {limits}"
                )),
                Ok(_) => report.fail(
                    &format!("pictures: HEARTH_VISION_MODEL '{vision}' cannot see pictures (no `vision` capability)"),
                    "pick a vision model such as qwen2.5vl:3b, gemma3 or llama3.2-vision",
                ),
                Err(e) => report.skip(&format!("pictures: could not ask about '{vision}': {e}")),
            }
        }
    }
}

/// The owner's actions (`HEARTH_ACTIONS`; the file was read and checked with the rest
/// of the configuration).
fn check_actions(config: &Config, report: &mut Report) {
    let actions = &config.service.actions;
    if actions.is_empty() {
        report.skip("actions: HEARTH_ACTIONS is not set (no automations offered to the model)");
        return;
    }
    let list = actions
        .iter()
        .map(|a| {
            let ask = if a.confirm { ", asks first" } else { "" };
            format!("{} ({}{ask})", a.name, a.url.host_str().unwrap_or("?"))
        })
        .collect::<Vec<_>>()
        .join(", ");
    report.pass(&format!(
        "actions: {} offered to tool-capable models: {list}",
        actions.len()
    ));
}

/// Each MCP server: connects, lists its tools, disconnects.
async fn check_mcp(config: &Config, report: &mut Report) {
    for server in &config.mcp {
        match crate::mcp::probe(server).await {
            Ok(tools) => report.pass(&format!(
                "mcp '{}' ({}): {} tool(s){}: {}",
                server.name,
                server.describe(),
                tools.len(),
                if server.confirm { ", each call asks first" } else { "" },
                tools.join(", ")
            )),
            Err(e) => report.fail(
                &format!("mcp '{}' ({}): {e}", server.name, server.describe()),
                "check the [[mcp]] entry in the HEARTH_ACTIONS file (command or url, headers); the bot keeps retrying every 30 s",
            ),
        }
    }
}

/// The time zone reminders use for people who set none, and the late-delivery limit.
fn check_reminders(config: &Config, report: &mut Report) {
    let zone = config.service.default_timezone;
    let source = if std::env::var_os("HEARTH_TIMEZONE").is_some() {
        "HEARTH_TIMEZONE"
    } else {
        "the host's zone; set HEARTH_TIMEZONE to choose"
    };
    report.pass(&format!(
        "reminders: default time zone {} ({source}; it is {} there); reminders missed for more than {} are only noted (HEARTH_REMINDER_MAX_LATE)",
        zone.name(),
        chrono::Utc::now().with_timezone(&zone).format("%a %-d %b %H:%M"),
        humanize(config.service.reminder_max_late),
    ));
}

/// The language people are answered in when they chose none.
fn check_language(config: &Config, report: &mut Report) {
    use bot_core::lang::Choice;
    let shown = match config.service.language {
        Choice::Auto => {
            "auto (each person's app language and the language they write in)".to_owned()
        }
        Choice::Fixed(lang) => format!("{} ({})", lang.code(), lang.name()),
    };
    report.pass(&format!(
        "language: {shown} for people who chose none with /language (HEARTH_LANGUAGE: auto, en or ko)"
    ));
}

fn humanize(duration: std::time::Duration) -> String {
    let minutes = duration.as_secs() / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// Each vault: the folder can be read, how many notes it holds, and the index's state.
async fn check_notes(config: &Config, report: &mut Report) {
    if config.notes.is_empty() {
        report.skip("notes: HEARTH_NOTES is not set");
        return;
    }
    // Read-only, with the notes' embedding model: doctor may run beside the bot.
    let opened = async {
        let memory_model = match config.notes_embed {
            crate::config::NotesEmbed::SameAsMemory => crate::load_embedder(config).await?,
            _ => None,
        };
        crate::open_notes(config, memory_model, false).await
    }
    .await;
    let model = opened
        .as_ref()
        .ok()
        .and_then(|n| n.as_ref())
        .and_then(|n| n.embedding_model().map(str::to_owned));
    let status = opened.map(|notes| notes.map(|n| n.status()).unwrap_or_default());
    for vault in &config.notes {
        let name = &vault.config.name;
        let root = vault.config.root.display();
        let scan = match hearth_notes::scan::scan(&vault.config.root) {
            Ok(scan) => scan,
            Err(e) => {
                report.fail(
                    &format!("notes vault {name}: {e}"),
                    &format!("check that {root} exists and the account running Hearth can read it"),
                );
                continue;
            }
        };
        report.pass(&format!(
            "notes vault {name} ({:?}) at {root}: {} notes, {} attachments, {} unreadable",
            scan.kind,
            scan.notes.len(),
            scan.attachments,
            scan.skipped.len()
        ));
        let state = status
            .as_ref()
            .ok()
            .and_then(|all| all.iter().find(|s| &s.name == name).cloned());
        match (state, &status) {
            (_, Err(e)) => report.fail(
                &format!("notes index: {e:#}"),
                "check HEARTH_NOTES_EMBED_MODEL_DIR; remove DATA_DIR/notes to rebuild the index with `hearth notes index`",
            ),
            (Some(state), _) if state.indexed_at.is_some() => {
                report.pass(&format!(
                    "notes vault {name} is indexed: {} notes, {} passages, last {}",
                    state.notes,
                    state.passages,
                    state
                        .indexed_at
                        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default()
                ));
                match (&model, state.embedded) {
                    (Some(model), Some(done)) if done >= state.passages => report.pass(&format!(
                        "notes vault {name} is searched by meaning and keywords ({done} passages embedded with {model})"
                    )),
                    (Some(model), Some(done)) => println!(
                        "NOTE  notes vault {name}: {done} of {} passages embedded with {model}; \
                         searched by keywords until all are (the bot embeds them in the background)",
                        state.passages
                    ),
                    _ => println!(
                        "NOTE  notes vault {name} is searched by keywords only \
                         (no embedding model; HEARTH_NOTES_EMBED_MODEL_DIR)"
                    ),
                }
            }
            _ => report.skip(&format!(
                "notes vault {name} is not indexed yet (the bot indexes it at start; or run `hearth notes index`)"
            )),
        }
    }
}

async fn check_embedder(config: &Config, report: &mut Report) {
    if config.embed.is_empty() {
        println!(
            "NOTE  no embedding model configured (HEARTH_EMBED_MODEL_DIR): memory search uses keywords only"
        );
        return;
    }
    let (models, weights) = (config.embed.clone(), config.embed_weights.clone());
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let embedder = load_models(&models, &weights)?;
        let vectors = embedder.embed(&["Hearth checks its embedding model.".to_owned()])?;
        let own = [
            embedder
                .relevance_floor()
                .map(|f| format!("its relevance floor {f}, ")),
            embedder
                .dense_weight()
                .map(|w| format!("its dense weight {w}, ")),
        ]
        .into_iter()
        .flatten()
        .collect::<String>();
        Ok::<_, bot_core::memory::embed::EmbedError>((embedder.describe(), vectors[0].len(), own))
    })
    .await;
    match result {
        Ok(Ok((name, dim, own))) => report.pass(&format!(
            "embedding model {name} loads and embeds ({dim} dimensions, {own}{} ms)",
            started.elapsed().as_millis()
        )),
        Ok(Err(e)) => report.fail(
            &format!("embedding model: {e}"),
            "run scripts/install-models.sh, or fix HEARTH_EMBED_MODEL_DIR and ORT_DYLIB_PATH",
        ),
        Err(e) => report.fail(
            &format!("embedding model crashed: {e}"),
            "check ORT_DYLIB_PATH points at onnxruntime >= 1.24",
        ),
    }
}

async fn check_voice(config: &Config, report: &mut Report) {
    use bot_core::voice::Transcriber;
    use bot_core::voice::whisper::WhisperTranscriber;
    if config.voice.models.is_empty() {
        println!(
            "NOTE  no speech model configured (HEARTH_WHISPER_MODEL, \
             HEARTH_WHISPER_MULTILINGUAL_MODEL): voice notes are off"
        );
        return;
    }
    let mut multilingual = false;
    for whisper in config.voice.models.clone() {
        let result = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let transcriber = WhisperTranscriber::load(whisper)?;
            // The bot loads the weights with the first note; doctor checks them now.
            transcriber.warm_up()?;
            let loaded = started.elapsed();
            let started = std::time::Instant::now();
            transcriber.transcribe(&vec![0.0; 16_000], None)?;
            Ok::<_, bot_core::voice::VoiceError>((
                transcriber.describe(),
                transcriber.multilingual(),
                loaded,
                started.elapsed(),
            ))
        })
        .await;
        match result {
            Ok(Ok((name, is_multilingual, loaded, one_second))) => {
                multilingual |= is_multilingual;
                report.pass(&format!(
                    "speech model {name} loads in {} ms and transcribes 1 s of silence in {} ms",
                    loaded.as_millis(),
                    one_second.as_millis()
                ))
            }
            Ok(Err(e)) => report.fail(
                &format!("speech model: {e}"),
                "point HEARTH_WHISPER_MODEL at a whisper.cpp ggml model (scripts/install-models.sh installs one)",
            ),
            Err(e) => report.fail(&format!("speech model crashed: {e}"), "try another ggml model file"),
        }
    }
    use bot_core::voice::SpeechLanguage;
    let heard = match &config.voice.speech {
        SpeechLanguage::Person => {
            "in each person's language (/language, else their app's, else HEARTH_LANGUAGE)"
                .to_owned()
        }
        SpeechLanguage::Detect => "in the language Whisper detects".to_owned(),
        SpeechLanguage::Fixed(code) => format!("in {code}"),
    };
    if multilingual {
        println!("ok    voice notes are heard {heard} (HEARTH_WHISPER_LANGUAGE)");
    } else {
        println!(
            "NOTE  only an English-only speech model: voice notes in Korean or other languages \
             are heard as English; set HEARTH_WHISPER_MULTILINGUAL_MODEL (e.g. \
             models/whisper/ggml-base.bin from scripts/install-models.sh)"
        );
    }
}
