//! Core overhead of the bot, measured on the real release binary against the fakes.
//!
//! - Per message: from the fake Telegram handing an update to the bot (the
//!   getUpdates response) to the chat request reaching the fake Ollama (its
//!   handler entry), over 1,000 messages from 100 users, twice:
//!   - one at a time: each message is sent once the previous one reached Ollama;
//!   - in bursts: 10 rounds in which all 100 users write at once.
//!
//!   The fake model answers at once and model slots are not the bottleneck, so
//!   this is the bot's own share. The fakes run in this process on the same
//!   two cores, so contention is included; while waiting the benchmark only counts
//!   requests and replies (copying them every 20 ms slowed the fakes it measures).
//! - Start-up: from spawning `hearth run` to its first getUpdates call.
//! - Idle RSS of `hearth run` connected to the fakes.
//!
//! Run: `cargo bench -p hearth-tests --bench core_overhead`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hearth_tests::bench::{ms, print_latencies, rss_kib};
use hearth_tests::bot::BotProcess;
use hearth_tests::ollama::FakeOllama;
use hearth_tests::telegram::FakeTelegram;

const TOKEN: &str = "123456:BENCH-token-value";
/// 100 (a smoke run without `--bench`: 10).
fn users() -> i64 {
    if hearth_tests::bench::smoke() {
        10
    } else {
        100
    }
}
/// 10 (a smoke run without `--bench`: 2).
fn rounds() -> usize {
    if hearth_tests::bench::smoke() { 2 } else { 10 }
}

#[tokio::main]
async fn main() {
    let tg = FakeTelegram::start(TOKEN).await;
    let ollama = FakeOllama::start(&["bench-model"]).await;
    let data = tempfile::tempdir().unwrap();
    let allowed: Vec<String> = (1..=users()).map(|u| (10_000 + u).to_string()).collect();
    let env: Vec<(String, String)> = [
        ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", tg.url.clone()),
        ("OLLAMA_HOST", ollama.url()),
        ("OLLAMA_MODEL", "bench-model".to_owned()),
        (
            "HEARTH_DATA_DIR",
            data.path().join("state").display().to_string(),
        ),
        ("HEARTH_TELEGRAM_ALLOWED_USERS", allowed.join(",")),
        ("HEARTH_MAX_CONCURRENT_REQUESTS", "64".to_owned()),
        ("HEARTH_TELEGRAM_EDIT_INTERVAL_MS", "50".to_owned()),
        // Memory capture asks the model a second question after each answer; this measures
        // the path of one message to the model.
        ("HEARTH_MEMORY_AUTO", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    hearth_tests::bot::hearth_binary();
    let spawned = Instant::now();
    let bot = BotProcess::spawn(&["run"], &env, data.path(), &[TOKEN]);
    let first_poll = hearth_tests::eventually(Duration::from_secs(30), || {
        tg.calls_of("getupdates").first().map(|c| c.at)
    })
    .await
    .expect("the bot never polled");
    let startup = first_poll - spawned;

    // Idle: connected, polling, nothing to do.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = bot_pid(&bot);
    let idle_rss = rss_kib(pid);

    let mut handed: HashMap<String, i64> = HashMap::new();
    for n in 0..(users() as usize * rounds()) {
        let user = n as i64 % users() + 1;
        let text = format!("single {n} from user {user}");
        let update = tg.send_private(10_000 + user, "Bench", &text);
        handed.insert(text, update);
        hearth_tests::eventually(Duration::from_secs(30), || {
            (ollama.request_count() > n).then_some(())
        })
        .await
        .expect("request reached Ollama");
    }
    let single = latencies_of(&ollama.requests(), &handed, &tg);
    hearth_tests::eventually(Duration::from_secs(60), || {
        let replies = tg.message_count(10_001..=10_000 + users());
        (replies >= users() as usize * rounds()).then_some(())
    })
    .await
    .expect("all replies delivered");
    let burst_start = ollama.request_count();
    for round in 0..rounds() {
        let before = ollama.request_count();
        for user in 1..=users() {
            let text = format!("burst {round} from user {user}");
            let id = tg.send_private(10_000 + user, "Bench", &text);
            handed.insert(text, id);
        }
        let expected = before + users() as usize;
        hearth_tests::eventually(Duration::from_secs(60), || {
            (ollama.request_count() >= expected).then_some(())
        })
        .await
        .expect("all requests reach Ollama");
        // Let the replies finish before the next round.
        hearth_tests::eventually(Duration::from_secs(60), || {
            let replies = tg.message_count(10_001..=10_000 + users());
            (replies >= (rounds() + round + 1) * users() as usize).then_some(())
        })
        .await
        .expect("all replies delivered");
    }
    let busy_rss = rss_kib(pid);
    let burst = latencies_of(&ollama.requests()[burst_start..], &handed, &tg);
    drop(bot);

    println!(
        "core overhead (update handed over -> request at Ollama), {} messages from {} users each way:",
        users() as usize * rounds(),
        users()
    );
    print_latencies("one at a time", &single);
    print_latencies("100 at once", &burst);
    println!(
        "start-up (spawn -> first getUpdates): {:.0} ms",
        ms(startup)
    );
    println!(
        "RSS idle (connected, polling): {:.1} MiB",
        idle_rss as f64 / 1024.0
    );
    println!(
        "RSS after the messages: {:.1} MiB",
        busy_rss as f64 / 1024.0
    );
}

/// Sorted latencies from hand-over to arrival at Ollama of `requests`.
fn latencies_of(
    requests: &[hearth_tests::ollama::Received],
    handed: &HashMap<String, i64>,
    tg: &FakeTelegram,
) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = requests
        .iter()
        .map(|request| {
            let update = handed[&request.last_user()];
            request.at - tg.handed_over(update).expect("update was handed over")
        })
        .collect();
    latencies.sort();
    latencies
}

fn bot_pid(bot: &BotProcess) -> u32 {
    bot.pid()
}
