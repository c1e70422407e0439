//! Photos and documents in the service, with a reader that needs no codecs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::tests::{collect, deps, final_text, message};
use super::*;
use crate::files::{FileError, FileKind, FileReader, IncomingFile, Page, Picture};
use crate::model::scripted::ScriptedModel;
use crate::store::memory::InMemoryStore;
use crate::types::{Attachment, UserKey};

/// "Decodes" a picture by naming its bytes; reads a document's pages split at form feeds.
struct PlainReader;

impl FileReader for PlainReader {
    fn picture(&self, bytes: &[u8], _max_side: u32) -> Result<Picture, FileError> {
        match bytes {
            b"broken" => Err(FileError::Corrupt("bad".into())),
            _ => Ok(Picture {
                base64: String::from_utf8_lossy(bytes).into_owned(),
                width: 1,
                height: 1,
            }),
        }
    }

    fn document(
        &self,
        _name: &str,
        _mime: Option<&str>,
        bytes: &[u8],
    ) -> Result<Vec<Page>, FileError> {
        let text = String::from_utf8_lossy(bytes);
        Ok(text
            .split('\u{c}')
            .enumerate()
            .map(|(i, page)| Page {
                number: Some(i as u32 + 1),
                text: page.to_owned(),
            })
            .collect())
    }
}

fn service(model: Arc<ScriptedModel>, vision_model: Option<&str>) -> ChatService {
    let store = Arc::new(InMemoryStore::new());
    let mut config = ServiceConfig::new("m");
    config.vision_model = vision_model.map(str::to_owned);
    let mut deps = deps(model, store);
    deps.files = Some(Arc::new(PlainReader));
    ChatService::new(config, deps)
}

fn file(
    kind: FileKind,
    name: Option<&str>,
    bytes: &[u8],
    fetched: &Arc<AtomicUsize>,
) -> IncomingFile {
    let bytes = bytes.to_vec();
    let fetched = Arc::clone(fetched);
    IncomingFile {
        kind,
        name: name.map(str::to_owned),
        attachment: Attachment {
            id: "f".into(),
            mime_type: None,
            size: Some(bytes.len() as u64),
            duration_secs: None,
        },
        fetch: Box::pin(async move {
            fetched.fetch_add(1, Ordering::SeqCst);
            Ok(bytes)
        }),
    }
}

#[tokio::test]
async fn a_picture_needs_a_model_that_sees_and_later_text_goes_to_the_own_model_without_it() {
    let fetched = Arc::new(AtomicUsize::new(0));
    // No model that can see: a clear reply, nothing downloaded.
    let model = Arc::new(ScriptedModel::new(&["m", "eyes"], 4096));
    let plain = service(model.clone(), None);
    let events = collect(plain.handle_files(
        message("1", "hi"),
        vec![file(FileKind::Photo, None, b"cat", &fetched)],
    ))
    .await;
    assert!(
        final_text(&events).contains("HEARTH_VISION_MODEL"),
        "{events:?}"
    );
    assert_eq!(fetched.load(Ordering::SeqCst), 0);
    assert!(model.requests().is_empty());

    let model = Arc::new(ScriptedModel::new(&["m", "eyes"], 4096).with_vision(&["eyes"]));
    let service = service(model.clone(), Some("eyes"));
    let events = collect(service.handle_files(
        message("1", ""),
        vec![file(FileKind::Photo, None, b"cat", &fetched)],
    ))
    .await;
    assert_eq!(final_text(&events), "echo: What's in this picture?");
    let request = &model.requests()[0];
    assert_eq!(request.model, "eyes");
    assert_eq!(request.messages.last().unwrap().images, ["cat"]);
    // The next text goes to the person's own model, with the note and without the picture.
    collect(service.handle(message("1", "thanks"))).await;
    let request = &model.requests()[1];
    assert_eq!(request.model, "m");
    assert!(request.messages.iter().all(|m| m.images.is_empty()));
    assert!(
        request.messages.iter().any(|m| m.content == "[photo]"),
        "{:?}",
        request.messages
    );

    // /model marks the model that sees and names the one for pictures.
    let events = collect(service.handle(message("1", "/model"))).await;
    let list = final_text(&events);
    assert!(list.contains("`eyes` 🖼 sees pictures"), "{list}");
    assert!(!list.contains("`m` 🖼"), "{list}");
    assert!(list.contains("Pictures go to `eyes`"), "{list}");
}

#[tokio::test]
async fn only_the_latest_pictures_go_to_the_model() {
    let fetched = Arc::new(AtomicUsize::new(0));
    let model = Arc::new(ScriptedModel::new(&["m"], 32_000).with_vision(&["m"]));
    let store = Arc::new(InMemoryStore::new());
    let mut config = ServiceConfig::new("m");
    config.images_in_context = 2;
    let mut deps = deps(model.clone(), store);
    deps.files = Some(Arc::new(PlainReader));
    // Each picture's turn has its own time, as on a real clock.
    let clock = Arc::new(crate::clock::ManualClock::new(super::tests::test_time()));
    deps.clock = clock.clone();
    let service = ChatService::new(config, deps);
    for name in ["one", "two", "three"] {
        clock.advance(chrono::Duration::seconds(1));
        collect(service.handle_files(
            message("1", name),
            vec![file(FileKind::Photo, None, name.as_bytes(), &fetched)],
        ))
        .await;
    }
    let request = model.requests().pop().unwrap();
    let images: Vec<&str> = request
        .messages
        .iter()
        .flat_map(|m| m.images.iter().map(String::as_str))
        .collect();
    assert_eq!(images, ["two", "three"]);
    assert!(request.messages.iter().any(|m| m.content == "[photo: one]"));
}

#[tokio::test]
async fn a_document_is_context_for_its_conversation_until_reset() {
    let fetched = Arc::new(AtomicUsize::new(0));
    let model = Arc::new(ScriptedModel::new(&["m"], 8192));
    let service = service(model.clone(), None);
    let doc = "Cover page\u{c}The cellar key is under the blue flowerpot.";
    let events = collect(service.handle_files(
        message("1", "where is the cellar key?"),
        vec![file(
            FileKind::Document,
            Some("house.txt"),
            doc.as_bytes(),
            &fetched,
        )],
    ))
    .await;
    assert_eq!(final_text(&events), "echo: where is the cellar key?");
    let system = &model.requests()[0].messages[0].content;
    assert!(
        system.contains("[house.txt p. 2] The cellar key is under the blue flowerpot."),
        "{system}"
    );
    // Another person in the same chat never sees it.
    collect(service.handle(message("2", "where is the cellar key?"))).await;
    assert!(
        !model.requests()[1].messages[0]
            .content
            .contains("flowerpot")
    );
    // A broken picture alongside is reported, the document still answered.
    collect(service.handle(message("1", "/reset"))).await;
    collect(service.handle(message("1", "where is the cellar key?"))).await;
    assert!(
        !model.requests()[2].messages[0]
            .content
            .contains("flowerpot")
    );
}

#[tokio::test]
async fn a_broken_picture_is_explained_and_the_document_beside_it_still_answered() {
    let fetched = Arc::new(AtomicUsize::new(0));
    let model = Arc::new(ScriptedModel::new(&["m"], 8192).with_vision(&["m"]));
    let service = service(model.clone(), None);
    let events = collect(service.handle_files(
        message("1", ""),
        vec![file(FileKind::Photo, None, b"broken", &fetched)],
    ))
    .await;
    assert!(final_text(&events).contains("damaged"), "{events:?}");
    assert!(model.requests().is_empty());
    let events = collect(service.handle_files(
        message("1", "what is on page one?"),
        vec![
            file(FileKind::Photo, None, b"broken", &fetched),
            file(
                FileKind::Document,
                Some("a.md"),
                b"Page one says hello.",
                &fetched,
            ),
        ],
    ))
    .await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ReplyEvent::Status(s) if s.contains("damaged"))),
        "{events:?}"
    );
    assert_eq!(final_text(&events), "echo: what is on page one?");
    assert!(
        model.requests()[0].messages[0]
            .content
            .contains("Page one says hello.")
    );
}

#[tokio::test]
async fn notes_add_files_the_document_for_later_answers_export_and_forgetting() {
    let fetched = Arc::new(AtomicUsize::new(0));
    let model = Arc::new(ScriptedModel::new(&["m"], 8192));
    let service = service(model.clone(), None);
    let events = collect(service.handle(message("1", "/notes add"))).await;
    assert!(
        final_text(&events).contains("Send me a document first"),
        "{events:?}"
    );
    let lease = "Lease agreement\u{c}Pets: one cat is allowed in the flat.";
    collect(service.handle_files(
        message("1", "what is this?"),
        vec![file(
            FileKind::Document,
            Some("lease.pdf"),
            lease.as_bytes(),
            &fetched,
        )],
    ))
    .await;
    let events = collect(service.handle(message("1", "/notes add"))).await;
    // Markdown-escaped: the adapter shows "lease.pdf".
    assert!(
        final_text(&events).contains("Filed lease\\.pdf"),
        "{events:?}"
    );
    // A new conversation: the filed document still answers, cited by page.
    collect(service.handle(message("1", "/reset"))).await;
    collect(service.handle(message("1", "Is my cat allowed in the flat?"))).await;
    let system = model.requests().last().unwrap().messages[0].content.clone();
    assert!(
        system.contains("[lease.pdf p. 2] Pets: one cat is allowed"),
        "{system}"
    );
    // Unrelated questions bring nothing of it; other people never get it.
    collect(service.handle(message("1", "What is the capital of France?"))).await;
    assert!(
        !model.requests().last().unwrap().messages[0]
            .content
            .contains("lease.pdf")
    );
    collect(service.handle(message("2", "Is my cat allowed in the flat?"))).await;
    assert!(
        !model.requests().last().unwrap().messages[0]
            .content
            .contains("lease.pdf")
    );
    // /notes lists it; the export has it whole.
    let events = collect(service.handle(message("1", "/notes"))).await;
    assert!(final_text(&events).contains("lease\\.pdf"), "{events:?}");
    let export = service
        .export(&UserKey::new(crate::Platform::Telegram, "1"))
        .await
        .unwrap();
    assert_eq!(export["documents"][0]["name"], "lease.pdf");
    assert_eq!(export["documents"][0]["passages"][1]["page"], 2);
    assert!(
        export["documents"][0]["passages"][1]["text"]
            .as_str()
            .unwrap()
            .contains("one cat")
    );
    // /forget all deletes it.
    let events = collect(service.handle(message("1", "/forget all"))).await;
    assert!(
        final_text(&events).contains("1 filed documents"),
        "{events:?}"
    );
    collect(service.handle(message("1", "/forget all confirm"))).await;
    let export = service
        .export(&UserKey::new(crate::Platform::Telegram, "1"))
        .await
        .unwrap();
    assert_eq!(export["documents"], serde_json::json!([]));
    collect(service.handle(message("1", "Is my cat allowed in the flat?"))).await;
    assert!(
        !model.requests().last().unwrap().messages[0]
            .content
            .contains("lease.pdf")
    );
}
