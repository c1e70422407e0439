//! Photos and documents through the fake Telegram and Discord: pictures reach a model
//! that can see, downscaled; documents are read in process and cited by page.

use base64::Engine;
use hearth_media::fixtures;
use hearth_tests::discord::BOT_ID;
use hearth_tests::ollama::Script;
use image::ImageFormat;
use serde_json::json;

use crate::discord::DiscordHarness;
use crate::util::*;

fn jpeg(width: u32, height: u32) -> (u32, u32, Vec<u8>) {
    (
        width,
        height,
        fixtures::picture(width, height, ImageFormat::Jpeg),
    )
}

/// The final answer containing `needle`, once its sources line is there (streamed edits
/// come first).
async fn with_sources(h: &Harness, chat: i64, needle: &str) -> String {
    h.tg.wait_for_message(chat, WAIT, |m| {
        m.text.contains(needle) && m.text.contains("Sources")
    })
    .await
    .text
}

fn decode(b64: &str) -> image::DynamicImage {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    image::load_from_memory(&bytes).expect("the model gets a decodable picture")
}

#[tokio::test]
async fn a_telegram_photo_reaches_a_vision_model_downscaled_and_stays_in_the_history() {
    let h = Harness::new().await;
    h.ollama.enable_vision("llama3.2");
    let bot = h.start_bot().await;
    // Telegram's sizes of one photo: only the smallest that reaches 1,024 px is fetched.
    h.tg.send_photo(
        ALICE,
        "Alice",
        vec![jpeg(320, 240), jpeg(1280, 960), jpeg(2560, 1920)],
        Some("What breed is this dog?"),
        None,
    );
    h.reply_containing(ALICE, "echo: What breed is this dog?")
        .await;
    assert_eq!(h.tg.downloads(), 1);
    let request = &h.ollama.requests()[0];
    assert_eq!(request.model(), "llama3.2");
    let images = request.images();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].len(), 1);
    let picture = decode(&images[0][0]);
    assert_eq!((picture.width(), picture.height()), (1024, 768));

    // A follow-up: the history keeps a note of the picture, and the picture itself (one of
    // the latest few) goes with its turn.
    h.tg.send_private(ALICE, "Alice", "How big do they get?");
    h.reply_containing(ALICE, "echo: How big do they get?")
        .await;
    let request = &h.ollama.requests()[1];
    assert!(
        request
            .all_text()
            .contains("[photo: What breed is this dog?]"),
        "{}",
        request.all_text()
    );
    assert_eq!(request.images().len(), 1);

    // Without a caption the bot asks what is in it.
    h.tg.send_photo(ALICE, "Alice", vec![jpeg(200, 100)], None, None);
    h.reply_containing(ALICE, "echo: What's in this picture?")
        .await;
    let picture = decode(&h.ollama.requests()[2].images().last().unwrap()[0]);
    assert_eq!((picture.width(), picture.height()), (200, 100));
    assert!(bot.log().contains("decoded a picture"));
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_model_that_cannot_see_gets_no_picture_and_the_owner_can_name_one_that_can() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    h.tg.send_photo(
        ALICE,
        "Alice",
        vec![jpeg(640, 480)],
        Some("what is it?"),
        None,
    );
    let reply = h.reply_containing(ALICE, "can't see pictures").await;
    assert!(
        reply.contains("HEARTH_VISION_MODEL") && reply.contains("llama3.2"),
        "{reply}"
    );
    // Nothing downloaded, nothing asked.
    assert_eq!(h.tg.downloads(), 0);
    assert!(h.ollama.requests().is_empty());
    assert_eq!(bot.terminate().await, Some(0));

    let h = Harness::new().await.set("HEARTH_VISION_MODEL", "qwen3:4b");
    h.ollama.enable_vision("qwen3:4b");
    let bot = h.start_bot().await;
    h.tg.send_photo(
        ALICE,
        "Alice",
        vec![jpeg(640, 480)],
        Some("what is it?"),
        None,
    );
    h.reply_containing(ALICE, "echo: what is it?").await;
    let request = &h.ollama.requests()[0];
    assert_eq!(request.model(), "qwen3:4b");
    assert_eq!(request.images().len(), 1);
    // Text goes on to the person's own model.
    h.tg.send_private(ALICE, "Alice", "thanks");
    h.reply_containing(ALICE, "echo: thanks").await;
    assert_eq!(h.ollama.requests()[1].model(), "llama3.2");
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn an_album_is_answered_as_one_message_with_every_picture() {
    let h = Harness::new().await;
    h.ollama.enable_vision("llama3.2");
    let bot = h.start_bot().await;
    h.tg.send_photo(ALICE, "Alice", vec![jpeg(300, 200)], None, Some("album-1"));
    h.tg.send_photo(
        ALICE,
        "Alice",
        vec![jpeg(200, 300)],
        Some("Which one is better?"),
        Some("album-1"),
    );
    h.reply_containing(ALICE, "echo: Which one is better?")
        .await;
    let requests = h.ollama.requests();
    assert_eq!(requests.len(), 1, "one answer for the album");
    let images = requests[0].images();
    assert_eq!(images.len(), 1, "both pictures go with the one message");
    let sizes: Vec<(u32, u32)> = images[0]
        .iter()
        .map(|b64| {
            let p = decode(b64);
            (p.width(), p.height())
        })
        .collect();
    assert_eq!(sizes, [(300, 200), (200, 300)]);
    h.tg.send_private(ALICE, "Alice", "and the first?");
    h.reply_containing(ALICE, "echo: and the first?").await;
    let text = h.ollama.requests()[1].all_text();
    assert!(text.contains("[2 photos: Which one is better?]"), "{text}");
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_pdf_is_summarized_then_answered_with_page_sources_until_reset() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    let pdf = fixtures::pdf(&[
        "Annual report of the Hearth garden club\nWritten by the committee",
        "Membership grew to forty two gardeners this year.\nThe tomato harvest doubled.",
        "The greenhouse roof needs repair before winter.\nBudget: three hundred euros.",
    ]);
    h.ollama.push(Script::pieces(&[
        "The garden club report: membership grew to forty two gardeners and the tomato harvest doubled.",
    ]));
    h.tg.send_document(
        ALICE,
        "Alice",
        "report.pdf",
        "application/pdf",
        pdf.clone(),
        None,
    );
    let reply = h.reply_containing(ALICE, "Sources").await;
    assert!(reply.contains("report.pdf p. 2"), "{reply}");
    let request = &h.ollama.requests()[0];
    assert!(
        request.last_user().contains("Summarize"),
        "{}",
        request.last_user()
    );
    assert!(
        request
            .all_text()
            .contains("Membership grew to forty two gardeners")
    );

    // A follow-up question finds the page it is about.
    h.ollama.push(Script::pieces(&[
        "The greenhouse roof needs repair before winter; the budget is three hundred euros.",
    ]));
    h.tg.send_private(ALICE, "Alice", "What needs repair in the greenhouse?");
    let reply = with_sources(&h, ALICE, "greenhouse roof").await;
    assert!(reply.contains("report.pdf p. 3"), "{reply}");
    assert!(
        h.ollama.requests()[1]
            .all_text()
            .contains("[document: report.pdf]")
    );

    // A caption is the question.
    h.ollama
        .push(Script::pieces(&["Forty two gardeners are members."]));
    h.tg.send_document(
        ALICE,
        "Alice",
        "report.pdf",
        "application/pdf",
        pdf,
        Some("How many members?"),
    );
    let reply = with_sources(&h, ALICE, "Forty two gardeners").await;
    assert!(reply.contains("report.pdf p. 2"), "{reply}");
    assert_eq!(h.ollama.requests()[2].last_user(), "How many members?");

    // /reset drops the document: Bob never had it, and Alice no longer does.
    h.tg.send_private(BOB, "Bob", "What needs repair in the greenhouse?");
    h.reply_containing(BOB, "echo:").await;
    assert!(
        !h.ollama.requests()[3]
            .all_text()
            .contains("greenhouse roof needs")
    );
    h.tg.send_private(ALICE, "Alice", "/reset");
    h.reply_containing(ALICE, "Started a new conversation")
        .await;
    h.tg.send_private(ALICE, "Alice", "What needs repair in the greenhouse?");
    h.reply_containing(ALICE, "echo: What needs repair").await;
    let last = h.ollama.requests().last().unwrap().all_text();
    assert!(!last.contains("greenhouse roof needs"), "{last}");
    assert!(bot.log().contains("read a document"));
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn text_word_and_html_documents_are_read() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    let docx = fixtures::docx(&[
        "Packing list for the trip",
        "Bring the blue tent and the camping stove.",
    ]);
    h.ollama.push(Script::pieces(&[
        "Bring the blue tent and the camping stove.",
    ]));
    h.tg.send_document(
        ALICE,
        "Alice",
        "trip.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        docx,
        Some("What should I bring?"),
    );
    let reply = with_sources(&h, ALICE, "blue tent").await;
    assert!(reply.contains("trip.docx"), "{reply}");
    let html = b"<html><body><h1>Menu</h1><p>Pumpkin soup of the day</p></body></html>".to_vec();
    h.tg.send_document(
        ALICE,
        "Alice",
        "menu.html",
        "text/html",
        html,
        Some("soup?"),
    );
    h.reply_containing(ALICE, "echo: soup?").await;
    assert!(
        h.ollama.requests()[1]
            .all_text()
            .contains("Pumpkin soup of the day")
    );
    let csv = b"date,amount\n2026-11-01,42\n".to_vec();
    h.tg.send_document(ALICE, "Alice", "spend.csv", "text/csv", csv, Some("total?"));
    h.reply_containing(ALICE, "echo: total?").await;
    assert!(h.ollama.requests()[2].all_text().contains("2026-11-01,42"));
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn broken_locked_scanned_oversized_and_unknown_files_get_clear_replies() {
    let h = Harness::new().await.set("HEARTH_DOCUMENT_MAX_MB", "1");
    h.ollama.enable_vision("llama3.2");
    let bot = h.start_bot().await;
    let mut broken = fixtures::picture(400, 300, ImageFormat::Jpeg);
    broken.truncate(120);
    h.tg.send_photo(ALICE, "Alice", vec![(400, 300, broken)], None, None);
    h.reply_containing(ALICE, "seems damaged").await;
    h.tg.send_document(
        ALICE,
        "Alice",
        "huge.png",
        "image/png",
        fixtures::png_bomb(100_000, 100_000),
        None,
    );
    h.reply_containing(ALICE, "too large to open").await;
    let locked = fixtures::pdf_with_password(&["secret"], "hunter2");
    h.tg.send_document(
        ALICE,
        "Alice",
        "locked.pdf",
        "application/pdf",
        locked,
        None,
    );
    h.reply_containing(ALICE, "password-protected").await;
    h.tg.send_document(
        ALICE,
        "Alice",
        "scan.pdf",
        "application/pdf",
        fixtures::pdf_without_text(2),
        None,
    );
    h.reply_containing(ALICE, "no text I can read").await;
    h.tg.send_document(
        ALICE,
        "Alice",
        "bomb.docx",
        "application/octet-stream",
        fixtures::docx_bomb(80 << 20),
        None,
    );
    h.reply_containing(ALICE, "unpacks to far more").await;
    h.tg.send_document(
        ALICE,
        "Alice",
        "tool.exe",
        "application/octet-stream",
        vec![0x4D, 0x5A, 0x90, 0, 3, 0, 0, 0],
        None,
    );
    h.reply_containing(ALICE, "not a format I read").await;
    let downloads = h.tg.downloads();
    h.tg.send_document(
        ALICE,
        "Alice",
        "big.txt",
        "text/plain",
        vec![b'a'; 2 * 1024 * 1024],
        None,
    );
    h.reply_containing(ALICE, "too large").await;
    assert_eq!(
        h.tg.downloads(),
        downloads,
        "an oversized file is not downloaded"
    );
    // Nothing reached the model, and the bot still answers.
    assert!(h.ollama.requests().is_empty());
    h.tg.send_private(ALICE, "Alice", "still there?");
    h.reply_containing(ALICE, "echo: still there?").await;
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_stranger_s_photo_is_never_downloaded() {
    let h = Harness::new().await;
    h.ollama.enable_vision("llama3.2");
    let bot = h.start_bot().await;
    h.tg.send_photo(
        STRANGER,
        "Mallory",
        vec![jpeg(640, 480)],
        Some("look"),
        None,
    );
    h.reply_containing(STRANGER, "not on its list").await;
    assert_eq!(h.tg.downloads(), 0);
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_discord_image_attachment_reaches_the_vision_model() {
    let h = DiscordHarness::new().await;
    h.ollama.enable_vision("llama3.2");
    let bot = h.start_bot().await;
    let dm = "400000000000000078";
    let png = fixtures::picture(1600, 1200, ImageFormat::Png);
    let url = h.dc.host_attachment("cat.png", png.clone());
    let attachment = json!({"id": "800000000000000002", "filename": "cat.png", "size": png.len(),
        "url": url, "proxy_url": url, "content_type": "image/png", "width": 1600, "height": 1200});
    h.dc.user_message_with(
        crate::discord::ALICE,
        dm,
        None,
        "what is this?",
        false,
        None,
        vec![attachment],
        0,
    );
    h.dc.wait_for_message(dm, WAIT, |m| {
        m.author == BOT_ID && m.content.contains("echo: what is this?")
    })
    .await;
    let images = h.ollama.requests()[0].images();
    let picture = decode(&images[0][0]);
    assert_eq!((picture.width(), picture.height()), (1024, 768));
    // A PDF attachment is read too.
    let pdf = fixtures::pdf(&["Cover", "The boiler was serviced in March."]);
    let url = h.dc.host_attachment("house.pdf", pdf.clone());
    let attachment = json!({"id": "800000000000000003", "filename": "house.pdf", "size": pdf.len(),
        "url": url, "proxy_url": url, "content_type": "application/pdf"});
    h.ollama
        .push(Script::pieces(&["The boiler was serviced in March."]));
    h.dc.user_message_with(
        crate::discord::ALICE,
        dm,
        None,
        "when was the boiler serviced?",
        false,
        None,
        vec![attachment],
        0,
    );
    let answer =
        h.dc.wait_for_message(dm, WAIT, |m| {
            m.author == BOT_ID && m.content.contains("Sources")
        })
        .await;
    assert!(
        answer.content.contains("house.pdf p. 2"),
        "{}",
        answer.content
    );
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_filed_document_answers_after_kill_9_and_is_in_the_export() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    let pdf = fixtures::pdf(&[
        "Lease agreement",
        "Pets: one cat is allowed in the flat if the tenant keeps the garden tidy.",
    ]);
    h.tg.send_document(
        ALICE,
        "Alice",
        "lease.pdf",
        "application/pdf",
        pdf,
        Some("what is this?"),
    );
    h.reply_containing(ALICE, "echo: what is this?").await;
    h.tg.send_private(ALICE, "Alice", "/notes add");
    h.reply_containing(ALICE, "Filed lease.pdf").await;
    // Acknowledged as filed: on disk, whatever happens next.
    bot.kill();
    let bot = h.start_bot().await;
    h.ollama.push(Script::pieces(&[
        "Yes, pets are fine if the tenant keeps the garden tidy.",
    ]));
    h.tg.send_private(ALICE, "Alice", "Is my cat allowed in the flat?");
    let reply = h.reply_containing(ALICE, "Sources").await;
    let prompt = h.ollama.requests().last().unwrap().all_text();
    assert!(
        reply.contains("lease.pdf p. 2"),
        "{reply}\n{prompt}\n{}",
        bot.log()
    );
    h.tg.send_private(ALICE, "Alice", "/export");
    let export = hearth_tests::eventually(WAIT, || h.tg.documents().pop()).await;
    let (_, bytes) = export.expect("an export file");
    let export: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(export["documents"][0]["name"], "lease.pdf");
    assert!(
        export["documents"][0]["passages"]
            .to_string()
            .contains("one cat is allowed")
    );
    assert_eq!(bot.terminate().await, Some(0));
}
