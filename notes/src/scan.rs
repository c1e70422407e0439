//! Finding the notes of a vault: which files are notes, which are skipped and why.
//!
//! Obsidian: every Markdown file except hidden folders (`.obsidian/`, `.trash/`, …) and the
//! folders excluded in `.obsidian/app.json` (`userIgnoreFilters`). Logseq (a folder with
//! `logseq/config.edn`): Markdown and org files under `pages/` and `journals/`, except the
//! folders listed in the config's `:hidden`. Other files are attachments, counted. Nothing
//! here is fatal but an unreadable vault root: unreadable files, symlink loops, oversized
//! or non-UTF-8 files are listed with a reason.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::SystemTime;

use regex::Regex;

/// Which app wrote the vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An Obsidian vault (or any folder of Markdown notes).
    Obsidian,
    /// A Logseq graph.
    Logseq,
}

/// A file that is a note.
#[derive(Clone, Debug)]
pub struct Found {
    /// Relative to the vault root, forward slashes, as on disk.
    pub path: String,
    /// Where it is.
    pub abs: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// When it last changed.
    pub modified: SystemTime,
}

/// A file that could not be used, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    /// Relative to the vault root (or the best description of where).
    pub path: String,
    /// Why, for the owner.
    pub reason: String,
}

/// What a scan found.
#[derive(Debug)]
pub struct Scan {
    /// The vault's kind.
    pub kind: Kind,
    /// Note files, sorted by path.
    pub notes: Vec<Found>,
    /// Files that are not notes (images, PDFs, …).
    pub attachments: usize,
    /// Files that could not be read.
    pub skipped: Vec<Skipped>,
}

/// Largest note read; a bigger file is skipped and reported.
pub const MAX_NOTE_BYTES: u64 = 4 << 20;

/// The vault root itself cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the folder {path}: {source}")]
pub struct ScanError {
    path: String,
    source: std::io::Error,
}

/// The kind of the vault at `root`.
pub fn kind_of(root: &Path) -> Kind {
    if root.join("logseq").join("config.edn").is_file() {
        Kind::Logseq
    } else {
        Kind::Obsidian
    }
}

/// Lists the notes of the vault at `root`.
pub fn scan(root: &Path) -> Result<Scan, ScanError> {
    std::fs::read_dir(root).map_err(|source| ScanError {
        path: root.display().to_string(),
        source,
    })?;
    let kind = kind_of(root);
    let excluded = exclusions(root);
    let mut scan = Scan {
        kind,
        notes: Vec::new(),
        attachments: 0,
        skipped: Vec::new(),
    };
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !(is_hidden(entry.file_name()) || {
                    let rel = relative(root, entry.path());
                    rel.is_some_and(|rel| excluded.iter().any(|x| x.matches(&rel)))
                })
        });
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e
                    .path()
                    .and_then(|p| relative(root, p))
                    .unwrap_or_else(|| "(unknown)".to_owned());
                let reason = if e.loop_ancestor().is_some() {
                    "symbolic link loop".to_owned()
                } else {
                    e.io_error()
                        .map_or_else(|| e.to_string(), |io| io.kind().to_string())
                };
                scan.skipped.push(Skipped { path, reason });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(path) = relative(root, entry.path()) else {
            scan.skipped.push(Skipped {
                path: entry.path().to_string_lossy().into_owned(),
                reason: "the file name is not valid UTF-8".into(),
            });
            continue;
        };
        if !is_note(kind, &path) {
            scan.attachments += 1;
            continue;
        }
        match entry.metadata() {
            Ok(meta) if meta.len() > MAX_NOTE_BYTES => scan.skipped.push(Skipped {
                path,
                reason: format!(
                    "too large ({:.1} MB; notes over {} MB are skipped)",
                    meta.len() as f64 / 1e6,
                    MAX_NOTE_BYTES >> 20
                ),
            }),
            Ok(meta) => scan.notes.push(Found {
                path,
                abs: entry.path().to_path_buf(),
                size: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            }),
            Err(e) => scan.skipped.push(Skipped {
                path,
                reason: e.to_string(),
            }),
        }
    }
    Ok(scan)
}

/// Whether `path` (relative, forward slashes) is a note in a vault of `kind`.
pub fn is_note(kind: Kind, path: &str) -> bool {
    let lower = path.to_lowercase();
    match kind {
        Kind::Obsidian => lower.ends_with(".md") || lower.ends_with(".markdown"),
        Kind::Logseq => {
            (lower.starts_with("pages/") || lower.starts_with("journals/"))
                && (lower.ends_with(".md")
                    || lower.ends_with(".markdown")
                    || lower.ends_with(".org"))
        }
    }
}

/// Whether a path (relative, forward slashes) is inside a hidden or excluded folder; used by
/// the watcher for paths it is told about.
pub fn is_hidden_path(path: &str) -> bool {
    path.split('/')
        .any(|part| is_hidden(std::ffi::OsStr::new(part)))
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

/// `path` relative to `root`, with forward slashes; `None` if not valid UTF-8.
pub fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// A folder or pattern the owner excluded.
#[derive(Debug)]
pub enum Exclude {
    /// Paths starting with this (Obsidian's plain filters, Logseq's `:hidden`).
    Prefix(String),
    /// Paths matching this (Obsidian's `/regex/` filters).
    Pattern(Regex),
}

impl Exclude {
    /// Whether `path` (relative, forward slashes) is excluded.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Exclude::Prefix(prefix) => {
                let prefix = prefix.trim_end_matches('/');
                path == prefix || path.starts_with(&format!("{prefix}/"))
            }
            Exclude::Pattern(re) => re.is_match(path),
        }
    }
}

/// The exclusions of a vault at `root`, whatever its kind.
pub fn exclusions(root: &Path) -> Vec<Exclude> {
    match kind_of(root) {
        Kind::Obsidian => obsidian_ignores(root),
        Kind::Logseq => logseq_hidden(root),
    }
}

/// `userIgnoreFilters` from `.obsidian/app.json`.
fn obsidian_ignores(root: &Path) -> Vec<Exclude> {
    #[derive(serde::Deserialize)]
    struct App {
        #[serde(default, rename = "userIgnoreFilters")]
        filters: Vec<String>,
    }
    let Ok(raw) = std::fs::read_to_string(root.join(".obsidian").join("app.json")) else {
        return Vec::new();
    };
    let Ok(app) = serde_json::from_str::<App>(&raw) else {
        tracing::warn!(vault = %root.display(), ".obsidian/app.json is not valid JSON; no folders excluded");
        return Vec::new();
    };
    app.filters
        .into_iter()
        .filter_map(|filter| {
            let filter = filter.trim();
            if filter.len() > 2 && filter.starts_with('/') && filter.ends_with('/') {
                Regex::new(&filter[1..filter.len() - 1])
                    .ok()
                    .map(Exclude::Pattern)
            } else {
                let prefix = filter.trim_start_matches('/');
                (!prefix.is_empty()).then(|| Exclude::Prefix(prefix.to_owned()))
            }
        })
        .collect()
}

/// `:hidden` folders from `logseq/config.edn`, and Logseq's own folder.
///
/// Read with a pattern rather than an EDN parser: only this one key is needed, and the
/// well-kept EDN crates do not accept every config Logseq writes (comments, `#{}` sets).
fn logseq_hidden(root: &Path) -> Vec<Exclude> {
    static HIDDEN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r":hidden\s*\[([^\]]*)\]").expect("valid regex"));
    static STRING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#""([^"]*)""#).expect("valid regex"));
    let mut excluded = vec![Exclude::Prefix("logseq".into())];
    let Ok(raw) = std::fs::read_to_string(root.join("logseq").join("config.edn")) else {
        return excluded;
    };
    let config: String = raw
        .lines()
        .filter(|l| !l.trim_start().starts_with(';'))
        .collect::<Vec<_>>()
        .join("\n");
    if let Some(list) = HIDDEN.captures(&config) {
        for caps in STRING.captures_iter(&list[1]) {
            let prefix = caps[1].trim().trim_start_matches('/');
            if !prefix.is_empty() {
                excluded.push(Exclude::Prefix(prefix.to_owned()));
            }
        }
    }
    excluded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, content: &[u8]) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn paths(scan: &Scan) -> Vec<&str> {
        scan.notes.iter().map(|n| n.path.as_str()).collect()
    }

    #[test]
    fn obsidian_skips_hidden_and_ignored_folders_and_counts_attachments() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Home.md", b"# Home");
        write(root, "NAS/Backup.md", b"restic");
        write(
            root,
            ".obsidian/app.json",
            br#"{"userIgnoreFilters": ["Archive/", "/^Tmp.*/"]}"#,
        );
        write(root, ".obsidian/workspace.md", b"x");
        write(root, ".trash/Old.md", b"x");
        write(root, "Archive/2019.md", b"x");
        write(root, "Tmp draft.md", b"x");
        write(root, "img/photo.png", b"\x89PNG");
        let scan = scan(root).unwrap();
        assert_eq!(scan.kind, Kind::Obsidian);
        assert_eq!(paths(&scan), ["Home.md", "NAS/Backup.md"]);
        assert_eq!(scan.attachments, 1);
        assert!(scan.skipped.is_empty());
    }

    #[test]
    fn logseq_reads_pages_and_journals_except_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "logseq/config.edn",
            b";; :hidden [\"/pages\"]\n{:hidden [\"/pages/private\" \"archive\"]\n :journal/page-title-format \"MMM do, yyyy\"}",
        );
        write(root, "logseq/bak/pages/x.md", b"x");
        write(root, "pages/a___b.md", b"- x");
        write(root, "pages/reading.org", b"* x");
        write(root, "pages/private/diary.md", b"- x");
        write(root, "journals/2024_03_05.md", b"- x");
        write(root, "README.md", b"not part of the graph");
        write(root, "assets/p.png", b"x");
        let scan = scan(root).unwrap();
        assert_eq!(scan.kind, Kind::Logseq);
        assert_eq!(
            paths(&scan),
            [
                "journals/2024_03_05.md",
                "pages/a___b.md",
                "pages/reading.org"
            ]
        );
    }

    #[test]
    fn oversized_files_are_reported_not_read() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "big.md",
            &vec![b'a'; (MAX_NOTE_BYTES + 1) as usize],
        );
        let scan = scan(dir.path()).unwrap();
        assert!(scan.notes.is_empty());
        assert_eq!(scan.skipped[0].path, "big.md");
        assert!(
            scan.skipped[0].reason.contains("too large"),
            "{:?}",
            scan.skipped
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_reported_not_followed_forever() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a/note.md", b"x");
        std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("a/loop")).unwrap();
        let scan = scan(dir.path()).unwrap();
        assert_eq!(paths(&scan), ["a/note.md"]);
        assert_eq!(scan.skipped[0].reason, "symbolic link loop");
    }

    #[test]
    fn a_missing_vault_is_an_error() {
        assert!(scan(Path::new("/nonexistent/vault")).is_err());
    }
}
