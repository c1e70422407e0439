//! LoCoMo for the memory benchmarks: every turn of a conversation is one memory of one user,
//! written "[session date] Speaker: text"; questions of categories 1-4 with their evidence.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub struct Turn {
    pub id: String,
    pub text: String,
}

pub struct Question {
    pub text: String,
    pub evidence: Vec<String>,
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
                for turn in session {
                    turns.push(Turn {
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

/// Share of `evidence` in the first `k` hits.
pub fn recall(hits: &[(String, f32)], evidence: &[String], k: usize) -> f64 {
    let top: Vec<&str> = hits.iter().take(k).map(|(id, _)| id.as_str()).collect();
    evidence
        .iter()
        .filter(|e| top.contains(&e.as_str()))
        .count() as f64
        / evidence.len() as f64
}
