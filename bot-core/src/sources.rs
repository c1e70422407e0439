//! Which cited passages an answer used, for its `Sources:` line.
//!
//! Small local models do not cite reliably when asked to, so the answer is compared with
//! each passage that was in the prompt: a passage counts as used when the answer shares
//! enough of its own words with it — words that are not in the question (those match
//! everything retrieved for it) and are not common filler. An answer that uses no passage
//! gets no sources line.

use std::collections::HashSet;

use crate::retrieve::Passage;

/// At most this many sources are listed.
pub const MAX_SOURCES: usize = 3;
/// Distinct shared words a passage needs to count as used.
const MIN_SHARED: usize = 3;
/// …and the share of the answer's own words they must make up.
const MIN_SHARE: f32 = 0.12;

const FILLER: &[&str] = &[
    "the", "and", "for", "with", "that", "this", "you", "your", "are", "was", "were", "have",
    "has", "had", "from", "not", "but", "can", "will", "what", "when", "how", "which", "there",
    "their", "they", "them", "then", "than", "also", "into", "about", "would", "could", "should",
    "its", "our", "out", "all", "any", "use", "used", "using", "one", "two", "here", "some",
    "more", "most", "just", "like", "only", "other", "each", "these", "those", "been", "being",
    "does", "did", "doing", "yes", "sure", "need", "may", "might", "must", "get", "got", "set",
    "very", "much", "many", "such", "own", "same", "both", "way", "where", "who", "why", "his",
    "her", "she", "him", "let", "it's", "i'm", "don't", "note", "notes",
];

/// The words of `text` that can show use: lower-cased words of three or more letters (any
/// number of digits) outside [`FILLER`], and character pairs of Hangul, Han and Kana runs.
pub fn words(text: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut cjk: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_word = |word: &mut String, out: &mut HashSet<String>| {
        let keep = word.chars().all(|c| c.is_ascii_digit()) || word.chars().count() >= 3;
        if !word.is_empty() && keep && !FILLER.contains(&word.as_str()) {
            out.insert(std::mem::take(word));
        }
        word.clear();
    };
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut HashSet<String>| {
        if cjk.len() == 1 {
            out.insert(cjk[0].to_string());
        }
        for pair in cjk.windows(2) {
            out.insert(pair.iter().collect());
        }
        cjk.clear();
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            cjk.push(c);
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_word(&mut word, &mut out);
            flush_cjk(&mut cjk, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_cjk(&mut cjk, &mut out);
    out
}

/// Whether `c` is written without spaces between words (Hangul, Han, Kana): such runs are
/// compared by character pairs here and indexed as bigrams by the notes index.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7AF | 0xD7B0..=0xD7FF
        | 0x3040..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0x20000..=0x2FA1F)
}

/// The sources of the `passages` (best first) that `answer` to `question` used, deduplicated,
/// at most [`MAX_SOURCES`].
pub fn used(answer: &str, question: &str, passages: &[&Passage]) -> Vec<String> {
    let question = words(question);
    let own: HashSet<String> = words(answer)
        .into_iter()
        .filter(|w| !question.contains(w))
        .collect();
    if own.is_empty() {
        return Vec::new();
    }
    let mut sources: Vec<String> = Vec::new();
    for passage in passages {
        let found = words(&format!("{} {}", passage.label, passage.text));
        let shared = own.iter().filter(|w| found.contains(*w)).count();
        let share = shared as f32 / own.len() as f32;
        if shared >= MIN_SHARED.min(own.len())
            && share >= MIN_SHARE
            && !sources.contains(&passage.source)
        {
            sources.push(passage.source.clone());
        }
        if sources.len() == MAX_SOURCES {
            break;
        }
    }
    sources
}

/// The line that ends an answer that used notes: `Sources: a.md › Heading; b.md`
/// (`출처: …` in Korean).
pub fn line(sources: &[String], lang: crate::lang::Lang) -> Option<String> {
    (!sources.is_empty())
        .then(|| crate::lang::tr(lang, "answer-sources", &[("sources", &sources.join("; "))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(source: &str, text: &str) -> Passage {
        Passage {
            label: source.into(),
            source: source.into(),
            text: text.into(),
            score: 1.0,
        }
    }

    #[test]
    fn an_answer_built_from_a_passage_cites_it_and_only_it() {
        let backup = passage(
            "NAS/Backup.md › Restic schedule",
            "Restic runs nightly at 02:00 from a systemd timer and keeps 7 daily snapshots.",
        );
        let garden = passage("Garden.md", "Plant tomatoes in May after the last frost.");
        let answer = "Your NAS backup uses restic, started by a systemd timer every night at 02:00; it keeps 7 daily snapshots.";
        assert_eq!(
            used(
                answer,
                "how did I set up the backup on the NAS?",
                &[&garden, &backup]
            ),
            ["NAS/Backup.md › Restic schedule"]
        );
    }

    #[test]
    fn an_answer_that_uses_no_passage_has_no_sources() {
        let backup = passage(
            "NAS/Backup.md",
            "Restic runs nightly at 02:00 from a systemd timer.",
        );
        let answer = "The capital of France is Paris, a city on the Seine.";
        assert!(used(answer, "what is the capital of France?", &[&backup]).is_empty());
        // Repeating the question's own words is not using a passage.
        let echo = "How did I set up the backup on the NAS? I don't know.";
        assert!(used(echo, "how did I set up the backup on the NAS?", &[&backup]).is_empty());
    }

    #[test]
    fn korean_answers_match_korean_passages() {
        let note = passage(
            "서울/맛집.md",
            "을지로 노가리 골목은 금요일 저녁에 사람이 많다.",
        );
        let answer = "을지로 노가리 골목이 금요일 저녁에 붐벼요.";
        assert_eq!(used(answer, "어디가 붐벼?", &[&note]), ["서울/맛집.md"]);
    }

    #[test]
    fn the_line_lists_sources_or_is_absent() {
        use crate::lang::Lang;
        assert_eq!(line(&[], Lang::En), None);
        let two = ["a.md › X".to_owned(), "b.md".to_owned()];
        assert_eq!(line(&two, Lang::En).unwrap(), "Sources: a.md › X; b.md");
        assert_eq!(line(&two, Lang::Ko).unwrap(), "출처: a.md › X; b.md");
    }
}
