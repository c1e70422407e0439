//! Voice notes: check, download, transcribe, then answer the transcript as typed text.

use futures::future::BoxFuture;

use super::{Inner, Reply};
use crate::lang::{t, tr};
use crate::types::{Attachment, InboundMessage, ReplyEvent};
use crate::voice::VoiceError;

/// A voice note an adapter received: what the platform says about the file,
/// and how to fetch it. The fetch runs only after the sender, the format and
/// the limits were checked, so nothing a stranger sends is downloaded.
pub struct VoiceNote {
    /// The platform's description (MIME type, size, duration).
    pub attachment: Attachment,
    /// Downloads the file; the error is a cause for the log.
    pub fetch: BoxFuture<'static, Result<Vec<u8>, String>>,
}

impl std::fmt::Debug for VoiceNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceNote")
            .field("attachment", &self.attachment)
            .finish()
    }
}

/// Whether the platform's MIME type can be OGG/Opus (absent: find out from the bytes).
fn may_be_ogg_opus(mime: Option<&str>) -> Result<(), VoiceError> {
    let Some(mime) = mime else { return Ok(()) };
    let base = mime
        .split(';')
        .next()
        .unwrap_or(mime)
        .trim()
        .to_ascii_lowercase();
    match base.as_str() {
        "audio/ogg" | "audio/opus" | "audio/x-opus+ogg" | "application/ogg" | "video/ogg" => Ok(()),
        "audio/mpeg" | "audio/mp3" => Err(VoiceError::Unsupported("MP3".into())),
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "audio/aac" => {
            Err(VoiceError::Unsupported("M4A/AAC".into()))
        }
        "video/mp4" => Err(VoiceError::Unsupported("video (MP4)".into())),
        "audio/wav" | "audio/x-wav" | "audio/wave" => Err(VoiceError::Unsupported("WAV".into())),
        other => Err(VoiceError::Unsupported(other.to_owned())),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

impl Inner {
    /// Turns a voice note into a message carrying its transcript, or answers
    /// why it cannot (and returns `None`).
    pub(super) async fn transcribe_note(
        &self,
        mut message: InboundMessage,
        note: VoiceNote,
        reply: &Reply,
    ) -> Option<InboundMessage> {
        let lang = self.person_lang(&message).await;
        let Some(voice) = &self.deps.voice else {
            tracing::info!(user = %message.user_id, "a voice note arrived but no speech model is configured");
            reply.finish(t(lang, "voice-off")).await;
            return None;
        };
        let limits = voice.config();
        let refuse = |e: VoiceError| {
            tracing::info!(error = %e, user = %message.user_id, "refused a voice note");
            e.user_message_in(lang)
        };
        if let Err(e) = may_be_ogg_opus(note.attachment.mime_type.as_deref()) {
            reply.finish(refuse(e)).await;
            return None;
        }
        if let Some(size) = note.attachment.size.filter(|&size| size > limits.max_bytes) {
            tracing::info!(
                size,
                limit = limits.max_bytes,
                "refused an oversized voice note"
            );
            reply
                .finish(tr(
                    lang,
                    "voice-too-large",
                    &[
                        ("size", &megabytes(size)),
                        ("limit", &megabytes(limits.max_bytes)),
                    ],
                ))
                .await;
            return None;
        }
        if note
            .attachment
            .duration_secs
            .is_some_and(|d| d > limits.max_seconds)
        {
            let e = VoiceError::TooLong {
                max_seconds: limits.max_seconds,
            };
            reply.finish(refuse(e)).await;
            return None;
        }
        let language = voice.language_for(lang.code());
        if !voice.hears(&language) {
            tracing::warn!(
                user = %message.user_id,
                language = %language,
                "a voice note in a language other than English, but only an English-only speech \
                 model is configured (HEARTH_WHISPER_MULTILINGUAL_MODEL): heard as English"
            );
        }
        reply
            .send(ReplyEvent::Status(t(lang, "voice-transcribing")))
            .await;
        let bytes = match note.fetch.await {
            Ok(bytes) if bytes.len() as u64 > limits.max_bytes => {
                tracing::info!(
                    size = bytes.len(),
                    "refused an oversized voice note after download"
                );
                reply
                    .finish(tr(
                        lang,
                        "voice-too-large-after",
                        &[("limit", &megabytes(limits.max_bytes))],
                    ))
                    .await;
                return None;
            }
            Ok(bytes) => bytes,
            Err(cause) => {
                tracing::warn!(cause = %cause, "could not download a voice note");
                reply.fail(t(lang, "voice-download-failed")).await;
                return None;
            }
        };
        let tx = reply.tx.clone();
        let queued = move |position: usize| {
            let _ = tx.try_send(ReplyEvent::Status(tr(
                lang,
                "voice-queued",
                &[("position", &position.to_string())],
            )));
        };
        let transcript = match voice.transcribe(bytes, &language, queued).await {
            Ok(transcript) => transcript,
            Err(e) => {
                tracing::warn!(error = %e, user = %message.user_id, "could not transcribe a voice note");
                crate::telemetry::error("voice");
                reply.fail(e.user_message_in(lang)).await;
                return None;
            }
        };
        crate::telemetry::transcription(transcript.audio, transcript.transcribe);
        tracing::info!(
            audio_s = transcript.audio.as_secs_f64(),
            decode_ms = transcript.decode.as_millis() as u64,
            transcribe_ms = transcript.transcribe.as_millis() as u64,
            chars = transcript.text.chars().count(),
            language = %transcript.language,
            model = %transcript.model,
            "transcribed a voice note"
        );
        if transcript.text.is_empty() {
            reply.finish(t(lang, "voice-no-words")).await;
            return None;
        }
        reply
            .send(ReplyEvent::Transcript(transcript.text.clone()))
            .await;
        message.text = transcript.text;
        message.attachments.clear();
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_from_the_mime_type() {
        assert!(may_be_ogg_opus(None).is_ok());
        assert!(may_be_ogg_opus(Some("audio/ogg")).is_ok());
        assert!(may_be_ogg_opus(Some("audio/ogg; codecs=opus")).is_ok());
        assert!(matches!(
            may_be_ogg_opus(Some("audio/mpeg")),
            Err(VoiceError::Unsupported(f)) if f == "MP3"
        ));
        assert!(may_be_ogg_opus(Some("video/mp4")).is_err());
    }
}
