//! Encryption at rest, erasing and exporting a person, and logs without anyone's words,
//! through the real binary.

use std::path::{Path, PathBuf};

use hearth_tests::bot::BotProcess;

use crate::util::*;

/// Runs `hearth ARGS` to its end with the harness's environment plus `extra`.
async fn cli(h: &Harness, extra: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let env = with_overrides(h.env(), &extra);
    let mut process = BotProcess::spawn(args, &env, h.data.path(), &[TOKEN]);
    let code = process.wait(WAIT).await;
    (code, process.log())
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Whether any file of the live data (the database and the keyring; not the backup kept
/// from before encryption) holds `word`.
fn on_disk(state: &Path, word: &str) -> bool {
    files_under(state)
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("unencrypted-backup"))
        .any(|p| {
            std::fs::read(&p)
                .unwrap_or_default()
                .windows(word.len())
                .any(|w| w == word.as_bytes())
        })
}

#[tokio::test]
async fn an_encrypted_bot_keeps_no_words_on_disk_and_erases_a_person_while_it_runs() {
    let h = Harness::new().await;
    let state = h.data.path().join("state");
    let key = h.data.path().join("master.key");
    let key_arg = key.display().to_string();

    // Before encryption: plain text on disk.
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "my dog is Biscuit4417");
    h.reply_containing(ALICE, "echo: my dog is Biscuit4417")
        .await;
    assert_eq!(bot.terminate().await, Some(0));
    assert!(on_disk(&state, "Biscuit4417"));

    let (code, out) = cli(&h, &[], &["keygen", &key_arg]).await;
    assert_eq!(code, Some(0), "{out}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let (code, out) = cli(&h, &[], &["keygen", &key_arg]).await;
    assert_ne!(code, Some(0), "a key was overwritten: {out}");

    let h = h.set("HEARTH_MASTER_KEY_FILE", &key_arg);
    let bot = h.start_bot().await;
    bot.wait_for_log("encrypted", WAIT).await;
    h.tg.send_private(ALICE, "Alice", "my locker code is zebra8812");
    h.reply_containing(ALICE, "echo: my locker code is zebra8812")
        .await;
    h.tg.send_private(ALICE, "Alice", "/remind in 2 hours feed the axolotl5531");
    h.reply_containing(ALICE, "axolotl5531").await;
    h.tg.send_private(BOB, "Bob", "bob likes walrus3390");
    h.reply_containing(BOB, "echo: bob likes walrus3390").await;
    for word in ["Biscuit4417", "zebra8812", "axolotl5531", "walrus3390"] {
        assert!(!on_disk(&state, word), "{word} is readable on disk");
    }
    let backups: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("db.unencrypted-backup-")
        })
        .collect();
    assert_eq!(backups.len(), 1, "the plain copy is kept once");

    // While the bot runs, through it.
    let alice = format!("telegram:{ALICE}");
    let (code, export) = cli(&h, &[], &["user", "export", "--user", &alice]).await;
    assert_eq!(code, Some(0), "{export}");
    for word in ["Biscuit4417", "zebra8812", "axolotl5531"] {
        assert!(export.contains(word), "{word} not in the export:\n{export}");
    }
    assert!(!export.contains("walrus3390"));
    let (code, erased) = cli(&h, &[], &["user", "erase", "--user", &alice]).await;
    assert_ne!(
        code,
        Some(0),
        "erased without --yes and without a terminal: {erased}"
    );
    let (code, erased) = cli(&h, &[], &["user", "erase", "--user", &alice, "--yes"]).await;
    assert_eq!(code, Some(0), "{erased}");
    assert!(
        erased.contains("erased everything stored about"),
        "{erased}"
    );
    let (_, export) = cli(&h, &[], &["user", "export", "--user", &alice]).await;
    for word in ["Biscuit4417", "zebra8812", "axolotl5531"] {
        assert!(
            !export.contains(word),
            "{word} survived the erase:\n{export}"
        );
    }
    let (_, bob) = cli(
        &h,
        &[],
        &["user", "export", "--user", &format!("telegram:{BOB}")],
    )
    .await;
    assert!(bob.contains("walrus3390"), "bob's data went too:\n{bob}");
    let keyring = std::fs::read_to_string(state.join("keyring.json")).unwrap();
    assert!(!keyring.contains(&format!("telegram:{ALICE}\"")));

    // The running bot forgot her conversation too.
    h.tg.send_private(ALICE, "Alice", "what is my locker code?");
    h.reply_containing(ALICE, "echo: what is my locker code?")
        .await;
    let last = h.ollama.requests().pop().unwrap();
    assert!(
        !last.all_text().contains("zebra8812"),
        "{}",
        last.all_text()
    );
    assert_eq!(bot.terminate().await, Some(0));

    // Without the key, the encrypted data is refused with a clear message.
    let (code, out) = cli(&h, &[("HEARTH_MASTER_KEY_FILE", "")], &["run"]).await;
    assert_ne!(code, Some(0));
    assert!(out.contains("HEARTH_MASTER_KEY_FILE"), "{out}");
}

#[tokio::test]
async fn logs_of_a_whole_session_hold_no_message_text_unless_asked() {
    for content in [false, true] {
        let h = Harness::new()
            .await
            .set("HEARTH_LOG_FORMAT", "json")
            .set("RUST_LOG", "debug")
            .set("HEARTH_LOG_CONTENT", if content { "true" } else { "false" });
        let bot = h.start_bot().await;
        h.tg.send_private(ALICE, "Alice", "my passport number is kiwi7781");
        h.reply_containing(ALICE, "echo: my passport number is kiwi7781")
            .await;
        h.tg.send_private(ALICE, "Alice", "/remember I was born in Quito6612");
        h.reply_containing(ALICE, "remember").await;
        h.tg.send_private(ALICE, "Alice", "/remind in 1 hour call mango3301");
        h.reply_containing(ALICE, "mango3301").await;
        h.tg.send_private(ALICE, "Alice", "/memory");
        h.reply_containing(ALICE, "Quito6612").await;
        h.tg.send_private(ALICE, "Alice", "/unknowncommand papaya4410");
        h.tg.send_private(STRANGER, "Mallory", "let me in lychee5520");
        h.tg.wait_for_message(STRANGER, WAIT, |_| true).await;
        h.tg.send_private(ALICE, "Alice", "last one");
        h.reply_containing(ALICE, "echo: last one").await;
        let (code, log) = bot.terminate_with_log().await;
        assert_eq!(code, Some(0));
        // Every line is one JSON object.
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "not a JSON log line: {line}"
            );
        }
        let words = [
            "kiwi7781",
            "Quito6612",
            "mango3301",
            "papaya4410",
            "lychee5520",
        ];
        if content {
            // The owner asked for it: messages and answers are in the debug log.
            assert!(log.contains("kiwi7781"), "{log}");
        } else {
            for word in words {
                assert!(!log.contains(word), "{word} in the log:\n{log}");
            }
        }
    }
}

#[tokio::test]
async fn a_backup_taken_while_the_bot_runs_restores_what_was_there_then() {
    for encrypted in [false, true] {
        let mut h = Harness::new().await;
        let key = h.data.path().join("master.key");
        if encrypted {
            let (code, out) = cli(&h, &[], &["keygen", &key.display().to_string()]).await;
            assert_eq!(code, Some(0), "{out}");
            h = h.set("HEARTH_MASTER_KEY_FILE", &key.display().to_string());
        }
        let bot = h.start_bot().await;
        h.tg.send_private(ALICE, "Alice", "/remember my bike lock is 4471-otter");
        h.reply_containing(ALICE, "(id m").await;
        h.tg.send_private(ALICE, "Alice", "/timezone Asia/Seoul");
        h.reply_containing(ALICE, "Asia/Seoul").await;
        let backup = h.data.path().join("backup");
        let (code, out) = cli(&h, &[], &["backup", &backup.display().to_string()]).await;
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("backed up"), "{out}");
        // Changed after the backup: not in the restored data.
        h.tg.send_private(ALICE, "Alice", "/remember later fact 9902-heron");
        // Handled in order: /memory lists it once it is stored.
        h.tg.send_private(ALICE, "Alice", "/memory");
        h.reply_containing(ALICE, "9902-heron").await;
        let alice = format!("telegram:{ALICE}");
        let (_, before) = cli(&h, &[], &["user", "export", "--user", &alice]).await;
        assert!(before.contains("9902-heron"));
        assert_eq!(bot.terminate().await, Some(0));
        if encrypted {
            assert!(
                !on_disk(&backup, "4471-otter"),
                "the encrypted backup holds plain text"
            );
        } else {
            assert!(on_disk(&backup, "4471-otter"));
        }

        let restored = h.data.path().join("restored");
        let into = [("HEARTH_DATA_DIR", restored.to_str().unwrap())];
        let (code, out) = cli(&h, &into, &["restore", &backup.display().to_string()]).await;
        assert_eq!(code, Some(0), "{out}");
        // Not over an existing database.
        let (code, out) = cli(&h, &into, &["restore", &backup.display().to_string()]).await;
        assert_ne!(code, Some(0), "{out}");
        let (code, export) = cli(&h, &into, &["user", "export", "--user", &alice]).await;
        assert_eq!(code, Some(0), "{export}");
        assert!(export.contains("4471-otter"), "{export}");
        assert!(export.contains("Asia/Seoul"), "{export}");
        assert!(!export.contains("9902-heron"), "{export}");
        if encrypted {
            let without = [
                ("HEARTH_DATA_DIR", restored.to_str().unwrap()),
                ("HEARTH_MASTER_KEY_FILE", ""),
            ];
            let (code, out) = cli(&h, &without, &["user", "export", "--user", &alice]).await;
            assert_ne!(code, Some(0), "{out}");
        }
    }
}

#[tokio::test]
async fn metrics_and_health_are_served_when_asked() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let h = Harness::new()
        .await
        .set("HEARTH_METRICS_ADDR", &format!("127.0.0.1:{port}"));
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "hello there");
    h.reply_containing(ALICE, "echo: hello there").await;
    h.tg.send_private(ALICE, "Alice", "/remember I like figs");
    h.reply_containing(ALICE, "(id m").await;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in:\n{metrics}"))
    };
    assert_eq!(
        value("hearth_messages_in_total{platform=\"telegram\"}"),
        2.0
    );
    assert_eq!(
        value("hearth_messages_out_total{platform=\"telegram\"}"),
        2.0
    );
    assert_eq!(value("hearth_model_seconds_count"), 1.0);
    assert_eq!(value("hearth_model_first_token_seconds_count"), 1.0);
    assert_eq!(value("hearth_memory_search_seconds_count"), 1.0);
    assert!(value("hearth_store_bytes") > 0.0);
    assert!(!metrics.contains("figs") && !metrics.contains("hello there"));

    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["adapters"]["telegram"], true, "{body}");

    // The model server goes away: unhealthy, saying which part, not where it is.
    h.ollama.stop().await;
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    let text = health.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["model_server"], false, "{body}");
    assert_eq!(body["store_writable"], true, "{body}");
    assert!(!text.contains("127.0.0.1"), "{text}");
    drop(bot);
}

/// Where one `connect()` in an strace log went: `127.0.0.1:PORT`, `[::1]:PORT`, `unix:PATH`,
/// or the whole line for anything else.
fn destination(line: &str) -> String {
    let between = |start: &str, end: &str| {
        let from = line.find(start)? + start.len();
        let len = line[from..].find(end)?;
        Some(line[from..from + len].to_owned())
    };
    if line.contains("sa_family=AF_INET,") {
        if let (Some(addr), Some(port)) = (
            between("inet_addr(\"", "\""),
            between("sin_port=htons(", ")"),
        ) {
            return format!("{addr}:{port}");
        }
    } else if line.contains("sa_family=AF_INET6") {
        if let (Some(addr), Some(port)) = (
            between("inet_pton(AF_INET6, \"", "\""),
            between("sin6_port=htons(", ")"),
        ) {
            return format!("[{addr}]:{port}");
        }
    } else if line.contains("sa_family=AF_UNIX") {
        return format!("unix:{}", between("sun_path=", "}").unwrap_or_default());
    }
    line.to_owned()
}

/// No egress but the configured endpoints: a whole session (Telegram and Discord chats, a
/// memory through the local embedding model) runs under `strace -f -e trace=connect`, and
/// every connection the process opened went to the configured addresses (sockets on the
/// machine itself aside).
#[tokio::test]
async fn the_bot_connects_to_the_configured_endpoints_and_nowhere_else() {
    use hearth_tests::discord::{CHANNEL, FakeDiscord, GUILD};
    const DC_TOKEN: &str = "MTAxMDEwMTAx.fake-discord-secret.abcdefghijklmnop";
    const DC_ALICE: &str = "100000000000000011";
    let dc = FakeDiscord::start(DC_TOKEN).await;
    let h = Harness::new()
        .await
        .with_embeddings()
        .set("DISCORD_BOT_TOKEN", DC_TOKEN)
        .set("DISCORD_API_URL", &dc.url)
        .set("HEARTH_DISCORD_GUILDS", GUILD)
        .set("HEARTH_DISCORD_ALLOWED_USERS", DC_ALICE);
    let trace = h.data.path().join("connect.trace");
    let polls = h.tg.calls_of("getupdates").len();
    let bot = BotProcess::spawn_traced(
        &trace,
        &["run"],
        &h.env(),
        h.data.path(),
        &[TOKEN, DC_TOKEN],
    );
    let up = hearth_tests::eventually(std::time::Duration::from_secs(60), || {
        (h.tg.calls_of("getupdates").len() > polls && !dc.registered_commands().is_empty())
            .then_some(())
    })
    .await;
    assert!(up.is_some(), "the bot never started; log:\n{}", bot.log());

    h.tg.send_private(ALICE, "Alice", "/remember I live in Busan");
    h.reply_containing(ALICE, "(id m").await;
    h.tg.send_private(ALICE, "Alice", "where do I live?");
    h.reply_containing(ALICE, "echo: where do I live?").await;
    let asked = dc.slash(
        DC_ALICE,
        CHANNEL,
        Some((GUILD, &[])),
        "ask",
        &[("prompt", serde_json::json!("hello from discord"))],
    );
    dc.wait_for_interaction_texts(&asked, WAIT, |t| t.contains("echo: hello from discord"))
        .await;
    assert_eq!(bot.terminate().await, Some(0));

    let host = |url: &str| {
        url.trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    };
    let configured = [host(&h.tg.url), h.ollama.addr.to_string(), host(&dc.url)];
    let log = std::fs::read_to_string(&trace).expect("strace wrote its log");
    let went: std::collections::BTreeSet<String> = log
        .lines()
        .filter(|l| l.contains("connect("))
        .map(destination)
        .collect();
    for endpoint in &configured {
        assert!(
            went.contains(endpoint),
            "the trace did not see the connection to {endpoint}: {went:?}"
        );
    }
    let elsewhere: Vec<&String> = went
        .iter()
        .filter(|d| !configured.contains(d) && !d.starts_with("unix:"))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "connections beyond the configured endpoints: {elsewhere:?}"
    );
}
