//! Tool calling through the real binary: the fake Ollama streams a tool call exactly as
//! Ollama 0.12 does, the bot runs it, sends the result back as a `tool` message and
//! streams the final answer under a 🔧 line; a model without tools is never offered any.
//! The same through the OpenAI-compatible API (`HEARTH_MODEL_API=openai`), whose calls
//! stream in fragments.

use serde_json::json;

use hearth_tests::ollama::Script;

use crate::util::*;

/// The names of the tools a request to the model offered.
fn offered_tools(request: &hearth_tests::ollama::Received) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the bot answered a button tap with a note containing `needle`.
async fn toast(h: &Harness, needle: &str) -> bool {
    hearth_tests::eventually(WAIT, || {
        h.tg.calls_of("answercallbackquery")
            .iter()
            .any(|c| c.body["text"].as_str().is_some_and(|t| t.contains(needle)))
            .then_some(())
    })
    .await
    .is_some()
}

/// Which API the bot speaks to the fake model server.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Api {
    Ollama,
    OpenAi,
}

/// The model streams a `create_reminder` call in `api`'s way; the bot runs it, sends the
/// result back in that API's shape and streams the final answer under the 🔧 line.
async fn a_streamed_call_sets_a_reminder(api: Api) {
    let mut h = Harness::new().await.set("HEARTH_TIMEZONE", "Asia/Seoul");
    if api == Api::OpenAi {
        h = through_openai(h);
    }
    h.ollama.enable_tools("llama3.2");
    h.ollama.push(Script::tool_call(
        "create_reminder",
        json!({"when": "in 2 minutes", "text": "스트레칭 stretch"}),
    ));
    h.ollama
        .push(Script::pieces(&["All set, ", "I will nudge you."]));
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "nudge me in 2 minutes to stretch");
    let answer = h.reply_containing(ALICE, "I will nudge you.").await;
    assert!(
        answer.starts_with("🔧 set reminder r1 for ")
            && answer.contains("(Asia/Seoul): 스트레칭 stretch"),
        "{answer}"
    );

    let requests = h.ollama.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let offered = offered_tools(&requests[0]);
    assert!(
        offered.contains(&"create_reminder".to_owned()),
        "{offered:?}"
    );
    assert!(
        offered.contains(&"search_memories".to_owned()),
        "{offered:?}"
    );
    let messages = requests[1].body["messages"].as_array().unwrap();
    let call = &messages[messages.len() - 2];
    let result = &messages[messages.len() - 1];
    assert_eq!(call["role"], "assistant");
    assert_eq!(call["tool_calls"][0]["function"]["name"], "create_reminder");
    assert_eq!(result["role"], "tool");
    let arguments = &call["tool_calls"][0]["function"]["arguments"];
    let arguments = match api {
        // Ollama: an object, and the result names its tool.
        Api::Ollama => {
            assert_eq!(result["tool_name"], "create_reminder");
            arguments.clone()
        }
        // OpenAI: a JSON string, and the result names the call by its id.
        Api::OpenAi => {
            assert_eq!(requests[0].body["tools"][0]["type"], "function");
            assert_eq!(call["tool_calls"][0]["id"], "call_0");
            assert_eq!(result["tool_call_id"], "call_0");
            serde_json::from_str(arguments.as_str().expect("a JSON string")).unwrap()
        }
    };
    assert_eq!(arguments["when"], "in 2 minutes");
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
async fn a_streamed_tool_call_sets_a_reminder_and_the_answer_follows() {
    a_streamed_call_sets_a_reminder(Api::Ollama).await;
}

#[tokio::test]
async fn through_the_openai_compatible_api_a_streamed_tool_call_sets_a_reminder() {
    a_streamed_call_sets_a_reminder(Api::OpenAi).await;
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

/// The harness speaking the OpenAI-compatible API to the fake (`HEARTH_MODEL_API=openai`).
fn through_openai(h: Harness) -> Harness {
    let url = h.ollama.url();
    h.set("HEARTH_MODEL_API", "openai")
        .set("HEARTH_MODEL_URL", &url)
}

#[tokio::test]
async fn an_openai_compatible_server_that_refuses_tools_is_asked_again_without_them() {
    let h = through_openai(Harness::new().await);
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "what can you do?");
    let reply = h.reply_containing(ALICE, "echo: what can you do?").await;
    assert!(!reply.contains('⚠'), "{reply}");
    h.tg.send_private(ALICE, "Alice", "and now?");
    h.reply_containing(ALICE, "echo: and now?").await;
    let requests = h.ollama.requests();
    // Offered once, refused, asked again without; never offered to that model again.
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(!offered_tools(&requests[0]).is_empty());
    assert!(requests[1].body.get("tools").is_none());
    assert!(requests[2].body.get("tools").is_none());
    assert!(
        bot.log().contains("the model cannot call tools"),
        "{}",
        bot.log()
    );
}

/// What an n8n Webhook node would receive.
#[derive(Clone, Debug)]
pub(crate) struct Hit {
    pub(crate) authorization: Option<String>,
    pub(crate) body: serde_json::Value,
}

/// A stand-in for an n8n Webhook node on 127.0.0.1: records each call, answers JSON.
pub(crate) async fn webhook() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Hit>>>) {
    use axum::routing::post;
    let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Hit>::new()));
    let seen = hits.clone();
    let app = axum::Router::new().route(
        "/webhook/shopping",
        post(
            move |headers: axum::http::HeaderMap,
                  axum::Json(body): axum::Json<serde_json::Value>| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(Hit {
                        authorization: headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                        body,
                    });
                    axum::Json(json!({"ok": true, "list": ["eggs", "milk"]}))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn an_owners_action_is_called_with_its_secret_header_and_its_result_reaches_the_model() {
    let (base, hits) = webhook().await;
    let h = Harness::new().await;
    let file = h.data.path().join("actions.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[actions]]
name = "add_to_shopping_list"
description = "Add an item to the family shopping list."
url = "{base}/webhook/shopping"
confirm = false
headers = {{ Authorization = "Bearer ${{SHOP_TOKEN}}" }}
parameters = {{ type = "object", properties = {{ item = {{ type = "string" }} }}, required = ["item"] }}

[[actions]]
name = "unlock_door"
description = "Unlock the front door."
url = "{base}/webhook/door"
"#
        ),
    )
    .unwrap();
    let h = h
        .set("HEARTH_ACTIONS", &file.display().to_string())
        .set("SHOP_TOKEN", "shop-secret-0123456789");
    h.ollama.enable_tools("llama3.2");
    h.ollama.push(Script::tool_call(
        "add_to_shopping_list",
        json!({"item": "milk"}),
    ));
    h.ollama.push(Script::pieces(&["Milk is on the list."]));
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "we're out of milk, put it on the list");
    let answer = h.reply_containing(ALICE, "Milk is on the list.").await;
    assert!(
        answer.starts_with("🔧 ran add_to_shopping_list"),
        "{answer}"
    );

    let hits = hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].body, json!({"item": "milk"}));
    assert_eq!(
        hits[0].authorization.as_deref(),
        Some("Bearer shop-secret-0123456789")
    );
    let requests = h.ollama.requests();
    let offered = offered_tools(&requests[0]);
    assert!(
        offered.contains(&"add_to_shopping_list".to_owned()),
        "{offered:?}"
    );
    // One that needs the person's approval is offered too (the tap is asked for when called).
    assert!(offered.contains(&"unlock_door".to_owned()), "{offered:?}");
    let result = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(result["tool_name"], "add_to_shopping_list");
    assert!(
        result["content"].as_str().unwrap().contains("\"eggs\""),
        "{result}"
    );
    // The header's secret is never logged.
    assert!(!bot.log().contains("shop-secret"), "{}", bot.log());
}

#[tokio::test]
async fn an_action_with_confirm_waits_for_the_askers_tap_on_telegram() {
    let (base, hits) = webhook().await;
    let h = Harness::new().await;
    let file = h.data.path().join("actions.yaml");
    std::fs::write(
        &file,
        format!(
            "actions:\n  - name: add_to_shopping_list\n    description: Add an item to the shopping list.\n    url: {base}/webhook/shopping\n    confirm: true\n    parameters:\n      type: object\n      properties:\n        item: {{type: string}}\n"
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
    h.tg.send_private(ALICE, "Alice", "put milk on the list");
    let asked =
        h.tg.wait_for_message(ALICE, WAIT, |m| !m.buttons.is_empty())
            .await;
    assert!(
        asked.text.contains("add_to_shopping_list"),
        "{}",
        asked.text
    );
    assert!(asked.text.contains("\"item\": \"milk\""), "{}", asked.text);
    let (run, cancel) = (&asked.buttons[0], &asked.buttons[1]);
    assert!(
        run.0.contains("Run") && cancel.0.contains("Cancel"),
        "{:?}",
        asked.buttons
    );
    // Nothing is called while nobody has tapped, nor when someone else taps.
    assert!(hits.lock().unwrap().is_empty());
    h.tg.press_button(BOB, "Bob", ALICE, asked.message_id, &run.1);
    assert!(
        toast(&h, "Only the person who asked").await,
        "the other person is told the button is not theirs"
    );
    assert!(hits.lock().unwrap().is_empty());
    // The asker's tap runs it, once.
    h.tg.press_button(ALICE, "Alice", ALICE, asked.message_id, &run.1);
    let answer = h.reply_containing(ALICE, "Milk is on the list.").await;
    assert!(answer.contains("🔧 ran add_to_shopping_list"), "{answer}");
    assert_eq!(hits.lock().unwrap().len(), 1);
    let answered =
        h.tg.wait_for_message(ALICE, WAIT, |m| {
            m.message_id == asked.message_id && m.buttons.is_empty()
        })
        .await;
    assert!(answered.text.ends_with("✅ Confirmed"), "{}", answered.text);
    // A second tap on the old button does nothing more.
    h.tg.press_button(ALICE, "Alice", ALICE, asked.message_id, &run.1);
    assert!(
        toast(&h, "expired").await,
        "an old button is answered as expired"
    );
    assert_eq!(hits.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn mcp_tools_over_http_and_stdio_are_offered_called_and_confirmed() {
    let mcp = hearth_tests::mcp::FakeMcp::start().await;
    let h = Harness::new().await;
    let call_log = h.data.path().join("stdio-calls.jsonl");
    let file = h.data.path().join("actions.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[mcp]]
name = "shop"
url = "{url}"
headers = {{ Authorization = "Bearer ${{MCP_TOKEN}}" }}
confirm = false

[[mcp]]
name = "pantry"
command = ["{stdio}", "{log}"]
"#,
            url = mcp.url(),
            stdio = env!("CARGO_BIN_EXE_fake-mcp-stdio"),
            log = call_log.display(),
        ),
    )
    .unwrap();
    let h = h
        .set("HEARTH_ACTIONS", &file.display().to_string())
        .set("MCP_TOKEN", "mcp-secret-0123456789");
    h.ollama.enable_tools("llama3.2");
    let bot = h.start_bot().await;
    // Both servers connect and list their tools (the bot says so in its log).
    hearth_tests::eventually(WAIT, || {
        (bot.log().matches("connected to an MCP server").count() == 2).then_some(())
    })
    .await
    .expect("both MCP servers connected");
    assert!(
        mcp.authorization()
            .iter()
            .all(|a| a.as_deref() == Some("Bearer mcp-secret-0123456789")),
        "{:?}",
        mcp.authorization()
    );

    // Over HTTP, without confirmation.
    h.ollama
        .push(Script::tool_call("shop_add_item", json!({"item": "milk"})));
    h.ollama.push(Script::pieces(&["Milk is on the list."]));
    h.tg.send_private(ALICE, "Alice", "put milk on the list");
    let answer = h.reply_containing(ALICE, "Milk is on the list.").await;
    assert!(answer.starts_with("🔧 ran shop_add_item"), "{answer}");
    assert_eq!(mcp.calls(), vec![json!({"item": "milk"})]);
    let requests = h.ollama.requests();
    let offered = offered_tools(&requests[0]);
    assert!(
        offered.contains(&"shop_add_item".to_owned())
            && offered.contains(&"pantry_add_item".to_owned()),
        "{offered:?}"
    );
    let result = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(result["content"], "Added milk; the list has 3 items.");

    // Over stdio, with confirmation (the default): nothing before the tap.
    h.ollama.push(Script::tool_call(
        "pantry_add_item",
        json!({"item": "rice"}),
    ));
    h.ollama
        .push(Script::pieces(&["Rice is in the pantry list."]));
    h.tg.send_private(ALICE, "Alice", "note that we need rice");
    let asked =
        h.tg.wait_for_message(ALICE, WAIT, |m| !m.buttons.is_empty())
            .await;
    assert!(
        asked.text.starts_with("Run pantry_add_item?"),
        "{}",
        asked.text
    );
    assert!(!call_log.exists(), "called before the tap");
    h.tg.press_button(ALICE, "Alice", ALICE, asked.message_id, &asked.buttons[0].1);
    h.reply_containing(ALICE, "Rice is in the pantry list.")
        .await;
    let logged = std::fs::read_to_string(&call_log).unwrap();
    assert_eq!(logged.trim(), r#"{"item":"rice"}"#);
    assert!(!bot.log().contains("mcp-secret"), "{}", bot.log());

    // doctor connects to each server and lists its tools.
    let mut doctor = h.spawn(&["doctor"]);
    doctor.wait(WAIT).await;
    let log = doctor.log();
    assert!(
        log.contains("mcp 'shop' (127.0.0.1): 1 tool(s): add_item"),
        "{log}"
    );
    assert!(
        log.contains("mcp 'pantry' (command ") && log.contains("each call asks first: add_item"),
        "{log}"
    );
}
