//! Test support for Hearth's whole-bot tests: local fakes of the Telegram Bot
//! API, Discord and Ollama, faithful enough to drive the real teloxide and ollama-rs
//! clients, and a helper that runs the real `hearth` binary against them.
//!
//! - [`telegram::FakeTelegram`]: Bot API on 127.0.0.1:0; enforces the 4096
//!   limit and Telegram's HTML rules, can answer 429.
//! - [`discord::FakeDiscord`]: Discord REST and a WebSocket gateway on
//!   127.0.0.1:0; enforces the 3-second first response and 2,000 characters,
//!   can answer 429 and drop the gateway connection.
//! - [`ollama::FakeOllama`]: Ollama's API with exact NDJSON shapes; can split
//!   UTF-8 characters across HTTP chunks, go down and come back on the same port.
//! - [`html`]: Telegram's HTML entity parser, as the fake applies it.
//! - [`voice`]: voice notes made with espeak-ng and opusenc; word error rate.
//! - [`bot::BotProcess`]: the `hearth` binary with its log captured.

pub mod bench;
pub mod bot;
pub mod discord;
pub mod html;
pub mod llm;
pub mod mcp;
pub mod ollama;
pub mod telegram;
pub mod voice;

use std::path::PathBuf;
use std::time::Duration;

/// The offline embedding model folder and ONNX Runtime library that
/// `scripts/install-models.sh` installs into `models/`.
pub fn models() -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let model = root.join("minilm");
    let runtime = root.join("onnxruntime/libonnxruntime.so");
    assert!(
        model.join("model.onnx").is_file() && runtime.is_file(),
        "the offline models are missing in {}: run scripts/install-models.sh (scripts/test.sh does)",
        root.display()
    );
    (model, runtime)
}

/// The multilingual embedding model folder (Universal Sentence Encoder multilingual) that
/// `scripts/install-models.sh` makes fastembed-ready in `models/use-multilingual`.
pub fn multilingual_model() -> PathBuf {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/use-multilingual");
    assert!(
        model.join("model.onnx").is_file(),
        "{} is missing: run scripts/install-models.sh (scripts/test.sh does)",
        model.display()
    );
    model
}

/// Whether `c` is a Hangul syllable (가..힣).
pub fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// Polls `check` every 20 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Serves `app` on `listener` as the real services do: with TCP_NODELAY on every connection
/// (Go's net/http, which Ollama uses, and nginx set it), so a response or gateway event written
/// in several pieces does not wait for the bot's delayed ACK (40 ms on Linux) between them.
pub async fn serve(listener: tokio::net::TcpListener, app: axum::Router) {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("fake server: TCP_NODELAY not set: {e}");
        }
    });
    axum::serve(listener, app).await.unwrap();
}
