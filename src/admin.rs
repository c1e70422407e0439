//! The owner's line into the running bot: a Unix socket in the data directory.
//!
//! `hearth send --user telegram:123 TEXT` connects to `DATA_DIR/admin.sock`, writes one
//! JSON request line and reads one JSON answer line. The socket is created 0600 inside the
//! 0700 data directory, so only the account that runs Hearth (and root) can use it: no
//! token to leak, no port open to the network.
//!
//! Requests: `{"op":"send","user":"telegram:123","text":"…"}`, answered
//! `{"ok":true,"messages":1}`; `{"op":"notes_index","vault":null}` (`hearth notes index`
//! while the bot runs: the bot holds the index), answered `{"ok":true,"summaries":[…]}`;
//! `{"op":"user_export","user":"telegram:123"}` answered `{"ok":true,"export":{…}}` and
//! `{"op":"user_erase","user":"telegram:123"}` answered `{"ok":true,"erased":{…}}`
//! (`hearth user export|erase` while the bot runs).
//! `{"op":"backup","dir":"/abs/dir"}` (`hearth backup` while the bot runs: the copy is made
//! between two store writes) answered `{"ok":true,"manifest":{…}}`.
//! Failures: `{"ok":false,"error":"…"}`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use bot_core::outbound::OutboundMessage;
use bot_core::{ChatService, UserKey};
use hearth_notes::Notes;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

/// The longest request line accepted (a message of a few thousand characters fits).
const MAX_REQUEST: usize = 64 * 1024;

/// Where the running bot listens.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

/// What the admin requests reach.
#[derive(Clone)]
pub struct Backends {
    /// The chat service.
    pub service: ChatService,
    /// The owner's notes, when vaults are configured.
    pub notes: Option<Arc<Notes>>,
    /// The database (for backups).
    pub store: bot_core::store::sled_store::SledStore,
    /// The data directory.
    pub data_dir: PathBuf,
}

/// Serves admin requests until `shutdown`; removes the socket when it stops.
pub async fn serve(
    path: PathBuf,
    backends: Backends,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // A socket left by a bot that was killed; the database lock already guarantees that
    // no other Hearth runs on this data directory.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("cannot open the admin socket {}", path.display()))?;
    tracing::info!(socket = %path.display(), "admin socket ready (hearth send)");
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "admin socket accept failed");
                    continue;
                }
            },
        };
        let backends = backends.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &backends).await {
                tracing::warn!(error = %e, "admin request failed");
            }
        });
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

async fn answer(stream: UnixStream, backends: &Backends) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read.take(MAX_REQUEST as u64))
        .read_line(&mut line)
        .await?;
    let response = match serde_json::from_str::<Value>(&line) {
        Ok(request) if request["op"] == "notes_index" => {
            index_notes(&request, backends.notes.clone()).await
        }
        Ok(request) if request["op"] == "backup" => {
            let Some(dir) = request["dir"].as_str().map(PathBuf::from) else {
                return write_line(&mut write, json!({"ok": false, "error": "dir is missing"}))
                    .await;
            };
            match crate::backup::from_running(&backends.store, &backends.data_dir, &dir).await {
                Ok(manifest) => json!({"ok": true, "manifest": manifest}),
                Err(e) => json!({"ok": false, "error": format!("{e:#}")}),
            }
        }
        Ok(request) => handle(&request, &backends.service).await,
        Err(_) => json!({"ok": false, "error": "the request is not one line of JSON"}),
    };
    write_line(&mut write, response).await
}

async fn write_line(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    response: Value,
) -> anyhow::Result<()> {
    write.write_all(format!("{response}\n").as_bytes()).await?;
    Ok(())
}

async fn handle(request: &Value, service: &ChatService) -> Value {
    match request["op"].as_str() {
        Some("send") => {
            let Some(user) = request["user"].as_str().and_then(UserKey::parse) else {
                return json!({"ok": false, "error": "user must look like telegram:123456 or discord:123456"});
            };
            let text = request["text"].as_str().unwrap_or_default().trim();
            if text.is_empty() {
                return json!({"ok": false, "error": "there is no text to send"});
            }
            match service
                .send_to_user(&user, OutboundMessage::text(text))
                .await
            {
                Ok(ids) => json!({"ok": true, "messages": ids.len()}),
                Err(e) => {
                    tracing::info!(user = %user, error = %e, "hearth send refused");
                    json!({"ok": false, "error": e.to_string()})
                }
            }
        }
        Some(op @ ("user_export" | "user_erase")) => {
            let Some(user) = request["user"].as_str().and_then(UserKey::parse) else {
                return json!({"ok": false, "error": "user must look like telegram:123456 or discord:123456"});
            };
            if op == "user_export" {
                match service.export(&user).await {
                    Ok(export) => json!({"ok": true, "export": export}),
                    Err(e) => json!({"ok": false, "error": e.to_string()}),
                }
            } else {
                match service.erase_person(&user).await {
                    Ok(erased) => json!({"ok": true, "erased": erased}),
                    Err(e) => json!({"ok": false, "error": e.to_string()}),
                }
            }
        }
        _ => json!({"ok": false, "error": "unknown request"}),
    }
}

/// Updates the notes index on the owner's request.
async fn index_notes(request: &Value, notes: Option<Arc<Notes>>) -> Value {
    let Some(notes) = notes else {
        return json!({"ok": false, "error": "the running bot has no vaults (HEARTH_NOTES)"});
    };
    let vault = request["vault"].as_str().map(str::to_owned);
    let update =
        tokio::task::spawn_blocking(move || notes.update(vault.as_deref(), &|_, _, _| {})).await;
    match update {
        Ok(Ok(summaries)) => json!({
            "ok": true,
            "summaries": summaries.iter().map(crate::notes_cli::summary_json).collect::<Vec<_>>(),
        }),
        Ok(Err(e)) => json!({"ok": false, "error": e.to_string()}),
        Err(e) => json!({"ok": false, "error": format!("the update failed: {e}")}),
    }
}

/// Sends one request to the running bot and reads its answer; `None` when no bot listens.
pub async fn request(data_dir: &Path, request: &Value) -> anyhow::Result<Option<Value>> {
    let path = socket_path(data_dir);
    let Ok(stream) = UnixStream::connect(&path).await else {
        return Ok(None);
    };
    let (read, mut write) = stream.into_split();
    write
        .write_all(format!("{request}\n").as_bytes())
        .await
        .context("writing to the admin socket")?;
    let mut line = String::new();
    BufReader::new(read)
        .read_line(&mut line)
        .await
        .context("reading the bot's answer")?;
    let answer =
        serde_json::from_str(&line).context("the bot's answer is not JSON (is it Hearth?)")?;
    Ok(Some(answer))
}

/// `hearth send`: asks the running bot to send `text` to `user`.
pub async fn send(config: &crate::config::Config, user: &str, text: &str) -> anyhow::Result<()> {
    if UserKey::parse(user).is_none() {
        anyhow::bail!("--user must look like telegram:123456 or discord:123456, not '{user}'");
    }
    if text.trim().is_empty() {
        anyhow::bail!("there is no text to send");
    }
    let request_line = json!({"op": "send", "user": user, "text": text});
    let answer = request(&config.data_dir, &request_line)
        .await?
        .with_context(|| {
            format!(
                "cannot reach the running bot at {} (is `hearth run` running with this HEARTH_DATA_DIR?)",
                socket_path(&config.data_dir).display()
            )
        })?;
    if answer["ok"].as_bool() == Some(true) {
        println!("sent to {user} ({} message(s))", answer["messages"]);
        Ok(())
    } else {
        anyhow::bail!(
            "not sent: {}",
            answer["error"].as_str().unwrap_or("the bot refused")
        )
    }
}
