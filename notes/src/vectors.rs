//! Passage vectors: what the embedding model made of each passage, cached on disk by the
//! hash of the text it embedded, so an unchanged passage (also one that moved to another
//! note, or a note that was renamed) is never embedded twice.
//!
//! The cache belongs to one model: its file starts with the model's name, and opening it for
//! another model starts an empty one, so two models' vectors are never compared. It is a
//! cache, not a record of anything a user said: a lost tail (a crash mid-write) is cut off on
//! open and those passages are embedded again.
//!
//! Layout of `DATA_DIR/notes/vectors.bin`: the line `hearth-vectors 1`, the model's name on a
//! line, then records of `hash: u64, dims: u32, dims × f32`, little-endian, appended as
//! passages are embedded. Records nobody refers to any more are dropped by rewriting the
//! file once they are a good part of it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use crate::NotesError;

const MAGIC: &[u8] = b"hearth-vectors 1\n";

/// The passage vectors of one model.
pub struct Vectors {
    path: PathBuf,
    model: String,
    state: RwLock<State>,
}

/// Every vector in one block of memory (no allocation per passage), found by hash, each
/// stored as signed bytes with one scale (`x ≈ byte × scale`): a quarter of the memory of
/// f32, and a quarter of the bytes a search reads, for a cosine error far below the gaps
/// between passages (the notes benchmark ranks the same with either).
#[derive(Default)]
struct Arena {
    at: HashMap<u64, Slot>,
    data: Vec<i8>,
}

#[derive(Clone, Copy)]
struct Slot {
    start: u32,
    len: u32,
    scale: f32,
}

impl Arena {
    /// Adds or replaces; true when it replaced one (whose space stays until [`Arena::compact`]).
    fn insert(&mut self, hash: u64, vector: &[f32]) -> bool {
        let start = self.data.len() as u32;
        let scale = quantize(vector, &mut self.data);
        let slot = Slot {
            start,
            len: vector.len() as u32,
            scale,
        };
        self.at.insert(hash, slot).is_some()
    }

    fn bytes(&self, slot: Slot) -> &[i8] {
        self.data
            .get(slot.start as usize..(slot.start + slot.len) as usize)
            .unwrap_or_default()
    }

    fn contains(&self, hash: u64) -> bool {
        self.at.contains_key(&hash)
    }

    fn cosine(&self, hash: u64, query: &Query) -> Option<f32> {
        let slot = *self.at.get(&hash)?;
        Some(dot_bytes(&query.bytes, self.bytes(slot)) as f32 * slot.scale * query.scale)
    }

    fn get(&self, hash: u64) -> Option<Vec<f32>> {
        let slot = *self.at.get(&hash)?;
        Some(
            self.bytes(slot)
                .iter()
                .map(|b| f32::from(*b) * slot.scale)
                .collect(),
        )
    }

    fn len(&self) -> usize {
        self.at.len()
    }

    fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        self.at.retain(|hash, _| keep(*hash));
    }

    fn hashes(&self) -> Vec<u64> {
        self.at.keys().copied().collect()
    }

    /// Drops the space of replaced and forgotten vectors.
    fn compact(&mut self) {
        let mut data = Vec::with_capacity(self.at.values().map(|s| s.len as usize).sum());
        for slot in self.at.values_mut() {
            let start = data.len() as u32;
            data.extend_from_slice(
                self.data
                    .get(slot.start as usize..(slot.start + slot.len) as usize)
                    .unwrap_or_default(),
            );
            slot.start = start;
        }
        self.data = data;
    }
}

/// Appends `vector` to `out` as signed bytes and returns their scale (`x ≈ byte × scale`).
fn quantize(vector: &[f32], out: &mut Vec<i8>) -> f32 {
    let largest = vector.iter().fold(0.0_f32, |m, x| m.max(x.abs()));
    let scale = if largest > 0.0 && largest.is_finite() {
        largest / 127.0
    } else {
        1.0
    };
    out.extend(
        vector
            .iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
    );
    scale
}

struct State {
    map: Arena,
    /// Records in the file that a later one replaced or nobody refers to.
    stale: usize,
    file: Option<BufWriter<File>>,
}

fn header(model: &str) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(model.replace('\n', " ").as_bytes());
    out.push(b'\n');
    out
}

/// Reads the records after the header; returns them and where the last whole one ends.
fn records(bytes: &[u8]) -> (Arena, usize, usize) {
    let mut map = Arena::default();
    let mut at = 0;
    let mut stale = 0;
    while let Some(head) = bytes.get(at..at + 12) {
        let hash = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
        let dims = u32::from_le_bytes(head[8..12].try_into().unwrap_or_default()) as usize;
        let Some(body) = dims
            .checked_mul(4)
            .and_then(|len| bytes.get(at + 12..at + 12 + len))
        else {
            break;
        };
        let vector: Vec<f32> = body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if map.insert(hash, &vector) {
            stale += 1;
        }
        at += 12 + body.len();
    }
    (map, at, stale)
}

fn record(out: &mut Vec<u8>, hash: u64, vector: &[f32]) {
    out.extend(hash.to_le_bytes());
    out.extend((vector.len() as u32).to_le_bytes());
    for x in vector {
        out.extend(x.to_le_bytes());
    }
}

impl Vectors {
    /// Opens the cache at `path` for `model` (its name as the embedder describes itself);
    /// a cache of another model, or a broken one, is replaced by an empty one.
    pub fn open(path: &Path, model: &str) -> Result<Self, NotesError> {
        Self::open_as(path, model, true)
    }

    /// Opens the cache to read only, changing nothing on disk (another process, the running
    /// bot, may be writing it: a torn tail is its record in the making, not cut off).
    pub fn open_read_only(path: &Path, model: &str) -> Result<Self, NotesError> {
        Self::open_as(path, model, false)
    }

    fn open_as(path: &Path, model: &str, writable: bool) -> Result<Self, NotesError> {
        let head = header(model);
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut file) => {
                file.read_to_end(&mut bytes)
                    .map_err(|e| NotesError::io(path, e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(NotesError::io(path, e)),
        }
        let (map, stale, keep) = if bytes.starts_with(&head) {
            let (map, end, stale) = records(&bytes[head.len()..]);
            if writable && head.len() + end < bytes.len() {
                tracing::warn!(path = %path.display(), "the notes vector cache ends in a broken record (a crash while writing?); those passages will be embedded again");
            }
            (map, stale, head.len() + end)
        } else {
            if writable && !bytes.is_empty() {
                tracing::info!(path = %path.display(), model, "the notes vector cache was made by another embedding model; the notes will be embedded again (keyword search serves meanwhile)");
            }
            (Arena::default(), 0, 0)
        };
        if !writable {
            return Ok(Self {
                path: path.to_path_buf(),
                model: model.to_owned(),
                state: RwLock::new(State {
                    map,
                    stale,
                    file: None,
                }),
            });
        }
        let file = (|| -> std::io::Result<File> {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path)?;
            file.set_len(keep as u64)?;
            if keep == 0 {
                file.write_all(&head)?;
            }
            use std::io::Seek as _;
            file.seek(std::io::SeekFrom::End(0))?;
            Ok(file)
        })()
        .map_err(|e| NotesError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            model: model.to_owned(),
            state: RwLock::new(State {
                map,
                stale,
                file: Some(BufWriter::new(file)),
            }),
        })
    }

    /// The model the vectors are of.
    pub fn model(&self) -> &str {
        &self.model
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The vectors, for reading many at once.
    pub fn read(&self) -> VectorsRead<'_> {
        VectorsRead(self.state.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many passages have a vector.
    pub fn len(&self) -> usize {
        self.read().0.map.len()
    }

    /// Whether no passage has a vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds vectors, writing them to the file first.
    pub fn insert(&self, vectors: Vec<(u64, Vec<f32>)>) -> Result<(), NotesError> {
        let mut raw = Vec::new();
        for (hash, vector) in &vectors {
            record(&mut raw, *hash, vector);
        }
        let mut state = self.write();
        let Some(file) = state.file.as_mut() else {
            return Err(NotesError::Index(
                "the notes vectors were opened to read only".into(),
            ));
        };
        file.write_all(&raw)
            .and_then(|()| file.flush())
            .map_err(|e| NotesError::io(&self.path, e))?;
        for (hash, vector) in vectors {
            if state.map.insert(hash, &vector) {
                state.stale += 1;
            }
        }
        Ok(())
    }

    /// Forgets the vectors of passages not in `live`, and rewrites the file when those make
    /// up a good part of it.
    pub fn retain(&self, live: &HashSet<u64>) -> Result<(), NotesError> {
        let mut state = self.write();
        if state.file.is_none() {
            return Ok(());
        }
        let before = state.map.len();
        state.map.retain(|hash| live.contains(&hash));
        state.stale += before - state.map.len();
        if state.stale <= 1_000.max(state.map.len() / 4) {
            // The block grew by doubling while a pass appended: give back the slack.
            state.map.data.shrink_to_fit();
            return Ok(());
        }
        state.map.compact();
        let mut raw = header(&self.model);
        for hash in state.map.hashes() {
            if let Some(vector) = state.map.get(hash) {
                record(&mut raw, hash, &vector);
            }
        }
        let tmp = self.path.with_extension("bin.tmp");
        let rewrite = || -> std::io::Result<File> {
            std::fs::write(&tmp, &raw)?;
            std::fs::rename(&tmp, &self.path)?;
            std::fs::OpenOptions::new().append(true).open(&self.path)
        };
        state.file = None;
        let file = rewrite().map_err(|e| NotesError::io(&self.path, e))?;
        state.file = Some(BufWriter::new(file));
        state.stale = 0;
        Ok(())
    }

    /// The size of the file in bytes (for `hearth notes status`).
    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }
}

/// Read access to the vectors (a read lock: searches run side by side, inserts wait).
pub struct VectorsRead<'a>(RwLockReadGuard<'a, State>);

impl VectorsRead<'_> {
    /// Whether the passage with text hash `hash` has a vector.
    pub fn contains(&self, hash: u64) -> bool {
        self.0.map.contains(hash)
    }

    /// The cosine of the passage's vector with `query`, if it has one.
    pub fn cosine(&self, hash: u64, query: &Query) -> Option<f32> {
        self.0.map.cosine(hash, query)
    }

    /// The passage's vector (as stored: to within 1/254 of its largest component).
    pub fn get(&self, hash: u64) -> Option<Vec<f32>> {
        self.0.map.get(hash)
    }
}

/// A question's vector stored like the passages' (bytes and a scale), so a cosine is a sum
/// of integer products.
pub struct Query {
    bytes: Vec<i8>,
    scale: f32,
}

impl Query {
    /// The question's vector.
    pub fn new(vector: &[f32]) -> Self {
        let mut bytes = Vec::with_capacity(vector.len());
        let scale = quantize(vector, &mut bytes);
        Self { bytes, scale }
    }
}

/// The integer dot product of two stored vectors. Sixteen running sums, so the compiler uses
/// SIMD lanes: a search computes tens of thousands of these.
fn dot_bytes(a: &[i8], b: &[i8]) -> i32 {
    let (a16, b16) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = a16
        .remainder()
        .iter()
        .zip(b16.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    let mut sums = [0_i32; 16];
    for (x, y) in a16.zip(b16) {
        for i in 0..16 {
            sums[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    sums.iter().sum::<i32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_survive_reopening_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        let vectors = Vectors::open(&path, "model-a").unwrap();
        vectors
            .insert(vec![(1, vec![1.0, 0.0]), (2, vec![0.0, 1.0])])
            .unwrap();
        drop(vectors);
        // A crash in the middle of a record.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&3u64.to_le_bytes()).unwrap();
        drop(file);
        let vectors = Vectors::open(&path, "model-a").unwrap();
        assert_eq!(vectors.len(), 2);
        assert!(close(vectors.read().get(2), &[0.0, 1.0]));
        vectors.insert(vec![(3, vec![0.5, 0.5])]).unwrap();
        drop(vectors);
        let vectors = Vectors::open(&path, "model-a").unwrap();
        assert_eq!(vectors.len(), 3, "the record after the cut is whole");
        assert!(close(vectors.read().get(3), &[0.5, 0.5]));
    }

    /// Whether `a` is `b` to within the storage's rounding.
    fn close(a: Option<Vec<f32>>, b: &[f32]) -> bool {
        a.is_some_and(|a| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 0.01))
    }

    #[test]
    fn stored_bytes_give_the_cosine_of_the_vectors() {
        let unit = |v: Vec<f32>| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let a = unit((0..21).map(|i| (i as f32 * 0.7).sin()).collect());
        let b = unit((0..21).map(|i| (i as f32 * 0.3).cos()).collect());
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let mut arena = Arena::default();
        arena.insert(1, &b);
        let cosine = arena.cosine(1, &Query::new(&a)).unwrap();
        assert!((cosine - plain).abs() < 0.01, "{cosine} vs {plain}");
        arena.insert(2, &[0.0; 4]);
        assert_eq!(arena.cosine(2, &Query::new(&[0.5; 4])), Some(0.0));
        assert!(arena.cosine(3, &Query::new(&a)).is_none());
    }

    #[test]
    fn a_reader_changes_nothing_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        let vectors = Vectors::open(&path, "m").unwrap();
        vectors.insert(vec![(1, vec![1.0])]).unwrap();
        let mut torn = std::fs::read(&path).unwrap();
        torn.extend(7u64.to_le_bytes());
        std::fs::write(&path, &torn).unwrap();
        let reader = Vectors::open_read_only(&path, "m").unwrap();
        assert!(close(reader.read().get(1), &[1.0]));
        assert!(reader.insert(vec![(2, vec![2.0])]).is_err());
        assert!(Vectors::open_read_only(&path, "other").unwrap().is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), torn, "untouched");
    }

    #[test]
    fn another_model_starts_an_empty_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        let vectors = Vectors::open(&path, "model-a").unwrap();
        vectors.insert(vec![(1, vec![1.0, 0.0])]).unwrap();
        drop(vectors);
        let vectors = Vectors::open(&path, "model-b").unwrap();
        assert!(vectors.is_empty());
        vectors.insert(vec![(1, vec![0.0, 1.0, 0.0])]).unwrap();
        drop(vectors);
        let vectors = Vectors::open(&path, "model-b").unwrap();
        assert!(close(vectors.read().get(1), &[0.0, 1.0, 0.0]));
    }

    #[test]
    fn forgotten_passages_are_dropped_from_the_file_once_they_are_many() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        let vectors = Vectors::open(&path, "m").unwrap();
        vectors
            .insert((0..3_000u64).map(|h| (h, vec![h as f32])).collect())
            .unwrap();
        let before = vectors.file_size();
        let live: HashSet<u64> = (0..100).collect();
        vectors.retain(&live).unwrap();
        assert_eq!(vectors.len(), 100);
        assert!(vectors.file_size() < before / 10, "the file was rewritten");
        vectors.insert(vec![(5_000, vec![1.0])]).unwrap();
        drop(vectors);
        let vectors = Vectors::open(&path, "m").unwrap();
        assert_eq!(vectors.len(), 101);
        assert!(close(vectors.read().get(42), &[42.0]));
        assert!(vectors.read().get(200).is_none());
    }
}
