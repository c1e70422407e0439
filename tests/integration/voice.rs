//! Voice notes: espeak-ng speech encoded with opusenc, decoded and transcribed
//! in process by the real Whisper tiny.en model, through Telegram and Discord.

use bot_core::voice::whisper::{
    DOUBTFUL_LOGPROB, EncoderWindow, WhisperConfig, WhisperTranscriber,
};
use bot_core::voice::{Transcriber, decode_ogg_opus};
use hearth_tests::discord::{BOT_ID, GUILD};
use hearth_tests::voice::{
    ogg_length_fields, voice_note, voice_note_in, whisper_model, whisper_multilingual_model,
    word_error_rate,
};
use serde_json::json;

use crate::discord::DiscordHarness;
use crate::util::*;

const SENTENCE: &str = "What should I bring to the dentist tomorrow morning?";
/// Asks for a reminder: set by the bot, never sent to the model.
const REMINDER: &str = "Please remind me to call the dentist tomorrow morning.";

fn transcriber() -> WhisperTranscriber {
    WhisperTranscriber::load(WhisperConfig {
        model: whisper_model(),
        language: Some("en".into()),
        threads: 2,
        window: EncoderWindow::default_for(false),
    })
    .expect("the converted model loads")
}

#[test]
fn an_opusenc_note_decodes_to_its_granule_length() {
    let ogg = voice_note("The quick brown fox jumps over the lazy dog.");
    let (pre_skip, granule) = ogg_length_fields(&ogg);
    let samples = decode_ogg_opus(&ogg, 60.0).unwrap();
    assert_eq!(samples.len() as u64, (granule - pre_skip) / 3);
    assert!(samples.len() > 16_000, "about two seconds of speech");
}

#[test]
fn the_converted_model_transcribes_a_known_sentence() {
    let samples = decode_ogg_opus(&voice_note(SENTENCE), 60.0).unwrap();
    let heard = transcriber().transcribe(&samples, None).unwrap();
    let wer = word_error_rate(SENTENCE, &heard);
    assert!(wer < 0.3, "word error rate {wer:.2}: heard {heard:?}");
}

/// The English model's default (checked) window hears a clear note over the fitted window alone, as the
/// standard window hears it; a pass with nothing in it (a silent note) is heard again over the
/// standard window.
#[test]
fn the_checked_window_hears_clear_notes_once_and_doubtful_ones_again() {
    let transcriber = transcriber();
    let samples = decode_ogg_opus(&voice_note(SENTENCE), 60.0).unwrap();
    let checked = transcriber
        .hear_with(&samples, None, EncoderWindow::Checked)
        .unwrap();
    assert!(!checked.rerun, "a clear note is heard once: {checked:?}");
    assert!(
        checked.mean_logprob > DOUBTFUL_LOGPROB && checked.tokens > 5,
        "{checked:?}"
    );
    let wer = word_error_rate(SENTENCE, &checked.text);
    assert!(wer < 0.3, "word error rate {wer:.2}: {checked:?}");
    let fitted = transcriber
        .hear_with(&samples, None, EncoderWindow::Fitted)
        .unwrap();
    assert_eq!(
        fitted.text, checked.text,
        "the checked window kept the fitted pass"
    );
    let standard = transcriber
        .hear_with(&samples, None, EncoderWindow::Standard)
        .unwrap();
    assert!(
        word_error_rate(SENTENCE, &standard.text) < 0.3,
        "{standard:?}"
    );

    let silence = vec![0.0f32; 16_000 * 3];
    let fitted = transcriber
        .hear_with(&silence, None, EncoderWindow::Fitted)
        .unwrap();
    assert!(
        fitted.doubtful(),
        "silence over the fitted window: {fitted:?}"
    );
    let checked = transcriber
        .hear_with(&silence, None, EncoderWindow::Checked)
        .unwrap();
    assert!(
        checked.rerun,
        "heard again over the standard window: {checked:?}"
    );
    let standard = transcriber
        .hear_with(&silence, None, EncoderWindow::Standard)
        .unwrap();
    assert_eq!(checked.text, standard.text);
}

/// The weights load with the first note, stay while notes come, and are released when idle;
/// the next note loads them again and is heard as well.
#[test]
fn whisper_memory_is_taken_for_notes_and_given_back_when_idle() {
    let transcriber = transcriber().with_idle(std::time::Duration::from_millis(400));
    assert!(!transcriber.is_warm(), "nothing is loaded before a note");
    let samples = decode_ogg_opus(&voice_note(SENTENCE), 60.0).unwrap();
    let first = transcriber.transcribe(&samples, None).unwrap();
    assert!(word_error_rate(SENTENCE, &first) < 0.3, "heard {first:?}");
    let released = std::time::Instant::now();
    while transcriber.is_warm() {
        assert!(
            released.elapsed() < std::time::Duration::from_secs(30),
            "the weights were never released"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let again = transcriber.transcribe(&samples, None).unwrap();
    assert_eq!(again, first, "reloaded weights hear the same");
    assert!(transcriber.is_warm());
}

fn voice_harness(h: Harness) -> Harness {
    h.set(
        "HEARTH_WHISPER_MODEL",
        &whisper_model().display().to_string(),
    )
    .set("HEARTH_WHISPER_THREADS", "2")
}

#[tokio::test]
async fn a_telegram_voice_note_is_transcribed_and_answered() {
    let h = voice_harness(Harness::new().await);
    let bot = h.start_bot().await;
    h.tg.send_voice(ALICE, "Alice", voice_note(SENTENCE), 4);
    let reply = h.reply_containing(ALICE, "echo:").await;
    // The transcript is quoted above the answer, in the same message.
    assert!(reply.starts_with("🎙 «"), "{reply}");
    let request = h.ollama.requests()[0].last_user();
    assert!(
        word_error_rate(SENTENCE, &request) < 0.3,
        "model got {request:?}"
    );
    assert!(reply.contains(&format!("echo: {request}")), "{reply}");
    assert!(bot.log().contains("transcribed a voice note"));
    // A follow-up question sees the transcript in the history.
    h.tg.send_private(ALICE, "Alice", "When was that?");
    h.reply_containing(ALICE, "echo: When was that?").await;
    let history = h.ollama.requests()[1].all_text();
    assert!(history.contains(&request), "{history}");
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_spoken_reminder_is_set_without_the_model() {
    let h = voice_harness(Harness::new().await).set("HEARTH_TIMEZONE", "Asia/Seoul");
    let _bot = h.start_bot().await;
    h.tg.send_voice(ALICE, "Alice", voice_note(REMINDER), 4);
    let reply = h.reply_containing(ALICE, "⏰ Reminder r1 set for").await;
    assert!(reply.starts_with("🎙 «"), "{reply}");
    // "tomorrow morning" is 9:00 in the person's zone.
    assert!(reply.contains(" 09:00 (Asia/Seoul): call"), "{reply}");
    assert!(h.ollama.requests().is_empty());
}

#[tokio::test]
async fn a_strangers_voice_note_is_refused_before_download() {
    let h = voice_harness(Harness::new().await);
    let bot = h.start_bot().await;
    h.tg.send_voice(STRANGER, "Eve", voice_note("hello"), 1);
    h.reply_containing(STRANGER, "not on its list").await;
    assert_eq!(
        h.tg.downloads(),
        0,
        "nothing a stranger sent was downloaded"
    );
    assert!(h.tg.calls_of("getfile").is_empty());
    assert!(h.ollama.requests().is_empty());
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn broken_long_and_unsupported_audio_get_clear_replies_and_the_bot_keeps_working() {
    let h = voice_harness(Harness::new().await).set("HEARTH_VOICE_MAX_SECONDS", "20");
    let bot = h.start_bot().await;
    let note = voice_note(SENTENCE);
    h.tg.send_voice(ALICE, "Alice", note[..note.len() / 2].to_vec(), 4);
    h.reply_containing(ALICE, "couldn't read that audio").await;
    h.tg.send_voice(ALICE, "Alice", b"OggS garbage garbage garbage".to_vec(), 2);
    let replies = hearth_tests::eventually(WAIT, || {
        let n =
            h.tg.messages(ALICE)
                .iter()
                .filter(|m| m.text.contains("couldn't read"))
                .count();
        (n == 2).then_some(())
    })
    .await;
    assert!(replies.is_some(), "{:#?}", h.tg.messages(ALICE));
    // Telegram reports the duration: an over-long note is refused before download.
    let downloads = h.tg.downloads();
    h.tg.send_voice(ALICE, "Alice", note.clone(), 600);
    h.reply_containing(ALICE, "too long").await;
    assert_eq!(h.tg.downloads(), downloads);
    h.tg.send_audio(ALICE, "Alice", b"ID3 not really".to_vec(), "audio/mpeg");
    h.reply_containing(ALICE, "can't listen to MP3").await;
    // Still answering.
    h.tg.send_voice(ALICE, "Alice", note, 4);
    h.reply_containing(ALICE, "echo:").await;
    assert_eq!(h.ollama.requests().len(), 1);
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn without_a_speech_model_a_voice_note_gets_a_clear_reply() {
    let h = Harness::new().await;
    let bot = h.start_bot().await;
    assert!(bot.log().contains("voice notes are off"));
    h.tg.send_voice(ALICE, "Alice", voice_note("hello"), 1);
    h.reply_containing(ALICE, "Voice notes are not set up")
        .await;
    assert_eq!(h.tg.downloads(), 0);
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn a_discord_voice_message_is_transcribed_and_answered() {
    let h = DiscordHarness::new()
        .await
        .set(
            "HEARTH_WHISPER_MODEL",
            &whisper_model().display().to_string(),
        )
        .set("HEARTH_WHISPER_THREADS", "2");
    let bot = h.start_bot().await;
    let dm = "400000000000000077";
    let url =
        h.dc.host_attachment("voice-message.ogg", voice_note(SENTENCE));
    let attachment = json!({"id": "800000000000000001", "filename": "voice-message.ogg", "size": 9000,
        "url": url, "proxy_url": url, "content_type": "audio/ogg", "duration_secs": 3.9,
        "waveform": "AAAA"});
    h.dc.user_message_with(
        crate::discord::ALICE,
        dm,
        None,
        "",
        false,
        None,
        vec![attachment.clone()],
        1 << 13,
    );
    let answer =
        h.dc.wait_for_message(dm, WAIT, |m| {
            m.author == BOT_ID && m.content.contains("echo:")
        })
        .await;
    assert!(answer.content.starts_with("🎙 «"), "{}", answer.content);
    let request = h.ollama.requests()[0].last_user();
    assert!(
        word_error_rate(SENTENCE, &request) < 0.3,
        "model got {request:?}"
    );
    // In a server channel a voice message that neither replies to nor mentions the bot is ignored.
    h.dc.user_message_with(
        crate::discord::ALICE,
        hearth_tests::discord::CHANNEL,
        Some((GUILD, &[])),
        "",
        false,
        None,
        vec![attachment],
        1 << 13,
    );
    // Gateway events are handled in order: once a later DM is answered, the ignored
    // voice message has been seen, and a graceful stop waits for anything it started.
    h.dc.user_message(crate::discord::ALICE, dm, None, "still there?", false, None);
    h.dc.wait_for_message(dm, WAIT, |m| m.content.contains("echo: still there?"))
        .await;
    assert_eq!(bot.terminate().await, Some(0));
    assert_eq!(
        h.ollama.requests().len(),
        2,
        "only the two DMs reached the model"
    );
}

/// Korean speech from espeak-ng, which Whisper hears only roughly (see BENCHMARKS.md): the
/// test checks the path and that whatever Hangul came back is shown and answered.
const KOREAN: &str = "우리 고양이 이름은 나비야.";

fn has_hangul(text: &str) -> bool {
    text.chars().any(hearth_tests::is_hangul)
}

/// The `n`th (0-based) "transcribed a voice note" line of the bot's log.
fn transcription_line(log: &str, n: usize) -> String {
    log.lines()
        .filter(|l| l.contains("transcribed a voice note"))
        .nth(n)
        .unwrap_or_else(|| panic!("transcription log line {n} missing"))
        .to_owned()
}

#[tokio::test]
async fn a_korean_voice_note_goes_through_the_multilingual_model_in_korean() {
    let h = voice_harness(Harness::new().await).set(
        "HEARTH_WHISPER_MULTILINGUAL_MODEL",
        &whisper_multilingual_model().display().to_string(),
    );
    let bot = h.start_bot().await;
    let slow = std::time::Duration::from_secs(120);
    // Alice's Telegram is in Korean: her note is heard by the multilingual model, in Korean.
    h.tg.send_voice_in(ALICE, "Alice", voice_note_in("ko", KOREAN), 3, "ko");
    let reply =
        h.tg.wait_for_message(ALICE, slow, |m| m.text.contains("echo:"))
            .await
            .text;
    assert!(reply.starts_with("🎙 «"), "{reply}");
    let request = h.ollama.requests()[0].last_user();
    assert!(has_hangul(&request), "the model got {request:?}");
    assert!(reply.contains(&format!("echo: {request}")), "{reply}");
    let line = transcription_line(&bot.log(), 0);
    assert!(
        line.contains("language=ko") && line.contains("ggml-base.bin"),
        "{line}"
    );

    // Bob's app says nothing of a language and the bot's default is English: the fast
    // English-only model hears him.
    h.tg.send_voice(BOB, "Bob", voice_note(SENTENCE), 4);
    h.tg.wait_for_message(BOB, slow, |m| m.text.contains("echo:"))
        .await;
    let request = h.ollama.requests()[1].last_user();
    assert!(
        word_error_rate(SENTENCE, &request) < 0.3,
        "model got {request:?}"
    );
    let line = transcription_line(&bot.log(), 1);
    assert!(
        line.contains("language=en") && line.contains("ggml-tiny.en-q8_0.bin"),
        "{line}"
    );

    // Alice switches to English with /language en: her notes go to the English model.
    h.tg.send_private_in(ALICE, "Alice", "/language en", "ko");
    h.reply_containing(ALICE, "English").await;
    h.tg.send_voice_in(ALICE, "Alice", voice_note(SENTENCE), 4, "ko");
    h.tg.wait_for_message(ALICE, slow, |m| {
        m.text.contains("echo:") && !has_hangul(&m.text)
    })
    .await;
    let line = transcription_line(&bot.log(), 2);
    assert!(line.contains("ggml-tiny.en-q8_0.bin"), "{line}");
    assert_eq!(bot.terminate().await, Some(0));
}

#[tokio::test]
async fn doctor_reports_the_speech_model() {
    let h = voice_harness(Harness::new().await);
    let mut doctor = h.spawn(&["doctor"]);
    doctor.wait(WAIT).await;
    let log = doctor.log();
    assert!(log.contains("transcribes 1 s of silence in"), "{log}");
    assert!(
        log.contains("checked encoder window"),
        "the default window: {log}"
    );
}
