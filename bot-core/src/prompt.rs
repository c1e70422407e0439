//! Prompt assembly: a pure function from settings, history and the clock to
//! the messages sent to the model. No I/O.
//!
//! The system prompt comes first, then as much recent history as fits the
//! context window, newest kept. Token counts are estimated without the
//! model's tokenizer, erring on the high side so the real prompt fits.

use chrono::{DateTime, Utc};

use crate::model::{PromptMessage, Role};
use crate::retrieve::{ContextGroup, Passage};
use crate::store::StoredTurn;

/// Fixed cost of one chat message (role markers, separators) in tokens.
const MESSAGE_OVERHEAD: u64 = 4;

/// A conservative token estimate: about three ASCII characters per token and
/// two tokens per other character (CJK, emoji), plus per-message overhead.
pub fn estimate_tokens(text: &str) -> u64 {
    let (ascii, other) = text.chars().fold((0u64, 0u64), |(a, o), c| {
        if c.is_ascii() { (a + 1, o) } else { (a, o + 1) }
    });
    ascii.div_ceil(3) + other * 2 + MESSAGE_OVERHEAD
}

/// The tokens available to the prompt in a window of `context_tokens`, leaving
/// room for the answer: a quarter of the window, at most 2048 tokens.
pub fn prompt_budget(context_tokens: u64) -> u64 {
    let reserve = (context_tokens / 4).min(2048);
    context_tokens.saturating_sub(reserve)
}

/// Everything a prompt is made of.
#[derive(Clone, Debug)]
pub struct PromptInput<'a> {
    /// The operator's system prompt.
    pub system_prompt: &'a str,
    /// The person's display name, so the model can address them.
    pub display_name: &'a str,
    /// The conversation, oldest first; the last turn is the new message.
    pub history: &'a [StoredTurn],
    /// Retrieved context (memories, later notes), each group best first.
    pub context: &'a [ContextGroup],
    /// The current time, given to the model so "today" means something.
    pub now: DateTime<Utc>,
    /// The person's time zone: the time is given in it.
    pub zone: chrono_tz::Tz,
    /// What language to answer in ([`crate::lang::answer_instruction`]); empty for none.
    pub language: &'a str,
    /// Tokens the prompt may use.
    pub budget_tokens: u64,
    /// Pictures still sent with the user turns they came with, by the turn's time (the
    /// latest few of the conversation; older turns keep only their `[photo: …]` note).
    pub pictures: &'a [TurnPictures],
}

/// The pictures (base64) that came with the user turn of that time.
pub type TurnPictures = (DateTime<Utc>, Vec<String>);

/// What one picture is assumed to cost in the context window (vision models turn an
/// image into a few hundred to a thousand tokens).
pub const PICTURE_TOKENS: u64 = 768;

/// The new message alone does not fit the model's context window.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the message needs about {needed} tokens but the model's window leaves {available}")]
pub struct TooLong {
    /// Estimated tokens of the system prompt plus the message.
    pub needed: u64,
    /// Tokens available.
    pub available: u64,
}

/// Builds the system message, with as much retrieved context as fits `context_budget`
/// tokens: each group under its heading, passages labelled, best first.
fn system_message(input: &PromptInput<'_>, context_budget: u64) -> String {
    let mut text = format!(
        "{}\n\nYou are talking with {}. The current date and time is {} ({}).",
        input.system_prompt.trim(),
        input.display_name,
        input
            .now
            .with_timezone(&input.zone)
            .format("%A, %Y-%m-%d %H:%M"),
        input.zone.name()
    );
    if !input.language.is_empty() {
        text.push(' ');
        text.push_str(input.language);
    }
    for (group, passages) in fit_context(input.context, context_budget) {
        let lines: Vec<String> = passages.iter().map(|p| passage_line(p)).collect();
        text.push_str(&format!("\n\n{}:\n{}", group.heading, lines.join("\n")));
    }
    text
}

fn passage_line(passage: &Passage) -> String {
    format!("- [{}] {}", passage.label, passage.text)
}

/// The passages of each group that fit `budget` tokens, best first, groups in order;
/// groups with none that fit are left out.
fn fit_context(context: &[ContextGroup], budget: u64) -> Vec<(&ContextGroup, Vec<&Passage>)> {
    let mut used = 0;
    let mut out = Vec::new();
    for group in context {
        let mut kept = Vec::new();
        for passage in &group.passages {
            let cost = estimate_tokens(&passage_line(passage));
            if used + cost > budget {
                break;
            }
            used += cost;
            kept.push(passage);
        }
        if !kept.is_empty() {
            out.push((group, kept));
        }
    }
    out
}

/// The passages to cite that [`assemble`] puts in the prompt (of groups with `cite`).
pub fn cited_passages<'a>(input: &PromptInput<'a>) -> Vec<&'a Passage> {
    fit_context(input.context, context_budget(input))
        .into_iter()
        .filter(|(group, _)| group.cite)
        .flat_map(|(_, passages)| passages)
        .collect()
}

/// Retrieved context may use at most a quarter of the budget, so the conversation keeps
/// priority.
fn context_budget(input: &PromptInput<'_>) -> u64 {
    input.budget_tokens / 4
}

/// Assembles the prompt: system message (with retrieved context, which may use at most
/// a quarter of the budget so the conversation keeps priority), then the
/// newest turns that fit.
pub fn assemble(input: &PromptInput<'_>) -> Result<Vec<PromptMessage>, TooLong> {
    let system = system_message(input, context_budget(input));
    let mut used = estimate_tokens(&system);
    let mut kept = Vec::new();
    for (i, stored) in input.history.iter().enumerate().rev() {
        let images: Vec<String> = if stored.turn.role == Role::User {
            input
                .pictures
                .iter()
                .filter(|(at, _)| *at == stored.turn.at)
                .flat_map(|(_, images)| images.iter().cloned())
                .collect()
        } else {
            Vec::new()
        };
        let cost = estimate_tokens(&stored.turn.text) + PICTURE_TOKENS * images.len() as u64;
        if used + cost > input.budget_tokens {
            if i == input.history.len() - 1 {
                return Err(TooLong {
                    needed: used + cost,
                    available: input.budget_tokens,
                });
            }
            break;
        }
        used += cost;
        let mut message = PromptMessage::new(stored.turn.role, stored.turn.text.clone());
        message.images = images;
        kept.push(message);
    }
    // A conversation should not open with an orphaned answer.
    while kept.last().is_some_and(|m| m.role == Role::Assistant) {
        kept.pop();
    }
    kept.push(PromptMessage::new(Role::System, system));
    kept.reverse();
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Turn;

    fn history(texts: &[(Role, &str)]) -> Vec<StoredTurn> {
        texts
            .iter()
            .enumerate()
            .map(|(i, (role, text))| StoredTurn {
                seq: i as u64,
                turn: Turn {
                    role: *role,
                    text: (*text).into(),
                    at: Utc::now(),
                    conversation: 0,
                    message_ids: vec![],
                },
            })
            .collect()
    }

    fn input<'a>(history: &'a [StoredTurn], budget: u64) -> PromptInput<'a> {
        PromptInput {
            system_prompt: "Be brief.",
            display_name: "Alice",
            zone: chrono_tz::UTC,
            language: "",
            history,
            context: &[],
            now: Utc::now(),
            budget_tokens: budget,
            pictures: &[],
        }
    }

    #[test]
    fn keeps_everything_when_it_fits() {
        let h = history(&[
            (Role::User, "hi"),
            (Role::Assistant, "hello"),
            (Role::User, "how are you"),
        ]);
        let prompt = assemble(&input(&h, 10_000)).unwrap();
        assert_eq!(prompt.len(), 4);
        assert_eq!(prompt[0].role, Role::System);
        assert!(prompt[0].content.contains("Be brief.") && prompt[0].content.contains("Alice"));
        assert_eq!(prompt[3].content, "how are you");
    }

    #[test]
    fn drops_oldest_turns_first_and_never_starts_with_an_answer() {
        let long = "x".repeat(300); // 100 tokens + overhead
        let h = history(&[
            (Role::User, &long),
            (Role::Assistant, &long),
            (Role::User, &long),
            (Role::Assistant, "ok"),
            (Role::User, "last"),
        ]);
        let system = estimate_tokens(&system_message(&input(&h, 0), 0));
        // Room for the system message, "last", "ok" and one long turn.
        let budget =
            system + estimate_tokens("last") + estimate_tokens("ok") + estimate_tokens(&long);
        let prompt = assemble(&input(&h, budget)).unwrap();
        let contents: Vec<_> = prompt.iter().skip(1).map(|m| m.content.as_str()).collect();
        assert_eq!(contents, [long.as_str(), "ok", "last"]);
        assert_eq!(prompt[1].role, Role::User);
        let total: u64 = prompt.iter().map(|m| estimate_tokens(&m.content)).sum();
        assert!(total <= budget);
    }

    #[test]
    fn a_message_larger_than_the_window_is_refused() {
        let h = history(&[(Role::User, &"y".repeat(9000))]);
        let err = assemble(&input(&h, 1000)).unwrap_err();
        assert_eq!(err.available, 1000);
        assert!(err.needed > 3000);
    }

    #[test]
    fn memories_go_into_the_system_message_within_their_budget() {
        let h = history(&[(Role::User, "what do I like?")]);
        let context = [ContextGroup {
            heading: "What you remember".into(),
            cite: false,
            passages: (0..50)
                .map(|i| Passage {
                    label: "2026-03-04".into(),
                    source: format!("memory m{i}"),
                    text: format!("likes thing number {i} a lot"),
                    score: 1.0,
                })
                .collect(),
        }];
        let input = PromptInput {
            context: &context,
            ..input(&h, 800)
        };
        let prompt = assemble(&input).unwrap();
        let system = &prompt[0].content;
        assert!(system.contains("- [2026-03-04] likes thing number 0 a lot"));
        let shown = system.matches("likes thing").count();
        assert!(shown > 2 && shown < 50, "{shown} memories shown");
        assert!(estimate_tokens(system) <= 800 / 4 + estimate_tokens(&system_message(&input, 0)));
        assert_eq!(prompt.last().unwrap().content, "what do I like?");
    }

    #[test]
    fn pictures_go_with_their_turn_and_count_against_the_budget() {
        let mut h = history(&[
            (Role::User, "[photo]"),
            (Role::Assistant, "a cat"),
            (Role::User, "[photo: and this?]"),
        ]);
        h[0].turn.at = Utc::now() - chrono::Duration::minutes(5);
        let pictures = vec![
            (h[0].turn.at, vec!["old".to_string()]),
            (h[2].turn.at, vec!["new1".to_string(), "new2".to_string()]),
        ];
        let input = PromptInput {
            pictures: &pictures,
            ..input(&h, 10_000)
        };
        let prompt = assemble(&input).unwrap();
        assert_eq!(prompt[1].images, ["old"]);
        assert!(prompt[2].images.is_empty());
        assert_eq!(prompt[3].images, ["new1", "new2"]);
        // Too small a window for the old picture's turn: it is left out, the new one stays.
        let system = estimate_tokens(&system_message(&input, 0));
        let tight = PromptInput {
            budget_tokens: system + 2 * PICTURE_TOKENS + 40,
            ..input
        };
        let prompt = assemble(&tight).unwrap();
        assert_eq!(prompt.len(), 2, "{prompt:?}");
        assert_eq!(prompt.last().unwrap().images.len(), 2);
    }

    #[test]
    fn estimates_are_conservative_for_non_latin_text() {
        assert!(estimate_tokens("안녕하세요") >= 10);
        assert_eq!(prompt_budget(8192), 6144);
        assert_eq!(prompt_budget(32768), 30720);
    }
}
