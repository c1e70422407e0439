use crate::util::*;

#[tokio::test]
async fn doctor_passes_against_working_services() {
    let h = Harness::new().await;
    let mut doctor = h.spawn(&["doctor"]);
    assert_eq!(doctor.wait(WAIT).await, Some(0), "{}", doctor.log());
    let log = doctor.log();
    for check in [
        "Ollama at",
        "model 'llama3.2' is installed",
        "Telegram token is valid (@hearth_test_bot)",
        "data directory",
    ] {
        assert!(
            log.lines()
                .any(|l| l.starts_with("PASS") && l.contains(check)),
            "{check}:\n{log}"
        );
    }
}

#[tokio::test]
async fn doctor_asks_an_openai_compatible_server_whether_it_takes_tools() {
    let h = Harness::new().await;
    let url = h.ollama.url();
    let h = h
        .set("HEARTH_MODEL_API", "openai")
        .set("HEARTH_MODEL_URL", &url);
    let mut doctor = h.spawn(&["doctor"]);
    assert_eq!(doctor.wait(WAIT).await, Some(0), "{}", doctor.log());
    let log = doctor.log();
    assert!(
        log.contains("PASS  the OpenAI-compatible server at"),
        "{log}"
    );
    assert!(
        log.contains("NOTE  tools: the server refuses tools for 'llama3.2'")
            && log.contains("--enable-auto-tool-choice"),
        "{log}"
    );

    h.ollama.enable_tools("llama3.2");
    let mut doctor = h.spawn(&["doctor"]);
    assert_eq!(doctor.wait(WAIT).await, Some(0), "{}", doctor.log());
    assert!(
        doctor
            .log()
            .contains("PASS  tools: the server takes tools for 'llama3.2'"),
        "{}",
        doctor.log()
    );
    let offered = h
        .ollama
        .requests()
        .iter()
        .filter(|r| r.body["tools"].is_array())
        .count();
    assert_eq!(offered, 2, "one short request each time");
}

#[tokio::test]
async fn doctor_fails_with_hints() {
    let h = Harness::new()
        .await
        .set("OLLAMA_MODEL", "mistral")
        .set("TELEGRAM_BOT_TOKEN", "1:TEST-secret-token-value");
    let mut doctor = h.spawn(&["doctor"]);
    assert_eq!(doctor.wait(WAIT).await, Some(1));
    let log = doctor.log();
    assert!(
        log.contains("FAIL  model 'mistral' is not installed"),
        "{log}"
    );
    assert!(log.contains("ollama pull mistral"));
    assert!(log.contains("FAIL  Telegram"));
}

#[tokio::test]
async fn configuration_errors_name_the_variable() {
    let h = Harness::new()
        .await
        .set("HEARTH_TELEGRAM_ALLOWED_USERS", "1001,alice");
    let mut bot = h.spawn(&["run"]);
    assert_eq!(bot.wait(WAIT).await, Some(1));
    assert!(
        bot.log()
            .contains("HEARTH_TELEGRAM_ALLOWED_USERS: 'alice' is not a numeric user id"),
        "{}",
        bot.log()
    );
}

#[tokio::test]
async fn run_without_any_platform_says_what_to_set() {
    let h = Harness::new().await.set("TELEGRAM_BOT_TOKEN", "");
    let mut bot = h.spawn(&["run"]);
    assert_eq!(bot.wait(WAIT).await, Some(1));
    assert!(
        bot.log().contains("set TELEGRAM_BOT_TOKEN"),
        "{}",
        bot.log()
    );
}

#[tokio::test]
async fn terminal_chat_uses_the_same_core() {
    let h = Harness::new().await;
    let (url, dir) = (h.ollama.url(), h.data.path().to_owned());
    // The fake Ollama runs on this test's runtime: wait for the process off it.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(hearth_tests::bot::hearth_binary())
            .arg("chat")
            .env_clear()
            .env("OLLAMA_HOST", url)
            .env("OLLAMA_MODEL", "llama3.2")
            .env("HEARTH_DATA_DIR", dir.join("state"))
            .current_dir(&dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(b"hello from the terminal\n/quit\n")?;
                child.wait_with_output()
            })
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success());
    assert!(stdout.contains("echo: hello from the terminal"), "{stdout}");
    // Regression: INFO log lines were printed between the answers.
    for shown in [&stdout, &stderr] {
        assert!(
            !shown.contains("INFO"),
            "log lines in the terminal: {shown}"
        );
    }
    let log = std::fs::read_to_string(h.data.path().join("state/chat.log")).unwrap();
    assert!(log.contains("answered"), "{log}");
}

/// Regression: outside systemd the data directory and its files had the default umask.
#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    h.tg.send_private(ALICE, "Alice", "/remember the spare key is under the mat");
    h.reply_containing(ALICE, "I will remember that").await;
    assert_eq!(bot.terminate().await, Some(0));
    let state = h.data.path().join("state");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700, "data directory");
    let mut checked = 0;
    let mut dirs = vec![state.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                assert_eq!(mode(&path) & 0o077, 0, "{}", path.display());
                dirs.push(path);
            } else {
                assert_eq!(mode(&path) & 0o077, 0, "{}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "the database wrote files");
    // `hearth memory export` writes to stdout; the owner redirects it. Exports the bot
    // sends are never written to disk.
}

/// A broken `.env` line may hold a token: the error names the line and the variable only.
#[tokio::test]
async fn a_broken_env_line_is_reported_without_its_value() {
    let h = Harness::new().await;
    std::fs::write(
        h.data.path().join(".env"),
        "OLLAMA_MODEL=llama3.2\nTELEGRAM_BOT_TOKEN='123456:leaky-secret-value\n",
    )
    .unwrap();
    let mut bot = h.spawn(&["doctor"]);
    assert_eq!(bot.wait(WAIT).await, Some(1));
    let log = bot.log();
    assert!(log.contains(".env line 2"), "{log}");
    assert!(log.contains("TELEGRAM_BOT_TOKEN"), "{log}");
    assert!(!log.contains("leaky-secret-value"), "{log}");
}
