use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::memory::{Memories, MemoryConfig};
use crate::model::ModelError;
use crate::model::scripted::ScriptedModel;
use crate::store::memory::InMemoryStore;
use crate::types::{ChatRef, Platform, UserKey};

fn service(model: Arc<ScriptedModel>, slots: usize) -> (ChatService, Arc<InMemoryStore>) {
    service_with_voice(model, slots, None)
}

pub(super) fn service_with_voice(
    model: Arc<ScriptedModel>,
    slots: usize,
    voice: Option<crate::voice::Voice>,
) -> (ChatService, Arc<InMemoryStore>) {
    let store = Arc::new(InMemoryStore::new());
    let mut config = ServiceConfig::new("m");
    config.max_concurrent_requests = slots;
    let mut deps = deps(model, store.clone());
    deps.voice = voice;
    (ChatService::new(config, deps), store)
}

pub(super) fn deps(model: Arc<ScriptedModel>, store: Arc<InMemoryStore>) -> Deps {
    let clock = Arc::new(crate::clock::ManualClock::new(test_time()));
    let memories = Arc::new(
        Memories::new(
            store.clone(),
            None,
            MemoryConfig {
                auto_capture: false,
                ..MemoryConfig::default()
            },
        )
        .with_clock(clock.clone()),
    );
    Deps {
        files: None,
        documents: Arc::new(crate::files::InMemoryDocuments::default()),
        erasers: Vec::new(),
        inbox: store.clone(),
        model,
        // As the binary wires it: write-through caches in front of the store.
        history: Arc::new(crate::store::cache::CachedHistory::new(
            store.clone(),
            crate::service::HISTORY_WINDOW,
            1 << 20,
        )),
        settings: Arc::new(crate::store::cache::CachedSettings::new(store.clone(), 100)),
        access: AccessPolicy::deny_all().allow_all(Platform::Telegram, ["1", "2"]),
        retrievers: vec![Arc::new(crate::retrieve::MemoryRetriever::new(
            memories.clone(),
        ))],
        notes: None,
        tool_sources: Vec::new(),
        memories,
        voice: None,
        outbounds: crate::outbound::Outbounds::default(),
        clock,
        reminders: Arc::new(crate::remind::InMemoryReminders::new()),
    }
}

/// The time every service test runs at (a manual clock: no test reads the wall clock).
pub(super) fn test_time() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2027-01-15T09:30:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc)
}

pub(super) fn message(user: &str, text: &str) -> InboundMessage {
    InboundMessage {
        platform: Platform::Telegram,
        chat: ChatRef {
            id: user.into(),
            is_shared: false,
        },
        user_id: user.into(),
        display_name: format!("user {user}"),
        message_id: None,
        text: text.into(),
        attachments: vec![],
        reply_to: None,
        membership: None,
        locale: None,
    }
}

pub(super) async fn collect(mut stream: ReplyStream) -> Vec<ReplyEvent> {
    let mut events = Vec::new();
    while let Some(event) = stream.recv().await {
        events.push(event);
    }
    events
}

pub(super) fn final_text(events: &[ReplyEvent]) -> String {
    match events.last() {
        Some(ReplyEvent::Finished { text, .. }) => text.clone(),
        Some(ReplyEvent::Failed { message }) => format!("FAILED: {message}"),
        other => panic!("no final event: {other:?}"),
    }
}

#[tokio::test]
async fn messages_of_one_chat_are_answered_in_order() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_text(&["slow ", "first"], Duration::from_millis(100));
    model.push_text(&["second"], Duration::ZERO);
    let (service, _) = service(model.clone(), 4);
    let first = service.handle(message("1", "one"));
    let second = service.handle(message("1", "two"));
    let (first, second) = tokio::join!(collect(first), collect(second));
    assert_eq!(final_text(&first), "slow first");
    assert_eq!(final_text(&second), "second");
    let requests = model.requests();
    assert_eq!(requests[0].messages.last().unwrap().content, "one");
    // The second request saw the whole first exchange.
    let contents: Vec<&str> = requests[1]
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(&contents[1..], ["one", "slow first", "two"]);
}

#[tokio::test]
async fn a_busy_model_queues_other_chats_and_says_so() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_text(&["a", "b"], Duration::from_millis(100));
    let (service, _) = service(model, 1);
    let mut first = service.handle(message("1", "one"));
    // The first holds the only slot once it has started.
    assert_eq!(first.recv().await, Some(ReplyEvent::Started));
    let second = collect(service.handle(message("2", "two"))).await;
    assert_eq!(
        second[0],
        ReplyEvent::Queued {
            position: 1,
            notice: "Waiting for the model: you are number 1 in the queue.".into()
        }
    );
    assert_eq!(final_text(&second), "echo: two");
    assert_eq!(final_text(&collect(first).await), "ab");
}

#[tokio::test]
async fn a_full_queue_turns_new_messages_away_instead_of_growing() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_text(&["a", "b"], Duration::from_millis(200));
    let store = Arc::new(InMemoryStore::new());
    let mut config = ServiceConfig::new("m");
    config.max_queue = 1;
    let service = ChatService::new(config, deps(model, store));
    let mut first = service.handle(message("1", "one"));
    assert_eq!(first.recv().await, Some(ReplyEvent::Started));
    let mut second = service.handle(message("2", "two"));
    assert!(matches!(
        second.recv().await,
        Some(ReplyEvent::Queued { position: 1, .. })
    ));
    let mut third = message("1", "three");
    third.chat.id = "another chat".into();
    let third = collect(service.handle(third)).await;
    assert!(final_text(&third).contains("busy"), "{third:?}");
    assert_eq!(final_text(&collect(second).await), "echo: two");
    assert_eq!(final_text(&collect(first).await), "ab");
}

/// Regression: a panic while handling one message must not stop the service; the
/// person hears that something went wrong and the next message is answered.
#[tokio::test]
async fn a_panic_in_one_message_is_contained() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_panic();
    let (service, _) = service(model, 1);
    let events = collect(service.handle(message("1", "boom"))).await;
    assert_eq!(
        final_text(&events),
        format!("FAILED: {}", something_went_wrong(crate::lang::Lang::En))
    );
    let events = collect(service.handle(message("1", "again"))).await;
    assert_eq!(final_text(&events), "echo: again");
}

#[tokio::test]
async fn reasoning_is_removed_from_deltas_and_history() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_text(&["<think>hidden", "</think>shown"], Duration::ZERO);
    let (service, store) = service(model, 1);
    let events = collect(service.handle(message("1", "q"))).await;
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, ReplyEvent::Delta(d) if d.contains("hidden")))
    );
    assert_eq!(final_text(&events), "shown");
    let scope = message("1", "").scope();
    let stored = crate::store::HistoryStore::recent(&*store, &scope, 10)
        .await
        .unwrap();
    assert_eq!(stored[1].turn.text, "shown");
}

#[tokio::test]
async fn model_errors_become_short_messages() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_error(ModelError::Unreachable {
        host: "http://gpu:11434".into(),
        source: "refused".into(),
    });
    let (service, _) = service(model, 1);
    let events = collect(service.handle(message("1", "q"))).await;
    assert_eq!(
        final_text(&events),
        "FAILED: The model server is not reachable right now. I will try again with your next message."
    );
    assert!(
        !final_text(&events).contains("gpu"),
        "internal address shown"
    );
}

/// A message answered again after a restart (Telegram's inbox) whose turn was stored before
/// the bot stopped: stored once, shown to the model once. A new message with the same
/// words is a new turn.
#[tokio::test]
async fn the_same_platform_message_again_is_not_stored_or_asked_twice() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_error(ModelError::Unreachable {
        host: "http://gpu:11434".into(),
        source: "refused".into(),
    });
    model.push_text(&["Lima."], Duration::ZERO);
    model.push_text(&["Still Lima."], Duration::ZERO);
    let (service, store) = service(model.clone(), 1);
    let question = || InboundMessage {
        message_id: Some("41".into()),
        ..message("1", "capital of Peru?")
    };
    collect(service.handle(question())).await;
    assert_eq!(
        final_text(&collect(service.handle(question())).await),
        "Lima."
    );
    let asked = |request: &crate::model::ChatRequest| {
        request
            .messages
            .iter()
            .filter(|m| m.content.contains("capital of Peru?"))
            .count()
    };
    assert_eq!(asked(&model.requests()[1]), 1);
    let scope = question().scope();
    let stored = crate::store::HistoryStore::recent(&*store, &scope, 10)
        .await
        .unwrap();
    let texts: Vec<&str> = stored.iter().map(|t| t.turn.text.as_str()).collect();
    assert_eq!(texts, ["capital of Peru?", "Lima."]);
    // Asked again as a new message: a new turn.
    let again = InboundMessage {
        message_id: Some("42".into()),
        ..message("1", "capital of Peru?")
    };
    collect(service.handle(again)).await;
    assert_eq!(asked(&model.requests()[2]), 2);
}

#[tokio::test]
async fn strangers_are_refused_without_reaching_the_model() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _) = service(model.clone(), 1);
    let events = collect(service.handle(message("99", "hello"))).await;
    assert!(final_text(&events).contains("99"));
    assert!(model.requests().is_empty());
    // A stranger who keeps writing is not answered every time.
    for _ in 0..5 {
        assert!(
            collect(service.handle(message("99", "hello?")))
                .await
                .is_empty()
        );
    }
    // Another stranger still hears why.
    let events = collect(service.handle(message("98", "hi"))).await;
    assert!(final_text(&events).contains("98"));
    assert!(model.requests().is_empty());
}

#[tokio::test]
async fn time_comes_from_the_injected_clock() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, store) = service(model.clone(), 1);
    collect(service.handle(message("1", "what day is it?"))).await;
    let system = &model.requests()[0].messages[0].content;
    assert!(system.contains("2027-01-15"), "{system}");
    let scope = message("1", "").scope();
    let turns = store.recent(&scope, 10).await.unwrap();
    assert!(turns.iter().all(|t| t.turn.at == test_time()));
    let export = service
        .export(&UserKey::new(Platform::Telegram, "1"))
        .await
        .unwrap();
    assert_eq!(export["exported_at"], "2027-01-15T09:30:00Z");
    // The owner's default (the host's zone here), by its IANA name.
    let zone = export["time_zone"].as_str().unwrap_or_default();
    assert!(zone.parse::<chrono_tz::Tz>().is_ok(), "{zone}");
    collect(service.handle(message("1", "/timezone Asia/Seoul"))).await;
    let export = service
        .export(&UserKey::new(Platform::Telegram, "1"))
        .await
        .unwrap();
    assert_eq!(export["time_zone"], "Asia/Seoul");
}

#[tokio::test]
async fn a_message_too_big_for_the_window_is_refused() {
    let model = Arc::new(ScriptedModel::new(&["m"], 1024));
    let (service, _) = service(model.clone(), 1);
    let events = collect(service.handle(message("1", &"word ".repeat(2000)))).await;
    assert!(final_text(&events).contains("too long for the model's context window"));
    assert!(model.requests().is_empty());
}

#[tokio::test]
async fn shutdown_cancels_after_the_grace_period_and_keeps_the_partial_answer() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_text(&["partial ", "never"], Duration::from_millis(300));
    let (service, store) = service(model, 1);
    let mut stream = service.handle(message("1", "q"));
    // Shut down once the first piece has arrived and the second is pending.
    while let Some(event) = stream.recv().await {
        if matches!(event, ReplyEvent::Delta(_)) {
            break;
        }
    }
    service.shutdown(Duration::ZERO).await;
    let events = collect(stream).await;
    assert!(final_text(&events).starts_with("partial"));
    assert!(final_text(&events).contains("shutting down"));
    let stored = crate::store::HistoryStore::recent(&*store, &message("1", "").scope(), 10)
        .await
        .unwrap();
    assert_eq!(stored[1].turn.text, "partial ");
}

#[tokio::test]
async fn remembered_facts_reach_the_prompt_of_their_owner_only() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _) = service(model.clone(), 1);
    let ack = collect(service.handle(message("1", "/remember my dog is called Rex"))).await;
    assert!(final_text(&ack).contains("I will remember that"));
    collect(service.handle(message("1", "what is my dog called?"))).await;
    collect(service.handle(message("2", "what is my dog called?"))).await;
    let requests = model.requests();
    assert!(
        requests[0].messages[0]
            .content
            .contains("my dog is called Rex")
    );
    assert!(!requests[1].messages[0].content.contains("Rex"));
}

/// `/remember` answered again (sent twice, or replayed from the inbox after a crash) keeps
/// one memory and answers with the same id; another person's same words are their own.
#[tokio::test]
async fn the_same_remember_twice_keeps_one_memory() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, store) = service(model, 1);
    let first = final_text(&collect(service.handle(message("1", "/remember my dog is Rex"))).await);
    let again =
        final_text(&collect(service.handle(message("1", "/remember  my dog is Rex "))).await);
    assert!(first.contains("I will remember that"), "{first}");
    assert_eq!(first, again);
    let other = final_text(&collect(service.handle(message("2", "/remember my dog is Rex"))).await);
    assert_ne!(first, other, "a new id for another person");
    let owner = message("1", "").user_key();
    let kept = crate::memory::MemoryStore::memories(&*store, &owner)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let other_owner = message("2", "").user_key();
    let theirs = crate::memory::MemoryStore::memories(&*store, &other_owner)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
}

#[tokio::test]
async fn memory_commands_handle_bad_input_without_changes() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, store) = service(model, 1);
    let reply = |text: &str| {
        let service = service.clone();
        let text = text.to_owned();
        async move { final_text(&collect(service.handle(message("1", &text))).await) }
    };
    assert!(
        reply("/remember")
            .await
            .contains("Tell me what to remember")
    );
    assert!(
        reply(&format!("/remember {}", "x".repeat(600)))
            .await
            .contains("too long")
    );
    assert!(
        reply("/forget m999")
            .await
            .contains("I have no memory `m999`")
    );
    assert!(
        reply("/forget the cat please")
            .await
            .contains("not a memory id")
    );
    assert!(reply("/memory page zero").await.contains("whole numbers"));
    let owner = message("1", "").user_key();
    assert!(
        crate::memory::MemoryStore::memories(&*store, &owner)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(reply("/remember I like tea").await.contains("remember"));
    assert!(reply("/forget all").await.contains("/forget all confirm"));
    assert_eq!(
        crate::memory::MemoryStore::memories(&*store, &owner)
            .await
            .unwrap()
            .len(),
        1,
        "not yet"
    );
    assert!(reply("/forget all confirm").await.contains("forgot all 1"));
    assert!(
        crate::memory::MemoryStore::memories(&*store, &owner)
            .await
            .unwrap()
            .is_empty()
    );
}

mod private_answers {
    use super::*;
    use crate::outbound::{Outbound, Recipient, RecordingOutbound};

    fn in_group(text: &str) -> InboundMessage {
        let mut message = message("1", text);
        message.chat = ChatRef {
            id: "-100".into(),
            is_shared: true,
        };
        message
    }

    async fn service_with_outbound(
        outbound: Arc<RecordingOutbound>,
    ) -> (ChatService, Arc<InMemoryStore>) {
        let (service, store) = service(Arc::new(ScriptedModel::new(&["m"], 4096)), 1);
        service
            .outbounds()
            .register(Platform::Telegram, outbound as Arc<dyn Outbound>);
        let done = collect(service.handle(message("1", "/remember my PIN is 4321"))).await;
        assert!(final_text(&done).contains("remember"), "{done:?}");
        (service, store)
    }

    fn shows_nothing_private(events: &[ReplyEvent]) {
        for event in events {
            let shown = format!("{event:?}");
            assert!(!shown.contains("4321"), "revealed in the group: {shown}");
            assert!(
                !matches!(event, ReplyEvent::File { .. }),
                "a file in the group"
            );
        }
    }

    /// Regression: /memory, /memory QUERY and /export answered in the group itself.
    #[tokio::test]
    async fn memory_lists_searches_and_exports_from_a_group_go_to_the_person() {
        let outbound = Arc::new(RecordingOutbound::default());
        let (service, _) = service_with_outbound(outbound.clone()).await;
        for command in ["/memory", "/memory PIN", "/memory page 1", "/export"] {
            let events = collect(service.handle(in_group(command))).await;
            shows_nothing_private(&events);
            assert!(
                final_text(&events).contains("private message"),
                "{events:?}"
            );
        }
        let sent = outbound.sent();
        assert_eq!(sent.len(), 4);
        let alice = Recipient::User(UserKey::new(Platform::Telegram, "1"));
        assert!(sent.iter().all(|(to, _)| *to == alice));
        assert!(sent[0].1.text.contains("4321"));
        assert!(sent[1].1.text.contains("4321"));
        let (name, bytes, _) = &sent[3].1.files[0];
        assert!(name.ends_with(".json"));
        assert!(String::from_utf8_lossy(bytes).contains("4321"));
    }

    #[tokio::test]
    async fn a_person_without_a_private_chat_is_told_how_to_ask() {
        let outbound = Arc::new(RecordingOutbound::refusing(vec![Recipient::User(
            UserKey::new(Platform::Telegram, "1"),
        )]));
        let (service, _) = service_with_outbound(outbound.clone()).await;
        let events = collect(service.handle(in_group("/export"))).await;
        shows_nothing_private(&events);
        assert!(
            final_text(&events).contains("Open a private chat"),
            "{events:?}"
        );
        assert!(outbound.sent().is_empty());
    }

    #[tokio::test]
    async fn forgetting_from_a_group_does_not_quote_the_memory() {
        let outbound = Arc::new(RecordingOutbound::default());
        let (service, _) = service_with_outbound(outbound).await;
        let events = collect(service.handle(in_group("/forget m1"))).await;
        shows_nothing_private(&events);
        assert!(final_text(&events).contains("Forgotten"), "{events:?}");
    }

    #[tokio::test]
    async fn in_a_private_chat_the_answer_stays_in_the_chat() {
        let outbound = Arc::new(RecordingOutbound::default());
        let (service, _) = service_with_outbound(outbound.clone()).await;
        let events = collect(service.handle(message("1", "/memory"))).await;
        assert!(final_text(&events).contains("4321"));
        assert!(outbound.sent().is_empty());
    }

    #[tokio::test]
    async fn the_owner_can_send_to_allowed_people_only() {
        let outbound = Arc::new(RecordingOutbound::default());
        let (service, _) = service_with_outbound(outbound.clone()).await;
        let alice = UserKey::new(Platform::Telegram, "1");
        let ids = service
            .send_to_user(&alice, crate::outbound::OutboundMessage::text("hi"))
            .await
            .unwrap();
        assert_eq!(ids.len(), 1);
        let stranger = UserKey::new(Platform::Telegram, "999");
        let refused = service
            .send_to_user(&stranger, crate::outbound::OutboundMessage::text("hi"))
            .await;
        assert!(
            matches!(refused, Err(SendError::NotAllowed(_))),
            "{refused:?}"
        );
        let discord = UserKey::new(Platform::Discord, "1");
        let off = service
            .send_to_user(&discord, crate::outbound::OutboundMessage::text("hi"))
            .await;
        assert!(off.is_err());
        assert_eq!(outbound.sent().len(), 1);
    }
}

mod retrievers {
    use super::*;
    use crate::retrieve::{ContextGroup, Passage, Query, RetrieveError, Retriever};

    struct Notes;

    #[async_trait::async_trait]
    impl Retriever for Notes {
        async fn retrieve(&self, query: &Query<'_>) -> Result<Option<ContextGroup>, RetrieveError> {
            Ok(Some(ContextGroup {
                heading: "From the owner's notes".into(),
                cite: true,
                passages: vec![Passage {
                    label: "NAS/Backup.md › Restic schedule".into(),
                    source: "NAS/Backup.md".into(),
                    text: format!("restic runs nightly (asked: {})", query.text),
                    score: 0.9,
                }],
            }))
        }
    }

    struct Broken;

    #[async_trait::async_trait]
    impl Retriever for Broken {
        async fn retrieve(&self, _: &Query<'_>) -> Result<Option<ContextGroup>, RetrieveError> {
            Err(RetrieveError::Backend("index offline".into()))
        }
    }

    #[tokio::test]
    async fn every_retrievers_passages_reach_the_prompt_with_their_labels() {
        let model = Arc::new(ScriptedModel::new(&["m"], 4096));
        let store = Arc::new(InMemoryStore::new());
        let mut deps = deps(model.clone(), store);
        deps.retrievers.push(Arc::new(Broken));
        deps.retrievers.push(Arc::new(Notes));
        let service = ChatService::new(ServiceConfig::new("m"), deps);
        collect(service.handle(message("1", "/remember my NAS is called vault"))).await;
        let events = collect(service.handle(message("1", "how is my NAS backed up?"))).await;
        assert_eq!(final_text(&events), "echo: how is my NAS backed up?");
        let system = &model.requests()[0].messages[0].content;
        assert!(
            system.contains("What you remember about user 1"),
            "{system}"
        );
        assert!(system.contains("my NAS is called vault"), "{system}");
        assert!(system.contains("From the owner's notes:"), "{system}");
        assert!(
            system.contains("- [NAS/Backup.md › Restic schedule] restic runs nightly"),
            "{system}"
        );
    }
}

pub(super) mod notes {
    use super::*;
    use crate::notes::{NoteHit, NotesError, NotesRetriever, NotesSource, Reader, VaultOverview};

    /// One vault with one note, readable by user 1 in private chats only.
    pub(in crate::service) struct OneVault;

    fn allowed(reader: Reader<'_>) -> bool {
        reader.user.as_str() == "telegram:1" && !reader.shared_chat
    }

    #[async_trait::async_trait]
    impl NotesSource for OneVault {
        fn vaults_for(&self, reader: Reader<'_>) -> Vec<String> {
            if allowed(reader) {
                vec!["main".into()]
            } else {
                Vec::new()
            }
        }

        async fn search(
            &self,
            reader: Reader<'_>,
            query: &str,
            _limit: usize,
        ) -> Result<Vec<NoteHit>, NotesError> {
            if !allowed(reader) || !query.to_lowercase().contains("backup") {
                return Ok(Vec::new());
            }
            Ok(vec![NoteHit {
                vault: "main".into(),
                path: "NAS/Backup.md".into(),
                title: "Backup".into(),
                heading: "Setup › Restic schedule".into(),
                text:
                    "Restic runs nightly at 02:00 from a systemd timer and keeps 7 daily snapshots."
                        .into(),
                date: chrono::NaiveDate::from_ymd_opt(2024, 3, 5),
                score: 2.5,
            }])
        }

        async fn overview(&self, reader: Reader<'_>) -> Vec<VaultOverview> {
            if !allowed(reader) {
                return Vec::new();
            }
            vec![VaultOverview {
                name: "main".into(),
                notes: 12,
                passages: 40,
                indexed_at: None,
                failed: vec![("big.md".into(), "too large".into())],
                error: None,
            }]
        }
    }

    fn service_with_notes(model: Arc<ScriptedModel>) -> ChatService {
        let mut deps = deps(model, Arc::new(InMemoryStore::new()));
        let source: Arc<dyn NotesSource> = Arc::new(OneVault);
        deps.retrievers
            .push(Arc::new(NotesRetriever::new(Arc::clone(&source))));
        deps.notes = Some(source);
        ChatService::new(ServiceConfig::new("m"), deps)
    }

    fn in_group(mut message: InboundMessage) -> InboundMessage {
        message.chat = ChatRef {
            id: "-100".into(),
            is_shared: true,
        };
        message
    }

    #[tokio::test]
    async fn an_answer_from_a_note_ends_with_its_source_and_the_passage_is_labelled() {
        let model = Arc::new(ScriptedModel::new(&["m"], 8192));
        let service = service_with_notes(model.clone());
        model.push_text(
            &[
                "Restic runs nightly at 02:00 ",
                "from a systemd timer; 7 daily snapshots are kept.",
            ],
            Duration::ZERO,
        );
        let events =
            collect(service.handle(message("1", "how did I set up the backup on the NAS?"))).await;
        let text = final_text(&events);
        assert!(
            text.ends_with("\n\nSources: NAS/Backup.md › Restic schedule"),
            "{text}"
        );
        let system = &model.requests()[0].messages[0].content;
        assert!(
            system.contains("[Backup › Setup › Restic schedule] Restic runs nightly"),
            "{system}"
        );
        // The stored answer is the model's, without the sources line.
        let export = final_text(&collect(service.handle(message("1", "/export"))).await);
        assert!(!export.contains("Sources:"), "{export}");
    }

    #[tokio::test]
    async fn a_korean_speaker_sees_the_sources_line_in_korean() {
        let model = Arc::new(ScriptedModel::new(&["m"], 8192));
        let service = service_with_notes(model.clone());
        collect(service.handle(message("1", "/language ko"))).await;
        model.push_text(
            &["Restic runs nightly at 02:00 from a systemd timer."],
            Duration::ZERO,
        );
        let events =
            collect(service.handle(message("1", "how did I set up the backup on the NAS?"))).await;
        let text = final_text(&events);
        assert!(
            text.ends_with("\n\n출처: NAS/Backup.md › Restic schedule"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn an_answer_that_uses_no_note_shows_no_sources() {
        let model = Arc::new(ScriptedModel::new(&["m"], 8192));
        let service = service_with_notes(model.clone());
        model.push_text(
            &["I have no idea about your backup, sorry."],
            Duration::ZERO,
        );
        let text =
            final_text(&collect(service.handle(message("1", "what backup do I use?"))).await);
        assert_eq!(text, "I have no idea about your backup, sorry.");
    }

    #[tokio::test]
    async fn notes_stay_out_of_group_chats_and_other_peoples_prompts() {
        let model = Arc::new(ScriptedModel::new(&["m"], 8192));
        let service = service_with_notes(model.clone());
        collect(service.handle(in_group(message("1", "how is the backup done?")))).await;
        collect(service.handle(message("2", "how is the backup done?"))).await;
        for request in model.requests() {
            assert!(!request.messages[0].content.contains("Restic"));
        }
    }

    #[tokio::test]
    async fn notes_off_keeps_them_out_of_answers_until_on() {
        let model = Arc::new(ScriptedModel::new(&["m"], 8192));
        let service = service_with_notes(model.clone());
        let off = final_text(&collect(service.handle(message("1", "/notes off"))).await);
        assert!(off.starts_with("Notes are off"), "{off}");
        collect(service.handle(message("1", "backup?"))).await;
        assert!(!model.requests()[0].messages[0].content.contains("Restic"));
        collect(service.handle(message("1", "/notes on"))).await;
        collect(service.handle(message("1", "backup?"))).await;
        assert!(model.requests()[1].messages[0].content.contains("Restic"));
    }

    #[tokio::test]
    async fn the_notes_command_lists_vaults_and_passages() {
        let model = Arc::new(ScriptedModel::new(&["m"], 8192));
        let service = service_with_notes(model.clone());
        let overview = final_text(&collect(service.handle(message("1", "/notes"))).await);
        assert!(
            overview.contains("main: 12 notes, 40 passages, not indexed yet"),
            "{overview}"
        );
        assert!(overview.contains("big\\.md: too large"), "{overview}");
        let found = final_text(&collect(service.handle(message("1", "/notes backup"))).await);
        assert!(
            found.starts_with(
                "**NAS/Backup\\.md › Setup › Restic schedule** · 2024-03-05\nRestic runs nightly"
            ),
            "{found}"
        );
        let none = final_text(&collect(service.handle(message("1", "/notes zebra"))).await);
        assert!(none.starts_with("Nothing in the notes matches"), "{none}");
        let group =
            final_text(&collect(service.handle(in_group(message("1", "/notes backup")))).await);
        assert!(group.contains("not used in group chats"), "{group}");
        assert!(!group.contains("Restic"));
        let stranger = final_text(&collect(service.handle(message("2", "/notes backup"))).await);
        assert_eq!(stranger, "The owner has not shared any notes with you.");
        assert!(model.requests().is_empty(), "no command reached the model");
    }

    #[tokio::test]
    async fn without_vaults_the_notes_command_says_how_to_set_them_up() {
        let model = Arc::new(ScriptedModel::new(&["m"], 8192));
        let service = ChatService::new(
            ServiceConfig::new("m"),
            deps(model, Arc::new(InMemoryStore::new())),
        );
        let text = final_text(&collect(service.handle(message("1", "/notes"))).await);
        assert!(text.contains("HEARTH_NOTES"), "{text}");
    }
}

#[tokio::test]
async fn language_follows_the_setting_then_the_app_then_the_message() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _store) = service(model.clone(), 1);
    let ask = |text: &str, locale: Option<&str>| {
        let mut m = message("1", text);
        m.locale = locale.map(str::to_owned);
        m
    };
    let reply = |m: InboundMessage| {
        let service = &service;
        async move { final_text(&collect(service.handle(m)).await) }
    };
    // Nothing chosen: the app's language for the bot's words, the message's for the answer.
    assert!(
        reply(ask("/language", Some("ko")))
            .await
            .starts_with("언어: 자동"),
    );
    assert!(
        reply(ask("/language", None))
            .await
            .starts_with("Language: automatic")
    );
    reply(ask("안녕하세요", Some("ko"))).await;
    let system = model.requests()[0].messages[0].content.clone();
    assert!(
        system.contains("Answer in the language the person writes in"),
        "{system}"
    );
    // Chosen: kept, and the model is told.
    assert_eq!(
        reply(ask("/language ko", Some("en-US"))).await,
        "이제 한국어로 답합니다."
    );
    assert!(
        reply(ask("/language", Some("en-US")))
            .await
            .starts_with("언어: 한국어")
    );
    reply(ask("hello", Some("en-US"))).await;
    let system = model.requests()[1].messages[0].content.clone();
    assert!(system.contains("Answer in Korean (한국어)"), "{system}");
    // Asked in the chosen language.
    assert!(
        reply(ask("/language klingon", None))
            .await
            .starts_with("\"klingon\"은(는) 아직 지원하지 않아요")
    );
    assert!(
        reply(ask("/help", None))
            .await
            .contains("/reset: 새 대화 시작")
    );
    assert!(
        reply(ask("/frobnicate", None))
            .await
            .starts_with("/frobnicate 명령어는 모르겠어요")
    );
    assert_eq!(
        reply(ask("/language auto", None)).await,
        "I will answer in the language you write in."
    );
    assert!(
        reply(ask("/language klingon", None))
            .await
            .contains("I don't speak \"klingon\" yet")
    );
    // With the app in Korean, the bot's words are Korean.
    assert!(
        reply(ask("/help", Some("ko-KR")))
            .await
            .starts_with("저는 당신의 서버에서")
    );
    reply(ask("hello", None)).await;
    let system = model.requests()[2].messages[0].content.clone();
    assert!(system.contains("language the person writes in"), "{system}");
}

#[tokio::test]
async fn the_time_in_the_prompt_is_in_the_persons_zone() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _store) = service(model.clone(), 1);
    collect(service.handle(message("1", "/timezone Asia/Seoul"))).await;
    collect(service.handle(message("1", "what time is it?"))).await;
    let system = &model.requests()[0].messages[0].content;
    // 09:30 UTC is 18:30 in Seoul.
    assert!(
        system.contains("Friday, 2027-01-15 18:30 (Asia/Seoul)"),
        "{system}"
    );
}

#[tokio::test]
async fn a_korean_memory_is_found_by_a_korean_question_despite_particles() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _store) = service(model.clone(), 1);
    collect(service.handle(message("1", "/language ko"))).await;
    let said = final_text(
        &collect(service.handle(message("1", "/remember 우리 고양이 이름은 나비야"))).await,
    );
    assert_eq!(said, "알겠어요, 기억해 둘게요 (id `m1`).");
    collect(service.handle(message("1", "/remember 나는 서울에 산다"))).await;
    collect(service.handle(message("1", "/remember I work as a nurse"))).await;
    collect(service.handle(message("1", "이름이 뭐였지?"))).await;
    let system = &model.requests()[0].messages[0].content;
    // "이름이" shares "이름" with "이름은": found although no whole word matches.
    assert!(system.contains("우리 고양이 이름은 나비야"), "{system}");
    assert!(!system.contains("nurse"), "{system}");
}

#[tokio::test]
async fn memory_dates_are_the_day_in_the_persons_zone() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _store) = service(model, 1);
    // 09:30 UTC on the 15th is still the 14th in Honolulu (UTC-10).
    collect(service.handle(message("1", "/remember the cat is called Nabi"))).await;
    let utc = final_text(&collect(service.handle(message("1", "/memory"))).await);
    assert!(utc.contains("`m1` · 2027-01-15"), "{utc}");
    collect(service.handle(message("1", "/timezone Pacific/Honolulu"))).await;
    let listed = final_text(&collect(service.handle(message("1", "/memory"))).await);
    assert!(listed.contains("`m1` · 2027-01-14"), "{listed}");
    let found = final_text(&collect(service.handle(message("1", "/memory cat"))).await);
    assert!(found.contains("`m1` · 2027-01-14"), "{found}");
}

#[tokio::test]
async fn private_answers_asked_for_in_a_group_are_explained_in_the_persons_language() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _store) = service(model, 1);
    let mut asked = message("1", "/memory");
    asked.chat = ChatRef {
        id: "-100".into(),
        is_shared: true,
    };
    asked.locale = Some("ko".into());
    let said = final_text(&collect(service.handle(asked.clone())).await);
    // No outbound port reaches the person: the bot says how to ask privately, in Korean.
    assert!(said.starts_with("🔒 개인 정보라서"), "{said}");
    asked.locale = Some("en-US".into());
    let said = final_text(&collect(service.handle(asked)).await);
    assert!(said.starts_with("🔒 That is private"), "{said}");
}

#[tokio::test]
async fn a_message_while_the_memory_model_loads_waits_for_it_with_a_notice() {
    use crate::memory::MemoryStore;
    use crate::memory::embed::{Deferred, EmbedError, Embedder};
    struct Ones;
    impl Embedder for Ones {
        fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            Ok(texts.iter().map(|_| vec![1.0, 0.0]).collect())
        }
        fn describe(&self) -> String {
            "ones".into()
        }
    }
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let embedder: Arc<dyn Embedder> =
        Deferred::start("ones".into(), Default::default(), move || {
            gate.recv().ok();
            Ok(Arc::new(Ones) as Arc<dyn Embedder>)
        });
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_text(&["hello"], Duration::ZERO);
    model.push_text(&["again"], Duration::ZERO);
    let store = Arc::new(InMemoryStore::new());
    // Alice has a memory, so answering her searches by meaning.
    let owner = UserKey::new(Platform::Telegram, "1");
    store
        .put_memory(&crate::memory::Memory {
            id: "m1".into(),
            owner: owner.clone(),
            text: "Alice keeps bees".into(),
            source: crate::memory::MemorySource::Explicit,
            created: test_time(),
            updated: test_time(),
            embedding: None,
            embedding_model: None,
        })
        .await
        .unwrap();
    let mut deps = deps(model.clone(), store.clone());
    deps.memories = Arc::new(Memories::new(
        store.clone(),
        Some(embedder),
        MemoryConfig {
            auto_capture: false,
            ..MemoryConfig::default()
        },
    ));
    deps.retrievers = vec![Arc::new(crate::retrieve::MemoryRetriever::new(
        deps.memories.clone(),
    ))];
    let service = ChatService::new(ServiceConfig::new("m"), deps);

    let mut stream = service.handle(message("1", "what do I keep?"));
    let notice = stream.recv().await.unwrap();
    assert!(
        matches!(&notice, ReplyEvent::Status(s) if s.contains("memory model")),
        "{notice:?}"
    );
    // The search waits for the model; the chat model is not asked meanwhile.
    tokio::task::yield_now().await;
    assert!(model.requests().is_empty());
    release.send(()).unwrap();
    let rest = collect(stream).await;
    assert_eq!(final_text(&rest), "hello");
    assert!(
        model.requests()[0]
            .messages
            .iter()
            .any(|m| m.content.contains("bees"))
    );

    // Once it is in, no notice.
    let events = collect(service.handle(message("1", "and now?"))).await;
    assert_eq!(final_text(&events), "again");
    assert!(!events.iter().any(|e| matches!(e, ReplyEvent::Status(_))));
}
