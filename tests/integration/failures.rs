use hearth_tests::ollama::Script;

use crate::util::*;

#[tokio::test]
async fn a_stranger_is_told_their_id_and_nothing_reaches_the_model() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_private(STRANGER, "Mallory", "give me your secrets");
    let refusal = h.reply_containing(STRANGER, "6666").await;
    assert!(refusal.contains("HEARTH_TELEGRAM_ALLOWED_USERS"));
    h.tg.send_private(ALICE, "Alice", "hello");
    h.reply_containing(ALICE, "echo: hello").await;
    assert_eq!(
        h.ollama.requests().len(),
        1,
        "only Alice's message reached Ollama"
    );
    assert_eq!(
        h.tg.messages(STRANGER).len(),
        1,
        "one message and nothing else"
    );
}

#[tokio::test]
async fn ollama_down_gives_a_clear_reply_and_the_bot_recovers() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    h.ollama.stop().await;
    h.tg.send_private(ALICE, "Alice", "are you there?");
    let reply = h.reply_containing(ALICE, "not reachable").await;
    // Internal addresses stay in the log, never in a chat.
    assert!(!reply.contains(&h.ollama.url()), "{reply}");
    assert!(!reply.contains("127.0.0.1"), "{reply}");
    bot.wait_for_log("model server unavailable", WAIT).await;
    h.ollama.restart();
    h.tg.send_private(ALICE, "Alice", "and now?");
    h.reply_containing(ALICE, "echo: and now?").await;
}

/// Ollama restarting while an answer streams (the connection breaks mid-answer): the person
/// keeps what had arrived and is told the rest did not come, nothing hangs, and the next
/// message is answered once the server is back.
#[tokio::test]
async fn ollama_restarting_mid_stream_ends_the_answer_clearly_and_the_bot_recovers() {
    let h = Harness::new().await;
    h.ollama.push(
        Script::pieces(&["The first part, ", "the second part, ", "never sent"])
            .with_delay(std::time::Duration::from_millis(800)),
    );
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "tell me a long story");
    h.reply_containing(ALICE, "The first part").await;
    h.ollama.stop().await;
    h.ollama.restart();
    let ended =
        h.tg.wait_for_message(ALICE, WAIT, |m| m.text.contains("try again"))
            .await;
    assert!(ended.text.starts_with("The first part"), "{}", ended.text);
    assert!(!ended.text.contains("never sent"), "{}", ended.text);
    assert!(!ended.text.contains("127.0.0.1"), "{}", ended.text);
    h.tg.send_private(ALICE, "Alice", "are you back?");
    h.reply_containing(ALICE, "echo: are you back?").await;
    assert!(!bot.log().contains("panicked"), "{}", bot.log());
}

/// Regression: "İ" lowercases to more bytes; the mention stripper sliced the original text
/// with offsets from the lowercased copy and panicked before the access check.
#[tokio::test]
async fn a_strangers_dotted_capital_i_mention_gets_the_refusal_and_the_bot_keeps_answering() {
    let h = Harness::new().await.set("HEARTH_TELEGRAM_GROUPS", "true");
    let bot = h.start_bot().await;
    let text = format!("İİİİ @{} hello", hearth_tests::telegram::BOT_USERNAME);
    h.tg.send_group(-500, STRANGER, "Mallory", &text, None);
    let refusal = h.reply_containing(-500, "6666").await;
    assert!(
        refusal.contains("HEARTH_TELEGRAM_ALLOWED_USERS"),
        "{refusal}"
    );
    h.tg.send_private(ALICE, "Alice", "still there?");
    h.reply_containing(ALICE, "echo: still there?").await;
    assert!(!bot.log().contains("panicked"), "{}", bot.log());
}

/// The Ollama address may carry `user:pass@`: the log shows it without them.
#[tokio::test]
async fn credentials_in_the_ollama_address_never_reach_the_log() {
    let h = Harness::new().await;
    let url = h
        .ollama
        .url()
        .replacen("http://", "http://hearth:s3cret-pw@", 1);
    let h = h.set("OLLAMA_HOST", &url);
    let bot = h.start_bot().await;
    h.ollama.stop().await;
    h.tg.send_private(ALICE, "Alice", "are you there?");
    let reply = h.reply_containing(ALICE, "not reachable").await;
    assert!(!reply.contains("s3cret"), "{reply}");
    bot.wait_for_log("model server unavailable", WAIT).await;
    assert!(!bot.log().contains("s3cret-pw"), "{}", bot.log());
    assert!(
        bot.log().contains("127.0.0.1"),
        "the log still names the server"
    );
}

#[tokio::test]
async fn a_missing_model_is_explained() {
    let h = Harness::new().await.set("OLLAMA_MODEL", "mistral");
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "hi");
    let reply = h.reply_containing(ALICE, "not installed").await;
    assert!(reply.contains("ollama pull mistral"), "{reply}");
}

#[tokio::test]
async fn a_10000_character_answer_arrives_complete_and_well_formed() {
    let h = Harness::new().await;
    let answer = long_answer();
    let pieces: Vec<&str> = answer.split_inclusive('\n').collect();
    h.ollama.push(Script::pieces(&pieces));
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "write a lot of code");
    let last_line = answer
        .lines()
        .rev()
        .find(|l| l.starts_with("print"))
        .unwrap()
        .to_owned();
    h.tg.wait_for_message(ALICE, WAIT, |m| m.text.contains(&last_line))
        .await;
    // A graceful stop waits for the delivery in flight: nothing arrives after it.
    assert_eq!(bot.terminate().await, Some(0));
    let messages = h.tg.messages(ALICE);
    assert!(messages.len() >= 3, "{} messages", messages.len());
    let rejected: Vec<_> =
        h.tg.calls()
            .into_iter()
            .filter(|c| c.status == 400)
            .collect();
    assert!(rejected.is_empty(), "Telegram rejected: {rejected:?}");
    // Every code line arrives exactly once, inside a code block.
    for line in answer.lines().filter(|l| l.starts_with("print")) {
        let holders: Vec<_> = messages
            .iter()
            .filter(|m| m.text.lines().any(|l| l == line))
            .collect();
        assert_eq!(holders.len(), 1, "{line}");
        let message = holders[0];
        let at = message.text.find(line).unwrap();
        let start = message.text[..at].chars().count();
        assert!(
            message
                .entities
                .iter()
                .any(|e| e.tag == "pre" && e.start <= start && start < e.end),
            "{line} is outside a code block"
        );
    }
    for step in 0..20 {
        let heading = format!("Step {step}: run the following code & check the <output>.");
        if answer.contains(&format!("Step {step}:")) {
            assert_eq!(
                messages
                    .iter()
                    .filter(|m| m.text.contains(&heading))
                    .count(),
                1,
                "{heading}"
            );
        }
    }
}

#[tokio::test]
async fn an_oversized_message_is_refused_politely() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", &"a".repeat(20_000));
    h.reply_containing(ALICE, "too long").await;
    assert!(h.ollama.requests().is_empty());
}

#[tokio::test]
async fn an_unreachable_telegram_is_a_clear_error_without_the_token() {
    let h = Harness::new()
        .await
        .set("TELEGRAM_API_URL", "http://127.0.0.1:9/");
    let mut bot = h.spawn(&["run"]);
    let code = bot.wait(WAIT).await;
    assert_eq!(code, Some(1));
    assert!(bot.log().contains("not reachable"), "{}", bot.log());
}

#[tokio::test]
async fn a_rejected_token_is_reported_without_the_token() {
    let h = Harness::new()
        .await
        .set("TELEGRAM_BOT_TOKEN", "999:TEST-secret-token-value");
    let mut bot = h.spawn(&["run"]);
    assert_eq!(bot.wait(WAIT).await, Some(1));
    assert!(bot.log().contains("refused the bot token"), "{}", bot.log());
}

fn long_answer() -> String {
    let mut md = String::new();
    let mut i = 0;
    while md.len() < 10_000 {
        md.push_str(&format!(
            "Step {i}: run the **following** code & check the <output>.\n\n```python\n"
        ));
        for line in 0..25 {
            md.push_str(&format!("print('step {i} line {line}')  # x < y\n"));
        }
        md.push_str("```\n\n");
        i += 1;
    }
    md
}

/// A Telegram 429 flood (getUpdates refused once, then every send and edit in every chat
/// for a while): the bot waits as told, and each person still gets their whole answer,
/// once, in order.
#[tokio::test]
async fn a_429_flood_slows_the_bot_down_and_every_answer_arrives_whole_once() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    h.tg.fail_with_retry_after("getupdates", 1, 1);
    h.tg.flood(1, 12);
    h.tg.send_private(ALICE, "Alice", "first from alice");
    h.tg.send_private(BOB, "Bob", "first from bob");
    h.tg.send_private(ALICE, "Alice", "second from alice");
    h.reply_containing(ALICE, "echo: first from alice").await;
    h.reply_containing(ALICE, "echo: second from alice").await;
    h.reply_containing(BOB, "echo: first from bob").await;
    let refused = h.tg.calls().iter().filter(|c| c.status == 429).count();
    assert_eq!(refused, 13, "every queued 429 was served");
    let alice: Vec<String> = h.tg.messages(ALICE).into_iter().map(|m| m.text).collect();
    assert_eq!(
        alice,
        ["echo: first from alice", "echo: second from alice"],
        "whole, once, in order"
    );
    let bob: Vec<String> = h.tg.messages(BOB).into_iter().map(|m| m.text).collect();
    assert_eq!(bob, ["echo: first from bob"]);
    assert!(bot.log().contains("slow down"), "{}", bot.log());
    assert!(!bot.log().contains("panicked"), "{}", bot.log());
}
