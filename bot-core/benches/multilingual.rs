//! Embedding models for memory search in Korean and English, side by side (BENCHMARKS.md):
//!
//! - LoCoMo (English): evidence recall@10, dense alone and the default hybrid with BM25.
//! - The Korean memory set (`bench/korean-memory/facts.tsv`: each line a fact in Korean and in
//!   English and a paraphrased question about it in both): one person holds all the facts in
//!   one language and asks every question in one language; recall@1 and @10 of the fact, for
//!   Korean→Korean, English→English, Korean question→English memories and the reverse.
//! - Embedding throughput over all LoCoMo turns (batches of 32, one thread).
//!
//! Models: all-MiniLM-L6-v2 (`models/minilm`), Universal Sentence Encoder multilingual
//! (`models/use-multilingual`), and the two side by side (`CombinedEmbedder`) with several
//! weights.
//!
//! Usage: cargo bench -p bot-core --bench multilingual -- PATH/TO/locomo10.zip
//! [KOREAN_TSV [MODELS_DIR]] (defaults: the project's bench/korean-memory/facts.tsv and models/).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bot_core::memory::embed::{
    CombinedEmbedder, EmbedModelSource, Embedder, FastEmbedConfig, FastEmbedder,
};
use bot_core::memory::index::{Index, RankConfig};
use chrono::Utc;

#[path = "common/locomo.rs"]
mod locomo;
use locomo::{load, recall};

fn fastembed(models: &Path, dir: &str) -> Arc<dyn Embedder> {
    Arc::new(
        FastEmbedder::load(&FastEmbedConfig {
            ort_library: models.join("onnxruntime/libonnxruntime.so"),
            model: EmbedModelSource::Dir(models.join(dir)),
            threads: 1,
            max_length: 256,
            cache_dir: models.join(".cache"),
        })
        .unwrap_or_else(|e| panic!("{dir}: {e} (scripts/install-models.sh)")),
    )
}

fn embed_all(embedder: &dyn Embedder, texts: &[String]) -> Vec<Vec<f32>> {
    texts
        .chunks(32)
        .flat_map(|chunk| embedder.embed(chunk).unwrap())
        .collect()
}

struct Fact {
    ko: String,
    en: String,
    q_ko: String,
    q_en: String,
}

fn facts(path: &Path) -> Vec<Fact> {
    std::fs::read_to_string(path)
        .expect("the Korean memory set")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 4, "four columns: {line}");
            Fact {
                ko: f[0].into(),
                en: f[1].into(),
                q_ko: f[2].into(),
                q_en: f[3].into(),
            }
        })
        .collect()
}

/// Recall@1 and @10 of each question's own fact among `memories`, dense and hybrid.
fn korean_set(
    embedder: &dyn Embedder,
    memories: &[String],
    questions: &[String],
) -> [(f64, f64); 2] {
    let vectors = embed_all(embedder, memories);
    let mut index = Index::new(vectors[0].len());
    for (i, (text, vector)) in memories.iter().zip(&vectors).enumerate() {
        index.add(&i.to_string(), text, Utc::now(), Some(vector));
    }
    let queries = embed_all(embedder, questions);
    let hybrid = RankConfig::default();
    let dense = RankConfig {
        dense_weight: 1.0,
        dense_floor: -1.0,
        ..hybrid
    };
    let mut out = [(0.0, 0.0); 2];
    for (slot, config) in [dense, hybrid].iter().enumerate() {
        for (i, (question, vector)) in questions.iter().zip(&queries).enumerate() {
            let hits = index.search(question, Some(vector), 10, config);
            let evidence = [i.to_string()];
            out[slot].0 += recall(&hits, &evidence, 1);
            out[slot].1 += recall(&hits, &evidence, 10);
        }
        out[slot].0 *= 100.0 / questions.len() as f64;
        out[slot].1 *= 100.0 / questions.len() as f64;
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(locomo) = args.first() else {
        eprintln!(
            "usage: cargo bench -p bot-core --bench multilingual -- PATH/TO/locomo10.zip [KOREAN_TSV [MODELS_DIR]]"
        );
        std::process::exit(2);
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let korean = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("bench/korean-memory/facts.tsv"));
    let models = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models"));
    let conversations = load(Path::new(locomo));
    let facts = facts(&korean);

    let minilm = fastembed(&models, "minilm");
    let multilingual = fastembed(&models, "use-multilingual");
    let both = |w: f32| -> Arc<dyn Embedder> {
        Arc::new(CombinedEmbedder::new(vec![
            (Arc::clone(&minilm), 1.0 - w),
            (Arc::clone(&multilingual), w),
        ]))
    };
    let candidates: Vec<(String, Arc<dyn Embedder>)> = vec![
        ("all-MiniLM-L6-v2".into(), Arc::clone(&minilm)),
        ("USE multilingual".into(), Arc::clone(&multilingual)),
        ("both, USE weight 0.3".into(), both(0.3)),
        ("both, USE weight 0.5".into(), both(0.5)),
        ("both, USE weight 0.7".into(), both(0.7)),
    ];

    let column = |pick: fn(&Fact) -> &String| facts.iter().map(pick).cloned().collect::<Vec<_>>();
    let (ko, en, q_ko, q_en) = (
        column(|f| &f.ko),
        column(|f| &f.en),
        column(|f| &f.q_ko),
        column(|f| &f.q_en),
    );
    println!(
        "LoCoMo: {} conversations; Korean memory set: {} facts, each asked in both languages",
        conversations.len(),
        facts.len()
    );
    println!(
        "{:<24} {:>9} {:>9} | {:>13} {:>13} {:>13} {:>13} | {:>8}",
        "model",
        "LoCoMo d",
        "LoCoMo h",
        "ko→ko R@1/10",
        "en→en R@1/10",
        "ko q→en mem",
        "en q→ko mem",
        "turns/s"
    );
    for (name, embedder) in &candidates {
        // LoCoMo, dense and hybrid R@10, and throughput over every turn.
        let (mut dense, mut hybrid, mut questions) = (0.0, 0.0, 0usize);
        let (mut turns, mut embed_s) = (0usize, 0.0f64);
        let hybrid_config = RankConfig::default();
        let dense_config = RankConfig {
            dense_weight: 1.0,
            dense_floor: -1.0,
            ..hybrid_config
        };
        for conversation in &conversations {
            let texts: Vec<String> = conversation.turns.iter().map(|t| t.text.clone()).collect();
            let started = Instant::now();
            let vectors = embed_all(embedder.as_ref(), &texts);
            embed_s += started.elapsed().as_secs_f64();
            turns += texts.len();
            let mut index = Index::new(vectors[0].len());
            for (turn, vector) in conversation.turns.iter().zip(&vectors) {
                index.add(&turn.id, &turn.text, Utc::now(), Some(vector));
            }
            let query_texts: Vec<String> = conversation
                .questions
                .iter()
                .map(|q| q.text.clone())
                .collect();
            let query_vectors = embed_all(embedder.as_ref(), &query_texts);
            for (question, qv) in conversation.questions.iter().zip(&query_vectors) {
                let hits = index.search(&question.text, Some(qv), 10, &dense_config);
                dense += recall(&hits, &question.evidence, 10);
                let hits = index.search(&question.text, Some(qv), 10, &hybrid_config);
                hybrid += recall(&hits, &question.evidence, 10);
                questions += 1;
            }
        }
        let sets = [
            korean_set(embedder.as_ref(), &ko, &q_ko),
            korean_set(embedder.as_ref(), &en, &q_en),
            korean_set(embedder.as_ref(), &en, &q_ko),
            korean_set(embedder.as_ref(), &ko, &q_en),
        ];
        let show = |[d, h]: [(f64, f64); 2]| {
            format!("{:>3.0}/{:>3.0} {:>3.0}/{:>3.0}", d.0, d.1, h.0, h.1)
        };
        println!(
            "{name:<24} {:>9.1} {:>9.1} | {} | {} | {} | {} | {:>8.0}",
            100.0 * dense / questions as f64,
            100.0 * hybrid / questions as f64,
            show(sets[0]),
            show(sets[1]),
            show(sets[2]),
            show(sets[3]),
            turns as f64 / embed_s
        );
    }
    println!(
        "(Korean set columns: dense R@1/R@10 then hybrid R@1/R@10; LoCoMo: R@10, d = dense, h = hybrid)"
    );
}
