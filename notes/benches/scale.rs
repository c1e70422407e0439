//! The notes index at scale: a generated Obsidian vault of 10,000 notes (about 50 MB) indexed,
//! embedded, re-indexed with no change, changed by one note, and searched, as the bot does it.
//!
//! `cargo bench -p hearth-notes --bench scale -- [--notes=10000] [--model=DIR] [--embed-limit=N]`
//!
//! `--model` is an embedding model folder (default `models/use-multilingual`, the model
//! `scripts/run.sh` uses; `none` for keywords only). `--embed-limit` embeds only the first N
//! passages and reports the rate (a slow model on 50,000 passages takes hours; the first index
//! is bounded by that rate). Figures: wall time, and the process's resident memory (VmRSS) and
//! peak (VmHWM) from /proc.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_core::memory::embed::{EmbedModelSource, Embedder, FastEmbedConfig};
use hearth_notes::access::{Users, VaultAccess};
use hearth_notes::indexer::VaultConfig;
use hearth_notes::{Notes, Vault};

/// A small deterministic generator (xorshift), so every run writes the same vault.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words made of syllables, a few thousand of them, used with a skewed frequency like text.
fn vocabulary(rng: &mut Rng) -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ba", "ko", "ri", "sen", "ta", "mol", "ve", "dra", "lin", "po", "shu", "ga", "ter", "mi",
        "ston", "el", "ad", "nor", "qui", "zu", "fen", "ca", "lo", "ny", "bre", "dun", "wil",
        "hax", "jo", "pe",
    ];
    let mut words: Vec<String> = [
        "the", "and", "of", "to", "in", "a", "is", "for", "on", "with", "backup", "server",
        "garden", "meeting", "recipe", "travel", "budget", "project", "notes", "plan",
    ]
    .iter()
    .map(|w| (*w).to_owned())
    .collect();
    while words.len() < 4_000 {
        let n = 2 + rng.below(3);
        words.push(
            (0..n)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect(),
        );
    }
    words
}

fn word<'a>(rng: &mut Rng, words: &'a [String]) -> &'a str {
    // Zipf-like: small indices far more often.
    let r = rng.below(words.len());
    &words[r * r / words.len()]
}

fn sentence(rng: &mut Rng, words: &[String]) -> String {
    let n = 6 + rng.below(12);
    let s: Vec<&str> = (0..n).map(|_| word(rng, words)).collect();
    format!("{}.", s.join(" "))
}

fn note(rng: &mut Rng, words: &[String], i: usize, total: usize) -> String {
    let mut out = format!(
        "---\ntags: [{}, {}]\ncreated: 2024-{:02}-{:02}\n---\n",
        word(rng, words),
        word(rng, words),
        1 + i % 12,
        1 + i % 28
    );
    let sections = 3 + rng.below(3);
    for s in 0..sections {
        out.push_str(&format!(
            "## {} {}\n",
            word(rng, words),
            if s % 2 == 0 { word(rng, words) } else { "" }
        ));
        for _ in 0..(2 + rng.below(3)) {
            let sentences = 3 + rng.below(4);
            let paragraph: Vec<String> = (0..sentences).map(|_| sentence(rng, words)).collect();
            out.push_str(&paragraph.join(" "));
            if rng.below(4) == 0 {
                out.push_str(&format!(" See [[Note {}]].", rng.below(total)));
            }
            out.push_str("\n\n");
        }
    }
    out
}

fn proc_status(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn memory() -> String {
    format!(
        "RSS {:.0} MiB, peak {:.0} MiB",
        proc_status("VmRSS:"),
        proc_status("VmHWM:")
    )
}

fn arg(name: &str) -> Option<String> {
    std::env::args().find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_owned))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    // `cargo test --benches` runs it without `--bench`: a smoke run over a small vault.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let total: usize = arg("notes")
        .and_then(|n| n.parse().ok())
        .unwrap_or(if smoke { 300 } else { 10_000 });
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let model_dir =
        arg("model").unwrap_or_else(|| models.join("use-multilingual").display().to_string());
    let embed_limit: Option<usize> = arg("embed-limit").and_then(|n| n.parse().ok());
    // The vault and index live in target/notes-bench/; each run starts the keyword index
    // afresh but keeps the vectors (cached by text hash: the generated vault is the same every
    // run), so only the first run with a model pays for embedding. Delete the folder to
    // measure that again.
    let model_name = Path::new(&model_dir)
        .file_name()
        .map_or_else(|| "none".to_owned(), |n| n.to_string_lossy().into_owned());
    let scratch_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/notes-bench")
        .join(format!("scale-{total}-{model_name}"));
    let _ = std::fs::remove_dir_all(scratch_dir.join("vault"));
    let _ = std::fs::remove_dir_all(scratch_dir.join("index/index"));
    let _ = std::fs::remove_file(scratch_dir.join("index/manifest.json"));
    std::fs::create_dir_all(&scratch_dir).unwrap();
    struct Scratch(std::path::PathBuf);
    impl Scratch {
        fn path(&self) -> &Path {
            &self.0
        }
    }
    let scratch = Scratch(scratch_dir.clone());
    let root = scratch.path().join("vault");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let words = vocabulary(&mut rng);
    let started = Instant::now();
    let mut bytes = 0;
    for i in 0..total {
        let folder = root.join(format!("area-{:02}", i % 40));
        std::fs::create_dir_all(&folder).unwrap();
        let text = note(&mut rng, &words, i, total);
        bytes += text.len();
        std::fs::write(folder.join(format!("Note {i}.md")), text).unwrap();
    }
    println!(
        "generated {total} notes, {:.1} MB, in {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let vaults = vec![Vault {
        config: VaultConfig {
            name: "big".into(),
            root: root.clone(),
        },
        access: VaultAccess {
            users: Users::Everyone,
            shared_chats: false,
        },
    }];
    let embedder: Option<Arc<dyn Embedder>> = (model_dir != "none").then(|| {
        let config = FastEmbedConfig {
            ort_library: models.join("onnxruntime/libonnxruntime.so"),
            model: EmbedModelSource::Dir(model_dir.clone().into()),
            threads: 1,
            max_length: 256,
            cache_dir: models.join(".cache"),
        };
        Arc::new(bot_core::memory::embed::FastEmbedder::load(&config).unwrap()) as Arc<dyn Embedder>
    });
    println!(
        "model: {model_dir}, one ONNX thread; before indexing: {}",
        memory()
    );
    let open = || {
        let notes = Notes::open(&scratch.path().join("index"), vaults.clone()).unwrap();
        match &embedder {
            Some(e) => notes.with_embedder(Arc::clone(e)).unwrap(),
            None => notes,
        }
    };
    let notes = open();

    println!("\n| step | time | notes/s | memory |\n|---|---|---|---|");
    let started = Instant::now();
    let summary = notes
        .update_keywords(None, &|_, _, _| {})
        .unwrap()
        .remove(0)
        .unwrap();
    let keywords = started.elapsed();
    println!(
        "| first index, keywords ({} notes, {} passages) | {:.1} s | {:.0} | {} |",
        summary.notes,
        summary.passages_written,
        keywords.as_secs_f64(),
        summary.notes as f64 / keywords.as_secs_f64(),
        memory()
    );
    let passages = summary.passages_written;
    if embedder.is_some() {
        let limit = embed_limit.unwrap_or(usize::MAX);
        if limit < passages {
            // Embed a sample: stop the pass once it has done `limit` passages.
            let stopper = &notes;
            let started = Instant::now();
            let done = notes
                .embed_pending(&|done, _| {
                    if done >= limit {
                        stopper.stop();
                    }
                })
                .unwrap();
            let rate = done.passages as f64 / started.elapsed().as_secs_f64();
            let per_note = passages as f64 / summary.notes as f64;
            println!(
                "| first index, embedding (a sample of {} passages; all {passages} would take {:.0} min) | {:.1} s | {:.1} | {} |",
                done.passages,
                passages as f64 / rate / 60.0,
                started.elapsed().as_secs_f64(),
                rate / per_note,
                memory()
            );
            println!("\n(the vault is not fully embedded: the searches below use keywords)");
        } else {
            let done = notes.embed_pending(&|_, _| {}).unwrap();
            if done.passages == 0 {
                println!(
                    "| first index, embedding: every vector cached by an earlier run (delete {} to measure it) | | | {} |",
                    scratch_dir.display(),
                    memory()
                );
            } else {
                println!(
                    "| first index, embedding ({} passages, {:.0}/s) | {:.1} s | {:.1} | {} |",
                    done.passages,
                    done.passages as f64 / done.elapsed.as_secs_f64(),
                    done.elapsed.as_secs_f64(),
                    summary.notes as f64 / done.elapsed.as_secs_f64(),
                    memory()
                );
            }
        }
    }
    drop(notes);
    // A restart: reopen (vectors loaded from disk) and re-index with nothing changed.
    let started = Instant::now();
    let notes = open();
    let reopened = started.elapsed();
    let started = Instant::now();
    let again = notes
        .update(None, &|_, _, _| {})
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(again.changed, 0);
    println!(
        "| reopen (load the index and vectors) | {:.2} s | | {} |",
        reopened.as_secs_f64(),
        memory()
    );
    println!(
        "| re-index, nothing changed | {:.2} s | | {} |",
        started.elapsed().as_secs_f64(),
        memory()
    );
    // One note changes: the update (keywords and its vectors) until a search finds it.
    let changed = root.join("area-07/Note 7.md");
    let mut text = std::fs::read_to_string(&changed).unwrap();
    text.push_str("\n## Zanzibar ferry\nThe zanzibar ferry leaves at seven.\n");
    let started = Instant::now();
    std::fs::write(&changed, text).unwrap();
    notes.update(None, &|_, _, _| {}).unwrap();
    let hits = notes.search("zanzibar ferry", None, 5).unwrap();
    assert_eq!(hits[0].path, "area-07/Note 7.md");
    println!(
        "| one note changed → found by a search (update + search; the watcher adds its 0.5 s quiet time) | {:.0} ms | | |",
        started.elapsed().as_secs_f64() * 1000.0
    );
    // Searches: questions of 2-6 words from the vault's vocabulary.
    let mut timings = Vec::new();
    for _ in 0..300 {
        let n = 2 + rng.below(5);
        let q: Vec<&str> = (0..n).map(|_| word(&mut rng, &words)).collect();
        let started = Instant::now();
        let hits = notes.search(&q.join(" "), None, 8).unwrap();
        timings.push(started.elapsed());
        std::hint::black_box(hits);
    }
    timings.sort();
    println!(
        "| search, 300 questions, 8 passages each (p50 / p99 / max) | {:.1} / {:.1} / {:.1} ms | | {} |",
        percentile(&timings, 0.5),
        percentile(&timings, 0.99),
        percentile(&timings, 1.0),
        memory()
    );
    if let Some(embedder) = &embedder {
        // The part of a search that is the question's embedding.
        let mut timings = Vec::new();
        for _ in 0..300 {
            let n = 2 + rng.below(5);
            let q: Vec<&str> = (0..n).map(|_| word(&mut rng, &words)).collect();
            let started = Instant::now();
            std::hint::black_box(embedder.embed(&[q.join(" ")]).unwrap());
            timings.push(started.elapsed());
        }
        timings.sort();
        println!(
            "| of which embedding the question (p50 / p99) | {:.1} / {:.1} ms | | |",
            percentile(&timings, 0.5),
            percentile(&timings, 0.99)
        );
    }
    let status = &notes.status()[0];
    println!(
        "\n{} notes, {} passages, {} embedded; vectors file {:.0} MB",
        status.notes,
        status.passages,
        status
            .embedded
            .map_or_else(|| "none".to_owned(), |n| n.to_string()),
        std::fs::metadata(scratch.path().join("index/vectors.bin"))
            .map_or(0.0, |m| m.len() as f64 / 1e6)
    );
}
