//! Retrieval quality on real vaults: note-level hit@1/5/10 and MRR for Hearth's notes search
//! and, in the same run, a plain BM25 baseline over the same heading sections.
//!
//! `cargo bench -p hearth-notes --bench retrieval -- ../shared/bench/notes`
//!
//! With the models of `scripts/install-models.sh` present (`models/minilm`,
//! `models/use-multilingual`), also an experiment for the next step: each passage embedded
//! ("title › heading" and its text) and ranked by cosine alone, then fused with Hearth's
//! keyword ranking, by reciprocal rank (k = 60) and by a weighted sum (cosine and BM25 scaled
//! to the best hit), at note level. The bot does not embed notes yet.
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

/// Every passage of a vault as the model sees it, with its note.
fn passages(root: &Path) -> Vec<(String, String)> {
    let scan = hearth_notes::scan::scan(root).unwrap();
    let mut out = Vec::new();
    for found in &scan.notes {
        let Ok(content) = std::fs::read_to_string(&found.abs) else {
            continue;
        };
        let note = indexer::parse(scan.kind, &found.path, &content);
        for passage in note.passages() {
            let label = if passage.heading.is_empty() {
                note.title.clone()
            } else {
                format!("{} › {}", note.title, passage.heading)
            };
            out.push((found.path.clone(), format!("{label}\n{}", passage.text)));
        }
    }
    out
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Note-level rankings for one question from a keyword list (note, BM25) and passage cosines.
fn fused(keyword: &[(String, f32)], dense: &[(String, f32)]) -> [Vec<String>; 3] {
    let best = |list: &[(String, f32)]| {
        let mut by_note: Vec<(String, f32)> = Vec::new();
        for (note, score) in list {
            match by_note.iter_mut().find(|(n, _)| n == note) {
                Some((_, s)) => *s = s.max(*score),
                None => by_note.push((note.clone(), *score)),
            }
        }
        by_note.sort_by(|a, b| b.1.total_cmp(&a.1));
        by_note
    };
    let (keyword, dense) = (best(keyword), best(dense));
    let order = |mut scored: Vec<(String, f32)>| {
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.into_iter().map(|(n, _)| n).collect::<Vec<_>>()
    };
    let mut rrf: HashMap<String, f32> = HashMap::new();
    for list in [&keyword, &dense] {
        for (rank, (note, _)) in list.iter().take(30).enumerate() {
            *rrf.entry(note.clone()).or_default() += 1.0 / (60.0 + rank as f32 + 1.0);
        }
    }
    let top = keyword.first().map_or(1.0, |(_, s)| s.max(f32::EPSILON));
    let cosine: HashMap<&String, f32> = dense.iter().map(|(n, s)| (n, *s)).collect();
    let bm25: HashMap<&String, f32> = keyword.iter().map(|(n, s)| (n, *s / top)).collect();
    let weighted: Vec<(String, f32)> = dense
        .iter()
        .take(30)
        .chain(keyword.iter())
        .map(|(n, _)| n)
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .map(|n| {
            let score = 0.5 * cosine.get(n).copied().unwrap_or(0.0)
                + 0.5 * bm25.get(n).copied().unwrap_or(0.0);
            (n.clone(), score)
        })
        .collect();
    [
        dense.into_iter().map(|(n, _)| n).collect(),
        order(rrf.into_iter().collect()),
        order(weighted),
    ]
}

/// The embedding experiment for one vault and model.
fn embedded(
    model: &str,
    embedder: &dyn Embedder,
    root: &Path,
    set: &QuestionSet,
    keyword: &[Vec<(String, f32)>],
) {
    let passages = passages(root);
    let texts: Vec<String> = passages.iter().map(|(_, t)| t.clone()).collect();
    let started = Instant::now();
    let vectors: Vec<Vec<f32>> = texts
        .chunks(32)
        .flat_map(|chunk| embedder.embed(chunk).unwrap())
        .collect();
    let took = started.elapsed().as_secs_f64();
    let questions: Vec<String> = set.questions.iter().map(|q| q.q.clone()).collect();
    let asked = embedder.embed(&questions).unwrap();
    let mut scores: [Score; 3] = Default::default();
    for ((question, vector), keyword) in set.questions.iter().zip(&asked).zip(keyword) {
        let mut dense: Vec<(String, f32)> = passages
            .iter()
            .zip(&vectors)
            .map(|((note, _), v)| (note.clone(), dot(vector, v)))
            .collect();
        dense.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (score, ranked) in scores.iter_mut().zip(fused(keyword, &dense)) {
            score.add(&ranked, &question.notes);
        }
    }
    println!(
        "{}\n{}\n{}",
        scores[0].row(&format!("{model}: cosine alone")),
        scores[1].row(&format!("{model}: fused with Hearth's keywords, RRF")),
        scores[2].row(&format!("{model}: fused, 0.5 cosine + 0.5 BM25/best")),
    );
    println!(
        "  ({} passages embedded in {took:.1} s, {:.0}/s, one thread)",
        texts.len(),
        texts.len() as f64 / took
    );
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
        vec![Vault {
            config: VaultConfig {
                name: name.into(),
                root: root.to_path_buf(),
            },
            access: VaultAccess {
                users: Users::Everyone,
                shared_chats: false,
            },
        }],
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
    let mut keyword: Vec<Vec<(String, f32)>> = Vec::new();
    for question in &set.questions {
        let hits = notes.search(&question.q, None, 30).unwrap();
        keyword.push(hits.iter().map(|h| (h.path.clone(), h.score)).collect());
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
        embedded(model, embedder.as_ref(), root, set, &keyword);
    }
    for miss in misses {
        println!("  not in top 5: {miss}");
    }
}

/// The installed embedding models, if any (the experiment is skipped without them).
fn models() -> Vec<(String, Arc<dyn Embedder>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    ["use-multilingual", "minilm"]
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
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(shared) = args.first().map(PathBuf::from) else {
        eprintln!("usage: cargo bench -p hearth-notes --bench retrieval -- ../shared/bench/notes");
        std::process::exit(2);
    };
    let sets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/notes");
    let scratch = tempfile::tempdir().unwrap();
    let models = models();
    let vaults: HashMap<&str, &str> = [
        ("obsidian-help-en", "obsidian-help-en.tar.gz"),
        ("logseq-docs", "logseq-docs.tar.gz"),
    ]
    .into_iter()
    .collect();
    for (name, tarball) in &vaults {
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
