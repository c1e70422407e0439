//! One suite, run against every backend (as matrix-rust-sdk does for its stores).
//!
//! Public behind the `testing` feature so a backend outside this crate (a future
//! Postgres one) runs the same suite: `bot_core::store::conformance::run_all(make)`.

use chrono::Utc;

use super::{HistoryStore, SettingsStore, Turn, UserSettings};
use crate::memory::MemoryStore;
use crate::model::Role;
use crate::remind::ReminderStore;
use crate::types::{Platform, ScopeKey, UserKey};

/// A turn to store in tests.
pub fn turn(role: Role, text: &str) -> Turn {
    Turn {
        role,
        text: text.into(),
        at: Utc::now(),
        conversation: 0,
        message_ids: vec![],
    }
}

async fn history_keeps_order_and_limit(store: &dyn HistoryStore) {
    let scope = ScopeKey::new(Platform::Telegram, "5", "5");
    for i in 0..5 {
        store
            .append(&scope, turn(Role::User, &format!("m{i}")))
            .await
            .unwrap();
    }
    let recent = store.recent(&scope, 3).await.unwrap();
    let texts: Vec<_> = recent.iter().map(|t| t.turn.text.as_str()).collect();
    assert_eq!(texts, ["m2", "m3", "m4"]);
    assert!(recent.windows(2).all(|w| w[0].seq < w[1].seq));
}

async fn scopes_are_isolated_even_with_shared_prefixes(store: &dyn HistoryStore) {
    let a = ScopeKey::new(Platform::Telegram, "1", "1");
    let b = ScopeKey::new(Platform::Telegram, "1", "10");
    store.append(&a, turn(Role::User, "alice")).await.unwrap();
    store.append(&b, turn(Role::User, "bob")).await.unwrap();
    let texts =
        |turns: Vec<super::StoredTurn>| turns.into_iter().map(|t| t.turn.text).collect::<Vec<_>>();
    assert_eq!(texts(store.recent(&a, 10).await.unwrap()), ["alice"]);
    assert_eq!(texts(store.recent(&b, 10).await.unwrap()), ["bob"]);
}

/// Reads between writes see every write (what a cache in front of a backend must keep true).
async fn reads_follow_writes(store: &dyn HistoryStore) {
    let scope = ScopeKey::new(Platform::Telegram, "7", "7");
    let texts = |turns: &[super::StoredTurn]| {
        turns
            .iter()
            .map(|t| (t.turn.text.clone(), t.turn.conversation))
            .collect::<Vec<_>>()
    };
    let pair = |text: &str, conversation: u32| (text.to_owned(), conversation);
    assert!(store.recent(&scope, 10).await.unwrap().is_empty());
    store.append(&scope, turn(Role::User, "a")).await.unwrap();
    assert_eq!(
        texts(&store.recent(&scope, 10).await.unwrap()),
        [pair("a", 0)]
    );
    let b = store
        .append(&scope, turn(Role::Assistant, "b"))
        .await
        .unwrap();
    assert_eq!(
        texts(&store.recent(&scope, 10).await.unwrap()),
        [pair("a", 0), pair("b", 0)]
    );
    assert_eq!(
        texts(&store.recent(&scope, 1).await.unwrap()),
        [pair("b", 0)]
    );
    store
        .set_message_ids(&scope, b, vec!["9".into()])
        .await
        .unwrap();
    let recent = store.recent(&scope, 1).await.unwrap();
    assert_eq!(
        (recent[0].seq, recent[0].turn.message_ids.clone()),
        (b, vec!["9".to_owned()])
    );
    store.reset(&scope).await.unwrap();
    assert!(store.recent(&scope, 10).await.unwrap().is_empty());
    store.append(&scope, turn(Role::User, "c")).await.unwrap();
    assert_eq!(
        texts(&store.recent(&scope, 10).await.unwrap()),
        [pair("c", 1)]
    );
    store
        .append(&scope, turn(Role::Assistant, "d"))
        .await
        .unwrap();
    assert_eq!(
        texts(&store.recent(&scope, 10).await.unwrap()),
        [pair("c", 1), pair("d", 1)]
    );
    let seqs: Vec<u64> = store
        .recent(&scope, 10)
        .await
        .unwrap()
        .iter()
        .map(|t| t.seq)
        .collect();
    assert!(seqs[0] < seqs[1]);
}

async fn reset_starts_a_new_conversation(store: &dyn HistoryStore) {
    let scope = ScopeKey::new(Platform::Discord, "c", "u");
    store.append(&scope, turn(Role::User, "old")).await.unwrap();
    store.reset(&scope).await.unwrap();
    assert!(store.recent(&scope, 10).await.unwrap().is_empty());
    store.append(&scope, turn(Role::User, "new")).await.unwrap();
    let recent = store.recent(&scope, 10).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].turn.text, "new");
    assert_eq!(recent[0].turn.conversation, 1);
}

async fn message_ids_are_attached(store: &dyn HistoryStore) {
    let scope = ScopeKey::new(Platform::Telegram, "9", "9");
    let seq = store
        .append(&scope, turn(Role::Assistant, "hi"))
        .await
        .unwrap();
    store
        .set_message_ids(&scope, seq, vec!["41".into(), "42".into()])
        .await
        .unwrap();
    assert_eq!(
        store.recent(&scope, 1).await.unwrap()[0].turn.message_ids,
        ["41", "42"]
    );
    assert!(
        store
            .set_message_ids(&scope, seq + 1000, vec![])
            .await
            .is_err()
    );
    store.flush().await.unwrap();
}

async fn settings_default_and_replace(store: &dyn SettingsStore) {
    let user = UserKey::new(Platform::Telegram, "3");
    assert_eq!(
        store.settings(&user).await.unwrap(),
        UserSettings::default()
    );
    let chosen = UserSettings {
        model: Some("qwen3:4b".into()),
        ..UserSettings::default()
    };
    store.set_settings(&user, &chosen).await.unwrap();
    assert_eq!(store.settings(&user).await.unwrap(), chosen);
    assert_eq!(
        store
            .settings(&UserKey::new(Platform::Discord, "3"))
            .await
            .unwrap(),
        UserSettings::default()
    );
    let other = UserKey::new(Platform::Telegram, "33");
    store.set_settings(&other, &chosen).await.unwrap();
    store.remove_settings(&user).await.unwrap();
    assert_eq!(
        store.settings(&user).await.unwrap(),
        UserSettings::default()
    );
    assert_eq!(store.settings(&other).await.unwrap(), chosen);
    // Removing what is not there is no error.
    store.remove_settings(&user).await.unwrap();
}

async fn erase_user_removes_every_conversation_of_that_person_only(store: &dyn HistoryStore) {
    let group = ScopeKey::new(Platform::Telegram, "-100", "7");
    let private = ScopeKey::new(Platform::Telegram, "7", "7");
    // Shares a prefix with 7 and the group: must stay.
    let other = ScopeKey::new(Platform::Telegram, "-100", "77");
    let discord = ScopeKey::new(Platform::Discord, "5", "7");
    for (scope, text) in [
        (&group, "group"),
        (&private, "private"),
        (&private, "private two"),
        (&other, "other"),
        (&discord, "same id elsewhere"),
    ] {
        store.append(scope, turn(Role::User, text)).await.unwrap();
    }
    store.reset(&private).await.unwrap();
    store
        .append(&private, turn(Role::User, "after reset"))
        .await
        .unwrap();
    assert_eq!(store.erase_user(Platform::Telegram, "7").await.unwrap(), 4);
    store.flush().await.unwrap();
    assert!(
        store
            .user_turns(Platform::Telegram, "7")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.recent(&private, 10).await.unwrap().is_empty());
    assert!(store.recent(&group, 10).await.unwrap().is_empty());
    assert_eq!(
        store.recent(&other, 10).await.unwrap()[0].turn.text,
        "other"
    );
    assert_eq!(
        store.recent(&discord, 10).await.unwrap()[0].turn.text,
        "same id elsewhere"
    );
    // The conversation count went too: a new turn starts at conversation 0 again.
    store
        .append(&private, turn(Role::User, "new"))
        .await
        .unwrap();
    assert_eq!(
        store.recent(&private, 10).await.unwrap()[0]
            .turn
            .conversation,
        0
    );
}

fn memory(
    owner: &UserKey,
    id: &str,
    text: &str,
    embedding: Option<Vec<f32>>,
) -> crate::memory::Memory {
    let now = Utc::now();
    crate::memory::Memory {
        id: id.into(),
        owner: owner.clone(),
        text: text.into(),
        source: crate::memory::MemorySource::Extracted {
            chat: "c".into(),
            message_id: Some("7".into()),
        },
        created: now,
        updated: now,
        embedding_model: embedding.as_ref().map(|_| "test-model".to_owned()),
        embedding,
    }
}

async fn memories_round_trip_per_owner(store: &dyn MemoryStore) {
    let alice = UserKey::new(Platform::Telegram, "1");
    let alice_too = UserKey::new(Platform::Telegram, "10");
    let id = store.next_id().await.unwrap();
    assert_ne!(id, store.next_id().await.unwrap(), "ids are never reused");
    let kept = memory(&alice, &id, "likes tea", Some(vec![0.5, -0.25]));
    store.put_memory(&kept).await.unwrap();
    store
        .put_memory(&memory(&alice_too, "m2", "likes coffee", None))
        .await
        .unwrap();
    assert_eq!(store.memory(&alice, &id).await.unwrap(), Some(kept.clone()));
    assert_eq!(
        store.memory(&alice_too, &id).await.unwrap(),
        None,
        "another owner's id space"
    );
    assert_eq!(store.memories(&alice).await.unwrap(), vec![kept.clone()]);
    let mut changed = kept.clone();
    changed.text = "likes green tea".into();
    store.put_memory(&changed).await.unwrap();
    assert_eq!(
        store.memories(&alice).await.unwrap()[0].text,
        "likes green tea"
    );
    assert!(
        !store.remove_memory(&alice, "m2").await.unwrap(),
        "cannot remove another owner's memory"
    );
    assert!(store.remove_memory(&alice, &id).await.unwrap());
    assert!(store.memories(&alice).await.unwrap().is_empty());
    assert_eq!(store.remove_all_memories(&alice_too).await.unwrap(), 1);
    store.flush().await.unwrap();
}

async fn user_turns_are_found_across_chats(store: &dyn HistoryStore) {
    let in_group = ScopeKey::new(Platform::Telegram, "-100", "7");
    let private = ScopeKey::new(Platform::Telegram, "7", "7");
    let other = ScopeKey::new(Platform::Telegram, "-100", "77");
    store
        .append(&in_group, turn(Role::User, "group"))
        .await
        .unwrap();
    store
        .append(&private, turn(Role::User, "private"))
        .await
        .unwrap();
    store
        .append(&other, turn(Role::User, "not mine"))
        .await
        .unwrap();
    let mine: Vec<String> = store
        .user_turns(Platform::Telegram, "7")
        .await
        .unwrap()
        .into_iter()
        .map(|(_, t)| t.turn.text)
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(mine.contains(&"group".to_owned()) && mine.contains(&"private".to_owned()));
}

/// Runs every check of the suite, each on a fresh store from `make`; panics on the first
/// behaviour that differs from the ports' contract. Needs a tokio runtime (`#[tokio::test]`);
/// backends that offload to a blocking pool need none more.
pub async fn run_all<S: HistoryStore + SettingsStore + MemoryStore>(make: impl Fn() -> S) {
    memories_round_trip_per_owner(&make()).await;
    run_history(&make).await;
    run_settings(&make).await;
}

/// The history part of the suite, for a [`HistoryStore`] on its own (a cache in front of one).
pub async fn run_history<S: HistoryStore>(make: impl Fn() -> S) {
    user_turns_are_found_across_chats(&make()).await;
    history_keeps_order_and_limit(&make()).await;
    scopes_are_isolated_even_with_shared_prefixes(&make()).await;
    reset_starts_a_new_conversation(&make()).await;
    message_ids_are_attached(&make()).await;
    reads_follow_writes(&make()).await;
    erase_user_removes_every_conversation_of_that_person_only(&make()).await;
}

fn new_reminder(owner: &UserKey, text: &str, minutes: i64) -> crate::remind::NewReminder {
    let now = Utc::now();
    crate::remind::NewReminder {
        owner: owner.clone(),
        text: text.into(),
        due: now + chrono::Duration::minutes(minutes),
        repeat: None,
        zone: "Asia/Seoul".into(),
        created: now,
        chat: None,
        kind: crate::remind::Kind::Reminder,
        name: String::new(),
        lang: None,
        source: None,
    }
}

async fn reminders_per_owner(store: &dyn ReminderStore) {
    use crate::remind::ReminderState;
    let alice = UserKey::new(Platform::Telegram, "1");
    // A prefix of alice's id: must never see hers.
    let bob = UserKey::new(Platform::Telegram, "10");
    let a1 = store
        .create(new_reminder(&alice, "dentist", 5))
        .await
        .unwrap();
    let a2 = store
        .create(new_reminder(&alice, "stretch", 1))
        .await
        .unwrap();
    let b1 = store.create(new_reminder(&bob, "bob's", 2)).await.unwrap();
    assert_eq!(
        (a1.id.as_str(), a2.id.as_str(), b1.id.as_str()),
        ("r1", "r2", "r1")
    );
    assert_eq!(a1.state, ReminderState::Pending);
    let texts =
        |list: Vec<crate::remind::Reminder>| list.into_iter().map(|r| r.text).collect::<Vec<_>>();
    assert_eq!(
        texts(store.list(&alice).await.unwrap()),
        ["dentist", "stretch"]
    );
    assert_eq!(texts(store.list(&bob).await.unwrap()), ["bob's"]);
    assert_eq!(store.get(&bob, "r2").await.unwrap(), None);
    assert_eq!(
        store.get(&alice, "R2").await.unwrap().unwrap().text,
        "stretch"
    );
    let mut done = a2.clone();
    done.state = ReminderState::Delivered;
    store.put(&done).await.unwrap();
    store.flush().await.unwrap();
    let mut pending = texts(store.pending().await.unwrap());
    pending.sort();
    assert_eq!(pending, ["bob's", "dentist"]);
    assert!(!store.remove(&bob, "r2").await.unwrap());
    assert!(store.remove(&alice, "r1").await.unwrap());
    // Ids are never given out twice.
    let a3 = store
        .create(new_reminder(&alice, "again", 3))
        .await
        .unwrap();
    assert_eq!(a3.id, "r3");
    assert_eq!(store.remove_all(&alice).await.unwrap(), 2);
    assert!(store.list(&alice).await.unwrap().is_empty());
    assert_eq!(texts(store.list(&bob).await.unwrap()), ["bob's"]);
    assert_eq!(store.get(&alice, "not-an-id").await.unwrap(), None);
}

/// The reminder part of the suite, for a [`ReminderStore`].
pub async fn run_reminders<S: ReminderStore>(make: impl Fn() -> S) {
    reminders_per_owner(&make()).await;
}

/// The inbox part of the suite, for an [`InboxStore`](super::InboxStore).
pub async fn run_inbox<S: super::InboxStore>(make: impl Fn() -> S) {
    inbox_keeps_in_order_per_platform_until_answered(&make()).await;
}

async fn inbox_keeps_in_order_per_platform_until_answered<S: super::InboxStore>(store: &S) {
    use super::Unanswered;
    let alice = UserKey::new(Platform::Telegram, "1");
    let bob = UserKey::new(Platform::Telegram, "2");
    let carol = UserKey::new(Platform::Discord, "3");
    let kept = |user: &UserKey, id: &str, text: &str| Unanswered {
        user: user.clone(),
        id: id.to_owned(),
        message: text.as_bytes().to_vec(),
    };
    // Kept out of id order on purpose: the order kept is the order given back.
    for m in [
        kept(&alice, "20", "first"),
        kept(&bob, "11", "second"),
        kept(&carol, "5", "elsewhere"),
        kept(&alice, "3", "third"),
    ] {
        store.keep(&m).await.unwrap();
    }
    // Keeping the same message again (a platform sending it twice) changes nothing.
    store.keep(&kept(&alice, "20", "first")).await.unwrap();
    let texts = |list: Vec<Unanswered>| -> Vec<String> {
        list.into_iter()
            .map(|m| String::from_utf8(m.message).unwrap())
            .collect()
    };
    let telegram = store.unanswered(Platform::Telegram).await.unwrap();
    assert_eq!(telegram[0].user, alice);
    assert_eq!(telegram[0].id, "20");
    assert_eq!(texts(telegram), ["first", "second", "third"]);
    assert_eq!(
        texts(store.unanswered(Platform::Discord).await.unwrap()),
        ["elsewhere"]
    );
    // Answering needs the right person: Bob cannot answer away Alice's message.
    store.answered(&bob, "20").await.unwrap();
    store.answered(&alice, "20").await.unwrap();
    assert_eq!(
        texts(store.unanswered(Platform::Telegram).await.unwrap()),
        ["second", "third"]
    );
    assert_eq!(store.erase_user(&alice).await.unwrap(), 1);
    assert_eq!(
        texts(store.unanswered(Platform::Telegram).await.unwrap()),
        ["second"]
    );
}

/// The settings part of the suite, for a [`SettingsStore`] on its own.
pub async fn run_settings<S: SettingsStore>(make: impl Fn() -> S) {
    settings_default_and_replace(&make()).await;
}

#[tokio::test]
async fn memory_store_conforms() {
    run_all(super::memory::InMemoryStore::new).await;
    run_inbox(super::memory::InMemoryStore::new).await;
}

#[tokio::test]
async fn in_memory_reminders_conform() {
    run_reminders(crate::remind::InMemoryReminders::new).await;
}

#[cfg(feature = "sled")]
#[tokio::test]
async fn sled_store_conforms() {
    let make = || {
        super::sled_store::SledStore::from_db(sled::Config::new().temporary(true).open().unwrap())
            .unwrap()
    };
    run_all(make).await;
    run_reminders(make).await;
    run_inbox(make).await;
}

#[cfg(feature = "sled")]
#[tokio::test]
async fn encrypted_sled_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = super::seal::Keyring::open(
        &dir.path().join(super::seal::KEYRING_FILE),
        super::seal::MasterKey::generate().unwrap(),
    )
    .unwrap();
    let make = || {
        super::sled_store::SledStore::from_db_encrypted(
            sled::Config::new().temporary(true).open().unwrap(),
            keyring.clone(),
        )
        .unwrap()
    };
    run_all(make).await;
    run_reminders(make).await;
    run_inbox(make).await;
}
