//! Voice notes: offline, in-process transcription.
//!
//! - `decode` (feature `opus`): OGG/Opus -> 16 kHz mono samples (ogg + libopus),
//!   with a duration limit checked while decoding.
//! - [`Transcriber`]: the speech-to-text port; `whisper::WhisperTranscriber`
//!   (feature `whisper`) runs whisper.cpp (whisper-rs) on a model loaded once, and
//!   [`ScriptedTranscriber`] stands in for it in tests.
//! - [`Voice`]: the bounded worker the chat service uses: decodes off the async
//!   runtime, runs at most `concurrency` transcriptions at once and tells the
//!   waiting ones their place in the queue.
//!
//! Everything happens on the owner's machine: no cloud, no ffmpeg, no
//! external program.

#[cfg(feature = "opus")]
pub mod decode;
#[cfg(feature = "whisper")]
pub mod whisper;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

#[cfg(feature = "opus")]
pub use decode::decode_ogg_opus;

/// Whisper's sample rate: every decoder produces 16 kHz mono.
pub const SAMPLE_RATE: u32 = 16_000;

/// Without the `opus` feature there is no decoder: every note is refused clearly.
#[cfg(not(feature = "opus"))]
pub fn decode_ogg_opus(_bytes: &[u8], _max_seconds: f64) -> Result<Vec<f32>, VoiceError> {
    Err(VoiceError::Unsupported(
        "OGG/Opus (this build has no audio decoder)".into(),
    ))
}

/// What can go wrong with a voice note.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VoiceError {
    /// The file is in a format the decoder does not read.
    #[error("unsupported audio format: {0}")]
    Unsupported(String),
    /// The file is damaged or not audio.
    #[error("broken audio: {0}")]
    Corrupt(String),
    /// The audio contains no samples.
    #[error("the audio is empty")]
    Empty,
    /// The audio is longer than allowed.
    #[error("the audio is longer than {max_seconds} s")]
    TooLong {
        /// The limit.
        max_seconds: f64,
    },
    /// The speech model failed.
    #[error("transcription failed: {0}")]
    Model(String),
}

impl VoiceError {
    /// A short sentence for the user in `lang` (the error itself is logged).
    pub fn user_message_in(&self, lang: crate::lang::Lang) -> String {
        use crate::lang::{t, tr};
        match self {
            VoiceError::Unsupported(format) => tr(lang, "voice-unsupported", &[("format", format)]),
            VoiceError::Corrupt(_) => t(lang, "voice-corrupt"),
            VoiceError::Empty => t(lang, "voice-empty"),
            VoiceError::TooLong { max_seconds } => tr(
                lang,
                "voice-too-long",
                &[("minutes", &format_minutes(*max_seconds))],
            ),
            VoiceError::Model(_) => t(lang, "voice-failed"),
        }
    }
}

fn format_minutes(seconds: f64) -> String {
    let minutes = seconds / 60.0;
    if (minutes - minutes.round()).abs() < 0.01 {
        format!("{}", minutes.round() as u64)
    } else {
        format!("{minutes:.1}")
    }
}

/// The speech-to-text port. Blocking; the [`Voice`] worker calls it off the runtime.
pub trait Transcriber: Send + Sync {
    /// Transcribes 16 kHz mono samples into text. `language` is a code such as `en` or
    /// `ko`, `auto` to detect it, or `None` for the model's own setting.
    fn transcribe(&self, samples: &[f32], language: Option<&str>) -> Result<String, VoiceError>;

    /// Whether the model hears other languages than English (Whisper's multilingual models).
    fn multilingual(&self) -> bool;

    /// A short description for logs and `hearth doctor`.
    fn describe(&self) -> String;
}

/// A transcriber for tests: answers with a fixed text (after an optional pause), or fails.
#[derive(Debug)]
pub struct ScriptedTranscriber {
    answer: Result<String, String>,
    delay: Duration,
    multilingual: bool,
    seen: std::sync::Mutex<Vec<usize>>,
    languages: std::sync::Mutex<Vec<Option<String>>>,
}

impl ScriptedTranscriber {
    /// Always answers `text`.
    pub fn answering(text: &str) -> Self {
        Self {
            answer: Ok(text.to_owned()),
            delay: Duration::ZERO,
            multilingual: false,
            seen: Default::default(),
            languages: Default::default(),
        }
    }

    /// The same, taking `delay` for each transcription (to see the queue).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Always fails with `error`.
    pub fn failing(error: &str) -> Self {
        Self {
            answer: Err(error.to_owned()),
            delay: Duration::ZERO,
            multilingual: false,
            seen: Default::default(),
            languages: Default::default(),
        }
    }

    /// The same, posing as a multilingual model.
    pub fn multilingual(mut self) -> Self {
        self.multilingual = true;
        self
    }

    /// The sample counts it was given, in order.
    pub fn seen(&self) -> Vec<usize> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The languages it was asked for, in order.
    pub fn languages(&self) -> Vec<Option<String>> {
        self.languages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Transcriber for ScriptedTranscriber {
    fn transcribe(&self, samples: &[f32], language: Option<&str>) -> Result<String, VoiceError> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(samples.len());
        self.languages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(language.map(str::to_owned));
        std::thread::sleep(self.delay);
        self.answer.clone().map_err(VoiceError::Model)
    }

    fn multilingual(&self) -> bool {
        self.multilingual
    }

    fn describe(&self) -> String {
        "scripted transcriber".into()
    }
}

/// Limits on voice notes.
#[derive(Clone, Debug)]
pub struct VoiceConfig {
    /// Longest note transcribed.
    pub max_seconds: f64,
    /// Largest file downloaded.
    pub max_bytes: u64,
    /// Transcriptions at once; more wait in a queue.
    pub concurrency: usize,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            max_seconds: 300.0,
            // The cloud Bot API serves files up to 20 MB.
            max_bytes: 20 * 1024 * 1024,
            concurrency: 1,
        }
    }
}

/// Which language voice notes are heard in (`HEARTH_WHISPER_LANGUAGE`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SpeechLanguage {
    /// Each person's own language (their `/language`, else their app's, else the bot's).
    #[default]
    Person,
    /// Whisper detects it, note by note (needs the multilingual model).
    Detect,
    /// Always this language code.
    Fixed(String),
}

/// The result of one transcription.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// What was said (empty when nothing was recognised).
    pub text: String,
    /// The language asked for (`auto` when detected).
    pub language: String,
    /// Which model heard it (its description).
    pub model: String,
    /// Length of the audio.
    pub audio: Duration,
    /// Time spent decoding.
    pub decode: Duration,
    /// Time spent transcribing.
    pub transcribe: Duration,
}

/// The bounded transcription worker. Cheap to clone.
///
/// It holds up to two models: an English-only one (fast, e.g. tiny.en) and a multilingual one
/// (e.g. base). English notes go to the English model when there is one; every other language,
/// and detection, to the multilingual one.
#[derive(Clone)]
pub struct Voice {
    /// The model used when no other fits (the first one given).
    first: Arc<dyn Transcriber>,
    english: Option<Arc<dyn Transcriber>>,
    multilingual: Option<Arc<dyn Transcriber>>,
    speech: SpeechLanguage,
    config: VoiceConfig,
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl Voice {
    /// A worker over one `transcriber` (loaded once, shared by every call).
    pub fn new(transcriber: Arc<dyn Transcriber>, config: VoiceConfig) -> Self {
        Self::with_models(transcriber, None, SpeechLanguage::Person, config)
    }

    /// A worker over `first` and maybe a `second` model: up to one English-only and one
    /// multilingual model (a second of a kind already present is ignored), hearing notes in
    /// `speech`.
    pub fn with_models(
        first: Arc<dyn Transcriber>,
        second: Option<Arc<dyn Transcriber>>,
        speech: SpeechLanguage,
        config: VoiceConfig,
    ) -> Self {
        let mut english = None;
        let mut multilingual = None;
        for model in std::iter::once(Arc::clone(&first)).chain(second) {
            let slot = if model.multilingual() {
                &mut multilingual
            } else {
                &mut english
            };
            slot.get_or_insert(model);
        }
        Self {
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            first,
            english,
            multilingual,
            speech,
            config,
            waiting: Arc::default(),
        }
    }

    /// The limits.
    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// The models' descriptions.
    pub fn describe(&self) -> String {
        [&self.english, &self.multilingual]
            .into_iter()
            .flatten()
            .map(|m| m.describe())
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// Whether a note in `language` (a code, or `auto`) is heard by a model that knows it:
    /// false only when it is not English and there is no multilingual model.
    pub fn hears(&self, language: &str) -> bool {
        language == "en" || self.multilingual.is_some()
    }

    /// The language a person speaking `person` (a code such as `ko`) is heard in.
    pub fn language_for(&self, person: &str) -> String {
        match &self.speech {
            SpeechLanguage::Person => person.to_owned(),
            SpeechLanguage::Detect => "auto".to_owned(),
            SpeechLanguage::Fixed(code) => code.clone(),
        }
    }

    /// The model for `language` and the language to ask it for.
    fn route(&self, language: &str) -> (Arc<dyn Transcriber>, String) {
        if language == "en"
            && let Some(english) = &self.english
        {
            return (Arc::clone(english), "en".into());
        }
        if let Some(multilingual) = &self.multilingual {
            return (Arc::clone(multilingual), language.to_owned());
        }
        (Arc::clone(&self.first), "en".into())
    }

    /// Decodes and transcribes one OGG/Opus file spoken in `language` (a code such as `ko`,
    /// or `auto`; see [`Voice::language_for`]). When every slot is busy, `queued` is called
    /// with the place in the queue (1 = next) before waiting.
    pub async fn transcribe(
        &self,
        bytes: Vec<u8>,
        language: &str,
        queued: impl FnOnce(usize),
    ) -> Result<Transcript, VoiceError> {
        let (transcriber, language) = self.route(language);
        let max_seconds = self.config.max_seconds;
        let started = std::time::Instant::now();
        let samples = tokio::task::spawn_blocking(move || decode_ogg_opus(&bytes, max_seconds))
            .await
            .map_err(|e| VoiceError::Corrupt(format!("decoder stopped: {e}")))??;
        let decode = started.elapsed();
        let audio = Duration::from_secs_f64(samples.len() as f64 / f64::from(SAMPLE_RATE));
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let position = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
                queued(position);
                let permit = self.slots.clone().acquire_owned().await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                permit.map_err(|_| VoiceError::Model("the worker is shutting down".into()))?
            }
        };
        let model = transcriber.describe();
        let started = std::time::Instant::now();
        let asked = language.clone();
        let text = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            transcriber.transcribe(&samples, Some(&asked))
        })
        .await
        .map_err(|e| VoiceError::Model(format!("the transcriber stopped: {e}")))??;
        Ok(Transcript {
            text: clean_transcript(&text),
            language,
            model,
            audio,
            decode,
            transcribe: started.elapsed(),
        })
    }
}

/// The transcript as adapters show it above the answer: "🎙 «…»" and a blank
/// line, with Markdown characters escaped so the words show as heard.
pub fn transcript_header(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '`' | '~' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("🎙 «{escaped}»\n\n")
}

/// Removes Whisper's non-speech markers ("[BLANK_AUDIO]", a lone "(music)") and tidies spaces.
pub fn clean_transcript(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_brackets = false;
    for c in raw.chars() {
        match c {
            '[' => in_brackets = true,
            ']' if in_brackets => in_brackets = false,
            _ if !in_brackets => out.push(c),
            _ => {}
        }
    }
    let text = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let lone_note = text.starts_with('(') && text.ends_with(')') && text.matches(')').count() == 1;
    if lone_note { String::new() } else { text }
}

#[cfg(all(test, feature = "opus"))]
pub(crate) mod tests;
