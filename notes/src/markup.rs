//! Inline markup shared by Obsidian and Logseq: links become their shown text, formatting
//! marks go, tags and link targets are collected.

use std::sync::LazyLock;

use regex::Regex;

/// What inline cleaning found besides the text.
#[derive(Debug, Default)]
pub struct Found {
    /// Link targets (note names), in order, without `#heading` or `|alias`.
    pub links: Vec<String>,
    /// `#tags` and `#[[tags]]`, without `#`.
    pub tags: Vec<String>,
    /// Logseq block references `((uuid))`, to resolve once the whole graph is read.
    pub block_refs: Vec<String>,
}

/// File extensions of embeds that are not notes (their names are not text worth indexing).
const MEDIA: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "avif", "mp3", "wav", "ogg", "m4a", "flac",
    "mp4", "webm", "mov", "mkv", "pdf",
];

static WIKILINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(!?)\[\[([^\[\]\n]+?)\]\]").expect("valid regex"));
static MD_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(!?)\[([^\[\]\n]*)\]\(([^()\n]*)\)").expect("valid regex"));
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s(])#([\p{L}\p{N}_/\-]*[\p{L}_/\-][\p{L}\p{N}_/\-]*)").expect("valid regex")
});
static TAG_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"#\[\[([^\[\]\n]+?)\]\]").expect("valid regex"));
static BLOCK_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\(\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\)",
    )
    .expect("valid regex")
});
static EMPHASIS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\*\*|__|==|~~|\^\^").expect("valid regex"));
static HTML_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>").expect("valid regex"));

/// Cleans one line of note text: wikilinks and Markdown links become their shown text (media
/// embeds disappear), formatting marks go. Block references are kept as `((uuid))` for
/// [`resolve_block_refs`]. Tags, link targets and references go to `found`.
pub fn clean_inline(line: &str, found: &mut Found) -> String {
    for caps in TAG_LINK.captures_iter(line) {
        found.tags.push(caps[1].trim().to_owned());
    }
    let line = TAG_LINK.replace_all(line, "$1");
    let line = WIKILINK.replace_all(&line, |caps: &regex::Captures<'_>| {
        let embed = &caps[1] == "!";
        let inner = &caps[2];
        let (target, shown) = match inner.split_once('|') {
            Some((target, shown)) => (target, Some(shown)),
            None => (inner, None),
        };
        let (note, heading) = match target.split_once('#') {
            Some((note, heading)) => (note.trim(), Some(heading.trim_start_matches('^').trim())),
            None => (target.trim(), None),
        };
        if is_media(note) {
            return String::new();
        }
        if !note.is_empty() {
            found.links.push(note.to_owned());
        }
        if embed && shown.is_none() {
            // An embedded note shows its content in Obsidian; its name is what the text says.
            return note.to_owned();
        }
        match (shown, heading) {
            (Some(shown), _) => shown.trim().to_owned(),
            (None, Some(heading)) if note.is_empty() => heading.to_owned(),
            (None, Some(heading)) => format!("{note} › {heading}"),
            (None, None) => note.to_owned(),
        }
    });
    let line = MD_LINK.replace_all(&line, |caps: &regex::Captures<'_>| {
        let embed = &caps[1] == "!";
        let target = caps[3].trim();
        if embed && (is_media(target) || caps[2].trim().is_empty()) {
            return caps[2].trim().to_owned();
        }
        caps[2].trim().to_owned()
    });
    for caps in TAG.captures_iter(&line) {
        found.tags.push(caps[1].to_owned());
    }
    for caps in BLOCK_REF.captures_iter(&line) {
        found.block_refs.push(caps[1].to_lowercase());
    }
    let line = HTML_TAG.replace_all(&line, "");
    EMPHASIS.replace_all(&line, "").into_owned()
}

/// Replaces `((uuid))` block references with the referenced block's text (`lookup`); an
/// unknown reference is dropped.
pub fn resolve_block_refs(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    BLOCK_REF
        .replace_all(text, |caps: &regex::Captures<'_>| {
            lookup(&caps[1].to_lowercase()).unwrap_or_default()
        })
        .into_owned()
}

fn is_media(target: &str) -> bool {
    let name = target.rsplit('/').next().unwrap_or(target);
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| MEDIA.iter().any(|m| m.eq_ignore_ascii_case(ext.trim())))
}

/// Removes `%% comments %%` (Obsidian) and `<!-- comments -->` (Markdown) from a whole note.
pub fn strip_comments(text: &str) -> String {
    static COMMENT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)%%.*?%%|<!--.*?-->").expect("valid regex"));
    COMMENT.replace_all(text, "").into_owned()
}

/// Cleans a line that belongs to a block element: quote and callout markers, table pipes and
/// separator rows, list bullets and task boxes.
pub fn clean_block_line(line: &str) -> Option<String> {
    static CALLOUT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\[!([\w-]+)\][+-]?\s*").expect("valid regex"));
    static TABLE_RULE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$").expect("valid regex")
    });
    static BULLET: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:[-*+]|\d+[.)])\s+(?:\[[ xX\-/]\]\s+)?").expect("valid regex")
    });
    let mut line = line.trim();
    while let Some(rest) = line.strip_prefix('>') {
        line = rest.trim_start();
    }
    let mut owned = line.to_owned();
    if let Some(caps) = CALLOUT.captures(&owned) {
        let kind = caps[1].to_owned();
        let rest = owned[caps.get(0).map_or(0, |m| m.end())..].to_owned();
        owned = if rest.is_empty() {
            capitalize(&kind)
        } else {
            format!("{}: {rest}", capitalize(&kind))
        };
    }
    if TABLE_RULE.is_match(&owned) && owned.contains('-') && owned.contains('|') {
        return None;
    }
    if owned.starts_with('|') {
        owned = owned
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .filter(|cell| !cell.is_empty())
            .collect::<Vec<_>>()
            .join(" · ");
    }
    let owned = BULLET.replace(&owned, "").into_owned();
    (owned != "---" && owned != "***").then_some(owned)
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(line: &str) -> (String, Found) {
        let mut found = Found::default();
        (clean_inline(line, &mut found), found)
    }

    #[test]
    fn wikilinks_become_their_shown_text_and_targets_are_kept() {
        let (text, found) =
            clean("See [[Backup]], [[NAS Setup|the NAS]] and [[Restic#Schedule]] ![[diagram.png]]");
        assert_eq!(text, "See Backup, the NAS and Restic › Schedule ");
        assert_eq!(found.links, ["Backup", "NAS Setup", "Restic"]);
    }

    #[test]
    fn note_embeds_keep_the_name_and_markdown_links_their_text() {
        let (text, found) = clean("![[Daily template]] read [the docs](https://x.org) ![](a.png)");
        assert_eq!(text, "Daily template read the docs ");
        assert_eq!(found.links, ["Daily template"]);
    }

    #[test]
    fn tags_are_collected_but_headings_and_numbers_are_not() {
        let (text, found) = clean("**Bold** #project/home and #[[big idea]] but not #123 or a#b");
        assert_eq!(text, "Bold #project/home and big idea but not #123 or a#b");
        assert_eq!(found.tags, ["big idea", "project/home"]);
    }

    #[test]
    fn block_references_resolve_or_vanish() {
        let (text, found) = clean("as said in ((6571a0c2-1b2c-4d5e-8f90-123456789abc)).");
        assert_eq!(found.block_refs, ["6571a0c2-1b2c-4d5e-8f90-123456789abc"]);
        let resolved = resolve_block_refs(&text, |id| {
            (id == "6571a0c2-1b2c-4d5e-8f90-123456789abc").then(|| "the quote".to_owned())
        });
        assert_eq!(resolved, "as said in the quote.");
        assert_eq!(resolve_block_refs(&text, |_| None), "as said in .");
    }

    #[test]
    fn callouts_tables_and_tasks_read_as_text() {
        assert_eq!(
            clean_block_line("> [!warning] Check the disk").unwrap(),
            "Warning: Check the disk"
        );
        assert_eq!(clean_block_line("| Day | Time |").unwrap(), "Day · Time");
        assert_eq!(clean_block_line("|---|:---:|"), None);
        assert_eq!(
            clean_block_line("- [x] renew passport").unwrap(),
            "renew passport"
        );
        assert_eq!(clean_block_line("1. first").unwrap(), "first");
    }

    #[test]
    fn comments_are_removed() {
        assert_eq!(
            strip_comments("a %%hidden\nstill%% b <!-- x --> c"),
            "a  b  c"
        );
    }
}
