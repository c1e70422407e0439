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
async fn reasoning_is_never_shown() {
    let h = Harness::new().await;
    h.ollama.push(
        Script::pieces(&["<thi", "nk>secret plan", "ning</think>", "Visible answer"])
            .with_delay(Duration::from_millis(50)),
    );
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "think first");
    let reply =
        h.tg.wait_for_message(ALICE, WAIT, |m| m.text.contains("Visible answer"))
            .await;
    assert_eq!(reply.text, "Visible answer");
    assert!(
        reply.versions.iter().all(|v| !v.contains("secret")),
        "{:?}",
        reply.versions
    );
}

#[tokio::test]
async fn two_quick_messages_in_one_chat_are_answered_in_order() {
    let h = Harness::new().await;
    h.ollama
        .push(Script::pieces(&["first ", "answer"]).with_delay(Duration::from_millis(300)));
    h.ollama.push(Script::pieces(&["second answer"]));
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "one");
    h.tg.send_private(ALICE, "Alice", "two");
    h.reply_containing(ALICE, "second answer").await;
    let requests = h.ollama.requests();
    assert_eq!(requests[0].last_user(), "one");
    assert_eq!(requests[1].last_user(), "two");
    // The second prompt already contains the whole first exchange.
    assert!(requests[1].all_text().contains("first answer"));
    let messages = h.tg.messages(ALICE);
    assert_eq!(messages[0].text, "first answer");
    assert_eq!(messages[1].text, "second answer");
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
async fn two_users_never_see_each_others_history() {
    let h = Harness::new()
        .await
        .set("HEARTH_MAX_CONCURRENT_REQUESTS", "2");
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "my secret is tulip");
    h.tg.send_private(BOB, "Bob", "my secret is walrus");
    h.reply_containing(ALICE, "tulip").await;
    h.reply_containing(BOB, "walrus").await;
    h.tg.send_private(ALICE, "Alice", "what is my secret?");
    h.tg.send_private(BOB, "Bob", "what is my secret?");
    hearth_tests::eventually(WAIT, || (h.ollama.requests().len() == 4).then_some(()))
        .await
        .unwrap();
    for request in h.ollama.requests() {
        let text = request.all_text();
        assert!(
            !(text.contains("tulip") && text.contains("walrus")),
            "mixed prompt: {text}"
        );
        let system = request.body["messages"][0]["content"].as_str().unwrap();
        if text.contains("tulip") {
            assert!(system.contains("Alice"));
        } else {
            assert!(system.contains("Bob"));
        }
    }
    assert!(
        h.tg.messages(ALICE)
            .iter()
            .all(|m| !m.text.contains("walrus"))
    );
    assert!(h.tg.messages(BOB).iter().all(|m| !m.text.contains("tulip")));
}

#[tokio::test]
async fn in_groups_the_bot_answers_only_when_addressed() {
    let h = Harness::new().await.set("HEARTH_TELEGRAM_GROUPS", "true");
    let _bot = h.start_bot().await;
    let group = -100_777;
    h.tg.send_group(group, ALICE, "Alice", "just chatting among us", None);
    h.tg.send_group(group, ALICE, "Alice", "@hearth_test_bot what's up?", None);
    let reply =
        h.tg.wait_for_message(group, WAIT, |m| m.text.contains("echo"))
            .await;
    assert_eq!(reply.text, "echo: what's up?");
    assert!(reply.reply_to.is_some(), "group answers quote the question");
    h.tg.send_group(
        group,
        ALICE,
        "Alice",
        "and a reply to you",
        Some(reply.message_id),
    );
    h.reply_containing(group, "echo: and a reply to you").await;
    let prompts: Vec<String> = h.ollama.requests().iter().map(|r| r.last_user()).collect();
    assert_eq!(prompts, ["what's up?", "and a reply to you"]);
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
