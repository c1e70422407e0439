//! Drives one reply's display from its [`ReplyEvent`]s, the same way on every platform.
//!
//! An adapter implements [`LiveReply`] for its messages (how to send, edit,
//! pace, split and show typing); [`render`] decides what the reply shows at
//! each moment: the queue position or a progress note until the answer
//! starts, a voice note's transcript above everything, the answer growing as
//! it streams (one paced update at a time, the latest text flushed when the
//! slot frees), the complete text at the end, files after the text.

use std::future::Future;

use tokio::time::Instant;

use crate::types::{ReplyEvent, ReplyStream, TurnRef};
use crate::voice::transcript_header;

/// One reply on a platform: the text it should show and the messages that show it.
pub trait LiveReply: Send {
    /// When the next paced call is allowed.
    fn ready_at(&self) -> Instant;

    /// The text the reply should show (Markdown).
    fn text(&mut self) -> &mut String;

    /// Whether a message has been sent yet.
    fn has_sent(&self) -> bool;

    /// One intermediate update if the pacing slot is free. Returns false when the
    /// messages are still behind the text.
    fn update(&mut self) -> impl Future<Output = bool> + Send;

    /// Delivers the current text completely, waiting for slots as needed.
    fn settle(&mut self) -> impl Future<Output = ()> + Send;

    /// Starts showing "typing…" (where the platform needs it).
    fn start_typing(&mut self);

    /// Stops showing "typing…".
    fn stop_typing(&mut self);

    /// Sends a file; the error is for the log.
    fn send_file(
        &mut self,
        name: String,
        bytes: Vec<u8>,
        caption: String,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Sends `prompt` in a message of its own with two buttons, approve and cancel, whose
    /// taps the adapter passes to [`ChatService::decide`](crate::ChatService::decide) with
    /// `id`, labelled `buttons` (approve, cancel). The error is for the log.
    fn ask(
        &mut self,
        id: String,
        prompt: String,
        buttons: [String; 2],
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// The platform ids of the messages sent.
    fn message_ids(&self) -> Vec<String>;
}

fn show(live: &mut impl LiveReply, text: String) {
    *live.text() = text;
}

/// Shows `events` through `live`. Returns the stored turn and the ids of the
/// messages that carry it, when the reply was a model answer.
pub async fn render(
    live: &mut impl LiveReply,
    mut events: ReplyStream,
) -> Option<(TurnRef, Vec<String>)> {
    let mut answering = false;
    let mut dirty = false;
    // A voice note's transcript, shown above everything that follows.
    let mut header = String::new();
    // Files follow the text (on Discord a follow-up sent before the deferred
    // response is edited would take that response's place).
    let mut files = Vec::new();
    loop {
        let flush_at = live.ready_at();
        let event = tokio::select! {
            event = events.recv() => event,
            _ = tokio::time::sleep_until(flush_at), if dirty => {
                dirty = !live.update().await;
                continue;
            }
        };
        match event {
            Some(ReplyEvent::Started) => live.start_typing(),
            Some(ReplyEvent::Queued { notice, .. }) => {
                show(live, format!("{header}⏳ {notice}"));
                live.settle().await;
            }
            Some(ReplyEvent::Status(status)) => {
                if !answering {
                    show(live, format!("{header}⏳ {status}"));
                    dirty = !live.update().await;
                }
            }
            Some(ReplyEvent::Transcript(text)) => {
                header = transcript_header(&text);
                show(live, format!("{header}…"));
                dirty = !live.update().await;
            }
            Some(ReplyEvent::Delta(delta)) => {
                if !answering {
                    answering = true;
                    show(live, header.clone());
                }
                live.text().push_str(&delta);
                dirty = !live.update().await;
                if live.has_sent() {
                    live.stop_typing();
                }
            }
            Some(ReplyEvent::Finished { text, turn }) => {
                live.stop_typing();
                show(live, format!("{header}{text}"));
                live.settle().await;
                for (name, bytes, caption) in files {
                    if let Err(e) = live.send_file(name, bytes, caption).await {
                        tracing::warn!(error = %e, "could not send a file");
                        live.text()
                            .push_str("\n\n⚠️ I could not send the file. Please try again.");
                        live.settle().await;
                    }
                }
                return turn.map(|turn| (turn, live.message_ids()));
            }
            Some(ReplyEvent::File {
                name,
                bytes,
                caption,
            }) => files.push((name, bytes, caption)),
            Some(ReplyEvent::Confirm {
                id,
                prompt,
                buttons,
            }) => {
                // What the answer shows so far (the 🔧 lines) goes out first, so the
                // question comes below it.
                if !live.text().trim().is_empty() {
                    live.settle().await;
                    dirty = false;
                }
                live.stop_typing();
                if let Err(e) = live.ask(id, prompt, buttons).await {
                    tracing::warn!(error = %e, "could not ask for a confirmation");
                    live.text().push_str(
                        "\n\n⚠️ I could not show the buttons to confirm an action, so it will not run.",
                    );
                    live.settle().await;
                }
            }
            Some(ReplyEvent::Failed { message }) => {
                live.stop_typing();
                show(live, format!("{header}⚠️ {message}"));
                live.settle().await;
                return None;
            }
            None => {
                live.stop_typing();
                if dirty {
                    live.settle().await;
                }
                return None;
            }
        }
    }
}
