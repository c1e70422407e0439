//! whisper.cpp through whisper-rs. The model file is checked when the bot starts, but its
//! weights and decoder states (most of Whisper's memory) are loaded when a note arrives, kept
//! while notes keep coming, and released after [`IDLE`] without one: an idle bot holds no
//! Whisper memory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use super::{Transcriber, VoiceError};

/// Settings of the Whisper transcriber.
#[derive(Clone, Debug)]
pub struct WhisperConfig {
    /// A whisper.cpp ggml model file (e.g. `ggml-base.bin`, `ggml-tiny.en.bin`).
    pub model: PathBuf,
    /// Language code such as `en` or `ko`; `None` detects the language (multilingual models).
    pub language: Option<String>,
    /// CPU threads per transcription.
    pub threads: usize,
    /// How much audio the encoder looks at for each note.
    pub window: EncoderWindow,
}

/// How much audio Whisper's encoder looks at. Its cost grows with the window, not with the
/// note: over the standard 30 s window a 3 s note costs as much as a 30 s one.
/// Unless the owner picks one, [`EncoderWindow::default_for`] a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncoderWindow {
    /// Whisper's standard 30 s window, whatever the note's length (what it was trained on).
    Standard,
    /// The note plus two seconds: a 3 s note costs a sixth of the encoder work.
    Fitted,
    /// The fitted window first, and the standard window again when the first pass is doubtful
    /// by Whisper's own signals ([`Heard::doubtful`]).
    Checked,
}

impl EncoderWindow {
    /// The window a model gets unless the owner picks one: checked for English-only models
    /// (as accurate as the standard window on 132 mixed English notes and 1.4-2.1 times
    /// faster, BENCHMARKS.md), standard for multilingual ones (not shown as accurate there:
    /// no intelligible Korean test speech here, and on espeak-ng's Korean the fitted window
    /// made up English words).
    pub fn default_for(multilingual: bool) -> Self {
        if multilingual {
            EncoderWindow::Standard
        } else {
            EncoderWindow::Checked
        }
    }

    /// Every window, in the order the settings list them.
    pub const ALL: [EncoderWindow; 3] = [
        EncoderWindow::Standard,
        EncoderWindow::Fitted,
        EncoderWindow::Checked,
    ];

    /// The window called `name` (its [`name`](Self::name)).
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The setting's name (`HEARTH_WHISPER_WINDOW`).
    pub fn name(self) -> &'static str {
        match self {
            EncoderWindow::Standard => "standard",
            EncoderWindow::Fitted => "fitted",
            EncoderWindow::Checked => "checked",
        }
    }
}

/// One pass of Whisper over a note, with the signals that say how sure it was.
#[derive(Clone, Debug, PartialEq)]
pub struct Heard {
    /// What it heard.
    pub text: String,
    /// Mean log-probability of the text's tokens (0 is certain; Whisper's own fallback
    /// threshold is -1).
    pub mean_logprob: f32,
    /// Text tokens heard.
    pub tokens: usize,
    /// Whether this pass ran over the standard window after a doubtful fitted one.
    pub rerun: bool,
}

/// Below this mean log-probability of its text tokens a fitted-window pass is heard again over
/// the standard window. Chosen on the benchmark's notes (BENCHMARKS.md): the loosest threshold
/// at which the checked window is as accurate as the standard one on the mixed set and on a
/// second one voiced differently; Whisper's own `logprob_thold` (-1, below which it decodes
/// again at a higher temperature) let through passes that had lost a word that mattered
/// ("call an end-to-morrow morning": no reminder), at -0.43.
pub const DOUBTFUL_LOGPROB: f32 = -0.4;

impl Heard {
    /// Whether a fitted-window pass should be heard again over the standard window: nothing
    /// heard, low confidence, or the same words over and over (a decoding loop).
    pub fn doubtful(&self) -> bool {
        self.tokens == 0 || self.mean_logprob < DOUBTFUL_LOGPROB || repeats(&self.text)
    }
}

/// Whether a fitted-window pass over `samples` samples is heard again over the standard
/// window: when doubtful, unless the note (28 s or more) filled the standard window already.
fn hear_again(first: &Heard, samples: usize) -> bool {
    first.doubtful() && encoder_frames(samples.max(MIN_SAMPLES)) < 1500
}

/// Whether `text` is a loop: one word or phrase said again and again, which Whisper produces
/// when it loses its place (its own check is the text's compression ratio over 2.4).
fn repeats(text: &str) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        })
        .filter(|w: &String| !w.is_empty())
        .collect();
    // The same n-gram (1 to 4 words) four times in a row.
    (1..=4).any(|n| {
        words.len() >= n * 4
            && (0..=words.len() - n * 4).any(|start| {
                let first = &words[start..start + n];
                (1..4).all(|k| &words[start + k * n..start + (k + 1) * n] == first)
            })
    })
}

/// Encoder frames (50 per second, at most Whisper's 1,500 = 30 s) for `samples` at 16 kHz,
/// with two seconds of margin so the last words are not cut.
pub fn encoder_frames(samples: usize) -> i32 {
    let seconds = samples as f64 / 16_000.0;
    (((seconds + 2.0) * 50.0).ceil() as i32).min(1500)
}

/// Shorter notes are padded with silence to this many samples (1.1 s): Whisper needs at least
/// one second.
const MIN_SAMPLES: usize = 16_000 + 1_600;

/// How long Whisper's weights and decoder states stay in memory after the last note.
pub const IDLE: Duration = Duration::from_secs(120);

/// Whether a ggml Whisper file holds a multilingual model, from its header: the magic
/// `ggml` and then the vocabulary size, which is 51,864 for English-only models and larger
/// for multilingual ones (whisper.cpp decides the same way).
pub fn multilingual_from_header(model: &Path) -> Result<bool, VoiceError> {
    use std::io::Read;
    let unreadable =
        |cause: String| VoiceError::Model(format!("cannot load {}: {cause}", model.display()));
    let mut header = [0u8; 8];
    std::fs::File::open(model)
        .and_then(|mut file| file.read_exact(&mut header))
        .map_err(|e| unreadable(e.to_string()))?;
    let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    if magic != 0x6767_6d6c {
        return Err(unreadable("not a whisper.cpp ggml model file".into()));
    }
    let vocabulary = i32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    Ok(vocabulary >= 51_865)
}

/// The loaded model and its pooled decoder states, while notes keep coming.
struct Warm {
    /// How long they stay after the last note.
    idle: Duration,
    context: Option<Arc<WhisperContext>>,
    states: Vec<WhisperState>,
    used: Option<Instant>,
    /// Transcriptions running now (a long note may outlast [`IDLE`]).
    busy: usize,
}

/// Transcribes with whisper.cpp.
pub struct WhisperTranscriber {
    config: WhisperConfig,
    multilingual: bool,
    warm: Arc<Mutex<Warm>>,
}

impl std::fmt::Debug for WhisperTranscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperTranscriber")
            .field("config", &self.config)
            .finish()
    }
}

/// Releases the weights and states of `warm` once unused for [`IDLE`], until the
/// transcriber is dropped.
fn release_when_idle(warm: std::sync::Weak<Mutex<Warm>>) {
    let spawned = std::thread::Builder::new()
        .name("whisper-idle".into())
        .spawn(move || {
            let mut pause = IDLE / 4;
            loop {
                std::thread::sleep(pause);
                let Some(warm) = warm.upgrade() else {
                    return;
                };
                let mut warm = warm.lock().unwrap_or_else(|e| e.into_inner());
                pause = warm.idle / 4;
                if warm.busy == 0 && warm.used.is_some_and(|used| used.elapsed() >= warm.idle) {
                    warm.context = None;
                    warm.states.clear();
                    warm.used = None;
                    drop(warm);
                    let released = crate::heap::release_freed();
                    tracing::debug!(
                        released,
                        "Whisper idle: its weights and decoder states are released"
                    );
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the thread that releases idle Whisper memory");
    }
}

impl WhisperTranscriber {
    /// Checks the model file (blocking, cheap: its header); the weights load with the first
    /// note, or now with [`WhisperTranscriber::warm_up`].
    pub fn load(config: WhisperConfig) -> Result<Self, VoiceError> {
        whisper_rs::install_logging_hooks();
        if !config.model.is_file() {
            return Err(VoiceError::Model(format!(
                "{} does not exist",
                config.model.display()
            )));
        }
        let multilingual = multilingual_from_header(&config.model)?;
        if config.language.as_deref().is_some_and(|l| l != "en") && !multilingual {
            return Err(VoiceError::Model(format!(
                "{} is an English-only model; use a multilingual one for language {}",
                config.model.display(),
                config.language.as_deref().unwrap_or_default()
            )));
        }
        let warm = Arc::new(Mutex::new(Warm {
            idle: IDLE,
            context: None,
            states: Vec::new(),
            used: None,
            busy: 0,
        }));
        release_when_idle(Arc::downgrade(&warm));
        Ok(Self {
            config,
            multilingual,
            warm,
        })
    }

    /// The same transcriber releasing its memory after `idle` without a note rather than
    /// [`IDLE`] (tests).
    pub fn with_idle(self, idle: Duration) -> Self {
        self.warm.lock().unwrap_or_else(|e| e.into_inner()).idle = idle;
        self
    }

    /// Loads the weights now (blocking) rather than with the first note; `doctor` and the
    /// benchmarks use it to check and time the load.
    pub fn warm_up(&self) -> Result<(), VoiceError> {
        let mut warm = self.warm.lock().unwrap_or_else(|e| e.into_inner());
        self.context(&mut warm).map(|_| ())
    }

    /// Whether the weights are in memory now.
    pub fn is_warm(&self) -> bool {
        self.warm
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .context
            .is_some()
    }

    /// The loaded model, loading it when needed.
    fn context(&self, warm: &mut Warm) -> Result<Arc<WhisperContext>, VoiceError> {
        if let Some(context) = &warm.context {
            return Ok(Arc::clone(context));
        }
        let started = Instant::now();
        let mut parameters = WhisperContextParameters::default();
        parameters.use_gpu(false);
        let context =
            WhisperContext::new_with_params(&self.config.model, parameters).map_err(|e| {
                VoiceError::Model(format!("cannot load {}: {e}", self.config.model.display()))
            })?;
        tracing::debug!(model = %self.config.model.display(), load_ms = started.elapsed().as_millis() as u64, "Whisper weights loaded");
        let context = Arc::new(context);
        warm.context = Some(Arc::clone(&context));
        warm.used = Some(Instant::now());
        Ok(context)
    }
}

impl Transcriber for WhisperTranscriber {
    fn transcribe(&self, samples: &[f32], language: Option<&str>) -> Result<String, VoiceError> {
        self.hear_with(samples, language, self.config.window)
            .map(|heard| heard.text)
    }

    fn multilingual(&self) -> bool {
        self.multilingual
    }

    fn describe(&self) -> String {
        let name = self
            .config
            .model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = if self.multilingual {
            "multilingual"
        } else {
            "English only"
        };
        format!(
            "whisper.cpp {name} ({kind}, {} threads, {} encoder window)",
            self.config.threads,
            self.config.window.name()
        )
    }
}

impl WhisperTranscriber {
    /// One note on `state` over `window` (the checked window: a second pass when the first
    /// is doubtful).
    fn hear(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        language: Option<&str>,
        eot: i32,
        window: EncoderWindow,
    ) -> Result<Heard, VoiceError> {
        match window {
            EncoderWindow::Standard => self.run(state, samples, language, eot, false),
            EncoderWindow::Fitted => self.run(state, samples, language, eot, true),
            EncoderWindow::Checked => {
                let first = self.run(state, samples, language, eot, true)?;
                if !hear_again(&first, samples.len()) {
                    return Ok(first);
                }
                tracing::debug!(
                    mean_logprob = first.mean_logprob,
                    tokens = first.tokens,
                    "fitted window doubtful; heard again over the standard window"
                );
                let mut again = self.run(state, samples, language, eot, false)?;
                again.rerun = true;
                Ok(again)
            }
        }
    }

    /// What the configured model hears in `samples` over `window`, with the signals of how
    /// sure it was (the bot transcribes over its configured window; benchmarks compare the
    /// windows on the same notes).
    pub fn hear_with(
        &self,
        samples: &[f32],
        language: Option<&str>,
        window: EncoderWindow,
    ) -> Result<Heard, VoiceError> {
        let failed = |e: whisper_rs::WhisperError| VoiceError::Model(e.to_string());
        let (mut state, eot) = {
            let mut warm = self.warm.lock().unwrap_or_else(|e| e.into_inner());
            let context = self.context(&mut warm)?;
            warm.used = Some(Instant::now());
            let state = match warm.states.pop() {
                Some(state) => state,
                None => context.create_state().map_err(failed)?,
            };
            warm.busy += 1;
            (state, context.token_eot())
        };
        let result = self.hear(&mut state, samples, language, eot, window);
        let mut warm = self.warm.lock().unwrap_or_else(|e| e.into_inner());
        warm.busy -= 1;
        warm.used = Some(Instant::now());
        if warm.context.is_some() {
            warm.states.push(state);
        }
        result
    }

    /// One transcription on `state`, over the fitted window or the standard one.
    fn run(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        language: Option<&str>,
        eot: i32,
        fitted: bool,
    ) -> Result<Heard, VoiceError> {
        let failed = |e: whisper_rs::WhisperError| VoiceError::Model(e.to_string());
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(self.config.threads.max(1) as i32);
        let language = if self.multilingual {
            language
                .or(self.config.language.as_deref())
                .unwrap_or("auto")
        } else {
            // An English-only model hears English whatever it is asked.
            "en"
        };
        params.set_language(Some(language));
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_suppress_blank(true);
        params.set_no_context(true);
        // Whisper needs at least one second; pad short notes with silence.
        let mut padded;
        let audio = if samples.len() < MIN_SAMPLES {
            padded = samples.to_vec();
            padded.resize(MIN_SAMPLES, 0.0);
            &padded[..]
        } else {
            samples
        };
        if fitted {
            params.set_audio_ctx(encoder_frames(audio.len()));
        }
        state.full(params, audio).map_err(failed)?;
        let mut text = String::new();
        let (mut logprob, mut tokens) = (0.0f32, 0usize);
        for segment in state.as_iter() {
            let piece = segment.to_str_lossy().map_err(failed)?;
            text.push_str(&piece);
            text.push(' ');
            for i in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(i) else {
                    continue;
                };
                // Text tokens come before end-of-text; the rest are markers and timestamps.
                if token.token_id() < eot {
                    logprob += token.token_data().plog;
                    tokens += 1;
                }
            }
        }
        Ok(Heard {
            text: text.trim().to_owned(),
            mean_logprob: if tokens == 0 {
                0.0
            } else {
                logprob / tokens as f32
            },
            tokens,
            rerun: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_tells_multilingual_from_english_only_and_refuses_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let header = |vocabulary: i32| {
            let mut bytes = 0x6767_6d6cu32.to_le_bytes().to_vec();
            bytes.extend(vocabulary.to_le_bytes());
            bytes
        };
        assert!(!multilingual_from_header(&file("en.bin", &header(51_864))).unwrap());
        assert!(multilingual_from_header(&file("base.bin", &header(51_865))).unwrap());
        assert!(multilingual_from_header(&file("v3.bin", &header(51_866))).unwrap());
        let err = multilingual_from_header(&file("x.bin", b"GGUF\0\0\0\0")).unwrap_err();
        assert!(err.to_string().contains("not a whisper.cpp"), "{err}");
        assert!(multilingual_from_header(&file("short.bin", b"lm")).is_err());
    }

    #[test]
    fn a_pass_is_doubtful_when_empty_unsure_or_looping() {
        let heard = |text: &str, mean_logprob: f32, tokens: usize| Heard {
            text: text.into(),
            mean_logprob,
            tokens,
            rerun: false,
        };
        assert!(!heard("Remind me to buy milk tomorrow morning.", -0.2, 9).doubtful());
        assert!(heard("", 0.0, 0).doubtful(), "nothing heard");
        assert!(heard("Remind me to my milk.", -0.6, 6).doubtful(), "unsure");
        assert!(!heard("Remind me to buy milk.", -0.3, 6).doubtful());
        assert!(
            heard("the the the the", -0.1, 4).doubtful(),
            "one word over and over"
        );
        assert!(
            heard("Call me. Call me. Call me. Call me.", -0.1, 12).doubtful(),
            "a phrase over and over"
        );
        assert!(
            !heard("no, no, no, I said the blue one", -0.2, 10).doubtful(),
            "three times is speech, not a loop"
        );
        assert!(!heard("had had had", -0.2, 3).doubtful());

        let empty = heard("", 0.0, 0);
        assert!(hear_again(&empty, 16_000 * 3));
        assert!(hear_again(&empty, 100), "padded to a second");
        assert!(
            !hear_again(&empty, 16_000 * 29),
            "a 29 s note filled the standard window already"
        );
        assert!(!hear_again(&heard("Call my mother.", -0.1, 4), 16_000 * 2));
    }

    #[test]
    fn the_encoder_window_fits_the_note_with_margin() {
        assert_eq!(encoder_frames(16_000), 150, "1 s + 2 s margin");
        assert_eq!(encoder_frames(16_000 * 10), 600);
        assert_eq!(encoder_frames(16_000 * 28), 1500, "never past 30 s");
        assert_eq!(encoder_frames(16_000 * 300), 1500);
    }
}
