//! Soak: many people at once on the fake Telegram and the fake Discord, against a fake
//! model that misbehaves (random pauses, 5xx answers, stalls), for as long as it takes them
//! all to be answered.
//!
//! Each of USERS people writes MESSAGES messages, the next once the previous is answered,
//! as people do: a chat message, `/remember`, a question whose prompt carries their
//! memories, then chat again. Every fourth person is on Discord (DMs, and `/remember` and
//! `/remind` as slash commands), the rest on Telegram; every hundredth Telegram person's
//! first message is a voice note; every tenth person also sets a reminder due during the
//! run (30 s to about 2 min in; 5 to 15 s in a smoke run). The Discord gateway connection is
//! dropped twice under the load (the bot resumes). Checked and reported: every message got
//! a reply (an answer or a clear error; none lost), no reply and no model request carried
//! another person's words (none crossed), every reminder fired exactly once, how many were
//! told their place in the queue, the fake Discord's rule violations, and the bot's RSS
//! over the run.
//!
//! With KILLS > 0 the bot is killed with SIGKILL that many times at random moments of the
//! load and started again. Still none may be lost (messages taken but not answered are in
//! the inbox and answered after the restart; one answered just before a kill may be answered
//! twice, reported as extra), every reminder fires once, and afterwards every person asks
//! `/memory`: every memory the bot acknowledged ("(id m…)") must be listed, and the store
//! must open each time. Discord never sends an event again to a new session, so one the
//! gateway had sent but the bot had not yet read is gone with the process (the platform's
//! limit, not the bot's): before each kill the Discord people hold their next message until
//! the bot has visibly taken each one sent (a queue notice, a reply, a "thinking…" edited),
//! and again until the new process is connected; Telegram traffic does not wait.
//!
//! Run: `cargo bench -p hearth-tests --bench soak -- [USERS] [MESSAGES] [KILLS]` (default
//! 1000 3 0; without `--bench`, a smoke run of 20 people and two kills).

use std::time::{Duration, Instant};

use hearth_tests::bench::rss_kib;
use hearth_tests::bot::BotProcess;
use hearth_tests::discord::{BOT_ID, FakeDiscord};
use hearth_tests::ollama::{Chaos, FakeOllama};
use hearth_tests::telegram::FakeTelegram;
use serde_json::json;

const TOKEN: &str = "123456:SOAK-token-value";
const DC_TOKEN: &str = "MTAxMDEwMTAx.soak-discord-secret.abcdefghijklmnop";
const FIRST_USER: i64 = 100_000;

fn args() -> (i64, usize, usize) {
    if hearth_tests::bench::smoke() {
        return (20, 3, 2);
    }
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    (
        numbers.first().copied().unwrap_or(1000) as i64,
        numbers.get(1).copied().unwrap_or(3) as usize,
        numbers.get(2).copied().unwrap_or(0) as usize,
    )
}

/// The words only person `u` uses.
fn tag(u: i64) -> String {
    format!("tok{u:06}")
}

/// Whether person `u` writes from Discord (else Telegram).
fn on_discord(u: i64) -> bool {
    u % 4 == 2
}

/// Whether person `u` sets a reminder.
fn reminds(u: i64) -> bool {
    u % 10 == 0
}

/// Whether person `u`'s first message is a voice note (Telegram people only).
fn speaks(u: i64) -> bool {
    u % 100 == 1
}

/// Person `u`'s Discord user id and DM channel.
fn dc_user(u: i64) -> String {
    (100_000_000_000_000_000 + u).to_string()
}

/// When person `u`'s reminder is due, from the start of the run.
fn reminder_due(u: i64) -> u64 {
    if hearth_tests::bench::smoke() {
        5 + (u as u64 % 10)
    } else {
        30 + (u as u64 * 7) % 90
    }
}

/// Whether a bot message is a reminder firing (not the confirmation that one was set).
fn is_fired(text: &str) -> bool {
    text.starts_with("⏰ Reminder:") || text.starts_with("⏰ Reminder (late")
}

/// What voice notes say (espeak-ng cannot say a tag; the answer quotes the transcript).
const SPOKEN: &str = "Hello, please remind me what I wanted to buy at the market today.";

fn message(u: i64, k: usize) -> String {
    let tag = tag(u);
    match k % 4 {
        0 => format!("hello, this is {tag} writing #{k}"),
        1 => format!("/remember {tag} likes the colour {tag}blue"),
        2 => format!("what colour do I like? {tag} #{k}"),
        _ => format!("thanks from {tag} #{k}"),
    }
}

/// A bot message as it stands: its text and every text it has had.
struct Reply {
    text: String,
    versions: Vec<String>,
}

/// The two fakes and what the people send through them.
struct People {
    tg: FakeTelegram,
    dc: FakeDiscord,
    voice: Vec<u8>,
    /// Each Discord person's DM channel with the bot, by person.
    dms: std::collections::HashMap<i64, String>,
    /// Slash commands sent, by person, to ask for `/memory` at the end.
    memory_asks: std::sync::Mutex<Vec<(i64, String)>>,
}

impl People {
    /// Person `u`'s DM channel with the bot.
    fn dm(&self, u: i64) -> String {
        self.dms[&u].clone()
    }

    /// Person `u` sends their `k`th message.
    fn send(&self, u: i64, k: usize) {
        let text = message(u, k);
        if on_discord(u) {
            let (user, channel) = (dc_user(u), self.dm(u));
            match text.strip_prefix("/remember ") {
                Some(what) => {
                    self.dc
                        .slash(&user, &channel, None, "remember", &[("text", json!(what))]);
                }
                None => {
                    self.dc
                        .user_message(&user, &channel, None, &text, false, None);
                }
            }
        } else if speaks(u) && k == 0 {
            self.tg
                .send_voice(FIRST_USER + u, "Soak", self.voice.clone(), 4);
        } else {
            self.tg.send_private(FIRST_USER + u, "Soak", &text);
        }
    }

    /// Person `u` sets their reminder.
    fn remind(&self, u: i64) {
        let what = format!("in {} seconds water {}", reminder_due(u), tag(u));
        if on_discord(u) {
            self.dc.slash(
                &dc_user(u),
                &self.dm(u),
                None,
                "remind",
                &[("when_what", json!(what))],
            );
        } else {
            self.tg
                .send_private(FIRST_USER + u, "Soak", &format!("/remind {what}"));
        }
    }

    /// Person `u` asks what the bot remembers.
    fn ask_memory(&self, u: i64) {
        if on_discord(u) {
            let token = self.dc.slash(&dc_user(u), &self.dm(u), None, "memory", &[]);
            self.memory_asks.lock().unwrap().push((u, token));
        } else {
            self.tg.send_private(FIRST_USER + u, "Soak", "/memory");
        }
    }

    /// The bot's messages to person `u`, oldest first.
    fn replies(&self, u: i64) -> Vec<Reply> {
        if on_discord(u) {
            self.dc
                .messages(&self.dm(u))
                .into_iter()
                .filter(|m| m.author == BOT_ID)
                .map(|m| Reply {
                    text: m.content,
                    versions: m.versions,
                })
                .collect()
        } else {
            self.tg
                .messages(FIRST_USER + u)
                .into_iter()
                .map(|m| Reply {
                    text: m.text,
                    versions: m.versions,
                })
                .collect()
        }
    }

    /// Bot messages to `u` that are final: no longer a queue notice or a placeholder.
    fn finished(&self, u: i64) -> usize {
        self.replies(u)
            .iter()
            .filter(|m| {
                !m.text.contains("in the queue")
                    && !m.text.trim().is_empty()
                    && !m.text.ends_with('…')
                    && !is_fired(&m.text)
            })
            .count()
    }

    /// Bot messages to `u` that show the bot took the message (anything visible).
    fn taken(&self, u: i64) -> usize {
        self.replies(u)
            .iter()
            .filter(|m| !is_fired(&m.text) && m.versions.iter().any(|v| !v.trim().is_empty()))
            .count()
    }

    /// Whether `u`'s memory listing shows their colour.
    fn memory_listed(&self, u: i64) -> bool {
        let want = format!("{}blue", tag(u));
        if on_discord(u) {
            let asks = self.memory_asks.lock().unwrap();
            asks.iter().filter(|(who, _)| *who == u).any(|(_, token)| {
                self.dc
                    .interaction_texts(token)
                    .iter()
                    .any(|t| t.contains(&want))
            })
        } else {
            self.replies(u).iter().any(|m| m.text.contains(&want))
        }
    }
}

#[tokio::main]
async fn main() {
    let (users, per_user, kills) = args();
    let dc = FakeDiscord::start(DC_TOKEN).await;
    let dms = (0..users)
        .filter(|u| on_discord(*u))
        .map(|u| (u, dc.open_dm(&dc_user(u))))
        .collect();
    let people = People {
        tg: FakeTelegram::start(TOKEN).await,
        dc,
        voice: hearth_tests::voice::voice_note(SPOKEN),
        dms,
        memory_asks: std::sync::Mutex::default(),
    };
    let ollama = FakeOllama::start(&["soak-model"]).await;
    ollama.set_chaos(Some(Chaos {
        max_delay: Duration::from_millis(400),
        error_rate: 0.03,
        stall_rate: 0.01,
        stall: Duration::from_secs(3),
    }));
    let data = tempfile::tempdir().unwrap();
    let telegram_people: Vec<String> = (0..users)
        .filter(|u| !on_discord(*u))
        .map(|u| (FIRST_USER + u).to_string())
        .collect();
    let discord_people: Vec<String> = (0..users).filter(|u| on_discord(*u)).map(dc_user).collect();
    let env: Vec<(String, String)> = [
        ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", people.tg.url.clone()),
        ("DISCORD_BOT_TOKEN", DC_TOKEN.to_owned()),
        ("DISCORD_API_URL", people.dc.url.clone()),
        ("OLLAMA_HOST", ollama.url()),
        ("OLLAMA_MODEL", "soak-model".to_owned()),
        (
            "HEARTH_DATA_DIR",
            data.path().join("state").display().to_string(),
        ),
        ("HEARTH_TELEGRAM_ALLOWED_USERS", telegram_people.join(",")),
        ("HEARTH_DISCORD_ALLOWED_USERS", discord_people.join(",")),
        // A home GPU serves a few requests at once; everyone else waits in line.
        ("HEARTH_MAX_CONCURRENT_REQUESTS", "8".to_owned()),
        ("HEARTH_MAX_QUEUE", (users * 2).to_string()),
        ("HEARTH_TELEGRAM_EDIT_INTERVAL_MS", "200".to_owned()),
        ("HEARTH_DISCORD_EDIT_INTERVAL_MS", "200".to_owned()),
        ("HEARTH_MEMORY_AUTO", "false".to_owned()),
        (
            "HEARTH_WHISPER_MODEL",
            hearth_tests::voice::whisper_model().display().to_string(),
        ),
        ("HEARTH_WHISPER_THREADS", "2".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    hearth_tests::bot::hearth_binary();
    let mut bot = start(&people, &env, data.path()).await;
    let mut pid = bot.pid();
    let mut killed = 0usize;
    let mut drops = 0usize;
    let started = Instant::now();
    let mut rss: Vec<(f64, u64)> = vec![(0.0, rss_kib(pid))];

    // Everyone writes their first message at once; each next one once answered.
    let mut sent = vec![0usize; users as usize];
    for u in 0..users {
        people.send(u, 0);
        sent[u as usize] = 1;
        if reminds(u) {
            people.remind(u);
        }
    }
    let expected = |u: i64, sent: usize| sent + usize::from(reminds(u));
    let all: usize = (0..users).map(|u| expected(u, per_user)).sum();
    let deadline = Instant::now() + Duration::from_secs(60 * 30);
    let mut last_sample = Instant::now();
    let mut last_progress = (Instant::now(), 0usize);
    loop {
        // Kills spread over the load (at an even share of the answers, give or take).
        let at = all * (killed + 1) / (kills + 1) + fastrand::usize(0..=all / (4 * (kills + 1)));
        if killed < kills && last_progress.1 >= at {
            // Discord people wait until the bot has taken what they sent (see above).
            let taken = hearth_tests::eventually(Duration::from_secs(60), || {
                (0..users)
                    .filter(|u| on_discord(*u))
                    .all(|u| people.taken(u) >= expected(u, sent[u as usize]))
                    .then_some(())
            })
            .await;
            assert!(
                taken.is_some(),
                "the bot did not take every Discord message"
            );
            bot.kill();
            killed += 1;
            bot = start(&people, &env, data.path()).await;
            pid = bot.pid();
        }
        // The gateway connection drops at a quarter and three quarters of the load.
        if drops < 2 && last_progress.1 >= all * (1 + 2 * drops) / 4 {
            people.dc.drop_connection();
            drops += 1;
        }
        let mut done = true;
        let mut answered = 0usize;
        for u in 0..users {
            let replies = people.finished(u);
            answered += replies;
            let n = sent[u as usize];
            if replies >= expected(u, n) && n < per_user {
                people.send(u, n);
                sent[u as usize] += 1;
            }
            if replies < expected(u, per_user) {
                done = false;
            }
        }
        if last_sample.elapsed() >= Duration::from_secs(1) {
            rss.push((started.elapsed().as_secs_f64(), rss_kib(pid)));
            last_sample = Instant::now();
        }
        if answered > last_progress.1 {
            last_progress = (Instant::now(), answered);
        }
        // A message taken by a killed bot and never answered stalls its sender for good:
        // stop once nothing moved for half a minute (5 s in a smoke run); the rest count as
        // lost.
        let patience = Duration::from_secs(if hearth_tests::bench::smoke() { 5 } else { 30 });
        let stalled = last_progress.0.elapsed() > patience;
        if done || stalled || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the last edits land: until no edit has come for a second.
    let edits = || {
        people.tg.calls_of("editmessagetext").len()
            + people
                .dc
                .calls()
                .iter()
                .filter(|c| c.method == "PATCH")
                .count()
    };
    let mut seen = edits();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = edits();
        if now == seen {
            break;
        }
        seen = now;
    }
    let took = started.elapsed();
    rss.push((took.as_secs_f64(), rss_kib(pid)));

    // Every reminder the bot confirmed fires, once: wait until each has, or until well
    // after the last was due.
    let reminded: Vec<i64> = (0..users)
        .filter(|u| reminds(*u))
        .filter(|u| {
            people
                .replies(*u)
                .iter()
                .any(|m| m.text.contains(" set for "))
        })
        .collect();
    let last_due = reminded.iter().map(|u| reminder_due(*u)).max().unwrap_or(0);
    let fired = |u: i64| {
        people
            .replies(u)
            .iter()
            .filter(|m| is_fired(&m.text))
            .count()
    };
    // A reminder counts from when the bot read it, which under load is late (its person's
    // earlier message waits for the model first), at the latest by now; one due while the
    // bot was down fires after the restart, and one that met a platform not connected yet
    // is tried again after 5 s, then 10 s: allow half a minute more.
    let until = Instant::now() + Duration::from_secs(last_due + 30);
    while Instant::now() < until && reminded.iter().any(|u| fired(*u) == 0) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A second fire would come at once (a restart or a second scheduler): give it a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let never_fired = reminded.iter().filter(|u| fired(**u) == 0).count();
    for u in reminded.iter().filter(|u| fired(**u) != 1) {
        let texts: Vec<String> = people.replies(*u).into_iter().map(|m| m.text).collect();
        eprintln!(
            "  person {u} (reminder fired {} times): {texts:?}",
            fired(*u)
        );
    }
    let fired_twice = reminded.iter().filter(|u| fired(**u) > 1).count();

    // Lost: a message without exactly one reply. Crossed: another person's tag in a reply
    // or in a model request made for someone.
    let mut lost = 0usize;
    let mut lost_discord = 0usize;
    let mut extra = 0usize;
    let mut crossed = 0usize;
    let mut queued_told = 0usize;
    let mut errors_shown = 0usize;
    let mut stale_notices = 0usize;
    let mut voice_answered = 0usize;
    for u in 0..users {
        let replies: Vec<Reply> = people
            .replies(u)
            .into_iter()
            .filter(|m| !is_fired(&m.text))
            .collect();
        let want = expected(u, per_user);
        lost += want.saturating_sub(replies.len());
        if on_discord(u) {
            lost_discord += want.saturating_sub(replies.len());
        }
        extra += replies.len().saturating_sub(want);
        for m in &replies {
            if other_tags(&m.text, u) {
                crossed += 1;
            }
            if m.versions.iter().any(|v| v.contains("in the queue")) {
                queued_told += 1;
            }
            if m.text.starts_with("🎙") {
                voice_answered += 1;
            }
            if m.text.contains("try again") {
                errors_shown += 1;
            } else if m.text.contains("in the queue") {
                stale_notices += 1;
            }
        }
    }
    let requests = ollama.requests();
    let mut crossed_requests = 0usize;
    for request in &requests {
        let asker = request.last_user();
        let Some(u) = (0..users).find(|u| asker.contains(&tag(*u))) else {
            continue;
        };
        if other_tags(&request.all_text(), u) {
            crossed_requests += 1;
        }
    }
    let acknowledged_by = |u: i64| people.replies(u).iter().any(|m| acknowledges(&m.text));
    // Every memory the bot said it kept is still there (asked through the bot).
    let mut acknowledged = 0usize;
    let mut missing = 0usize;
    for u in 0..users {
        if acknowledged_by(u) {
            acknowledged += 1;
            people.ask_memory(u);
        }
    }
    for u in 0..users {
        if !acknowledged_by(u) {
            continue;
        }
        let listed = hearth_tests::eventually(Duration::from_secs(60), || {
            people.memory_listed(u).then_some(())
        })
        .await;
        if listed.is_none() {
            missing += 1;
        }
    }
    let (identifies, resumes) = people.dc.sessions();
    let violations = people.dc.violations();
    let (code, log) = bot.terminate_with_log().await;
    let panics = log.matches("panic").count();

    let on_dc = (0..users).filter(|u| on_discord(*u)).count();
    let voices = (0..users).filter(|u| !on_discord(*u) && speaks(*u)).count();
    println!(
        "soak: {users} people ({} on Telegram, {on_dc} on Discord) x {per_user} messages (+1 reminder for every tenth; \
         {voices} voice notes) = {all} messages, model: up to 400 ms pauses, 3% 500s, 1% 3 s stalls, 8 requests at once",
        users as usize - on_dc
    );
    println!(
        "  took {:.1} s; {} model requests; Discord gateway dropped {drops} times: {resumes} resumes, {identifies} sessions",
        took.as_secs_f64(),
        requests.len()
    );
    if kills > 0 {
        println!(
            "  killed with SIGKILL {killed} times and restarted; memories acknowledged {acknowledged}, missing afterwards {missing}"
        );
    }
    println!(
        "  reminders set {}, fired once {}, fired twice {fired_twice}, never fired {never_fired}",
        reminded.len(),
        reminded.len() - never_fired - fired_twice
    );
    println!(
        "  lost replies {lost} (on Discord {lost_discord}), extra replies (cut off by a kill, then answered again) {extra}, \
         replies with another person's words {crossed}, model requests with another person's words {crossed_requests}"
    );
    println!(
        "  replies to voice notes {voice_answered} for {voices} notes (with kills, one cut off is started again); replies that first said the place in the queue {queued_told}; \
         replies that were an error notice (\"please try again\") {errors_shown}; \
         queue notices never replaced (their message was answered again after a kill) {stale_notices}; Discord rule violations {}; panics in the log {panics}; exit code {code:?}",
        violations.len()
    );
    let peak = rss.iter().map(|(_, k)| *k).max().unwrap_or(0);
    println!(
        "  RSS MiB over time (s: MiB), peak {:.1}:",
        peak as f64 / 1024.0
    );
    let step = (rss.len() / 12).max(1);
    let curve: Vec<String> = rss
        .iter()
        .step_by(step)
        .chain(rss.last())
        .map(|(t, k)| format!("{t:.0}: {:.1}", *k as f64 / 1024.0))
        .collect();
    println!("    {}", curve.join("  "));
    assert_eq!(missing, 0, "acknowledged memories lost");
    assert_eq!(lost, 0, "replies lost");
    if kills == 0 {
        assert_eq!(extra, 0, "messages answered twice");
    }
    if kills == 0 {
        assert_eq!(voice_answered, voices, "voice notes not answered once");
    } else {
        assert!(voice_answered >= voices, "voice notes not answered");
    }
    assert_eq!(
        never_fired + fired_twice,
        0,
        "reminders not fired exactly once"
    );
    assert_eq!(
        crossed + crossed_requests,
        0,
        "words crossed between people"
    );
    assert!(
        violations.is_empty(),
        "Discord rules broken: {violations:?}"
    );
    assert_eq!(code, Some(0));
}

/// Starts `hearth run` and waits for its first poll and its Discord session.
async fn start(people: &People, env: &[(String, String)], dir: &std::path::Path) -> BotProcess {
    let polls = people.tg.calls_of("getupdates").len();
    let bot = BotProcess::spawn(&["run"], env, dir, &[TOKEN, DC_TOKEN]);
    hearth_tests::eventually(Duration::from_secs(30), || {
        (people.tg.calls_of("getupdates").len() > polls).then_some(())
    })
    .await
    .expect("the bot never polled (the store did not open?)");
    // Registered once its Discord session is ready.
    bot.wait_for_log("slash commands", Duration::from_secs(30))
        .await;
    bot
}

/// Whether a reply says a memory was kept ("(id m1)"; on Discord the id is in backticks).
fn acknowledges(text: &str) -> bool {
    text.contains("(id m") || text.contains("(id `m")
}

/// Whether `text` carries the tag of anyone but `u`.
fn other_tags(text: &str, u: i64) -> bool {
    let own = tag(u);
    text.match_indices("tok").any(|(i, _)| {
        let candidate = text.get(i..i + 9).unwrap_or_default();
        candidate.len() == 9
            && candidate[3..].bytes().all(|b| b.is_ascii_digit())
            && candidate != own
    })
}
