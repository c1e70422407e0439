//! The [`Embedder`] port and the settings of its offline backend.
//!
//! `FastEmbedder` (fastembed + ONNX Runtime, feature `fastembed`) lives in
//! `memory/fastembed.rs` and is re-exported here.

use std::path::PathBuf;

#[cfg(feature = "fastembed")]
pub use super::fastembed::{FastEmbedder, load_models};

/// Errors of the embedding model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The ONNX Runtime library could not be loaded.
    #[error(
        "cannot load ONNX Runtime from {path}: {cause} (run scripts/install-models.sh or set ORT_DYLIB_PATH)"
    )]
    Runtime {
        /// The library path tried.
        path: String,
        /// What went wrong.
        cause: String,
    },
    /// A model file is missing or unreadable.
    #[error(
        "cannot read {path}: {cause} (HEARTH_EMBED_MODEL_DIR needs model.onnx, tokenizer.json, config.json, special_tokens_map.json, tokenizer_config.json)"
    )]
    ModelFile {
        /// The file.
        path: String,
        /// What went wrong.
        cause: String,
    },
    /// The model failed to load or to run.
    #[error("embedding model error: {0}")]
    Model(String),
}

/// Turns texts into unit-length vectors.
pub trait Embedder: Send + Sync {
    /// One vector per text, in order. Blocking: call it off the async runtime.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// What model this is, for logs and `doctor`.
    fn describe(&self) -> String;

    /// The cosine a memory needs to be found by meaning alone (sharing no keyword with the
    /// question), when this model wants its own; `None` keeps the configured one. Models
    /// spread cosines differently: measured per model in BENCHMARKS.md.
    fn relevance_floor(&self) -> Option<f32> {
        None
    }
}

/// Several models side by side as one: each text's vectors from every model, each scaled by
/// the square root of its weight, one after another. The dot product of two such vectors is the
/// weighted sum of the models' cosines, so the index fuses them with no change: a small
/// multilingual model beside an English one finds Korean and cross-language matches while the
/// English one keeps its English quality (figures in BENCHMARKS.md).
pub struct CombinedEmbedder {
    parts: Vec<(std::sync::Arc<dyn Embedder>, f32)>,
}

impl CombinedEmbedder {
    /// `parts` with their weights (normalised to sum to 1).
    pub fn new(parts: Vec<(std::sync::Arc<dyn Embedder>, f32)>) -> Self {
        let total: f32 = parts.iter().map(|(_, w)| w.max(0.0)).sum();
        let parts = parts
            .into_iter()
            .map(|(model, w)| {
                let share = if total > 0.0 { w.max(0.0) / total } else { 0.0 };
                (model, share)
            })
            .collect();
        Self { parts }
    }
}

impl Embedder for CombinedEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = vec![Vec::new(); texts.len()];
        for (model, share) in &self.parts {
            let scale = share.sqrt();
            for (joined, part) in out.iter_mut().zip(model.embed(texts)?) {
                joined.extend(normalized(part).into_iter().map(|x| x * scale));
            }
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        self.parts
            .iter()
            .map(|(model, share)| format!("{} ×{share:.2}", model.describe()))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// Which model to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbedModelSource {
    /// A folder with `model.onnx` and the tokenizer files.
    Dir(PathBuf),
    /// A fastembed built-in model name, e.g. `MultilingualE5Small` (downloads once; needs internet).
    Builtin(String),
}

/// Settings of the fastembed backend (`FastEmbedder`).
#[derive(Clone, Debug)]
pub struct FastEmbedConfig {
    /// Path of `libonnxruntime.so`.
    pub ort_library: PathBuf,
    /// The model.
    pub model: EmbedModelSource,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
    /// Longest input in tokens; longer texts are truncated.
    pub max_length: usize,
    /// Where built-in models are cached.
    pub cache_dir: PathBuf,
}

/// Scales to unit length, so a dot product is the cosine.
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
