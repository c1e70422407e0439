//! Slash-command acknowledgement latency of the real release binary against
//! the fake Discord: from the fake queueing INTERACTION_CREATE on the gateway
//! to the defer callback arriving at its REST API (Discord allows 3,000 ms).
//!
//! 1,000 `/ask` interactions from 100 users in one server channel, while the
//! fake model streams every answer (8 pieces, 25 ms apart, 4 model slots), so
//! the bot is editing responses and queueing requests as it defers new ones.
//! Two ways: one at a time (each after the previous was deferred) and in
//! bursts (10 rounds of all 100 users at once). The fakes run in this process
//! on the same two cores, so contention is included.
//!
//! Run: `cargo bench -p hearth-tests --bench discord_defer`.

use std::time::{Duration, Instant};

use hearth_tests::bench::{print_latencies, rss_kib};
use hearth_tests::bot::BotProcess;
use hearth_tests::discord::{CHANNEL, FakeDiscord, GUILD};
use hearth_tests::ollama::{FakeOllama, Script};
use serde_json::json;

const TOKEN: &str = "MTAxMDEwMTAx.bench-discord-secret.abcdefghijklmnop";
/// 100 (a smoke run without `--bench`: 10).
fn users() -> u64 {
    if hearth_tests::bench::smoke() {
        10
    } else {
        100
    }
}
/// 10 (a smoke run without `--bench`: 2).
fn rounds() -> u64 {
    if hearth_tests::bench::smoke() { 2 } else { 10 }
}

fn user(n: u64) -> String {
    (100_000_000_000_000_000 + n).to_string()
}

#[tokio::main]
async fn main() {
    let dc = FakeDiscord::start(TOKEN).await;
    let ollama = FakeOllama::start(&["bench-model"]).await;
    let pieces = [
        "Streaming ",
        "a ",
        "short ",
        "answer ",
        "for ",
        "the ",
        "benchmark",
        ".",
    ];
    for _ in 0..(2 * users() * rounds()) {
        ollama.push(Script::pieces(&pieces).with_delay(Duration::from_millis(25)));
    }
    let data = tempfile::tempdir().unwrap();
    let allowed: Vec<String> = (1..=users()).map(user).collect();
    let env: Vec<(String, String)> = [
        ("DISCORD_BOT_TOKEN", TOKEN.to_owned()),
        ("DISCORD_API_URL", dc.url.clone()),
        ("HEARTH_DISCORD_GUILDS", GUILD.to_owned()),
        ("HEARTH_DISCORD_ALLOWED_USERS", allowed.join(",")),
        ("OLLAMA_HOST", ollama.url()),
        ("OLLAMA_MODEL", "bench-model".to_owned()),
        (
            "HEARTH_DATA_DIR",
            data.path().join("state").display().to_string(),
        ),
        ("HEARTH_MAX_CONCURRENT_REQUESTS", "4".to_owned()),
        ("HEARTH_MEMORY_AUTO", "false".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    hearth_tests::bot::hearth_binary();
    let bot = BotProcess::spawn(&["run"], &env, data.path(), &[TOKEN]);
    hearth_tests::eventually(Duration::from_secs(30), || {
        (!dc.registered_commands().is_empty()).then_some(())
    })
    .await
    .expect("the bot never registered its commands");

    let member = Some((GUILD, &[][..]));
    let ask = |n: u64, label: &str| {
        let u = n % users() + 1;
        dc.slash(
            &user(u),
            CHANNEL,
            member,
            "ask",
            &[("prompt", json!(format!("{label} {n} from user {u}")))],
        )
    };
    let deferred_after = |token: &str| -> Option<Duration> {
        let record = dc.interaction(token)?;
        let (at, _) = record.response?;
        Some(at - record.dispatched)
    };

    let mut single = Vec::new();
    for n in 0..users() * rounds() {
        let token = ask(n, "single");
        let latency = hearth_tests::eventually(Duration::from_secs(10), || deferred_after(&token))
            .await
            .expect("deferred");
        single.push(latency);
    }
    let mut burst = Vec::new();
    // The slowest of each round: a tail from one round (a stall) or from all (queueing).
    let mut worst = Vec::new();
    let started = Instant::now();
    for round in 0..rounds() {
        let tokens: Vec<String> = (0..users())
            .map(|n| ask(round * users() + n, "burst"))
            .collect();
        for token in &tokens {
            let latency =
                hearth_tests::eventually(Duration::from_secs(10), || deferred_after(token))
                    .await
                    .expect("deferred");
            burst.push(latency);
        }
        worst.push(burst[burst.len() - tokens.len()..].iter().max().copied());
    }
    let burst_time = started.elapsed();
    let violations = dc.violations();
    let rss = rss_kib(bot.pid()) as f64 / 1024.0;
    drop(bot);

    single.sort();
    burst.sort();
    println!(
        "INTERACTION_CREATE -> defer callback at the fake, {} /ask from {} users each way:",
        users() * rounds(),
        users()
    );
    print_latencies("one at a time", &single);
    print_latencies("100 at once", &burst);
    let worst: Vec<String> = worst
        .iter()
        .flatten()
        .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
        .collect();
    println!("   slowest of each round, ms: {}", worst.join(", "));
    println!(
        "bursts took {:.1} s; late or refused responses: {}",
        burst_time.as_secs_f64(),
        violations.len()
    );
    println!("RSS of hearth at the end: {rss:.1} MiB");
}
