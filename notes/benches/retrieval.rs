//! Retrieval quality on real vaults: note-level hit@1/5/10 and MRR for Hearth's notes search
//! and, in the same run, a plain BM25 baseline over the same heading sections.
//!
//! `cargo bench -p hearth-notes --bench retrieval -- /abs/path/to/bench/notes` (without `--bench`,
//! as `cargo test --benches` runs it, and without the path: a smoke run over the project's
//! own Korean vault).
//!
//! With the models of `scripts/install-models.sh` present (`models/minilm`,
//! `models/use-multilingual`), also Hearth's search by meaning and keywords as the bot runs
//! it with each model and with both side by side (`--weights=0,0.1,0.3` compares keyword
//! weights). Vectors are cached in `target/notes-bench/`, so only the first run embeds.
//!
//! The folder holds the vault tarballs (`obsidian-help-en.tar.gz`, `logseq-docs.tar.gz`); the
//! question sets are in `bench/notes/*.json`, the Korean vault in `bench/notes/korean-vault/`.
//! The baseline: tantivy's default analyzer (split on non-alphanumerics, lower-case; no
//! stemming, stop words, CJK bigrams or field boosts), one field with the note title, heading
//! path and text of each section, BM25, the best section deciding a note's rank.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;

use bot_core::memory::embed::{EmbedModelSource, Embedder, FastEmbedConfig};
use hearth_notes::access::{Users, VaultAccess};
use hearth_notes::indexer::{self, VaultConfig};
use hearth_notes::{Notes, Vault};
use serde::Deserialize;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{STORED, STRING, Schema, TEXT, Value};
use tantivy::{Index, TantivyDocument, doc};

#[derive(Deserialize)]
struct QuestionSet {
    root: String,
    questions: Vec<Question>,
}

#[derive(Deserialize)]
struct Question {
    q: String,
    notes: Vec<String>,
}

#[derive(Default)]
struct Score {
    hit1: usize,
    hit5: usize,
    hit10: usize,
    reciprocal: f64,
    n: usize,
}

impl Score {
    fn add(&mut self, ranked: &[String], expected: &[String]) {
        self.n += 1;
        if let Some(rank) = ranked.iter().position(|p| expected.contains(p)) {
            self.hit1 += usize::from(rank < 1);
            self.hit5 += usize::from(rank < 5);
            self.hit10 += usize::from(rank < 10);
            self.reciprocal += 1.0 / (rank as f64 + 1.0);
        }
    }

    fn row(&self, name: &str) -> String {
        let n = self.n as f64;
        format!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.3} |",
            self.hit1 as f64 / n,
            self.hit5 as f64 / n,
            self.hit10 as f64 / n,
            self.reciprocal / n
        )
    }
}

/// Unique note paths in rank order.
fn notes_in_order(paths: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for path in paths {
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

struct Baseline {
    index: Index,
    path: tantivy::schema::Field,
    body: tantivy::schema::Field,
}

impl Baseline {
    fn build(root: &Path) -> Baseline {
        let mut schema = Schema::builder();
        let path = schema.add_text_field("path", STRING | STORED);
        let body = schema.add_text_field("body", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer(50_000_000).unwrap();
        let scan = hearth_notes::scan::scan(root).unwrap();
        for found in &scan.notes {
            let Ok(content) = std::fs::read_to_string(&found.abs) else {
                continue;
            };
            let note = indexer::parse(scan.kind, &found.path, &content);
            for passage in note.passages() {
                writer
                    .add_document(doc!(
                        path => found.path.clone(),
                        body => format!("{}\n{}\n{}", note.title, passage.heading, passage.text),
                    ))
                    .unwrap();
            }
        }
        writer.commit().unwrap();
        Baseline { index, path, body }
    }

    fn search(&self, question: &str) -> Vec<String> {
        let reader = self.index.reader().unwrap();
        let searcher = reader.searcher();
        let parser = QueryParser::for_index(&self.index, vec![self.body]);
        let (query, _) = parser.parse_query_lenient(question);
        let top = searcher.search(&query, &TopDocs::with_limit(60)).unwrap();
        notes_in_order(top.into_iter().map(|(_, address)| {
            let doc: TantivyDocument = searcher.doc(address).unwrap();
            doc.get_first(self.path)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        }))
    }
}

fn run(
    name: &str,
    root: &Path,
    set: &QuestionSet,
    scratch: &Path,
    models: &[(String, Arc<dyn Embedder>)],
) {
    let started = Instant::now();
    let notes = Notes::open(
        &scratch.join(format!("index-{name}")),
        one_vault(name, root),
    )
    .unwrap();
    let summary = notes
        .update(None, &|_, _, _| {})
        .unwrap()
        .remove(0)
        .unwrap();
    let indexed = started.elapsed();
    let baseline = Baseline::build(root);
    let (mut ours, mut base) = (Score::default(), Score::default());
    let mut misses: Vec<String> = Vec::new();
    for question in &set.questions {
        let hits = notes.search(&question.q, None, 30).unwrap();
        let ranked = notes_in_order(hits.into_iter().map(|h| h.path));
        ours.add(&ranked, &question.notes);
        if !ranked.iter().take(5).any(|p| question.notes.contains(p)) {
            misses.push(format!("{} -> {:?}", question.q, ranked.first()));
        }
        base.add(&baseline.search(&question.q), &question.notes);
    }
    println!(
        "\n{name}: {} notes, {} passages, indexed in {:.2} s; {} questions",
        summary.notes,
        summary.passages_written,
        indexed.as_secs_f64(),
        set.questions.len()
    );
    println!("| search | hit@1 | hit@5 | hit@10 | MRR |\n|---|---|---|---|---|");
    println!("{}", base.row("BM25 baseline (default analyzer, sections)"));
    println!("{}", ours.row("Hearth notes search"));
    for (model, embedder) in models {
        with_model(name, root, set, model, embedder);
    }
    for miss in misses {
        println!("  not in top 5: {miss}");
    }
}

/// Hearth's notes search with an embedding model, as the bot runs it: the index in
/// `target/notes-bench/` so the passages' vectors (cached by text hash) are embedded once
/// across runs; each keyword weight of `--weights=` (default the bot's) is a row.
fn with_model(
    name: &str,
    root: &Path,
    set: &QuestionSet,
    model: &str,
    embedder: &Arc<dyn Embedder>,
) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/notes-bench")
        .join(format!("{name}-{model}"));
    let notes = Notes::open(&dir, one_vault(name, root))
        .unwrap()
        .with_embedder(Arc::clone(embedder))
        .unwrap();
    notes.update_keywords(None, &|_, _, _| {}).unwrap();
    let embedded = notes.embed_pending(&|_, _| {}).unwrap();
    if embedded.passages > 0 {
        println!(
            "  ({model}: {} passages embedded in {:.1} s, {:.1}/s, one thread; cached for the next run)",
            embedded.passages,
            embedded.elapsed.as_secs_f64(),
            embedded.passages as f64 / embedded.elapsed.as_secs_f64().max(1e-3)
        );
    }
    let weights: Vec<f32> = std::env::args()
        .find_map(|a| a.strip_prefix("--weights=").map(str::to_owned))
        .map(|w| w.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![hearth_notes::service::KEYWORD_WEIGHT]);
    let mut notes = notes;
    for weight in weights {
        notes = notes.with_keyword_weight(weight);
        let mut score = Score::default();
        let mut timings = Vec::new();
        for question in &set.questions {
            let started = Instant::now();
            let hits = notes.search(&question.q, None, 30).unwrap();
            timings.push(started.elapsed().as_secs_f64() * 1000.0);
            score.add(
                &notes_in_order(hits.into_iter().map(|h| h.path)),
                &question.notes,
            );
        }
        timings.sort_by(f64::total_cmp);
        println!(
            "{}",
            score.row(&format!(
                "Hearth, meaning + keywords ({model}, keyword weight {weight}; search p50 {:.1} ms)",
                timings[timings.len() / 2]
            ))
        );
    }
}

/// `root` as the only vault, open to everyone.
fn one_vault(name: &str, root: &Path) -> Vec<Vault> {
    vec![Vault {
        config: VaultConfig {
            name: name.into(),
            root: root.to_path_buf(),
        },
        access: VaultAccess {
            users: Users::Everyone,
            shared_chats: false,
        },
    }]
}

/// The installed embedding models, if any (skipped without them): each alone, and both side
/// by side (equal weights) as `HEARTH_EMBED_MODEL_DIR=a,b` runs them.
fn models() -> Vec<(String, Arc<dyn Embedder>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let mut loaded: Vec<(String, Arc<dyn Embedder>)> = ["use-multilingual", "minilm"]
        .into_iter()
        .filter_map(|name| {
            let config = FastEmbedConfig {
                ort_library: dir.join("onnxruntime/libonnxruntime.so"),
                model: EmbedModelSource::Dir(dir.join(name)),
                threads: 1,
                max_length: 256,
                cache_dir: dir.join(".cache"),
            };
            match bot_core::memory::embed::FastEmbedder::load(&config) {
                Ok(model) => Some((name.to_owned(), Arc::new(model) as Arc<dyn Embedder>)),
                Err(e) => {
                    eprintln!("{name}: {e} (skipped)");
                    None
                }
            }
        })
        .collect();
    if loaded.len() == 2 {
        let both = bot_core::memory::embed::CombinedEmbedder::new(vec![
            (Arc::clone(&loaded[0].1), 1.0),
            (Arc::clone(&loaded[1].1), 1.0),
        ]);
        loaded.push(("use-multilingual+minilm".into(), Arc::new(both)));
    }
    loaded
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    // `cargo test --benches` runs it without `--bench`: a smoke run over the project's own
    // Korean vault alone when the shared vaults are not given.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let shared = args.first().map(PathBuf::from);
    if shared.is_none() && !smoke {
        eprintln!(
            "usage: cargo bench -p hearth-notes --bench retrieval -- /abs/path/to/bench/notes"
        );
        std::process::exit(2);
    }
    let sets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/notes");
    let scratch = tempfile::tempdir().unwrap();
    let models = models();
    let vaults: HashMap<&str, &str> = [
        ("obsidian-help-en", "obsidian-help-en.tar.gz"),
        ("logseq-docs", "logseq-docs.tar.gz"),
    ]
    .into_iter()
    .collect();
    for (name, tarball) in vaults.iter().filter(|_| shared.is_some()) {
        let shared = shared.as_deref().expect("given");
        let set: QuestionSet =
            serde_json::from_slice(&std::fs::read(sets.join(format!("{name}.json"))).unwrap())
                .unwrap();
        let status = std::process::Command::new("tar")
            .arg("xzf")
            .arg(shared.join(tarball))
            .arg("-C")
            .arg(scratch.path())
            .status()
            .expect("running tar");
        assert!(status.success(), "unpacking {tarball}");
        run(
            name,
            &scratch.path().join(&set.root),
            &set,
            scratch.path(),
            &models,
        );
    }
    let korean: QuestionSet =
        serde_json::from_slice(&std::fs::read(sets.join("korean-vault.json")).unwrap()).unwrap();
    run(
        "korean-vault",
        &sets.join(&korean.root),
        &korean,
        scratch.path(),
        &models,
    );
}
