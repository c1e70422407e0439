//! One suite, run against every backend (as matrix-rust-sdk does for its stores).

use chrono::Utc;

use super::memory::MemoryStore;
use super::sled_store::SledStore;
use super::{HistoryStore, SettingsStore, Turn, UserSettings};
use crate::model::Role;
use crate::types::{Platform, ScopeKey, UserKey};

pub(crate) fn turn(role: Role, text: &str) -> Turn {
    Turn {
        role,
        text: text.into(),
        at: Utc::now(),
        conversation: 0,
        message_ids: vec![],
    }
}

fn history_keeps_order_and_limit(store: &dyn HistoryStore) {
    let scope = ScopeKey::new(Platform::Telegram, "5", "5");
    for i in 0..5 {
        store
            .append(&scope, turn(Role::User, &format!("m{i}")))
            .unwrap();
    }
    let recent = store.recent(&scope, 3).unwrap();
    let texts: Vec<_> = recent.iter().map(|t| t.turn.text.as_str()).collect();
    assert_eq!(texts, ["m2", "m3", "m4"]);
    assert!(recent.windows(2).all(|w| w[0].seq < w[1].seq));
}

fn scopes_are_isolated_even_with_shared_prefixes(store: &dyn HistoryStore) {
    let a = ScopeKey::new(Platform::Telegram, "1", "1");
    let b = ScopeKey::new(Platform::Telegram, "1", "10");
    store.append(&a, turn(Role::User, "alice")).unwrap();
    store.append(&b, turn(Role::User, "bob")).unwrap();
    let texts = |s| {
        store
            .recent(s, 10)
            .unwrap()
            .into_iter()
            .map(|t| t.turn.text)
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&a), ["alice"]);
    assert_eq!(texts(&b), ["bob"]);
}

fn reset_starts_a_new_conversation(store: &dyn HistoryStore) {
    let scope = ScopeKey::new(Platform::Discord, "c", "u");
    store.append(&scope, turn(Role::User, "old")).unwrap();
    store.reset(&scope).unwrap();
    assert!(store.recent(&scope, 10).unwrap().is_empty());
    store.append(&scope, turn(Role::User, "new")).unwrap();
    let recent = store.recent(&scope, 10).unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].turn.text, "new");
    assert_eq!(recent[0].turn.conversation, 1);
}

fn message_ids_are_attached(store: &dyn HistoryStore) {
    let scope = ScopeKey::new(Platform::Telegram, "9", "9");
    let seq = store.append(&scope, turn(Role::Assistant, "hi")).unwrap();
    store
        .set_message_ids(&scope, seq, vec!["41".into(), "42".into()])
        .unwrap();
    assert_eq!(
        store.recent(&scope, 1).unwrap()[0].turn.message_ids,
        ["41", "42"]
    );
    assert!(store.set_message_ids(&scope, seq + 1000, vec![]).is_err());
    store.flush().unwrap();
}

fn settings_default_and_replace(store: &dyn SettingsStore) {
    let user = UserKey::new(Platform::Telegram, "3");
    assert_eq!(store.settings(&user).unwrap(), UserSettings::default());
    let chosen = UserSettings {
        model: Some("qwen3:4b".into()),
    };
    store.set_settings(&user, &chosen).unwrap();
    assert_eq!(store.settings(&user).unwrap(), chosen);
    assert_eq!(
        store
            .settings(&UserKey::new(Platform::Discord, "3"))
            .unwrap(),
        UserSettings::default()
    );
}

fn run_all<S: HistoryStore + SettingsStore>(make: impl Fn() -> S) {
    history_keeps_order_and_limit(&make());
    scopes_are_isolated_even_with_shared_prefixes(&make());
    reset_starts_a_new_conversation(&make());
    message_ids_are_attached(&make());
    settings_default_and_replace(&make());
}

#[test]
fn memory_store_conforms() {
    run_all(MemoryStore::new);
}

#[test]
fn sled_store_conforms() {
    run_all(|| SledStore::from_db(sled::Config::new().temporary(true).open().unwrap()).unwrap());
}
