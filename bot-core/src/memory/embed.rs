//! The [`Embedder`] port and the settings of its offline backend.
//!
//! `FastEmbedder` (fastembed + ONNX Runtime, feature `fastembed`) lives in
//! `memory/fastembed.rs` and is re-exported here.

use std::path::PathBuf;

#[cfg(feature = "fastembed")]
pub use super::fastembed::{FastEmbedder, check_models, load_models, load_models_in_background};

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

    /// The weight of this model's cosines against the keyword score in memory ranking
    /// (`RankConfig::dense_weight`), when the model wants its own; `None` keeps the
    /// configured one. A multilingual model that carries questions across languages earns
    /// more weight than the default: measured per model in BENCHMARKS.md.
    fn dense_weight(&self) -> Option<f32> {
        None
    }

    /// Whether [`embed`](Self::embed) answers now; `false` while the model is still loading
    /// (see [`Deferred`]), when a call waits for it.
    fn ready(&self) -> bool {
        true
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
        let parts: Vec<(String, f32)> = self
            .parts
            .iter()
            .map(|(model, share)| (model.describe(), *share))
            .collect();
        combined_name(&parts)
    }
}

/// What a [`CombinedEmbedder`] of models named `parts` with these weights calls itself
/// (weights normalised as [`CombinedEmbedder::new`] does), so it can be known before the
/// models load.
pub fn combined_name(parts: &[(String, f32)]) -> String {
    let total: f32 = parts.iter().map(|(_, w)| w.max(0.0)).sum();
    parts
        .iter()
        .map(|(name, w)| {
            let share = if total > 0.0 { w.max(0.0) / total } else { 0.0 };
            format!("{name} ×{share:.2}")
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// What a model says about ranking with it (its folder's `hearth.json`); `None` keeps the
/// configured value.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tuning {
    /// See [`Embedder::relevance_floor`].
    pub relevance_floor: Option<f32>,
    /// See [`Embedder::dense_weight`].
    pub dense_weight: Option<f32>,
}

/// An embedder that loads on a background thread, so the bot starts answering at once.
///
/// Its name and ranking tuning (relevance floor, dense weight) are known before the model loads (they stamp vectors and
/// set thresholds, so they must be the loaded model's: [`Deferred::start`] is given them and
/// a mismatch is logged). Until the model is in, [`Embedder::ready`] is `false` and
/// [`Embedder::embed`] waits for it; if loading fails, every call returns that error (memory
/// and notes search fall back to keywords).
pub struct Deferred {
    name: String,
    tuning: Tuning,
    state: std::sync::Mutex<Loading>,
    loaded: std::sync::Condvar,
}

enum Loading {
    Pending,
    Ready(std::sync::Arc<dyn Embedder>),
    Failed(String),
}

/// How many [`Deferred`] models are loading right now, to wait for at exit.
static LOADING: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
static LOADED: std::sync::Condvar = std::sync::Condvar::new();

/// Waits (at most `limit`) until no model is loading on a background thread; true if none
/// is. Call it before the process exits: ONNX Runtime's static destructors running while a
/// thread is still inside it creating a session can hang the exit (seen with a short
/// `hearth notes status` that ends while the model it never needed is loading).
pub fn finish_loading(limit: std::time::Duration) -> bool {
    let loading = LOADING.lock().unwrap_or_else(|e| e.into_inner());
    let (loading, _) = LOADED
        .wait_timeout_while(loading, limit, |n| *n > 0)
        .unwrap_or_else(|e| e.into_inner());
    *loading == 0
}

/// Counts one background load until dropped (also when the load panics).
struct LoadingGuard;

impl LoadingGuard {
    fn new() -> Self {
        *LOADING.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Self
    }
}

impl Drop for LoadingGuard {
    fn drop(&mut self) {
        let mut loading = LOADING.lock().unwrap_or_else(|e| e.into_inner());
        *loading = loading.saturating_sub(1);
        LOADED.notify_all();
    }
}

impl Deferred {
    /// Runs `load` on a new thread; `name` and `tuning` are what the loaded model will say.
    pub fn start(
        name: String,
        tuning: Tuning,
        load: impl FnOnce() -> Result<std::sync::Arc<dyn Embedder>, EmbedError> + Send + 'static,
    ) -> std::sync::Arc<Self> {
        let deferred = std::sync::Arc::new(Self {
            name,
            tuning,
            state: std::sync::Mutex::new(Loading::Pending),
            loaded: std::sync::Condvar::new(),
        });
        let filling = std::sync::Arc::clone(&deferred);
        let counted = LoadingGuard::new();
        let spawned = std::thread::Builder::new()
            .name("embedder-load".into())
            .spawn(move || {
                let _counted = counted;
                let started = std::time::Instant::now();
                let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)) {
                    Ok(Ok(model)) => {
                        if model.describe() != filling.name {
                            tracing::warn!(expected = %filling.name, loaded = %model.describe(), "the embedding model names itself differently than expected");
                        }
                        tracing::info!(model = %filling.name, relevance_floor = ?filling.tuning.relevance_floor, dense_weight = ?filling.tuning.dense_weight, load_ms = started.elapsed().as_millis() as u64, "embedding model loaded");
                        Loading::Ready(model)
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "the embedding model did not load: memory and notes search use keywords only");
                        Loading::Failed(e.to_string())
                    }
                    Err(_) => {
                        tracing::error!("loading the embedding model panicked: memory and notes search use keywords only");
                        Loading::Failed("loading the embedding model panicked".into())
                    }
                };
                filling.set(outcome);
                // Loading built and dropped large temporaries (the tokenizer's trie and a
                // copy of it): give that memory back rather than keep it resident.
                let released = crate::heap::release_freed();
                tracing::debug!(released, "freed memory handed back after loading the embedding model");
            });
        if let Err(e) = spawned {
            deferred.set(Loading::Failed(format!("could not start loading: {e}")));
        }
        deferred
    }

    fn set(&self, outcome: Loading) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = outcome;
        self.loaded.notify_all();
    }

    /// The model once loaded (waiting for it), or why it is not there.
    fn model(&self) -> Result<std::sync::Arc<dyn Embedder>, EmbedError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match &*state {
                Loading::Pending => {
                    state = self.loaded.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                Loading::Ready(model) => return Ok(std::sync::Arc::clone(model)),
                Loading::Failed(why) => return Err(EmbedError::Model(why.clone())),
            }
        }
    }
}

impl Embedder for Deferred {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.model()?.embed(texts)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn relevance_floor(&self) -> Option<f32> {
        self.tuning.relevance_floor
    }

    fn dense_weight(&self) -> Option<f32> {
        self.tuning.dense_weight
    }

    fn ready(&self) -> bool {
        !matches!(
            *self.state.lock().unwrap_or_else(|e| e.into_inner()),
            Loading::Pending
        )
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc;

    use super::*;

    struct Fixed;

    impl Embedder for Fixed {
        fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }

        fn describe(&self) -> String {
            "fixed".into()
        }
    }

    #[test]
    fn a_deferred_embedder_is_named_at_once_and_waits_for_its_model() {
        let (release, gate) = mpsc::channel::<()>();
        let tuning = Tuning {
            relevance_floor: Some(0.4),
            dense_weight: Some(0.6),
        };
        let deferred = Deferred::start("fixed".into(), tuning, move || {
            gate.recv().unwrap();
            Ok(Arc::new(Fixed) as Arc<dyn Embedder>)
        });
        assert_eq!(deferred.describe(), "fixed");
        assert_eq!(deferred.relevance_floor(), Some(0.4));
        assert_eq!(deferred.dense_weight(), Some(0.6));
        assert!(!deferred.ready());
        let (sent, got) = mpsc::channel();
        let waiting = Arc::clone(&deferred);
        std::thread::spawn(move || sent.send(waiting.embed(&["abc".into()])).unwrap());
        assert!(
            got.try_recv().is_err(),
            "no answer while the model is loading"
        );
        release.send(()).unwrap();
        let vectors = got.recv().unwrap().unwrap();
        assert_eq!(vectors, vec![vec![3.0]]);
        assert!(deferred.ready());
    }

    #[test]
    fn the_exit_waits_for_a_model_still_loading() {
        let (release, gate) = mpsc::channel::<()>();
        let deferred = Deferred::start("slow".into(), Tuning::default(), move || {
            gate.recv().unwrap();
            Ok(Arc::new(Fixed) as Arc<dyn Embedder>)
        });
        assert!(
            !finish_loading(std::time::Duration::from_millis(50)),
            "a load in progress is waited for"
        );
        release.send(()).unwrap();
        // Other tests may be loading models too: allow them time.
        assert!(finish_loading(std::time::Duration::from_secs(120)));
        assert!(deferred.ready());
    }

    #[test]
    fn a_model_that_fails_to_load_answers_every_call_with_the_error() {
        let deferred = Deferred::start("broken".into(), Tuning::default(), || {
            Err(EmbedError::Model("model.onnx is not an ONNX file".into()))
        });
        let error = deferred.embed(&["x".into()]).unwrap_err();
        assert!(error.to_string().contains("not an ONNX file"), "{error}");
        assert!(deferred.ready(), "a failure answers at once");
        assert!(deferred.embed(&["y".into()]).is_err());
    }

    #[test]
    fn a_combination_is_named_as_its_parts_with_normalised_shares() {
        let parts = vec![
            (Arc::new(Fixed) as Arc<dyn Embedder>, 3.0),
            (Arc::new(Fixed) as Arc<dyn Embedder>, 1.0),
        ];
        let combined = CombinedEmbedder::new(parts);
        assert_eq!(
            combined.describe(),
            combined_name(&[("fixed".into(), 3.0), ("fixed".into(), 1.0)])
        );
        assert_eq!(combined.describe(), "fixed ×0.75 + fixed ×0.25");
    }
}
