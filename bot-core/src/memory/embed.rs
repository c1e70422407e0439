//! The [`Embedder`] port and the settings of its offline backend.
//!
//! `FastEmbedder` (fastembed + ONNX Runtime, feature `fastembed`) lives in
//! `memory/fastembed.rs` and is re-exported here.

use std::path::PathBuf;

#[cfg(feature = "fastembed")]
pub use super::fastembed::FastEmbedder;

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
