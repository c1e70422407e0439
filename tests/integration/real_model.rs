//! End-to-end with a real language model (SmolLM2-135M behind an Ollama- and
//! OpenAI-compatible server): real streaming, real token counts, real JSON output, through
//! both model backends. The model is tiny and often wrong, so these tests check structure
//! and flow, never what it says. One test uses Qwen2.5-Coder-0.5B, which calls tools, for a
//! reminder set through `create_reminder` (through both APIs), and SmolLM2 with a random-weight vision projector
//! for the image path.

use std::time::Duration;

use hearth_tests::llm::{MODEL, RealModelServer, TOOL_MODEL};

use crate::util::*;

const LONG: Duration = Duration::from_secs(90);

/// Answers are capped: a 135M model can ramble for its whole 2,048-token default, which on
/// two busy cores (the other real-model tests run alongside) takes longer than the waits here.
const ANSWER_TOKENS: &str = "256";

fn harness_for(h: Harness, server: &RealModelServer) -> Harness {
    h.set("OLLAMA_HOST", &server.url)
        .set("OLLAMA_MODEL", MODEL)
        .set("HEARTH_MAX_ANSWER_TOKENS", ANSWER_TOKENS)
}

/// The same server through its OpenAI-compatible endpoints (`HEARTH_MODEL_API=openai`).
fn openai_harness_for(h: Harness, server: &RealModelServer) -> Harness {
    h.set("HEARTH_MODEL_API", "openai")
        .set("HEARTH_MAX_ANSWER_TOKENS", ANSWER_TOKENS)
        .set("HEARTH_MODEL_URL", &server.url)
        .set("HEARTH_MODEL_API_KEY", "sk-test-key-never-logged")
        .set("OLLAMA_MODEL", MODEL)
}

#[tokio::test]
async fn a_question_streams_into_one_message_that_ends_complete() {
    let server = RealModelServer::start(2048);
    streams_into_one_message(harness_for(Harness::new().await, &server), &server).await;
}

#[tokio::test]
async fn through_the_openai_compatible_api_a_question_streams_the_same_way() {
    let server = RealModelServer::start(2048);
    let h = openai_harness_for(Harness::new().await, &server);
    streams_into_one_message(h, &server).await;
    let stats = server.requests().await;
    assert_eq!(stats["requests"][0]["api"], "openai", "{stats}");
}

async fn streams_into_one_message(h: Harness, server: &RealModelServer) {
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "Write three sentences about the sea.");
    bot.wait_for_log(": answered", LONG).await;
    // A graceful stop waits for the delivery in flight.
    assert_eq!(bot.terminate().await, Some(0));
    let messages = h.tg.messages(ALICE);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let reply = &messages[0];
    assert!(!reply.text.trim().is_empty());
    assert!(!reply.text.contains('⚠'), "{}", reply.text);
    assert!(
        reply.versions.len() >= 2,
        "edited as it streamed: {:?}",
        reply.versions
    );
    assert!(
        reply
            .versions
            .iter()
            .all(|v| v.chars().count() <= reply.text.chars().count() + 8),
        "{:?}",
        reply.versions
    );
    let stats = server.requests().await;
    let request = &stats["requests"][0];
    assert!(request["generated"].as_u64().unwrap() > 0);
    assert!(request["rejected"].is_null());
}

#[tokio::test]
async fn model_lists_the_real_model() {
    let server = RealModelServer::start(2048);
    for h in [
        harness_for(Harness::new().await, &server),
        openai_harness_for(Harness::new().await, &server),
    ] {
        let bot = h.start_bot().await;
        h.tg.send_private(ALICE, "Alice", "/model");
        let list = h.reply_containing(ALICE, "Available").await;
        assert!(list.contains(&format!("{MODEL} (current)")), "{list}");
        assert_eq!(bot.terminate().await, Some(0));
    }
}

#[tokio::test]
async fn openai_compatible_capture_gets_schema_constrained_json() {
    let server = RealModelServer::start(2048);
    let h = openai_harness_for(Harness::new().await, &server).set("HEARTH_MEMORY_AUTO", "true");
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "I have two cats called Miso and Tofu.");
    let finished = hearth_tests::eventually(LONG, || {
        let log = bot.log();
        (log.contains("memory capture") || log.contains("memory extraction")).then_some(log)
    })
    .await
    .expect("the capture never finished");
    assert!(!finished.contains("request failed"), "{finished}");
    assert!(
        !finished.contains("malformed"),
        "schema-constrained output parses: {finished}"
    );
    assert!(
        !finished.contains("sk-test-key"),
        "the API key is never logged"
    );
    assert_eq!(
        server.requests().await["requests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn thirty_turns_stay_inside_a_small_context_window() {
    let ctx = 1024;
    let server = RealModelServer::start(ctx);
    let h = harness_for(Harness::new().await, &server).set("HEARTH_CONTEXT_TOKENS", "1024");
    let bot = h.start_bot().await;
    for turn in 0..30 {
        h.tg.send_private(
            ALICE,
            "Alice",
            &format!("Turn {turn}: tell me one more fact about rivers, please."),
        );
        let answered = hearth_tests::eventually(LONG, || {
            (bot.log().matches(": answered").count() > turn).then_some(())
        })
        .await;
        assert!(
            answered.is_some(),
            "turn {turn} got no answer:\n{}",
            bot.log()
        );
    }
    // A graceful stop waits for the last delivery; the server has recorded every request.
    assert_eq!(bot.terminate().await, Some(0));
    let stats = server.requests().await;
    let requests = stats["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 30);
    assert!(
        requests.iter().all(|r| r["rejected"].is_null()),
        "a prompt overflowed the window: {requests:?}"
    );
    let largest = requests
        .iter()
        .filter_map(|r| r["prompt_tokens"].as_u64())
        .max()
        .unwrap();
    assert!(largest < ctx as u64, "largest prompt {largest} tokens");
    // Budgeting did drop old turns: late prompts are far from holding all 30 exchanges.
    assert!(largest > 200, "history was used: {largest}");
    for message in h.tg.messages(ALICE) {
        assert!(
            !message.text.contains('⚠') && !message.text.contains("too long"),
            "{}",
            message.text
        );
    }
}

#[tokio::test]
async fn memory_capture_with_the_real_model_keeps_the_store_well_formed() {
    let server = RealModelServer::start(2048);
    let h = harness_for(Harness::new().await, &server).set("HEARTH_MEMORY_AUTO", "true");
    let bot = h.start_bot().await;
    let facts = [
        "My name is Alice and I live in Porto.",
        "I have two cats called Miso and Tofu.",
        "I work as a nurse at night.",
    ];
    for (i, fact) in facts.iter().enumerate() {
        h.tg.send_private(ALICE, "Alice", fact);
        // One of these lines ends each capture: applied (with or without discarded output) or failed.
        let finished = |log: &str| {
            [
                "memory capture",
                "memory extraction request failed",
                "memory extraction timed out",
            ]
            .iter()
            .map(|l| log.matches(l).count())
            .sum::<usize>()
        };
        let captured =
            hearth_tests::eventually(LONG, || (finished(&bot.log()) > i).then_some(())).await;
        assert!(
            captured.is_some(),
            "capture {i} never finished:\n{}",
            bot.log()
        );
    }
    let extraction = server.requests().await;
    assert!(
        extraction["requests"].as_array().unwrap().len() >= 6,
        "answers and extractions"
    );
    assert_eq!(bot.terminate().await, Some(0));

    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/export");
    let exported = hearth_tests::eventually(LONG, || {
        let messages = h.tg.messages(ALICE);
        // The file follows the text.
        (messages
            .iter()
            .any(|m| m.text.contains("Everything I keep about you"))
            && !h.tg.documents().is_empty())
        .then_some(())
    })
    .await;
    assert!(exported.is_some(), "no export reply; log:\n{}", bot.log());
    let (_, bytes) = h.tg.documents().pop().unwrap();
    let export: serde_json::Value =
        serde_json::from_slice(&bytes).expect("the store exports as valid JSON");
    for memory in export["memories"].as_array().unwrap() {
        let text = memory["text"].as_str().unwrap();
        assert!(
            !text.trim().is_empty() && text.chars().count() <= 500,
            "{memory}"
        );
        assert_eq!(memory["owner"], "telegram:1001");
        assert_eq!(memory["source"]["kind"], "extracted");
    }
    assert_eq!(
        export["conversations"][0]["turns"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
}

/// The reminders in Alice's `/export`, once the file has come.
async fn exported_reminders(h: &Harness, exports_before: usize) -> Vec<serde_json::Value> {
    h.tg.send_private(ALICE, "Alice", "/export");
    hearth_tests::eventually(LONG, || {
        (h.tg.documents().len() > exports_before).then_some(())
    })
    .await
    .expect("no export file");
    let (_, bytes) = h.tg.documents().pop().unwrap();
    let export: serde_json::Value = serde_json::from_slice(&bytes).expect("export JSON");
    export["reminders"].as_array().cloned().unwrap_or_default()
}

/// Seconds from when a reminder was set to when it is due.
fn lead_seconds(reminder: &serde_json::Value) -> i64 {
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(reminder[field].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{field} in {reminder}: {e}"))
    };
    (at("due") - at("created")).num_seconds()
}

/// Asks for a reminder in words the grammar does not read, so the model has to call
/// `create_reminder`; checks the answer shows reminder `id` set in Asia/Seoul, no warning.
async fn water_reminder_through_the_model(
    h: &Harness,
    bot: &hearth_tests::bot::BotProcess,
    id: &str,
) {
    h.tg.send_private(ALICE, "Alice", "In 2 minutes, tell me to drink some water.");
    let answered = hearth_tests::eventually(LONG * 2, || {
        (bot.log().matches(": answered").count() >= 1).then_some(())
    })
    .await;
    assert!(answered.is_some(), "no answer:\n{}", bot.log());
    let messages = h.tg.messages(ALICE);
    let answer = messages
        .iter()
        .find(|m| m.text.contains("🔧"))
        .unwrap_or_else(|| panic!("no tool line in {messages:#?}\nlog:\n{}", bot.log()));
    assert!(
        answer.text.contains(&format!("🔧 set reminder {id} for "))
            && answer.text.contains("(Asia/Seoul)"),
        "{}",
        answer.text
    );
    assert!(!answer.text.contains('⚠'), "{}", answer.text);
}

#[tokio::test]
async fn a_real_tool_model_sets_reminders_at_the_instant_the_person_said() {
    let server = RealModelServer::start_tool_model(4096);
    let h = Harness::new()
        .await
        .set("OLLAMA_HOST", &server.url)
        .set("OLLAMA_MODEL", TOOL_MODEL)
        .set("HEARTH_MAX_ANSWER_TOKENS", ANSWER_TOKENS)
        .set("HEARTH_TIMEZONE", "Asia/Seoul");
    let bot = h.start_bot().await;

    // Said the usual way, the grammar reads it without asking the model.
    h.tg.send_private(ALICE, "Alice", "remind me in 2 minutes to stretch");
    let ack = h.reply_containing(ALICE, "⏰ Reminder r1 set for").await;
    assert!(ack.ends_with("(Asia/Seoul): stretch"), "{ack}");

    // Said another way, the model calls `create_reminder` with the phrase, the bot reads the
    // time, stores it, and the model answers after seeing the result.
    water_reminder_through_the_model(&h, &bot, "r2").await;

    let stats = server.requests().await;
    let requests = stats["requests"].as_array().unwrap();
    let call = &requests[0]["tool_calls"][0]["function"];
    assert_eq!(call["name"], "create_reminder", "{stats}");
    assert!(requests[0]["tools"].as_u64().unwrap() >= 1, "{stats}");
    assert!(
        requests.len() >= 2,
        "the result went back to the model: {stats}"
    );

    let reminders = exported_reminders(&h, 0).await;
    assert_eq!(reminders.len(), 2, "{reminders:#?}");
    for reminder in &reminders {
        // The instant is now + 2 minutes, as the grammar read it (to the second it was set).
        assert!((119..=121).contains(&lead_seconds(reminder)), "{reminder}");
        assert_eq!(reminder["zone"], "Asia/Seoul");
        assert!(reminder["repeat"].is_null(), "{reminder}");
    }
    assert_eq!(reminders[0]["text"], "stretch");
    assert!(
        reminders[1]["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("water"),
        "{}",
        reminders[1]
    );
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn through_the_openai_compatible_api_a_real_tool_model_sets_a_reminder() {
    let server = RealModelServer::start_tool_model(4096);
    let h = Harness::new()
        .await
        .set("HEARTH_MODEL_API", "openai")
        .set("HEARTH_MODEL_URL", &server.url)
        .set("OLLAMA_MODEL", TOOL_MODEL)
        .set("HEARTH_MAX_ANSWER_TOKENS", ANSWER_TOKENS)
        .set("HEARTH_TIMEZONE", "Asia/Seoul");
    let bot = h.start_bot().await;
    // Not a phrase the grammar reads: the model calls `create_reminder`, its call streams
    // in fragments as llama.cpp's server sends it, the bot reads the time from the phrase.
    water_reminder_through_the_model(&h, &bot, "r1").await;

    let stats = server.requests().await;
    let requests = stats["requests"].as_array().unwrap();
    assert!(requests.iter().all(|r| r["api"] == "openai"), "{stats}");
    assert_eq!(
        requests[0]["tool_calls"][0]["function"]["name"], "create_reminder",
        "{stats}"
    );
    assert!(
        requests.len() >= 2,
        "the result went back to the model: {stats}"
    );

    let reminders = exported_reminders(&h, 0).await;
    assert_eq!(reminders.len(), 1, "{reminders:#?}");
    assert!(
        (119..=121).contains(&lead_seconds(&reminders[0])),
        "{}",
        reminders[0]
    );
    assert!(
        reminders[0]["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("water"),
        "{}",
        reminders[0]
    );
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_question_in_korean_is_answered_in_korean() {
    let server = RealModelServer::start_tool_model(2048);
    let h = Harness::new()
        .await
        .set("OLLAMA_HOST", &server.url)
        .set("OLLAMA_MODEL", TOOL_MODEL)
        .set("HEARTH_MAX_ANSWER_TOKENS", ANSWER_TOKENS)
        // The language, not the tools, is under test here.
        .set("HEARTH_TOOLS", "false");
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "한국의 수도는 어디인가요?");
    bot.wait_for_log(": answered", LONG).await;
    let messages = h.tg.messages(ALICE);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let answer = &messages[0].text;
    let hangul = answer
        .chars()
        .filter(|&c| hearth_tests::is_hangul(c))
        .count();
    assert!(hangul >= 2, "no Korean in the answer: {answer}");
    assert!(!answer.contains('⚠'), "{answer}");
    assert_eq!(bot.terminate().await, Some(0));
}

/// The image path through llama.cpp's real multimodal code: the bot's downscaled picture is
/// decoded by llama.cpp, encoded by a (random-weight) projector into image tokens and
/// evaluated with the caption; an answer streams back. No real vision model installs from
/// the registries here, so what it says about the picture is meaningless by construction.
#[tokio::test]
async fn a_photo_goes_through_the_real_multimodal_path() {
    let server = RealModelServer::start_vision_model(2048);
    let h = harness_for(Harness::new().await, &server);
    let bot = h.start_bot().await;
    let picture = hearth_media::fixtures::picture(1600, 1200, image::ImageFormat::Jpeg);
    h.tg.send_photo(
        ALICE,
        "Alice",
        vec![(1600, 1200, picture)],
        Some("What is in this picture?"),
        None,
    );
    bot.wait_for_log(": answered", LONG).await;
    assert_eq!(bot.terminate().await, Some(0));
    let stats = server.requests().await;
    let request = &stats["requests"][0];
    assert_eq!(request["images"], 1, "{stats}");
    // 64 image tokens plus the caption and the template were evaluated.
    assert!(request["prompt_tokens"].as_u64().unwrap() > 64, "{stats}");
    assert!(request["generated"].as_u64().unwrap() > 0, "{stats}");
    let messages = h.tg.messages(ALICE);
    let reply = &messages.last().unwrap().text;
    assert!(!reply.trim().is_empty() && !reply.contains('⚠'), "{reply}");
}
