//! A per-user search index: dense vectors kept contiguous and scanned as 8-bit integers (a
//! quarter of the memory traffic of floats; the best candidates are then rescored with the
//! exact float vectors), and a BM25 keyword index, fused into one ranking.
//!
//! Fusion is a weighted sum of min-max-normalised scores: measured on LoCoMo
//! (see BENCHMARKS.md) it beats reciprocal rank fusion, which lost even to
//! BM25 alone. Recency breaks ties. A relevance floor keeps unrelated memories
//! out of the prompt: a memory must share a keyword with the query or be close
//! enough in meaning.
//!
//! Two cheap steps on top (LoCoMo R@10 67.8 -> 75.2 with MiniLM, 65.2 -> 71.3 with the
//! multilingual model, with the weights tuned together, BENCHMARKS.md): each memory gets a share of the mean score of the
//! memories saved right before and after it within an hour (`neighbour_share`: one
//! conversation's facts sit together, and the answer is often next to the match), and the
//! words of the three best hits are added to the keyword query with a small weight
//! (`feedback`, pseudo-relevance feedback; words in over a quarter of the memories are
//! skipped). Neither lets a memory in: it still needs a word of the question or the floor's
//! similarity, so memories about other things told in the same sitting stay out.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// Ranking settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RankConfig {
    /// Weight of the dense score; the keyword score gets `1 - dense_weight`. A model may set
    /// its own (`Embedder::dense_weight`).
    pub dense_weight: f32,
    /// Cosine similarity a memory needs when it shares no keyword with the query.
    pub dense_floor: f32,
    /// BM25 `k1`.
    pub k1: f32,
    /// BM25 `b`.
    pub b: f32,
    /// Share of its neighbours' scores a memory gets: the memories saved just before and
    /// after it (within [`NEIGHBOUR_WINDOW`]) usually come from the same conversation, and
    /// the one that answers a question often sits next to the one that matches it.
    pub neighbour_share: f32,
    /// Weight of pseudo-relevance feedback: the words of the best [`FEEDBACK_DOCS`] hits are
    /// added to the keyword query with this weight in all (0: off). They only move scores: a
    /// memory still needs a word of the question itself, or its meaning, to be found.
    pub feedback: f32,
    /// How much more a memory counts when it mentions a name the question names: its score
    /// is multiplied by `1 + name_boost`. A name is a capitalized word (other than the
    /// question's first word, and other than "I"); the memory must have it capitalized too.
    /// "What does Anna like?" then puts what was said about Anna (or by her) before what
    /// only resembles the question. Names are often in so many of a person's memories that
    /// keyword scoring gives them little weight; scripts without capitals are unaffected.
    pub name_boost: f32,
}

impl Default for RankConfig {
    fn default() -> Self {
        Self {
            dense_weight: 0.4,
            dense_floor: 0.3,
            k1: 1.2,
            b: 0.75,
            neighbour_share: 0.4,
            feedback: 0.4,
            name_boost: 0.5,
        }
    }
}

/// One indexed memory.
#[derive(Clone, Debug)]
struct Doc {
    id: String,
    created: DateTime<Utc>,
    /// (term, count) of each distinct term.
    terms: Vec<(u32, u32)>,
    len: u32,
    /// Terms of the words the memory has capitalized (names), each once.
    names: Vec<u32>,
    /// False once removed (its slot is reused at the next compaction).
    alive: bool,
}

/// The index of one user's memories.
///
/// Changes are incremental: [`Index::add`] appends (or replaces a memory with the same id),
/// [`Index::remove`] marks a slot dead and takes it out of the postings; dead slots are
/// compacted away in memory once they are a quarter of the index. Nothing is re-read from
/// the store and no text is tokenized again.
#[derive(Debug, Default)]
pub struct Index {
    docs: Vec<Doc>,
    dim: usize,
    /// `docs.len() * dim` floats; zeros for a memory without a vector (or a dead slot).
    vectors: Vec<f32>,
    /// The same vectors as 8-bit integers (`docs.len() * dim`), each scaled by its own
    /// largest magnitude, and that scale per memory: what a search scans.
    quantized: Vec<i8>,
    scales: Vec<f32>,
    vocabulary: HashMap<String, u32>,
    /// term -> (slot, count in that memory) of the memories containing it.
    postings: HashMap<u32, Vec<(u32, u32)>>,
    total_len: u64,
    /// id -> slot of the live memory.
    slots: HashMap<String, u32>,
    dead: usize,
}

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "did", "do", "does", "for", "from",
    "had", "has", "have", "he", "her", "his", "how", "i", "in", "is", "it", "its", "me", "my",
    "of", "on", "or", "she", "so", "that", "the", "their", "them", "they", "this", "to", "was",
    "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your",
];

/// Lowercase word tokens without stopwords, stemmed with the Snowball English
/// stemmer. Hangul, Han and Kana runs become overlapping character bigrams, as Lucene's
/// CJK analyzer does (the notes index does the same): Korean attaches particles to words,
/// so "이름은" and "이름이" share "이름". Words of other scripts pass through unchanged.
pub fn tokens(text: &str) -> Vec<String> {
    static STEMMER: std::sync::LazyLock<rust_stemmers::Stemmer> = std::sync::LazyLock::new(|| {
        rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English)
    });
    let mut out = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if !word.chars().any(crate::sources::is_cjk) {
            // Single Latin letters ("s" of "sister's") carry no meaning.
            if word.is_empty() || (word.len() == 1 && word.chars().all(|c| c.is_ascii_alphabetic()))
            {
                continue;
            }
            let word = word.to_lowercase();
            if !STOPWORDS.contains(&word.as_str()) {
                out.push(STEMMER.stem(&word).into_owned());
            }
            continue;
        }
        // Mixed or CJK: CJK runs as bigrams (or the one character), the rest as words.
        let chars: Vec<char> = word.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let cjk = crate::sources::is_cjk(chars[i]);
            let start = i;
            while i < chars.len() && crate::sources::is_cjk(chars[i]) == cjk {
                i += 1;
            }
            let run = &chars[start..i];
            if cjk {
                if run.len() == 1 {
                    out.push(run[0].to_string());
                }
                out.extend(run.windows(2).map(|pair| pair.iter().collect::<String>()));
            } else {
                out.push(
                    STEMMER
                        .stem(&run.iter().collect::<String>().to_lowercase())
                        .into_owned(),
                );
            }
        }
    }
    out
}

impl Index {
    /// An empty index for vectors of `dim` dimensions (0: none yet; the first vector added
    /// sets it, so a person's index loaded before they had any vector still gets them).
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            ..Self::default()
        }
    }

    /// Number of memories.
    pub fn len(&self) -> usize {
        self.docs.len() - self.dead
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether memory `id` is indexed.
    pub fn contains(&self, id: &str) -> bool {
        self.slots.contains_key(id)
    }

    /// Adds a memory, replacing the one with the same id (in its slot). A vector of the wrong
    /// size is treated as missing.
    pub fn add(&mut self, id: &str, text: &str, created: DateTime<Utc>, vector: Option<&[f32]>) {
        if let Some(v) = vector.filter(|v| self.dim == 0 && !v.is_empty()) {
            self.dim = v.len();
            self.vectors = vec![0.0; self.docs.len() * self.dim];
            self.quantized = vec![0; self.docs.len() * self.dim];
        }
        // A memory added again (corrected, or re-embedded for a new model) keeps its slot, and
        // with it its place among the memories saved around it (its neighbours).
        if let Some(&slot) = self.slots.get(id) {
            self.unpost(slot);
            let (terms, len) = self.post(slot, text);
            let names = self.capitalized(text, false);
            let doc = &mut self.docs[slot as usize];
            doc.created = created;
            doc.terms = terms;
            doc.len = len;
            doc.names = names;
            self.set_vector(slot as usize, vector);
            return;
        }
        let index = self.docs.len() as u32;
        let (terms, len) = self.post(index, text);
        let names = self.capitalized(text, false);
        self.docs.push(Doc {
            id: id.to_owned(),
            created,
            terms,
            len,
            names,
            alive: true,
        });
        self.slots.insert(id.to_owned(), index);
        self.vectors.extend(std::iter::repeat_n(0.0, self.dim));
        self.quantized.extend(std::iter::repeat_n(0, self.dim));
        self.scales.push(0.0);
        self.set_vector(index as usize, vector);
    }

    /// Adds `text`'s terms to the postings as slot `slot`'s; returns them and its length.
    fn post(&mut self, slot: u32, text: &str) -> (Vec<(u32, u32)>, u32) {
        let mut terms: HashMap<u32, u32> = HashMap::new();
        let words = tokens(text);
        for word in &words {
            let next = self.vocabulary.len() as u32;
            let term = *self.vocabulary.entry(word.clone()).or_insert(next);
            *terms.entry(term).or_default() += 1;
        }
        let terms: Vec<(u32, u32)> = terms.into_iter().collect();
        for &(term, count) in &terms {
            self.postings.entry(term).or_default().push((slot, count));
        }
        self.total_len += words.len() as u64;
        (terms, words.len() as u32)
    }

    /// The known terms of the capitalized words in `text` (see [`RankConfig::name_boost`]),
    /// each once; `skip_first` leaves out the first word (a question's first word is
    /// capitalized as the start of a sentence).
    fn capitalized(&self, text: &str, skip_first: bool) -> Vec<u32> {
        let mut names = Vec::new();
        let words = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty());
        for word in words.skip(usize::from(skip_first)) {
            if word == "I" || !word.chars().next().is_some_and(char::is_uppercase) {
                continue;
            }
            for token in tokens(word) {
                if let Some(&term) = self.vocabulary.get(&token)
                    && !names.contains(&term)
                {
                    names.push(term);
                }
            }
        }
        names
    }

    /// Takes slot `slot`'s terms out of the postings.
    fn unpost(&mut self, slot: u32) {
        let doc = &mut self.docs[slot as usize];
        self.total_len -= u64::from(doc.len);
        for (term, _) in std::mem::take(&mut doc.terms) {
            if let Some(docs) = self.postings.get_mut(&term) {
                docs.retain(|&(d, _)| d != slot);
                if docs.is_empty() {
                    self.postings.remove(&term);
                }
            }
        }
        doc.len = 0;
        doc.names.clear();
    }

    /// Writes slot `slot`'s vector (zeros, and so never found by meaning, without one of the
    /// index's dimension).
    fn set_vector(&mut self, slot: usize, vector: Option<&[f32]>) {
        let range = slot * self.dim..(slot + 1) * self.dim;
        match vector.filter(|v| v.len() == self.dim) {
            Some(v) => {
                self.vectors[range.clone()].copy_from_slice(v);
                self.scales[slot] = quantize(v, &mut self.quantized[range]);
            }
            None => {
                self.vectors[range.clone()].fill(0.0);
                self.quantized[range].fill(0);
                self.scales[slot] = 0.0;
            }
        }
    }

    /// Removes memory `id`; false when it was not indexed.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.slots.remove(id) else {
            return false;
        };
        self.docs[slot as usize].alive = false;
        self.unpost(slot);
        self.set_vector(slot as usize, None);
        self.dead += 1;
        if self.dead > 64 && self.dead * 4 > self.docs.len() {
            self.compact();
        }
        true
    }

    /// Drops dead slots, renumbering the live ones.
    fn compact(&mut self) {
        let docs = std::mem::take(&mut self.docs);
        let vectors = std::mem::take(&mut self.vectors);
        let quantized = std::mem::take(&mut self.quantized);
        let scales = std::mem::take(&mut self.scales);
        self.postings.clear();
        self.slots.clear();
        self.dead = 0;
        for (old, doc) in docs.into_iter().enumerate() {
            if !doc.alive {
                continue;
            }
            let slot = self.docs.len() as u32;
            for &(term, count) in &doc.terms {
                self.postings.entry(term).or_default().push((slot, count));
            }
            self.slots.insert(doc.id.clone(), slot);
            let range = old * self.dim..(old + 1) * self.dim;
            self.vectors.extend_from_slice(&vectors[range.clone()]);
            self.quantized.extend_from_slice(&quantized[range]);
            self.scales.push(scales[old]);
            self.docs.push(doc);
        }
    }

    /// Ranks memories for a query; returns (id, fused score), best first, at most `k`.
    pub fn search(
        &self,
        query: &str,
        vector: Option<&[f32]>,
        k: usize,
        config: &RankConfig,
    ) -> Vec<(String, f32)> {
        if self.is_empty() || k == 0 {
            return Vec::new();
        }
        let mut terms = self.query_terms(query);
        let matched = self.bm25(&terms, config);
        let query_vector = vector.filter(|v| v.len() == self.dim && self.dim > 0);
        // Approximate cosines from the 8-bit vectors; the best candidates get exact ones.
        let dense = query_vector.map(|q| self.approximate_cosines(q));
        let mut keyword = None;
        if config.feedback > 0.0 {
            let first = self.rank(
                &matched,
                &matched,
                query_vector,
                dense.clone(),
                FEEDBACK_DOCS,
                config,
            );
            let mut added: Vec<(u32, f32)> = Vec::new();
            let each = config.feedback / FEEDBACK_DOCS as f32;
            for (slot, _) in first {
                for &(term, _) in &self.docs[slot].terms {
                    if terms.iter().any(|&(t, _)| t == term) {
                        continue;
                    }
                    // A word in many of the person's memories (their own name, say) says
                    // nothing about this question, and its long postings cost the most.
                    let df = self.postings.get(&term).map_or(0, Vec::len);
                    if df as f32 > FEEDBACK_MAX_SHARE * self.len() as f32 {
                        continue;
                    }
                    match added.iter_mut().find(|(t, _)| *t == term) {
                        Some((_, w)) => *w += each,
                        None => added.push((term, each)),
                    }
                }
            }
            if !added.is_empty() {
                terms.extend(added);
                keyword = Some(self.bm25(&terms, config));
            }
        }
        let keyword = keyword.as_deref().unwrap_or(&matched);
        // Names the question names re-order the best candidates (exact scores by then).
        let names = self.capitalized(query, true);
        let boost = config.name_boost > 0.0 && !names.is_empty();
        let pool = if boost { (k * 4).max(RESCORED) } else { k };
        let mut ranked = self.rank(keyword, &matched, query_vector, dense, pool, config);
        if boost {
            for (i, score) in &mut ranked {
                if *score > 0.0 && self.docs[*i].names.iter().any(|t| names.contains(t)) {
                    *score *= 1.0 + config.name_boost;
                }
            }
            ranked.sort_by(|a, b| self.order(a, b));
            ranked.truncate(k);
        }
        ranked
            .into_iter()
            .map(|(i, s)| (self.docs[i].id.clone(), s))
            .collect()
    }

    /// The ranking behind [`Index::search`]: `keyword` scores rank, `matched` (the question's
    /// own words) and the cosines decide who qualifies. Slots and scores, best first.
    fn rank(
        &self,
        keyword: &[f32],
        matched: &[f32],
        query_vector: Option<&[f32]>,
        mut dense: Option<Vec<f32>>,
        k: usize,
        config: &RankConfig,
    ) -> Vec<(usize, f32)> {
        let n = self.docs.len();
        let weight = if dense.is_some() {
            config.dense_weight
        } else {
            0.0
        };
        let alive = |i: usize| self.docs[i].alive;
        let keyword_scale = Scale::of((0..n).filter(|&i| alive(i)).map(|i| keyword[i]));
        let dense_scale = dense
            .as_ref()
            .map(|d| Scale::of((0..n).filter(|&i| alive(i)).map(|i| d[i])));
        let fuse = |i: usize, cosine: f32| {
            let d = dense_scale.map_or(0.0, |scale| scale.apply(cosine));
            weight * d + (1.0 - weight) * keyword_scale.apply(keyword[i])
        };
        let share = config.neighbour_share;
        // A memory qualifies by sharing a word with the question or by meaning.
        let qualifies = |i: usize, dense: &Option<Vec<f32>>, slack: f32| {
            matched[i] > 0.0
                || dense
                    .as_ref()
                    .is_some_and(|d| d[i] >= config.dense_floor - slack)
        };
        // A memory's score plus a share of its neighbours' mean score, all from `cosines`.
        let score = |i: usize, cosines: &Option<Vec<f32>>| {
            let own = fuse(i, cosines.as_ref().map_or(0.0, |d| d[i]));
            if share <= 0.0 {
                return own;
            }
            let (sum, count) =
                self.neighbours(i)
                    .into_iter()
                    .flatten()
                    .fold((0.0, 0.0), |(sum, count), j| {
                        (
                            sum + fuse(j, cosines.as_ref().map_or(0.0, |d| d[j])),
                            count + 1.0,
                        )
                    });
            if count == 0.0 {
                own
            } else {
                own + share * sum / count
            }
        };
        // Neighbours move scores, never qualify a memory: one told in the same sitting about
        // something else stays out of the prompt.
        let eligible =
            |i: usize, dense: &Option<Vec<f32>>, slack: f32| alive(i) && qualifies(i, dense, slack);
        let mut scored: Vec<(usize, f32)> = (0..n)
            .filter(|&i| eligible(i, &dense, QUANTIZATION_SLACK))
            .map(|i| (i, score(i, &dense)))
            .collect();
        let order = |a: &(usize, f32), b: &(usize, f32)| self.order(a, b);
        let top = |scored: &mut Vec<(usize, f32)>, k: usize| {
            if scored.len() > k {
                scored.select_nth_unstable_by(k - 1, order);
                scored.truncate(k);
            }
        };
        if let (Some(q), Some(cosines)) = (query_vector, dense.as_mut()) {
            // Rescore the best candidates with exact cosines (and the exact floor); with a
            // neighbour share, their neighbours' cosines are made exact too.
            top(&mut scored, (k * 4).max(RESCORED));
            for i in scored.iter().map(|&(i, _)| i).collect::<Vec<_>>() {
                let around = if share > 0.0 {
                    self.neighbours(i)
                } else {
                    [None, None]
                };
                for j in std::iter::once(i).chain(around.into_iter().flatten()) {
                    let start = j * self.dim;
                    cosines[j] = dot(&self.vectors[start..start + self.dim], q);
                }
            }
            let dense = Some(std::mem::take(cosines));
            scored.retain_mut(|(i, exact)| {
                *exact = score(*i, &dense);
                eligible(*i, &dense, 0.0)
            });
        }
        top(&mut scored, k);
        scored.sort_by(order);
        scored
    }

    /// Ranking order of two (slot, score) pairs: the higher score first, then the newer.
    fn order(&self, a: &(usize, f32), b: &(usize, f32)) -> std::cmp::Ordering {
        b.1.total_cmp(&a.1)
            .then_with(|| self.docs[b.0].created.cmp(&self.docs[a.0].created))
    }

    /// The query's known terms (each once), weight 1.
    fn query_terms(&self, query: &str) -> Vec<(u32, f32)> {
        let mut terms: Vec<(u32, f32)> = Vec::new();
        for word in tokens(query) {
            if let Some(&term) = self.vocabulary.get(&word)
                && !terms.iter().any(|&(t, _)| t == term)
            {
                terms.push((term, 1.0));
            }
        }
        terms
    }

    /// The live memories saved right before and after slot `i`, if within
    /// [`NEIGHBOUR_WINDOW`] of it.
    fn neighbours(&self, i: usize) -> [Option<usize>; 2] {
        let created = self.docs[i].created;
        let near = |j: usize| {
            let doc = &self.docs[j];
            (doc.alive && (doc.created - created).abs() <= NEIGHBOUR_WINDOW).then_some(j)
        };
        let before = (0..i).rev().find(|&j| self.docs[j].alive).and_then(near);
        let after = (i + 1..self.docs.len())
            .find(|&j| self.docs[j].alive)
            .and_then(near);
        [before, after]
    }

    /// Cosines of every slot with `query`, from the 8-bit vectors.
    fn approximate_cosines(&self, query: &[f32]) -> Vec<f32> {
        let mut quantized_query = vec![0; query.len()];
        let query_scale = quantize(query, &mut quantized_query);
        self.quantized
            .chunks_exact(self.dim)
            .zip(&self.scales)
            .map(|(v, scale)| dot_i8(v, &quantized_query) as f32 * scale * query_scale)
            .collect()
    }

    /// BM25 of every slot for weighted terms.
    fn bm25(&self, terms: &[(u32, f32)], config: &RankConfig) -> Vec<f32> {
        let n = self.len() as f32;
        let avg = (self.total_len as f32 / n).max(1.0);
        let mut scores = vec![0.0f32; self.docs.len()];
        for &(term, weight) in terms {
            let Some(docs) = self.postings.get(&term) else {
                continue;
            };
            let df = docs.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(d, count) in docs {
                let doc = &self.docs[d as usize];
                let tf = count as f32;
                let norm = config.k1 * (1.0 - config.b + config.b * doc.len as f32 / avg);
                scores[d as usize] += weight * idf * tf * (config.k1 + 1.0) / (tf + norm);
            }
        }
        scores
    }
}

/// How many of the best hits lend their words to the query (pseudo-relevance feedback).
const FEEDBACK_DOCS: usize = 3;
/// Words found in more than this share of the memories are not lent.
const FEEDBACK_MAX_SHARE: f32 = 0.25;

/// Memories saved this close together count as neighbours (one conversation).
const NEIGHBOUR_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Candidates whose approximate cosine is this close under the floor are still checked.
const QUANTIZATION_SLACK: f32 = 0.02;
/// How many of the best candidates by approximate cosine get their exact one (at least).
const RESCORED: usize = 64;

/// Writes `v` scaled to -127..=127 by its largest magnitude into `out` (as long as `v`);
/// returns the scale back.
fn quantize(v: &[f32], out: &mut [i8]) -> f32 {
    let largest = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if largest == 0.0 || !largest.is_finite() {
        out.fill(0);
        return 0.0;
    }
    let scale = largest / 127.0;
    for (q, x) in out.iter_mut().zip(v) {
        *q = (x / scale).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

/// An integer dot product; integer sums may be reordered, so the compiler vectorises it.
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum()
}

/// A dot product the compiler vectorises: eight independent partial sums (a plain
/// `zip().sum()` over floats must add in order, so it stays scalar).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let len = a.len().min(b.len());
    let (a_main, a_rest) = a[..len].as_chunks::<LANES>();
    let (b_main, b_rest) = b[..len].as_chunks::<LANES>();
    let mut sums = [0.0f32; LANES];
    for (x, y) in a_main.iter().zip(b_main) {
        for ((sum, x), y) in sums.iter_mut().zip(x).zip(y) {
            *sum += x * y;
        }
    }
    let rest: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    sums.iter().sum::<f32>() + rest
}

/// Min-max scaling to 0..=1 (everything 0 when all scores are equal).
#[derive(Clone, Copy, Debug)]
struct Scale {
    lo: f32,
    range: f32,
}

impl Scale {
    fn of(scores: impl Iterator<Item = f32>) -> Self {
        let (lo, hi) = scores.fold((f32::MAX, f32::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
        Self { lo, range: hi - lo }
    }

    fn apply(self, score: f32) -> f32 {
        if self.range <= f32::EPSILON {
            0.0
        } else {
            (score - self.lo) / self.range
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        format!("2026-01-{day:02}T00:00:00Z").parse().unwrap()
    }

    /// `m` minutes into day 1.
    fn minutes(m: i64) -> DateTime<Utc> {
        at(1) + chrono::TimeDelta::minutes(m)
    }

    /// The ids of `hits`, best first.
    fn ids(hits: Vec<(String, f32)>) -> Vec<String> {
        hits.into_iter().map(|(id, _)| id).collect()
    }

    /// The ranking without feedback, so only the neighbour share moves scores.
    fn without_feedback() -> RankConfig {
        RankConfig {
            feedback: 0.0,
            ..RankConfig::default()
        }
    }

    #[test]
    fn keywords_rank_and_floor_filters() {
        let mut index = Index::new(0);
        index.add("m1", "My sister Ana lives in Lisbon", at(1), None);
        index.add("m2", "I am allergic to peanuts", at(2), None);
        index.add("m3", "Peanuts and peanut butter make me sick", at(3), None);
        let hits = index.search(
            "Where does my sister live?",
            None,
            5,
            &RankConfig::default(),
        );
        assert_eq!(hits[0].0, "m1");
        assert_eq!(hits.len(), 1, "unrelated memories stay out: {hits:?}");
        let hits = index.search("any allergies to peanuts?", None, 5, &RankConfig::default());
        assert_eq!(hits.len(), 2);
        assert!(
            index
                .search("quantum chromodynamics", None, 5, &RankConfig::default())
                .is_empty()
        );
    }

    #[test]
    fn dense_scores_fuse_with_keywords_and_recency_breaks_ties() {
        let mut index = Index::new(2);
        index.add("old", "likes tea", at(1), Some(&[1.0, 0.0]));
        index.add("new", "likes tea", at(5), Some(&[1.0, 0.0]));
        index.add("far", "owns a bike", at(3), Some(&[0.0, 1.0]));
        let hits = index.search("tea", Some(&[1.0, 0.0]), 3, &RankConfig::default());
        let ids: Vec<&str> = hits.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["new", "old"], "the far one is below the floor");
        // Meaning alone can bring a memory back.
        let hits = index.search("bicycle", Some(&[0.0, 1.0]), 3, &RankConfig::default());
        assert_eq!(hits[0].0, "far");
    }

    #[test]
    fn removing_and_replacing_is_incremental_and_matches_a_fresh_index() {
        let mut index = Index::new(2);
        for i in 0..200u32 {
            let text = format!("note {i} about topic{} and tea", i % 7);
            index.add(
                &format!("m{i}"),
                &text,
                at(1 + i % 28),
                Some(&[1.0, i as f32 / 200.0]),
            );
        }
        // Remove most of them (compaction runs along the way) and replace one.
        for i in 0..150u32 {
            assert!(index.remove(&format!("m{i}")));
        }
        assert!(!index.remove("m3"), "already gone");
        index.add("m160", "a new text about coffee", at(2), Some(&[0.0, 1.0]));
        assert_eq!(index.len(), 50);
        assert!(index.contains("m160") && !index.contains("m10"));

        let mut fresh = Index::new(2);
        for i in 150..200u32 {
            let (text, vector) = if i == 160 {
                ("a new text about coffee".to_owned(), [0.0, 1.0])
            } else {
                (
                    format!("note {i} about topic{} and tea", i % 7),
                    [1.0, i as f32 / 200.0],
                )
            };
            fresh.add(&format!("m{i}"), &text, at(1 + i % 28), Some(&vector));
        }
        let config = RankConfig::default();
        for (query, vector) in [("topic3 tea", [1.0, 0.9]), ("coffee", [0.0, 1.0])] {
            assert_eq!(
                index.search(query, Some(&vector), 10, &config),
                fresh.search(query, Some(&vector), 10, &config),
                "query {query}"
            );
        }
        assert_eq!(index.search("coffee", None, 5, &config)[0].0, "m160");
        assert!(
            index
                .search("note 7", None, 5, &config)
                .iter()
                .all(|(id, _)| id != "m7")
        );
    }

    #[test]
    fn eight_bit_cosines_are_close_and_the_top_is_exact() {
        let mut state = 7u32;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 2001) as f32 / 1000.0 - 1.0
        };
        let unit = |v: Vec<f32>| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
        };
        let vectors: Vec<Vec<f32>> = (0..300)
            .map(|_| unit((0..64).map(|_| random()).collect()))
            .collect();
        let mut index = Index::new(64);
        for (i, v) in vectors.iter().enumerate() {
            index.add(&format!("m{i}"), "", at(1), Some(v));
        }
        let query = unit((0..64).map(|_| random()).collect());
        for (approx, v) in index.approximate_cosines(&query).iter().zip(&vectors) {
            assert!((approx - dot(v, &query)).abs() < 0.01, "{approx}");
        }
        // Dense only, no neighbours: the ranking is the exact cosine order.
        let config = RankConfig {
            dense_weight: 1.0,
            dense_floor: -1.0,
            neighbour_share: 0.0,
            ..RankConfig::default()
        };
        let hits = index.search("", Some(&query), 10, &config);
        let mut exact: Vec<(usize, f32)> =
            vectors.iter().map(|v| dot(v, &query)).enumerate().collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let expected: Vec<String> = exact[..10].iter().map(|(i, _)| format!("m{i}")).collect();
        let got: Vec<String> = hits.into_iter().map(|(id, _)| id).collect();
        assert_eq!(got, expected);
    }

    /// A memory saved right next to one that matches the question well (same sitting) ranks
    /// above an equally matching one saved on its own; a neighbour saved hours later, or one
    /// that does not match the question at all, gets nothing and stays out.
    #[test]
    fn neighbours_lend_a_share_of_their_score_but_never_qualify_a_memory() {
        let mut index = Index::new(0);
        // Two memories that match "bike" alike; the first sits next to a strong match.
        index.add("strong", "bike bike trip to Busan bike", minutes(0), None);
        index.add("near", "the bike was red", minutes(1), None);
        index.add("unrelated", "likes green tea", minutes(2), None);
        index.add("alone", "the bike was blue", minutes(300), None);
        let config = without_feedback();
        assert_eq!(
            ids(index.search("bike", None, 10, &config)),
            ["strong", "near", "alone"],
            "the neighbour of the strong match first; the tea memory is not found"
        );
        let without = RankConfig {
            neighbour_share: 0.0,
            ..config
        };
        // Without the share, the tie between "near" and "alone" goes to the newer one.
        assert_eq!(
            ids(index.search("bike", None, 10, &without)),
            ["strong", "alone", "near"]
        );
    }

    /// A corrected memory (added again under its id) keeps its slot and so its neighbours;
    /// appended at the end it would sit next to the newest memory instead.
    #[test]
    fn a_corrected_memory_keeps_its_neighbours() {
        let mut index = Index::new(2);
        index.add(
            "strong",
            "bike bike trip to Busan bike",
            minutes(0),
            Some(&[1.0, 0.0]),
        );
        index.add("near", "the bike was green", minutes(1), Some(&[1.0, 0.0]));
        index.add(
            "alone",
            "the bike was blue",
            minutes(300),
            Some(&[0.0, 1.0]),
        );
        index.add("near", "the bike was red", minutes(1), Some(&[0.0, 1.0]));
        let config = without_feedback();
        assert_eq!(
            ids(index.search("bike", None, 10, &config)),
            ["strong", "near", "alone"],
            "the corrected memory still sits next to the strong match"
        );
        assert_eq!(index.len(), 3);
        // Its old words and vector are gone, its new ones found.
        assert!(index.search("green", None, 10, &config).is_empty());
        assert_eq!(ids(index.search("red", None, 10, &config)), ["near"]);
        let by_meaning = RankConfig {
            dense_floor: 0.9,
            neighbour_share: 0.0,
            ..config
        };
        let mut found = ids(index.search("sofa", Some(&[0.0, 1.0]), 10, &by_meaning));
        found.sort();
        assert_eq!(found, ["alone", "near"]);
    }

    /// The words of the best hits count a little in a second pass: of two memories that
    /// share one word with the question, the one that also shares words with the best hit
    /// ranks first. Those words never bring in a memory that shares nothing with the question.
    #[test]
    fn the_best_hits_words_lift_related_memories_but_find_nothing_new() {
        let mut index = Index::new(0);
        index.add(
            "best",
            "Mina plays violin in the Busan youth orchestra",
            at(1),
            None,
        );
        index.add(
            "related",
            "Mina practises with the orchestra every Sunday",
            at(2),
            None,
        );
        index.add("other", "Mina likes spicy ramen", at(3), None);
        index.add("stray", "the orchestra tickets cost too much", at(4), None);
        // Other memories, so that "orchestra" is not among the person's most common words.
        for (i, filler) in [
            "walks the dog",
            "flat in Seoul",
            "allergic to peanuts",
            "drives a Kia",
            "reads sci-fi",
            "works at a bakery",
            "birthday in June",
            "owns a kayak",
        ]
        .iter()
        .enumerate()
        {
            index.add(&format!("f{i}"), filler, at(5 + i as u32), None);
        }
        let config = RankConfig {
            neighbour_share: 0.0,
            ..RankConfig::default()
        };
        let hits = index.search("Mina violin", None, 10, &config);
        let ids: Vec<&str> = hits.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["best", "related", "other"], "{hits:?}");
        let without = RankConfig {
            feedback: 0.0,
            ..config
        };
        let hits = index.search("Mina violin", None, 10, &without);
        let ids: Vec<&str> = hits.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            ["best", "other", "related"],
            "newer first on a tie: {hits:?}"
        );
    }

    #[test]
    fn an_index_without_vectors_takes_the_first_ones_dimension() {
        let mut index = Index::new(0);
        index.add("old", "likes tea", at(1), None);
        index.add("new", "owns a bike", at(2), Some(&[0.0, 1.0]));
        let hits = index.search("bicycle", Some(&[0.0, 1.0]), 3, &RankConfig::default());
        assert_eq!(hits[0].0, "new", "found by meaning alone");
        assert_eq!(
            index.search("tea", None, 3, &RankConfig::default())[0].0,
            "old"
        );
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn the_dot_product_matches_the_plain_sum() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-5);
    }

    #[test]
    fn korean_words_become_bigrams_so_particles_do_not_hide_them() {
        assert_eq!(tokens("이름은"), ["이름", "름은"]);
        assert!(tokens("고양이 이름이 뭐였지?").contains(&"이름".to_owned()));
        assert_eq!(tokens("서울에 iPhone이"), ["서울", "울에", "iphon", "이"]);
    }

    #[test]
    fn a_name_the_question_names_puts_what_mentions_it_first() {
        let mut index = Index::new(0);
        // Anna is in most memories (what she said, in a chat log), so keywords give her
        // name little weight; Tom's memory shares more of the question's other words.
        for (n, text) in [
            "Anna: good morning, of course",
            "Anna: see you at the course dinner",
            "Anna: the weather is nice",
            "Anna: thanks for the book",
            "Anna: I signed up for pottery",
            "Tom: the pottery course runs until May",
        ]
        .iter()
        .enumerate()
        {
            // A day apart, so no memory is another's neighbour.
            index.add(&format!("m{n}"), text, at(n as u32 + 1), None);
        }
        let first = |query: &str, name_boost: f32| {
            let config = RankConfig {
                name_boost,
                ..without_feedback()
            };
            index.search(query, None, 3, &config)[0].0.clone()
        };
        assert_eq!(first("Which pottery course is Anna taking?", 0.0), "m5");
        assert_eq!(first("Which pottery course is Anna taking?", 0.5), "m4");
        // A word in lowercase is not a name, nor is a question's first word.
        assert_eq!(first("which pottery course is anna taking?", 0.5), "m5");
        assert_eq!(first("Anna: which pottery course?", 0.5), "m5");
        // The name only re-orders what the question finds: the same memories either way.
        let found = |name_boost: f32| {
            let config = RankConfig {
                name_boost,
                ..without_feedback()
            };
            let mut ids: Vec<String> = index
                .search("Which pottery course is Anna taking?", None, 10, &config)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(found(0.0), found(0.5));
    }

    #[test]
    fn tokens_drop_stopwords_and_stem() {
        assert_eq!(tokens("What are my sisters' names?"), ["sister", "name"]);
        assert_eq!(tokens("안녕 세계"), ["안녕", "세계"]);
    }
}
