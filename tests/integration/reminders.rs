//! Reminders through the real binary and the fake Telegram: confirmed by the bot only once
//! stored, delivered on time, once, across `kill -9`; per person; `/timezone`.

use hearth_tests::eventually;

use crate::util::*;

fn count(h: &Harness, chat: i64, needle: &str) -> usize {
    h.tg.messages(chat)
        .iter()
        .filter(|m| m.text.contains(needle))
        .count()
}

#[tokio::test]
async fn a_reminder_survives_sigkill_and_is_delivered_exactly_once() {
    let h = Harness::new().await.set("HEARTH_TIMEZONE", "Asia/Seoul");
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/remind in 3 seconds stretch your legs");
    let ack = h.reply_containing(ALICE, "⏰ Reminder r1 set for").await;
    assert!(ack.contains("(Asia/Seoul): stretch your legs"), "{ack}");
    // Killed right after the confirmation: the reminder was on disk before it.
    bot.kill();
    let bot = h.start_bot().await;
    h.reply_containing(ALICE, "⏰ Reminder: stretch your legs")
        .await;
    // Killed again right after the delivery, and started once more: not sent again.
    bot.kill();
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/remind in 1 second sentinel");
    h.reply_containing(ALICE, "⏰ Reminder: sentinel").await;
    assert_eq!(count(&h, ALICE, "⏰ Reminder: stretch your legs"), 1);
    assert!(h.ollama.requests().is_empty(), "the model was asked");
}

#[tokio::test]
async fn reminders_are_listed_cancelled_and_kept_per_person() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_private(
        ALICE,
        "Alice",
        "remind me tomorrow at 9 to book the plumber",
    );
    h.reply_containing(ALICE, "⏰ Reminder r1 set for").await;
    h.tg.send_private(ALICE, "Alice", "/remind every weekday at 8 stand-up");
    h.reply_containing(ALICE, "⏰ Reminder r2 set for every weekday at 08:00")
        .await;
    h.tg.send_private(BOB, "Bob", "/reminders");
    let bobs = h.reply_containing(BOB, "no reminders").await;
    assert!(!bobs.contains("plumber"), "{bobs}");
    h.tg.send_private(BOB, "Bob", "/reminders cancel r1");
    h.reply_containing(BOB, "You have no reminder r1").await;
    h.tg.send_private(ALICE, "Alice", "/reminders");
    let list = h.reply_containing(ALICE, "Your reminders").await;
    assert!(
        list.contains("r1") && list.contains("book the plumber"),
        "{list}"
    );
    assert!(list.contains("every weekday at 08:00"), "{list}");
    h.tg.send_private(ALICE, "Alice", "/reminders cancel r1");
    h.reply_containing(ALICE, "Cancelled reminder r1").await;
    h.tg.send_private(ALICE, "Alice", "/remind sometime call bob");
    h.reply_containing(ALICE, "Nothing was set").await;
    h.tg.send_private(ALICE, "Alice", "/timezone Mars/Olympus");
    h.reply_containing(ALICE, "I don't know the time zone")
        .await;
    h.tg.send_private(ALICE, "Alice", "/timezone Europe/Berlin");
    h.reply_containing(ALICE, "Your time zone is now Europe/Berlin")
        .await;
    h.tg.send_private(ALICE, "Alice", "/reminders");
    let moved = eventually(WAIT, || {
        h.tg.messages(ALICE)
            .into_iter()
            .find(|m| m.text.contains("Your reminders") && m.text.contains("Europe/Berlin"))
    })
    .await;
    let moved = moved.expect("the repeat follows the new zone").text;
    assert!(!moved.contains("plumber"), "{moved}");
}

#[tokio::test]
async fn a_scheduled_prompt_is_answered_by_the_model_in_the_chat_it_was_set_in() {
    let h = Harness::new().await;
    let _bot = h.start_bot().await;
    h.tg.send_private(
        ALICE,
        "Alice",
        "/schedule in 2 seconds what is on my plate this week",
    );
    h.reply_containing(ALICE, "🗓 Scheduled prompt r1 set for")
        .await;
    let answer = h
        .reply_containing(ALICE, "echo: what is on my plate this week")
        .await;
    assert!(answer.contains("Scheduled prompt r1"), "{answer}");
    let asked = h.ollama.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].last_user(), "what is on my plate this week");
}
