//! Latency to first visible text with a real model (SmolLM2-135M, one thread, greedy),
//! and the bot's RSS during the run.
//!
//! - Through the bot: from pushing a user's message into the fake Telegram to the
//!   first sendMessage carrying model text, for 50 messages from 50 users (one at a time).
//! - Directly against the model server: from sending an equivalent /api/chat request
//!   (same system prompt shape and question) to the first streamed content line.
//!
//! The difference is the bot's own share: polling, dispatch, storage, prompt, the
//! first Telegram call. Run: `cargo bench -p hearth-tests --bench real_model`
//! (needs scripts/install-llm.sh).

use std::time::{Duration, Instant};

use hearth_tests::bench::{percentile_ms, rss_kib};
use hearth_tests::bot::BotProcess;
use hearth_tests::llm::{MODEL, RealModelServer};
use hearth_tests::telegram::FakeTelegram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "123456:BENCH-token-value";
/// 50 (a smoke run without `--bench`: 3).
fn n() -> i64 {
    if hearth_tests::bench::smoke() { 3 } else { 50 }
}

fn question(i: i64) -> String {
    format!("Question {i}: name one animal that lives in the sea.")
}

/// Time to the first streamed content line of /api/chat, over a raw connection.
async fn direct_first_token(url: &str, i: i64) -> Duration {
    let addr = url.trim_start_matches("http://");
    let body = serde_json::json!({
        "model": MODEL, "stream": true, "options": {"num_ctx": 2048},
        "messages": [
            {"role": "system", "content": "You are Hearth, a helpful personal assistant. Answer concisely. Use Markdown for formatting when it helps.\n\nYou are talking with Bench. The current date and time is Friday, 2026-11-27 12:00 (UTC)."},
            {"role": "user", "content": question(i)}
        ]
    })
    .to_string();
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api/chat HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "stream ended before any content");
        seen.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&seen);
        if text.contains("\"done\": false") || text.contains("\"done\":false") {
            let elapsed = started.elapsed();
            // Drain the rest so the server is free for the next request.
            while stream.read(&mut buffer).await.unwrap_or(0) > 0 {}
            return elapsed;
        }
    }
}

#[tokio::main]
async fn main() {
    let server = RealModelServer::start(2048);
    let tg = FakeTelegram::start(TOKEN).await;
    let data = tempfile::tempdir().unwrap();
    let allowed: Vec<String> = (1..=n()).map(|u| (20_000 + u).to_string()).collect();
    let env: Vec<(String, String)> = [
        ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", tg.url.clone()),
        ("OLLAMA_HOST", server.url.clone()),
        ("OLLAMA_MODEL", MODEL.to_owned()),
        (
            "HEARTH_DATA_DIR",
            data.path().join("state").display().to_string(),
        ),
        ("HEARTH_TELEGRAM_ALLOWED_USERS", allowed.join(",")),
        ("HEARTH_MEMORY_AUTO", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    hearth_tests::bot::hearth_binary();
    let bot = BotProcess::spawn(&["run"], &env, data.path(), &[TOKEN]);
    hearth_tests::eventually(Duration::from_secs(30), || {
        (!tg.calls_of("getupdates").is_empty()).then_some(())
    })
    .await
    .expect("the bot polls");
    // Warm the model once (first request loads caches).
    direct_first_token(&server.url, -1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = bot.pid();
    let idle_rss = rss_kib(pid);
    let mut peak_rss = idle_rss;

    let mut through_bot = Vec::new();
    for i in 1..=n() {
        let user = 20_000 + i;
        let sent = Instant::now();
        tg.send_private(user, "Bench", &question(i));
        let first = hearth_tests::eventually(Duration::from_secs(60), || {
            tg.calls_of("sendmessage")
                .into_iter()
                .find(|c| c.body["chat_id"] == user)
                .map(|c| c.at)
        })
        .await
        .expect("first text");
        through_bot.push(first - sent);
        peak_rss = peak_rss.max(rss_kib(pid));
        // Let the answer finish before the next question, as one user at a time would.
        hearth_tests::eventually(Duration::from_secs(60), || {
            bot.log()
                .matches(": answered")
                .count()
                .ge(&(i as usize))
                .then_some(())
        })
        .await
        .expect("answer finished");
        peak_rss = peak_rss.max(rss_kib(pid));
    }
    let mut direct = Vec::new();
    for i in 1..=n() {
        direct.push(direct_first_token(&server.url, i).await);
    }
    through_bot.sort();
    direct.sort();
    drop(bot);
    println!(
        "first visible text, SmolLM2-135M Q4_1 on 1 thread, {} messages one at a time:",
        n()
    );
    println!(
        "  through the bot (message in fake Telegram -> first sendMessage): p50 {:.1} ms   p99 {:.1} ms",
        percentile_ms(&through_bot, 0.5),
        percentile_ms(&through_bot, 0.99)
    );
    println!(
        "  model server directly (request -> first content line):          p50 {:.1} ms   p99 {:.1} ms",
        percentile_ms(&direct, 0.5),
        percentile_ms(&direct, 0.99)
    );
    println!(
        "bot RSS: idle {:.1} MiB, peak during the run {:.1} MiB",
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );
}
