//! Splits a Markdown answer into Discord messages of at most 2,000 characters
//! without breaking code blocks.
//!
//! Discord renders Markdown itself, so the text is sent as written. When a cut
//! falls inside a fenced code block, the block is closed at the end of the
//! piece and reopened (with its language) at the start of the next one, so
//! every message renders as the reader expects. Cuts prefer a line break, then
//! a space, and never split a character.

/// Discord's limit on message content, in characters.
pub const DISCORD_LIMIT: usize = 2000;

const FENCE: &str = "```";

/// The longest fence line reopened as written; a longer one is reopened as a bare fence so
/// the reopened prefix can never eat the piece's room.
const MAX_REOPENED_FENCE: usize = 64;

/// Splits `text` into pieces of at most `limit` characters (`limit` ≥ 100).
pub fn split_for_discord(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(100);
    let mut pieces = Vec::new();
    // The fence line ("```rust") of the code block the next piece starts inside.
    let mut open_fence: Option<String> = None;
    let mut rest = text.trim_end();
    while !rest.is_empty() {
        let prefix = open_fence
            .as_deref()
            .map(|fence| {
                if fence.chars().count() <= MAX_REOPENED_FENCE {
                    format!("{fence}\n")
                } else {
                    format!("{FENCE}\n")
                }
            })
            .unwrap_or_default();
        let whole = format!("{prefix}{rest}");
        if whole.chars().count() <= limit {
            pieces.push(whole);
            break;
        }
        // Room for the reopened fence and a closing "\n```".
        // limit >= 100 and the prefix is at most MAX_REOPENED_FENCE + 1, so this stays positive.
        let budget = limit - prefix.chars().count() - (FENCE.len() + 1);
        let cut = cut_point(rest, budget);
        let (head, tail) = rest.split_at(cut);
        let fence_after = fence_state(open_fence.clone(), head);
        let mut piece = format!("{prefix}{}", head.trim_end_matches('\n'));
        if fence_after.is_some() {
            piece.push('\n');
            piece.push_str(FENCE);
        }
        pieces.push(piece);
        open_fence = fence_after;
        rest = if open_fence.is_some() {
            tail.strip_prefix('\n').unwrap_or(tail)
        } else {
            tail.trim_start_matches('\n')
        };
    }
    pieces
}

/// A byte offset at most `budget` characters into `text`, preferring the last
/// line break, then the last space, in the second half of the window.
fn cut_point(text: &str, budget: usize) -> usize {
    let end = text
        .char_indices()
        .nth(budget)
        .map_or(text.len(), |(at, _)| at);
    let window = &text[..end];
    let half = window.len() / 2;
    if let Some(at) = window.rfind('\n').filter(|&at| at > half) {
        return at + 1;
    }
    if let Some(at) = window.rfind(' ').filter(|&at| at > half) {
        return at + 1;
    }
    end
}

/// The fence still open after `text`, given the one open before it.
fn fence_state(mut open: Option<String>, text: &str) -> Option<String> {
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(FENCE) {
            open = match open {
                Some(_) => None,
                None => Some(trimmed.trim_end().to_owned()),
            };
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fences_balanced(piece: &str) -> bool {
        piece
            .lines()
            .filter(|l| l.trim_start().starts_with(FENCE))
            .count()
            % 2
            == 0
    }

    #[test]
    fn short_text_is_one_piece() {
        assert_eq!(split_for_discord("hello", DISCORD_LIMIT), vec!["hello"]);
        assert!(split_for_discord("", DISCORD_LIMIT).is_empty());
    }

    #[test]
    fn long_prose_splits_at_line_breaks_and_keeps_every_word() {
        let text: String = (0..300)
            .map(|i| format!("Line number {i} of the answer.\n"))
            .collect();
        let pieces = split_for_discord(&text, DISCORD_LIMIT);
        assert!(pieces.len() >= 5);
        for piece in &pieces {
            assert!(piece.chars().count() <= DISCORD_LIMIT);
            assert!(piece.ends_with('.'), "cut mid-line: {piece:?}");
        }
        assert_eq!(pieces.join("\n"), text.trim_end());
    }

    #[test]
    fn code_blocks_are_closed_and_reopened_with_their_language() {
        let code: String = (0..200).map(|i| format!("let x{i} = {i};\n")).collect();
        let text = format!("Here is the code:\n```rust\n{code}```\nDone.");
        let pieces = split_for_discord(&text, 1000);
        assert!(pieces.len() >= 3);
        for (i, piece) in pieces.iter().enumerate() {
            assert!(piece.chars().count() <= 1000);
            assert!(fences_balanced(piece), "piece {i} has an open fence");
            if i > 0 {
                assert!(piece.starts_with("```rust\n"), "piece {i}: {piece:?}");
            }
        }
        let lines: Vec<&str> = pieces.iter().flat_map(|p| p.lines()).collect();
        for i in 0..200 {
            let line = format!("let x{i} = {i};");
            assert_eq!(lines.iter().filter(|l| **l == line).count(), 1, "{line}");
        }
        assert!(pieces.last().unwrap().ends_with("Done."));
    }

    /// Regression: a fence line longer than the limit made the budget underflow (panic).
    #[test]
    fn a_fence_line_longer_than_the_limit_does_not_panic() {
        let fence = format!("```{}", "x".repeat(2500));
        let text = format!("{fence}\n{}\n```\nafter", "code line\n".repeat(400));
        let pieces = split_for_discord(&text, DISCORD_LIMIT);
        assert!(pieces.len() >= 3);
        assert!(pieces.iter().all(|p| p.chars().count() <= DISCORD_LIMIT));
        assert!(pieces.last().unwrap().ends_with("after"));
    }

    proptest::proptest! {
        // PROPTEST_CASES runs more (scripts/fuzz.sh).
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64)))]

        #[test]
        fn any_text_splits_within_the_limit(
            text in "(\\PC|\n|```[a-z]{0,300}\n){0,3000}",
            limit in 100usize..2100,
        ) {
            for piece in split_for_discord(&text, limit) {
                proptest::prop_assert!(piece.chars().count() <= limit);
            }
        }

        #[test]
        fn prose_keeps_every_character(text in "(\\PC|\n){0,5000}", limit in 100usize..2100) {
            proptest::prop_assume!(!text.contains(FENCE));
            let pieces = split_for_discord(&text, limit);
            let kept: String = pieces.concat().chars().filter(|c| !c.is_whitespace()).collect();
            let wanted: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            proptest::prop_assert_eq!(kept, wanted);
        }
    }

    #[test]
    fn text_without_spaces_is_cut_on_character_boundaries() {
        let text = "é".repeat(4500);
        let pieces = split_for_discord(&text, DISCORD_LIMIT);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|p| p.chars().count() <= DISCORD_LIMIT));
    }
}
