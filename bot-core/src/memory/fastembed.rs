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
    CombinedEmbedder, Deferred, EmbedError, EmbedModelSource, Embedder, FastEmbedConfig, Tuning,
    combined_name, normalized,
};
use super::unigram::{UnigramTokenizer, Unsupported};

/// Texts per model run through fastembed (its default).
const BATCH: usize = 32;

/// Most tokens (rows times the longest row) per model run of the compact pipeline, whose
/// texts are sorted by their token count first: short texts go many to a run, long ones few.
/// The default model (the Universal Sentence Encoder) is faster per token in small runs than
/// in runs of 32 (BENCHMARKS.md, "Embeddings in runs of a token budget").
const TOKEN_BUDGET: usize = 256;

/// An embedding model behind a mutex (a session runs one batch at a time).
pub struct FastEmbedder {
    model: Mutex<Pipeline>,
    name: String,
    tuning: Tuning,
}

/// How texts become vectors.
enum Pipeline {
    /// fastembed's whole text pipeline (built-in models, and folders whose tokenizer
    /// [`UnigramTokenizer`] does not cover, such as WordPiece).
    Fastembed(Box<TextEmbedding>),
    /// The compact Unigram tokenizer and the ONNX session run here, with fastembed's
    /// padding, mean pooling and normalization: the same vectors for a fraction of the
    /// memory (see [`super::unigram`]).
    Compact(Box<Compact>),
}

struct Compact {
    session: ort::session::Session,
    tokenizer: UnigramTokenizer,
    /// Whether the model takes `token_type_ids` (all zeros, as fastembed sends).
    token_type_ids: bool,
    /// The output used: the only one, or the first of fastembed's preferred names.
    output: String,
}

impl Compact {
    /// Loads `model.onnx` from `dir` with `tokenizer`; the session as fastembed builds it.
    fn load(
        dir: &Path,
        tokenizer: UnigramTokenizer,
        environment: &ort::environment::Environment,
        threads: usize,
    ) -> Result<Self, EmbedError> {
        let mut builder = ort::session::Session::builder(environment)
            .map_err(|e| EmbedError::Model(e.to_string()))?
            .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Level3)
            .map_err(|e| EmbedError::Model(e.to_string()))?
            .with_intra_threads(threads)
            .map_err(|e| EmbedError::Model(e.to_string()))?;
        let path = dir.join("model.onnx");
        let session = builder
            .commit_from_file(&path)
            .map_err(|e| EmbedError::ModelFile {
                path: path.display().to_string(),
                cause: e.to_string(),
            })?;
        let token_type_ids = session
            .inputs()
            .iter()
            .any(|input| input.name() == "token_type_ids");
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        let output = if outputs.len() == 1 {
            Some(outputs[0])
        } else {
            ["text_embeds", "last_hidden_state", "sentence_embedding"]
                .into_iter()
                .find(|name| outputs.contains(name))
        }
        .ok_or_else(|| EmbedError::Model(format!("no embedding output among {outputs:?}")))?
        .to_string();
        Ok(Self {
            session,
            tokenizer,
            token_type_ids,
            output,
        })
    }

    /// Vectors for `texts`, in their order: tokenized, sorted by token count, and run in
    /// batches of at most [`TOKEN_BUDGET`] tokens (at least one text each).
    fn embed_all(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encoded: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.encode(t)).collect();
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by_key(|&i| encoded[i].len());
        let mut out = vec![Vec::new(); encoded.len()];
        let mut start = 0;
        while start < order.len() {
            // Sorted: each added text is the batch's longest so far.
            let mut end = start + 1;
            while end < order.len() && (end + 1 - start) * encoded[order[end]].len() <= TOKEN_BUDGET
            {
                end += 1;
            }
            let batch: Vec<&[u32]> = order[start..end]
                .iter()
                .map(|&i| encoded[i].as_slice())
                .collect();
            for (vector, &i) in self
                .embed_batch(&batch)?
                .into_iter()
                .zip(&order[start..end])
            {
                out[i] = vector;
            }
            start = end;
        }
        Ok(out)
    }

    /// Vectors for one batch of token ids, padded to its longest and mean-pooled over the
    /// real tokens, as fastembed does (the caller scales them to length one).
    fn embed_batch(&mut self, encoded: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let failed = |e: ort::Error| EmbedError::Model(e.to_string());
        let width = encoded.iter().map(|row| row.len()).max().unwrap_or(0);
        let rows = encoded.len();
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        let pad = i64::from(self.tokenizer.pad_id());
        for row in encoded {
            ids.extend(row.iter().map(|&id| i64::from(id)));
            ids.extend(std::iter::repeat_n(pad, width - row.len()));
            mask.extend(std::iter::repeat_n(1i64, row.len()));
            mask.extend(std::iter::repeat_n(0i64, width - row.len()));
        }
        let shape = [rows, width];
        let mut inputs = ort::inputs![
            "input_ids" => ort::value::Tensor::from_array((shape, ids)).map_err(failed)?,
            "attention_mask" => ort::value::Tensor::from_array((shape, mask.clone())).map_err(failed)?,
        ];
        if self.token_type_ids {
            inputs.push((
                "token_type_ids".into(),
                ort::value::Tensor::from_array((shape, vec![0i64; rows * width]))
                    .map_err(failed)?
                    .into(),
            ));
        }
        let outputs = self.session.run(inputs).map_err(failed)?;
        let value = outputs
            .get(&self.output)
            .ok_or_else(|| EmbedError::Model(format!("the model gave no {}", self.output)))?;
        let (dims, data) = value.try_extract_tensor::<f32>().map_err(failed)?;
        let dims: Vec<usize> = dims.iter().map(|&d| d.max(0) as usize).collect();
        match dims[..] {
            // Already pooled by the model.
            [r, hidden] if r == rows => {
                Ok(data.chunks(hidden.max(1)).map(<[f32]>::to_vec).collect())
            }
            [r, len, hidden] if r == rows && len == width => Ok((0..rows)
                .map(|row| {
                    let mut sum = vec![0f32; hidden];
                    let mut count = 0f32;
                    for token in 0..len {
                        if mask[row * width + token] == 0 {
                            continue;
                        }
                        count += 1.0;
                        let at = (row * len + token) * hidden;
                        for (s, v) in sum.iter_mut().zip(&data[at..at + hidden]) {
                            *s += v;
                        }
                    }
                    let count = if count == 0.0 { 1.0 } else { count };
                    sum.iter().map(|s| s / count).collect()
                })
                .collect()),
            _ => Err(EmbedError::Model(format!(
                "unexpected output shape {dims:?} for {rows} texts of {width} tokens"
            ))),
        }
    }
}

/// The optional `hearth.json` of a model folder: what Hearth should know about the model
/// that the ONNX files do not say (written by `scripts/install-models.sh`).
#[derive(serde::Deserialize, Default)]
struct ModelNotes {
    /// See [`Embedder::relevance_floor`].
    relevance_floor: Option<f32>,
    /// See [`Embedder::dense_weight`].
    dense_weight: Option<f32>,
}

impl ModelNotes {
    /// The notes' values that make sense (a cosine, a weight between 0 and 1).
    fn tuning(&self) -> Tuning {
        Tuning {
            relevance_floor: self.relevance_floor.filter(|f| (-1.0..=1.0).contains(f)),
            dense_weight: self.dense_weight.filter(|w| (0.0..=1.0).contains(w)),
        }
    }
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

pub(super) fn read(dir: &Path, file: &str) -> Result<Vec<u8>, EmbedError> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|e| EmbedError::ModelFile {
        path: path.display().to_string(),
        cause: e.to_string(),
    })
}

impl FastEmbedder {
    /// Loads ONNX Runtime and the model. Blocking.
    pub fn load(config: &FastEmbedConfig) -> Result<Self, EmbedError> {
        Self::load_with(config, true)
    }

    /// [`FastEmbedder::load`], with `compact` false always through fastembed's pipeline (the
    /// reference the compact one is tested against).
    fn load_with(config: &FastEmbedConfig, compact: bool) -> Result<Self, EmbedError> {
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
        let (model, name, tuning) = match &config.model {
            EmbedModelSource::Dir(dir) => {
                let tuning = model_notes(dir)?.tuning();
                let tokenizer = if compact {
                    UnigramTokenizer::from_dir(dir, config.max_length)?
                } else {
                    Err(Unsupported("fastembed's pipeline asked for".into()))
                };
                match tokenizer {
                    Ok(tokenizer) => {
                        let compact = Compact::load(dir, tokenizer, &environment, threads)?;
                        return Ok(Self {
                            model: Mutex::new(Pipeline::Compact(Box::new(compact))),
                            name: source_name(&config.model),
                            tuning,
                        });
                    }
                    Err(Unsupported(why)) => {
                        tracing::debug!(model = %dir.display(), why, "the model's tokenizer loads through fastembed");
                    }
                }
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
                (model, source_name(&config.model), tuning)
            }
            EmbedModelSource::Builtin(name) => {
                let builtin: EmbeddingModel = name.parse().map_err(EmbedError::Model)?;
                let options = TextInitOptions::new(builtin)
                    .with_max_length(config.max_length)
                    .with_cache_dir(config.cache_dir.clone())
                    .with_intra_threads(threads);
                let model = TextEmbedding::try_new(options)
                    .map_err(|e| EmbedError::Model(format!("{e:#}")))?;
                (model, source_name(&config.model), Tuning::default())
            }
        };
        Ok(Self {
            model: Mutex::new(Pipeline::Fastembed(Box::new(model))),
            name,
            tuning,
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
/// Returns the name and ranking tuning the loaded embedder will have. Quick.
pub fn check_models(
    configs: &[FastEmbedConfig],
    weights: &[f32],
) -> Result<(String, Tuning), EmbedError> {
    let mut parts = Vec::new();
    let mut tuning = Tuning::default();
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
                tuning = model_notes(dir)?.tuning();
            }
            EmbedModelSource::Builtin(name) => {
                name.parse::<EmbeddingModel>().map_err(EmbedError::Model)?;
                tuning = Tuning::default();
            }
        }
        parts.push((
            source_name(&config.model),
            weights.get(i).copied().unwrap_or(1.0),
        ));
    }
    match parts.len() {
        0 => Err(EmbedError::Model("no embedding model configured".into())),
        1 => Ok((parts.remove(0).0, tuning)),
        // A combination has no tuning of its own (the configured values apply).
        _ => Ok((combined_name(&parts), Tuning::default())),
    }
}

/// [`load_models`] on a background thread: checks what it can at once ([`check_models`]:
/// a missing file is an error now, not later), then returns a [`Deferred`] embedder that
/// waits for the model when first used before it is in.
pub fn load_models_in_background(
    configs: &[FastEmbedConfig],
    weights: &[f32],
) -> Result<std::sync::Arc<dyn Embedder>, EmbedError> {
    let (name, tuning) = check_models(configs, weights)?;
    let (configs, weights) = (configs.to_vec(), weights.to_vec());
    Ok(Deferred::start(name, tuning, move || {
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
        let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let vectors = match &mut *model {
            Pipeline::Fastembed(model) => {
                // Batches of similar length waste less padding: sort, embed, restore order.
                let mut order: Vec<usize> = (0..texts.len()).collect();
                order.sort_by_key(|&i| texts[i].len());
                let sorted: Vec<&str> = order.iter().map(|&i| texts[i].as_str()).collect();
                let vectors = model
                    .embed(sorted, Some(BATCH))
                    .map_err(|e| EmbedError::Model(format!("{e:#}")))?;
                let mut out = vec![Vec::new(); texts.len()];
                for (vector, &i) in vectors.into_iter().zip(&order) {
                    out[i] = vector;
                }
                out
            }
            // Sorts by token count itself.
            Pipeline::Compact(compact) => {
                let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                compact.embed_all(&texts)?
            }
        };
        Ok(vectors.into_iter().map(normalized).collect())
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(dir: &str) -> FastEmbedConfig {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
        FastEmbedConfig {
            ort_library: root.join("onnxruntime/libonnxruntime.so"),
            model: EmbedModelSource::Dir(root.join(dir)),
            threads: 1,
            // The bot's default (src/config.rs).
            max_length: 256,
            cache_dir: root.join(".cache"),
        }
    }

    /// fastembed's pipeline and the compact one for the default model, loaded once for every
    /// test (each load takes seconds).
    fn both() -> &'static (FastEmbedder, FastEmbedder) {
        static BOTH: std::sync::OnceLock<(FastEmbedder, FastEmbedder)> = std::sync::OnceLock::new();
        BOTH.get_or_init(|| {
            let config = installed("use-multilingual");
            (load(&config, false), load(&config, true))
        })
    }

    fn load(config: &FastEmbedConfig, compact: bool) -> FastEmbedder {
        FastEmbedder::load_with(config, compact).unwrap_or_else(|e| {
            panic!("{e}\n(the offline models are installed by scripts/install-models.sh; scripts/test.sh runs it)")
        })
    }

    /// Texts that exercise every step: scripts, whitespace of every kind, characters the
    /// normalizer folds or expands, graphemes longer than 6 bytes, unknown characters in a
    /// row, the added tokens inside words, the replacement character itself, and texts longer
    /// than the limit.
    fn hard_texts() -> Vec<String> {
        let mut texts: Vec<String> = [
            "",
            " ",
            "   \t\n ",
            "Hello world",
            "  Hello   world  ",
            "My daughter is allergic to peanuts.",
            "내 딸은 땅콩 알레르기가 있어요.",
            "다음 주 화요일에 서울에서 회의가 있습니다",
            "東京で会議があります。中文也可以。",
            "ＦＵＬＬ　ＷＩＤＴＨ　ｔｅｘｔ １２３",
            "İstanbul KELVIN \u{212A} ﬁ ﬀ ½ ² ™ ℃ ㎏ ㈜",
            "e\u{301}te\u{301} cafe\u{301} n\u{303}",
            "👍🏽 👨‍👩‍👧‍👦 🇰🇷 ❤️‍🔥 emoji",
            "\u{1100}\u{1161}\u{11A8} jamo 한글",
            "<s> starts </s> ends <unk> unknown",
            "a<s>b</s>c<unk>d",
            "extra_token_id_1 and extra_token_id_2extra_token_id_3x",
            "▁already ▁spaced▁text ▁▁",
            "tabs\tand\nnewlines\r\nand\u{a0}nbsp\u{3000}ideographic\u{2028}separator",
            "\u{0}\u{1}\u{7f} controls \u{200b}zero\u{200d}width\u{feff}",
            "\u{e000}\u{f8ff}\u{10ffff} private and unassigned \u{0378}\u{0379}",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 𝟙𝟚𝟛",
            "العربية हिन्दी ไทย Ελληνικά русский",
            "don't stop-believing... (really?) [yes] {no} #tag @user http://example.com/a?b=c",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.push("word ".repeat(600));
        texts.push("한국어 문장입니다. ".repeat(200));
        texts.push("x".repeat(3000));
        texts
    }

    /// Random texts from a palette of the same kinds of characters (seeded: the same texts
    /// every run, so a failure can be reproduced).
    fn random_texts(count: usize) -> Vec<String> {
        let palette: &[&[char]] = &[
            &[
                ' ', ' ', ' ', '\t', '\n', '\u{a0}', '\u{3000}', '\u{2028}', '▁',
            ],
            &[
                'a', 'e', 'n', 's', 't', 'T', 'H', '.', ',', '\'', '-', '1', '9', '<', '>', '/',
            ],
            &[
                '가', '나', '다', '한', '국', '어', '요', '\u{1100}', '\u{1161}', '\u{11A8}',
            ],
            &['日', '本', '語', 'の', 'カ', 'ﾀ', '中', '文'],
            &[
                'é', 'ñ', 'ü', '\u{301}', '\u{303}', '\u{308}', 'İ', 'ß', 'ﬁ', '\u{212A}',
            ],
            &['Ａ', 'ｂ', '１', '！', '½', '²', '™', '㎏', '①'],
            &[
                '👍',
                '\u{1F3FD}',
                '\u{200D}',
                '👩',
                '👧',
                '❤',
                '\u{FE0F}',
                '🇰',
                '🇷',
            ],
            &[
                '\u{0}', '\u{1}', '\u{7f}', '\u{200b}', '\u{feff}', '\u{e000}', '\u{0378}',
            ],
        ];
        let words = [
            "<s>",
            "</s>",
            "<unk>",
            "extra_token_id_1",
            "the",
            "memory",
            "기억",
        ];
        let mut rng = fastrand::Rng::with_seed(20261204);
        (0..count)
            .map(|_| {
                let mut text = String::new();
                for _ in 0..rng.usize(0..60) {
                    if rng.u8(..) < 12 {
                        text.push_str(words[rng.usize(..words.len())]);
                    } else {
                        let set = palette[rng.usize(..palette.len())];
                        text.push(set[rng.usize(..set.len())]);
                    }
                }
                text
            })
            .collect()
    }

    fn reference_ids(reference: &FastEmbedder, text: &str) -> Vec<u32> {
        let model = reference.model.lock().unwrap_or_else(|e| e.into_inner());
        let Pipeline::Fastembed(model) = &*model else {
            panic!("the reference runs fastembed's pipeline");
        };
        model
            .tokenizer
            .encode(text, true)
            .expect("fastembed tokenizes")
            .get_ids()
            .to_vec()
    }

    fn compact_tokenizer(embedder: &FastEmbedder) -> std::sync::MutexGuard<'_, Pipeline> {
        let model = embedder.model.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            matches!(&*model, Pipeline::Compact(_)),
            "the default model's Unigram tokenizer loads compact"
        );
        model
    }

    /// The compact tokenizer gives the ids fastembed's gives, on the hard texts and on 20,000
    /// random ones, for the default model (the Universal Sentence Encoder, multilingual).
    #[test]
    fn the_compact_tokenizer_gives_fastembeds_ids() {
        let (reference, compact) = both();
        let model = compact_tokenizer(compact);
        let Pipeline::Compact(compact) = &*model else {
            unreachable!()
        };
        let mut checked = 0;
        let hard = hard_texts();
        let hard_count = hard.len();
        for text in hard.into_iter().chain(random_texts(20_000)) {
            let expected = reference_ids(reference, &text);
            assert_eq!(compact.tokenizer.encode(&text), expected, "for {text:?}");
            checked += 1;
        }
        assert_eq!(checked, hard_count + 20_000);
        // The long texts were cut to the limit, the template's tokens included.
        assert_eq!(compact.tokenizer.encode(&"word ".repeat(600)).len(), 256);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any text at all gets fastembed's ids.
        #[test]
        fn any_text_gets_fastembeds_ids(text in ".{0,80}") {
            let (reference, compact) = both();
            let model = compact_tokenizer(compact);
            let Pipeline::Compact(compact) = &*model else { unreachable!() };
            proptest::prop_assert_eq!(compact.tokenizer.encode(&text), reference_ids(reference, &text));
        }
    }

    /// The compact pipeline's vectors are fastembed's (same ids, same padding and pooling),
    /// text by text. (In a batch the two differ by up to about 0.02 per dimension: the
    /// model's 8-bit layers quantize their input with one scale per batch, so a vector
    /// depends a little on the texts it ran with, and the pipelines batch differently.)
    #[test]
    fn the_compact_pipeline_gives_fastembeds_vectors() {
        let (reference, compact) = both();
        drop(compact_tokenizer(compact));
        let texts: Vec<String> = hard_texts().into_iter().chain(random_texts(60)).collect();
        for text in &texts {
            let expected = reference.embed(std::slice::from_ref(text)).unwrap();
            let got = compact.embed(std::slice::from_ref(text)).unwrap();
            assert_eq!(got[0].len(), 512);
            let worst = got[0]
                .iter()
                .zip(&expected[0])
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "{worst} apart for {text:?}");
        }
    }

    /// One call with many texts (run in several batches of the token budget, sorted by
    /// token count) gives each text its own vector, in the caller's order: nearly the vector
    /// it gets alone (up to the batch's quantization), and nearer to it than any other
    /// text's vector is (texts with the same ids aside).
    #[test]
    fn a_large_call_gives_each_text_its_own_vector() {
        let (_, compact) = both();
        let texts: Vec<String> = hard_texts().into_iter().chain(random_texts(60)).collect();
        let ids: Vec<Vec<u32>> = {
            let model = compact_tokenizer(compact);
            let Pipeline::Compact(pipeline) = &*model else {
                unreachable!()
            };
            texts.iter().map(|t| pipeline.tokenizer.encode(t)).collect()
        };
        assert!(ids.iter().map(Vec::len).sum::<usize>() > 4 * TOKEN_BUDGET);
        let all = compact.embed(&texts).unwrap();
        assert_eq!(all.len(), texts.len());
        let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        for (i, text) in texts.iter().enumerate() {
            let alone = &compact.embed(std::slice::from_ref(text)).unwrap()[0];
            let similarity = cosine(&all[i], alone);
            assert!(similarity > 0.99, "{similarity} for {text:?}");
            let nearest = (0..all.len())
                .max_by(|&a, &b| cosine(&all[a], alone).total_cmp(&cosine(&all[b], alone)))
                .unwrap();
            assert_eq!(
                ids[nearest], ids[i],
                "{text:?} is nearest to {:?}",
                texts[nearest]
            );
        }
    }

    /// A folder whose tokenizer is not Unigram (MiniLM's WordPiece) goes through fastembed,
    /// and says why.
    #[test]
    fn other_tokenizers_load_through_fastembed() {
        let config = installed("minilm");
        let EmbedModelSource::Dir(dir) = &config.model else {
            unreachable!()
        };
        let why = UnigramTokenizer::from_dir(dir, 256)
            .unwrap()
            .expect_err("WordPiece is not Unigram");
        assert!(why.0.contains("WordPiece"), "{}", why.0);
        let embedder = load(&config, true);
        assert!(matches!(
            &*embedder.model.lock().unwrap(),
            Pipeline::Fastembed(_)
        ));
    }

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
        assert_eq!(model_notes(dir.path()).unwrap().dense_weight, None);
        std::fs::write(
            dir.path().join("hearth.json"),
            r#"{"relevance_floor": 0.25, "dense_weight": 0.5}"#,
        )
        .unwrap();
        let tuning = model_notes(dir.path()).unwrap().tuning();
        assert_eq!(tuning.relevance_floor, Some(0.25));
        assert_eq!(tuning.dense_weight, Some(0.5));
        // Values out of range are not used (the configured ones apply).
        std::fs::write(
            dir.path().join("hearth.json"),
            r#"{"relevance_floor": 3, "dense_weight": -0.5}"#,
        )
        .unwrap();
        assert_eq!(model_notes(dir.path()).unwrap().tuning(), Tuning::default());
        std::fs::write(dir.path().join("hearth.json"), "{not json").unwrap();
        let err = model_notes(dir.path())
            .err()
            .expect("a broken file is an error");
        assert!(err.to_string().contains("hearth.json"), "{err}");
    }
}
