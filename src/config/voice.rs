//! The voice-note part of the configuration.

use std::path::PathBuf;

use bot_core::voice::VoiceConfig;
use bot_core::voice::whisper::WhisperConfig;

use super::{ConfigError, bad, flag, number};

/// Voice settings: the speech model (when set) and the limits.
#[derive(Clone, Debug)]
pub struct VoiceSettings {
    /// The Whisper model; `None` turns voice notes off.
    pub whisper: Option<WhisperConfig>,
    /// Limits and concurrency.
    pub limits: VoiceConfig,
}

/// Reads the voice settings.
pub fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<VoiceSettings, ConfigError> {
    let limits = VoiceConfig {
        max_seconds: number(
            get("HEARTH_VOICE_MAX_SECONDS").as_deref(),
            "HEARTH_VOICE_MAX_SECONDS",
            300,
            1..=3600,
        )? as f64,
        max_bytes: number(
            get("HEARTH_VOICE_MAX_MB").as_deref(),
            "HEARTH_VOICE_MAX_MB",
            20,
            1..=2000,
        )? * 1024
            * 1024,
        concurrency: number(
            get("HEARTH_VOICE_CONCURRENCY").as_deref(),
            "HEARTH_VOICE_CONCURRENCY",
            1,
            1..=16,
        )? as usize,
    };
    let Some(model) = get("HEARTH_WHISPER_MODEL") else {
        return Ok(VoiceSettings {
            whisper: None,
            limits,
        });
    };
    let model = PathBuf::from(model);
    if !model.is_file() {
        return Err(bad(
            "HEARTH_WHISPER_MODEL",
            format!(
                "{} does not exist (a whisper.cpp ggml model such as ggml-base.bin; \
                 scripts/install-models.sh puts ggml-tiny.en.bin in models/whisper)",
                model.display()
            ),
        ));
    }
    let language = match get("HEARTH_WHISPER_LANGUAGE").as_deref() {
        None => WhisperConfig::default_language(&model),
        Some("auto") => None,
        Some(code) if code.len() <= 3 && code.chars().all(|c| c.is_ascii_lowercase()) => {
            Some(code.to_owned())
        }
        Some(other) => {
            return Err(bad(
                "HEARTH_WHISPER_LANGUAGE",
                format!("'{other}' is not a language code like en, ko or auto"),
            ));
        }
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let threads = number(
        get("HEARTH_WHISPER_THREADS").as_deref(),
        "HEARTH_WHISPER_THREADS",
        cores.min(4),
        1..=64,
    )? as usize;
    let fit_window = flag(
        get("HEARTH_WHISPER_FIT_WINDOW").as_deref(),
        "HEARTH_WHISPER_FIT_WINDOW",
    )?;
    Ok(VoiceSettings {
        whisper: Some(WhisperConfig {
            model,
            language,
            threads,
            fit_window,
        }),
        limits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<VoiceSettings, ConfigError> {
        from_vars(&super::super::lookup(pairs))
    }

    #[test]
    fn voice_is_off_without_a_model_and_languages_follow_the_model() {
        let settings = read(&[("HEARTH_VOICE_MAX_SECONDS", "60")]).unwrap();
        assert!(settings.whisper.is_none());
        assert_eq!(settings.limits.max_seconds, 60.0);
        let err = read(&[("HEARTH_WHISPER_MODEL", "/nonexistent/ggml-base.bin")]).unwrap_err();
        assert_eq!(err.var, "HEARTH_WHISPER_MODEL");

        let dir = tempfile::tempdir().unwrap();
        let english = dir.path().join("ggml-tiny.en.bin");
        let multi = dir.path().join("ggml-base.bin");
        std::fs::write(&english, b"x").unwrap();
        std::fs::write(&multi, b"x").unwrap();
        let settings = read(&[("HEARTH_WHISPER_MODEL", english.to_str().unwrap())]).unwrap();
        assert_eq!(settings.whisper.unwrap().language.as_deref(), Some("en"));
        let settings = read(&[("HEARTH_WHISPER_MODEL", multi.to_str().unwrap())]).unwrap();
        assert_eq!(settings.whisper.unwrap().language, None, "detected");
        let settings = read(&[
            ("HEARTH_WHISPER_MODEL", multi.to_str().unwrap()),
            ("HEARTH_WHISPER_LANGUAGE", "ko"),
        ])
        .unwrap();
        assert_eq!(settings.whisper.unwrap().language.as_deref(), Some("ko"));
        assert!(
            read(&[
                ("HEARTH_WHISPER_MODEL", multi.to_str().unwrap()),
                ("HEARTH_WHISPER_LANGUAGE", "Korean!")
            ])
            .is_err()
        );
    }
}
