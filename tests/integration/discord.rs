//! Discord: slash commands, streaming, follow-ups, mentions, DMs, access,
//! reconnection, rate limits and the interaction token's lifetime, through the
//! real serenity client against the fake Discord.

use std::time::Duration;

use hearth_tests::bot::BotProcess;
use hearth_tests::discord::{BOT_ID, CHANNEL, FakeDiscord, GUILD};
use hearth_tests::ollama::{FakeOllama, Script};
use serde_json::json;

use crate::util::WAIT;

const DISCORD_TOKEN: &str = "MTAxMDEwMTAx.fake-discord-secret.abcdefghijklmnop";
pub const ALICE: &str = "100000000000000011";
const BOB: &str = "100000000000000012";
const CAROL: &str = "100000000000000013";
const STRANGER: &str = "100000000000000066";
const ROLE: &str = "200000000000000077";
const MEMBER: Option<(&str, &[&str])> = Some((GUILD, &[]));

pub struct DiscordHarness {
    pub dc: FakeDiscord,
    pub ollama: FakeOllama,
    pub data: tempfile::TempDir,
    pub extra: Vec<(String, String)>,
}

impl DiscordHarness {
    pub async fn new() -> Self {
        Self {
            dc: FakeDiscord::start(DISCORD_TOKEN).await,
            ollama: FakeOllama::start(&["llama3.2", "qwen3:4b"]).await,
            data: tempfile::tempdir().unwrap(),
            extra: Vec::new(),
        }
    }

    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let env: Vec<(String, String)> = [
            ("DISCORD_BOT_TOKEN", DISCORD_TOKEN.to_owned()),
            ("DISCORD_API_URL", self.dc.url.clone()),
            ("HEARTH_DISCORD_GUILDS", GUILD.to_owned()),
            ("HEARTH_DISCORD_ALLOWED_USERS", format!("{ALICE},{BOB}")),
            ("HEARTH_DISCORD_ALLOWED_ROLES", ROLE.to_owned()),
            ("HEARTH_DISCORD_MENTIONS", "true".to_owned()),
            ("HEARTH_DISCORD_EDIT_INTERVAL_MS", "200".to_owned()),
            ("OLLAMA_HOST", self.ollama.url()),
            ("OLLAMA_MODEL", "llama3.2".to_owned()),
            (
                "HEARTH_DATA_DIR",
                self.data.path().join("state").display().to_string(),
            ),
            ("HEARTH_MEMORY_AUTO", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        crate::util::with_overrides(env, &self.extra)
    }

    pub fn spawn(&self, args: &[&str]) -> BotProcess {
        BotProcess::spawn(
            args,
            &self.env(),
            self.data.path(),
            &[DISCORD_TOKEN, "fake-discord-secret"],
        )
    }

    /// Starts `hearth run` and waits until its slash commands are registered.
    pub async fn start_bot(&self) -> BotProcess {
        // Registered anew by each process once its session is ready.
        let registrations = || {
            self.dc
                .calls()
                .iter()
                .filter(|c| c.method == "PUT" && c.path.ends_with("/commands"))
                .count()
        };
        let before = registrations();
        let bot = self.spawn(&["run"]);
        let ready = hearth_tests::eventually(WAIT, || {
            (registrations() > before && !self.dc.registered_commands().is_empty()).then_some(())
        })
        .await;
        assert!(
            ready.is_some(),
            "the bot never registered its commands; log:\n{}",
            bot.log()
        );
        bot
    }

    /// The texts of an interaction's response once its last piece satisfies `done`.
    pub async fn interaction_texts(&self, token: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
        self.dc.wait_for_interaction_texts(token, WAIT, done).await
    }
}

fn ask(h: &DiscordHarness, user: &str, prompt: &str) -> String {
    h.dc.slash(user, CHANNEL, MEMBER, "ask", &[("prompt", json!(prompt))])
}

#[tokio::test]
async fn ask_defers_then_streams_into_the_original_response() {
    let h = DiscordHarness::new().await;
    let pieces = [
        "The ",
        "answer ",
        "is ",
        "**forty-two**",
        ", ",
        "as ",
        "everyone ",
        "knows.",
    ];
    h.ollama
        .push(Script::pieces(&pieces).with_delay(Duration::from_millis(150)));
    let bot = h.start_bot().await;
    // Registered for the configured server, with the memory commands.
    let (route, commands) = &h.dc.registered_commands()[0];
    assert!(
        route.contains(&format!("/guilds/{GUILD}/commands")),
        "{route}"
    );
    let names: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in [
        "ask", "reset", "model", "help", "remember", "memory", "forget", "export", "notes",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    // Mention chat asks for message content; nothing else privileged.
    assert_eq!(h.dc.intents(), Some(1 | 512 | 4096 | 32768));

    let token = ask(&h, ALICE, "What is the answer?");
    let texts = h.interaction_texts(&token, |t| t.ends_with("knows.")).await;
    assert_eq!(
        texts,
        vec!["The answer is **forty-two**, as everyone knows."]
    );
    let record = h.dc.interaction(&token).unwrap();
    assert_eq!(record.response_type(), Some(5), "deferred first");
    assert!(!record.ephemeral());
    let original = h.dc.message(record.original.as_deref().unwrap()).unwrap();
    assert!(
        original.versions.len() >= 3,
        "expected streamed edits: {:?}",
        original.versions
    );
    assert!(
        original
            .versions
            .windows(2)
            .all(|w| w[1].starts_with(&w[0])),
        "{:?}",
        original.versions
    );
    assert_eq!(h.ollama.requests()[0].last_user(), "What is the answer?");
    assert!(h.dc.violations().is_empty(), "{:?}", h.dc.violations());
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_denied_user_gets_an_ephemeral_refusal_and_nothing_reaches_ollama() {
    let h = DiscordHarness::new().await;
    let bot = h.start_bot().await;
    let token = ask(&h, STRANGER, "hello?");
    let texts = h.interaction_texts(&token, |_| true).await;
    let record = h.dc.interaction(&token).unwrap();
    assert_eq!(record.response_type(), Some(4));
    assert!(record.ephemeral(), "the refusal is only for the stranger");
    assert!(
        texts[0].contains(STRANGER) && texts[0].contains("HEARTH_DISCORD_ALLOWED_USERS"),
        "{}",
        texts[0]
    );
    // A stranger's mention gets the refusal too, and no model request either.
    h.dc.user_message(STRANGER, CHANNEL, MEMBER, "hi bot", true, None);
    h.dc.wait_for_message(CHANNEL, WAIT, |m| {
        m.author == BOT_ID && !m.ephemeral && m.content.contains(STRANGER)
    })
    .await;
    // Someone holding an allowed role is admitted without being listed.
    let token = h.dc.slash(
        CAROL,
        CHANNEL,
        Some((GUILD, &[ROLE])),
        "ask",
        &[("prompt", json!("role check"))],
    );
    let texts = h.interaction_texts(&token, |t| t.contains("echo")).await;
    assert_eq!(texts, vec!["echo: role check"]);
    // The same person in a DM has no role to show: refused.
    let dm = h.dc.slash(
        CAROL,
        "400000000000000099",
        None,
        "ask",
        &[("prompt", json!("dm"))],
    );
    let texts = h.interaction_texts(&dm, |_| true).await;
    assert!(texts[0].contains("not on its list"), "{}", texts[0]);
    let requests = h.ollama.requests();
    assert_eq!(requests.len(), 1, "only the role holder reached the model");
    assert_eq!(requests[0].last_user(), "role check");
    assert!(bot.log().contains("not allowed"), "the refusal is logged");
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn the_gateway_drops_and_the_bot_reconnects_and_answers_the_next_command() {
    let h = DiscordHarness::new().await;
    let bot = h.start_bot().await;
    let first = ask(&h, ALICE, "before the drop");
    h.interaction_texts(&first, |t| t.contains("before")).await;
    let before = h.dc.sessions();
    h.dc.drop_connection();
    let reconnected = hearth_tests::eventually(Duration::from_secs(30), || {
        let now = h.dc.sessions();
        (now.0 + now.1 > before.0 + before.1).then_some(now)
    })
    .await;
    assert!(
        reconnected.is_some(),
        "no reconnection; log:\n{}",
        bot.log()
    );
    bot.wait_for_log("reconnected to the Discord gateway", WAIT)
        .await;
    let next = ask(&h, ALICE, "after the drop");
    h.interaction_texts(&next, |t| t.contains("after")).await;
    assert!(
        h.ollama.requests()[1]
            .all_text()
            .contains("before the drop"),
        "conversation kept"
    );
    assert!(h.dc.violations().is_empty(), "{:?}", h.dc.violations());
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn missed_heartbeat_acks_make_the_bot_reconnect() {
    let h = DiscordHarness::new().await;
    h.dc.set_heartbeat_interval(Duration::from_millis(1000));
    let bot = h.start_bot().await;
    let before = h.dc.sessions();
    h.dc.stop_heartbeat_acks(true);
    let reconnecting = hearth_tests::eventually(Duration::from_secs(30), || {
        let now = h.dc.sessions();
        (now.0 + now.1 > before.0 + before.1).then_some(())
    })
    .await;
    h.dc.stop_heartbeat_acks(false);
    assert!(
        reconnecting.is_some(),
        "no reconnection; log:\n{}",
        bot.log()
    );
    bot.wait_for_log("reconnected to the Discord gateway", WAIT)
        .await;
    let next = ask(&h, ALICE, "still there?");
    h.interaction_texts(&next, |t| t.contains("still there"))
        .await;
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_429_is_honoured_and_the_answer_still_arrives_whole() {
    let h = DiscordHarness::new().await;
    let pieces = ["one ", "two ", "three ", "four ", "five ", "six ", "seven."];
    h.ollama
        .push(Script::pieces(&pieces).with_delay(Duration::from_millis(150)));
    let bot = h.start_bot().await;
    h.dc.rate_limit("PATCH /webhooks/", 1.0, 2);
    let token = ask(&h, ALICE, "count");
    let texts = h.interaction_texts(&token, |t| t.ends_with("seven.")).await;
    assert_eq!(texts, vec!["one two three four five six seven."]);
    let patches: Vec<_> =
        h.dc.calls()
            .into_iter()
            .filter(|c| c.method == "PATCH" && c.path.starts_with("/webhooks/"))
            .collect();
    let first_429 = patches
        .iter()
        .position(|c| c.status == 429)
        .expect("a 429 was served");
    let next = &patches[first_429 + 1];
    let waited = next.at - patches[first_429].at;
    assert!(
        waited >= Duration::from_millis(900),
        "retried after {waited:?}"
    );
    assert!(bot.log().contains("slow down"), "the 429 is logged");
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn an_answer_outliving_the_interaction_token_finishes_in_the_channel() {
    let h = DiscordHarness::new().await;
    h.dc.set_token_lifetime(Duration::from_millis(1500));
    let pieces = ["slow ", "answer ", "that ", "takes ", "its ", "time."];
    h.ollama
        .push(Script::pieces(&pieces).with_delay(Duration::from_millis(500)));
    let bot = h.start_bot().await;
    let token = ask(&h, ALICE, "take your time");
    let message =
        h.dc.wait_for_message(CHANNEL, WAIT, |m| {
            m.interaction.is_none() && m.content.ends_with("time.")
        })
        .await;
    assert_eq!(message.content, "slow answer that takes its time.");
    assert!(!message.ephemeral);
    let record = h.dc.interaction(&token).unwrap();
    let original = h.dc.message(record.original.as_deref().unwrap()).unwrap();
    assert!(
        !original.versions.is_empty(),
        "streaming began in the response"
    );
    assert!(bot.log().contains("continuing in the channel"));
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_custom_api_url_without_a_gateway_fails_clearly_instead_of_using_discords() {
    let h = DiscordHarness::new().await;
    h.dc.rate_limit("GET /gateway", 60.0, 10);
    let mut bot = h.spawn(&["run"]);
    let code = bot.wait(WAIT).await;
    assert_eq!(code, Some(1), "log:\n{}", bot.log());
    let log = bot.log();
    assert!(
        log.contains("not falling back to Discord's public gateway"),
        "{log}"
    );
    assert!(h.dc.registered_commands().is_empty());
}

#[tokio::test]
async fn doctor_checks_the_discord_token() {
    let h = DiscordHarness::new().await;
    let mut good = h.spawn(&["doctor"]);
    good.wait(WAIT).await;
    assert!(
        good.log().contains("Discord token is valid"),
        "{}",
        good.log()
    );
    let bad = DiscordHarness::new().await.set(
        "DISCORD_BOT_TOKEN",
        "MTAxMDEwMTAx.wrong-secret.abcdefghijklmnop",
    );
    let bad_env = {
        let mut env = bad.env();
        env.retain(|(k, _)| k != "DISCORD_API_URL");
        env.push(("DISCORD_API_URL".into(), h.dc.url.clone()));
        env
    };
    let mut refused = BotProcess::spawn(&["doctor"], &bad_env, bad.data.path(), &["wrong-secret"]);
    assert_eq!(refused.wait(WAIT).await, Some(1));
    assert!(
        refused.log().contains("Discord refused the bot token"),
        "{}",
        refused.log()
    );
}

#[tokio::test]
async fn an_action_with_confirm_waits_for_the_askers_button_on_discord() {
    let (base, hits) = crate::tools::webhook().await;
    let h = DiscordHarness::new().await;
    let file = h.data.path().join("actions.toml");
    std::fs::write(
        &file,
        format!(
            "[[actions]]\nname = \"add_to_shopping_list\"\ndescription = \"Add an item.\"\n\
             url = \"{base}/webhook/shopping\"\nconfirm = true\n"
        ),
    )
    .unwrap();
    let h = h.set("HEARTH_ACTIONS", &file.display().to_string());
    h.ollama.enable_tools("llama3.2");
    h.ollama.push(Script::tool_call(
        "add_to_shopping_list",
        json!({"item": "milk"}),
    ));
    h.ollama.push(Script::pieces(&["Milk is on the list."]));
    let _bot = h.start_bot().await;
    let token = ask(&h, ALICE, "put milk on the list");
    // The question comes as a follow-up with two buttons.
    let asked = hearth_tests::eventually(WAIT, || {
        let record = h.dc.interaction(&token)?;
        record
            .followups
            .iter()
            .filter_map(|id| h.dc.message(id))
            .find(|m| !m.buttons.is_empty())
    })
    .await
    .expect("a message with buttons");
    // Markdown, as Discord renders it; the action's address is not shown.
    let shown = asked.content.replace('\\', "");
    assert!(shown.contains("Run **add_to_shopping_list**?"), "{shown}");
    assert!(!shown.contains("127.0.0.1"), "{shown}");
    let run = asked.buttons[0].1.clone();
    assert!(hits.lock().unwrap().is_empty());
    // Someone else's tap: a note only they see, nothing called.
    let other = h.dc.press_button(BOB, &asked.id, MEMBER, &run);
    let note = hearth_tests::eventually(WAIT, || h.dc.interaction(&other)?.response)
        .await
        .expect("the tap is answered");
    assert_eq!(note.1["type"], 4);
    assert!(
        note.1["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Only the person who asked")
    );
    assert!(hits.lock().unwrap().is_empty());
    // The asker's tap: the buttons go, the action runs once, the answer follows.
    let mine = h.dc.press_button(ALICE, &asked.id, MEMBER, &run);
    // The answer continues in the original response, above the question.
    let answer = hearth_tests::eventually(WAIT, || {
        h.dc.interaction_texts(&token)
            .into_iter()
            .find(|t| t.ends_with("Milk is on the list."))
    })
    .await
    .expect("the answer follows the tap");
    assert!(
        answer
            .replace('\\', "")
            .starts_with("🔧 ran add_to_shopping_list"),
        "{answer}"
    );
    assert_eq!(hits.lock().unwrap().len(), 1);
    assert_eq!(h.dc.interaction(&mine).unwrap().response_type(), Some(7));
    let updated = h.dc.message(&asked.id).unwrap();
    assert!(
        updated.buttons.is_empty() && updated.content.ends_with("✅ Confirmed"),
        "{updated:?}"
    );
    assert!(h.dc.violations().is_empty(), "{:?}", h.dc.violations());
}

/// Discord does not send an event again to a new session: a bot killed while answering
/// lost the DMs and slash commands it had taken. They are kept in the inbox until answered
/// and answered after the restart, once; the slash command's answer goes into its own
/// "thinking…" response (the token still lives).
#[tokio::test]
async fn a_dm_and_a_slash_command_taken_when_the_bot_is_killed_are_answered_after_the_restart() {
    const DM: &str = "400000000000000099";
    let h = DiscordHarness::new()
        .await
        .set("HEARTH_MAX_CONCURRENT_REQUESTS", "2");
    for _ in 0..2 {
        h.ollama
            .push(Script::pieces(&["never ", "arrives"]).with_delay(Duration::from_secs(60)));
    }
    let bot = h.start_bot().await;
    h.dc.user_message(ALICE, DM, None, "what is the capital of Peru?", false, None);
    let token = ask(&h, BOB, "and the capital of Chile?");
    hearth_tests::eventually(WAIT, || (h.ollama.requests().len() == 2).then_some(()))
        .await
        .expect("both reached the model");
    bot.kill();

    let bot = h.start_bot().await;
    h.dc.wait_for_message(DM, WAIT, |m| {
        m.author == BOT_ID && m.content == "echo: what is the capital of Peru?"
    })
    .await;
    let texts = h.interaction_texts(&token, |t| t.contains("echo")).await;
    assert_eq!(texts, vec!["echo: and the capital of Chile?"]);
    bot.wait_for_log("left unanswered by a restart", WAIT).await;
    // Answered once; let go of once answered, so a clean restart answers nothing again.
    assert_eq!(bot.terminate().await, Some(0));
    let bot = h.start_bot().await;
    h.dc.user_message(ALICE, DM, None, "still here?", false, None);
    h.dc.wait_for_message(DM, WAIT, |m| m.content == "echo: still here?")
        .await;
    let peru =
        h.dc.messages(DM)
            .iter()
            .filter(|m| m.author == BOT_ID && m.content.contains("capital of Peru"))
            .count();
    assert_eq!(peru, 1, "{:#?}", h.dc.messages(DM));
    assert_eq!(h.dc.interaction_texts(&token).len(), 1);
    assert!(
        !bot.log().contains("left unanswered by a restart"),
        "{}",
        bot.log()
    );
    assert!(h.dc.violations().is_empty(), "{:?}", h.dc.violations());
}
