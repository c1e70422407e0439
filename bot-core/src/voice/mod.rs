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
    /// A short sentence for the user (the error itself is logged).
    pub fn user_message(&self) -> String {
        match self {
            VoiceError::Unsupported(format) => format!(
                "I can't listen to {format} audio. I understand voice notes and OGG/Opus files \
                 (.ogg, .opus); MP3, M4A, WAV and video notes are not supported yet."
            ),
            VoiceError::Corrupt(_) => {
                "I couldn't read that audio: the file seems damaged or isn't an OGG/Opus voice note."
                    .into()
            }
            VoiceError::Empty => "That voice note is empty.".into(),
            VoiceError::TooLong { max_seconds } => format!(
                "That voice note is too long: I transcribe up to {} minutes.",
                format_minutes(*max_seconds)
            ),
            VoiceError::Model(_) => {
                "Something went wrong while transcribing. Please try again, or type your message."
                    .into()
            }
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
    /// Transcribes 16 kHz mono samples into text.
    fn transcribe(&self, samples: &[f32]) -> Result<String, VoiceError>;

    /// A short description for logs and `hearth doctor`.
    fn describe(&self) -> String;
}

/// A transcriber for tests: answers with a fixed text (after an optional pause), or fails.
#[derive(Debug)]
pub struct ScriptedTranscriber {
    answer: Result<String, String>,
    delay: Duration,
    seen: std::sync::Mutex<Vec<usize>>,
}

impl ScriptedTranscriber {
    /// Always answers `text`.
    pub fn answering(text: &str) -> Self {
        Self {
            answer: Ok(text.to_owned()),
            delay: Duration::ZERO,
            seen: Default::default(),
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
            seen: Default::default(),
        }
    }

    /// The sample counts it was given, in order.
    pub fn seen(&self) -> Vec<usize> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Transcriber for ScriptedTranscriber {
    fn transcribe(&self, samples: &[f32]) -> Result<String, VoiceError> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(samples.len());
        std::thread::sleep(self.delay);
        self.answer.clone().map_err(VoiceError::Model)
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

/// The result of one transcription.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// What was said (empty when nothing was recognised).
    pub text: String,
    /// Length of the audio.
    pub audio: Duration,
    /// Time spent decoding.
    pub decode: Duration,
    /// Time spent transcribing.
    pub transcribe: Duration,
}

/// The bounded transcription worker. Cheap to clone.
#[derive(Clone)]
pub struct Voice {
    transcriber: Arc<dyn Transcriber>,
    config: VoiceConfig,
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl Voice {
    /// A worker over `transcriber` (loaded once, shared by every call).
    pub fn new(transcriber: Arc<dyn Transcriber>, config: VoiceConfig) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            transcriber,
            config,
            waiting: Arc::default(),
        }
    }

    /// The limits.
    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// The transcriber's description.
    pub fn describe(&self) -> String {
        self.transcriber.describe()
    }

    /// Decodes and transcribes one OGG/Opus file. When every slot is busy,
    /// `queued` is called with the place in the queue (1 = next) before waiting.
    pub async fn transcribe(
        &self,
        bytes: Vec<u8>,
        queued: impl FnOnce(usize),
    ) -> Result<Transcript, VoiceError> {
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
        let transcriber = Arc::clone(&self.transcriber);
        let started = std::time::Instant::now();
        let text = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            transcriber.transcribe(&samples)
        })
        .await
        .map_err(|e| VoiceError::Model(format!("the transcriber stopped: {e}")))??;
        Ok(Transcript {
            text: clean_transcript(&text),
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
