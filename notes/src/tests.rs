//! The whole path on small vaults the tests write: scan, read, index, search, update.

use std::path::Path;
use std::sync::Arc;

use bot_core::notes::{NotesSource, Reader};
use bot_core::{Platform, UserKey};
use proptest::prelude::*;

use crate::access::{Users, VaultAccess};
use crate::indexer::VaultConfig;
use crate::scan::Kind;
use crate::service::{Notes, NotesPort, Vault};

fn write(root: &Path, path: &str, content: &[u8]) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn vault(name: &str, root: &Path) -> Vault {
    Vault {
        config: VaultConfig {
            name: name.into(),
            root: root.to_path_buf(),
        },
        access: VaultAccess {
            users: Users::Only(vec![UserKey::new(Platform::Telegram, "1")]),
            shared_chats: false,
        },
    }
}

fn update(notes: &Notes) -> crate::Summary {
    let mut summaries = notes.update(None, &|_, _, _| {}).unwrap();
    summaries.remove(0).unwrap()
}

fn paths(notes: &Notes, query: &str) -> Vec<String> {
    notes
        .search(query, None, 10)
        .unwrap()
        .into_iter()
        .map(|h| h.path)
        .collect()
}

#[test]
fn an_obsidian_vault_is_searchable_and_follows_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    write(&root, "NAS/Backup.md", b"---\ntags: [homelab]\n---\n# Restic schedule\nRestic backs up the NAS every night at 02:00.\n");
    write(&root, "Garden.md", b"# Tomatoes\nPlant them in May.\n");
    write(&root, "Broken.md", b"caf\xe9 au lait");
    let notes = Notes::open(&dir.path().join("index"), vec![vault("main", &root)]).unwrap();
    let first = update(&notes);
    assert_eq!((first.notes, first.changed, first.skipped), (2, 2, 1));
    let hits = notes.search("how do my backups run?", None, 5).unwrap();
    assert_eq!(hits[0].path, "NAS/Backup.md");
    assert_eq!(hits[0].heading, "Restic schedule");
    assert_eq!(hits[0].vault, "main");
    assert!(hits[0].text.contains("02:00"));
    // Tags are searchable.
    assert_eq!(paths(&notes, "homelab"), ["NAS/Backup.md"]);

    // Nothing changed: nothing is read again.
    let again = update(&notes);
    assert_eq!((again.changed, again.removed), (0, 0));

    // An edit, a new note, a deletion.
    write(&root, "Garden.md", b"# Peppers\nPeppers go out in June.\n");
    write(
        &root,
        "Recipes/Kimchi.md",
        b"Napa cabbage, salt, gochugaru.",
    );
    std::fs::remove_file(root.join("NAS/Backup.md")).unwrap();
    let changed = update(&notes);
    assert_eq!((changed.notes, changed.changed, changed.removed), (2, 2, 1));
    assert!(paths(&notes, "restic").is_empty());
    assert!(paths(&notes, "tomatoes").is_empty());
    assert_eq!(paths(&notes, "peppers"), ["Garden.md"]);
    assert_eq!(paths(&notes, "gochugaru"), ["Recipes/Kimchi.md"]);

    let status = notes.status();
    assert_eq!(status[0].notes, 2);
    assert_eq!(status[0].kind, Some(Kind::Obsidian));
    assert_eq!(status[0].skipped[0].path, "Broken.md");
    assert!(status[0].skipped[0].reason.contains("UTF-8"));
}

#[test]
fn the_index_survives_reopening_and_a_lost_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    write(&root, "a.md", b"alpaca wool socks");
    let index = dir.path().join("index");
    {
        let notes = Notes::open(&index, vec![vault("main", &root)]).unwrap();
        update(&notes);
    }
    let notes = Notes::open(&index, vec![vault("main", &root)]).unwrap();
    assert_eq!(paths(&notes, "alpaca"), ["a.md"]);
    assert_eq!(update(&notes).changed, 0);
    drop(notes);
    std::fs::remove_dir_all(index.join("index")).unwrap();
    let notes = Notes::open(&index, vec![vault("main", &root)]).unwrap();
    assert_eq!(
        update(&notes).changed,
        1,
        "a manifest without its index re-reads every note"
    );
    assert_eq!(paths(&notes, "alpaca"), ["a.md"]);
}

#[test]
fn korean_notes_match_words_with_particles() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    write(
        &root,
        "여행/서울.md",
        "# 맛집\n서울에 가면 을지로 노가리 골목에 간다.".as_bytes(),
    );
    write(
        &root,
        "여행/부산.md",
        "# 바다\n부산에서는 해운대에 간다.".as_bytes(),
    );
    let notes = Notes::open(&dir.path().join("index"), vec![vault("main", &root)]).unwrap();
    update(&notes);
    assert_eq!(paths(&notes, "서울 맛집"), ["여행/서울.md"]);
    assert_eq!(paths(&notes, "해운대"), ["여행/부산.md"]);
}

#[test]
fn a_logseq_graph_resolves_block_references_across_pages() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("graph");
    write(&root, "logseq/config.edn", b"{:hidden [\"private\"]}");
    write(
        &root,
        "pages/Router.md",
        b"- The router admin password is in the safe\n  id:: 6571a0c2-1b2c-4d5e-8f90-123456789abc\n",
    );
    write(
        &root,
        "journals/2024_03_05.md",
        b"- Reset the wifi; remember ((6571a0c2-1b2c-4d5e-8f90-123456789abc))\n",
    );
    write(&root, "private/secret.md", b"- zebra");
    let notes = Notes::open(&dir.path().join("index"), vec![vault("work", &root)]).unwrap();
    update(&notes);
    let hits = notes.search("wifi", None, 5).unwrap();
    assert_eq!(hits[0].path, "journals/2024_03_05.md");
    assert!(
        hits[0].text.contains("admin password is in the safe"),
        "{}",
        hits[0].text
    );
    assert_eq!(hits[0].date.unwrap().to_string(), "2024-03-05");
    assert!(paths(&notes, "zebra").is_empty());
    assert_eq!(notes.status()[0].kind, Some(Kind::Logseq));
}

#[tokio::test]
async fn readers_see_only_the_vaults_allowed_to_them_and_chat() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    write(&a, "owner.md", b"quokka facts");
    write(&b, "team.md", b"quokka roster");
    let mut team = vault("team", &b);
    team.access = VaultAccess {
        users: Users::Everyone,
        shared_chats: true,
    };
    let notes = Notes::open(&dir.path().join("index"), vec![vault("own", &a), team]).unwrap();
    notes.update(None, &|_, _, _| {}).unwrap();
    let port = NotesPort(Arc::new(notes));
    let owner = UserKey::new(Platform::Telegram, "1");
    let other = UserKey::new(Platform::Telegram, "2");
    let found = |user: &UserKey, shared: bool| {
        let port = port.clone();
        let user = user.clone();
        async move {
            let reader = Reader {
                user: &user,
                shared_chat: shared,
            };
            let mut paths: Vec<String> = port
                .search(reader, "quokka", 10)
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.path)
                .collect();
            paths.sort();
            paths
        }
    };
    assert_eq!(found(&owner, false).await, ["owner.md", "team.md"]);
    assert_eq!(found(&owner, true).await, ["team.md"]);
    assert_eq!(found(&other, false).await, ["team.md"]);
    let terminal = UserKey::new(Platform::Terminal, "me");
    assert_eq!(found(&terminal, false).await, ["owner.md", "team.md"]);
}

#[test]
fn a_missing_vault_folder_is_reported_and_keeps_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    write(&root, "a.md", b"narwhal");
    let notes = Notes::open(&dir.path().join("index"), vec![vault("main", &root)]).unwrap();
    update(&notes);
    std::fs::rename(&root, dir.path().join("unmounted")).unwrap();
    let result = notes.update(None, &|_, _, _| {}).unwrap();
    assert!(result[0].is_err());
    assert!(notes.status()[0].error.is_some());
    assert_eq!(paths(&notes, "narwhal"), ["a.md"], "still searchable");
}

proptest! {
    #[test]
    fn no_note_makes_a_reader_panic(text in "\\PC{0,400}", org in any::<bool>()) {
        let note = crate::obsidian::read("x.md", &text);
        let _ = note.passages();
        let syntax = if org { crate::logseq::Syntax::Org } else { crate::logseq::Syntax::Markdown };
        let note = crate::logseq::read("pages/x.md", &text, syntax);
        let _ = note.passages();
    }

    #[test]
    fn outline_shaped_input_never_panics(lines in proptest::collection::vec(("[ \\t]{0,6}", "(- |\\* |\\*\\* |)", "[a-z:#\\[\\]()`{}-]{0,12}"), 0..30)) {
        let text: String = lines.iter().map(|(i, b, t)| format!("{i}{b}{t}\n")).collect();
        let _ = crate::logseq::read("pages/x.md", &text, crate::logseq::Syntax::Markdown).passages();
        let _ = crate::logseq::read("pages/x.org", &text, crate::logseq::Syntax::Org).passages();
        let _ = crate::obsidian::read("x.md", &text).passages();
    }
}

/// A tiny embedding model for tests: words map to a few "meanings", so a question can match a
/// passage it shares no word with. Counts the texts it embeds.
struct Meanings {
    name: &'static str,
    texts: std::sync::atomic::AtomicUsize,
}

impl Meanings {
    fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            texts: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    fn embedded(&self) -> usize {
        self.texts.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Texts embedded while `f` runs (searches embed their question too).
    fn during(&self, f: impl FnOnce()) -> usize {
        let before = self.embedded();
        f();
        self.embedded() - before
    }
}

impl bot_core::memory::embed::Embedder for Meanings {
    fn embed(
        &self,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, bot_core::memory::embed::EmbedError> {
        self.texts
            .fetch_add(texts.len(), std::sync::atomic::Ordering::SeqCst);
        Ok(texts
            .iter()
            .map(|text| {
                let mut v = [0.0_f32; 4];
                for word in text.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
                    match word {
                        "restic" | "backup" | "backups" | "archive" | "copies" | "snapshot" => {
                            v[0] += 1.0
                        }
                        "tomatoes" | "peppers" | "garden" | "vegetables" | "seedlings" => {
                            v[1] += 1.0
                        }
                        "" => {}
                        _ => v[3] += 0.02,
                    }
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.iter().map(|x| x / norm).collect()
            })
            .collect())
    }

    fn describe(&self) -> String {
        self.name.into()
    }
}

fn with_meanings(dir: &Path, root: &Path, model: &Arc<Meanings>) -> Notes {
    Notes::open(&dir.join("index"), vec![vault("main", root)])
        .unwrap()
        .with_embedder(Arc::clone(model) as Arc<dyn bot_core::memory::embed::Embedder>)
        .unwrap()
}

#[test]
fn a_question_sharing_no_word_with_the_note_finds_it_by_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    write(
        &root,
        "NAS/Backup.md",
        b"# Restic schedule\nRestic backs up the NAS every night at 02:00.\n",
    );
    write(&root, "Garden.md", b"# Tomatoes\nPlant them in May.\n");
    let question = "where do my archive copies go?";
    let keywords = Notes::open(&dir.path().join("keywords"), vec![vault("main", &root)]).unwrap();
    update(&keywords);
    assert!(paths(&keywords, question).is_empty(), "no shared keyword");

    let model = Meanings::new("meanings-1");
    let notes = with_meanings(dir.path(), &root, &model);
    assert_eq!(
        model.during(|| drop(update(&notes))),
        2,
        "each passage once"
    );
    assert_eq!(notes.status()[0].embedded, Some(2));
    let hits = notes.search(question, None, 5).unwrap();
    assert_eq!(hits.len(), 1, "the garden is not near enough: {hits:?}");
    assert_eq!(hits[0].path, "NAS/Backup.md");
    assert_eq!(hits[0].heading, "Restic schedule");
    assert!(hits[0].score > 0.5);
    // Keywords still count: an exact word picks its note first.
    assert_eq!(paths(&notes, "tomatoes")[0], "Garden.md");
    assert!(
        paths(&notes, "what is the weather like").is_empty(),
        "nothing near enough and no keyword: nothing, not the nearest passages"
    );
}

#[test]
fn vectors_are_cached_by_text_and_only_changed_passages_are_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    write(
        &root,
        "a.md",
        b"# One\nrestic backup\n# Two\ngarden peppers\n",
    );
    write(&root, "b.md", b"# Three\nseedlings\n");
    let model = Meanings::new("meanings-1");
    {
        let notes = with_meanings(dir.path(), &root, &model);
        assert_eq!(model.during(|| drop(update(&notes))), 3);
    }
    // Reopened (a restart): nothing is embedded again.
    let notes = with_meanings(dir.path(), &root, &model);
    assert_eq!(model.during(|| drop(update(&notes))), 0);
    // One section of a.md changes: only it is embedded; moving a note to another folder
    // costs nothing (a new name is a new title, which is part of what is embedded).
    write(
        &root,
        "a.md",
        b"# One\nrestic backup\n# Two\ngarden tomatoes\n",
    );
    std::fs::create_dir(root.join("moved")).unwrap();
    std::fs::rename(root.join("b.md"), root.join("moved/b.md")).unwrap();
    assert_eq!(model.during(|| drop(update(&notes))), 1);
    let mut found = paths(&notes, "vegetables");
    found.sort();
    assert_eq!(found, ["a.md", "moved/b.md"]);
}

#[test]
fn another_model_embeds_again_and_keywords_serve_until_it_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    write(&root, "NAS/Backup.md", b"# Restic\nRestic runs nightly.\n");
    let first = Meanings::new("meanings-1");
    {
        let notes = with_meanings(dir.path(), &root, &first);
        update(&notes);
        assert_eq!(paths(&notes, "archive copies"), ["NAS/Backup.md"]);
    }
    let second = Meanings::new("meanings-2");
    let notes = with_meanings(dir.path(), &root, &second);
    notes.update_keywords(None, &|_, _, _| {}).unwrap();
    assert_eq!(notes.status()[0].embedded, Some(0));
    // The first model's vectors are not used: by keywords only until the new ones are made.
    assert!(paths(&notes, "archive copies").is_empty());
    assert_eq!(paths(&notes, "restic"), ["NAS/Backup.md"]);
    let embedded = second.during(|| {
        assert_eq!(notes.embed_pending(&|_, _| {}).unwrap().passages, 1);
    });
    assert_eq!(embedded, 1);
    assert_eq!(paths(&notes, "archive copies"), ["NAS/Backup.md"]);
}

#[test]
fn a_stopped_embedding_pass_goes_on_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    write(&root, "a.md", b"restic backup");
    let model = Meanings::new("meanings-1");
    {
        let notes = with_meanings(dir.path(), &root, &model);
        notes.stop();
        assert_eq!(
            model.during(|| drop(update(&notes))),
            0,
            "stopped before the first batch"
        );
        assert_eq!(paths(&notes, "restic"), ["a.md"], "keywords serve");
    }
    let notes = with_meanings(dir.path(), &root, &model);
    assert_eq!(model.during(|| drop(update(&notes))), 1);
    assert_eq!(paths(&notes, "archive"), ["a.md"]);
}
