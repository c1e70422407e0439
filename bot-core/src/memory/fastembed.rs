//! Sentence embeddings, fully offline, through fastembed and ONNX Runtime (feature
//! `fastembed`).
//!
//! The ONNX Runtime library is loaded at run time from a path (the PyPI
//! `onnxruntime` wheel ships one); `ort::init_from` is called first so a
//! missing or too old library is a clear error rather than a panic. The model
//! is a folder with `model.onnx` and the tokenizer files, loaded with mean
//! pooling (fastembed's default CLS pooling gives useless similarities for
//! sentence-transformers models), or a fastembed built-in model by name for
//! users with internet access.

use std::path::Path;
use std::sync::Mutex;

use fastembed::{
    EmbeddingModel, InitOptionsUserDefined, Pooling, TextEmbedding, TextInitOptions,
    TokenizerFiles, UserDefinedEmbeddingModel,
};

use super::embed::{
    CombinedEmbedder, Deferred, EmbedError, EmbedModelSource, Embedder, FastEmbedConfig,
    combined_name, normalized,
};

/// fastembed behind a mutex (a session runs one batch at a time).
pub struct FastEmbedder {
    model: Mutex<TextEmbedding>,
    name: String,
    floor: Option<f32>,
}

/// The optional `hearth.json` of a model folder: what Hearth should know about the model
/// that the ONNX files do not say (written by `scripts/install-models.sh`).
#[derive(serde::Deserialize, Default)]
struct ModelNotes {
    /// See [`Embedder::relevance_floor`].
    relevance_floor: Option<f32>,
}

/// Reads `hearth.json` in `dir`, if there is one; a broken one is an error, not ignored.
fn model_notes(dir: &Path) -> Result<ModelNotes, EmbedError> {
    let path = dir.join("hearth.json");
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ModelNotes::default()),
        Err(e) => Err(EmbedError::ModelFile {
            path: path.display().to_string(),
            cause: e.to_string(),
        }),
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| EmbedError::ModelFile {
            path: path.display().to_string(),
            cause: e.to_string(),
        }),
    }
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
        // ONNX Runtime allows one environment per process: the first model loaded makes it,
        // the others (several models side by side) share it.
        static ENVIRONMENT: Mutex<Option<ort::environment::Environment>> = Mutex::new(None);
        let mut shared = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
        let environment = match shared.as_ref() {
            Some(environment) => environment.clone(),
            None => {
                let environment = ort::init_from(&config.ort_library)
                    .map_err(|e| runtime_error(e.to_string()))?
                    .build()
                    .map_err(|e| runtime_error(e.to_string()))?;
                *shared = Some(environment.clone());
                environment
            }
        };
        drop(shared);
        let threads = config.threads.max(1);
        let (model, name, floor) = match &config.model {
            EmbedModelSource::Dir(dir) => {
                let notes = model_notes(dir)?;
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
                let floor = notes.relevance_floor.filter(|f| (-1.0..=1.0).contains(f));
                (model, source_name(&config.model), floor)
            }
            EmbedModelSource::Builtin(name) => {
                let builtin: EmbeddingModel = name.parse().map_err(EmbedError::Model)?;
                let options = TextInitOptions::new(builtin)
                    .with_max_length(config.max_length)
                    .with_cache_dir(config.cache_dir.clone())
                    .with_intra_threads(threads);
                let model = TextEmbedding::try_new(options)
                    .map_err(|e| EmbedError::Model(format!("{e:#}")))?;
                (model, source_name(&config.model), None)
            }
        };
        Ok(Self {
            model: Mutex::new(model),
            name,
            floor,
        })
    }
}

/// What a model from `source` calls itself.
fn source_name(source: &EmbedModelSource) -> String {
    match source {
        EmbedModelSource::Dir(dir) => format!("{} (mean pooling)", dir.display()),
        EmbedModelSource::Builtin(name) => name.clone(),
    }
}

/// The files a model folder needs.
const MODEL_FILES: [&str; 5] = [
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

/// What [`load_models`] will load, checked without loading it: the runtime library and
/// every model file are there, each folder's `hearth.json` reads, built-in names are known.
/// Returns the name and relevance floor the loaded embedder will have. Quick.
pub fn check_models(
    configs: &[FastEmbedConfig],
    weights: &[f32],
) -> Result<(String, Option<f32>), EmbedError> {
    let mut parts = Vec::new();
    let mut floor = None;
    for (i, config) in configs.iter().enumerate() {
        if !config.ort_library.exists() {
            return Err(EmbedError::Runtime {
                path: config.ort_library.display().to_string(),
                cause: "no such file".into(),
            });
        }
        match &config.model {
            EmbedModelSource::Dir(dir) => {
                for file in MODEL_FILES {
                    let path = dir.join(file);
                    if let Err(e) = std::fs::metadata(&path) {
                        return Err(EmbedError::ModelFile {
                            path: path.display().to_string(),
                            cause: e.to_string(),
                        });
                    }
                }
                floor = model_notes(dir)?
                    .relevance_floor
                    .filter(|f| (-1.0..=1.0).contains(f));
            }
            EmbedModelSource::Builtin(name) => {
                name.parse::<EmbeddingModel>().map_err(EmbedError::Model)?;
                floor = None;
            }
        }
        parts.push((
            source_name(&config.model),
            weights.get(i).copied().unwrap_or(1.0),
        ));
    }
    match parts.len() {
        0 => Err(EmbedError::Model("no embedding model configured".into())),
        1 => Ok((parts.remove(0).0, floor)),
        // A combination has no floor of its own (the configured one applies).
        _ => Ok((combined_name(&parts), None)),
    }
}

/// [`load_models`] on a background thread: checks what it can at once ([`check_models`]:
/// a missing file is an error now, not later), then returns a [`Deferred`] embedder that
/// waits for the model when first used before it is in.
pub fn load_models_in_background(
    configs: &[FastEmbedConfig],
    weights: &[f32],
) -> Result<std::sync::Arc<dyn Embedder>, EmbedError> {
    let (name, floor) = check_models(configs, weights)?;
    let (configs, weights) = (configs.to_vec(), weights.to_vec());
    Ok(Deferred::start(name, floor, move || {
        load_models(&configs, &weights)
    }))
}

/// Loads one model, or several side by side as a [`CombinedEmbedder`] with `weights`
/// (equal when empty). Blocking.
pub fn load_models(
    configs: &[FastEmbedConfig],
    weights: &[f32],
) -> Result<std::sync::Arc<dyn Embedder>, EmbedError> {
    let mut parts: Vec<(std::sync::Arc<dyn Embedder>, f32)> = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        let model: std::sync::Arc<dyn Embedder> = std::sync::Arc::new(FastEmbedder::load(config)?);
        parts.push((model, weights.get(i).copied().unwrap_or(1.0)));
    }
    match parts.len() {
        0 => Err(EmbedError::Model("no embedding model configured".into())),
        1 => Ok(parts.remove(0).0),
        _ => Ok(std::sync::Arc::new(CombinedEmbedder::new(parts))),
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

    fn relevance_floor(&self) -> Option<f32> {
        self.floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_folders_notes_are_optional_but_never_silently_broken() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(model_notes(dir.path()).unwrap().relevance_floor, None);
        std::fs::write(
            dir.path().join("hearth.json"),
            r#"{"relevance_floor": 0.25}"#,
        )
        .unwrap();
        assert_eq!(model_notes(dir.path()).unwrap().relevance_floor, Some(0.25));
        std::fs::write(dir.path().join("hearth.json"), "{not json").unwrap();
        let err = model_notes(dir.path())
            .err()
            .expect("a broken file is an error");
        assert!(err.to_string().contains("hearth.json"), "{err}");
    }
}
