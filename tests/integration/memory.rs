use hearth_tests::ollama::Script;

use crate::util::*;

#[tokio::test]
async fn a_remembered_fact_reaches_its_owners_prompt_only_and_survives_a_restart() {
    let h = Harness::new().await.with_embeddings();
    let bot = h.start_bot().await;
    h.tg.send_private(
        ALICE,
        "Alice",
        "/remember my daughter Mia is allergic to peanuts",
    );
    let ack = h.reply_containing(ALICE, "I will remember that").await;
    assert!(ack.contains("(id m"), "{ack}");
    assert_eq!(bot.terminate().await, Some(0));

    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "Can Mia eat satay sauce?");
    h.reply_containing(ALICE, "echo: Can Mia eat satay sauce?")
        .await;
    h.tg.send_private(BOB, "Bob", "Can Mia eat satay sauce?");
    h.reply_containing(BOB, "echo: Can Mia eat satay sauce?")
        .await;
    let requests = h.ollama.requests();
    let alice = requests
        .iter()
        .find(|r| {
            r.body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("Alice")
        })
        .unwrap();
    let bob = requests
        .iter()
        .find(|r| {
            r.body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("Bob")
        })
        .unwrap();
    assert!(
        alice
            .all_text()
            .contains("my daughter Mia is allergic to peanuts"),
        "{}",
        alice.all_text()
    );
    assert!(!bob.all_text().contains("peanuts"), "{}", bob.all_text());
}

#[tokio::test]
async fn an_acknowledged_memory_survives_sigkill() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    h.tg.send_private(
        ALICE,
        "Alice",
        "/remember the wifi password is on the fridge",
    );
    h.reply_containing(ALICE, "I will remember that").await;
    bot.kill();
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/memory");
    let list = h.reply_containing(ALICE, "What I remember about you").await;
    assert!(
        list.contains("the wifi password is on the fridge"),
        "{list}"
    );
}

#[tokio::test]
async fn users_list_search_and_forget_their_memories() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    for (done, fact) in [
        "I live in Porto",
        "my cat is called Miso",
        "I play the cello",
    ]
    .into_iter()
    .enumerate()
    {
        h.tg.send_private(ALICE, "Alice", &format!("/remember {fact}"));
        // Wait for this fact's own acknowledgement, not the previous one's.
        let acknowledged = hearth_tests::eventually(WAIT, || {
            let acks = h.tg.messages(ALICE).into_iter();
            (acks.filter(|m| m.text.contains("I will remember")).count() > done).then_some(())
        })
        .await;
        assert!(acknowledged.is_some(), "{fact} was not acknowledged");
    }
    h.tg.send_private(ALICE, "Alice", "/memory cat");
    let found = h
        .reply_containing(ALICE, "What I remember about “cat”")
        .await;
    assert!(
        found.contains("my cat is called Miso") && !found.contains("Porto"),
        "{found}"
    );
    let id = found
        .split_whitespace()
        .find(|w| {
            w.starts_with('m') && w[1..].chars().all(|c| c.is_ascii_alphanumeric()) && w.len() > 1
        })
        .unwrap()
        .to_owned();
    h.tg.send_private(ALICE, "Alice", &format!("/forget {id}"));
    h.reply_containing(ALICE, "Forgotten: “my cat is called Miso”")
        .await;
    h.tg.send_private(BOB, "Bob", "/forget all confirm");
    h.reply_containing(BOB, "forgot all 0").await;
    h.tg.send_private(ALICE, "Alice", "/memory");
    let list = h.reply_containing(ALICE, "2 in all").await;
    assert!(list.contains("Porto") && list.contains("cello") && !list.contains("Miso"));
}

#[tokio::test]
async fn export_sends_everything_about_the_user_and_nothing_else() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/remember I prefer tea");
    h.reply_containing(ALICE, "I will remember").await;
    h.tg.send_private(ALICE, "Alice", "hello there");
    h.reply_containing(ALICE, "echo: hello there").await;
    h.tg.send_private(BOB, "Bob", "/remember Bob's secret is 42");
    h.reply_containing(BOB, "I will remember").await;
    h.tg.send_private(ALICE, "Alice", "/export");
    h.reply_containing(ALICE, "Everything I keep about you is in the file")
        .await;
    // The file follows the text.
    let documents = hearth_tests::eventually(WAIT, || {
        let documents = h.tg.documents();
        (!documents.is_empty()).then_some(documents)
    })
    .await
    .expect("the export file");
    assert_eq!(documents.len(), 1);
    let (name, bytes) = &documents[0];
    assert_eq!(name, "hearth-export-telegram-1001.json");
    let export: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(export["user"], "telegram:1001");
    assert_eq!(export["memories"][0]["text"], "I prefer tea");
    let text = String::from_utf8_lossy(bytes);
    assert!(
        text.contains("hello there") && !text.contains("secret"),
        "{text}"
    );
}

#[tokio::test]
async fn automatic_capture_stores_well_formed_facts_and_discards_bad_output() {
    let h = Harness::new().await.set("HEARTH_MEMORY_AUTO", "true");
    h.ollama.push(Script::pieces(&["Nice to meet you, Alice!"]));
    h.ollama.push(Script::pieces(&[r#"{"operations": [{"action": "ADD", "text": "Alice works as a nurse"}, {"action": "DELETE", "id": "m999"}]}"#]));
    h.ollama.push(Script::pieces(&["Sounds fun."]));
    h.ollama.push(Script::pieces(&["{not json at all"]));
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "I work as a nurse");
    h.reply_containing(ALICE, "Nice to meet you").await;
    bot.wait_for_log("memory capture", WAIT).await;
    h.tg.send_private(ALICE, "Alice", "I went bowling");
    h.reply_containing(ALICE, "Sounds fun").await;
    bot.wait_for_log("discarded malformed memory extraction output", WAIT)
        .await;
    let extraction = &h.ollama.requests()[1];
    assert!(
        extraction.body["format"].is_object(),
        "schema-constrained output"
    );
    h.tg.send_private(ALICE, "Alice", "/memory");
    let list = h.reply_containing(ALICE, "What I remember about you").await;
    assert!(
        list.contains("Alice works as a nurse") && list.contains("from our chat"),
        "{list}"
    );
    assert!(
        list.contains("1 in all"),
        "the malformed output stored nothing: {list}"
    );
}

#[tokio::test]
async fn memories_stay_out_of_group_prompts_unless_allowed() {
    let h = Harness::new().await.set("HEARTH_TELEGRAM_GROUPS", "true");
    let _bot = h.start_bot().await;
    let group = -100_200;
    h.tg.send_private(ALICE, "Alice", "/remember my salary is 5000 a month");
    h.reply_containing(ALICE, "I will remember").await;
    h.tg.send_group(
        group,
        ALICE,
        "Alice",
        "@hearth_test_bot what is my salary?",
        None,
    );
    h.reply_containing(group, "echo: what is my salary?").await;
    assert!(!h.ollama.requests()[0].all_text().contains("5000"));
    h.tg.send_private(ALICE, "Alice", "/memory shared on");
    h.reply_containing(ALICE, "use your memories").await;
    h.tg.send_group(
        group,
        ALICE,
        "Alice",
        "@hearth_test_bot salary again?",
        None,
    );
    h.reply_containing(group, "echo: salary again?").await;
    assert!(h.ollama.requests()[1].all_text().contains("5000"));
}

#[tokio::test]
async fn the_owner_manages_memories_from_the_command_line() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/remember I keep bees");
    h.reply_containing(ALICE, "I will remember").await;
    h.tg.send_private(BOB, "Bob", "/remember Bob keeps goats");
    h.reply_containing(BOB, "I will remember").await;
    assert_eq!(bot.terminate().await, Some(0));

    let mut list = h.spawn(&["memory", "list", "--user", "telegram:1001"]);
    assert_eq!(list.wait(WAIT).await, Some(0), "{}", list.log());
    assert!(
        list.log().contains("I keep bees") && !list.log().contains("goats"),
        "{}",
        list.log()
    );

    let mut export = h.spawn(&["memory", "export", "--user", "telegram:1001"]);
    assert_eq!(export.wait(WAIT).await, Some(0));
    assert!(export.log().contains("\"text\": \"I keep bees\"") && !export.log().contains("goats"));

    let mut forget = h.spawn(&["memory", "forget", "--user", "telegram:1001", "--all"]);
    assert_eq!(forget.wait(WAIT).await, Some(0));
    assert!(
        forget.log().contains("forgot 1 memories"),
        "{}",
        forget.log()
    );

    let mut bad = h.spawn(&["memory", "list", "--user", "alice"]);
    assert_eq!(bad.wait(WAIT).await, Some(1));
    assert!(
        bad.log().contains("--user must look like telegram:123456"),
        "{}",
        bad.log()
    );

    let mut list = h.spawn(&["memory", "list", "--user", "telegram:1002"]);
    assert_eq!(list.wait(WAIT).await, Some(0));
    assert!(
        list.log().contains("Bob keeps goats"),
        "Bob's memories are untouched"
    );
}

#[tokio::test]
async fn a_korean_memory_is_found_by_korean_and_english_questions() {
    let h = Harness::new().await.with_multilingual_embeddings();
    let bot = h.start_bot().await;
    // The model folder's hearth.json (written by install-models.sh) sets its relevance floor
    // and its dense weight.
    bot.wait_for_log("relevance_floor=Some(0.25) dense_weight=Some(0.5)", WAIT)
        .await;
    h.tg.send_private_in(ALICE, "Alice", "/remember 우리 고양이 이름은 나비야", "ko");
    h.reply_containing(ALICE, "기억해 둘게요").await;
    // Alice's messages are handled in order: this one is stored before her questions.
    h.tg.send_private_in(
        ALICE,
        "Alice",
        "/remember 회사에서 백엔드 개발자로 일하고 있어",
        "ko",
    );
    // Bob's memory is about a cat too: it must never reach Alice's prompt.
    h.tg.send_private(BOB, "Bob", "/remember my cat is called Tiger");
    h.reply_containing(BOB, "I will remember that").await;

    for (i, question) in ["고양이 이름이 뭐였지?", "what's my cat called?"]
        .into_iter()
        .enumerate()
    {
        h.tg.send_private_in(ALICE, "Alice", question, "ko");
        h.reply_containing(ALICE, &format!("echo: {question}"))
            .await;
        let request = h.ollama.requests()[i].all_text();
        assert!(
            request.contains("우리 고양이 이름은 나비야"),
            "{question}: {request}"
        );
        assert!(!request.contains("Tiger"), "{question}: {request}");
    }
}

/// A copy of the offline model folder in `dir` whose `model.onnx` is `onnx`.
fn model_folder_with(dir: &std::path::Path, onnx: Option<&[u8]>) -> std::path::PathBuf {
    let (model, _) = hearth_tests::models();
    let copy = dir.join("broken-model");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(&model).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "model.onnx" {
            std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
        }
    }
    if let Some(onnx) = onnx {
        std::fs::write(copy.join("model.onnx"), onnx).unwrap();
    }
    copy
}

#[tokio::test]
async fn an_embedding_model_that_fails_to_load_leaves_keyword_memory_working() {
    let h = Harness::new().await.with_embeddings();
    let folder = model_folder_with(h.data.path(), Some(b"this is not an ONNX model"));
    let h = h.set("HEARTH_EMBED_MODEL_DIR", &folder.display().to_string());
    let bot = h.start_bot().await;
    bot.wait_for_log("the embedding model did not load", WAIT)
        .await;
    h.tg.send_private(ALICE, "Alice", "/remember my bike is a blue Brompton");
    h.reply_containing(ALICE, "I will remember that").await;
    h.tg.send_private(ALICE, "Alice", "which Brompton do I ride?");
    h.reply_containing(ALICE, "echo: which Brompton do I ride?")
        .await;
    let asked = h.ollama.requests().last().unwrap().all_text();
    assert!(asked.contains("my bike is a blue Brompton"), "{asked}");
}

#[tokio::test]
async fn a_missing_embedding_model_file_stops_the_start_with_its_name() {
    let h = Harness::new().await.with_embeddings();
    let folder = model_folder_with(h.data.path(), None);
    let h = h.set("HEARTH_EMBED_MODEL_DIR", &folder.display().to_string());
    let mut bot = h.spawn(&["run"]);
    assert_eq!(bot.wait(WAIT).await, Some(1), "{}", bot.log());
    let log = bot.log();
    assert!(log.contains("model.onnx"), "{log}");
    assert!(h.tg.calls_of("getupdates").is_empty(), "{log}");
}
