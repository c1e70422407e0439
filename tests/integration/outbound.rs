//! The core speaking first: `hearth send` through the admin socket, and private
//! answers to commands sent from shared chats (Telegram groups, Discord channels).

use hearth_tests::discord::{CHANNEL, GUILD};

use crate::discord::{ALICE as DC_ALICE, DiscordHarness};
use crate::util::*;

const GROUP: i64 = -500;
/// A Discord DM channel Alice writes from.
const DM: &str = "400000000000000043";

#[tokio::test]
async fn hearth_send_reaches_an_allowed_telegram_user() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "hi");
    h.reply_containing(ALICE, "echo: hi").await;
    let user = format!("telegram:{ALICE}");
    let mut send = h.spawn(&["send", "--user", &user, "Dinner", "is", "**ready**"]);
    assert_eq!(send.wait(WAIT).await, Some(0), "{}", send.log());
    let message = h.reply_containing(ALICE, "Dinner is ready").await;
    assert_eq!(message, "Dinner is ready");
    let html = h.tg.messages(ALICE).last().unwrap().html.clone();
    assert_eq!(
        html.as_deref(),
        Some("Dinner is <b>ready</b>"),
        "rendered like a reply"
    );
    assert!(bot.log().contains("sent a message on the owner's behalf"));
}

#[tokio::test]
async fn hearth_send_refuses_strangers_unknown_users_and_a_stopped_bot() {
    let h = Harness::new().await;
    // No bot running: a clear error, nothing sent.
    let user = format!("telegram:{ALICE}");
    let mut send = h.spawn(&["send", "--user", &user, "hello"]);
    assert_eq!(send.wait(WAIT).await, Some(1));
    assert!(
        send.log().contains("cannot reach the running bot"),
        "{}",
        send.log()
    );

    let _bot = h.start_bot().await;
    let stranger = format!("telegram:{STRANGER}");
    let mut send = h.spawn(&["send", "--user", &stranger, "hello"]);
    assert_eq!(send.wait(WAIT).await, Some(1));
    assert!(send.log().contains("not allowed"), "{}", send.log());

    // Bob is allowed but never opened a private chat with the bot.
    let bob = format!("telegram:{BOB}");
    let mut send = h.spawn(&["send", "--user", &bob, "hello"]);
    assert_eq!(send.wait(WAIT).await, Some(1));
    assert!(send.log().contains("not sent"), "{}", send.log());
    assert!(send.log().contains("private chat"), "{}", send.log());

    let mut send = h.spawn(&["send", "--user", "alice", "hello"]);
    assert_eq!(send.wait(WAIT).await, Some(1));
    assert!(
        send.log().contains("--user must look like"),
        "{}",
        send.log()
    );
    assert!(h.tg.messages(STRANGER).is_empty());
    assert!(h.tg.messages(BOB).is_empty());
}

#[tokio::test]
async fn hearth_send_reaches_a_discord_user_in_a_dm() {
    let h = DiscordHarness::new().await;
    let _bot = h.start_bot().await;
    let user = format!("discord:{DC_ALICE}");
    let mut send = h.spawn(&["send", "--user", &user, "The backup finished"]);
    assert_eq!(send.wait(WAIT).await, Some(0), "{}", send.log());
    let dm = h.dc.dm_channel(DC_ALICE).expect("a DM channel was opened");
    let message =
        h.dc.wait_for_message(&dm, WAIT, |m| m.content.contains("backup"))
            .await;
    assert_eq!(message.content, "The backup finished");
    let mut send = h.spawn(&["send", "--user", "discord:100000000000000066", "hi"]);
    assert_eq!(send.wait(WAIT).await, Some(1));
    assert!(send.log().contains("not allowed"), "{}", send.log());
}

/// Regression: /memory and /export answered in the group itself.
#[tokio::test]
async fn memory_and_export_in_a_telegram_group_reveal_nothing_there() {
    let h = Harness::new().await.set("HEARTH_TELEGRAM_GROUPS", "true");
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/remember my locker code is 4321");
    h.reply_containing(ALICE, "I will remember that").await;
    let bot_name = hearth_tests::telegram::BOT_USERNAME;
    for command in ["/memory", "/memory locker", "/export"] {
        let addressed = command.replacen(' ', &format!("@{bot_name} "), 1);
        let addressed = if addressed.contains('@') {
            addressed
        } else {
            format!("{command}@{bot_name}")
        };
        h.tg.send_group(GROUP, ALICE, "Alice", &addressed, None);
    }
    let all_answered =
        hearth_tests::eventually(WAIT, || (h.tg.messages(GROUP).len() >= 3).then_some(())).await;
    assert!(all_answered.is_some(), "{}", bot.log());
    for message in h.tg.messages(GROUP) {
        assert!(!message.text.contains("4321"), "{}", message.text);
        assert!(message.text.contains("private message"), "{}", message.text);
    }
    // They went to Alice's private chat instead.
    h.tg.wait_for_message(ALICE, WAIT, |m| {
        m.text.contains("What I remember about “locker”")
    })
    .await;
    h.tg.wait_for_message(ALICE, WAIT, |m| {
        m.text.contains("Everything I keep about you")
    })
    .await;

    // Bob never opened a private chat: he is told how, and sees nothing of anyone.
    h.tg.send_group(GROUP, BOB, "Bob", &format!("/export@{bot_name}"), None);
    let hint = h.reply_containing(GROUP, "Open a private chat").await;
    assert!(!hint.contains("4321"));
}

#[tokio::test]
async fn memory_by_mention_in_a_discord_channel_goes_to_a_dm() {
    let h = DiscordHarness::new().await;
    let _bot = h.start_bot().await;
    h.dc.user_message(
        DC_ALICE,
        DM,
        None,
        "/remember my locker code is 4321",
        false,
        None,
    );
    h.dc.wait_for_message(DM, WAIT, |m| m.content.contains("remember"))
        .await;
    h.dc.user_message(DC_ALICE, CHANNEL, Some((GUILD, &[])), "/memory", true, None);
    let said =
        h.dc.wait_for_message(CHANNEL, WAIT, |m| m.content.contains("private"))
            .await;
    assert!(!said.content.contains("4321"), "{}", said.content);
    let dm = h.dc.dm_channel(DC_ALICE).expect("a DM was opened");
    h.dc.wait_for_message(&dm, WAIT, |m| m.content.contains("4321"))
        .await;
}

/// `POST /hooks/notify`: an automation (n8n, cron) writes through the bot, with the token only.
#[tokio::test]
async fn hooks_notify_needs_the_token_and_reaches_allowed_people_only() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "hook-token-0123456789abcdef";
    let h = Harness::new()
        .await
        .set("HEARTH_HOOKS_ADDR", &format!("127.0.0.1:{port}"))
        .set("HEARTH_HOOKS_TOKEN", token)
        .set("HEARTH_HOOKS_CHATS", &format!("telegram:{GROUP}"));
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "hi");
    h.reply_containing(ALICE, "echo: hi").await;
    let url = format!("http://127.0.0.1:{port}/hooks/notify");
    let client = reqwest::Client::new();
    let post = |body: serde_json::Value, auth: Option<&str>| {
        let mut request = client.post(&url).json(&body);
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        request.send()
    };
    let alice = format!("telegram:{ALICE}");
    let body = serde_json::json!({"user": alice, "text": "Your backup **failed**"});
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(post(body.clone(), None).await.unwrap()), 401);
    assert_eq!(
        status(
            post(body.clone(), Some("wrong-token-0123456789"))
                .await
                .unwrap()
        ),
        401
    );
    let stranger = serde_json::json!({"user": format!("telegram:{STRANGER}"), "text": "hi"});
    assert_eq!(status(post(stranger, Some(token)).await.unwrap()), 404);
    let unlisted = serde_json::json!({"chat": "telegram:-999", "text": "hi"});
    assert_eq!(status(post(unlisted, Some(token)).await.unwrap()), 404);
    let huge = serde_json::json!({"user": alice, "text": "x".repeat(100_000)});
    assert_eq!(status(post(huge, Some(token)).await.unwrap()), 413);
    let broken = client
        .post(&url)
        .bearer_auth(token)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(status(broken), 400);
    // Nothing else is served.
    let other = client
        .get(format!("http://127.0.0.1:{port}/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(status(other), 404);
    assert!(
        h.tg.messages(ALICE)
            .iter()
            .all(|m| !m.text.contains("backup"))
    );
    let ok = post(body, Some(token)).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let answer: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(answer["delivered"], true);
    h.reply_containing(ALICE, "Your backup failed").await;
    let log = bot.log();
    assert!(!log.contains(token), "the token was logged");
}
