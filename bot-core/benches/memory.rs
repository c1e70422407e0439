//! Memory benchmarks (figures go to BENCHMARKS.md):
//!
//! 1. Retrieval quality on LoCoMo: every turn of a conversation is one memory
//!    of one user, written "[session date] Speaker: text"; for each question of
//!    categories 1-4, evidence recall@5 and @10 for dense, BM25 and hybrid, and
//!    the hybrid's R@10 per category.
//! 2. Embedding throughput over all LoCoMo turns (batches of 32, one ONNX thread),
//!    to compare with Python onnxruntime on the same model.
//! 3. Query embedding + search latency at 1k, 10k and 100k memories of one user, for each
//!    installed default model (all-MiniLM-L6-v2 for English-only bots, the Universal
//!    Sentence Encoder multilingual otherwise), and the time to apply one change.
//! 4. The same through the memory service over sled holding 1,000 persons' memories:
//!    the first search (loading the person's index), warm searches, and a search right after
//!    the person remembers something new.
//! 5. Disk bytes per memory in sled.
//!
//! Usage: cargo bench -p bot-core --bench memory -- PATH/TO/locomo10.zip [MODELS_DIR]
//! [--latency-only] (`SHARE=0 PRF=0 NAMES=0` in the environment turn off the neighbour share,
//! the feedback and the name boost of the ranking, to measure what each adds; `DENSE=`, `K1=`
//! and `B=` override the other weights) (parts 3 and 4 for the Universal Sentence Encoder alone; MODELS_DIR defaults to the project's models/, filled by scripts/install-models.sh.)
//! Without `--bench` (`cargo test --benches`, as the test command runs it) it is a smoke run:
//! a small made-up dataset, small sizes, no LoCoMo needed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_core::memory::embed::{EmbedModelSource, Embedder, FastEmbedConfig, FastEmbedder};
use bot_core::memory::index::{Index, RankConfig};
use bot_core::memory::{Memories, Memory, MemoryConfig, MemorySource, MemoryStore};
use bot_core::store::sled_store::SledStore;
use bot_core::{Platform, UserKey};
use chrono::Utc;

#[path = "common/locomo.rs"]
mod locomo;
use locomo::{load, ranking, recall, smoke, synthetic};

fn load_model(models: &Path, name: &str) -> FastEmbedder {
    FastEmbedder::load(&FastEmbedConfig {
        ort_library: models.join("onnxruntime/libonnxruntime.so"),
        model: EmbedModelSource::Dir(models.join(name)),
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
    let smoke = smoke();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let models = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models"));
    let conversations = match args.first() {
        Some(locomo) => load(Path::new(locomo)),
        None if smoke => synthetic(3, 60),
        None => {
            eprintln!(
                "usage: cargo bench -p bot-core --bench memory -- PATH/TO/locomo10.zip [MODELS_DIR]"
            );
            std::process::exit(2);
        }
    };
    if smoke {
        println!("smoke run (no --bench): small sizes, figures mean nothing");
    }
    let latency_only = std::env::args().any(|a| a == "--latency-only");
    let embedder = load_model(&models, "minilm");
    let dim = embedder.embed(&["dimension".to_owned()]).unwrap()[0].len();

    // 1 and 2: quality and throughput.
    let hybrid = ranking();
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
    // Per category: (hybrid R@10 sum, questions).
    let mut categories = [(0.0f64, 0usize); 5];
    let mut questions = 0usize;
    let mut embed_time = Duration::ZERO;
    let mut embedded = 0usize;
    let mut all_vectors = Vec::new();
    let mut all_texts = Vec::new();
    let mut all_questions = Vec::new();
    for conversation in conversations.iter().filter(|_| !latency_only) {
        let texts: Vec<String> = conversation.turns.iter().map(|t| t.text.clone()).collect();
        let started = Instant::now();
        let vectors = embed_all(&embedder, &texts);
        embed_time += started.elapsed();
        embedded += texts.len();
        let mut index = Index::new(dim);
        for (turn, vector) in conversation.turns.iter().zip(&vectors) {
            index.add(&turn.id, &turn.text, turn.at, Some(vector));
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
                let r10 = recall(&hits, &question.evidence, 10);
                sums[m].1 += r10;
                if m == 2 {
                    let c = question.category.min(4) as usize;
                    categories[c].0 += r10;
                    categories[c].1 += 1;
                }
            }
            questions += 1;
        }
        all_vectors.extend(vectors);
        all_texts.extend(texts);
        all_questions.extend(query_texts);
    }
    if latency_only {
        for conversation in &conversations {
            all_texts.extend(conversation.turns.iter().map(|t| t.text.clone()));
            all_questions.extend(conversation.questions.iter().map(|q| q.text.clone()));
        }
    }
    if !latency_only {
        report_quality(&conversations, &methods, &sums, &categories, questions);
        println!(
            "embedding throughput (dataset order, calls of 32 texts, 1 ONNX thread): {:.0} turns/s ({embedded} turns in {:.1} s)",
            embedded as f64 / embed_time.as_secs_f64(),
            embed_time.as_secs_f64()
        );
        // Hearth's bulk path: one call with every text; the embedder sorts by length so each
        // model run carries little padding (MiniLM: runs of 32 texts; the compact pipeline:
        // runs of a token budget).
        let started = Instant::now();
        let vectors = embedder.embed(&all_texts).unwrap();
        let elapsed = started.elapsed();
        assert_eq!(vectors.len(), all_texts.len());
        println!(
            "embedding throughput (one call with every text, 1 ONNX thread): {:.0} turns/s ({} turns in {:.1} s)",
            all_texts.len() as f64 / elapsed.as_secs_f64(),
            all_texts.len(),
            elapsed.as_secs_f64()
        );
    }

    // 3: latency at scale, with real vectors (cycled) and real query embedding, per model.
    let sizes: &[usize] = if smoke {
        &[200, 1_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    let asked = if smoke { 20 } else { 300 };
    let model_names: Vec<&str> = ["minilm", "use-multilingual"]
        .into_iter()
        .filter(|m| models.join(m).join("model.onnx").exists())
        .filter(|m| !latency_only || *m != "minilm")
        .collect();
    let mut service_model = None;
    for name in &model_names {
        let (model, vectors) = if *name == "minilm" {
            (load_model(&models, name), all_vectors.clone())
        } else {
            let model = load_model(&models, name);
            let started = Instant::now();
            let vectors = embed_all(&model, &all_texts);
            let elapsed = started.elapsed().as_secs_f64();
            println!(
                "embedding throughput, {name} (dataset order, calls of 32 texts, 1 ONNX thread): {:.0} turns/s ({} turns in {elapsed:.1} s)",
                all_texts.len() as f64 / elapsed,
                all_texts.len()
            );
            let started = Instant::now();
            let sorted = model.embed(&all_texts).unwrap();
            let elapsed = started.elapsed().as_secs_f64();
            assert_eq!(sorted.len(), all_texts.len());
            println!(
                "embedding throughput, {name} (one call with every text, 1 ONNX thread): {:.0} turns/s ({} turns in {elapsed:.1} s)",
                all_texts.len() as f64 / elapsed,
                all_texts.len()
            );
            (model, vectors)
        };
        let dim = vectors[0].len();
        println!("query embedding + search latency, one user, {name} ({dim} dimensions):");
        for &n in sizes {
            let started = Instant::now();
            let mut index = Index::new(dim);
            for i in 0..n {
                let j = i % all_texts.len();
                index.add(
                    &format!("m{i}"),
                    &all_texts[j],
                    Utc::now(),
                    Some(&vectors[j]),
                );
            }
            let built = started.elapsed();
            let mut times = Vec::new();
            let mut search_only = Vec::new();
            for question in all_questions.iter().cycle().take(asked) {
                let started = Instant::now();
                let qv = model.embed(std::slice::from_ref(question)).unwrap();
                let searching = Instant::now();
                let hits = index.search(question, Some(&qv[0]), 8, &hybrid);
                std::hint::black_box(hits);
                search_only.push(searching.elapsed());
                times.push(started.elapsed());
            }
            // One change: replace a memory and remove another (formerly a full rebuild).
            let started = Instant::now();
            index.add("m1", &all_texts[2], Utc::now(), Some(&vectors[2]));
            index.remove("m3");
            let change = started.elapsed();
            times.sort();
            search_only.sort();
            println!(
                "  {n:>7} memories: p50 {:.2} ms   p99 {:.2} ms   (search alone p50 {:.2} ms, p99 {:.2} ms; one change {:.3} ms; building the index {:.0} ms)",
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                percentile(&search_only, 0.5),
                percentile(&search_only, 0.99),
                change.as_secs_f64() * 1000.0,
                built.as_secs_f64() * 1000.0,
            );
        }
        service_model = Some((name.to_string(), model, vectors));
    }

    // 4: through the service, 1,000 persons in one sled store.
    if let Some((name, model, vectors)) = service_model {
        let (persons, each, own) = if smoke {
            (20, 20, 500)
        } else {
            (1_000, 100, 10_000)
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let model: Arc<dyn Embedder> = Arc::new(model);
        let model_id = model.describe();
        let me = UserKey::new(Platform::Telegram, "1");
        let started = Instant::now();
        runtime.block_on(async {
            let mut j = 0usize;
            let mut put = |owner: UserKey| {
                let k = j % all_texts.len();
                j += 1;
                let now = Utc::now();
                let model_id = model_id.clone();
                let store = Arc::clone(&store);
                let text = all_texts[k].clone();
                let vector = vectors[k].clone();
                async move {
                    let memory = Memory {
                        id: store.next_id().await.unwrap(),
                        owner,
                        text,
                        source: MemorySource::Explicit,
                        created: now,
                        updated: now,
                        embedding: Some(vector),
                        embedding_model: Some(model_id),
                    };
                    store.put_memory(&memory).await.unwrap();
                }
            };
            for round in 0..each.max(own) {
                if round < own {
                    put(me.clone()).await;
                }
                if round < each {
                    for p in 2..=persons {
                        put(UserKey::new(Platform::Discord, &p.to_string())).await;
                    }
                }
            }
            MemoryStore::flush(store.as_ref()).await.unwrap();
        });
        println!(
            "memory service over sled, {name}: {persons} persons ({each} memories each, the one searched {own}), written in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        let memories = Memories::new(store.clone(), Some(model), MemoryConfig::default());
        runtime.block_on(async {
            let started = Instant::now();
            let hits = memories.search(&me, &all_questions[0], 8).await.unwrap();
            assert!(hits.iter().all(|h| h.memory.owner == me));
            let cold = started.elapsed();
            let mut times = Vec::new();
            for question in all_questions.iter().cycle().skip(1).take(asked) {
                let started = Instant::now();
                std::hint::black_box(memories.search(&me, question, 8).await.unwrap());
                times.push(started.elapsed());
            }
            times.sort();
            let mut after_change = Vec::new();
            let mut remembering = Vec::new();
            for (i, question) in all_questions.iter().take(if smoke { 3 } else { 20 }).enumerate() {
                let started = Instant::now();
                let memory = memories
                    .remember(&me, &format!("new fact number {i}: {question}"), MemorySource::Explicit)
                    .await
                    .unwrap();
                remembering.push(started.elapsed());
                let started = Instant::now();
                let hits = memories.search(&me, question, 8).await.unwrap();
                after_change.push(started.elapsed());
                assert!(hits.iter().any(|h| h.memory.id == memory.id), "the new memory is found");
            }
            after_change.sort();
            remembering.sort();
            println!(
                "  first search (loads the person's index from sled): {:.0} ms",
                cold.as_secs_f64() * 1000.0
            );
            println!(
                "  warm searches: p50 {:.2} ms   p99 {:.2} ms",
                percentile(&times, 0.5),
                percentile(&times, 0.99)
            );
            println!(
                "  remember (embed, write, flush) p50 {:.2} ms; the search right after it p50 {:.2} ms, max {:.2} ms",
                percentile(&remembering, 0.5),
                percentile(&after_change, 0.5),
                after_change.last().unwrap().as_secs_f64() * 1000.0
            );
        });
    }

    // 5: disk bytes per memory.
    if latency_only {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let owner = UserKey::new(Platform::Telegram, "1");
    let n = if smoke { 500 } else { 10_000 };
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
        "disk per memory in sled ({n} memories, mean text {mean_text:.0} bytes, {dim}-d f32 vector = {} bytes): {:.0} bytes (sled size_on_disk), {:.0} bytes (files)",
        dim * 4,
        sled_bytes as f64 / n as f64,
        files as f64 / n as f64
    );
}

fn report_quality(
    conversations: &[locomo::Conversation],
    methods: &[(&str, RankConfig, bool)],
    sums: &[(f64, f64)],
    categories: &[(f64, usize)],
    questions: usize,
) {
    println!(
        "LoCoMo evidence recall, {} conversations, {questions} questions (categories 1-4):",
        conversations.len()
    );
    println!("  {:<18} {:>6} {:>6}", "method", "R@5", "R@10");
    for ((name, _, _), (r5, r10)) in methods.iter().zip(sums) {
        println!(
            "  {name:<18} {:>6.1} {:>6.1}",
            100.0 * r5 / questions as f64,
            100.0 * r10 / questions as f64
        );
    }
    let names = ["", "multi-hop", "temporal", "open-domain", "single-hop"];
    for (c, (sum, n)) in categories.iter().enumerate().skip(1) {
        if *n > 0 {
            println!(
                "  hybrid R@10, category {c} ({}, {n} questions): {:.1}",
                names[c],
                100.0 * sum / *n as f64
            );
        }
    }
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
