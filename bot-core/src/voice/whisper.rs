//! whisper.cpp through whisper-rs: the model is loaded once and kept.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    /// Size the encoder window to the note instead of Whisper's fixed 30 s: a 3 s note then
    /// costs a tenth of the encoder work, but Whisper was trained on full windows and misses
    /// more words (see BENCHMARKS.md). Off by default.
    pub fit_window: bool,
}

impl WhisperConfig {
    /// The language to use for `model` when none is set: English for `.en` models,
    /// detection otherwise.
    pub fn default_language(model: &Path) -> Option<String> {
        let name = model.file_name()?.to_string_lossy().to_lowercase();
        (name.contains(".en.") || name.ends_with(".en")).then(|| "en".to_owned())
    }
}

/// Encoder frames (50 per second, at most Whisper's 1,500 = 30 s) for `samples` at 16 kHz,
/// with two seconds of margin so the last words are not cut.
pub fn encoder_frames(samples: usize) -> i32 {
    let seconds = samples as f64 / 16_000.0;
    (((seconds + 2.0) * 50.0).ceil() as i32).min(1500)
}

/// Transcribes with whisper.cpp.
pub struct WhisperTranscriber {
    context: WhisperContext,
    config: WhisperConfig,
    multilingual: bool,
    /// Decoder states (their compute buffers are costly to allocate), reused across calls.
    states: Mutex<Vec<WhisperState>>,
}

impl std::fmt::Debug for WhisperTranscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperTranscriber")
            .field("config", &self.config)
            .finish()
    }
}

impl WhisperTranscriber {
    /// Loads the model (blocking; call it off the async runtime).
    pub fn load(config: WhisperConfig) -> Result<Self, VoiceError> {
        whisper_rs::install_logging_hooks();
        if !config.model.is_file() {
            return Err(VoiceError::Model(format!(
                "{} does not exist",
                config.model.display()
            )));
        }
        let mut parameters = WhisperContextParameters::default();
        parameters.use_gpu(false);
        let context = WhisperContext::new_with_params(&config.model, parameters).map_err(|e| {
            VoiceError::Model(format!("cannot load {}: {e}", config.model.display()))
        })?;
        let multilingual = context.is_multilingual();
        if config.language.as_deref().is_some_and(|l| l != "en") && !multilingual {
            return Err(VoiceError::Model(format!(
                "{} is an English-only model; use a multilingual one for language {}",
                config.model.display(),
                config.language.as_deref().unwrap_or_default()
            )));
        }
        Ok(Self {
            context,
            config,
            multilingual,
            states: Mutex::default(),
        })
    }
}

impl Transcriber for WhisperTranscriber {
    fn transcribe(&self, samples: &[f32], language: Option<&str>) -> Result<String, VoiceError> {
        let failed = |e: whisper_rs::WhisperError| VoiceError::Model(e.to_string());
        let pooled = self.states.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut state = match pooled {
            Some(state) => state,
            None => self.context.create_state().map_err(failed)?,
        };
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
        let audio = if samples.len() < 16_000 + 1_600 {
            padded = samples.to_vec();
            padded.resize(16_000 + 1_600, 0.0);
            &padded[..]
        } else {
            samples
        };
        if self.config.fit_window {
            params.set_audio_ctx(encoder_frames(audio.len()));
        }
        state.full(params, audio).map_err(failed)?;
        let mut text = String::new();
        for segment in state.as_iter() {
            let piece = segment.to_str_lossy().map_err(failed)?;
            text.push_str(&piece);
            text.push(' ');
        }
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(state);
        Ok(text.trim().to_owned())
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
            "whisper.cpp {name} ({kind}, {} threads)",
            self.config.threads
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoder_window_fits_the_note_with_margin() {
        assert_eq!(encoder_frames(16_000), 150, "1 s + 2 s margin");
        assert_eq!(encoder_frames(16_000 * 10), 600);
        assert_eq!(encoder_frames(16_000 * 28), 1500, "never past 30 s");
        assert_eq!(encoder_frames(16_000 * 300), 1500);
    }

    #[test]
    fn english_only_models_default_to_english() {
        assert_eq!(
            WhisperConfig::default_language(Path::new("models/ggml-tiny.en.bin")).as_deref(),
            Some("en")
        );
        assert_eq!(
            WhisperConfig::default_language(Path::new("ggml-base.bin")),
            None
        );
    }
}
