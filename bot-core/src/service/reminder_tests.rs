//! Reminders through the service, on a manual clock: set, confirmed only once stored,
//! delivered when the clock reaches them, late or missed after downtime, never twice,
//! per person, across a daylight-saving change.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::tests::{collect, deps, final_text, message};
use super::*;
use crate::clock::ManualClock;
use crate::model::scripted::ScriptedModel;
use crate::outbound::{Outbound, Recipient, RecordingOutbound};
use crate::remind::{InMemoryReminders, ReminderState, ReminderStore};
use crate::store::memory::InMemoryStore;
use crate::types::{Platform, UserKey};

struct Bot {
    service: ChatService,
    clock: Arc<ManualClock>,
    outbound: Arc<RecordingOutbound>,
    reminders: Arc<InMemoryReminders>,
    model: Arc<ScriptedModel>,
    store: Arc<InMemoryStore>,
}

/// Friday 15 January 2027, 09:30 UTC.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 15, 9, 30, 0).unwrap()
}

fn bot_at(now: DateTime<Utc>, reminders: Arc<InMemoryReminders>, store: Arc<InMemoryStore>) -> Bot {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let clock = Arc::new(ManualClock::new(now));
    let mut deps = deps(model.clone(), store.clone());
    deps.clock = clock.clone();
    deps.reminders = reminders.clone();
    let outbound = Arc::new(RecordingOutbound::default());
    deps.outbounds
        .register(Platform::Telegram, outbound.clone() as Arc<dyn Outbound>);
    let mut config = ServiceConfig::new("m");
    config.default_timezone = chrono_tz::UTC;
    Bot {
        service: ChatService::new(config, deps),
        clock,
        outbound,
        reminders,
        model,
        store,
    }
}

fn bot() -> Bot {
    bot_at(
        start(),
        Arc::new(InMemoryReminders::new()),
        Arc::new(InMemoryStore::new()),
    )
}

impl Bot {
    async fn say(&self, user: &str, text: &str) -> String {
        final_text(&collect(self.service.handle(message(user, text))).await)
    }
}

fn alice() -> UserKey {
    UserKey::new(Platform::Telegram, "1")
}

#[tokio::test]
async fn a_reminder_is_confirmed_once_stored_and_delivered_on_time() {
    let bot = bot();
    let said = bot
        .say("1", "/remind in 20 minutes take the pizza out")
        .await;
    assert_eq!(
        said,
        "⏰ Reminder r1 set for Fri 15 Jan 2027 09:50 (UTC): take the pizza out"
    );
    let stored = bot.reminders.get(&alice(), "r1").await.unwrap().unwrap();
    assert_eq!(stored.due, start() + Duration::minutes(20));
    assert_eq!(stored.state, ReminderState::Pending);
    // Nothing before its time.
    bot.clock.advance(Duration::minutes(19));
    assert!(bot.outbound.sent().is_empty());
    bot.clock.advance(Duration::minutes(1));
    let sent = bot.outbound.wait_for(1).await;
    assert_eq!(sent[0].0, Recipient::User(alice()));
    assert!(
        sent[0]
            .1
            .text
            .starts_with("⏰ Reminder: take the pizza out"),
        "{}",
        sent[0].1.text
    );
    let stored = bot.reminders.get(&alice(), "r1").await.unwrap().unwrap();
    assert_eq!(stored.state, ReminderState::Delivered);
    // The model never saw any of it.
    assert!(bot.model.requests().is_empty());
}

/// The same platform message answered again after a restart (the inbox replays what was
/// not answered) finds the reminder it set before instead of setting a second one that
/// would fire twice; a new message with the same words is a new reminder.
#[tokio::test]
async fn the_same_message_again_confirms_its_reminder_instead_of_setting_another() {
    let bot = bot();
    let with_id = |id: &str, text: &str| crate::types::InboundMessage {
        message_id: Some(id.into()),
        ..message("1", text)
    };
    let say = |m| async { final_text(&collect(bot.service.handle(m)).await) };
    let first = say(with_id("7", "/remind in 20 minutes take the pizza out")).await;
    assert!(first.starts_with("⏰ Reminder r1 set"), "{first}");
    // Ten seconds later the bot restarts and answers message 7 again.
    bot.clock.advance(Duration::seconds(10));
    let again = say(with_id("7", "/remind in 20 minutes take the pizza out")).await;
    assert!(again.starts_with("⏰ Reminder r1 set"), "{again}");
    let plain = say(with_id("8", "remind me in 5 minutes to stir the soup")).await;
    assert!(plain.starts_with("⏰ Reminder r2 set"), "{plain}");
    let plain_again = say(with_id("8", "remind me in 5 minutes to stir the soup")).await;
    assert!(
        plain_again.starts_with("⏰ Reminder r2 set"),
        "{plain_again}"
    );
    let new = say(with_id("9", "/remind in 20 minutes take the pizza out")).await;
    assert!(new.starts_with("⏰ Reminder r3 set"), "{new}");
    assert_eq!(bot.reminders.list(&alice()).await.unwrap().len(), 3);
}

#[tokio::test]
async fn plain_language_and_korean_requests_set_reminders_without_the_model() {
    let bot = bot();
    let said = bot
        .say("1", "Remind me to call the dentist tomorrow at 9")
        .await;
    assert_eq!(
        said,
        "⏰ Reminder r1 set for Sat 16 Jan 2027 09:00 (UTC): call the dentist"
    );
    let said = bot.say("1", "20분 후에 피자 꺼내라고 알려줘").await;
    assert!(
        said.starts_with("⏰ Reminder r2 set for Fri 15 Jan 2027 09:50 (UTC)"),
        "{said}"
    );
    // A question that mentions reminding is a question.
    let said = bot
        .say("1", "remind me what we said about the budget on Monday")
        .await;
    assert_eq!(
        said,
        "echo: remind me what we said about the budget on Monday"
    );
    let said = bot.say("1", "내일 날씨 알려줘").await;
    assert_eq!(said, "echo: 내일 날씨 알려줘");
    assert_eq!(bot.model.requests().len(), 2);
    assert_eq!(bot.reminders.list(&alice()).await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_unreadable_time_is_asked_about_and_nothing_is_claimed() {
    let bot = bot();
    for text in [
        "/remind sometime soon call bob",
        "remind me to water the plants",
        "/remind every day take vitamins",
        "/remind on 2020-01-01 at 9 too late",
    ] {
        let said = bot.say("1", text).await;
        assert!(said.contains("Nothing was set"), "{text}: {said}");
        assert!(!said.contains("⏰"), "{text}: {said}");
    }
    assert!(bot.reminders.list(&alice()).await.unwrap().is_empty());
    assert!(bot.model.requests().is_empty());
}

#[tokio::test]
async fn reminders_are_per_person_and_can_be_cancelled() {
    let bot = bot();
    bot.say("1", "/remind at 10:00 alice's secret errand").await;
    bot.say("2", "/remind at 11:00 bob's thing").await;
    let alice_list = bot.say("1", "/reminders").await;
    assert!(alice_list.contains("alice's secret errand"), "{alice_list}");
    assert!(!alice_list.contains("bob"), "{alice_list}");
    let bob_list = bot.say("2", "/reminders").await;
    assert!(!bob_list.contains("alice"), "{bob_list}");
    // Bob cannot cancel Alice's r1 (his own r1 is another reminder).
    let said = bot.say("2", "/reminders cancel r2").await;
    assert!(said.contains("no reminder r2"), "{said}");
    let said = bot.say("1", "/reminders cancel r1").await;
    assert_eq!(said, "Cancelled reminder r1.");
    assert!(bot.reminders.list(&alice()).await.unwrap().is_empty());
    bot.clock.advance(Duration::hours(2));
    // Bob's arrives; Alice's cancelled one never does.
    let sent = bot.outbound.wait_for(1).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.text.contains("bob's thing"));
    assert_eq!(
        sent[0].0,
        Recipient::User(UserKey::new(Platform::Telegram, "2"))
    );
}

#[tokio::test]
async fn a_reminder_missed_while_down_comes_late_or_as_a_note_and_never_twice() {
    let reminders = Arc::new(InMemoryReminders::new());
    let store = Arc::new(InMemoryStore::new());
    {
        let bot = bot_at(start(), reminders.clone(), store.clone());
        bot.say("1", "/remind in 1 hour stretch").await;
        bot.say("1", "/remind in 2 minutes old one").await;
        bot.service
            .shutdown(std::time::Duration::from_secs(1))
            .await;
    }
    // Down for 3 hours: "stretch" is late by 2 h, "old one" by 2 h 58 min.
    let bot = bot_at(
        start() + Duration::hours(3),
        reminders.clone(),
        store.clone(),
    );
    let sent = bot.outbound.wait_for(2).await;
    let texts: Vec<&str> = sent.iter().map(|(_, m)| m.text.as_str()).collect();
    assert!(
        texts.iter().any(|t| t
            .starts_with("⏰ Reminder (late by 2 h, it was due Fri 15 Jan 2027 10:30): stretch")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("late by 2 h 58 min")),
        "{texts:?}"
    );
    bot.service
        .shutdown(std::time::Duration::from_secs(1))
        .await;
    // Started again: both are delivered, nothing is sent twice.
    let again = bot_at(
        start() + Duration::hours(4),
        reminders.clone(),
        store.clone(),
    );
    again.say("1", "/remind in 1 minute sentinel").await;
    again.clock.advance(Duration::minutes(1));
    let sent = again.outbound.wait_for(1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].1.text.contains("sentinel"));
    // Past the limit (24 h by default): a note, not a reminder.
    let bot = bot_at(
        start(),
        Arc::new(InMemoryReminders::new()),
        Arc::new(InMemoryStore::new()),
    );
    bot.say("1", "/remind in 5 minutes long gone").await;
    let down = bot_at(
        start() + Duration::hours(30),
        bot.reminders.clone(),
        bot.store.clone(),
    );
    let sent = down.outbound.wait_for(1).await;
    assert!(
        sent[0].1.text.starts_with("⏰ Missed reminder r1"),
        "{}",
        sent[0].1.text
    );
    assert!(sent[0].1.text.contains("long gone"));
    let stored = down.reminders.get(&alice(), "r1").await.unwrap().unwrap();
    assert_eq!(stored.state, ReminderState::Missed);
}

#[tokio::test]
async fn a_repeat_stays_at_local_time_across_a_daylight_saving_change() {
    // Saturday 7 March 2026, noon in New York; clocks go forward on Sunday 8 March.
    let york = chrono_tz::America::New_York;
    let noon = york
        .with_ymd_and_hms(2026, 3, 7, 12, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let bot = bot_at(
        noon,
        Arc::new(InMemoryReminders::new()),
        Arc::new(InMemoryStore::new()),
    );
    let said = bot.say("1", "/timezone america/new_york").await;
    assert!(
        said.starts_with("Your time zone is now America/New_York"),
        "{said}"
    );
    let said = bot.say("1", "/remind every day at 7:00 stretch").await;
    assert!(
        said.starts_with("⏰ Reminder r1 set for every day at 07:00 (America/New_York), first Sun 8 Mar 2026 07:00"),
        "{said}"
    );
    let fired_at = [
        Utc.with_ymd_and_hms(2026, 3, 8, 11, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 9, 11, 0, 0).unwrap(),
    ];
    for (n, at) in fired_at.iter().enumerate() {
        let due = bot
            .reminders
            .get(&alice(), "r1")
            .await
            .unwrap()
            .unwrap()
            .due;
        assert_eq!(due, *at);
        assert_eq!(
            due.with_timezone(&york).format("%H:%M").to_string(),
            "07:00"
        );
        bot.clock.set(*at);
        let sent = bot.outbound.wait_for(n + 1).await;
        assert!(
            sent[n].1.text.starts_with("⏰ Reminder: stretch"),
            "{}",
            sent[n].1.text
        );
    }
}

#[tokio::test]
async fn snooze_brings_a_fired_reminder_back_and_export_lists_them() {
    let bot = bot();
    bot.say("1", "/remind in 5 minutes tea").await;
    let said = bot.say("1", "/reminders snooze r1 10m").await;
    assert!(said.contains("has not gone off yet"), "{said}");
    bot.clock.advance(Duration::minutes(5));
    bot.outbound.wait_for(1).await;
    let said = bot.say("1", "/reminders snooze r1 10m").await;
    assert_eq!(said, "💤 r1 snoozed until Fri 15 Jan 2027 09:45 (UTC): tea");
    bot.clock.advance(Duration::minutes(10));
    let sent = bot.outbound.wait_for(2).await;
    assert!(sent[1].1.text.contains("tea"));
    let export = bot.service.export(&alice()).await.unwrap();
    let listed = export["reminders"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["text"], "tea");
    assert_eq!(listed[0]["id"], "r1");
}

#[tokio::test]
async fn a_reminder_due_at_start_is_delivered_once_its_platform_connects() {
    let reminders = Arc::new(InMemoryReminders::new());
    let store = Arc::new(InMemoryStore::new());
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let clock = Arc::new(ManualClock::new(start()));
    let mut deps = deps(model, store);
    deps.clock = clock.clone();
    deps.reminders = reminders.clone();
    reminders
        .create(crate::remind::NewReminder {
            owner: alice(),
            text: "due at start".into(),
            due: start() - Duration::minutes(1),
            repeat: None,
            zone: "UTC".into(),
            created: start() - Duration::hours(1),
            chat: None,
            kind: crate::remind::Kind::Reminder,
            name: String::new(),
            lang: None,
            source: None,
        })
        .await
        .unwrap();
    let outbounds = deps.outbounds.clone();
    let _service = ChatService::new(ServiceConfig::new("m"), deps);
    // The Telegram adapter connects a moment later.
    let outbound = Arc::new(RecordingOutbound::default());
    outbounds.register(Platform::Telegram, outbound.clone() as Arc<dyn Outbound>);
    clock.advance(Duration::seconds(30));
    let sent = outbound.wait_for(1).await;
    assert!(sent[0].1.text.contains("due at start"));
    assert_eq!(
        reminders.get(&alice(), "r1").await.unwrap().unwrap().state,
        ReminderState::Delivered
    );
}

#[tokio::test]
async fn a_scheduled_prompt_is_answered_with_memories_and_pauses_after_three_failures() {
    let bot = bot();
    bot.say("1", "/remember I water the tomatoes on Fridays")
        .await;
    let said = bot
        .say(
            "1",
            "/schedule every day at 10:00 what should I water today",
        )
        .await;
    assert_eq!(
        said,
        "🗓 Scheduled prompt r1 set for every day at 10:00 (UTC), first Fri 15 Jan 2027 10:00: what should I water today\nThe answer will come to this chat."
    );
    bot.clock
        .set(Utc.with_ymd_and_hms(2027, 1, 15, 10, 0, 0).unwrap());
    let sent = bot.outbound.wait_for(1).await;
    assert_eq!(sent[0].0, Recipient::User(alice()));
    assert!(
        sent[0].1.text.contains("echo: what should I water today"),
        "{}",
        sent[0].1.text
    );
    let request = bot.model.requests().pop().unwrap();
    let system = &request.messages[0].content;
    assert!(
        system.contains("tomatoes"),
        "the memories were not in the prompt: {system}"
    );
    // /schedules lists it, /reminders does not.
    assert!(
        bot.say("1", "/schedules")
            .await
            .contains("what should I water")
    );
    assert!(
        !bot.say("1", "/reminders")
            .await
            .contains("what should I water")
    );
    // Three failures in a row pause it, and the person is told once.
    for day in 16..=18 {
        bot.model.push_error(crate::model::ModelError::Unreachable {
            host: "http://gpu:11434".into(),
            source: "refused".into(),
        });
        bot.clock
            .set(Utc.with_ymd_and_hms(2027, 1, day, 10, 0, 0).unwrap());
        let failures = day - 15;
        // Wait until the scheduler recorded this run's failure.
        loop {
            let stored = bot.reminders.get(&alice(), "r1").await.unwrap().unwrap();
            if stored.failures == failures {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    let sent = bot.outbound.wait_for(2).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1]
            .1
            .text
            .starts_with("⏸ Scheduled prompt r1 failed 3 times"),
        "{}",
        sent[1].1.text
    );
    let stored = bot.reminders.get(&alice(), "r1").await.unwrap().unwrap();
    assert_eq!(stored.state, ReminderState::Paused);
    let said = bot.say("1", "/schedules resume r1").await;
    assert!(
        said.starts_with("Resumed r1: next Tue 19 Jan 2027 10:00"),
        "{said}"
    );
}

#[tokio::test]
async fn a_korean_speaker_is_confirmed_and_reminded_in_korean() {
    let bot = bot();
    let mut ask = message("1", "/language ko");
    final_text(&collect(bot.service.handle(ask.clone())).await);
    ask.text = "/remind 20분 후 피자 꺼내기".into();
    let said = final_text(&collect(bot.service.handle(ask.clone())).await);
    assert_eq!(
        said,
        "⏰ 리마인더 r1 설정: 2027년 1월 15일 (금) 09:50 (UTC) — 피자 꺼내기"
    );
    ask.text = "/remind 매일 7시 물 마시기".into();
    let said = final_text(&collect(bot.service.handle(ask.clone())).await);
    assert!(
        said.starts_with("⏰ 리마인더 r2 설정: 매일 07:00 (UTC), 처음 2027년 1월 16일 (토) 07:00"),
        "{said}"
    );
    ask.text = "/remind 언젠가 물 마시기".into();
    let said = final_text(&collect(bot.service.handle(ask.clone())).await);
    assert!(
        said.starts_with(
            "언제 알려 드려야 할지 모르겠어요. 아무것도 설정하지 않았어요.\n\n언제, 무엇을"
        ),
        "{said}"
    );
    ask.text = "/reminders".into();
    let said = final_text(&collect(bot.service.handle(ask.clone())).await);
    assert!(
        said.starts_with("내 리마인더:\n- r1: 2027년 1월 15일 (금) 09:50 (UTC): 피자 꺼내기\n- r2: 2027년 1월 16일 (토) 07:00 (UTC), 매일 07:00: 물 마시기"),
        "{said}"
    );
    assert!(said.ends_with("취소하려면 /reminders cancel ID"), "{said}");
    ask.text = "/reminders cancel r9".into();
    let said = final_text(&collect(bot.service.handle(ask)).await);
    assert_eq!(
        said,
        "r9 리마인더가 없어요. /reminders 로 목록을 볼 수 있어요."
    );
    bot.clock.advance(Duration::minutes(20));
    let sent = bot.outbound.wait_for(1).await;
    assert_eq!(
        sent[0].1.text,
        "⏰ 리마인더: 피자 꺼내기\n_다시 알림: /reminders snooze r1 10m_"
    );
}
