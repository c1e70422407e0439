//! Tool calling through the real binary: the fake Ollama streams a tool call exactly as
//! Ollama 0.12 does, the bot runs it, sends the result back as a `tool` message and
//! streams the final answer under a 🔧 line; a model without tools is never offered any.

use serde_json::json;

use hearth_tests::ollama::Script;

use crate::util::*;

#[tokio::test]
async fn a_streamed_tool_call_sets_a_reminder_and_the_answer_follows() {
    let h = Harness::new().await.set("HEARTH_TIMEZONE", "Asia/Seoul");
    h.ollama.enable_tools("llama3.2");
    h.ollama.push(Script::tool_call(
        "create_reminder",
        json!({"when": "in 2 minutes", "text": "stretch"}),
    ));
    h.ollama.push(Script::pieces(&[
        "All set, ",
        "I will nudge you to stretch.",
    ]));
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "nudge me in 2 minutes to stretch");
    let answer = h
        .reply_containing(ALICE, "I will nudge you to stretch.")
        .await;
    assert!(
        answer.starts_with("🔧 set reminder r1 for ") && answer.contains("(Asia/Seoul): stretch"),
        "{answer}"
    );

    let requests = h.ollama.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let offered: Vec<&str> = requests[0].body["tools"]
        .as_array()
        .expect("tools offered")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(offered.contains(&"create_reminder"), "{offered:?}");
    assert!(offered.contains(&"search_memories"), "{offered:?}");
    let messages = requests[1].body["messages"].as_array().unwrap();
    let call = &messages[messages.len() - 2];
    assert_eq!(call["role"], "assistant");
    assert_eq!(call["tool_calls"][0]["function"]["name"], "create_reminder");
    assert_eq!(
        call["tool_calls"][0]["function"]["arguments"]["when"],
        "in 2 minutes"
    );
    let result = &messages[messages.len() - 1];
    assert_eq!(result["role"], "tool");
    assert_eq!(result["tool_name"], "create_reminder");
    assert!(
        result["content"]
            .as_str()
            .unwrap()
            .starts_with("Reminder r1 is set for"),
        "{result}"
    );

    // The reminder is really stored: it is listed, and only for Alice.
    h.tg.send_private(ALICE, "Alice", "/reminders");
    let list = h.reply_containing(ALICE, "Your reminders").await;
    assert!(list.contains("r1") && list.contains("stretch"), "{list}");
    h.tg.send_private(BOB, "Bob", "/reminders");
    h.reply_containing(BOB, "no reminders").await;
}

#[tokio::test]
async fn a_model_without_tools_is_never_offered_any() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "what can you do?");
    h.reply_containing(ALICE, "echo: what can you do?").await;
    let requests = h.ollama.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].body.get("tools").is_none(),
        "{}",
        requests[0].body
    );
}
