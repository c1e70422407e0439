//! Tools through the service: the model calls one, the bot runs it as the person, shows a
//! 🔧 line, gives the result back and streams the answer; models that cannot call tools
//! are never offered any; shared chats get no personal tools.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::tests::notes::OneVault;
use super::tests::{collect, deps, final_text, message};
use super::*;
use crate::clock::ManualClock;
use crate::model::scripted::ScriptedModel;
use crate::model::{ModelError, Role};
use crate::remind::{InMemoryReminders, ReminderStore};
use crate::store::memory::InMemoryStore;
use crate::types::{ChatRef, Platform, UserKey};

/// Friday 15 January 2027, 09:30 UTC.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 15, 9, 30, 0).unwrap()
}

struct Bot {
    service: ChatService,
    model: Arc<ScriptedModel>,
    reminders: Arc<InMemoryReminders>,
    memories: Arc<crate::memory::Memories>,
}

fn bot_with(model: ScriptedModel) -> Bot {
    let model = Arc::new(model);
    let store = Arc::new(InMemoryStore::new());
    let mut deps = deps(model.clone(), store);
    deps.clock = Arc::new(ManualClock::new(start()));
    let reminders = Arc::new(InMemoryReminders::new());
    deps.reminders = reminders.clone();
    deps.notes = Some(Arc::new(OneVault));
    let memories = deps.memories.clone();
    let mut config = ServiceConfig::new("m");
    config.default_timezone = chrono_tz::Asia::Seoul;
    Bot {
        service: ChatService::new(config, deps),
        model,
        reminders,
        memories,
    }
}

fn bot() -> Bot {
    bot_with(ScriptedModel::new(&["m"], 8192).with_tools())
}

fn in_group(mut message: InboundMessage) -> InboundMessage {
    message.chat = ChatRef {
        id: "-100".into(),
        is_shared: true,
    };
    message
}

fn alice() -> UserKey {
    UserKey::new(Platform::Telegram, "1")
}

fn offered(request: &crate::model::ChatRequest) -> Vec<String> {
    request.tools.iter().map(|t| t.name.clone()).collect()
}

#[tokio::test]
async fn a_reminder_tool_call_is_stored_shown_and_given_back_to_the_model() {
    let bot = bot();
    bot.model.push_tool_calls(&[(
        "create_reminder",
        json!({"when": "in 2 minutes", "text": "stretch"}),
    )]);
    bot.model.push_text(
        &["Done, I will remind you to stretch."],
        std::time::Duration::ZERO,
    );
    let events = collect(bot.service.handle(message("1", "nudge me to stretch soon"))).await;
    let text = final_text(&events);
    assert_eq!(
        text,
        "🔧 set reminder r1 for Fri 15 Jan 2027 18:32 (Asia/Seoul): stretch\n\n\
         Done, I will remind you to stretch."
    );
    // Stored, at the instant the grammar read, before the user saw it.
    let stored = bot.reminders.get(&alice(), "r1").await.unwrap().unwrap();
    assert_eq!(stored.due, start() + Duration::minutes(2));
    assert_eq!(stored.text, "stretch");
    // The model got the call and its result back, then answered.
    let requests = bot.model.requests();
    assert_eq!(requests.len(), 2);
    assert!(offered(&requests[0]).contains(&"create_reminder".to_owned()));
    let asked = &requests[1].messages[requests[1].messages.len() - 2];
    assert_eq!(asked.role, Role::Assistant);
    assert_eq!(asked.tool_calls[0].name, "create_reminder");
    let result = requests[1].messages.last().unwrap();
    assert_eq!(result.role, Role::Tool);
    assert_eq!(result.tool_name.as_deref(), Some("create_reminder"));
    assert!(
        result.content.starts_with("Reminder r1 is set for"),
        "{}",
        result.content
    );
    // The conversation keeps the answer only.
    let history = bot
        .service
        .inner
        .deps
        .history
        .recent(&message("1", "").scope(), 10)
        .await
        .unwrap();
    assert_eq!(
        history.last().unwrap().turn.text,
        "Done, I will remind you to stretch."
    );
}

#[tokio::test]
async fn an_unreadable_time_from_the_model_sets_nothing_and_says_so() {
    let bot = bot();
    bot.model.push_tool_calls(&[(
        "create_reminder",
        json!({"when": "sometime", "text": "stretch"}),
    )]);
    bot.model
        .push_text(&["When should I remind you?"], std::time::Duration::ZERO);
    let text = final_text(&collect(bot.service.handle(message("1", "nudge me"))).await);
    assert!(text.starts_with("🔧 could not set a reminder"), "{text}");
    assert!(text.ends_with("When should I remind you?"), "{text}");
    assert!(bot.reminders.list(&alice()).await.unwrap().is_empty());
    let result = bot.model.requests()[1].messages.last().unwrap().clone();
    assert!(
        result.content.starts_with("Nothing was set"),
        "{}",
        result.content
    );
}

#[tokio::test]
async fn notes_memories_time_and_cancel_run_as_the_person() {
    let bot = bot();
    bot.memories
        .remember(
            &alice(),
            "Alice's NAS is called vault",
            crate::memory::MemorySource::Explicit,
        )
        .await
        .unwrap();
    bot.model.push_tool_calls(&[
        ("search_notes", json!({"query": "restic backup"})),
        ("search_memories", json!({"query": "NAS"})),
        ("current_time", json!({})),
    ]);
    bot.model.push_text(
        &["Restic runs nightly at 02:00 from a systemd timer on vault."],
        std::time::Duration::ZERO,
    );
    let text =
        final_text(&collect(bot.service.handle(message("1", "how does my backup run?"))).await);
    assert!(
        text.starts_with(
            "🔧 searched your notes for 'restic backup'\n🔧 searched your memories for 'NAS'\n🔧 checked the time\n\n"
        ),
        "{text}"
    );
    // Passages found by a tool are cited like those in the prompt.
    assert!(
        text.ends_with("Sources: NAS/Backup.md › Restic schedule"),
        "{text}"
    );
    let results: Vec<String> = bot.model.requests()[1]
        .messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.clone())
        .collect();
    assert!(results[0].contains("Restic runs nightly"), "{results:?}");
    assert!(
        results[1].contains("Alice's NAS is called vault"),
        "{results:?}"
    );
    assert_eq!(results[2], "Friday 2027-01-15 18:30 (Asia/Seoul)");

    // Someone else's reminder cannot be cancelled through the model.
    collect(
        bot.service
            .handle(message("2", "/remind in 1 hour bob's thing")),
    )
    .await;
    collect(
        bot.service
            .handle(message("2", "/remind in 2 hours bob's other thing")),
    )
    .await;
    bot.model
        .push_tool_calls(&[("cancel_reminder", json!({"id": "r1"}))]);
    bot.model.push_text(&["ok"], std::time::Duration::ZERO);
    let text = final_text(&collect(bot.service.handle(message("1", "cancel r1"))).await);
    assert!(text.starts_with("🔧 found no reminder r1"), "{text}");
    let bob = UserKey::new(Platform::Telegram, "2");
    assert_eq!(bot.reminders.list(&bob).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_shared_chat_offers_no_personal_tools_and_refuses_them() {
    let bot = bot();
    bot.model.push_tool_calls(&[
        ("list_reminders", json!({})),
        ("search_notes", json!({"query": "restic backup"})),
    ]);
    bot.model
        .push_text(&["I can't see that here."], std::time::Duration::ZERO);
    let text = final_text(
        &collect(
            bot.service
                .handle(in_group(message("1", "what are my reminders?"))),
        )
        .await,
    );
    let requests = bot.model.requests();
    let tools = offered(&requests[0]);
    assert_eq!(tools, ["create_reminder", "current_time"]);
    assert!(
        text.contains("🔧 the model asked for a tool I do not have (list\\_reminders)"),
        "{text}"
    );
    let results: Vec<String> = requests[1]
        .messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.clone())
        .collect();
    assert!(
        results
            .iter()
            .all(|r| r.starts_with("There is no tool named")),
        "{results:?}"
    );
    assert!(!results.iter().any(|r| r.contains("Restic")));
}

#[tokio::test]
async fn a_model_without_tools_is_offered_none_and_a_refusal_is_retried_without() {
    // Capabilities without "tools": nothing about tools is sent.
    let plain = bot_with(ScriptedModel::new(&["m"], 8192));
    let text = final_text(&collect(plain.service.handle(message("1", "hello"))).await);
    assert_eq!(text, "echo: hello");
    assert!(plain.model.requests()[0].tools.is_empty());

    // A server that says it cannot after all: asked again without tools, and not again.
    let bot = bot();
    bot.model.push_error(ModelError::ToolsUnsupported(
        "m does not support tools".into(),
    ));
    let text = final_text(&collect(bot.service.handle(message("1", "hello"))).await);
    assert_eq!(text, "echo: hello");
    let text = final_text(&collect(bot.service.handle(message("1", "again"))).await);
    assert_eq!(text, "echo: again");
    let requests = bot.model.requests();
    assert_eq!(requests.len(), 3);
    assert!(!requests[0].tools.is_empty());
    assert!(requests[1].tools.is_empty() && requests[2].tools.is_empty());
}

#[tokio::test]
async fn a_model_that_keeps_calling_tools_is_made_to_answer() {
    let bot = bot();
    for round in 0..tools::MAX_TOOL_ROUNDS {
        bot.model
            .push_tool_calls(&[("search_memories", json!({"query": format!("q{round}")}))]);
    }
    bot.model
        .push_text(&["It is evening."], std::time::Duration::ZERO);
    let text = final_text(&collect(bot.service.handle(message("1", "time?"))).await);
    assert!(text.ends_with("It is evening."), "{text}");
    let requests = bot.model.requests();
    assert_eq!(requests.len(), tools::MAX_TOOL_ROUNDS + 1);
    assert!(requests.last().unwrap().tools.is_empty());
    assert!(
        requests[..tools::MAX_TOOL_ROUNDS]
            .iter()
            .all(|r| !r.tools.is_empty())
    );
}

#[tokio::test]
async fn a_call_repeated_in_one_answer_runs_once_and_then_the_model_must_answer() {
    let bot = bot();
    let call = (
        "create_reminder",
        json!({"when": "in 5 minutes", "text": "tea"}),
    );
    bot.model.push_tool_calls(std::slice::from_ref(&call));
    bot.model.push_tool_calls(&[call]);
    bot.model.push_text(&["Set."], std::time::Duration::ZERO);
    let text = final_text(&collect(bot.service.handle(message("1", "tea soon"))).await);
    assert_eq!(
        text,
        "🔧 set reminder r1 for Fri 15 Jan 2027 18:35 (Asia/Seoul): tea\n\nSet."
    );
    assert_eq!(bot.reminders.list(&alice()).await.unwrap().len(), 1);
    let requests = bot.model.requests();
    assert_eq!(requests.len(), 3);
    let result = requests[2].messages.last().unwrap();
    assert!(
        result
            .content
            .starts_with("Already done above; its result was: Reminder r1"),
        "{}",
        result.content
    );
    assert!(
        requests[2].tools.is_empty(),
        "only repeats: answer in words"
    );
}

#[tokio::test]
async fn a_call_with_another_tools_arguments_is_refused_with_the_right_name() {
    let bot = bot();
    // What Qwen2.5 0.5B did: the arguments of create_reminder under the name current_time.
    bot.model.push_tool_calls(&[(
        "current_time",
        json!({"when": "in 2 minutes", "text": "drink water"}),
    )]);
    bot.model.push_tool_calls(&[(
        "create_reminder",
        json!({"when": "in 2 minutes", "text": "drink water"}),
    )]);
    bot.model.push_tool_calls(&[("cancel_reminder", json!({}))]);
    bot.model.push_text(&["Done."], std::time::Duration::ZERO);
    let text = final_text(&collect(bot.service.handle(message("1", "water in 2"))).await);
    // Only what ran is shown.
    assert_eq!(
        text,
        "🔧 set reminder r1 for Fri 15 Jan 2027 18:32 (Asia/Seoul): drink water\n\nDone."
    );
    let requests = bot.model.requests();
    let first = requests[1].messages.last().unwrap();
    assert_eq!(
        first.content,
        "Not run: current_time takes no arguments, not when, text. \
         To use those arguments, call create_reminder."
    );
    let missing = requests[3].messages.last().unwrap();
    assert_eq!(missing.content, "Not run: cancel_reminder needs id.");
    assert_eq!(bot.reminders.list(&alice()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn remember_stores_a_memory_for_the_person() {
    let bot = bot();
    bot.model
        .push_tool_calls(&[("remember", json!({"fact": "Prefers tea over coffee"}))]);
    bot.model.push_text(&["Noted."], std::time::Duration::ZERO);
    let text = final_text(
        &collect(
            bot.service
                .handle(message("1", "remember that I prefer tea")),
        )
        .await,
    );
    assert_eq!(text, "🔧 remembered: Prefers tea over coffee\n\nNoted.");
    let hits = bot.memories.search(&alice(), "tea", 5).await.unwrap();
    assert_eq!(hits[0].memory.text, "Prefers tea over coffee");
}

#[tokio::test]
async fn the_model_helps_read_a_time_the_grammar_cannot_but_never_invents_one() {
    let bot = bot_with(ScriptedModel::new(&["m"], 8192));
    // "twenty past nine" is not in the grammar: the model rewrites it, the grammar reads it.
    bot.model.push_text(
        &[r#"{"when": "at 9:20", "what": "call mom"}"#],
        std::time::Duration::ZERO,
    );
    let text = final_text(
        &collect(
            bot.service
                .handle(message("1", "remind me at twenty past nine to call mom")),
        )
        .await,
    );
    assert_eq!(
        text,
        "⏰ Reminder r1 set for Fri 15 Jan 2027 21:20 (Asia/Seoul): call mom"
    );
    let requests = bot.model.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].format.is_some());
    assert!(requests[0].tools.is_empty());

    // No time at all: the model is not asked, nothing is set.
    let text =
        final_text(&collect(bot.service.handle(message("1", "remind me to buy milk"))).await);
    assert!(text.contains("Nothing was set"), "{text}");
    assert_eq!(bot.model.requests().len(), 1);

    // A model that answers nonsense (or is down) sets nothing either.
    bot.model.push_text(&["sure!"], std::time::Duration::ZERO);
    let text = final_text(
        &collect(
            bot.service
                .handle(message("1", "remind me at ten to five to leave")),
        )
        .await,
    );
    assert!(text.contains("Nothing was set"), "{text}");
    assert_eq!(bot.reminders.list(&alice()).await.unwrap().len(), 1);
}

mod confirm {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::actions::{Action, Method};
    use crate::types::ReplyEvent;

    /// A webhook on 127.0.0.1 that counts the calls it gets and answers "added".
    async fn webhook() -> (url::Url, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url =
            url::Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 8192];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nadded",
                    )
                    .await;
            }
        });
        (url, calls)
    }

    async fn bot_with_action(timeout: std::time::Duration) -> (Bot, Arc<AtomicUsize>) {
        let (url, calls) = webhook().await;
        let model = Arc::new(ScriptedModel::new(&["m"], 8192).with_tools());
        let mut deps = deps(model.clone(), Arc::new(InMemoryStore::new()));
        deps.clock = Arc::new(ManualClock::new(start()));
        let reminders = Arc::new(InMemoryReminders::new());
        deps.reminders = reminders.clone();
        let memories = deps.memories.clone();
        let mut config = ServiceConfig::new("m");
        config.confirm_timeout = timeout;
        config.actions = vec![Action {
            name: "shop".into(),
            description: "Add to the shopping list.".into(),
            parameters: json!({"type": "object", "properties": {"item": {"type": "string"}}}),
            url,
            method: Method::Post,
            headers: Vec::new(),
            timeout: std::time::Duration::from_secs(5),
            confirm: true,
        }];
        let bot = Bot {
            service: ChatService::new(config, deps),
            model,
            reminders,
            memories,
        };
        bot.model
            .push_tool_calls(&[("shop", json!({"item": "milk"}))]);
        bot.model.push_text(&["Done."], std::time::Duration::ZERO);
        (bot, calls)
    }

    /// Reads events until the confirmation; its id and prompt.
    async fn until_confirm(stream: &mut crate::types::ReplyStream) -> (String, String) {
        while let Some(event) = stream.recv().await {
            if let ReplyEvent::Confirm { id, prompt, .. } = event {
                return (id, prompt);
            }
        }
        panic!("no confirmation asked");
    }

    #[tokio::test]
    async fn nothing_is_called_before_the_persons_tap_and_only_theirs_counts() {
        let (bot, calls) = bot_with_action(std::time::Duration::from_secs(300)).await;
        let mut stream = bot.service.handle(message("1", "add milk"));
        let (id, prompt) = until_confirm(&mut stream).await;
        assert!(
            prompt.contains("**shop**") && prompt.contains("\"item\": \"milk\""),
            "{prompt}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let bob = UserKey::new(Platform::Telegram, "2");
        assert_eq!(bot.service.decide(&id, &bob, true), Decided::NotYours);
        assert_eq!(bot.service.decide(&id, &alice(), true), Decided::Approved);
        let text = final_text(&collect(stream).await);
        assert_eq!(text, "🔧 ran shop\n\nDone.");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            bot.model.requests()[1].messages.last().unwrap().content,
            "added"
        );
        // A second tap on the same button changes nothing.
        assert_eq!(bot.service.decide(&id, &alice(), true), Decided::Expired);
    }

    #[tokio::test]
    async fn cancel_a_new_message_or_silence_sends_nothing() {
        // Cancel.
        let (bot, calls) = bot_with_action(std::time::Duration::from_secs(300)).await;
        let mut stream = bot.service.handle(message("1", "add milk"));
        let (id, _) = until_confirm(&mut stream).await;
        assert_eq!(bot.service.decide(&id, &alice(), false), Decided::Declined);
        let text = final_text(&collect(stream).await);
        assert!(
            text.starts_with("🔧 shop not sent: you cancelled"),
            "{text}"
        );

        // A new message instead of a tap.
        bot.model
            .push_tool_calls(&[("shop", json!({"item": "eggs"}))]);
        bot.model
            .push_text(&["Okay, not adding it."], std::time::Duration::ZERO);
        let mut first = bot.service.handle(message("1", "add eggs"));
        until_confirm(&mut first).await;
        let second = bot
            .service
            .handle(message("1", "actually, what time is it?"));
        let text = final_text(&collect(first).await);
        assert!(
            text.starts_with("🔧 shop not sent: you cancelled"),
            "{text}"
        );
        assert_eq!(
            final_text(&collect(second).await),
            "echo: actually, what time is it?"
        );

        // No answer within the time limit.
        let (bot, quiet_calls) = bot_with_action(std::time::Duration::from_millis(50)).await;
        let text = final_text(&collect(bot.service.handle(message("1", "add milk"))).await);
        assert!(
            text.starts_with("🔧 shop not sent: no confirmation"),
            "{text}"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst) + quiet_calls.load(Ordering::SeqCst),
            0
        );
    }

    #[tokio::test]
    async fn a_scheduled_prompt_is_not_offered_actions_that_need_a_tap() {
        let (bot, _calls) = bot_with_action(std::time::Duration::from_secs(300)).await;
        let inner = &bot.service.inner;
        let settings = crate::store::UserSettings::default();
        let names = |can_ask| {
            inner
                .tool_specs(&message("1", "x"), &settings, can_ask)
                .into_iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
        };
        assert!(names(true).contains(&"shop".to_owned()));
        assert!(!names(false).contains(&"shop".to_owned()));
    }
}

mod sources {
    use std::sync::Mutex;

    use super::*;
    use crate::actions::{SourcedTool, ToolSource};
    use crate::model::ToolSpec;

    /// A source with one tool that records its calls.
    #[derive(Default)]
    struct Pantry {
        calls: Mutex<Vec<serde_json::Value>>,
        confirm: bool,
    }

    #[async_trait::async_trait]
    impl ToolSource for Pantry {
        fn tools(&self) -> Vec<SourcedTool> {
            vec![SourcedTool {
                spec: ToolSpec {
                    name: "pantry_add".into(),
                    description: "Add to the pantry list.".into(),
                    parameters: json!({"type": "object"}),
                },
                confirm: self.confirm,
            }]
        }

        async fn call(&self, _name: &str, arguments: &serde_json::Value) -> Result<String, String> {
            self.calls.lock().unwrap().push(arguments.clone());
            Err("the pantry server is full".into())
        }
    }

    #[tokio::test]
    async fn a_sources_tools_are_offered_called_and_their_failures_told() {
        let model = Arc::new(ScriptedModel::new(&["m"], 8192).with_tools());
        let mut deps = deps(model.clone(), Arc::new(InMemoryStore::new()));
        let pantry = Arc::new(Pantry::default());
        deps.tool_sources.push(pantry.clone());
        let service = ChatService::new(ServiceConfig::new("m"), deps);
        model.push_tool_calls(&[("pantry_add", json!({"item": "rice"}))]);
        model.push_text(&["Sorry, that failed."], std::time::Duration::ZERO);
        let text = final_text(&collect(service.handle(message("1", "add rice"))).await);
        assert_eq!(
            text,
            "🔧 pantry\\_add failed: the pantry server is full\n\nSorry, that failed."
        );
        assert_eq!(
            pantry.calls.lock().unwrap().as_slice(),
            &[json!({"item": "rice"})]
        );
        assert!(offered(&model.requests()[0]).contains(&"pantry_add".to_owned()));
        let result = model.requests()[1].messages.last().unwrap().content.clone();
        assert!(result.contains("the pantry server is full"), "{result}");
    }
}
