//! What a note is once read, whatever app wrote it, and how it is cut into passages.

use chrono::NaiveDate;

/// A note read from a vault: its metadata and its sections, text cleaned of markup.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Note {
    /// Path relative to the vault root, forward slashes, exactly as on disk.
    pub path: String,
    /// The note's title: frontmatter `title`, Logseq `title::`, else the file name.
    pub title: String,
    /// Other names of the note (frontmatter `aliases`, Logseq `alias::`).
    pub aliases: Vec<String>,
    /// Tags, without `#`.
    pub tags: Vec<String>,
    /// The note's date: frontmatter, journal file name, else the file's modification day.
    pub date: Option<NaiveDate>,
    /// Notes this one links to (wikilink targets, without heading or alias).
    pub links: Vec<String>,
    /// Sections in order: a heading (Obsidian) or a block with its children (Logseq).
    pub sections: Vec<Section>,
    /// Logseq block ids (`id::`) defined in this note, with the block's own text.
    pub block_ids: Vec<(String, String)>,
}

/// A part of a note under one heading path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// Headings (or parent blocks) from the outermost in; empty for text before any heading.
    pub heading: Vec<String>,
    /// The text, markup removed, links as their shown text.
    pub text: String,
}

/// A searchable piece of a note.
#[derive(Clone, Debug, PartialEq)]
pub struct Passage {
    /// Which passage of the note (0-based), stable while the note is unchanged.
    pub ordinal: usize,
    /// The heading path, joined with ` › `; empty for the top of the note.
    pub heading: String,
    /// The text.
    pub text: String,
}

/// Longest passage, in characters; longer sections are split at paragraph or line ends.
pub const MAX_PASSAGE_CHARS: usize = 1_500;

impl Note {
    /// The note's passages: one per section, long sections split by size. Empty sections
    /// (a heading with nothing under it) become a passage of the heading alone only when the
    /// note has nothing else, so a note that is all headings is still findable.
    pub fn passages(&self) -> Vec<Passage> {
        let mut passages = Vec::new();
        for section in &self.sections {
            let heading = section.heading.join(" › ");
            for text in split_by_size(section.text.trim(), MAX_PASSAGE_CHARS) {
                passages.push(Passage {
                    ordinal: passages.len(),
                    heading: heading.clone(),
                    text,
                });
            }
        }
        if passages.is_empty() {
            let headings: Vec<String> = self
                .sections
                .iter()
                .filter(|s| !s.heading.is_empty())
                .map(|s| s.heading.join(" › "))
                .collect();
            passages.push(Passage {
                ordinal: 0,
                heading: String::new(),
                text: headings.join("\n"),
            });
        }
        passages
    }
}

/// Splits `text` into pieces of at most `max` characters, preferring paragraph breaks, then
/// line breaks, then spaces; never inside a character.
pub fn split_by_size(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if rest.chars().count() <= max {
            pieces.push(rest.to_owned());
            break;
        }
        let limit = rest
            .char_indices()
            .nth(max)
            .map_or(rest.len(), |(at, _)| at);
        let window = &rest[..limit];
        let cut = ["\n\n", "\n", ". ", " "]
            .iter()
            .filter_map(|sep| window.rfind(sep).map(|at| at + sep.len()))
            .find(|&at| at > limit / 3)
            .unwrap_or(limit);
        let (piece, tail) = rest.split_at(cut);
        if !piece.trim().is_empty() {
            pieces.push(piece.trim().to_owned());
        }
        rest = tail.trim_start();
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn long_sections_split_at_paragraphs() {
        let para = "word ".repeat(200);
        let text = format!("{para}\n\n{para}\n\n{para}");
        let pieces = split_by_size(&text, 1_500);
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| p.chars().count() <= 1_500));
    }

    #[test]
    fn a_note_of_headings_only_is_still_a_passage() {
        let note = Note {
            sections: vec![Section {
                heading: vec!["Ideas".into()],
                text: String::new(),
            }],
            ..Note::default()
        };
        assert_eq!(note.passages()[0].text, "Ideas");
    }

    proptest! {
        #[test]
        fn splitting_keeps_every_word_and_the_limit(text in "\\PC{0,3000}", max in 1usize..400) {
            let pieces = split_by_size(&text, max);
            for piece in &pieces {
                prop_assert!(piece.chars().count() <= max);
            }
            let joined: String = pieces.concat().split_whitespace().collect();
            let original: String = text.split_whitespace().collect();
            prop_assert_eq!(joined, original);
        }
    }
}
