//! Removes `<think>...</think>` reasoning from a streamed answer.
//!
//! Reasoning models (DeepSeek-R1, Qwen3) put their chain of thought between
//! these tags in the content. Tags can be split across stream chunks, so the
//! filter keeps back any tail that might be the start of a tag.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// A streaming filter: feed it chunks, it returns the visible part of each.
#[derive(Debug, Default)]
pub struct ThinkFilter {
    inside: bool,
    pending: String,
}

impl ThinkFilter {
    /// A filter at the start of an answer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk; returns the text that is now certainly visible.
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        let mut out = String::new();
        loop {
            let tag = if self.inside { CLOSE } else { OPEN };
            if let Some(at) = self.pending.find(tag) {
                if !self.inside {
                    out.push_str(&self.pending[..at]);
                }
                self.pending.drain(..at + tag.len());
                self.inside = !self.inside;
                continue;
            }
            // Keep back a tail that could be the beginning of `tag`.
            let keep = partial_suffix_len(&self.pending, tag);
            let cut = self.pending.len() - keep;
            if !self.inside {
                out.push_str(&self.pending[..cut]);
            }
            self.pending.drain(..cut);
            break;
        }
        out
    }

    /// Ends the stream: returns whatever was held back and is visible.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        if self.inside { String::new() } else { rest }
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `tag`.
fn partial_suffix_len(text: &str, tag: &str) -> usize {
    (1..tag.len())
        .rev()
        .find(|&n| {
            text.len() >= n
                && text.is_char_boundary(text.len() - n)
                && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

/// Removes reasoning from a whole text at once.
pub fn strip(text: &str) -> String {
    let mut filter = ThinkFilter::new();
    let mut out = filter.push(text);
    out.push_str(&filter.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_reasoning_whole() {
        assert_eq!(strip("<think>hmm</think>Hello"), "Hello");
        assert_eq!(strip("a<think>x</think>b<think>y</think>c"), "abc");
        assert_eq!(strip("no tags < here"), "no tags < here");
        assert_eq!(strip("<think>never closed"), "");
    }

    #[test]
    fn strips_reasoning_split_at_every_byte() {
        let text = "<think>중간 생각</think>안녕하세요 <b> 😀";
        let expected = "안녕하세요 <b> 😀";
        // Split at every char boundary into single characters.
        let mut filter = ThinkFilter::new();
        let mut out = String::new();
        for ch in text.chars() {
            out.push_str(&filter.push(&ch.to_string()));
        }
        out.push_str(&filter.finish());
        assert_eq!(out, expected);
    }

    #[test]
    fn a_lone_angle_bracket_is_released_at_the_end() {
        let mut filter = ThinkFilter::new();
        assert_eq!(filter.push("1 <"), "1 ");
        assert_eq!(filter.push(" 2"), "< 2");
        assert_eq!(filter.push("<thi"), "");
        assert_eq!(filter.finish(), "<thi");
    }
}
