//! A compact SentencePiece Unigram tokenizer for model folders (feature `fastembed`).
//!
//! The default embedding model (the Universal Sentence Encoder, multilingual) has a
//! 128,000-piece Unigram vocabulary. The `tokenizers` crate builds a trie of hash maps over
//! the bytes of every piece for it (87 MB), and fastembed keeps a whole clone of that
//! tokenizer (another 64 MB, measured with heaptrack); together that was most of the bot's
//! idle memory. The pieces and scores themselves are 2 MB. This tokenizer keeps them in one
//! hash map (piece to id) and finds the pieces starting at a position by looking up each
//! prefix up to the longest piece's length, which is as fast for sentence-length texts.
//!
//! It does exactly what `tokenizers` 0.23 does with fastembed's settings for the parts such
//! folders use, and nothing more: normalizers `Precompiled`, `Strip`, `Replace` (alone or in
//! a `Sequence`), the `Metaspace` pre-tokenizer, the Unigram model's best path (the optimized
//! Viterbi of `tokenizers`, unknown characters fused into one unknown token), added tokens
//! (matched leftmost-longest on the raw text or, for normalized ones, on the normalized
//! text), a `TemplateProcessing` post-processor for single sequences, and truncation to the
//! configured length. A folder whose `tokenizer.json` uses anything else is left to
//! fastembed ([`UnigramTokenizer::from_dir`] returns `None` with the reason). The tests
//! compare its ids with fastembed's tokenizer on many texts.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use unicode_segmentation::UnicodeSegmentation;

use super::embed::EmbedError;

/// One normalization step.
enum Normalize {
    /// SentencePiece's precompiled character map (NFKC-like folding).
    Precompiled(Box<spm_precompiled::Precompiled>),
    /// Whitespace removed from the start and/or the end.
    Strip { left: bool, right: bool },
    /// Every match of a pattern replaced.
    Replace {
        pattern: regex::Regex,
        content: String,
    },
}

/// Where the Metaspace pre-tokenizer puts a replacement character in front of a piece.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prepend {
    Always,
    First,
    Never,
}

/// A Unigram tokenizer with everything it needs to turn a text into model input ids.
pub struct UnigramTokenizer {
    /// Piece to id (the last id for a piece listed twice, as `tokenizers` does).
    pieces: HashMap<Box<str>, u32>,
    /// Score of each id.
    scores: Vec<f64>,
    /// The longest piece, in bytes: no longer prefix is looked up.
    longest: usize,
    /// The score of an unknown character: the lowest score minus 10.
    unk_score: f64,
    unk_id: u32,
    normalizers: Vec<Normalize>,
    replacement: char,
    prepend: Prepend,
    split: bool,
    /// Added tokens matched on the raw text, and those matched on the normalized text (in
    /// their normalized form).
    added_raw: Vec<(String, u32)>,
    added_normalized: Vec<(String, u32)>,
    /// Ids the template puts before and after the sequence.
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    /// Longest input in tokens, the template's included.
    max_length: usize,
    /// The id padding uses.
    pad_id: u32,
}

impl std::fmt::Debug for UnigramTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnigramTokenizer")
            .field("pieces", &self.scores.len())
            .field("max_length", &self.max_length)
            .finish()
    }
}

/// Why a folder's tokenizer is not one this module handles (fastembed loads it instead).
#[derive(Debug)]
pub struct Unsupported(pub String);

fn unsupported<T>(why: impl Into<String>) -> Result<Result<T, Unsupported>, EmbedError> {
    Ok(Err(Unsupported(why.into())))
}

fn json_file(dir: &Path, file: &str) -> Result<Value, EmbedError> {
    serde_json::from_slice(&super::fastembed::read(dir, file)?).map_err(|e| EmbedError::ModelFile {
        path: dir.join(file).display().to_string(),
        cause: e.to_string(),
    })
}

impl UnigramTokenizer {
    /// Reads a model folder's `tokenizer.json`, `tokenizer_config.json`, `config.json` and
    /// `special_tokens_map.json` as fastembed does, with inputs cut to `max_length` tokens (or
    /// the model's own limit if lower). `Ok(Err(_))` says why this tokenizer does not apply.
    pub fn from_dir(
        dir: &Path,
        max_length: usize,
    ) -> Result<Result<Self, Unsupported>, EmbedError> {
        let tokenizer = json_file(dir, "tokenizer.json")?;
        let config = json_file(dir, "config.json")?;
        let special_map = json_file(dir, "special_tokens_map.json")?;
        let tokenizer_config = json_file(dir, "tokenizer_config.json")?;
        let broken = |why: &str| EmbedError::ModelFile {
            path: dir.join("tokenizer.json").display().to_string(),
            cause: why.to_string(),
        };

        // The model.
        let model = &tokenizer["model"];
        if model["type"] != "Unigram" {
            return unsupported(format!("the model is {}, not Unigram", model["type"]));
        }
        if model["byte_fallback"].as_bool() == Some(true) {
            return unsupported("byte fallback");
        }
        let Some(unk_id) = model["unk_id"].as_u64() else {
            return unsupported("no unknown token");
        };
        let vocab = model["vocab"]
            .as_array()
            .ok_or_else(|| broken("the Unigram model has no vocabulary"))?;
        if unk_id as usize >= vocab.len() {
            return Err(broken("the unknown token is not in the vocabulary"));
        }
        let mut pieces = HashMap::with_capacity(vocab.len());
        let mut scores = Vec::with_capacity(vocab.len());
        let mut longest = 0;
        let mut min_score = f64::INFINITY;
        for (id, entry) in vocab.iter().enumerate() {
            let (Some(piece), Some(score)) = (entry[0].as_str(), entry[1].as_f64()) else {
                return Err(broken("a vocabulary entry is not [piece, score]"));
            };
            pieces.insert(Box::from(piece), id as u32);
            scores.push(score);
            longest = longest.max(piece.len());
            min_score = min_score.min(score);
        }
        pieces.shrink_to_fit();

        // Normalizers.
        let mut normalizers = Vec::new();
        let steps: Vec<&Value> = match &tokenizer["normalizer"] {
            Value::Null => Vec::new(),
            n if n["type"] == "Sequence" => n["normalizers"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default(),
            n => vec![n],
        };
        for step in steps {
            match step["type"].as_str() {
                Some("Precompiled") => {
                    // From the text (the deserializer borrows the base64 string); the error
                    // names the line, never the 300 KB map.
                    let precompiled: spm_precompiled::Precompiled =
                        serde_json::from_str(&step.to_string()).map_err(|e| {
                            broken(&format!(
                                "the precompiled character map does not read (column {})",
                                e.column()
                            ))
                        })?;
                    normalizers.push(Normalize::Precompiled(Box::new(precompiled)));
                }
                Some("Strip") => normalizers.push(Normalize::Strip {
                    left: step["strip_left"].as_bool().unwrap_or(false),
                    right: step["strip_right"].as_bool().unwrap_or(false),
                }),
                Some("Replace") => {
                    let pattern = if let Some(literal) = step["pattern"]["String"].as_str() {
                        regex::escape(literal)
                    } else if let Some(re) = step["pattern"]["Regex"].as_str() {
                        re.to_string()
                    } else {
                        return unsupported("a Replace normalizer without a pattern");
                    };
                    let Ok(pattern) = regex::Regex::new(&pattern) else {
                        return unsupported(format!("the Replace pattern {pattern}"));
                    };
                    normalizers.push(Normalize::Replace {
                        pattern,
                        content: step["content"].as_str().unwrap_or_default().to_string(),
                    });
                }
                other => return unsupported(format!("the normalizer {other:?}")),
            }
        }

        // The pre-tokenizer.
        let pre = &tokenizer["pre_tokenizer"];
        if pre["type"] != "Metaspace" {
            return unsupported(format!("the pre-tokenizer {}", pre["type"]));
        }
        let replacement = pre["replacement"]
            .as_str()
            .and_then(|r| r.chars().next())
            .unwrap_or('\u{2581}');
        let prepend = match pre["prepend_scheme"].as_str() {
            Some("always") => Prepend::Always,
            Some("first") => Prepend::First,
            Some("never") => Prepend::Never,
            None if pre["add_prefix_space"].as_bool() == Some(false) => Prepend::Never,
            None => Prepend::Always,
            Some(other) => return unsupported(format!("the prepend scheme {other}")),
        };
        let split = pre["split"].as_bool().unwrap_or(true);

        // The template around a single sequence.
        let mut prefix = Vec::new();
        let mut suffix = Vec::new();
        match &tokenizer["post_processor"] {
            Value::Null => {}
            p if p["type"] == "TemplateProcessing" => {
                let mut seen_sequence = false;
                for part in p["single"].as_array().into_iter().flatten() {
                    if part.get("Sequence").is_some() {
                        seen_sequence = true;
                    } else if let Some(name) = part["SpecialToken"]["id"].as_str() {
                        let ids = p["special_tokens"][name]["ids"]
                            .as_array()
                            .ok_or_else(|| broken("a template's special token has no ids"))?;
                        for id in ids {
                            let id = id.as_u64().ok_or_else(|| broken("a special token id"))?;
                            if seen_sequence {
                                &mut suffix
                            } else {
                                &mut prefix
                            }
                            .push(id as u32);
                        }
                    } else {
                        return unsupported("a template part");
                    }
                }
            }
            p => return unsupported(format!("the post-processor {}", p["type"])),
        }

        // Added tokens, with fastembed's re-adding of the special tokens map (as normalized).
        let mut added: Vec<(String, u32, bool)> = Vec::new();
        for token in tokenizer["added_tokens"].as_array().into_iter().flatten() {
            let (Some(content), Some(id)) = (token["content"].as_str(), token["id"].as_u64())
            else {
                return Err(broken("an added token without content or id"));
            };
            if ["lstrip", "rstrip", "single_word"]
                .iter()
                .any(|k| token[*k].as_bool() == Some(true))
            {
                return unsupported(format!("the added token {content} strips or is a word"));
            }
            added.push((
                content.to_string(),
                id as u32,
                token["normalized"].as_bool().unwrap_or(true),
            ));
        }
        for value in special_map.as_object().into_iter().flat_map(|m| m.values()) {
            let (content, normalized) = match value {
                Value::String(content) => (content.as_str(), true),
                Value::Object(o) => {
                    if ["lstrip", "rstrip", "single_word"]
                        .iter()
                        .any(|k| o.get(*k).and_then(Value::as_bool) == Some(true))
                    {
                        return unsupported("a special token that strips or is a word");
                    }
                    match o.get("content").and_then(Value::as_str) {
                        Some(content) => (
                            content,
                            o.get("normalized").and_then(Value::as_bool).unwrap_or(true),
                        ),
                        None => continue,
                    }
                }
                _ => continue,
            };
            if content.is_empty() {
                continue;
            }
            if let Some(existing) = added.iter_mut().find(|(c, _, _)| c == content) {
                existing.2 = normalized;
            } else if let Some(&id) = pieces.get(content) {
                added.push((content.to_string(), id, normalized));
            } else {
                return unsupported(format!(
                    "the special token {content} is not in the vocabulary"
                ));
            }
        }

        let model_max_length = tokenizer_config["model_max_length"]
            .as_f64()
            .ok_or_else(|| broken("tokenizer_config.json has no numeric model_max_length"))?;
        let max_length = max_length.min(model_max_length as usize);
        let pad_token = tokenizer_config["pad_token"]
            .as_str()
            .or_else(|| tokenizer_config["pad_token"]["content"].as_str());
        let pad_id = config["pad_token_id"]
            .as_u64()
            .map(|id| id as u32)
            .or_else(|| {
                pad_token.and_then(|t| {
                    added
                        .iter()
                        .find(|(c, _, _)| c == t)
                        .map(|(_, id, _)| *id)
                        .or_else(|| pieces.get(t).copied())
                })
            })
            .unwrap_or(0);
        if max_length <= prefix.len() + suffix.len() {
            return unsupported("a maximum length shorter than the template");
        }

        let mut this = Self {
            pieces,
            scores,
            longest,
            unk_score: min_score - 10.0,
            unk_id: unk_id as u32,
            normalizers,
            replacement,
            prepend,
            split,
            added_raw: Vec::new(),
            added_normalized: Vec::new(),
            prefix,
            suffix,
            max_length,
            pad_id,
        };
        for (content, id, normalized) in added {
            if normalized {
                let form = this.normalize(&content);
                this.added_normalized.push((form, id));
            } else {
                this.added_raw.push((content, id));
            }
        }
        Ok(Ok(this))
    }

    /// The id padding uses.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The model input ids for `text`: the template's tokens around the text's, cut to the
    /// maximum length.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for (raw, added) in split_added(text, &self.added_raw) {
            if let Some(id) = added {
                ids.push(id);
                continue;
            }
            let normalized = self.normalize(raw);
            let first = raw.as_ptr() == text.as_ptr();
            for (part, added) in split_added(&normalized, &self.added_normalized) {
                match added {
                    Some(id) => ids.push(id),
                    None => self.pre_tokenize_and_encode(
                        part,
                        first && part.as_ptr() == normalized.as_ptr(),
                        &mut ids,
                    ),
                }
            }
        }
        ids.truncate(self.max_length - self.prefix.len() - self.suffix.len());
        let mut out = Vec::with_capacity(ids.len() + self.prefix.len() + self.suffix.len());
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&ids);
        out.extend_from_slice(&self.suffix);
        out
    }

    fn normalize(&self, text: &str) -> String {
        let mut s = text.to_string();
        for step in &self.normalizers {
            s = match step {
                Normalize::Precompiled(map) => precompiled(map, &s),
                Normalize::Strip { left, right } => {
                    let mut t = s.as_str();
                    if *left {
                        t = t.trim_start();
                    }
                    if *right {
                        t = t.trim_end();
                    }
                    t.to_string()
                }
                Normalize::Replace { pattern, content } => pattern
                    .replace_all(&s, regex::NoExpand(content))
                    .into_owned(),
            };
        }
        s
    }

    /// Metaspace, then the model, for one piece of normalized text.
    fn pre_tokenize_and_encode(&self, text: &str, at_start: bool, ids: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let mut spaced = String::with_capacity(text.len() + 3);
        // Spaces become the replacement first, then it is prepended unless already there.
        let starts_with_replacement = text.starts_with([' ', self.replacement]);
        let prepend = match self.prepend {
            Prepend::Always => !starts_with_replacement,
            Prepend::First => !starts_with_replacement && at_start,
            Prepend::Never => false,
        };
        if prepend {
            spaced.push(self.replacement);
        }
        for c in text.chars() {
            spaced.push(if c == ' ' { self.replacement } else { c });
        }
        if !self.split {
            self.encode_piece(&spaced, ids);
            return;
        }
        // Split before every replacement character (it starts the next word).
        let mut start = 0;
        for (at, c) in spaced.char_indices() {
            if c == self.replacement && at > start {
                self.encode_piece(&spaced[start..at], ids);
                start = at;
            }
        }
        self.encode_piece(&spaced[start..], ids);
    }

    /// The best segmentation of `word` (SentencePiece's optimized Viterbi, as `tokenizers`
    /// runs it), unknown characters in a row fused into one unknown token.
    fn encode_piece(&self, word: &str, ids: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f64,
            from: Option<usize>,
        }
        let size = word.len();
        let mut best = vec![
            Best {
                id: 0,
                score: 0.0,
                from: None
            };
            size + 1
        ];
        let mut start = 0;
        while start < size {
            let here = best[start].score;
            let first_len = word[start..].chars().next().map_or(1, char::len_utf8);
            let mut single = false;
            let mut end = start + first_len;
            let limit = size.min(start + self.longest);
            while end <= limit {
                if let Some(&id) = self.pieces.get(&word[start..end]) {
                    let candidate = here + self.scores[id as usize];
                    let target = &mut best[end];
                    if target.from.is_none() || candidate > target.score {
                        *target = Best {
                            id,
                            score: candidate,
                            from: Some(start),
                        };
                    }
                    if end - start == first_len {
                        single = true;
                    }
                }
                end += word[end..].chars().next().map_or(1, char::len_utf8);
            }
            if !single {
                let candidate = here + self.unk_score;
                let target = &mut best[start + first_len];
                if target.from.is_none() || candidate > target.score {
                    *target = Best {
                        id: self.unk_id,
                        score: candidate,
                        from: Some(start),
                    };
                }
            }
            start += first_len;
        }
        // Walk back; unknown tokens in a row become one (whose text is no piece: unknown).
        let mut path = Vec::new();
        let mut end = size;
        let mut in_unknown = false;
        while end > 0 {
            let node = best[end];
            let from = node.from.unwrap_or(0);
            if node.id == self.unk_id {
                if !in_unknown {
                    path.push(self.unk_id);
                }
                in_unknown = true;
            } else {
                in_unknown = false;
                path.push(node.id);
            }
            end = from;
        }
        ids.extend(path.into_iter().rev());
    }
}

/// SentencePiece's precompiled map applied grapheme by grapheme, exactly as `tokenizers`
/// does (whole graphemes shorter than 6 bytes first, else character by character).
fn precompiled(map: &spm_precompiled::Precompiled, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for grapheme in text.graphemes(true) {
        if grapheme.len() < 6
            && let Some(norm) = map.transform(grapheme)
        {
            out.push_str(norm);
            continue;
        }
        for (at, c) in grapheme.char_indices() {
            let part = &grapheme[at..at + c.len_utf8()];
            match map.transform(part) {
                Some(norm) => out.push_str(norm),
                None => out.push(c),
            }
        }
    }
    out
}

/// `text` cut around the added tokens found in it (leftmost, then longest, not overlapping):
/// each part with the token's id if it is one.
fn split_added<'a>(text: &'a str, tokens: &[(String, u32)]) -> Vec<(&'a str, Option<u32>)> {
    let mut parts = Vec::new();
    if tokens.is_empty() {
        if !text.is_empty() {
            parts.push((text, None));
        }
        return parts;
    }
    let mut plain_from = 0;
    let mut at = 0;
    while at < text.len() {
        let found = tokens
            .iter()
            .filter(|(t, _)| !t.is_empty() && text[at..].starts_with(t.as_str()))
            .max_by_key(|(t, _)| t.len());
        match found {
            Some((t, id)) => {
                if at > plain_from {
                    parts.push((&text[plain_from..at], None));
                }
                parts.push((&text[at..at + t.len()], Some(*id)));
                at += t.len();
                plain_from = at;
            }
            None => at += text[at..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if plain_from < text.len() {
        parts.push((&text[plain_from..], None));
    }
    parts
}
