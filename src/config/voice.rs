//! The voice-note part of the configuration.

use std::path::PathBuf;

use bot_core::voice::whisper::{EncoderWindow, WhisperConfig};
use bot_core::voice::{SpeechLanguage, VoiceConfig};

use super::{ConfigError, bad, flag, number};

/// Voice settings: the speech models (when set), the language notes are heard in, the limits.
#[derive(Clone, Debug)]
pub struct VoiceSettings {
    /// The Whisper models (`HEARTH_WHISPER_MODEL`, then `HEARTH_WHISPER_MULTILINGUAL_MODEL`);
    /// none turns voice notes off.
    pub models: Vec<WhisperConfig>,
    /// Which language notes are heard in (`HEARTH_WHISPER_LANGUAGE`).
    pub speech: SpeechLanguage,
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
    let speech = match get("HEARTH_WHISPER_LANGUAGE").as_deref() {
        None | Some("") => SpeechLanguage::Person,
        Some("auto") => SpeechLanguage::Detect,
        Some(code) if code.len() <= 3 && code.chars().all(|c| c.is_ascii_lowercase()) => {
            SpeechLanguage::Fixed(code.to_owned())
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
    // None: each model's own default (EncoderWindow::default_for).
    let window = match get("HEARTH_WHISPER_WINDOW").as_deref().map(str::trim) {
        // Unset: earlier releases' switch for the fitted window, else each model's default.
        None | Some("") => flag(
            get("HEARTH_WHISPER_FIT_WINDOW").as_deref(),
            "HEARTH_WHISPER_FIT_WINDOW",
        )?
        .then_some(EncoderWindow::Fitted),
        Some(name) => Some(EncoderWindow::named(name).ok_or_else(|| {
            bad(
                "HEARTH_WHISPER_WINDOW",
                format!(
                    "'{name}' is not one of {}",
                    EncoderWindow::ALL.map(EncoderWindow::name).join(", ")
                ),
            )
        })?),
    };
    let mut models: Vec<WhisperConfig> = Vec::new();
    // Whether the first model is multilingual (then there is no room for a second one).
    let mut first_multilingual = false;
    for var in ["HEARTH_WHISPER_MODEL", "HEARTH_WHISPER_MULTILINGUAL_MODEL"] {
        let Some(model) = get(var).filter(|m| !m.trim().is_empty()) else {
            continue;
        };
        let model = PathBuf::from(model);
        if !model.is_file() {
            return Err(bad(
                var,
                format!(
                    "{} does not exist (a whisper.cpp ggml model such as ggml-base.bin; \
                     scripts/install-models.sh puts ggml-tiny.en-q8_0.bin and ggml-base.bin in \
                     models/whisper)",
                    model.display()
                ),
            ));
        }
        // From the file's header (its vocabulary), as whisper.cpp decides: names vary
        // (`ggml-tiny.en.bin`, `ggml-base.en-q5_1.bin`, anything the owner renamed).
        let english_only = !bot_core::voice::whisper::multilingual_from_header(&model)
            .map_err(|e| bad(var, e.to_string()))?;
        if var == "HEARTH_WHISPER_MULTILINGUAL_MODEL" && english_only {
            return Err(bad(
                var,
                format!(
                    "{} is an English-only model; this one must be multilingual \
                     (e.g. ggml-base.bin)",
                    model.display()
                ),
            ));
        }
        if first_multilingual && !english_only {
            return Err(bad(
                var,
                "HEARTH_WHISPER_MODEL is already multilingual; set HEARTH_WHISPER_MODEL to an \
                 English-only model (e.g. ggml-tiny.en.bin) to use both"
                    .to_owned(),
            ));
        }
        // The model's own language, used when a caller asks for none: English for .en
        // models, else the owner's fixed language or detection.
        let language = if english_only {
            Some("en".to_owned())
        } else {
            match &speech {
                SpeechLanguage::Fixed(code) => Some(code.clone()),
                _ => None,
            }
        };
        first_multilingual |= models.is_empty() && !english_only;
        models.push(WhisperConfig {
            model,
            language,
            threads,
            window: window.unwrap_or(EncoderWindow::default_for(!english_only)),
        });
    }
    Ok(VoiceSettings {
        models,
        speech,
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
        assert!(settings.models.is_empty());
        assert_eq!(settings.limits.max_seconds, 60.0);
        assert_eq!(settings.speech, SpeechLanguage::Person);
        let err = read(&[("HEARTH_WHISPER_MODEL", "/nonexistent/ggml-base.bin")]).unwrap_err();
        assert_eq!(err.var, "HEARTH_WHISPER_MODEL");

        let dir = tempfile::tempdir().unwrap();
        // The header decides, not the name: whisper.cpp's magic, then the vocabulary size
        // (51,864 for English-only models).
        let header = |vocabulary: i32| {
            [
                &0x6767_6d6c_u32.to_le_bytes()[..],
                &vocabulary.to_le_bytes(),
            ]
            .concat()
        };
        let english = dir.path().join("ggml-tiny.en-q8_0.bin");
        let multi = dir.path().join("ggml-base.en.bin");
        std::fs::write(&english, header(51_864)).unwrap();
        std::fs::write(&multi, header(51_865)).unwrap();
        let junk = dir.path().join("ggml-tiny.en.bin");
        std::fs::write(&junk, b"x").unwrap();
        let err = read(&[("HEARTH_WHISPER_MODEL", junk.to_str().unwrap())]).unwrap_err();
        assert_eq!(err.var, "HEARTH_WHISPER_MODEL");
        let english = english.to_str().unwrap();
        let multi = multi.to_str().unwrap();
        let settings = read(&[("HEARTH_WHISPER_MODEL", english)]).unwrap();
        assert_eq!(settings.models[0].language.as_deref(), Some("en"));
        let settings = read(&[("HEARTH_WHISPER_MODEL", multi)]).unwrap();
        assert_eq!(settings.models[0].language, None, "detected");
        let settings = read(&[
            ("HEARTH_WHISPER_MODEL", multi),
            ("HEARTH_WHISPER_LANGUAGE", "ko"),
        ])
        .unwrap();
        assert_eq!(settings.models[0].language.as_deref(), Some("ko"));
        assert_eq!(settings.speech, SpeechLanguage::Fixed("ko".into()));
        assert!(
            read(&[
                ("HEARTH_WHISPER_MODEL", multi),
                ("HEARTH_WHISPER_LANGUAGE", "Korean!")
            ])
            .is_err()
        );

        // Both: the English one for English speakers, the multilingual one for the rest.
        let settings = read(&[
            ("HEARTH_WHISPER_MODEL", english),
            ("HEARTH_WHISPER_MULTILINGUAL_MODEL", multi),
            ("HEARTH_WHISPER_LANGUAGE", "auto"),
        ])
        .unwrap();
        assert_eq!(settings.models.len(), 2);
        assert_eq!(settings.models[0].language.as_deref(), Some("en"));
        assert_eq!(settings.models[1].language, None);
        assert_eq!(settings.speech, SpeechLanguage::Detect);
        // Only the multilingual one is fine too.
        let settings = read(&[("HEARTH_WHISPER_MULTILINGUAL_MODEL", multi)]).unwrap();
        assert_eq!(settings.models.len(), 1);
        // Mixed up: an English model in the multilingual place, or two multilingual ones.
        let err = read(&[("HEARTH_WHISPER_MULTILINGUAL_MODEL", english)]).unwrap_err();
        assert_eq!(err.var, "HEARTH_WHISPER_MULTILINGUAL_MODEL");
        let err = read(&[
            ("HEARTH_WHISPER_MODEL", multi),
            ("HEARTH_WHISPER_MULTILINGUAL_MODEL", multi),
        ])
        .unwrap_err();
        assert_eq!(err.var, "HEARTH_WHISPER_MULTILINGUAL_MODEL");
    }

    #[test]
    fn the_encoder_window_is_named_and_the_old_switch_still_works() {
        let dir = tempfile::tempdir().unwrap();
        let model = |name: &str, vocabulary: i32| {
            let path = dir.path().join(name);
            let mut header = 0x6767_6d6cu32.to_le_bytes().to_vec();
            header.extend(vocabulary.to_le_bytes());
            std::fs::write(&path, header).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let (english, multi) = (model("tiny.en.bin", 51_864), model("base.bin", 51_865));
        let windows = |pairs: &[(&str, &str)]| -> Result<Vec<EncoderWindow>, ConfigError> {
            let mut pairs = pairs.to_vec();
            pairs.push(("HEARTH_WHISPER_MODEL", &english));
            pairs.push(("HEARTH_WHISPER_MULTILINGUAL_MODEL", &multi));
            Ok(read(&pairs)?.models.iter().map(|m| m.window).collect())
        };
        let window = |pairs: &[(&str, &str)]| Ok::<_, ConfigError>(windows(pairs)?[0]);
        // Unset: checked for the English-only model, standard for the multilingual one
        // (the checked window was measured as accurate in English only).
        assert_eq!(
            windows(&[]).unwrap(),
            [EncoderWindow::Checked, EncoderWindow::Standard]
        );
        assert_eq!(
            windows(&[("HEARTH_WHISPER_WINDOW", "checked")]).unwrap(),
            [EncoderWindow::Checked, EncoderWindow::Checked],
            "a named window is for both"
        );
        for (name, expected) in [
            ("standard", EncoderWindow::Standard),
            ("fitted", EncoderWindow::Fitted),
            ("checked", EncoderWindow::Checked),
        ] {
            assert_eq!(
                window(&[("HEARTH_WHISPER_WINDOW", name)]).unwrap(),
                expected
            );
            assert_eq!(expected.name(), name);
        }
        assert_eq!(
            window(&[("HEARTH_WHISPER_FIT_WINDOW", "true")]).unwrap(),
            EncoderWindow::Fitted
        );
        assert_eq!(
            window(&[
                ("HEARTH_WHISPER_FIT_WINDOW", "true"),
                ("HEARTH_WHISPER_WINDOW", "standard")
            ])
            .unwrap(),
            EncoderWindow::Standard,
            "the new setting wins"
        );
        let err = window(&[("HEARTH_WHISPER_WINDOW", "tiny")]).unwrap_err();
        assert_eq!(err.var, "HEARTH_WHISPER_WINDOW");
    }
}
