//! Obsidian notes: Markdown with YAML frontmatter, split by heading.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;
use yaml_rust2::{Yaml, YamlLoader};

use crate::markup::{self, Found};
use crate::note::{Note, Section};

static HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(#{1,6})\s+(.*?)\s*#*\s*$").expect("valid regex"));
static FENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(`{3,}|~{3,})").expect("valid regex"));
static BLOCK_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s\^[A-Za-z0-9-]+\s*$").expect("valid regex"));

/// Reads one Markdown note at `path` (relative to the vault) with `content`.
pub fn read(path: &str, content: &str) -> Note {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let (front, body) = split_frontmatter(content);
    let mut note = Note {
        path: path.to_owned(),
        title: crate::file_stem(path).to_owned(),
        ..Note::default()
    };
    if let Some(front) = front {
        apply_frontmatter(&mut note, front);
    }
    let mut found = Found::default();
    note.sections = sections(&markup::strip_comments(body), &mut found);
    note.links = found.links;
    for tag in found.tags {
        if !note.tags.contains(&tag) {
            note.tags.push(tag);
        }
    }
    note
}

/// The frontmatter's YAML (if the note starts with `---`) and the rest.
fn split_frontmatter(content: &str) -> (Option<&str>, &str) {
    let Some(rest) = content
        .strip_prefix("---\n")
        .or_else(|| content.strip_prefix("---\r\n"))
    else {
        return (None, content);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return (Some(&rest[..offset]), &rest[offset + line.len()..]);
        }
        offset += line.len();
    }
    (None, content)
}

fn apply_frontmatter(note: &mut Note, yaml: &str) {
    let Ok(docs) = YamlLoader::load_from_str(yaml) else {
        tracing::debug!(path = %note.path, "frontmatter is not valid YAML; ignored");
        return;
    };
    let Some(Yaml::Hash(map)) = docs.into_iter().next() else {
        return;
    };
    let get = |key: &str| map.get(&Yaml::String(key.to_owned()));
    if let Some(title) = get("title").and_then(scalar)
        && !title.trim().is_empty()
    {
        note.title = title.trim().to_owned();
    }
    for key in ["aliases", "alias"] {
        note.aliases.extend(get(key).map(list).unwrap_or_default());
    }
    for key in ["tags", "tag"] {
        for tag in get(key).map(list).unwrap_or_default() {
            let tag = tag.trim_start_matches('#').to_owned();
            if !tag.is_empty() && !note.tags.contains(&tag) {
                note.tags.push(tag);
            }
        }
    }
    note.date = ["date", "created", "updated", "modified"]
        .iter()
        .filter_map(|key| get(key).and_then(scalar))
        .find_map(|value| parse_date(&value));
}

/// A scalar as text (numbers and booleans too).
fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list, or a comma-separated scalar, as items.
fn list(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Array(items) => items.iter().filter_map(scalar).collect::<Vec<_>>(),
        other => scalar(other)
            .map(|s| {
                s.split([',', ' '])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    }
    .into_iter()
    .map(|s| s.trim().to_owned())
    .filter(|s| !s.is_empty())
    .collect()
}

/// The date at the start of `value` (`2024-03-05`, `2024-03-05T10:00`, `2024/03/05`).
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    let head: String = value.trim().chars().take(10).collect();
    NaiveDate::parse_from_str(&head, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(&head, "%Y/%m/%d"))
        .ok()
}

/// The body cut at headings (outside code blocks), each section's text cleaned.
fn sections(body: &str, found: &mut Found) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut fence: Option<String> = None;
    let flush = |path: &[(usize, String)], lines: &mut Vec<String>, out: &mut Vec<Section>| {
        let text = lines.join("\n").trim().to_owned();
        lines.clear();
        let heading: Vec<String> = path.iter().map(|(_, h)| h.clone()).collect();
        if !text.is_empty() || !heading.is_empty() {
            out.push(Section { heading, text });
        }
    };
    for line in body.lines() {
        if let Some(open) = &fence {
            if line.trim_start().starts_with(open.as_str()) {
                fence = None;
            } else {
                lines.push(line.to_owned());
            }
            continue;
        }
        if let Some(caps) = FENCE.captures(line) {
            fence = Some(caps[1].to_owned());
            continue;
        }
        if let Some(caps) = HEADING.captures(line) {
            flush(&path, &mut lines, &mut sections);
            let level = caps[1].len();
            let title = markup::clean_inline(&caps[2], found).trim().to_owned();
            while path.last().is_some_and(|(l, _)| *l >= level) {
                path.pop();
            }
            path.push((level, title));
            continue;
        }
        let line = BLOCK_ID.replace(line, "");
        if let Some(cleaned) = markup::clean_block_line(&line) {
            lines.push(markup::clean_inline(&cleaned, found));
        }
    }
    flush(&path, &mut lines, &mut sections);
    // A heading directly followed by a subheading has no text of its own: it lives on in
    // the subheading's path, so drop the empty section unless it is the note's only one.
    if sections.len() > 1 {
        sections.retain(|s| !s.text.is_empty());
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str = "---
title: NAS backup
aliases: [Backups, Restic]
tags:
  - homelab
  - '#nas'
date: 2024-03-05
---
Intro text with a [[Link]].

# Restic schedule
Runs nightly at 02:00 via systemd timer. ^abc123

## Retention
Keep 7 daily, 4 weekly. #ops

```bash
# not a heading
restic forget --keep-daily 7
```

> [!tip] Test restores
> Every month.

| When | What |
|------|------|
| Sun | prune |
";

    #[test]
    fn reads_frontmatter_headings_and_blocks() {
        let note = read("NAS/Backup.md", NOTE);
        assert_eq!(note.title, "NAS backup");
        assert_eq!(note.aliases, ["Backups", "Restic"]);
        assert_eq!(note.tags, ["homelab", "nas", "ops"]);
        assert_eq!(note.date, NaiveDate::from_ymd_opt(2024, 3, 5));
        assert_eq!(note.links, ["Link"]);
        let headings: Vec<String> = note
            .sections
            .iter()
            .map(|s| s.heading.join(" › "))
            .collect();
        assert_eq!(
            headings,
            ["", "Restic schedule", "Restic schedule › Retention"]
        );
        assert_eq!(note.sections[0].text, "Intro text with a Link.");
        assert_eq!(
            note.sections[1].text,
            "Runs nightly at 02:00 via systemd timer."
        );
        let retention = &note.sections[2].text;
        assert!(retention.contains("# not a heading"), "{retention}");
        assert!(retention.contains("restic forget --keep-daily 7"));
        assert!(retention.contains("Tip: Test restores\nEvery month."));
        assert!(retention.contains("When · What\nSun · prune"));
        assert!(!retention.contains("```"));
    }

    #[test]
    fn no_frontmatter_means_the_file_name_is_the_title() {
        let note = read("Projects/Garden plan.md", "Tomatoes in May.");
        assert_eq!(note.title, "Garden plan");
        assert_eq!(note.sections[0].text, "Tomatoes in May.");
        assert!(note.date.is_none());
    }

    #[test]
    fn broken_frontmatter_is_ignored_not_fatal() {
        let note = read("a.md", "---\ntitle: [unclosed\n---\nbody");
        assert_eq!(note.title, "a");
        assert_eq!(note.sections[0].text, "body");
        let unterminated = read("b.md", "---\ntitle: x\nno end");
        assert!(unterminated.sections[0].text.contains("no end"));
    }
}
