use std::time::Duration;

use hearth_tests::ollama::Script;

use crate::util::*;

#[tokio::test]
async fn a_text_gets_a_streamed_reply_in_one_edited_message() {
    let h = Harness::new().await;
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
    h.tg.send_private(ALICE, "Alice", "What is the answer?");
    let reply =
        h.tg.wait_for_message(ALICE, WAIT, |m| m.text.ends_with("knows."))
            .await;
    assert_eq!(reply.text, "The answer is forty-two, as everyone knows.");
    assert_eq!(
        reply.html.as_deref(),
        Some("The answer is <b>forty-two</b>, as everyone knows.")
    );
    assert!(
        reply.versions.len() >= 3,
        "expected several edits, got {:?}",
        reply.versions
    );
    assert!(
        reply
            .versions
            .windows(2)
            .all(|w| w[1].starts_with(w[0].trim_end_matches('*'))),
        "{:?}",
        reply.versions
    );
    assert_eq!(h.tg.messages(ALICE).len(), 1, "one message, edited");
    assert!(
        !h.tg.calls_of("sendchataction").is_empty(),
        "typing indicator"
    );
    // The request carried the system prompt and the user's text.
    let request = &h.ollama.requests()[0];
    assert_eq!(request.body["messages"][0]["role"], "system");
    assert_eq!(request.last_user(), "What is the answer?");
    assert_eq!(request.body["stream"], true);
    assert!(request.body["options"]["num_ctx"].as_u64().is_some());
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn korean_and_emoji_survive_chunks_that_split_characters() {
    let h = Harness::new().await;
    h.ollama
        .push(Script::pieces(&["안녕하세요, ", "앨리스 님! ", "😀🎉 ", "café"]).split_every(5));
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "인사해 줘");
    let reply = h.reply_containing(ALICE, "café").await;
    assert_eq!(reply, "안녕하세요, 앨리스 님! 😀🎉 café");
}

#[tokio::test]
async fn with_one_model_slot_the_second_user_sees_a_queue_notice() {
    let h = Harness::new()
        .await
        .set("HEARTH_MAX_CONCURRENT_REQUESTS", "1");
    h.ollama.push(
        Script::pieces(&["slow ", "answer ", "for ", "Alice"])
            .with_delay(Duration::from_millis(400)),
    );
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "long question");
    hearth_tests::eventually(WAIT, || (!h.ollama.requests().is_empty()).then_some(()))
        .await
        .unwrap();
    h.tg.send_private(BOB, "Bob", "quick question");
    let reply = h.reply_containing(BOB, "echo: quick question").await;
    assert_eq!(reply, "echo: quick question");
    let bob = &h.tg.messages(BOB)[0];
    assert!(
        bob.versions[0].contains("queue"),
        "first shown text: {:?}",
        bob.versions
    );
    h.reply_containing(ALICE, "for Alice").await;
}

#[tokio::test]
async fn groups_are_ignored_unless_enabled() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_group(-1005, ALICE, "Alice", "@hearth_test_bot hello?", None);
    h.tg.send_private(ALICE, "Alice", "private hello");
    h.reply_containing(ALICE, "echo: private hello").await;
    assert!(h.tg.messages(-1005).is_empty());
    assert_eq!(h.ollama.requests().len(), 1);
}
