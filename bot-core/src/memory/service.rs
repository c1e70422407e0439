//! [`Memories`]: remember, search, list, forget and export one user's memories.

use std::collections::HashMap;
use std::sync::Arc;

use super::embed::{EmbedError, Embedder};
use super::index::{Index, RankConfig};
use super::{Memory, MemorySource, MemoryStore};
use crate::store::StoreError;
use crate::types::UserKey;

/// Memory settings.
#[derive(Clone, Debug)]
pub struct MemoryConfig {
    /// Longest memory, in characters.
    pub max_chars: usize,
    /// Memories considered for each prompt.
    pub prompt_memories: usize,
    /// Ranking settings.
    pub rank: RankConfig,
    /// Capture facts automatically after each exchange (users can still opt out).
    pub auto_capture: bool,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            max_chars: 500,
            prompt_memories: 8,
            rank: RankConfig::default(),
            auto_capture: true,
        }
    }
}

/// Why a memory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The text was empty.
    #[error("the memory text is empty")]
    Empty,
    /// The text was too long.
    #[error("the memory text has {chars} characters; the limit is {limit}")]
    TooLong {
        /// Characters given.
        chars: usize,
        /// The limit.
        limit: usize,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A memory found by a search.
#[derive(Clone, Debug)]
pub struct SearchHit {
    /// The memory (without its vector).
    pub memory: Memory,
    /// Fused relevance, 0..=1.
    pub score: f32,
}

/// One user's loaded index and the memories behind it, kept in step with every change
/// (remember, update, forget) rather than rebuilt.
struct Loaded(std::sync::RwLock<LoadedIndex>);

struct LoadedIndex {
    index: Index,
    memories: HashMap<String, Memory>,
}

impl Loaded {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, LoadedIndex> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, LoadedIndex> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The memory service. Cheap to share behind an `Arc`.
pub struct Memories {
    store: Arc<dyn MemoryStore>,
    embedder: Option<Arc<dyn Embedder>>,
    config: MemoryConfig,
    /// Loaded indexes of recently active users: bounded in count and dropped when idle,
    /// so memory use does not grow with the number of people who ever wrote.
    loaded: mini_moka::sync::Cache<UserKey, Arc<Loaded>>,
    clock: Arc<dyn crate::clock::Clock>,
    /// The embedding model's name, stamped on every vector it makes.
    model_id: Option<String>,
    /// People whose memories are being re-embedded in the background.
    reembedding: Arc<std::sync::Mutex<std::collections::HashSet<UserKey>>>,
}

/// How many users' indexes stay loaded at most.
const MAX_LOADED_USERS: u64 = 256;
/// How long an unused index stays loaded.
const LOADED_IDLE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

impl Memories {
    /// A service over `store`; without an embedder, retrieval is by keywords alone. A model
    /// with a relevance floor or dense weight of its own ([`Embedder::relevance_floor`],
    /// [`Embedder::dense_weight`]) sets the rank's.
    pub fn new(
        store: Arc<dyn MemoryStore>,
        embedder: Option<Arc<dyn Embedder>>,
        mut config: MemoryConfig,
    ) -> Self {
        if let Some(floor) = embedder.as_ref().and_then(|e| e.relevance_floor()) {
            config.rank.dense_floor = floor;
        }
        if let Some(weight) = embedder.as_ref().and_then(|e| e.dense_weight()) {
            config.rank.dense_weight = weight;
        }
        Self {
            model_id: embedder.as_ref().map(|e| e.describe()),
            reembedding: Arc::default(),
            store,
            embedder,
            config,
            loaded: mini_moka::sync::Cache::builder()
                .max_capacity(MAX_LOADED_USERS)
                .time_to_idle(LOADED_IDLE)
                .build(),
            clock: Arc::new(crate::clock::SystemClock),
        }
    }

    /// The same service reading the time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The settings.
    pub fn config(&self) -> &MemoryConfig {
        &self.config
    }

    /// The embedding model, if any.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    /// Checks and trims a memory text.
    pub fn validate(&self, text: &str) -> Result<String, MemoryError> {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let chars = text.chars().count();
        if chars == 0 {
            return Err(MemoryError::Empty);
        }
        if chars > self.config.max_chars {
            return Err(MemoryError::TooLong {
                chars,
                limit: self.config.max_chars,
            });
        }
        Ok(text)
    }

    /// Embeds texts off the async runtime; `None` without a model or on failure (logged).
    pub async fn embed(&self, texts: Vec<String>) -> Option<Vec<Vec<f32>>> {
        let embedder = Arc::clone(self.embedder.as_ref()?);
        let result = tokio::task::spawn_blocking(move || embedder.embed(&texts))
            .await
            .unwrap_or_else(|e| Err(EmbedError::Model(format!("embedding task failed: {e}"))));
        match result {
            Ok(vectors) => Some(vectors),
            Err(e) => {
                tracing::warn!(error = %e, "embedding failed; using keywords only");
                None
            }
        }
    }

    /// Writes `memory` durably and puts it into its owner's loaded index, if one is loaded.
    async fn persist(&self, memory: &Memory) -> Result<(), StoreError> {
        self.store.put_memory(memory).await?;
        self.store.flush().await?;
        if let Some(loaded) = self.loaded.get(&memory.owner) {
            let mut loaded = loaded.write();
            loaded.index.add(
                &memory.id,
                &memory.text,
                memory.created,
                memory
                    .embedding
                    .as_deref()
                    .filter(|_| self.is_current(memory)),
            );
            loaded
                .memories
                .insert(memory.id.clone(), without_vector(memory.clone()));
        }
        Ok(())
    }

    /// Whether `memory`'s vector comes from the current embedding model.
    fn is_current(&self, memory: &Memory) -> bool {
        memory.embedding.is_some()
            && memory.embedding_model.is_some()
            && memory.embedding_model == self.model_id
    }

    /// Stores a new memory and makes it durable before returning.
    pub async fn remember(
        &self,
        owner: &UserKey,
        text: &str,
        source: MemorySource,
    ) -> Result<Memory, MemoryError> {
        let text = self.validate(text)?;
        let embedding = self
            .embed(vec![text.clone()])
            .await
            .and_then(|mut v| v.pop());
        let embedding_model = embedding.as_ref().and(self.model_id.clone());
        let now = self.clock.now();
        let memory = Memory {
            id: self.store.next_id().await?,
            owner: owner.clone(),
            text,
            source,
            created: now,
            updated: now,
            embedding,
            embedding_model,
        };
        self.persist(&memory).await?;
        Ok(memory)
    }

    /// Like [`remember`](Self::remember), but a memory of `owner`'s with the very same text
    /// is returned instead of a second copy: `/remember` sent twice (or answered again after
    /// a crash, from the inbox) keeps one memory.
    pub async fn remember_once(
        &self,
        owner: &UserKey,
        text: &str,
        source: MemorySource,
    ) -> Result<Memory, MemoryError> {
        let wanted = self.validate(text)?;
        let known = self.store.memories(owner).await?;
        if let Some(same) = known.into_iter().find(|m| m.text == wanted) {
            return Ok(same);
        }
        self.remember(owner, text, source).await
    }

    /// Replaces the text of memory `id`; `None` when `owner` has no such memory.
    pub async fn update(
        &self,
        owner: &UserKey,
        id: &str,
        text: &str,
    ) -> Result<Option<Memory>, MemoryError> {
        let text = self.validate(text)?;
        let Some(mut memory) = self.store.memory(owner, id).await? else {
            return Ok(None);
        };
        memory.embedding = self
            .embed(vec![text.clone()])
            .await
            .and_then(|mut v| v.pop());
        memory.embedding_model = memory.embedding.as_ref().and(self.model_id.clone());
        memory.text = text;
        memory.updated = self.clock.now();
        self.persist(&memory).await?;
        Ok(Some(memory))
    }

    /// One memory.
    pub async fn get(&self, owner: &UserKey, id: &str) -> Result<Option<Memory>, MemoryError> {
        Ok(self.store.memory(owner, id).await?)
    }

    /// All of `owner`'s memories, oldest first.
    pub async fn list(&self, owner: &UserKey) -> Result<Vec<Memory>, MemoryError> {
        Ok(self.store.memories(owner).await?)
    }

    /// Deletes one memory, durably; false when there was none.
    pub async fn forget(&self, owner: &UserKey, id: &str) -> Result<bool, MemoryError> {
        let removed = self.store.remove_memory(owner, id).await?;
        self.store.flush().await?;
        if let Some(loaded) = self.loaded.get(owner) {
            let mut loaded = loaded.write();
            loaded.index.remove(id);
            loaded.memories.remove(id);
        }
        Ok(removed)
    }

    /// Deletes all of `owner`'s memories, durably; returns how many.
    pub async fn forget_all(&self, owner: &UserKey) -> Result<usize, MemoryError> {
        let removed = self.store.remove_all_memories(owner).await?;
        self.store.flush().await?;
        self.invalidate(owner);
        Ok(removed)
    }

    fn invalidate(&self, owner: &UserKey) {
        self.loaded.invalidate(owner);
    }

    async fn load(&self, owner: &UserKey) -> Result<Arc<Loaded>, MemoryError> {
        if let Some(loaded) = self.loaded.get(owner) {
            return Ok(loaded);
        }
        let memories = self.store.memories(owner).await?;
        // Only the current model's vectors are searched; the others' memories are found by
        // keywords until they are re-embedded in the background.
        let current = |m: &Memory| self.is_current(m);
        let dim = memories
            .iter()
            .filter(|m| current(m))
            .find_map(|m| m.embedding.as_ref().map(Vec::len))
            .unwrap_or(0);
        let mut index = Index::new(dim);
        for memory in &memories {
            index.add(
                &memory.id,
                &memory.text,
                memory.created,
                memory.embedding.as_deref().filter(|_| current(memory)),
            );
        }
        let stale: Vec<String> = memories
            .iter()
            .filter(|m| !current(m))
            .map(|m| m.id.clone())
            .collect();
        if self.embedder.is_some() && !stale.is_empty() {
            self.reembed_later(owner, stale);
        }
        let loaded = Arc::new(Loaded(std::sync::RwLock::new(LoadedIndex {
            index,
            // The index holds the vectors; the copies here are for the hits' text and dates.
            memories: memories
                .into_iter()
                .map(|m| (m.id.clone(), without_vector(m)))
                .collect(),
        })));
        self.loaded.insert(owner.clone(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Re-embeds `ids` of `owner` with the current model on a background task (one per person
    /// at a time), then drops their loaded index so the next search uses the new vectors.
    fn reembed_later(&self, owner: &UserKey, ids: Vec<String>) {
        let (Some(embedder), Some(model_id)) = (self.embedder.clone(), self.model_id.clone())
        else {
            return;
        };
        if !self
            .reembedding
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(owner.clone())
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::clone(&self.store);
        let loaded = self.loaded.clone();
        let reembedding = Arc::clone(&self.reembedding);
        let owner = owner.clone();
        tracing::info!(user = %owner, memories = ids.len(), model = %model_id, "re-embedding memories made by another model, in the background");
        runtime.spawn(async move {
            let done = reembed(&store, embedder, &model_id, &owner, &ids).await;
            match done {
                Ok(count) => {
                    tracing::info!(user = %owner, memories = count, "memories re-embedded")
                }
                Err(e) => tracing::warn!(error = %e, user = %owner, "re-embedding stopped"),
            }
            loaded.invalidate(&owner);
            reembedding
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&owner);
        });
    }

    /// Whether memories of `owner` are being re-embedded right now.
    pub fn is_reembedding(&self, owner: &UserKey) -> bool {
        self.reembedding
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(owner)
    }

    /// The `k` memories of `owner` most relevant to `query`, best first.
    pub async fn search(
        &self,
        owner: &UserKey,
        query: &str,
        k: usize,
    ) -> Result<Vec<SearchHit>, MemoryError> {
        let loaded = self.load(owner).await?;
        if loaded.read().index.is_empty() {
            return Ok(Vec::new());
        }
        let vector = self
            .embed(vec![query.to_owned()])
            .await
            .and_then(|mut v| v.pop());
        let loaded = loaded.read();
        let hits = loaded
            .index
            .search(query, vector.as_deref(), k, &self.config.rank);
        Ok(hits
            .into_iter()
            .filter_map(|(id, score)| {
                loaded.memories.get(&id).map(|m| SearchHit {
                    memory: m.clone(),
                    score,
                })
            })
            .collect())
    }
}

/// `memory` without its vector (search hits do not carry it).
fn without_vector(mut memory: Memory) -> Memory {
    memory.embedding = None;
    memory
}

/// Re-embeds `ids` of `owner` in batches, skipping memories changed or deleted meanwhile.
async fn reembed(
    store: &Arc<dyn MemoryStore>,
    embedder: Arc<dyn Embedder>,
    model_id: &str,
    owner: &UserKey,
    ids: &[String],
) -> Result<usize, String> {
    let mut count = 0;
    // Large calls: the embedder sorts each call's texts by length into batches of 32, so
    // the more texts per call, the less padding (BENCHMARKS.md).
    for batch in ids.chunks(256) {
        let mut memories = Vec::new();
        for id in batch {
            if let Some(memory) = store.memory(owner, id).await.map_err(|e| e.to_string())? {
                memories.push(memory);
            }
        }
        let texts: Vec<String> = memories.iter().map(|m| m.text.clone()).collect();
        let model = Arc::clone(&embedder);
        let vectors = tokio::task::spawn_blocking(move || model.embed(&texts))
            .await
            .map_err(|e| format!("embedding task failed: {e}"))?
            .map_err(|e| e.to_string())?;
        for (memory, vector) in memories.into_iter().zip(vectors) {
            // Written only if nobody changed it while it was being embedded.
            let Some(mut now) = store
                .memory(owner, &memory.id)
                .await
                .map_err(|e| e.to_string())?
            else {
                continue;
            };
            if now.updated != memory.updated || now.text != memory.text {
                continue;
            }
            now.embedding = Some(vector);
            now.embedding_model = Some(model_id.to_owned());
            store.put_memory(&now).await.map_err(|e| e.to_string())?;
            count += 1;
        }
        store.flush().await.map_err(|e| e.to_string())?;
    }
    Ok(count)
}
