use std::time::Duration;

use hearth_tests::ollama::Script;

use crate::util::*;

#[tokio::test]
async fn history_and_settings_survive_a_restart() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "my cat is called Miso");
    h.reply_containing(ALICE, "echo: my cat is called Miso")
        .await;
    h.tg.send_private(ALICE, "Alice", "/model qwen3:4b");
    h.reply_containing(ALICE, "qwen3:4b").await;
    assert_eq!(bot.terminate().await, Some(0));

    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "what is my cat called?");
    h.reply_containing(ALICE, "echo: what is my cat called?")
        .await;
    let last = h.ollama.requests().pop().unwrap();
    assert!(
        last.all_text().contains("my cat is called Miso"),
        "{}",
        last.all_text()
    );
    assert!(last.all_text().contains("echo: my cat is called Miso"));
    assert_eq!(last.model(), "qwen3:4b");
}

#[tokio::test]
async fn shutdown_waits_for_the_reply_in_flight() {
    let h = Harness::new().await;
    h.ollama.push(
        Script::pieces(&["part one, ", "part two, ", "done."])
            .with_delay(Duration::from_millis(400)),
    );
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "tell me slowly");
    hearth_tests::eventually(WAIT, || (!h.ollama.requests().is_empty()).then_some(()))
        .await
        .unwrap();
    assert_eq!(bot.terminate().await, Some(0));
    // The answer was finished and delivered before the process exited.
    let messages = h.tg.messages(ALICE);
    assert_eq!(messages.last().unwrap().text, "part one, part two, done.");
}

#[tokio::test]
async fn shutdown_cancels_a_reply_that_outlives_the_grace_period() {
    let h = Harness::new().await.set("HEARTH_SHUTDOWN_GRACE_SECS", "0");
    h.ollama.push(
        Script::pieces(&["started, ", "never ", "finished"]).with_delay(Duration::from_secs(3)),
    );
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "a very long task");
    h.reply_containing(ALICE, "started").await;
    assert_eq!(bot.terminate().await, Some(0));
    let last = h.tg.messages(ALICE).pop().unwrap();
    assert!(
        last.text.starts_with("started,") && last.text.contains("shutting down"),
        "{}",
        last.text
    );

    // The partial answer was saved: it is part of the next prompt.
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "go on");
    h.reply_containing(ALICE, "echo: go on").await;
    assert!(
        h.ollama
            .requests()
            .pop()
            .unwrap()
            .all_text()
            .contains("started,")
    );
}
