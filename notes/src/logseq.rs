//! Logseq graphs: outline blocks in Markdown (`- ` bullets nested by indentation) and
//! org-mode (`*` headlines), `key:: value` properties, block ids and journal dates.
//!
//! A block with its children is a passage and carries its parents as its heading path; a
//! block too long for one passage is split into its own text and its children's passages.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use crate::markup::{self, Found};
use crate::note::{MAX_PASSAGE_CHARS, Note, Section};

static PROPERTY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9_\-]+)::\s?(.*)$").expect("valid regex"));
static ORG_PROPERTY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^:([A-Za-z0-9_\-]+):\s*(.*)$").expect("valid regex"));
static ORG_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[\[([^\[\]\n]+)\]\[([^\[\]\n]+)\]\]").expect("valid regex"));
static MACRO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\s*(\w+)\s*(.*?)\}\}").expect("valid regex"));
static MD_HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^#{1,6}\s+").expect("valid regex"));

/// Which syntax a Logseq file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Markdown (`.md`).
    Markdown,
    /// Org-mode (`.org`).
    Org,
}

/// One block of the outline.
#[derive(Debug, Default)]
struct Block {
    indent: usize,
    parent: Option<usize>,
    children: Vec<usize>,
    lines: Vec<String>,
    id: Option<String>,
    in_code: bool,
}

impl Block {
    fn text(&self) -> String {
        self.lines.join("\n").trim().to_owned()
    }

    /// The block's first line as a heading for its children (headings without `#`).
    fn title(&self) -> String {
        let first = self.lines.iter().find(|l| !l.trim().is_empty());
        let first = first.map_or("", |l| l.trim());
        let first = MD_HEADING.replace(first, "");
        let mut title: String = first.chars().take(80).collect();
        if first.chars().count() > 80 {
            title.push('…');
        }
        title
    }

    fn is_heading(&self) -> bool {
        self.lines
            .first()
            .is_some_and(|l| MD_HEADING.is_match(l.trim()))
    }
}

/// Page-level metadata read from properties.
#[derive(Default)]
struct PageProps {
    title: Option<String>,
    aliases: Vec<String>,
    tags: Vec<String>,
}

/// Reads one Logseq page or journal at `path` (relative to the graph root).
pub fn read(path: &str, content: &str, syntax: Syntax) -> Note {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut found = Found::default();
    let mut props = PageProps::default();
    let blocks = match syntax {
        Syntax::Markdown => outline_markdown(content, &mut props, &mut found),
        Syntax::Org => outline_org(content, &mut props, &mut found),
    };
    let (title, date) = page_name(path);
    let mut note = Note {
        path: path.to_owned(),
        title: props.title.unwrap_or(title),
        aliases: props.aliases,
        date,
        ..Note::default()
    };
    if let Some(date) = date {
        note.aliases.push(date.format("%b %-d, %Y").to_string());
    }
    for tag in props.tags.into_iter().chain(found.tags) {
        if !note.tags.contains(&tag) {
            note.tags.push(tag);
        }
    }
    note.links = found.links;
    note.block_ids = blocks
        .iter()
        .filter_map(|b| b.id.clone().map(|id| (id, b.text())))
        .collect();
    let roots: Vec<usize> = (0..blocks.len())
        .filter(|&i| blocks[i].parent.is_none())
        .collect();
    for root in roots {
        passages_of(&blocks, root, &mut Vec::new(), &mut note.sections);
    }
    note
}

/// The page's name and journal date from its file name: `journals/2024_03_05.md` is the
/// journal of 5 March 2024, `pages/a___b.md` (or the older `a%2Fb.md`) is page `a/b`.
fn page_name(path: &str) -> (String, Option<NaiveDate>) {
    let stem = crate::file_stem(path);
    let date = NaiveDate::parse_from_str(stem, "%Y_%m_%d")
        .or_else(|_| NaiveDate::parse_from_str(stem, "%Y-%m-%d"))
        .ok();
    if let Some(date) = date {
        return (date.format("%Y-%m-%d").to_string(), Some(date));
    }
    let name = stem.replace("___", "/");
    let name = percent_decode(&name);
    (name, None)
}

fn percent_decode(name: &str) -> String {
    if !name.contains('%') {
        return name.to_owned();
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| name.to_owned())
}

/// Appends the passages of block `index` and its subtree to `out`: the whole subtree as one
/// section when it fits, else the block's own text and each child's subtree in turn.
fn passages_of(blocks: &[Block], index: usize, parents: &mut Vec<String>, out: &mut Vec<Section>) {
    let block = &blocks[index];
    let mut subtree = String::new();
    collect_subtree(blocks, index, 0, &mut subtree);
    let mut heading = parents.clone();
    if block.is_heading() {
        heading.push(block.title());
    }
    if subtree.chars().count() <= MAX_PASSAGE_CHARS || block.children.is_empty() {
        if !subtree.trim().is_empty() {
            out.push(Section {
                heading,
                text: subtree.trim().to_owned(),
            });
        }
        return;
    }
    let own = block.text();
    if !own.is_empty() && !block.is_heading() {
        out.push(Section {
            heading: heading.clone(),
            text: own,
        });
    }
    parents.push(block.title());
    for &child in &block.children {
        passages_of(blocks, child, parents, out);
    }
    parents.pop();
}

fn collect_subtree(blocks: &[Block], index: usize, depth: usize, out: &mut String) {
    let block = &blocks[index];
    let text = block.text();
    if !text.is_empty() {
        let text = if block.is_heading() {
            block.title()
        } else {
            text
        };
        for line in text.lines() {
            out.push_str(&"  ".repeat(depth));
            out.push_str(line);
            out.push('\n');
        }
    }
    for &child in &block.children {
        collect_subtree(blocks, child, depth + 1, out);
    }
}

/// Indentation width (a tab counts as four spaces).
fn indent_of(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

/// Starts a new block at `indent` and hooks it under the nearest shallower block.
fn open_block(blocks: &mut Vec<Block>, stack: &mut Vec<usize>, indent: usize) -> usize {
    while stack.last().is_some_and(|&b| blocks[b].indent >= indent) {
        stack.pop();
    }
    let parent = stack.last().copied();
    let index = blocks.len();
    blocks.push(Block {
        indent,
        parent,
        ..Block::default()
    });
    if let Some(parent) = parent {
        blocks[parent].children.push(index);
    }
    stack.push(index);
    index
}

fn outline_markdown(content: &str, props: &mut PageProps, found: &mut Found) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut current: Option<usize> = None;
    let content = markup::strip_comments(content);
    for line in content.lines() {
        let trimmed = line.trim();
        if let Some(index) = current.filter(|&i| blocks[i].in_code) {
            if trimmed.starts_with("```") {
                blocks[index].in_code = false;
            } else {
                blocks[index].lines.push(trimmed.to_owned());
            }
            continue;
        }
        let bullet = trimmed == "-" || trimmed.starts_with("- ");
        let text = if bullet {
            current = Some(open_block(&mut blocks, &mut stack, indent_of(line)));
            trimmed.trim_start_matches('-').trim_start()
        } else {
            trimmed
        };
        if text.is_empty() {
            continue;
        }
        if let Some(caps) = PROPERTY.captures(text) {
            let (key, value) = (caps[1].to_lowercase(), caps[2].trim().to_owned());
            match current {
                // Properties before the first block, or in a first block of nothing else,
                // belong to the page.
                None => page_property(props, &key, &value),
                Some(0) if blocks[0].lines.is_empty() => {
                    page_property(props, &key, &value);
                }
                Some(index) => block_property(&mut blocks[index], &key, &value, found),
            }
            continue;
        }
        let Some(index) = current else {
            // Text before the first bullet: a block of its own.
            current = Some(open_block(&mut blocks, &mut stack, 0));
            push_text(&mut blocks, current, text, found);
            continue;
        };
        if text.starts_with("```") {
            blocks[index].in_code = true;
            continue;
        }
        push_text(&mut blocks, Some(index), text, found);
    }
    blocks
}

fn outline_org(content: &str, props: &mut PageProps, found: &mut Found) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut current: Option<usize> = None;
    let mut in_drawer = false;
    let mut in_src = false;
    for line in content.lines() {
        let trimmed = line.trim();
        let upper = trimmed.to_ascii_uppercase();
        if in_src {
            if upper.starts_with("#+END_") {
                in_src = false;
            } else if let Some(index) = current {
                blocks[index].lines.push(trimmed.to_owned());
            }
            continue;
        }
        let stars = line.chars().take_while(|&c| c == '*').count();
        if stars > 0 && line[stars..].starts_with(' ') {
            current = Some(open_block(&mut blocks, &mut stack, stars));
            in_drawer = false;
            push_text(&mut blocks, current, line[stars..].trim(), found);
            continue;
        }
        if upper == ":PROPERTIES:" {
            in_drawer = true;
            continue;
        }
        if upper == ":END:" {
            in_drawer = false;
            continue;
        }
        if in_drawer {
            if let Some(caps) = ORG_PROPERTY.captures(trimmed) {
                let (key, value) = (caps[1].to_lowercase(), caps[2].trim().to_owned());
                match current {
                    None => page_property(props, &key, &value),
                    Some(index) => block_property(&mut blocks[index], &key, &value, found),
                }
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("#+") {
            let (key, value) = rest.split_once(':').unwrap_or((rest, ""));
            let key = key.trim().to_lowercase();
            if key.starts_with("begin_") {
                in_src = true;
            } else if current.is_none() {
                page_property(props, &key, value.trim());
            }
            continue;
        }
        if trimmed.is_empty() || upper.starts_with("SCHEDULED:") || upper.starts_with("DEADLINE:") {
            continue;
        }
        if current.is_none() {
            current = Some(open_block(&mut blocks, &mut stack, 0));
        }
        push_text(&mut blocks, current, trimmed, found);
    }
    blocks
}

fn push_text(blocks: &mut [Block], index: Option<usize>, text: &str, found: &mut Found) {
    let Some(index) = index else { return };
    let text = ORG_LINK.replace_all(text, "$2");
    let text = MACRO.replace_all(&text, |caps: &regex::Captures<'_>| {
        match caps[1].to_lowercase().as_str() {
            "embed" => caps[2].to_owned(),
            _ => String::new(),
        }
    });
    let text = if MD_HEADING.is_match(&text) {
        let (hashes, rest) = text.split_at(text.find(' ').unwrap_or(0));
        format!("{hashes} {}", markup::clean_inline(rest.trim(), found))
    } else {
        match markup::clean_block_line(&text) {
            Some(cleaned) => markup::clean_inline(&cleaned, found),
            None => return,
        }
    };
    if !text.trim().is_empty() {
        blocks[index].lines.push(text.trim_end().to_owned());
    }
}

fn page_property(props: &mut PageProps, key: &str, value: &str) {
    match key {
        "title" => props.title = Some(value.to_owned()).filter(|v| !v.is_empty()),
        "alias" | "aliases" => props.aliases.extend(split_values(value)),
        "tags" | "filetags" => props.tags.extend(split_values(value)),
        _ => {}
    }
}

fn block_property(block: &mut Block, key: &str, value: &str, found: &mut Found) {
    match key {
        "id" | "custom_id" => block.id = Some(value.to_lowercase()),
        "tags" => found.tags.extend(split_values(value)),
        _ => {}
    }
}

/// Property values: comma-separated, `[[links]]` and `#tags` reduced to their names.
fn split_values(value: &str) -> Vec<String> {
    value
        .split([',', ':'])
        .map(|v| {
            v.trim()
                .trim_start_matches('#')
                .trim_start_matches("[[")
                .trim_end_matches("]]")
                .trim()
                .to_owned()
        })
        .filter(|v| !v.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "title:: Home Server
alias:: NAS, homelab
tags:: [[infra]], backup

- # Backups
  - Restic runs nightly
    id:: 6571a0c2-1b2c-4d5e-8f90-123456789abc
    collapsed:: true
    - to the USB disk
- Links to [[Router]] and #network
\t- tab child
- ```
  - not a block
  ```
";

    #[test]
    fn reads_page_properties_blocks_and_ids() {
        let note = read("pages/Home.md", PAGE, Syntax::Markdown);
        assert_eq!(note.title, "Home Server");
        assert_eq!(note.aliases, ["NAS", "homelab"]);
        assert_eq!(note.tags, ["infra", "backup", "network"]);
        assert_eq!(note.links, ["Router"]);
        assert_eq!(
            note.block_ids,
            [(
                "6571a0c2-1b2c-4d5e-8f90-123456789abc".to_owned(),
                "Restic runs nightly".to_owned()
            )]
        );
        assert_eq!(note.sections.len(), 3);
        assert_eq!(note.sections[0].heading, ["Backups"]);
        assert_eq!(
            note.sections[0].text,
            "Backups\n  Restic runs nightly\n    to the USB disk"
        );
        assert!(!note.sections[0].text.contains("collapsed"));
        assert_eq!(
            note.sections[1].text,
            "Links to Router and #network\n  tab child"
        );
        assert_eq!(note.sections[2].text, "- not a block");
    }

    #[test]
    fn long_blocks_split_with_parents_as_headings() {
        let long = "word ".repeat(200);
        let page = format!("- Project\n  - {long}\n  - {long}\n");
        let note = read("pages/p.md", &page, Syntax::Markdown);
        assert_eq!(note.sections.len(), 3);
        assert_eq!(note.sections[0].text, "Project");
        assert_eq!(note.sections[1].heading, ["Project"]);
        assert_eq!(note.sections[2].heading, ["Project"]);
    }

    #[test]
    fn journal_dates_and_namespaces_come_from_file_names() {
        let note = read("journals/2024_03_05.md", "- met Jin", Syntax::Markdown);
        assert_eq!(note.date, NaiveDate::from_ymd_opt(2024, 3, 5));
        assert_eq!(note.title, "2024-03-05");
        assert_eq!(note.aliases, ["Mar 5, 2024"]);
        assert_eq!(
            read("pages/work___meetings.md", "- x", Syntax::Markdown).title,
            "work/meetings"
        );
        assert_eq!(
            read("pages/work%2Fplans.md", "- x", Syntax::Markdown).title,
            "work/plans"
        );
    }

    #[test]
    fn org_headlines_are_blocks() {
        let org = "#+title: Reading list
#+tags: books
* Fiction
:PROPERTIES:
:id: 6571a0c2-1b2c-4d5e-8f90-123456789abd
:END:
** [[https://example.org][Dune]] by Herbert
#+BEGIN_SRC
* not a headline
#+END_SRC
* Non-fiction
SCHEDULED: <2024-03-05 Tue>
Sapiens
";
        let note = read("pages/reading.org", org, Syntax::Org);
        assert_eq!(note.title, "Reading list");
        assert_eq!(note.tags, ["books"]);
        assert_eq!(note.block_ids[0].1, "Fiction");
        assert_eq!(note.sections.len(), 2);
        assert_eq!(
            note.sections[0].text,
            "Fiction\n  Dune by Herbert\n  * not a headline"
        );
        assert_eq!(note.sections[1].text, "Non-fiction\nSapiens");
    }
}
