//! Decoder tests on OGG/Opus files made here with libopus and the ogg writer,
//! so they need no tools and no files; plus fuzzing of the decoder.

use std::time::{Duration, Instant};

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use opus::{Application, Channels, Encoder};
use proptest::prelude::*;

use super::*;

/// Encodes 48 kHz mono `samples` as an OGG/Opus file like opusenc does:
/// OpusHead with the encoder's pre-skip, OpusTags, 20 ms packets, granule
/// positions at 48 kHz, and the last page's granule marking the true end.
pub(crate) fn encode_ogg_opus(samples: &[f32]) -> Vec<u8> {
    let mut encoder = Encoder::new(48_000, Channels::Mono, Application::Voip).unwrap();
    let pre_skip = encoder.get_lookahead().unwrap() as u64;
    let mut out = Vec::new();
    {
        let mut writer = PacketWriter::new(&mut out);
        let serial = 7;
        let mut head = b"OpusHead".to_vec();
        head.push(1);
        head.push(1);
        head.extend_from_slice(&(pre_skip as u16).to_le_bytes());
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes());
        head.push(0);
        writer
            .write_packet(head, serial, PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&4u32.to_le_bytes());
        tags.extend_from_slice(b"test");
        tags.extend_from_slice(&0u32.to_le_bytes());
        writer
            .write_packet(tags, serial, PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        // Feed the encoder the pre-skip's worth of extra input so the end is not lost.
        let total = samples.len() as u64;
        let mut padded = samples.to_vec();
        padded.resize(samples.len() + pre_skip as usize + 960, 0.0);
        let frames: Vec<&[f32]> = padded.chunks(960).filter(|c| c.len() == 960).collect();
        let mut buffer = vec![0u8; 4000];
        for (i, frame) in frames.iter().enumerate() {
            let length = encoder.encode_float(frame, &mut buffer).unwrap();
            let last = i + 1 == frames.len();
            let granule = (((i + 1) * 960) as u64).min(total + pre_skip);
            let end = if last {
                PacketWriteEndInfo::EndStream
            } else if i % 50 == 49 {
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            writer
                .write_packet(buffer[..length].to_vec(), serial, end, granule)
                .unwrap();
        }
    }
    out
}

fn tone(seconds: f64) -> Vec<f32> {
    let n = (seconds * 48_000.0) as usize;
    (0..n)
        .map(|i| 0.3 * (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin())
        .collect()
}

#[test]
fn decoded_length_matches_the_granule_position() {
    for seconds in [0.5, 1.0, 2.37, 7.0] {
        let input = tone(seconds);
        let ogg = encode_ogg_opus(&input);
        let samples = decode_ogg_opus(&ogg, 300.0).unwrap();
        assert_eq!(samples.len(), input.len() / 3, "{seconds} s");
        let energy: f32 = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
        assert!(energy > 0.01, "the tone survived: {energy}");
    }
}

#[test]
fn the_duration_limit_is_checked_while_decoding() {
    let ogg = encode_ogg_opus(&tone(3.0));
    assert!(matches!(
        decode_ogg_opus(&ogg, 1.0),
        Err(VoiceError::TooLong { .. })
    ));
    assert!(decode_ogg_opus(&ogg, 3.5).is_ok());
}

#[test]
fn other_formats_and_garbage_are_named_not_decoded() {
    let unsupported = |bytes: &[u8]| match decode_ogg_opus(bytes, 60.0) {
        Err(VoiceError::Unsupported(format)) => format,
        other => panic!("{other:?}"),
    };
    assert_eq!(unsupported(b"ID3\x04\x00rest of an mp3"), "MP3");
    assert_eq!(unsupported(b"\x00\x00\x00\x20ftypM4A "), "MP4/M4A");
    assert_eq!(unsupported(b"RIFF\x24\x00\x00\x00WAVEfmt "), "WAV");
    assert!(matches!(
        decode_ogg_opus(b"hello, this is not audio", 60.0),
        Err(VoiceError::Corrupt(_))
    ));
    assert!(matches!(
        decode_ogg_opus(b"", 60.0),
        Err(VoiceError::Corrupt(_))
    ));
}

#[test]
fn a_cut_off_recording_is_reported_as_broken() {
    let ogg = encode_ogg_opus(&tone(4.0));
    for cut in [ogg.len() / 2, ogg.len() - 10, 60] {
        assert!(
            matches!(
                decode_ogg_opus(&ogg[..cut], 60.0),
                Err(VoiceError::Corrupt(_))
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn non_speech_markers_are_removed() {
    assert_eq!(clean_transcript(" [BLANK_AUDIO] "), "");
    assert_eq!(clean_transcript(" (upbeat music) "), "");
    assert_eq!(
        clean_transcript(" Remind me (gently) to call mum. [BLANK_AUDIO]"),
        "Remind me (gently) to call mum."
    );
}

#[tokio::test]
async fn the_worker_cleans_the_text_and_reports_the_audio_length() {
    let transcriber = Arc::new(ScriptedTranscriber::answering(" hello there [BLANK_AUDIO]"));
    let voice = Voice::new(transcriber.clone(), VoiceConfig::default());
    let ogg = encode_ogg_opus(&tone(1.5));
    let transcript = voice
        .transcribe(ogg, "en", |_| panic!("nothing queued"))
        .await
        .unwrap();
    assert_eq!(transcript.text, "hello there");
    assert_eq!(transcriber.seen(), vec![24_000]);
    assert!((transcript.audio.as_secs_f64() - 1.5).abs() < 0.01);
}

#[tokio::test]
async fn each_language_goes_to_the_model_that_knows_it() {
    let english = Arc::new(ScriptedTranscriber::answering("hello"));
    let multilingual = Arc::new(ScriptedTranscriber::answering("안녕하세요").multilingual());
    let ogg = encode_ogg_opus(&tone(1.0));
    let voice = Voice::with_models(
        english.clone(),
        Some(multilingual.clone()),
        SpeechLanguage::Person,
        VoiceConfig::default(),
    );
    // A Korean speaker: the multilingual model, asked for Korean.
    assert_eq!(voice.language_for("ko"), "ko");
    let heard = voice.transcribe(ogg.clone(), "ko", |_| {}).await.unwrap();
    assert_eq!(
        (heard.text.as_str(), heard.language.as_str()),
        ("안녕하세요", "ko")
    );
    assert_eq!(multilingual.languages(), vec![Some("ko".to_owned())]);
    // An English speaker: the fast English-only model.
    let heard = voice.transcribe(ogg.clone(), "en", |_| {}).await.unwrap();
    assert_eq!(heard.text, "hello");
    assert_eq!(english.languages(), vec![Some("en".to_owned())]);
    assert!(voice.hears("ko"));

    // HEARTH_WHISPER_LANGUAGE=auto: everyone's notes are detected by the multilingual model.
    let detect = Voice::with_models(
        multilingual.clone(),
        Some(english.clone()),
        SpeechLanguage::Detect,
        VoiceConfig::default(),
    );
    let language = detect.language_for("en");
    assert_eq!(language, "auto");
    detect
        .transcribe(ogg.clone(), &language, |_| {})
        .await
        .unwrap();
    assert_eq!(
        multilingual.languages().last().unwrap().as_deref(),
        Some("auto")
    );
    // A fixed language applies to everyone.
    let fixed = Voice::with_models(
        english.clone(),
        Some(multilingual.clone()),
        SpeechLanguage::Fixed("ko".into()),
        VoiceConfig::default(),
    );
    assert_eq!(fixed.language_for("en"), "ko");

    // Only the multilingual model: English notes go there too, asked for English.
    let only_multilingual = Voice::new(multilingual.clone(), VoiceConfig::default());
    only_multilingual
        .transcribe(ogg.clone(), "en", |_| {})
        .await
        .unwrap();
    assert_eq!(
        multilingual.languages().last().unwrap().as_deref(),
        Some("en")
    );
    // Only the English model: a Korean note is heard as English (and said not to be heard).
    let only_english = Voice::new(english.clone(), VoiceConfig::default());
    assert!(!only_english.hears("ko"));
    only_english.transcribe(ogg, "ko", |_| {}).await.unwrap();
    assert_eq!(english.languages().last().unwrap().as_deref(), Some("en"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_runs_one_at_a_time_and_tells_the_others_their_place() {
    let transcriber = ScriptedTranscriber::answering("hi").with_delay(Duration::from_millis(300));
    let voice = Voice::new(Arc::new(transcriber), VoiceConfig::default());
    let ogg = encode_ogg_opus(&tone(0.5));
    let places = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Instant::now();
    let jobs: Vec<_> = (0..3)
        .map(|_| {
            let (voice, ogg, places) = (voice.clone(), ogg.clone(), Arc::clone(&places));
            tokio::spawn(async move {
                voice
                    .transcribe(ogg, "en", move |place| places.lock().unwrap().push(place))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for job in jobs {
        job.await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(850),
        "one at a time"
    );
    let mut places = places.lock().unwrap().clone();
    places.sort();
    assert_eq!(places, vec![1, 2], "two waited, told their place");
}

proptest! {
    // PROPTEST_CASES runs more (scripts/fuzz.sh).
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(200)))]

    /// Random bytes, with or without an OGG capture pattern, never panic or hang.
    #[test]
    fn random_bytes_never_crash(mut bytes in proptest::collection::vec(any::<u8>(), 0..4000), ogg in any::<bool>()) {
        if ogg && bytes.len() > 4 {
            bytes[..4].copy_from_slice(b"OggS");
        }
        let started = Instant::now();
        let _ = decode_ogg_opus(&bytes, 30.0);
        prop_assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// A real file with bytes flipped or cut never panics or hangs.
    #[test]
    fn damaged_files_never_crash(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20), cut in any::<prop::sample::Index>()) {
        let mut ogg = encode_ogg_opus(&tone(1.0));
        for (at, value) in flips {
            let i = at.index(ogg.len());
            ogg[i] ^= value | 1;
        }
        let end = cut.index(ogg.len() + 1).max(1);
        let started = Instant::now();
        let _ = decode_ogg_opus(&ogg[..end.min(ogg.len())], 30.0);
        prop_assert!(started.elapsed() < Duration::from_secs(2));
    }
}
