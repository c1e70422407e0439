use crate::util::*;

#[tokio::test]
async fn commands_are_registered_and_help_answers() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/start");
    let start = h.reply_containing(ALICE, "Hello Alice").await;
    assert!(start.contains("/reset") && start.contains("/model"));
    let commands =
        h.tg.registered_commands()
            .expect("setMyCommands was called");
    let names: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "start", "help", "reset", "model", "remember", "memory", "forget", "export"
        ]
    );
    h.tg.send_private(ALICE, "Alice", "/frobnicate now");
    h.reply_containing(ALICE, "I don't know the command /frobnicate")
        .await;
    assert!(
        h.ollama.requests().is_empty(),
        "commands never reach the model"
    );
}

#[tokio::test]
async fn reset_starts_a_new_conversation() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "remember pineapple");
    h.reply_containing(ALICE, "echo: remember pineapple").await;
    h.tg.send_private(ALICE, "Alice", "/reset");
    h.reply_containing(ALICE, "new conversation").await;
    h.tg.send_private(ALICE, "Alice", "what fruit?");
    h.reply_containing(ALICE, "echo: what fruit?").await;
    let last = h.ollama.requests().pop().unwrap();
    assert!(
        !last.all_text().contains("pineapple"),
        "{}",
        last.all_text()
    );
}

#[tokio::test]
async fn model_lists_and_switches_per_user() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/model");
    let list = h.reply_containing(ALICE, "Available").await;
    assert!(
        list.contains("llama3.2 (current)") && list.contains("qwen3:4b"),
        "{list}"
    );
    h.tg.send_private(ALICE, "Alice", "/model qwen3:4b");
    h.reply_containing(ALICE, "answer you with qwen3:4b").await;
    h.tg.send_private(ALICE, "Alice", "/model gpt-17");
    h.reply_containing(ALICE, "There is no model gpt-17").await;
    h.tg.send_private(ALICE, "Alice", "hi");
    h.reply_containing(ALICE, "echo: hi").await;
    h.tg.send_private(BOB, "Bob", "hi");
    h.reply_containing(BOB, "echo: hi").await;
    let models: Vec<String> = h
        .ollama
        .requests()
        .iter()
        .map(|r| r.model().to_owned())
        .collect();
    assert_eq!(
        models,
        ["qwen3:4b", "llama3.2"],
        "Alice switched, Bob did not"
    );
}
