//! Telegram message -> core [`InboundMessage`].

use bot_core::{Attachment, ChatRef, InboundMessage, Platform};
use teloxide::types::{FileMeta, Me, Message, Seconds};

/// Translates `message`, or `None` when the bot should not answer it:
/// channel posts, messages from bots, group messages when groups are off, and
/// group messages that neither mention the bot nor reply to it.
pub fn to_inbound(message: &Message, me: &Me, allow_groups: bool) -> Option<InboundMessage> {
    let from = message.from.as_ref()?;
    if from.is_bot || message.chat.is_channel() {
        return None;
    }
    let raw = message
        .text()
        .or_else(|| message.caption())
        .unwrap_or_default();
    let shared = !message.chat.is_private();
    let text = if shared {
        if !allow_groups {
            return None;
        }
        let replied_to_me = message
            .reply_to_message()
            .and_then(|m| m.from.as_ref())
            .is_some_and(|u| u.id == me.id);
        let (text, mentioned) = strip_mention(raw, me.username());
        let command_for_me = text
            .split_whitespace()
            .next()
            .and_then(|word| word.strip_prefix('/'))
            .and_then(|word| word.split_once('@'))
            .is_some_and(|(_, target)| target.eq_ignore_ascii_case(me.username()));
        if !(mentioned || replied_to_me || command_for_me) {
            return None;
        }
        text
    } else {
        strip_mention(raw, me.username()).0
    };
    // `None`: a command addressed to another bot in the same group.
    let text = strip_command_suffix(&text, me.username())?;
    Some(InboundMessage {
        platform: Platform::Telegram,
        chat: ChatRef {
            id: message.chat.id.0.to_string(),
            is_shared: shared,
        },
        user_id: from.id.0.to_string(),
        display_name: from.full_name(),
        message_id: Some(message.id.0.to_string()),
        text,
        attachments: attachments(message),
        reply_to: message.reply_to_message().map(|m| m.id.0.to_string()),
        membership: None,
        locale: from.language_code.clone(),
    })
}

/// Removes `@username` mentions of the bot; says whether there was one.
///
/// Telegram usernames are ASCII, so the mention is matched ASCII-case-insensitively on the
/// original text: every offset found is a character boundary of `text` itself. (Lowercasing
/// the whole text first changes byte lengths, "İ" or the Kelvin sign, and made slicing panic.)
pub fn strip_mention(text: &str, username: &str) -> (String, bool) {
    let needle = format!("@{username}");
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    let mut rest = 0;
    for (at, _) in text.match_indices('@') {
        if at < rest {
            continue;
        }
        let end = at + needle.len();
        let Some(candidate) = text.as_bytes().get(at..end) else {
            break;
        };
        if !candidate.eq_ignore_ascii_case(needle.as_bytes()) {
            continue;
        }
        // Only a whole word counts: "@my_bot" but not "@my_bot2", and not the "/cmd@my_bot" suffix.
        let after = text[end..].chars().next();
        let before = text[..at].chars().next_back();
        if after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            || before.is_some_and(|c| !c.is_whitespace())
        {
            continue;
        }
        out.push_str(&text[rest..at]);
        rest = end;
        found = true;
    }
    out.push_str(&text[rest..]);
    let cleaned = out.split_whitespace().collect::<Vec<_>>().join(" ");
    (
        if found {
            cleaned
        } else {
            text.trim().to_owned()
        },
        found,
    )
}

/// Turns `/cmd@my_bot args` into `/cmd args`; `None` when the command names another bot.
pub fn strip_command_suffix(text: &str, username: &str) -> Option<String> {
    let Some(rest) = text.strip_prefix('/') else {
        return Some(text.to_owned());
    };
    let (word, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    match word.split_once('@') {
        Some((command, target)) if target.eq_ignore_ascii_case(username) => {
            Some(format!("/{command} {args}").trim_end().to_owned())
        }
        Some(_) => None,
        None => Some(text.to_owned()),
    }
}

/// The audio of a voice note, audio file, video note, or audio document, if the
/// message has one. The core decides whether its format can be read.
pub fn voice_attachment(message: &Message) -> Option<Attachment> {
    if let Some(note) = message.video_note() {
        return Some(Attachment {
            id: note.file.id.to_string(),
            mime_type: Some("video/mp4".into()),
            size: Some(u64::from(note.file.size)),
            duration_secs: Some(f64::from(note.duration.seconds())),
        });
    }
    let is_audio = message.voice().is_some()
        || message.audio().is_some()
        || message
            .document()
            .and_then(|d| d.mime_type.as_ref())
            .is_some_and(|m| m.type_() == "audio");
    if !is_audio {
        return None;
    }
    attachments(message).into_iter().next()
}

/// The picture or document of `message` (not audio: see [`voice_attachment`]): its kind,
/// file name and description. Of a photo's sizes, the smallest whose longest side reaches
/// `max_side` (no more is downloaded than the model gets), else the largest, and never
/// one over `max_bytes` when a smaller one exists.
pub fn file(
    message: &Message,
    max_side: u32,
    max_bytes: u64,
) -> Option<(bot_core::files::FileKind, Option<String>, Attachment)> {
    if let Some(sizes) = message.photo() {
        let fits = |p: &&teloxide::types::PhotoSize| u64::from(p.file.size) <= max_bytes;
        let mut candidates: Vec<&teloxide::types::PhotoSize> = sizes.iter().filter(fits).collect();
        if candidates.is_empty() {
            // All too large: the core says so with the smallest one's size.
            candidates = sizes.iter().collect();
            candidates.sort_by_key(|p| p.file.size);
            candidates.truncate(1);
        }
        candidates.sort_by_key(|p| p.width.max(p.height));
        let chosen = candidates
            .iter()
            .find(|p| p.width.max(p.height) >= max_side)
            .or(candidates.last())?;
        return Some((
            bot_core::files::FileKind::Photo,
            None,
            Attachment {
                id: chosen.file.id.to_string(),
                mime_type: Some("image/jpeg".into()),
                size: Some(u64::from(chosen.file.size)),
                duration_secs: None,
            },
        ));
    }
    let document = message.document()?;
    if document
        .mime_type
        .as_ref()
        .is_some_and(|m| m.type_() == "audio")
    {
        return None;
    }
    Some((
        bot_core::files::FileKind::Document,
        document.file_name.clone(),
        Attachment {
            id: document.file.id.to_string(),
            mime_type: document.mime_type.as_ref().map(ToString::to_string),
            size: Some(u64::from(document.file.size)),
            duration_secs: None,
        },
    ))
}

fn attachments(message: &Message) -> Vec<Attachment> {
    let attachment =
        |file: &FileMeta, mime_type: Option<String>, duration: Option<Seconds>| Attachment {
            id: file.id.to_string(),
            mime_type,
            size: Some(u64::from(file.size)),
            duration_secs: duration.map(|d| f64::from(d.seconds())),
        };
    let voice = message.voice().map(|v| {
        attachment(
            &v.file,
            v.mime_type.as_ref().map(ToString::to_string),
            Some(v.duration),
        )
    });
    let audio = message.audio().map(|a| {
        attachment(
            &a.file,
            a.mime_type.as_ref().map(ToString::to_string),
            Some(a.duration),
        )
    });
    let document = message
        .document()
        .map(|d| attachment(&d.file, d.mime_type.as_ref().map(ToString::to_string), None));
    [voice, audio, document].into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_removed_only_when_whole() {
        assert_eq!(
            strip_mention("@hearth_bot what time is it?", "hearth_bot"),
            ("what time is it?".into(), true)
        );
        assert_eq!(
            strip_mention("hey @Hearth_Bot, hi", "hearth_bot"),
            ("hey , hi".into(), true)
        );
        assert_eq!(
            strip_mention("@hearth_bot2 hi", "hearth_bot"),
            ("@hearth_bot2 hi".into(), false)
        );
        assert_eq!(
            strip_mention("no mention", "hearth_bot"),
            ("no mention".into(), false)
        );
    }

    /// Regression: lowercasing "İ" adds a byte, so offsets found in the lowercased copy
    /// sliced the original mid-character and the bot panicked before the access check.
    #[test]
    fn characters_whose_lowercase_is_longer_do_not_panic() {
        assert_eq!(
            strip_mention("İİİİ @hearth_bot hello", "hearth_bot"),
            ("İİİİ hello".into(), true)
        );
        assert_eq!(
            strip_mention("\u{212A}\u{212A} @Hearth_Bot hi", "hearth_bot"),
            ("\u{212A}\u{212A} hi".into(), true)
        );
        assert!(!strip_mention("İ@hearth_bot", "hearth_bot").1);
    }

    proptest::proptest! {
        #[test]
        fn any_text_translates_without_panicking(text in "\\PC*", name in "[a-zA-Z0-9_]{5,32}") {
            let (cleaned, found) = strip_mention(&text, &name);
            if !found {
                proptest::prop_assert_eq!(cleaned, text.trim());
            }
            let _ = strip_command_suffix(&text, &name);
        }

        #[test]
        fn a_mention_anywhere_is_found(before in "\\PC{0,40}", after in "\\PC{0,40}", name in "[a-z0-9_]{5,32}") {
            let text = format!("{before} @{} {after}", name.to_uppercase());
            let (cleaned, found) = strip_mention(&text, &name);
            proptest::prop_assert!(found);
            let mention = format!("@{name}");
            proptest::prop_assert!(!cleaned.to_ascii_lowercase().split_whitespace().any(|w| w == mention));
        }
    }

    #[test]
    fn command_suffixes() {
        assert_eq!(
            strip_command_suffix("/reset@hearth_bot", "hearth_bot"),
            Some("/reset".into())
        );
        assert_eq!(
            strip_command_suffix("/model@hearth_bot llama3", "hearth_bot"),
            Some("/model llama3".into())
        );
        assert_eq!(strip_command_suffix("/reset@other_bot", "hearth_bot"), None);
        assert_eq!(
            strip_command_suffix("hello", "hearth_bot"),
            Some("hello".into())
        );
    }
}
