//! Following the vault folders while the bot runs.
//!
//! notify reports file changes; the debouncer gathers them for [`QUIET`] so a sync client
//! touching a thousand files makes a few index updates, not a thousand. Each update is the
//! same incremental pass as `hearth notes index` (one `stat` per file, changed notes
//! re-read), so renames, deletions and folder moves need no special cases. Changes inside
//! hidden folders (`.obsidian/workspace.json` is rewritten on every click) and non-note files
//! are ignored.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use notify_debouncer_mini::{DebounceEventResult, new_debouncer, notify::RecursiveMode};
use tokio_util::sync::CancellationToken;

use crate::NotesError;
use crate::scan::{self, Kind};
use crate::service::Notes;

/// How long the folders must be quiet before changes are indexed.
pub const QUIET: Duration = Duration::from_millis(500);

/// Watches every vault of `notes` until `shutdown`, updating the index after changes.
/// Runs on a thread of its own; returns once it is watching (or could not start).
pub fn spawn(
    notes: Arc<Notes>,
    shutdown: CancellationToken,
) -> Result<std::thread::JoinHandle<()>, NotesError> {
    let (tx, rx) = std::sync::mpsc::channel::<DebounceEventResult>();
    let mut debouncer =
        new_debouncer(QUIET, tx).map_err(|e| NotesError::Index(format!("file watcher: {e}")))?;
    let mut roots: Vec<(String, PathBuf, Kind)> = Vec::new();
    for vault in notes.vaults() {
        let root = vault
            .config
            .root
            .canonicalize()
            .unwrap_or_else(|_| vault.config.root.clone());
        match debouncer.watcher().watch(&root, RecursiveMode::Recursive) {
            Ok(()) => roots.push((
                vault.config.name.clone(),
                root,
                scan::kind_of(&vault.config.root),
            )),
            Err(e) => {
                tracing::warn!(vault = %vault.config.name, error = %e, "cannot watch the vault folder; run `hearth notes index` after changes")
            }
        }
    }
    let handle = std::thread::Builder::new()
        .name("hearth-notes-watch".into())
        .spawn(move || {
            let _debouncer = debouncer;
            while !shutdown.is_cancelled() {
                let events = match rx.recv_timeout(Duration::from_millis(250)) {
                    Ok(Ok(events)) => events,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "file watcher error");
                        continue;
                    }
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                };
                let mut touched: BTreeSet<String> = BTreeSet::new();
                for event in events {
                    for (name, root, kind) in &roots {
                        if let Some(rel) = scan::relative(root, &event.path)
                            && relevant(*kind, &rel)
                        {
                            touched.insert(name.clone());
                        }
                    }
                }
                for name in touched {
                    let started = std::time::Instant::now();
                    match notes.update(Some(&name), &|_, _, _| {}) {
                        Ok(summaries) => {
                            for summary in summaries.into_iter().flatten() {
                                tracing::info!(
                                    vault = %name,
                                    changed = summary.changed,
                                    removed = summary.removed,
                                    elapsed_ms = started.elapsed().as_millis() as u64,
                                    "notes changed; index updated"
                                );
                            }
                        }
                        Err(e) => {
                            tracing::warn!(vault = %name, error = %e, "notes index update failed")
                        }
                    }
                }
            }
        })
        .map_err(|e| NotesError::Index(format!("file watcher thread: {e}")))?;
    Ok(handle)
}

/// Whether a change at `rel` can change the index: a note, or a folder (moved or deleted
/// with its notes), outside hidden folders.
fn relevant(kind: Kind, rel: &str) -> bool {
    if rel.is_empty() || scan::is_hidden_path(rel) {
        return false;
    }
    if kind == Kind::Logseq && (rel == "logseq" || rel.starts_with("logseq/")) {
        return false;
    }
    let name = rel.rsplit('/').next().unwrap_or(rel);
    scan::is_note(kind, rel) || !name.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_state_and_attachments_do_not_trigger_updates() {
        assert!(relevant(Kind::Obsidian, "NAS/Backup.md"));
        assert!(relevant(Kind::Obsidian, "NAS"));
        assert!(!relevant(Kind::Obsidian, ".obsidian/workspace.json"));
        assert!(!relevant(Kind::Obsidian, "img/photo.png"));
        assert!(relevant(Kind::Logseq, "pages/a.md"));
        assert!(!relevant(Kind::Logseq, "logseq/bak/pages/a.md"));
    }
}
