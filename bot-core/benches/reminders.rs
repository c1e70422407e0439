//! Reminder benchmark (figures go to BENCHMARKS.md): 10,000 reminders due within one
//! minute across 1,000 people, on the sled store and the system clock, delivered through an
//! outbound port that only records when each message left.
//!
//! 1. Persisting: every person sets their reminders concurrently, each created and flushed as
//!    `/remind` does before it confirms: reminders stored per second.
//! 2. Delivery: lag between each reminder's due instant and its send, p50/p99/max.
//! 3. Resident memory before and after.
//!
//! Usage: cargo bench -p bot-core --bench reminders [-- REMINDERS PEOPLE]
//! (without `--bench`, as `cargo test --benches` runs it: a smoke run of 100 reminders).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bot_core::access::AccessPolicy;
use bot_core::clock::{Clock, SystemClock};
use bot_core::outbound::{Outbound, OutboundError, OutboundMessage, Outbounds, Recipient};
use bot_core::remind::scheduler::Scheduler;
use bot_core::remind::{Kind, NewReminder, ReminderStore};
use bot_core::store::sled_store::SledStore;
use bot_core::{Platform, UserKey};
use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;

/// Records when each message was handed to the platform.
#[derive(Default)]
struct Timed {
    sent: Mutex<Vec<(String, DateTime<Utc>)>>,
    done: tokio::sync::Notify,
    expected: usize,
}

#[async_trait::async_trait]
impl Outbound for Timed {
    async fn send(
        &self,
        _to: &Recipient,
        message: OutboundMessage,
    ) -> Result<Vec<String>, OutboundError> {
        let now = Utc::now();
        let mut sent = self.sent.lock().unwrap();
        sent.push((message.text, now));
        if sent.len() >= self.expected {
            self.done.notify_one();
        }
        Ok(vec![sent.len().to_string()])
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    // A smoke run (`cargo test --benches`, no `--bench`): few reminders, due within seconds.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (count_default, people_default, head_start, spread) = if smoke {
        (100, 10, 3, 2_000)
    } else {
        (10_000, 1_000, 20, 60_000)
    };
    let count: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(count_default);
    let people: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(people_default);
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let rss_start = rss_kib();
    let ids: Vec<String> = (0..people).map(|i| (100_000 + i).to_string()).collect();
    let access = AccessPolicy::deny_all().allow_all(Platform::Telegram, ids.clone());
    let outbound = Arc::new(Timed {
        expected: count,
        ..Timed::default()
    });
    let outbounds = Outbounds::default();
    outbounds.register(Platform::Telegram, outbound.clone() as Arc<dyn Outbound>);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let scheduler = Scheduler::new(
        Arc::new(store.clone()),
        outbounds,
        clock,
        access,
        std::time::Duration::from_secs(24 * 3600),
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(scheduler.clone().run(stop.clone()));

    // 1. Persist: each person sets their share, one after another, all people at once.
    // Due times spread over one minute, starting once every reminder is surely stored.
    let per_person = count.div_ceil(people);
    let base = Utc::now() + Duration::seconds(head_start);
    let dues: Arc<Mutex<HashMap<String, DateTime<Utc>>>> = Arc::default();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (p, id) in ids.iter().enumerate() {
        let (store, scheduler, dues, id) =
            (store.clone(), scheduler.clone(), dues.clone(), id.clone());
        tasks.spawn(async move {
            for k in 0..per_person {
                let n = p * per_person + k;
                if n >= count {
                    break;
                }
                let due = base + Duration::milliseconds((n as i64 * spread) / count as i64);
                let text = format!("reminder {n}");
                let reminder = store
                    .create(NewReminder {
                        owner: UserKey::new(Platform::Telegram, &id),
                        text: text.clone(),
                        due,
                        repeat: None,
                        zone: "UTC".into(),
                        created: Utc::now(),
                        chat: None,
                        kind: Kind::Reminder,
                        name: String::new(),
                        lang: None,
                        source: None,
                    })
                    .await
                    .unwrap();
                ReminderStore::flush(&store).await.unwrap();
                scheduler.arm(&reminder);
                dues.lock()
                    .unwrap()
                    .insert(format!("⏰ Reminder: {text}"), due);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let persist = started.elapsed();
    assert!(
        Utc::now() < base,
        "storing took longer than the head start; raise it"
    );
    let rss_stored = rss_kib();

    // 2. Deliver.
    outbound.done.notified().await;
    let rss_delivered = rss_kib();
    stop.cancel();
    running.await.unwrap();
    let dues = dues.lock().unwrap();
    let mut lags: Vec<f64> = outbound
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(text, at)| {
            let first_line = text.lines().next().unwrap_or_default();
            let due = dues[first_line];
            (*at - due).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    let early = lags.iter().filter(|l| **l < 0.0).count();
    println!(
        "reminders: {count} across {people} people, due within {} s",
        spread / 1000
    );
    println!(
        "persisted: {:.0} reminders/s ({} created and flushed in {:.2} s, {people} people at once)",
        count as f64 / persist.as_secs_f64(),
        count,
        persist.as_secs_f64()
    );
    println!(
        "delivery lag ms: p50 {:.1}, p99 {:.1}, max {:.1}; sent early: {early}",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or_default()
    );
    println!(
        "RSS MiB: start {:.1}, all stored and queued {:.1}, all delivered {:.1}",
        rss_start as f64 / 1024.0,
        rss_stored as f64 / 1024.0,
        rss_delivered as f64 / 1024.0
    );
}
