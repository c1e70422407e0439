use std::time::Duration;

use hearth_tests::ollama::Script;

use crate::util::*;

#[tokio::test]
async fn history_and_settings_survive_a_restart() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "my cat is called Miso");
    h.reply_containing(ALICE, "echo: my cat is called Miso")
        .await;
    h.tg.send_private(ALICE, "Alice", "/model qwen3:4b");
    h.reply_containing(ALICE, "qwen3:4b").await;
    assert_eq!(bot.terminate().await, Some(0));

    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "what is my cat called?");
    h.reply_containing(ALICE, "echo: what is my cat called?")
        .await;
    let last = h.ollama.requests().pop().unwrap();
    assert!(
        last.all_text().contains("my cat is called Miso"),
        "{}",
        last.all_text()
    );
    assert!(last.all_text().contains("echo: my cat is called Miso"));
    assert_eq!(last.model(), "qwen3:4b");
}

#[tokio::test]
async fn shutdown_waits_for_the_reply_in_flight() {
    let h = Harness::new().await;
    h.ollama.push(
        Script::pieces(&["part one, ", "part two, ", "done."])
            .with_delay(Duration::from_millis(400)),
    );
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "tell me slowly");
    hearth_tests::eventually(WAIT, || (!h.ollama.requests().is_empty()).then_some(()))
        .await
        .unwrap();
    assert_eq!(bot.terminate().await, Some(0));
    // The answer was finished and delivered before the process exited.
    let messages = h.tg.messages(ALICE);
    assert_eq!(messages.last().unwrap().text, "part one, part two, done.");
}

#[tokio::test]
async fn shutdown_cancels_a_reply_that_outlives_the_grace_period() {
    let h = Harness::new().await.set("HEARTH_SHUTDOWN_GRACE_SECS", "0");
    h.ollama.push(
        Script::pieces(&["started, ", "never ", "finished"]).with_delay(Duration::from_secs(3)),
    );
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "a very long task");
    h.reply_containing(ALICE, "started").await;
    assert_eq!(bot.terminate().await, Some(0));
    let last = h.tg.messages(ALICE).pop().unwrap();
    assert!(
        last.text.starts_with("started,") && last.text.contains("shutting down"),
        "{}",
        last.text
    );

    // The partial answer was saved: it is part of the next prompt.
    let _bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "go on");
    h.reply_containing(ALICE, "echo: go on").await;
    assert!(
        h.ollama
            .requests()
            .pop()
            .unwrap()
            .all_text()
            .contains("started,")
    );
}

/// Kills `bot` (SIGKILL) once a request is at the model and Telegram has been told every
/// update up to `last` arrived, so it will never send them again.
async fn kill_once_taken(h: &Harness, bot: hearth_tests::bot::BotProcess, last: i64) {
    hearth_tests::eventually(WAIT, || (!h.ollama.requests().is_empty()).then_some(()))
        .await
        .unwrap();
    hearth_tests::eventually(WAIT, || (h.tg.confirmed() > last).then_some(()))
        .await
        .expect("the bot confirmed the updates");
    bot.kill();
}

/// Regression: teloxide tells Telegram an update arrived as soon as it has handed it to the
/// handler, long before the answer; a bot killed in between lost the message for good. Now
/// it is kept in the inbox before Telegram is told, and answered after the restart, once.
#[tokio::test]
async fn a_message_taken_but_not_answered_when_the_bot_is_killed_is_answered_after_the_restart() {
    let h = Harness::new().await;
    h.ollama
        .push(Script::pieces(&["never ", "arrives"]).with_delay(Duration::from_secs(60)));
    let bot = h.start_bot().await;
    let update =
        h.tg.send_private(ALICE, "Alice", "what is the capital of Peru?");
    kill_once_taken(&h, bot, update).await;

    let bot = h.start_bot().await;
    h.reply_containing(ALICE, "echo: what is the capital of Peru?")
        .await;
    bot.wait_for_log("answering messages taken before a restart", WAIT)
        .await;
    // Answered once, and the next message is answered as usual.
    h.tg.send_private(ALICE, "Alice", "thanks");
    h.reply_containing(ALICE, "echo: thanks").await;
    let answers =
        h.tg.messages(ALICE)
            .iter()
            .filter(|m| m.text.contains("capital of Peru"))
            .count();
    assert_eq!(answers, 1, "{:?}", h.tg.messages(ALICE));
    // Let go of once answered: a clean restart answers nothing again.
    assert_eq!(bot.terminate().await, Some(0));
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "still here?");
    h.reply_containing(ALICE, "echo: still here?").await;
    assert!(
        !bot.log()
            .contains("answering messages taken before a restart"),
        "{}",
        bot.log()
    );
    assert_eq!(
        h.tg.messages(ALICE)
            .iter()
            .filter(|m| m.text.contains("capital of Peru"))
            .count(),
        1
    );
}

/// A whole `getUpdates` batch is kept before Telegram is told it arrived: three messages
/// that come in one batch, the bot killed as soon as Telegram is told, all three answered
/// after the restart, once each and in the order they were sent.
#[tokio::test]
async fn a_whole_batch_taken_when_the_bot_is_killed_is_answered_after_the_restart() {
    let h = Harness::new().await;
    h.ollama
        .push(Script::pieces(&["never ", "arrives"]).with_delay(Duration::from_secs(60)));
    // Sent before the bot polls: the first getUpdates returns all three at once.
    let said = ["first of three", "second of three", "third of three"];
    let last = said
        .iter()
        .map(|text| h.tg.send_private(ALICE, "Alice", text))
        .max()
        .unwrap();
    let bot = h.start_bot().await;
    // The first is at the model (which never answers), the other two wait behind it.
    kill_once_taken(&h, bot, last).await;

    let bot = h.start_bot().await;
    h.reply_containing(ALICE, "echo: third of three").await;
    let answers: Vec<String> =
        h.tg.messages(ALICE)
            .iter()
            .map(|m| m.text.clone())
            .filter(|t| t.contains("echo: "))
            .collect();
    assert_eq!(answers.len(), said.len(), "{answers:?}");
    for (answer, text) in answers.iter().zip(said) {
        assert!(answer.contains(text), "{answers:?}");
    }
    assert_eq!(bot.terminate().await, Some(0));
}

/// A tmpfs mounted for one test and unmounted after it.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "48m"); `None` when not root (mounting needs it;
    /// CI and `scripts/test.sh` on a fresh machine run as root).
    fn mount(size: &str) -> Option<Self> {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if !root {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "could not mount a tmpfs as root");
        Some(Tmpfs(dir))
    }

    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

/// Fills the file system `dir` is on until a write fails; returns the filler's path.
fn fill_disk(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0x5a_u8; 64 * 1024];
    while file
        .write_all(&block)
        .and_then(|()| file.sync_data())
        .is_ok()
    {}
    path
}

/// Disk full (the data directory on a small tmpfs that fills up): every memory the bot
/// acknowledged is kept and the first it cannot save is refused plainly, never acknowledged;
/// nothing crashes; once there is room again the bot saves as before, and after a restart the
/// store opens with everything it acknowledged (checked in the person's export).
#[tokio::test]
async fn a_full_disk_is_said_plainly_and_the_bot_recovers_without_corruption() {
    let Some(disk) = Tmpfs::mount("48m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let state = disk.path().join("state").display().to_string();
    let h = Harness::new().await.set("HEARTH_DATA_DIR", &state);
    let mut bot = h.start_bot().await;
    let replies = || h.tg.messages(ALICE);
    let remember = |text: String| {
        let before = replies().len();
        h.tg.send_private(ALICE, "Alice", &format!("/remember {text}"));
        async move {
            hearth_tests::eventually(WAIT, || replies().get(before).map(|m| m.text.clone()))
                .await
                .expect("an answer to /remember")
        }
    };
    let first = remember("my bike is blue".into()).await;
    assert!(first.contains("(id m"), "{first}");

    // Fill the disk, then keep writing memories (sled fills the pages it has first) until
    // one cannot be saved.
    let filler = fill_disk(disk.path());
    let mut kept = vec!["my bike is blue".to_owned()];
    let mut refused = None;
    for i in 0..60 {
        let text = format!("note {i:02} {}", "about a full disk ".repeat(25));
        let answer = remember(text.clone()).await;
        if answer.contains("(id m") {
            kept.push(format!("note {i:02}"));
        } else {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("the full disk was never noticed");
    assert!(refused.contains("could not save"), "{refused}");
    // sled refuses every write after a failed one until the database is opened again: the
    // bot says why and stops, for the service manager to start it again (the systemd unit
    // restarts on failure, compose unless stopped).
    assert_eq!(bot.wait(WAIT).await, Some(1), "{}", bot.log());
    assert!(bot.log().contains("is the disk full?"), "{}", bot.log());

    std::fs::remove_file(&filler).unwrap();
    let bot = h.start_bot().await;
    let after = remember("my boat is red".into()).await;
    assert!(
        after.contains("(id m"),
        "not saved with room again: {after}"
    );
    kept.push("my boat is red".into());
    assert_eq!(bot.terminate().await, Some(0));

    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/export");
    let export = hearth_tests::eventually(WAIT, || {
        h.tg.documents()
            .into_iter()
            .find(|(name, _)| name.ends_with(".json"))
            .map(|(_, bytes)| String::from_utf8(bytes).unwrap())
    })
    .await
    .unwrap_or_else(|| panic!("no export; log:\n{}", bot.log()));
    for memory in &kept {
        assert!(
            export.contains(memory.as_str()),
            "{memory} was acknowledged and is gone"
        );
    }
    assert!(!bot.log().contains("panicked"), "{}", bot.log());
}
