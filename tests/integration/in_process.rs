//! In process: the core service and both real adapters (teloxide, serenity) run inside the
//! test process against the fake Telegram and fake Discord, with the scripted model, in-memory
//! storage and a manual clock. Nothing is spawned and nothing is read from a log: each test
//! asserts what the platform received. Behaviour of the service and the adapters belongs here;
//! the whole binary stays for start-up, configuration, restart, kill -9 and end-to-end flows.

use std::sync::Arc;
use std::time::Duration;

use bot_core::access::AccessPolicy;
use bot_core::adapter::Adapter;
use bot_core::memory::{Memories, MemoryConfig};
use bot_core::model::scripted::ScriptedModel;
use bot_core::outbound::OutboundMessage;
use bot_core::service::Deps;
use bot_core::store::memory::InMemoryStore;
use bot_core::{ChatService, Platform, ServiceConfig, UserKey};
use hearth_discord::DiscordConfig;
use hearth_telegram::TelegramConfig;
use hearth_tests::discord::{BOT_ID as DC_BOT_ID, CHANNEL, FakeDiscord, GUILD};
use hearth_tests::telegram::{BOT_USERNAME, FakeTelegram};
use secrecy::SecretString;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::util::WAIT;

const TG_TOKEN: &str = "123456:IN-PROCESS-telegram-token";
const DC_TOKEN: &str = "MTAxMDEwMTAx.in-process-discord.abcdefghijklmnop";
const ALICE: i64 = 1001;
const BOB: i64 = 1002;
const STRANGER: i64 = 6666;
const DC_ALICE: &str = "100000000000000011";
const DC_BOB: &str = "100000000000000012";
const DC_STRANGER: &str = "100000000000000066";
const MEMBER: Option<(&str, &[&str])> = Some((GUILD, &[]));

/// The core and both adapters, running in this process until dropped.
struct InProcess {
    tg: FakeTelegram,
    dc: FakeDiscord,
    model: Arc<ScriptedModel>,
    service: ChatService,
    shutdown: CancellationToken,
}

impl InProcess {
    async fn start() -> Self {
        Self::start_with(1).await
    }

    /// With `slots` model requests at a time.
    async fn start_with(slots: usize) -> Self {
        let tg = FakeTelegram::start(TG_TOKEN).await;
        let dc = FakeDiscord::start(DC_TOKEN).await;
        let model = Arc::new(ScriptedModel::new(&["m", "qwen3:4b"], 8192));
        let store = Arc::new(InMemoryStore::new());
        let memories = Arc::new(Memories::new(
            store.clone(),
            None,
            MemoryConfig {
                auto_capture: false,
                ..MemoryConfig::default()
            },
        ));
        let deps = Deps {
            model: model.clone(),
            // As the binary wires it: write-through caches in front of the store.
            history: Arc::new(bot_core::store::cache::CachedHistory::new(
                store.clone(),
                bot_core::service::HISTORY_WINDOW,
                1 << 20,
            )),
            settings: Arc::new(bot_core::store::cache::CachedSettings::new(
                store.clone(),
                100,
            )),
            access: AccessPolicy::deny_all()
                .allow_all(Platform::Telegram, [ALICE.to_string(), BOB.to_string()])
                .allow_all(Platform::Discord, [DC_ALICE, DC_BOB]),
            retrievers: vec![Arc::new(bot_core::retrieve::MemoryRetriever::new(
                memories.clone(),
            ))],
            notes: None,
            files: None,
            documents: Arc::new(bot_core::files::InMemoryDocuments::default()),
            erasers: Vec::new(),
            inbox: store.clone(),
            tool_sources: Vec::new(),
            memories,
            voice: None,
            outbounds: bot_core::outbound::Outbounds::default(),
            clock: Arc::new(bot_core::clock::SystemClock),
            reminders: Arc::new(bot_core::remind::InMemoryReminders::new()),
        };
        let mut config = ServiceConfig::new("m");
        config.max_concurrent_requests = slots;
        let service = ChatService::new(config, deps);
        let shutdown = CancellationToken::new();
        let adapters: Vec<Box<dyn Adapter>> = vec![
            Box::new(TelegramConfig {
                token: SecretString::new(TG_TOKEN.to_owned()),
                api_url: tg.url.parse().unwrap(),
                allow_groups: true,
                edit_interval: Duration::from_millis(50),
            }),
            Box::new(DiscordConfig {
                token: SecretString::new(DC_TOKEN.to_owned()),
                api_url: dc.url.parse().unwrap(),
                command_guilds: vec![GUILD.parse().unwrap()],
                mention_chat: true,
                edit_interval: Duration::from_millis(50),
            }),
        ];
        for adapter in adapters {
            let (service, shutdown) = (service.clone(), shutdown.clone());
            tokio::spawn(async move {
                let name = adapter.name();
                if let Err(e) = adapter.run(service, shutdown).await {
                    panic!("the {name} adapter stopped: {e}");
                }
            });
        }
        let this = Self {
            tg,
            dc,
            model,
            service,
            shutdown,
        };
        // Both connected: Telegram polls, Discord registered its slash commands.
        hearth_tests::eventually(WAIT, || {
            (!this.tg.calls_of("getupdates").is_empty()
                && !this.dc.registered_commands().is_empty())
            .then_some(())
        })
        .await
        .expect("the adapters never connected");
        this
    }

    /// Waits for a bot message in the Telegram chat whose text contains `needle`.
    async fn tg_reply(&self, chat: i64, needle: &str) -> String {
        self.tg
            .wait_for_message(chat, WAIT, |m| m.text.contains(needle))
            .await
            .text
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[tokio::test]
async fn a_telegram_answer_streams_into_one_message_that_ends_complete() {
    let bot = InProcess::start().await;
    bot.model.push_text(
        &["Rivers ", "run ", "to the ", "sea."],
        Duration::from_millis(30),
    );
    bot.tg.send_private(ALICE, "Alice", "where do rivers go?");
    bot.tg_reply(ALICE, "Rivers run to the sea.").await;
    assert_eq!(bot.tg.messages(ALICE).len(), 1, "one message, edited");
    let request = bot.model.requests().pop().unwrap();
    assert_eq!(
        request.messages.last().unwrap().content,
        "where do rivers go?"
    );
}

/// Regression: `strip_mention` sliced the original text with offsets from a lowercased copy.
#[tokio::test]
async fn a_strangers_dotted_capital_i_mention_is_refused_and_the_bot_keeps_answering() {
    let bot = InProcess::start().await;
    bot.tg.send_group(
        -500,
        STRANGER,
        "Mallory",
        &format!("İİİİ @{BOT_USERNAME} hello"),
        None,
    );
    bot.tg_reply(-500, "6666").await;
    bot.tg.send_private(ALICE, "Alice", "still there?");
    bot.tg_reply(ALICE, "echo: still there?").await;
    assert_eq!(
        bot.model.requests().len(),
        1,
        "the stranger reached no model"
    );
}

#[tokio::test]
async fn a_panic_while_answering_is_contained_and_the_next_message_is_answered() {
    let bot = InProcess::start().await;
    bot.model.push_panic();
    bot.tg.send_private(ALICE, "Alice", "first");
    bot.tg_reply(ALICE, "something went wrong").await;
    bot.tg.send_private(ALICE, "Alice", "second");
    bot.tg_reply(ALICE, "echo: second").await;
}

#[tokio::test]
async fn memory_asked_for_in_a_telegram_group_is_sent_privately() {
    let bot = InProcess::start().await;
    bot.tg
        .send_private(ALICE, "Alice", "/remember my locker code is 4417");
    bot.tg_reply(ALICE, "I will remember").await;
    let before = bot.tg.messages(ALICE).len();
    bot.tg.send_group(
        -700,
        ALICE,
        "Alice",
        &format!("/memory@{BOT_USERNAME}"),
        None,
    );
    let notice = bot.tg_reply(-700, "private").await;
    assert!(!notice.contains("4417"), "{notice}");
    hearth_tests::eventually(WAIT, || {
        (bot.tg.messages(ALICE).len() > before).then_some(())
    })
    .await
    .expect("the memory list reached the private chat");
    assert!(bot.tg.messages(ALICE).last().unwrap().text.contains("4417"));
    assert!(
        bot.tg
            .messages(-700)
            .iter()
            .all(|m| !m.text.contains("4417")),
        "{:#?}",
        bot.tg.messages(-700)
    );
}

#[tokio::test]
async fn a_discord_slash_question_streams_and_help_is_ephemeral() {
    let bot = InProcess::start().await;
    bot.model
        .push_text(&["Tea ", "is ", "ready."], Duration::from_millis(30));
    let token = bot.dc.slash(
        DC_ALICE,
        CHANNEL,
        MEMBER,
        "ask",
        &[("prompt", json!("is tea ready?"))],
    );
    hearth_tests::eventually(WAIT, || {
        bot.dc
            .interaction_texts(&token)
            .last()
            .filter(|t| t.contains("Tea is ready."))
            .cloned()
    })
    .await
    .expect("the streamed answer");
    let help = bot.dc.slash(DC_ALICE, CHANNEL, MEMBER, "help", &[]);
    let record = hearth_tests::eventually(WAIT, || {
        bot.dc
            .interaction(&help)
            .filter(|r| r.response_type().is_some())
    })
    .await
    .expect("the help answer");
    assert!(record.ephemeral());
}

#[tokio::test]
async fn a_discord_stranger_is_refused_without_reaching_the_model() {
    let bot = InProcess::start().await;
    let token = bot.dc.slash(
        DC_STRANGER,
        CHANNEL,
        MEMBER,
        "ask",
        &[("prompt", json!("let me in"))],
    );
    hearth_tests::eventually(WAIT, || {
        bot.dc
            .interaction_texts(&token)
            .into_iter()
            .find(|t| t.contains(DC_STRANGER))
    })
    .await
    .expect("the refusal names the stranger's id for the owner");
    assert!(bot.model.requests().is_empty());
}

#[tokio::test]
async fn the_core_sends_on_its_own_to_telegram_and_discord_people() {
    let bot = InProcess::start().await;
    // Telegram only delivers to people who opened the private chat.
    bot.tg.send_private(ALICE, "Alice", "hi");
    bot.tg_reply(ALICE, "echo: hi").await;
    let text = |t: &str| OutboundMessage {
        text: t.to_owned(),
        files: Vec::new(),
    };
    bot.service
        .send_to_user(
            &UserKey::new(Platform::Telegram, &ALICE.to_string()),
            text("Time to stretch."),
        )
        .await
        .expect("sent on Telegram");
    bot.tg_reply(ALICE, "Time to stretch.").await;
    bot.service
        .send_to_user(
            &UserKey::new(Platform::Discord, DC_ALICE),
            text("Time to **stretch**."),
        )
        .await
        .expect("sent on Discord");
    let dm = bot
        .dc
        .dm_channel(DC_ALICE)
        .expect("a DM channel was opened");
    bot.dc
        .wait_for_message(&dm, WAIT, |m| m.content.contains("Time to **stretch**."))
        .await;
    let refused = bot
        .service
        .send_to_user(
            &UserKey::new(Platform::Telegram, &STRANGER.to_string()),
            text("hello stranger"),
        )
        .await;
    assert!(refused.is_err(), "a stranger is never messaged");
    assert!(bot.tg.messages(STRANGER).is_empty());
}

#[tokio::test]
async fn a_429_retry_after_is_honoured() {
    let bot = InProcess::start().await;
    bot.tg.fail_with_retry_after("sendmessage", 2, 1);
    bot.tg
        .send_private(ALICE, "Alice", "hello despite flood control");
    bot.tg_reply(ALICE, "echo: hello despite flood control")
        .await;
    let sends = bot.tg.calls_of("sendmessage");
    assert_eq!(sends[0].status, 429);
    let next = sends.iter().find(|c| c.status == 200).unwrap();
    let waited = next.at - sends[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
}

#[tokio::test]
async fn formatting_telegram_refuses_is_resent_as_plain_text() {
    let bot = InProcess::start().await;
    bot.tg.reject_html(1);
    bot.model.push_text(&["**Bold** claim"], Duration::ZERO);
    bot.tg.send_private(ALICE, "Alice", "format this");
    let reply = bot
        .tg
        .wait_for_message(ALICE, WAIT, |m| m.text.contains("claim"))
        .await;
    assert_eq!(reply.text, "Bold claim");
    assert_eq!(reply.html, None, "sent without parse mode");
    let refused = bot
        .tg
        .calls()
        .into_iter()
        .filter(|c| c.status == 400)
        .count();
    assert_eq!(refused, 1);
}

#[tokio::test]
async fn a_discord_mention_is_answered_in_that_channel_and_a_reply_continues_the_conversation() {
    let bot = InProcess::start().await;
    let asked = bot.dc.user_message(
        DC_ALICE,
        CHANNEL,
        MEMBER,
        "my favourite colour is teal",
        true,
        None,
    );
    let answer = bot
        .dc
        .wait_for_message(CHANNEL, WAIT, |m| {
            m.author == DC_BOT_ID && m.content.contains("teal")
        })
        .await;
    assert_eq!(answer.content, "echo: my favourite colour is teal");
    assert_eq!(
        answer.reply_to.as_deref(),
        Some(asked.as_str()),
        "answers the mention"
    );
    // A message that neither mentions nor replies to the bot is not for it.
    bot.dc.user_message(
        DC_ALICE,
        CHANNEL,
        MEMBER,
        "just chatting with friends",
        false,
        None,
    );
    // Replying to the bot's answer (no mention) continues the same conversation.
    bot.dc.user_message(
        DC_ALICE,
        CHANNEL,
        MEMBER,
        "what did I say?",
        false,
        Some(&answer.id),
    );
    bot.dc
        .wait_for_message(CHANNEL, WAIT, |m| {
            m.author == DC_BOT_ID && m.content.contains("what did I say")
        })
        .await;
    let requests = bot.model.requests();
    assert_eq!(requests.len(), 2, "the unrelated message was ignored");
    let first_user = |i: usize| -> Vec<String> {
        requests[i]
            .messages
            .iter()
            .filter(|m| m.role != bot_core::model::Role::System)
            .map(|m| m.content.clone())
            .collect()
    };
    assert_eq!(
        first_user(0),
        ["my favourite colour is teal"],
        "mention removed"
    );
    assert_eq!(
        first_user(1),
        [
            "my favourite colour is teal",
            "echo: my favourite colour is teal",
            "what did I say?"
        ]
    );
}

#[tokio::test]
async fn discord_direct_messages_chat_directly() {
    let bot = InProcess::start().await;
    let dm = "400000000000000042";
    bot.dc
        .user_message(DC_BOB, dm, None, "hello in private", false, None);
    let answer = bot
        .dc
        .wait_for_message(dm, WAIT, |m| {
            m.author == DC_BOT_ID && m.content.contains("private")
        })
        .await;
    assert_eq!(answer.content, "echo: hello in private");
    assert_eq!(answer.reply_to, None, "no need to quote in a DM");
}

/// The texts of a request's messages after the system message.
fn conversation(request: &bot_core::model::ChatRequest) -> Vec<String> {
    request
        .messages
        .iter()
        .filter(|m| m.role != bot_core::model::Role::System)
        .map(|m| m.content.clone())
        .collect()
}

#[tokio::test]
async fn reasoning_is_never_shown() {
    let bot = InProcess::start().await;
    bot.model.push_text(
        &["<thi", "nk>secret plan", "ning</think>", "Visible answer"],
        Duration::from_millis(50),
    );
    bot.tg.send_private(ALICE, "Alice", "think first");
    let reply = bot
        .tg
        .wait_for_message(ALICE, WAIT, |m| m.text.contains("Visible answer"))
        .await;
    assert_eq!(reply.text, "Visible answer");
    assert!(
        reply.versions.iter().all(|v| !v.contains("secret")),
        "{:?}",
        reply.versions
    );
}

#[tokio::test]
async fn two_quick_messages_in_one_chat_are_answered_in_order() {
    let bot = InProcess::start().await;
    bot.model
        .push_text(&["first ", "answer"], Duration::from_millis(300));
    bot.model.push_text(&["second answer"], Duration::ZERO);
    bot.tg.send_private(ALICE, "Alice", "one");
    bot.tg.send_private(ALICE, "Alice", "two");
    bot.tg_reply(ALICE, "second answer").await;
    let requests = bot.model.requests();
    assert_eq!(conversation(&requests[0]), ["one"]);
    // The second prompt already contains the whole first exchange.
    assert_eq!(conversation(&requests[1]), ["one", "first answer", "two"]);
    let messages = bot.tg.messages(ALICE);
    assert_eq!(messages[0].text, "first answer");
    assert_eq!(messages[1].text, "second answer");
}

#[tokio::test]
async fn two_users_never_see_each_others_history() {
    let bot = InProcess::start_with(2).await;
    bot.tg.send_private(ALICE, "Alice", "my secret is tulip");
    bot.tg.send_private(BOB, "Bob", "my secret is walrus");
    bot.tg_reply(ALICE, "tulip").await;
    bot.tg_reply(BOB, "walrus").await;
    bot.tg.send_private(ALICE, "Alice", "what is my secret?");
    bot.tg.send_private(BOB, "Bob", "what is my secret?");
    hearth_tests::eventually(WAIT, || (bot.model.requests().len() == 4).then_some(()))
        .await
        .unwrap();
    for request in bot.model.requests() {
        let text = conversation(&request).join("\n");
        assert!(
            !(text.contains("tulip") && text.contains("walrus")),
            "mixed prompt: {text}"
        );
        let system = &request.messages[0].content;
        if text.contains("tulip") {
            assert!(system.contains("Alice"), "{system}");
        } else {
            assert!(system.contains("Bob"), "{system}");
        }
    }
    assert!(
        bot.tg
            .messages(ALICE)
            .iter()
            .all(|m| !m.text.contains("walrus"))
    );
    assert!(
        bot.tg
            .messages(BOB)
            .iter()
            .all(|m| !m.text.contains("tulip"))
    );
}

#[tokio::test]
async fn in_groups_the_bot_answers_only_when_addressed() {
    let bot = InProcess::start().await;
    let group = -100_777;
    bot.tg
        .send_group(group, ALICE, "Alice", "just chatting among us", None);
    bot.tg.send_group(
        group,
        ALICE,
        "Alice",
        &format!("@{BOT_USERNAME} what's up?"),
        None,
    );
    let reply = bot
        .tg
        .wait_for_message(group, WAIT, |m| m.text.contains("echo"))
        .await;
    assert_eq!(reply.text, "echo: what's up?");
    assert!(reply.reply_to.is_some(), "group answers quote the question");
    bot.tg.send_group(
        group,
        ALICE,
        "Alice",
        "and a reply to you",
        Some(reply.message_id),
    );
    bot.tg_reply(group, "echo: and a reply to you").await;
    let prompts: Vec<String> = bot
        .model
        .requests()
        .iter()
        .map(|r| r.messages.last().unwrap().content.clone())
        .collect();
    assert_eq!(prompts, ["what's up?", "and a reply to you"]);
}

#[tokio::test]
async fn commands_are_registered_and_help_answers() {
    let bot = InProcess::start().await;
    bot.tg.send_private(ALICE, "Alice", "/start");
    let start = bot.tg_reply(ALICE, "Hello Alice").await;
    assert!(start.contains("/reset") && start.contains("/model"));
    let commands = bot
        .tg
        .registered_commands()
        .expect("setMyCommands was called");
    let names: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    let core: Vec<&str> = bot_core::commands::COMMANDS
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, core, "the menu is the core's command list");
    assert_eq!(
        names,
        [
            "start",
            "help",
            "reset",
            "model",
            "remember",
            "memory",
            "forget",
            "export",
            "notes",
            "remind",
            "reminders",
            "schedule",
            "schedules",
            "timezone",
            "language"
        ]
    );
    let slash: Vec<String> = bot
        .dc
        .registered_commands()
        .last()
        .map(|(_, body)| {
            body.as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap();
    for name in core.iter().filter(|n| **n != "start") {
        assert!(
            slash.iter().any(|s| s == name),
            "/{name} on Discord: {slash:?}"
        );
    }
    bot.tg.send_private(ALICE, "Alice", "/frobnicate now");
    bot.tg_reply(ALICE, "I don't know the command /frobnicate")
        .await;
    assert!(
        bot.model.requests().is_empty(),
        "commands never reach the model"
    );
}

#[tokio::test]
async fn korean_apps_get_korean_menus_help_and_errors_until_language_en() {
    let bot = InProcess::start().await;
    // Telegram: a menu for apps set to Korean, besides the default one.
    bot.tg.send_private_in(ALICE, "Alice", "/help", "ko");
    let help = bot.tg_reply(ALICE, "저는 당신의 서버에서").await;
    assert!(help.contains("/reset: 새 대화 시작"), "{help}");
    let korean = bot
        .tg
        .registered_commands_for("ko")
        .expect("setMyCommands with language_code ko");
    let reset = korean
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["command"] == "reset")
        .unwrap();
    assert_eq!(reset["description"], "새 대화 시작");
    let english = bot.tg.registered_commands().unwrap();
    assert!(
        english
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["description"] == "Start a new conversation")
    );
    bot.tg.send_private_in(ALICE, "Alice", "/frobnicate", "ko");
    bot.tg_reply(ALICE, "/frobnicate 명령어는 모르겠어요").await;
    // The person's own choice wins over the app's language.
    bot.tg.send_private_in(ALICE, "Alice", "/language en", "ko");
    bot.tg_reply(ALICE, "I will answer in English from now on.")
        .await;
    bot.tg.send_private_in(ALICE, "Alice", "/frobnicate", "ko");
    bot.tg_reply(ALICE, "I don't know the command /frobnicate")
        .await;

    // Discord: Korean descriptions for Korean clients, and a Korean client's /help in Korean.
    let (_, registered) = bot.dc.registered_commands().last().cloned().unwrap();
    let language = registered
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "language")
        .expect("/language on Discord");
    assert_eq!(
        language["description_localizations"]["ko"],
        "답하는 언어 보기 또는 설정: /language ko, en, auto"
    );
    // Every command's options are described in Korean too.
    for command in registered.as_array().unwrap() {
        for option in command["options"].as_array().into_iter().flatten() {
            let korean = option["description_localizations"]["ko"]
                .as_str()
                .unwrap_or_default();
            assert!(
                korean.chars().any(hearth_tests::is_hangul) || command["name"] == "language",
                "/{} {}: {korean:?}",
                command["name"],
                option["name"]
            );
        }
    }
    bot.dc.set_locale(DC_BOB, "ko");
    let token = bot.dc.slash(DC_BOB, CHANNEL, MEMBER, "help", &[]);
    let texts = bot
        .dc
        .wait_for_interaction_texts(&token, WAIT, |t| t.contains("/language"))
        .await;
    assert!(
        texts.last().unwrap().starts_with("저는 당신의 서버에서"),
        "{texts:?}"
    );
}

#[tokio::test]
async fn reset_starts_a_new_conversation() {
    let bot = InProcess::start().await;
    bot.tg.send_private(ALICE, "Alice", "remember pineapple");
    bot.tg_reply(ALICE, "echo: remember pineapple").await;
    bot.tg.send_private(ALICE, "Alice", "/reset");
    bot.tg_reply(ALICE, "new conversation").await;
    bot.tg.send_private(ALICE, "Alice", "what fruit?");
    bot.tg_reply(ALICE, "echo: what fruit?").await;
    let last = bot.model.requests().pop().unwrap();
    assert_eq!(conversation(&last), ["what fruit?"]);
}

#[tokio::test]
async fn model_lists_and_switches_per_user() {
    let bot = InProcess::start().await;
    bot.tg.send_private(ALICE, "Alice", "/model");
    let list = bot.tg_reply(ALICE, "Available").await;
    assert!(
        list.contains("m (current)") && list.contains("qwen3:4b"),
        "{list}"
    );
    bot.tg.send_private(ALICE, "Alice", "/model qwen3:4b");
    bot.tg_reply(ALICE, "answer you with qwen3:4b").await;
    bot.tg.send_private(ALICE, "Alice", "/model gpt-17");
    bot.tg_reply(ALICE, "There is no model gpt-17").await;
    bot.tg.send_private(ALICE, "Alice", "hi");
    bot.tg_reply(ALICE, "echo: hi").await;
    bot.tg.send_private(BOB, "Bob", "hi");
    bot.tg_reply(BOB, "echo: hi").await;
    let models: Vec<String> = bot
        .model
        .requests()
        .iter()
        .map(|r| r.model.clone())
        .collect();
    assert_eq!(models, ["qwen3:4b", "m"], "Alice switched, Bob did not");
}

/// Every text of a request, the system message included.
fn all_text(request: &bot_core::model::ChatRequest) -> String {
    request
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn dc_ask(h: &InProcess, user: &str, prompt: &str) -> String {
    h.dc.slash(user, CHANNEL, MEMBER, "ask", &[("prompt", json!(prompt))])
}

impl InProcess {
    /// The texts of a Discord interaction's response once its last piece satisfies `done`.
    async fn dc_texts(&self, token: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
        self.dc.wait_for_interaction_texts(token, WAIT, done).await
    }
}

#[tokio::test]
async fn a_long_answer_arrives_whole_across_followups_with_code_blocks_intact() {
    let h = InProcess::start().await;
    let code: String = (0..120)
        .map(|i| format!("    println!(\"line {i:03}\");\n"))
        .collect();
    let prose: String = (0..30)
        .map(|i| format!("Sentence {i:02} explains the program in some detail.\n"))
        .collect();
    let answer = format!("{prose}\n```rust\nfn main() {{\n{code}}}\n```\n{prose}The end.");
    assert!(answer.chars().count() > 5000);
    let pieces: Vec<String> = answer.split_inclusive('\n').map(str::to_owned).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    h.model.push_text(&pieces, Duration::ZERO);
    let token = dc_ask(&h, DC_ALICE, "Write a long program");
    let texts = h.dc_texts(&token, |t| t.ends_with("The end.")).await;
    assert!(
        texts.len() >= 3,
        "expected follow-ups: {} pieces",
        texts.len()
    );
    for (i, text) in texts.iter().enumerate() {
        assert!(text.chars().count() <= 2000, "piece {i} too long");
        let fences = text.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences % 2, 0, "piece {i} leaves a code block open:\n{text}");
    }
    let all: Vec<&str> = texts.iter().flat_map(|t| t.lines()).collect();
    for i in 0..120 {
        let line = format!("    println!(\"line {i:03}\");");
        assert_eq!(all.iter().filter(|l| **l == line).count(), 1, "{line}");
    }
    for i in 0..30 {
        let line = format!("Sentence {i:02} explains the program in some detail.");
        assert_eq!(all.iter().filter(|l| **l == line).count(), 2, "{line}");
    }
    assert!(h.dc.violations().is_empty(), "{:?}", h.dc.violations());
}

#[tokio::test]
async fn two_users_in_one_channel_have_separate_conversations() {
    let h = InProcess::start().await;
    let first = dc_ask(&h, DC_ALICE, "Alice's secret word is marmalade");
    h.dc_texts(&first, |t| t.contains("marmalade")).await;
    let second = dc_ask(&h, DC_BOB, "What is the secret word?");
    h.dc_texts(&second, |t| t.contains("secret word?")).await;
    let requests = h.model.requests();
    assert!(
        !all_text(&requests[1]).contains("marmalade"),
        "Bob's prompt had Alice's words"
    );
    let third = dc_ask(&h, DC_ALICE, "And again?");
    h.dc_texts(&third, |t| t.contains("again")).await;
    assert!(
        all_text(&h.model.requests()[2]).contains("marmalade"),
        "Alice's own history is kept"
    );
}

#[tokio::test]
async fn model_autocomplete_lists_the_fake_ollamas_models() {
    let h = InProcess::start().await;
    let choices = |token: &str| -> Vec<String> {
        let record = h.dc.interaction(token).unwrap();
        assert_eq!(record.response_type(), Some(8));
        record.response.unwrap().1["data"]["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["value"].as_str().unwrap().to_owned())
            .collect()
    };
    let all =
        h.dc.autocomplete(DC_ALICE, CHANNEL, MEMBER, "model", "name", "");
    hearth_tests::eventually(WAIT, || h.dc.interaction(&all).unwrap().response)
        .await
        .unwrap();
    assert_eq!(choices(&all), vec!["m", "qwen3:4b"]);
    let some =
        h.dc.autocomplete(DC_ALICE, CHANNEL, MEMBER, "model", "name", "QWE");
    hearth_tests::eventually(WAIT, || h.dc.interaction(&some).unwrap().response)
        .await
        .unwrap();
    assert_eq!(choices(&some), vec!["qwen3:4b"]);
    // Picking one is private and takes effect.
    let pick = h.dc.slash(
        DC_ALICE,
        CHANNEL,
        MEMBER,
        "model",
        &[("name", json!("qwen3:4b"))],
    );
    let texts = h.dc_texts(&pick, |t| t.contains("qwen3:4b")).await;
    assert!(h.dc.interaction(&pick).unwrap().ephemeral(), "{texts:?}");
    let next = dc_ask(&h, DC_ALICE, "which model?");
    h.dc_texts(&next, |t| t.contains("which model")).await;
    assert_eq!(h.model.requests().last().unwrap().model, "qwen3:4b");
}

#[tokio::test]
async fn memory_commands_are_private_and_private_asks_use_memories() {
    let h = InProcess::start().await;
    let remember = h.dc.slash(
        DC_ALICE,
        CHANNEL,
        MEMBER,
        "remember",
        &[("text", json!("I am allergic to peanuts"))],
    );
    h.dc_texts(&remember, |t| !t.is_empty()).await;
    assert!(h.dc.interaction(&remember).unwrap().ephemeral());
    let memory = h.dc.slash(DC_ALICE, CHANNEL, MEMBER, "memory", &[]);
    let texts = h.dc_texts(&memory, |t| t.contains("peanuts")).await;
    assert!(h.dc.interaction(&memory).unwrap().ephemeral(), "{texts:?}");
    // In the channel (others read it) the memory stays out of the prompt ...
    let public = dc_ask(&h, DC_ALICE, "Am I allergic to anything?");
    h.dc_texts(&public, |t| t.contains("anything")).await;
    assert!(!all_text(&h.model.requests()[0]).contains("peanuts"));
    // ... but a private answer may use it.
    let private = h.dc.slash(
        DC_ALICE,
        CHANNEL,
        MEMBER,
        "ask",
        &[
            ("prompt", json!("Am I allergic to anything?")),
            ("private", json!(true)),
        ],
    );
    h.dc_texts(&private, |t| t.contains("anything")).await;
    assert!(h.dc.interaction(&private).unwrap().ephemeral());
    assert!(all_text(&h.model.requests()[1]).contains("peanuts"));
    // /export is private and carries the file.
    let export = h.dc.slash(DC_ALICE, CHANNEL, MEMBER, "export", &[]);
    hearth_tests::eventually(WAIT, || {
        (h.dc.interaction(&export)?.followups.len() == 1).then_some(())
    })
    .await
    .expect("export file");
    let record = h.dc.interaction(&export).unwrap();
    assert!(record.ephemeral());
    let file = h.dc.message(&record.followups[0]).unwrap();
    assert!(file.ephemeral);
    let (name, bytes) = &file.files[0];
    assert!(name.ends_with(".json"));
    assert!(String::from_utf8_lossy(bytes).contains("peanuts"));
}

#[tokio::test]
async fn a_discord_slash_reminder_is_confirmed_privately_and_arrives_as_a_dm() {
    let bot = InProcess::start().await;
    let token = bot.dc.slash(
        DC_ALICE,
        CHANNEL,
        MEMBER,
        "remind",
        &[("when_what", json!("in 1 second drink water"))],
    );
    let texts = bot
        .dc_texts(&token, |t| t.contains("⏰ Reminder r1 set for"))
        .await;
    assert!(
        texts.last().unwrap().ends_with(": drink water"),
        "{texts:?}"
    );
    let record = bot.dc.interaction(&token).unwrap();
    assert!(record.ephemeral(), "the confirmation showed in the channel");
    let delivered = hearth_tests::eventually(WAIT, || {
        let dm = bot.dc.dm_channel(DC_ALICE)?;
        bot.dc
            .messages(&dm)
            .into_iter()
            .find(|m| m.content.contains("⏰ Reminder: drink water"))
    })
    .await;
    assert!(delivered.is_some(), "no DM with the reminder");
    // Nothing about it in the channel besides the ephemeral confirmation.
    assert!(
        bot.dc
            .messages(CHANNEL)
            .iter()
            .filter(|m| m.interaction.is_none())
            .all(|m| !m.content.contains("drink water"))
    );
    assert!(bot.model.requests().is_empty());
}
