//! Shared set-up: fakes, environment, and a running bot.

use std::time::Duration;

use hearth_tests::bot::BotProcess;
use hearth_tests::ollama::FakeOllama;
use hearth_tests::telegram::FakeTelegram;

pub const TOKEN: &str = "123456:TEST-secret-token-value";
pub const ALICE: i64 = 1001;
pub const BOB: i64 = 1002;
pub const STRANGER: i64 = 6666;
pub const WAIT: Duration = Duration::from_secs(20);

/// `base` with each of `extra` set (later settings override earlier ones).
pub fn with_overrides(
    mut env: Vec<(String, String)>,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    env
}

pub struct Harness {
    pub tg: FakeTelegram,
    pub ollama: FakeOllama,
    pub data: tempfile::TempDir,
    pub extra: Vec<(String, String)>,
}

impl Harness {
    pub async fn new() -> Self {
        Self {
            tg: FakeTelegram::start(TOKEN).await,
            ollama: FakeOllama::start(&["llama3.2", "qwen3:4b"]).await,
            data: tempfile::tempdir().unwrap(),
            extra: Vec::new(),
        }
    }

    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Uses the offline embedding model installed by scripts/install-models.sh.
    pub fn with_embeddings(self) -> Self {
        let (model, runtime) = hearth_tests::models();
        self.set("HEARTH_EMBED_MODEL_DIR", &model.display().to_string())
            .set("ORT_DYLIB_PATH", &runtime.display().to_string())
    }

    /// Uses the multilingual model scripts/run.sh picks unless the bot is English-only
    /// (the Universal Sentence Encoder multilingual, from scripts/install-models.sh).
    pub fn with_multilingual_embeddings(self) -> Self {
        let (_, runtime) = hearth_tests::models();
        let model = hearth_tests::multilingual_model();
        self.set("HEARTH_EMBED_MODEL_DIR", &model.display().to_string())
            .set("ORT_DYLIB_PATH", &runtime.display().to_string())
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let env: Vec<(String, String)> = [
            ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
            ("TELEGRAM_API_URL", self.tg.url.clone()),
            ("OLLAMA_HOST", self.ollama.url()),
            ("OLLAMA_MODEL", "llama3.2".to_owned()),
            (
                "HEARTH_DATA_DIR",
                self.data.path().join("state").display().to_string(),
            ),
            ("HEARTH_TELEGRAM_ALLOWED_USERS", format!("{ALICE},{BOB}")),
            ("HEARTH_TELEGRAM_EDIT_INTERVAL_MS", "200".to_owned()),
            // Capture asks the model a second question after each answer; tests that
            // count requests leave it off, the memory tests turn it on.
            ("HEARTH_MEMORY_AUTO", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        with_overrides(env, &self.extra)
    }

    pub fn spawn(&self, args: &[&str]) -> BotProcess {
        BotProcess::spawn(
            args,
            &self.env(),
            self.data.path(),
            &[TOKEN, "TEST-secret-token-value"],
        )
    }

    /// Starts `hearth run` and waits until it polls Telegram.
    pub async fn start_bot(&self) -> BotProcess {
        let polls_before = self.tg.calls_of("getupdates").len();
        let bot = self.spawn(&["run"]);
        let polling = hearth_tests::eventually(WAIT, || {
            (self.tg.calls_of("getupdates").len() > polls_before).then_some(())
        })
        .await;
        assert!(
            polling.is_some(),
            "the bot never polled; log:\n{}",
            bot.log()
        );
        bot
    }

    /// The final text of the bot's last message in `chat` once it contains `needle`.
    pub async fn reply_containing(&self, chat: i64, needle: &str) -> String {
        self.tg
            .wait_for_message(chat, WAIT, |m| m.text.contains(needle))
            .await
            .text
    }
}
