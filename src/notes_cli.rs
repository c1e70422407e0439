//! `hearth notes index|search|status`: the owner's vaults from the terminal.
//!
//! Searching and the status read the index without locking it, so they work while the bot
//! runs. Indexing goes through the running bot when there is one (it holds the index's
//! writer while it watches the vaults), else runs here with a progress bar.

use std::sync::Arc;

use anyhow::Context as _;
use hearth_notes::{Notes, Summary};
use serde_json::{Value, json};

use crate::config::Config;

/// What to do with the notes.
#[derive(clap::Subcommand)]
pub enum Action {
    /// Build or update the index of every vault (or one).
    Index {
        /// Only this vault.
        #[arg(long)]
        vault: Option<String>,
    },
    /// Search the notes: the best passages, best first.
    Search {
        /// What to look for.
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// Only this vault.
        #[arg(long)]
        vault: Option<String>,
        /// How many passages.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print a JSON array of {"vault", "path", "heading", "score", "text"}.
        #[arg(long)]
        json: bool,
    },
    /// Show each vault: notes, passages, last index time, files that failed.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `hearth notes ACTION`.
pub async fn run(config: Config, action: Action) -> anyhow::Result<()> {
    if config.notes.is_empty() {
        anyhow::bail!(
            "no vaults are configured: set HEARTH_NOTES, e.g. HEARTH_NOTES=main=/home/me/Obsidian"
        );
    }
    match action {
        Action::Index { vault } => index(&config, vault).await,
        Action::Search {
            query,
            vault,
            limit,
            json,
        } => {
            let notes = open(&config, false).await?;
            let vaults = match vault {
                Some(name) if notes.vaults().iter().any(|v| v.config.name == name) => vec![name],
                Some(name) => anyhow::bail!("no vault is called {name} in HEARTH_NOTES"),
                None => notes
                    .vaults()
                    .iter()
                    .map(|v| v.config.name.clone())
                    .collect(),
            };
            let query = query.join(" ");
            let hits = notes.search(&query, Some(&vaults), limit)?;
            if json {
                let array: Vec<Value> = hits
                    .iter()
                    .map(|h| {
                        json!({
                            "vault": h.vault,
                            "path": h.path,
                            "heading": h.heading,
                            "score": h.score,
                            "text": h.text,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&array)?);
            } else if hits.is_empty() {
                println!("Nothing matches “{query}”.");
            } else {
                for (rank, hit) in hits.iter().enumerate() {
                    let mut place = format!("{} › {}", hit.vault, hit.path);
                    if !hit.heading.is_empty() {
                        place.push_str(&format!(" › {}", hit.heading));
                    }
                    println!("{}. {place}  (score {:.2})", rank + 1, hit.score);
                    let snippet: String = hit.text.split_whitespace().collect::<Vec<_>>().join(" ");
                    let snippet: String = snippet.chars().take(200).collect();
                    println!("   {snippet}\n");
                }
            }
            Ok(())
        }
        Action::Status { json } => {
            let notes = open(&config, false).await?;
            let status = notes.status();
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
                return Ok(());
            }
            for vault in status {
                let when = vault.indexed_at.map_or_else(
                    || "not indexed yet".to_owned(),
                    |at| format!("indexed {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
                );
                let kind = vault.kind.map_or("?", |k| match k {
                    hearth_notes::scan::Kind::Obsidian => "Obsidian",
                    hearth_notes::scan::Kind::Logseq => "Logseq",
                });
                println!(
                    "{} ({kind}, {}): {} notes, {} passages, {} attachments, {when}",
                    vault.name, vault.root, vault.notes, vault.passages, vault.attachments
                );
                match vault.embedded {
                    Some(done) if done >= vault.passages => println!(
                        "  searched by meaning and keywords: {done} passages embedded with {}",
                        notes.embedding_model().unwrap_or_default()
                    ),
                    Some(done) => println!(
                        "  {done} of {} passages embedded with {}; searched by keywords until all are",
                        vault.passages,
                        notes.embedding_model().unwrap_or_default()
                    ),
                    None => println!("  searched by keywords only (no embedding model)"),
                }
                if let Some(error) = &vault.error {
                    println!("  error: {error}");
                }
                for skipped in &vault.skipped {
                    println!("  skipped {}: {}", skipped.path, skipped.reason);
                }
            }
            Ok(())
        }
    }
}

/// Opens the notes with their embedding model; `writable` only to index (no bot running).
async fn open(config: &Config, writable: bool) -> anyhow::Result<Arc<Notes>> {
    crate::data_dir::create(&config.data_dir)?;
    let memory_model = match config.notes_embed {
        crate::config::NotesEmbed::SameAsMemory => crate::load_embedder(config).await?,
        _ => None,
    };
    crate::open_notes(config, memory_model, writable)
        .await?
        .context("no vaults are configured")
}

async fn index(config: &Config, vault: Option<String>) -> anyhow::Result<()> {
    if let Some(answer) = crate::admin::request(
        &config.data_dir,
        &json!({"op": "notes_index", "vault": vault}),
    )
    .await?
    {
        println!("The running bot updated the index:");
        if answer["ok"].as_bool() != Some(true) {
            anyhow::bail!("{}", answer["error"].as_str().unwrap_or("the bot refused"));
        }
        for summary in answer["summaries"].as_array().into_iter().flatten() {
            println!("{}", summary["line"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    let notes = open(config, true).await?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} notes {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress_bar = bar.clone();
    let (summaries, embedded) = tokio::task::spawn_blocking(move || {
        let summaries = notes.update_keywords(vault.as_deref(), &|name, done, total| {
            progress_bar.set_message(name.to_owned());
            progress_bar.set_length(total as u64);
            progress_bar.set_position(done as u64);
        })?;
        // The passages' vectors, when the notes have an embedding model (the long part of a
        // first index: the bar counts passages).
        progress_bar.set_position(0);
        progress_bar.set_message("embedding");
        progress_bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>12} [{bar:30}] {pos}/{len} passages {elapsed} (eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        let embedded = notes.embed_pending(&|done, total| {
            progress_bar.set_length(total as u64);
            progress_bar.set_position(done as u64);
        });
        anyhow::Ok((summaries, embedded))
    })
    .await??;
    bar.finish_and_clear();
    match embedded {
        Ok(e) if e.passages > 0 => println!(
            "embedded {} passages in {:.1} s ({:.1}/s)",
            e.passages,
            e.elapsed.as_secs_f64(),
            e.passages as f64 / e.elapsed.as_secs_f64().max(1e-3)
        ),
        Ok(_) => {}
        Err(e) => {
            println!("the passages could not be embedded ({e}); notes are searched by keywords")
        }
    }
    let mut failed = false;
    for summary in &summaries {
        match summary {
            Ok(summary) => println!("{}", describe(summary)),
            Err(e) => {
                failed = true;
                println!("{e}");
            }
        }
    }
    if failed {
        anyhow::bail!("some vaults could not be indexed");
    }
    Ok(())
}

/// One line about an update.
pub fn describe(summary: &Summary) -> String {
    format!(
        "{}: {} notes ({} new or changed, {} removed), {} passages written, {} skipped, {} attachments, {:.1} s",
        summary.vault,
        summary.notes,
        summary.changed,
        summary.removed,
        summary.passages_written,
        summary.skipped,
        summary.attachments,
        summary.elapsed.as_secs_f64()
    )
}

/// An update's result as the admin socket reports it.
pub fn summary_json(summary: &Result<Summary, hearth_notes::NotesError>) -> Value {
    match summary {
        Ok(summary) => json!({"vault": summary.vault, "line": describe(summary)}),
        Err(e) => json!({"error": e.to_string(), "line": e.to_string()}),
    }
}
