//! Sentence embeddings, fully offline, through fastembed and ONNX Runtime.
//!
//! The ONNX Runtime library is loaded at run time from a path (the PyPI
//! `onnxruntime` wheel ships one); [`ort::init_from`] is called first so a
//! missing or too old library is a clear error rather than a panic. The model
//! is a folder with `model.onnx` and the tokenizer files, loaded with mean
//! pooling (fastembed's default CLS pooling gives useless similarities for
//! sentence-transformers models), or a fastembed built-in model by name for
//! users with internet access.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fastembed::{
    EmbeddingModel, InitOptionsUserDefined, Pooling, TextEmbedding, TextInitOptions,
    TokenizerFiles, UserDefinedEmbeddingModel,
};

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

/// Settings of [`FastEmbedder`].
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

/// fastembed behind a mutex (a session runs one batch at a time).
pub struct FastEmbedder {
    model: Mutex<TextEmbedding>,
    name: String,
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, EmbedError> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|e| EmbedError::ModelFile {
        path: path.display().to_string(),
        cause: e.to_string(),
    })
}

impl FastEmbedder {
    /// Loads ONNX Runtime and the model. Blocking.
    pub fn load(config: &FastEmbedConfig) -> Result<Self, EmbedError> {
        let runtime_error = |cause: String| EmbedError::Runtime {
            path: config.ort_library.display().to_string(),
            cause,
        };
        if !config.ort_library.exists() {
            return Err(runtime_error("no such file".into()));
        }
        let environment = ort::init_from(&config.ort_library)
            .map_err(|e| runtime_error(e.to_string()))?
            .build()
            .map_err(|e| runtime_error(e.to_string()))?;
        let threads = config.threads.max(1);
        let (model, name) = match &config.model {
            EmbedModelSource::Dir(dir) => {
                let onnx = read(dir, "model.onnx")?;
                let tokenizer = TokenizerFiles {
                    tokenizer_file: read(dir, "tokenizer.json")?,
                    config_file: read(dir, "config.json")?,
                    special_tokens_map_file: read(dir, "special_tokens_map.json")?,
                    tokenizer_config_file: read(dir, "tokenizer_config.json")?,
                };
                let user_model =
                    UserDefinedEmbeddingModel::new(onnx, tokenizer).with_pooling(Pooling::Mean);
                let options = InitOptionsUserDefined::new()
                    .with_environment(environment)
                    .with_max_length(config.max_length)
                    .with_intra_threads(threads);
                let model = TextEmbedding::try_new_from_user_defined(user_model, options)
                    .map_err(|e| EmbedError::Model(format!("{e:#}")))?;
                (model, format!("{} (mean pooling)", dir.display()))
            }
            EmbedModelSource::Builtin(name) => {
                let builtin: EmbeddingModel = name.parse().map_err(EmbedError::Model)?;
                let options = TextInitOptions::new(builtin)
                    .with_max_length(config.max_length)
                    .with_cache_dir(config.cache_dir.clone())
                    .with_intra_threads(threads);
                let model = TextEmbedding::try_new(options)
                    .map_err(|e| EmbedError::Model(format!("{e:#}")))?;
                (model, name.clone())
            }
        };
        Ok(Self {
            model: Mutex::new(model),
            name,
        })
    }
}

impl Embedder for FastEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // Batches of similar length waste less padding: sort, embed, restore order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let sorted: Vec<&str> = order.iter().map(|&i| texts[i].as_str()).collect();
        let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let vectors = model
            .embed(sorted, Some(32))
            .map_err(|e| EmbedError::Model(format!("{e:#}")))?;
        let mut out = vec![Vec::new(); texts.len()];
        for (vector, &i) in vectors.into_iter().zip(&order) {
            out[i] = normalized(vector);
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// Scales to unit length, so a dot product is the cosine.
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
