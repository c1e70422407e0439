//! Voice pipeline benchmark: decode (OGG/Opus -> 16 kHz) + Whisper tiny.en
//! (whisper-rs, greedy, no context) over a set of voice notes, as the bot runs it,
//! then the same with the other encoder windows (`HEARTH_WHISPER_WINDOW`: fitted, and
//! checked: fitted, heard again over the standard window when doubtful).
//!
//! Usage: `cargo bench -p hearth-tests --bench voice -- NOTES_DIR [THREADS [MODEL LANGUAGE]]`,
//! where NOTES_DIR holds `N.ogg` voice notes and `N.txt` with what each says; MODEL and
//! LANGUAGE (default: tiny.en, `en`) pick another ggml model and the language it is told, as
//! the bot does for a person with that language (`ko`: the multilingual base model; the
//! error is then the character error rate)
//! (`bench/run-voice-benchmark.sh` makes them with espeak-ng and opusenc and also
//! runs the faster-whisper baseline on the same files in the same run).
//!
//! Without `--bench` (`cargo test --benches`, as the test command runs it) and without
//! NOTES_DIR it is a smoke run over two notes made with espeak-ng.
//!
//! Prints one line per note and a summary: real-time factor (audio time /
//! processing time; higher is faster), decode time per minute of audio, word
//! error rate, model load time and the process's peak RSS (VmHWM; this process
//! does nothing else).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bot_core::voice::whisper::{EncoderWindow, WhisperConfig, WhisperTranscriber};
use bot_core::voice::{SAMPLE_RATE, Transcriber, clean_transcript, decode_ogg_opus};
use hearth_tests::voice::{character_error_rate, whisper_model, word_error_rate};

fn peak_rss_mib() -> f64 {
    hearth_tests::bench::status_kib(std::process::id(), "VmHWM") as f64 / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let smoke = hearth_tests::bench::smoke();
    let made = tempfile::tempdir().unwrap();
    let dir = match args.first().map(PathBuf::from) {
        Some(dir) => dir,
        None if smoke => {
            println!("smoke run (no --bench): two made-up notes, figures mean nothing");
            for (n, sentence) in [
                "Remind me to water the plants",
                "The meeting moved to Friday",
            ]
            .iter()
            .enumerate()
            {
                let n = n + 1;
                std::fs::write(
                    made.path().join(format!("{n}.ogg")),
                    hearth_tests::voice::voice_note(sentence),
                )
                .unwrap();
                std::fs::write(made.path().join(format!("{n}.txt")), sentence).unwrap();
            }
            made.path().to_path_buf()
        }
        None => {
            eprintln!(
                "usage: cargo bench -p hearth-tests --bench voice -- NOTES_DIR [THREADS [MODEL LANGUAGE]]"
            );
            std::process::exit(2);
        }
    };
    let threads: usize = args.get(1).and_then(|t| t.parse().ok()).unwrap_or(2);
    let mut notes: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("notes dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ogg"))
        .collect();
    notes.sort_by_key(|p| p.file_stem().and_then(|s| s.to_str()?.parse::<u32>().ok()));

    let model = args.get(2).map_or_else(whisper_model, PathBuf::from);
    let language = args.get(3).cloned().unwrap_or_else(|| "en".into());
    for window in EncoderWindow::ALL {
        run(&notes, threads, window, &model, &language);
    }
}

fn run(notes: &[PathBuf], threads: usize, window: EncoderWindow, model: &Path, language: &str) {
    let started = Instant::now();
    let transcriber = WhisperTranscriber::load(WhisperConfig {
        model: model.to_owned(),
        language: Some(language.into()),
        threads,
        window,
    })
    .expect("model loads");
    // The bot loads the weights with the first note; here they load first, to time them.
    transcriber.warm_up().expect("weights load");
    let name = model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (measure, error_rate): (&str, fn(&str, &str) -> f64) = if language == "en" {
        ("wer", word_error_rate)
    } else {
        ("cer", character_error_rate)
    };
    let load = started.elapsed();

    let (mut audio_total, mut decode_total, mut pipeline_total) =
        (0.0, Duration::ZERO, Duration::ZERO);
    let (mut errors, mut words) = (0.0, 0usize);
    let set = notes
        .first()
        .and_then(|n| n.parent()?.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = format!(
        "hearth window={}{}",
        window.name(),
        if window == EncoderWindow::default_for(transcriber.multilingual()) {
            " (default)"
        } else {
            ""
        }
    );
    let (mut reruns, mut number) = (0, 0);
    println!(
        "{label} (whisper-rs, {name}, language {language}, {threads} threads, greedy, set {set}):"
    );
    for path in notes {
        let bytes = std::fs::read(path).unwrap();
        let said = std::fs::read_to_string(path.with_extension("txt")).unwrap();
        // Decode timed alone (best of 5), then the whole pipeline once.
        let decode = (0..5)
            .map(|_| {
                let t = Instant::now();
                decode_ogg_opus(&bytes, 600.0).unwrap();
                t.elapsed()
            })
            .min()
            .unwrap();
        let t = Instant::now();
        let samples = decode_ogg_opus(&bytes, 600.0).unwrap();
        let heard = transcriber.hear_with(&samples, None, window).unwrap();
        let pipeline = t.elapsed();
        let (logprob, rerun) = (heard.mean_logprob, heard.rerun);
        reruns += usize::from(rerun);
        let heard = clean_transcript(&heard.text);
        let audio = samples.len() as f64 / f64::from(SAMPLE_RATE);
        let wer = error_rate(&said, &heard);
        let n = if language == "en" {
            said.split_whitespace().count()
        } else {
            said.chars().filter(|c| c.is_alphanumeric()).count()
        };
        errors += wer * n as f64;
        words += n;
        audio_total += audio;
        decode_total += decode;
        pipeline_total += pipeline;
        println!(
            "  {number:>3} {:>5.1} s audio  {:>7.0} ms  RTF {:>5.1}x  {} {:>5.1}%  logprob {logprob:>6.3}{}  {:?}",
            audio,
            pipeline.as_secs_f64() * 1000.0,
            audio / pipeline.as_secs_f64(),
            measure.to_uppercase(),
            wer * 100.0,
            if rerun { " heard again" } else { "" },
            heard
        );
        number += 1;
    }
    println!(
        "SUMMARY hearth window={} set={set} model={name} notes={} heard_again={reruns} audio_s={:.1} pipeline_s={:.2} rtf={:.1} {measure}={:.1} decode_ms_per_min={:.1} load_ms={} peak_rss_mib={:.0}",
        window.name(),
        notes.len(),
        audio_total,
        pipeline_total.as_secs_f64(),
        audio_total / pipeline_total.as_secs_f64(),
        errors / words.max(1) as f64 * 100.0,
        decode_total.as_secs_f64() * 1000.0 / (audio_total / 60.0),
        load.as_millis(),
        peak_rss_mib()
    );
}
