//! `/forget everything` and `/export` against the sled store, encrypted and not: every kind
//! of data a person has is in their export, and an erase leaves nothing of them, not even
//! readable bytes in the database files.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::tests::{collect, final_text, message, test_time};
use super::*;
use crate::memory::{Memories, MemoryConfig, MemoryStore as _};
use crate::model::scripted::ScriptedModel;
use crate::store::seal::{KEYRING_FILE, Keyring, MasterKey};
use crate::store::sled_store::SledStore;
use crate::types::{Platform, UserKey};

/// Words only alice ever says or owns; none may be readable on disk when encrypted, and
/// none may be left anywhere after her erase.
const ALICE_WORDS: [&str; 5] = [
    "marmalade7731",
    "quokkabees",
    "ferns4411",
    "taxreturn5512",
    "answerxyzzy",
];

/// Bob's, who is never erased.
const BOB_WORDS: [&str; 5] = ["bobjam", "bobbees", "bobferns", "bobtax", "bobanswer"];

struct Setup {
    service: ChatService,
    store: SledStore,
    model: Arc<ScriptedModel>,
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
}

fn setup(encrypted: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let store = if encrypted {
        let ring = Keyring::open(
            &dir.path().join(KEYRING_FILE),
            MasterKey::generate().unwrap(),
        )
        .unwrap();
        SledStore::open_encrypted(&db, ring).unwrap().0
    } else {
        SledStore::open(&db).unwrap()
    };
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let shared = Arc::new(store.clone());
    let clock = Arc::new(crate::clock::ManualClock::new(test_time()));
    let memories = Arc::new(
        Memories::new(
            shared.clone(),
            None,
            MemoryConfig {
                auto_capture: false,
                ..MemoryConfig::default()
            },
        )
        .with_clock(clock.clone()),
    );
    let deps = Deps {
        files: None,
        documents: shared.clone(),
        erasers: vec![shared.clone()],
        inbox: shared.clone(),
        model: model.clone(),
        history: Arc::new(crate::store::cache::CachedHistory::new(
            shared.clone(),
            crate::service::HISTORY_WINDOW,
            1 << 20,
        )),
        settings: Arc::new(crate::store::cache::CachedSettings::new(
            shared.clone(),
            100,
        )),
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
        reminders: shared,
    };
    Setup {
        service: ChatService::new(ServiceConfig::new("m"), deps),
        store,
        model,
        _dir: dir,
        db,
    }
}

async fn say(setup: &Setup, user: &str, text: &str) -> String {
    final_text(&collect(setup.service.handle(message(user, text))).await)
}

/// Gives `user` one of every kind of data, with `words` in each.
async fn fill(setup: &Setup, user: &str, words: [&str; 5]) {
    let key = UserKey::new(Platform::Telegram, user);
    setup.model.push_text(&[words[4]], Duration::ZERO);
    say(setup, user, &format!("my jam is {}", words[0])).await;
    say(setup, user, &format!("/remember I keep {}", words[1])).await;
    let set = say(
        setup,
        user,
        &format!("/remind tomorrow at 9 water the {}", words[2]),
    )
    .await;
    assert!(set.contains('⏰'), "{set}");
    say(setup, user, "/timezone Asia/Seoul").await;
    // A message taken from the platform and not answered yet.
    crate::store::InboxStore::keep(
        &setup.store,
        &crate::store::Unanswered {
            user: key.clone(),
            id: "77".into(),
            message: format!("{{\"text\":\"and about the {}?\"}}", words[3]).into_bytes(),
        },
    )
    .await
    .unwrap();
    crate::files::DocumentStore::put_document(
        &setup.store,
        &crate::files::SavedDocument {
            owner: key.clone(),
            name: format!("{}.pdf", words[3]),
            saved_at: test_time(),
            passages: vec![crate::files::SavedPassage {
                page: Some(1),
                text: format!("refund of {}", words[3]),
            }],
            embedding_model: Some("m".into()),
            vectors: Some(vec![vec![0.5, 0.25]]),
        },
    )
    .await
    .unwrap();
    // A memory with its vector, as an embedding model would have left it.
    let id = setup.store.next_id().await.unwrap();
    let mut memory = setup.service.memories().list(&key).await.unwrap()[0].clone();
    memory.id = id;
    memory.text = format!("vector memory {}", words[1]);
    memory.embedding = Some(vec![0.1, 0.2, 0.3]);
    memory.embedding_model = Some("m".into());
    setup.store.put_memory(&memory).await.unwrap();
    setup.store.flush_all().unwrap();
}

/// Every file of the database and the keyring, as bytes.
fn raw_files(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        out.extend(std::fs::read(entry).unwrap());
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_export_holds_every_kind_of_data_the_store_keeps_about_a_person() {
    for encrypted in [false, true] {
        let setup = setup(encrypted);
        fill(&setup, "1", ALICE_WORDS).await;
        fill(&setup, "2", BOB_WORDS).await;
        let alice = UserKey::new(Platform::Telegram, "1");
        let export = setup.service.export(&alice).await.unwrap();
        let text = export.to_string();
        for word in ALICE_WORDS {
            assert!(text.contains(word), "{word} missing from the export");
        }
        assert!(!text.contains("bob"), "bob's data in alice's export");
        // Each tree that holds something of alice's is covered by the export. A tree this
        // match does not know is a new kind of data: add it to the export and here.
        let entries = setup.store.person_entries(&alice).unwrap();
        assert!(!entries.is_empty());
        let count = |tree: &str| entries.iter().filter(|(t, _)| t == tree).count();
        let len = |field: &str| export[field].as_array().map(Vec::len).unwrap_or(0);
        for (tree, _) in &entries {
            match tree.as_str() {
                "turns" => {
                    let turns: usize = export["conversations"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["turns"].as_array().unwrap().len())
                        .sum();
                    assert_eq!(turns, count("turns"));
                }
                "conversations" => assert!(len("conversations") >= count("conversations")),
                "settings" => assert_eq!(export["settings"]["timezone"], "Asia/Seoul"),
                "memories" => assert_eq!(len("memories"), count("memories")),
                "memory_vectors" => {
                    let with_vectors = export["memories"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|m| m["embedding"].is_array())
                        .count();
                    assert_eq!(with_vectors, count("memory_vectors"));
                }
                "reminders" => assert_eq!(len("reminders"), count("reminders")),
                "reminder_ids" => assert!(len("reminders") > 0),
                "documents" => {
                    assert_eq!(len("documents"), count("documents"));
                    assert!(export["documents"][0]["vectors"].is_array());
                }
                "inbox" => {
                    assert_eq!(len("unanswered"), count("inbox"));
                    assert!(export["unanswered"][0]["message"]["text"].is_string());
                }
                other => panic!("the store keeps {other} about a person, the export does not"),
            }
        }
    }
}

#[tokio::test]
async fn forget_everything_asks_then_leaves_nothing_of_the_person() {
    for encrypted in [false, true] {
        let setup = setup(encrypted);
        fill(&setup, "1", ALICE_WORDS).await;
        fill(&setup, "2", BOB_WORDS).await;
        let alice = UserKey::new(Platform::Telegram, "1");
        let bob = UserKey::new(Platform::Telegram, "2");
        let before_bob = setup.service.export(&bob).await.unwrap();

        let asked = say(&setup, "1", "/forget everything").await;
        assert!(asked.contains("/forget everything confirm"), "{asked}");
        assert!(asked.contains("2 memories"), "{asked}");
        assert!(!setup.store.person_entries(&alice).unwrap().is_empty());

        let done = say(&setup, "1", "/forget everything confirm").await;
        assert!(done.contains("2 memories"), "{done}");
        assert!(
            setup.store.person_entries(&alice).unwrap().is_empty(),
            "left: {:?}",
            setup.store.person_entries(&alice).unwrap()
        );
        let export = setup.service.export(&alice).await.unwrap();
        for field in ["memories", "reminders", "documents", "conversations"] {
            assert_eq!(export[field], serde_json::json!([]), "{field}");
        }
        assert_eq!(export["settings"]["timezone"], serde_json::Value::Null);
        let mut after_bob = setup.service.export(&bob).await.unwrap();
        after_bob["exported_at"] = before_bob["exported_at"].clone();
        assert_eq!(after_bob, before_bob, "bob's data changed");
        assert_eq!(
            say(&setup, "1", "/forget everything").await,
            crate::lang::t(crate::lang::Lang::En, "forget-nothing-at-all")
        );
        setup.store.flush_all().unwrap();
        if encrypted {
            // Nothing of alice's was ever readable on disk, and her key is gone.
            let raw = raw_files(setup.db.parent().unwrap());
            for word in ALICE_WORDS.iter().chain(BOB_WORDS.iter()) {
                assert!(!contains(&raw, word), "{word} readable in the files");
            }
            let keyring =
                std::fs::read_to_string(setup.db.parent().unwrap().join(KEYRING_FILE)).unwrap();
            assert!(!keyring.contains("telegram:1\""), "{keyring}");
            assert!(keyring.contains("telegram:2\""));
        }
    }
}
