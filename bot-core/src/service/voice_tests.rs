//! Voice notes through the chat service, with a scripted transcriber.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::tests::{collect, final_text, message, service_with_voice};
use super::*;
use crate::model::scripted::ScriptedModel;
use crate::types::Attachment;
use crate::voice::tests::encode_ogg_opus;
use crate::voice::{ScriptedTranscriber, Voice, VoiceConfig};

fn tone(seconds: f64) -> Vec<f32> {
    (0..(seconds * 48_000.0) as usize)
        .map(|i| 0.3 * (i as f32 * 0.05).sin())
        .collect()
}

/// A voice note whose download records that it happened.
fn note(bytes: Vec<u8>, duration: Option<f64>, fetched: &Arc<AtomicBool>) -> VoiceNote {
    let fetched = Arc::clone(fetched);
    let size = bytes.len() as u64;
    VoiceNote {
        attachment: Attachment {
            id: "voice-1".into(),
            mime_type: Some("audio/ogg".into()),
            size: Some(size),
            duration_secs: duration,
        },
        fetch: Box::pin(async move {
            fetched.store(true, Ordering::SeqCst);
            Ok(bytes)
        }),
    }
}

fn voice(transcriber: ScriptedTranscriber) -> Voice {
    Voice::new(
        Arc::new(transcriber),
        VoiceConfig {
            max_seconds: 10.0,
            ..VoiceConfig::default()
        },
    )
}

#[tokio::test]
async fn a_voice_note_is_transcribed_shown_and_answered_as_text() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_text(&["Milk is on the list."], Duration::ZERO);
    let transcriber = ScriptedTranscriber::answering("/reset remind me to buy milk");
    let (service, store) = service_with_voice(model.clone(), 1, Some(voice(transcriber)));
    let fetched = Arc::new(AtomicBool::new(false));
    let ogg = encode_ogg_opus(&tone(2.0));
    let events =
        collect(service.handle_voice(message("1", ""), note(ogg, Some(2.0), &fetched))).await;
    assert!(events.contains(&ReplyEvent::Transcript(
        "/reset remind me to buy milk".into()
    )));
    assert_eq!(final_text(&events), "Milk is on the list.");
    // Answered as typed text, never as a command, and kept in the history.
    let request = &model.requests()[0];
    assert_eq!(
        request.messages.last().unwrap().content,
        "/reset remind me to buy milk"
    );
    let scope = message("1", "").scope();
    let history = store.recent(&scope, 10).await.unwrap();
    assert_eq!(history[0].turn.text, "/reset remind me to buy milk");
}

#[tokio::test]
async fn strangers_and_over_long_notes_are_refused_before_download() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _) = service_with_voice(
        model.clone(),
        1,
        Some(voice(ScriptedTranscriber::answering("x"))),
    );
    let fetched = Arc::new(AtomicBool::new(false));
    let events =
        collect(service.handle_voice(message("666", ""), note(vec![1], Some(1.0), &fetched))).await;
    assert!(final_text(&events).contains("not on its list"));
    let events =
        collect(service.handle_voice(message("1", ""), note(vec![1], Some(600.0), &fetched))).await;
    assert!(final_text(&events).contains("too long"), "{events:?}");
    assert!(!fetched.load(Ordering::SeqCst), "nothing was downloaded");
    assert!(model.requests().is_empty());
}

#[tokio::test]
async fn broken_audio_and_missing_voice_get_clear_replies() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _) = service_with_voice(
        model.clone(),
        1,
        Some(voice(ScriptedTranscriber::answering("x"))),
    );
    let fetched = Arc::new(AtomicBool::new(false));
    let garbage = b"OggS this is not really an ogg file at all".to_vec();
    let events =
        collect(service.handle_voice(message("1", ""), note(garbage, None, &fetched))).await;
    assert!(
        final_text(&events).contains("couldn't read that audio"),
        "{events:?}"
    );

    let (service, _) = service_with_voice(model.clone(), 1, None);
    let events =
        collect(service.handle_voice(message("1", ""), note(vec![], None, &fetched))).await;
    assert!(final_text(&events).contains("not set up"), "{events:?}");
    assert!(model.requests().is_empty());
}

#[tokio::test]
async fn silence_gets_a_note_instead_of_an_empty_question() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let (service, _) = service_with_voice(
        model.clone(),
        1,
        Some(voice(ScriptedTranscriber::answering(" [BLANK_AUDIO] "))),
    );
    let fetched = Arc::new(AtomicBool::new(false));
    let ogg = encode_ogg_opus(&vec![0.0; 48_000]);
    let events = collect(service.handle_voice(message("1", ""), note(ogg, None, &fetched))).await;
    assert!(final_text(&events).contains("couldn't make out any words"));
    assert!(model.requests().is_empty());
}

#[tokio::test]
async fn a_spoken_reminder_is_set_like_a_typed_one() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    let transcriber =
        ScriptedTranscriber::answering("Remind me in 20 minutes to take the pizza out.");
    let (service, _) = service_with_voice(model.clone(), 1, Some(voice(transcriber)));
    let fetched = Arc::new(AtomicBool::new(false));
    let ogg = encode_ogg_opus(&tone(2.0));
    let events =
        collect(service.handle_voice(message("1", ""), note(ogg, Some(2.0), &fetched))).await;
    let said = final_text(&events);
    assert!(said.starts_with("⏰ Reminder r1 set for"), "{said}");
    assert!(said.ends_with(": take the pizza out"), "{said}");
    assert!(model.requests().is_empty(), "the model computed a time");
}

#[tokio::test]
async fn a_korean_speakers_note_goes_to_the_multilingual_model_in_korean() {
    let model = Arc::new(ScriptedModel::new(&["m"], 4096));
    model.push_text(&["나비는 잘 지내요."], Duration::ZERO);
    model.push_text(&["Fine."], Duration::ZERO);
    let english = Arc::new(ScriptedTranscriber::answering("How is Nabi?"));
    let multilingual = Arc::new(ScriptedTranscriber::answering("나비는 잘 지내?").multilingual());
    let voice = Voice::with_models(
        english.clone(),
        Some(multilingual.clone()),
        crate::voice::SpeechLanguage::Person,
        VoiceConfig::default(),
    );
    let (service, _) = service_with_voice(model.clone(), 1, Some(voice));
    let fetched = Arc::new(AtomicBool::new(false));
    let ogg = encode_ogg_opus(&tone(1.0));
    // Telegram says the app is in Korean.
    let mut korean = message("1", "");
    korean.locale = Some("ko".into());
    let events =
        collect(service.handle_voice(korean, note(ogg.clone(), Some(1.0), &fetched))).await;
    assert!(
        events.contains(&ReplyEvent::Status("음성 메시지를 받아쓰는 중…".into())),
        "{events:?}"
    );
    assert!(events.contains(&ReplyEvent::Transcript("나비는 잘 지내?".into())));
    assert_eq!(final_text(&events), "나비는 잘 지내요.");
    assert_eq!(multilingual.languages(), vec![Some("ko".to_owned())]);
    assert!(english.languages().is_empty());
    assert_eq!(
        model.requests()[0].messages.last().unwrap().content,
        "나비는 잘 지내?"
    );
    // An English speaker's note goes to the English model.
    let events =
        collect(service.handle_voice(message("2", ""), note(ogg, Some(1.0), &fetched))).await;
    assert!(events.contains(&ReplyEvent::Transcript("How is Nabi?".into())));
    assert_eq!(english.languages(), vec![Some("en".to_owned())]);
}
