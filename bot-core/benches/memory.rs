//! Memory benchmarks (figures go to BENCHMARKS.md):
//!
//! 1. Retrieval quality on LoCoMo: every turn of a conversation is one memory
//!    of one user, written "[session date] Speaker: text"; for each question of
//!    categories 1-4, evidence recall@5 and @10 for dense, BM25 and hybrid.
//! 2. Embedding throughput over all LoCoMo turns (dataset order, batches of 32,
//!    one ONNX thread), to compare with Python onnxruntime on the same model.
//! 3. Query embedding + search latency at 1k, 10k and 100k memories of one user.
//! 4. Disk bytes per memory in sled.
//!
//! Usage: cargo bench -p bot-core --bench memory -- PATH/TO/locomo10.zip [MODELS_DIR]
//! (MODELS_DIR defaults to the project's models/, filled by scripts/install-models.sh.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bot_core::memory::embed::{EmbedModelSource, Embedder, FastEmbedConfig, FastEmbedder};
use bot_core::memory::index::{Index, RankConfig};
use bot_core::memory::{Memory, MemorySource, MemoryStore};
use bot_core::store::sled_store::SledStore;
use bot_core::{Platform, UserKey};
use chrono::Utc;

#[path = "common/locomo.rs"]
mod locomo;
use locomo::{load, recall};

fn embedder(models: &Path) -> FastEmbedder {
    FastEmbedder::load(&FastEmbedConfig {
        ort_library: models.join("onnxruntime/libonnxruntime.so"),
        model: EmbedModelSource::Dir(models.join("minilm")),
        threads: 1,
        max_length: 256,
        cache_dir: models.join(".cache"),
    })
    .expect("offline model (scripts/install-models.sh)")
}

fn embed_all(embedder: &FastEmbedder, texts: &[String]) -> Vec<Vec<f32>> {
    texts
        .chunks(32)
        .flat_map(|chunk| embedder.embed(chunk).unwrap())
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(locomo) = args.first() else {
        eprintln!(
            "usage: cargo bench -p bot-core --bench memory -- PATH/TO/locomo10.zip [MODELS_DIR]"
        );
        std::process::exit(2);
    };
    let models = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models"));
    let conversations = load(Path::new(locomo));
    let embedder = embedder(&models);

    // 1 and 2: quality and throughput.
    let hybrid = RankConfig::default();
    let methods: [(&str, RankConfig, bool); 3] = [
        (
            "dense",
            RankConfig {
                dense_weight: 1.0,
                dense_floor: -1.0,
                ..hybrid
            },
            true,
        ),
        ("BM25", hybrid, false),
        ("hybrid (default)", hybrid, true),
    ];
    let mut sums = vec![(0.0f64, 0.0f64); methods.len()];
    let mut questions = 0usize;
    let mut embed_time = Duration::ZERO;
    let mut embedded = 0usize;
    let mut all_vectors = Vec::new();
    let mut all_texts = Vec::new();
    let mut all_questions = Vec::new();
    for conversation in &conversations {
        let texts: Vec<String> = conversation.turns.iter().map(|t| t.text.clone()).collect();
        let started = Instant::now();
        let vectors = embed_all(&embedder, &texts);
        embed_time += started.elapsed();
        embedded += texts.len();
        let mut index = Index::new(384);
        for (turn, vector) in conversation.turns.iter().zip(&vectors) {
            index.add(&turn.id, &turn.text, Utc::now(), Some(vector));
        }
        let query_texts: Vec<String> = conversation
            .questions
            .iter()
            .map(|q| q.text.clone())
            .collect();
        let query_vectors = embed_all(&embedder, &query_texts);
        for (question, qv) in conversation.questions.iter().zip(&query_vectors) {
            for (m, (_, config, dense)) in methods.iter().enumerate() {
                let hits = index.search(&question.text, dense.then_some(qv.as_slice()), 10, config);
                sums[m].0 += recall(&hits, &question.evidence, 5);
                sums[m].1 += recall(&hits, &question.evidence, 10);
            }
            questions += 1;
        }
        all_vectors.extend(vectors);
        all_texts.extend(texts);
        all_questions.extend(query_texts);
    }
    println!(
        "LoCoMo evidence recall, {} conversations, {questions} questions (categories 1-4):",
        conversations.len()
    );
    println!("  {:<18} {:>6} {:>6}", "method", "R@5", "R@10");
    for ((name, _, _), (r5, r10)) in methods.iter().zip(&sums) {
        println!(
            "  {name:<18} {:>6.1} {:>6.1}",
            100.0 * r5 / questions as f64,
            100.0 * r10 / questions as f64
        );
    }
    for weight in [0.3f32, 0.4, 0.6] {
        let config = RankConfig {
            dense_weight: weight,
            ..hybrid
        };
        let (mut r10, mut n) = (0.0, 0);
        for conversation in &conversations {
            let texts: Vec<String> = conversation.turns.iter().map(|t| t.text.clone()).collect();
            let mut index = Index::new(384);
            let start = all_texts.iter().position(|t| *t == texts[0]).unwrap();
            for (i, turn) in conversation.turns.iter().enumerate() {
                index.add(
                    &turn.id,
                    &turn.text,
                    Utc::now(),
                    Some(&all_vectors[start + i]),
                );
            }
            let qv = embed_all(
                &embedder,
                &conversation
                    .questions
                    .iter()
                    .map(|q| q.text.clone())
                    .collect::<Vec<_>>(),
            );
            for (question, qv) in conversation.questions.iter().zip(&qv) {
                r10 += recall(
                    &index.search(&question.text, Some(qv), 10, &config),
                    &question.evidence,
                    10,
                );
                n += 1;
            }
        }
        println!(
            "  hybrid weight {weight:.1}   R@10 {:>6.1}",
            100.0 * r10 / n as f64
        );
    }
    println!(
        "embedding throughput (dataset order, batches of 32, 1 ONNX thread): {:.0} turns/s ({embedded} turns in {:.1} s)",
        embedded as f64 / embed_time.as_secs_f64(),
        embed_time.as_secs_f64()
    );

    // 3: latency at scale, with real vectors (cycled) and real query embedding.
    println!("query embedding + search latency, one user:");
    for n in [1_000usize, 10_000, 100_000] {
        let mut index = Index::new(384);
        for i in 0..n {
            let j = i % all_texts.len();
            index.add(
                &format!("m{i}"),
                &all_texts[j],
                Utc::now(),
                Some(&all_vectors[j]),
            );
        }
        let mut times = Vec::new();
        for question in all_questions.iter().take(300) {
            let started = Instant::now();
            let qv = embedder.embed(std::slice::from_ref(question)).unwrap();
            let hits = index.search(question, Some(&qv[0]), 8, &hybrid);
            std::hint::black_box(hits);
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "  {n:>7} memories: p50 {:.2} ms   p99 {:.2} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }

    // 4: disk bytes per memory.
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let owner = UserKey::new(Platform::Telegram, "1");
    let n = 10_000;
    // The store's ports are async; a current-thread runtime drives them here.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for i in 0..n {
        let j = i % all_texts.len();
        let now = Utc::now();
        let memory = Memory {
            id: runtime.block_on(store.next_id()).unwrap(),
            owner: owner.clone(),
            text: all_texts[j].clone(),
            source: MemorySource::Explicit,
            created: now,
            updated: now,
            embedding: Some(all_vectors[j].clone()),
            embedding_model: Some("bench".into()),
        };
        runtime.block_on(store.put_memory(&memory)).unwrap();
    }
    runtime.block_on(MemoryStore::flush(&store)).unwrap();
    let mean_text =
        all_texts.iter().map(String::len).sum::<usize>() as f64 / all_texts.len() as f64;
    let sled_bytes = store.size_on_disk().unwrap();
    drop(store);
    let files: u64 = walk(dir.path());
    println!(
        "disk per memory in sled ({n} memories, mean text {mean_text:.0} bytes, 384-d f32 vector = 1536 bytes): {:.0} bytes (sled size_on_disk), {:.0} bytes (files)",
        sled_bytes as f64 / n as f64,
        files as f64 / n as f64
    );
}

fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let meta = e.metadata().unwrap();
                    if meta.is_dir() {
                        walk(&e.path())
                    } else {
                        meta.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
