//! The owner's notes (HEARTH_NOTES) through the whole bot: answers with sources, a vault
//! followed while the bot runs, nothing for groups or people the vault is not shared with,
//! and `hearth notes` in the terminal while the bot runs.

use std::path::{Path, PathBuf};

use hearth_tests::ollama::Script;
use serde_json::Value;

use crate::util::*;

const BACKUP: &str = "---\ntags: [homelab]\n---\n# NAS\n## Restic schedule\nRestic backs up the NAS every night at 02:00 through a systemd timer and keeps 7 daily snapshots.\n";

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A harness whose bot reads a vault (Alice, the first allowed user, is its owner).
fn with_vault(h: Harness) -> (Harness, PathBuf) {
    let vault = h.data.path().join("Obsidian");
    write(&vault, "NAS/Backup.md", BACKUP);
    write(&vault, ".obsidian/app.json", "{}");
    let notes = format!("main={}", vault.display());
    (h.set("HEARTH_NOTES", &notes), vault)
}

fn system_prompts(h: &Harness) -> Vec<String> {
    h.ollama
        .requests()
        .iter()
        .map(|r| {
            r.body["messages"][0]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_question_is_answered_from_the_notes_with_its_source() {
    let (h, _vault) = with_vault(Harness::new().await.set("HEARTH_TELEGRAM_GROUPS", "true"));
    let bot = h.start_bot().await;
    bot.wait_for_log("notes indexed", WAIT).await;

    h.ollama.push(Script::pieces(&[
        "Your NAS is backed up by restic every night at 02:00, ",
        "started by a systemd timer; it keeps 7 daily snapshots.",
    ]));
    h.tg.send_private(ALICE, "Alice", "how did I set up the backup on the NAS?");
    let answer = h.reply_containing(ALICE, "Sources:").await;
    assert!(
        answer.ends_with("Sources: NAS/Backup.md › Restic schedule"),
        "{answer}"
    );
    let prompt = &system_prompts(&h)[0];
    assert!(
        prompt.contains("[Backup › NAS › Restic schedule] Restic backs up the NAS"),
        "{prompt}"
    );

    // An answer that uses no note carries no sources.
    h.tg.send_private(ALICE, "Alice", "what is the capital of France?");
    let plain = h.reply_containing(ALICE, "echo: what is the capital").await;
    assert!(!plain.contains("Sources"), "{plain}");

    // Bob is allowed to use the bot but the vault is not shared with him.
    h.tg.send_private(BOB, "Bob", "how did I set up the backup on the NAS?");
    h.reply_containing(BOB, "echo: how did I set up").await;
    // Nor does a group get the owner's notes, even when the owner asks there.
    h.tg.send_group(
        -1005,
        ALICE,
        "Alice",
        "@hearth_test_bot how is the NAS backup set up?",
        None,
    );
    h.tg.wait_for_message(-1005, WAIT, |m| m.text.contains("echo:"))
        .await;
    let prompts = system_prompts(&h);
    assert_eq!(prompts.len(), 4);
    for prompt in &prompts[2..] {
        assert!(!prompt.contains("Restic"), "{prompt}");
    }
}

#[tokio::test]
async fn a_note_written_while_the_bot_runs_becomes_findable() {
    let (h, vault) = with_vault(Harness::new().await);
    let bot = h.start_bot().await;
    bot.wait_for_log("notes indexed", WAIT).await;
    h.tg.send_private(ALICE, "Alice", "/notes quokka");
    h.reply_containing(ALICE, "Nothing in the notes matches")
        .await;

    write(
        &vault,
        "Animals/Quokka.md",
        "# Rottnest\nQuokkas live on Rottnest Island.\n",
    );
    bot.wait_for_log("notes changed; index updated", WAIT).await;
    h.tg.send_private(ALICE, "Alice", "/notes quokka");
    let found = h.reply_containing(ALICE, "Quokka").await;
    assert!(found.contains("Animals/Quokka"), "{found}");
    assert!(found.contains("Rottnest Island"), "{found}");

    // /notes alone: the vault and its counts.
    h.tg.send_private(ALICE, "Alice", "/notes");
    let overview = h.reply_containing(ALICE, "main:").await;
    assert!(overview.contains("main: 2 notes"), "{overview}");
    // Bob sees none of it.
    h.tg.send_private(BOB, "Bob", "/notes quokka");
    h.reply_containing(BOB, "has not shared any notes with you")
        .await;
    assert!(h.ollama.requests().is_empty());
}

#[tokio::test]
async fn the_terminal_searches_and_indexes_while_the_bot_runs() {
    let (h, vault) = with_vault(Harness::new().await);
    write(
        &vault,
        "Daily/2024-03-05.md",
        "Met Jin about the restic restore test.",
    );
    let bot = h.start_bot().await;
    bot.wait_for_log("notes indexed", WAIT).await;

    let mut search = h.spawn(&[
        "notes", "search", "restic", "schedule", "--json", "--limit", "5",
    ]);
    assert_eq!(search.wait(WAIT).await, Some(0), "{}", search.log());
    let log = search.log();
    let json = &log[log.find('[').unwrap()..=log.rfind(']').unwrap()];
    let hits: Vec<Value> = serde_json::from_str(json).unwrap();
    assert_eq!(hits[0]["path"], "NAS/Backup.md", "{json}");
    assert_eq!(hits[0]["vault"], "main");
    assert_eq!(hits[0]["heading"], "NAS › Restic schedule");
    assert!(hits[0]["text"].as_str().unwrap().contains("02:00"));
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    assert!(
        hits.iter().any(|h| h["path"] == "Daily/2024-03-05.md"),
        "{json}"
    );
    for hit in &hits {
        let mut keys: Vec<&str> = hit
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(keys, ["heading", "path", "score", "text", "vault"]);
    }

    // Indexing goes through the running bot, which holds the index.
    let mut index = h.spawn(&["notes", "index"]);
    assert_eq!(index.wait(WAIT).await, Some(0), "{}", index.log());
    assert!(
        index.log().contains("The running bot updated the index"),
        "{}",
        index.log()
    );
    assert!(
        index.log().contains("main: 2 notes (0 new or changed"),
        "{}",
        index.log()
    );

    let mut status = h.spawn(&["notes", "status"]);
    assert_eq!(status.wait(WAIT).await, Some(0), "{}", status.log());
    assert!(status.log().contains("main (Obsidian"), "{}", status.log());
    assert!(status.log().contains("2 notes"), "{}", status.log());
}

#[tokio::test]
async fn the_terminal_indexes_with_a_summary_when_no_bot_runs_and_doctor_checks_vaults() {
    let (h, vault) = with_vault(Harness::new().await);
    std::fs::write(vault.join("binary.md"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    write(&vault, "img/photo.png", "not really a png");
    let mut index = h.spawn(&["notes", "index", "--vault", "main"]);
    assert_eq!(index.wait(WAIT).await, Some(0), "{}", index.log());
    let log = index.log();
    assert!(
        log.contains("main: 1 notes (1 new or changed, 0 removed), 1 passages written, 1 skipped, 1 attachments"),
        "{log}"
    );
    let mut unknown = h.spawn(&["notes", "index", "--vault", "work"]);
    assert_eq!(unknown.wait(WAIT).await, Some(1));
    assert!(
        unknown.log().contains("no vault is called work"),
        "{}",
        unknown.log()
    );

    let mut doctor = h.spawn(&["doctor"]);
    doctor.wait(WAIT).await;
    let log = doctor.log();
    assert!(
        log.lines().any(|l| l.starts_with("PASS")
            && l.contains("notes vault main")
            && l.contains("1 notes")),
        "{log}"
    );
    assert!(
        log.contains("notes vault main is indexed: 1 notes"),
        "{log}"
    );

    let missing = Harness::new()
        .await
        .set("HEARTH_NOTES", "gone=/nonexistent/vault");
    let mut doctor = missing.spawn(&["doctor"]);
    doctor.wait(WAIT).await;
    assert!(
        doctor.log().contains("FAIL  notes vault gone"),
        "{}",
        doctor.log()
    );
}

#[tokio::test]
async fn discord_answers_from_the_notes_in_private_and_never_in_a_public_channel() {
    use crate::discord::{ALICE as DC_ALICE, DiscordHarness};
    use hearth_tests::discord::{CHANNEL, GUILD};
    use serde_json::json;

    let h = DiscordHarness::new().await;
    let vault = h.data.path().join("Obsidian");
    write(&vault, "NAS/Backup.md", BACKUP);
    let h = h.set("HEARTH_NOTES", &format!("main={}", vault.display()));
    let bot = h.start_bot().await;
    bot.wait_for_log("notes indexed", WAIT).await;
    let dm = "400000000000000011";
    let question = json!("how did I set up the backup on the NAS?");

    // The owner (the first allowed Discord user) in a DM: answered from the note, with its source.
    h.ollama.push(Script::pieces(&[
        "Restic backs up your NAS every night at 02:00 ",
        "from a systemd timer and keeps 7 daily snapshots.",
    ]));
    let token =
        h.dc.slash(DC_ALICE, dm, None, "ask", &[("prompt", question.clone())]);
    let texts = h
        .interaction_texts(&token, |t| t.contains("Sources:"))
        .await;
    let answer = texts.last().unwrap();
    assert!(
        answer.ends_with("Sources: NAS/Backup.md › Restic schedule"),
        "{answer}"
    );
    assert!(
        h.ollama.requests()[0].body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("[Backup › NAS › Restic schedule] Restic backs up the NAS"),
        "the passage reached the prompt"
    );

    // `/notes QUERY` lists the passage, only to the asker.
    let token =
        h.dc.slash(DC_ALICE, dm, None, "notes", &[("query", json!("restic"))]);
    let texts = h.interaction_texts(&token, |t| t.contains("Backup")).await;
    assert!(
        texts.last().unwrap().contains("Restic schedule"),
        "{texts:?}"
    );

    // The same question in the server's public channel: no notes in the prompt, no sources.
    let token = h.dc.slash(
        DC_ALICE,
        CHANNEL,
        Some((GUILD, &[])),
        "ask",
        &[("prompt", question)],
    );
    let texts = h.interaction_texts(&token, |t| t.contains("echo:")).await;
    assert!(!texts.last().unwrap().contains("Sources"), "{texts:?}");
    let requests = h.ollama.requests();
    let last = requests.last().unwrap().body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!last.contains("Restic"), "{last}");
    assert_eq!(bot.terminate().await, Some(0));
}

/// With an embedding model (the multilingual one scripts/run.sh uses), a question that shares
/// no word with the note still finds it; the terminal says the vault is searched by meaning.
#[tokio::test]
async fn a_paraphrased_question_finds_the_note_by_meaning() {
    let (h, vault) = with_vault(Harness::new().await.with_multilingual_embeddings());
    write(
        &vault,
        "Garden/Tomatoes.md",
        "# Planting\nTomato seedlings go into the raised bed in May, 60 cm apart.\n",
    );
    let bot = h.start_bot().await;
    bot.wait_for_log("notes embedded", WAIT).await;
    // No word of the question (nor its stem) is in the note: keywords alone find nothing.
    let question = "when to transplant my veggies outdoors";
    h.ollama.push(Script::pieces(&[
        "Your tomato seedlings go into the raised bed in May, 60 cm apart.",
    ]));
    h.tg.send_private(ALICE, "Alice", question);
    let answer = h.reply_containing(ALICE, "Sources:").await;
    assert!(
        answer.ends_with("Sources: Garden/Tomatoes.md › Planting"),
        "{answer}"
    );
    let prompt = &system_prompts(&h)[0];
    assert!(
        prompt.contains("[Tomatoes › Planting] Tomato seedlings"),
        "{prompt}"
    );
    assert!(!prompt.contains("Restic"), "{prompt}");

    let mut search = h.spawn(&["notes", "search", question, "--json", "--limit", "1"]);
    assert_eq!(search.wait(WAIT).await, Some(0), "{}", search.log());
    let log = search.log();
    let json = &log[log.find('[').unwrap()..=log.rfind(']').unwrap()];
    let hits: Vec<Value> = serde_json::from_str(json).unwrap();
    assert_eq!(hits.len(), 1, "{json}");
    assert_eq!(hits[0]["path"], "Garden/Tomatoes.md", "{json}");

    let mut status = h.spawn(&["notes", "status"]);
    assert_eq!(status.wait(WAIT).await, Some(0), "{}", status.log());
    assert!(
        status
            .log()
            .contains("searched by meaning and keywords: 2 passages embedded"),
        "{}",
        status.log()
    );
    assert_eq!(bot.terminate().await, Some(0));
}
