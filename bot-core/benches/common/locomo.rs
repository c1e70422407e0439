//! LoCoMo for the memory benchmarks: every turn of a conversation is one memory of one user,
//! written "[session date] Speaker: text"; questions of categories 1-4 with their evidence.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub struct Turn {
    pub id: String,
    pub text: String,
    /// When it would have been saved: sessions a week apart, turns a minute apart (memories
    /// of one conversation sit close together in time, as they do when the bot saves them).
    pub at: chrono::DateTime<chrono::Utc>,
}

pub struct Question {
    pub text: String,
    pub evidence: Vec<String>,
    /// LoCoMo's category: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop.
    pub category: u64,
}

pub struct Conversation {
    pub turns: Vec<Turn>,
    pub questions: Vec<Question>,
}

pub fn load(path: &Path) -> Vec<Conversation> {
    let dir = if path.extension().is_some_and(|e| e == "zip") {
        let out = std::env::temp_dir().join("hearth-locomo");
        let status = std::process::Command::new("unzip")
            .args(["-qo"])
            .arg(path)
            .arg("-d")
            .arg(&out)
            .status()
            .expect("unzip");
        assert!(status.success(), "unzip failed");
        out.join("data/multimodal_dialog/locomo10_v2")
    } else {
        path.to_path_buf()
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("locomo dir")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
        .map(|file| {
            let data: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            let mut turns = Vec::new();
            for n in 1.. {
                let Some(session) = data.get(format!("session_{n}")).and_then(|s| s.as_array())
                else {
                    if n > 40 {
                        break;
                    }
                    continue;
                };
                let date = data[format!("session_{n}_date_time")]
                    .as_str()
                    .unwrap_or_default();
                let session_start = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH
                    + chrono::TimeDelta::weeks(2800 + n as i64);
                for (t, turn) in session.iter().enumerate() {
                    turns.push(Turn {
                        at: session_start + chrono::TimeDelta::minutes(t as i64),
                        id: turn["dia_id"].as_str().unwrap_or_default().to_owned(),
                        text: format!(
                            "[{date}] {}: {}",
                            turn["speaker"].as_str().unwrap_or_default(),
                            turn["text"].as_str().unwrap_or_default()
                        ),
                    });
                }
            }
            let questions = data["qa"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|q| q["category"].as_u64().is_some_and(|c| (1..=4).contains(&c)))
                .map(|q| Question {
                    category: q["category"].as_u64().unwrap_or_default(),
                    text: q["question"].as_str().unwrap_or_default().to_owned(),
                    evidence: q["evidence"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|e| e.as_str())
                        .map(str::to_owned)
                        .collect(),
                })
                .filter(|q| !q.evidence.is_empty())
                .collect();
            Conversation { turns, questions }
        })
        .collect()
}

/// The default ranking; `DENSE=`, `SHARE=`, `PRF=`, `K1=` and `B=` in the environment override
/// its dense weight, neighbour share, feedback weight and BM25 parameters (to measure what each
/// adds).
pub fn ranking() -> bot_core::memory::index::RankConfig {
    let mut config = bot_core::memory::index::RankConfig::default();
    if let Ok(dense) = std::env::var("DENSE") {
        config.dense_weight = dense.parse().expect("DENSE is a number");
    }
    if let Ok(share) = std::env::var("SHARE") {
        config.neighbour_share = share.parse().expect("SHARE is a number");
    }
    if let Ok(feedback) = std::env::var("PRF") {
        config.feedback = feedback.parse().expect("PRF is a number");
    }
    if let Ok(names) = std::env::var("NAMES") {
        config.name_boost = names.parse().expect("NAMES is a number");
    }
    if let Ok(k1) = std::env::var("K1") {
        config.k1 = k1.parse().expect("K1 is a number");
    }
    if let Ok(b) = std::env::var("B") {
        config.b = b.parse().expect("B is a number");
    }
    config
}

/// [`ranking`] as the bot ranks with `embedder`: with the model's own dense weight
/// (`hearth.json`), unless `DENSE=` overrides it.
pub fn ranking_for(
    embedder: &dyn bot_core::memory::embed::Embedder,
) -> bot_core::memory::index::RankConfig {
    let mut config = ranking();
    if std::env::var("DENSE").is_err()
        && let Some(weight) = embedder.dense_weight()
    {
        config.dense_weight = weight;
    }
    config
}

/// Share of `evidence` in the first `k` hits.
pub fn recall(hits: &[(String, f32)], evidence: &[String], k: usize) -> f64 {
    let top: Vec<&str> = hits.iter().take(k).map(|(id, _)| id.as_str()).collect();
    evidence
        .iter()
        .filter(|e| top.contains(&e.as_str()))
        .count() as f64
        / evidence.len() as f64
}

/// Whether the benchmark runs in smoke mode: `cargo test --benches` (the test command) runs
/// it without `--bench`, to prove it still works on a few iterations; `cargo bench` passes
/// `--bench` and gets the full run.
pub fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// A small made-up dataset in LoCoMo's shape, for smoke runs without the real one.
pub fn synthetic(conversations: usize, turns: usize) -> Vec<Conversation> {
    const PLACES: &[&str] = &["Lisbon", "Busan", "Oslo", "Quito", "Hanoi", "Porto", "Lyon"];
    const THINGS: &[&str] = &["guitar", "bicycle", "garden", "novel", "painting", "kayak"];
    (0..conversations)
        .map(|c| {
            let turns: Vec<Turn> = (0..turns)
                .map(|t| Turn {
                    id: format!("D{c}:{t}"),
                    at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH
                        + chrono::TimeDelta::minutes(t as i64),
                    text: format!(
                        "[1 May 2023] Speaker{}: I went to {} with my {} and talked about item {t}",
                        t % 2,
                        PLACES[(t + c) % PLACES.len()],
                        THINGS[t % THINGS.len()]
                    ),
                })
                .collect();
            let questions = (0..turns.len().min(20))
                .map(|t| Question {
                    text: format!(
                        "Where did I take my {} for item {t}?",
                        THINGS[t % THINGS.len()]
                    ),
                    evidence: vec![format!("D{c}:{t}")],
                    category: 1 + (t % 4) as u64,
                })
                .collect();
            Conversation { turns, questions }
        })
        .collect()
}
