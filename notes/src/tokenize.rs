//! Words for the keyword index, in any language.
//!
//! Letters and digits in a row make a word; Hangul, Han and Kana runs become overlapping
//! character bigrams, as Lucene's CJK analyzer does: Korean attaches particles to words, so
//! "서울에" (in Seoul) is "서울" + "울에" and a search for "서울" finds it. Every other script
//! is split at non-alphanumeric characters. The analyzer lower-cases, drops English stop
//! words and stems English, so "backups" finds "backup".

use bot_core::sources::is_cjk;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};

/// Name under which the analyzer is registered with the index.
pub const ANALYZER: &str = "hearth_mixed";

/// Lucene's English stop words and the words of questions ("how did I …"), which say
/// nothing about what a note is about.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "how", "what", "when", "where", "which", "who",
    "whom", "why", "did", "do", "does", "i", "me", "my", "mine", "we", "our", "you", "your", "can",
    "could", "should", "would", "about", "am", "been", "have", "has", "had", "again", "tell",
    "remind", "please",
];

/// The analyzer for note text and queries.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(MixedScript)
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser)
        .filter(StopWordFilter::remove(
            STOP_WORDS.iter().map(|w| (*w).to_owned()),
        ))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Splits text into words, CJK runs into bigrams.
#[derive(Clone, Copy, Debug, Default)]
pub struct MixedScript;

/// Tokens computed up front.
pub struct Tokens {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for MixedScript {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        Tokens {
            tokens: tokens(text),
            next: 0,
        }
    }
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

fn tokens(text: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut push = |from: usize, to: usize| {
        out.push(Token {
            offset_from: from,
            offset_to: to,
            position: out.len(),
            text: text[from..to].to_owned(),
            position_length: 1,
        });
    };
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if !c.is_alphanumeric() {
            chars.next();
            continue;
        }
        if is_cjk(c) {
            // A run of CJK characters: bigrams, or the one character alone.
            let mut run: Vec<(usize, usize)> = Vec::new();
            while let Some(&(at, c)) = chars.peek() {
                if !is_cjk(c) {
                    break;
                }
                run.push((at, at + c.len_utf8()));
                chars.next();
            }
            if run.len() == 1 {
                push(run[0].0, run[0].1);
            }
            for pair in run.windows(2) {
                push(pair[0].0, pair[1].1);
            }
        } else {
            let mut end = start;
            while let Some(&(at, c)) = chars.peek() {
                if !c.is_alphanumeric() || is_cjk(c) {
                    break;
                }
                end = at + c.len_utf8();
                chars.next();
            }
            push(start, end);
        }
    }
    out
}

/// The analyzed terms of `text`, as the index sees them (for queries and overlap checks).
pub fn terms(text: &str) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn korean_runs_become_bigrams_so_particles_do_not_hide_words() {
        assert_eq!(terms("서울에 갔다"), ["서울", "울에", "갔다"]);
        assert!(terms("서울에서 만나").contains(&"서울".to_owned()));
        assert_eq!(terms("집"), ["집"]);
    }

    #[test]
    fn latin_words_are_lowercased_stemmed_and_stop_words_dropped() {
        assert_eq!(
            terms("How did I set up the Backups?"),
            ["set", "up", "backup"]
        );
        assert_eq!(terms("NAS/Restic 02:00"), ["nas", "restic", "02", "00"]);
    }

    #[test]
    fn mixed_scripts_split_at_the_script_change() {
        assert_eq!(terms("Docker컨테이너"), ["docker", "컨테", "테이", "이너"]);
    }

    proptest! {
        #[test]
        fn any_text_tokenizes_within_bounds(text in "\\PC{0,200}") {
            for token in tokens(&text) {
                prop_assert!(token.offset_from < token.offset_to);
                prop_assert!(token.offset_to <= text.len());
                prop_assert_eq!(&text[token.offset_from..token.offset_to], token.text.as_str());
            }
        }
    }
}
