//! Memory service tests: isolation as a property, and real embeddings.

use std::sync::Arc;

use proptest::prelude::*;

#[cfg(feature = "fastembed")]
use super::embed::{EmbedModelSource, Embedder, FastEmbedConfig, FastEmbedder};
use super::{Memories, MemoryConfig, MemorySource};
use crate::store::memory::InMemoryStore;
use crate::types::{Platform, UserKey};

/// The sled backend when it is built in, else memory again.
fn on_disk() -> Arc<dyn super::MemoryStore> {
    #[cfg(feature = "sled")]
    return Arc::new(
        crate::store::sled_store::SledStore::from_db(
            sled::Config::new().temporary(true).open().unwrap(),
        )
        .unwrap(),
    );
    #[cfg(not(feature = "sled"))]
    Arc::new(InMemoryStore::new())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random users remember random facts; no search or listing ever returns
    /// another user's memory, on either backend.
    #[test]
    fn searches_never_cross_users(
        facts in prop::collection::vec((0u8..6, "[a-z]{3,8}( [a-z]{3,8}){0,4}"), 1..40),
        queries in prop::collection::vec((0u8..6, "[a-z]{3,8}( [a-z]{3,8}){0,2}"), 1..10),
        sled in any::<bool>(),
    ) {
        let store: Arc<dyn super::MemoryStore> = if sled {
            on_disk()
        } else {
            Arc::new(InMemoryStore::new())
        };
        let memories = Memories::new(store, None, MemoryConfig::default());
        let user = |n: u8| UserKey::new(if n.is_multiple_of(2) { Platform::Telegram } else { Platform::Discord }, &format!("{}", n / 2 + 1));
        runtime().block_on(async {
            for (owner, text) in &facts {
                memories.remember(&user(*owner), text, MemorySource::Imported).await.unwrap();
            }
            for (asker, query) in &queries {
                let asker = user(*asker);
                for hit in memories.search(&asker, query, 50).await.unwrap() {
                    prop_assert_eq!(&hit.memory.owner, &asker);
                }
                // Asking with another user's exact fact text finds nothing of theirs.
                for (owner, text) in &facts {
                    for hit in memories.search(&asker, text, 50).await.unwrap() {
                        prop_assert_eq!(&hit.memory.owner, &asker, "fact of {:?} leaked", owner);
                    }
                }
                for memory in memories.list(&asker).await.unwrap() {
                    prop_assert_eq!(&memory.owner, &asker);
                }
            }
            Ok(())
        })?;
    }
}

/// The model and runtime that scripts/install-models.sh puts in models/.
#[cfg(feature = "fastembed")]
fn offline_embedder() -> FastEmbedder {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let config = FastEmbedConfig {
        ort_library: root.join("onnxruntime/libonnxruntime.so"),
        model: EmbedModelSource::Dir(root.join("minilm")),
        threads: 1,
        max_length: 256,
        cache_dir: root.join(".cache"),
    };
    FastEmbedder::load(&config)
        .unwrap_or_else(|e| panic!("{e}\n(the offline model is installed by scripts/install-models.sh; scripts/test.sh runs it)"))
}

#[cfg(feature = "fastembed")]
fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(feature = "fastembed")]
#[test]
fn real_embeddings_put_related_sentences_closer_than_unrelated_ones() {
    let embedder = offline_embedder();
    let texts: Vec<String> = [
        "My daughter is allergic to peanuts.",
        "Which foods should my child avoid because of her nut allergy?",
        "The train to Lisbon leaves at nine in the morning.",
        "I adopted a grey cat from the shelter last spring.",
        "How is my kitten doing?",
    ]
    .map(String::from)
    .to_vec();
    let v = embedder.embed(&texts).unwrap();
    assert_eq!(v[0].len(), 384);
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "unit length, got {norm}");
    assert!(
        cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2,
        "allergy pair vs train"
    );
    assert!(
        cosine(&v[3], &v[4]) > cosine(&v[3], &v[2]) + 0.2,
        "cat pair vs train"
    );
    assert!(cosine(&v[1], &v[0]) > cosine(&v[1], &v[3]));
    // Batching and order do not change vectors.
    let alone = embedder.embed(&texts[2..3]).unwrap();
    assert!(cosine(&alone[0], &v[2]) > 0.999);
}

#[cfg(feature = "fastembed")]
#[test]
fn a_missing_runtime_is_a_clear_error() {
    let config = FastEmbedConfig {
        ort_library: "/nonexistent/libonnxruntime.so".into(),
        model: EmbedModelSource::Dir("/nonexistent".into()),
        threads: 1,
        max_length: 256,
        cache_dir: "/tmp".into(),
    };
    let err = FastEmbedder::load(&config).err().expect("load fails");
    assert!(err.to_string().contains("install-models.sh"), "{err}");
}

/// A stand-in model: words hashed into 32 dimensions, mixed by `seed`, so two seeds are two
/// different models with vectors of the same size.
struct WordsEmbedder {
    seed: u64,
}

impl super::embed::Embedder for WordsEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, super::embed::EmbedError> {
        Ok(texts
            .iter()
            .map(|text| {
                let mut v = vec![0.0f32; 32];
                for word in text.split_whitespace() {
                    let h = word.bytes().fold(self.seed, |h, b| {
                        h.wrapping_mul(31).wrapping_add(u64::from(b))
                    });
                    v[(h % 32) as usize] += 1.0;
                }
                super::embed::normalized(v)
            })
            .collect())
    }

    fn describe(&self) -> String {
        format!("words-{}", self.seed)
    }
}

/// Switching the embedding model: the old model's vectors are never searched with the new
/// one's; keywords serve meanwhile, and the memories are re-embedded in the background.
#[test]
fn a_new_model_re_embeds_old_memories_in_the_background() {
    use super::embed::Embedder as _;
    runtime().block_on(async {
        let store = on_disk();
        let alice = UserKey::new(Platform::Telegram, "1");
        let old = Memories::new(
            Arc::clone(&store),
            Some(Arc::new(WordsEmbedder { seed: 1 })),
            MemoryConfig::default(),
        );
        for fact in ["our cat is called Nabi", "we moved to Busan in May"] {
            old.remember(&alice, fact, MemorySource::Explicit)
                .await
                .unwrap();
        }
        // One memory stored before any model was configured: no vector at all.
        Memories::new(Arc::clone(&store), None, MemoryConfig::default())
            .remember(
                &alice,
                "the piano lesson is on Tuesday",
                MemorySource::Explicit,
            )
            .await
            .unwrap();
        let stored = store.memories(&alice).await.unwrap();
        assert_eq!(stored[0].embedding_model.as_deref(), Some("words-1"));
        assert_eq!(stored[2].embedding_model, None);

        let new_model = Arc::new(WordsEmbedder { seed: 2 });
        let new = Memories::new(
            Arc::clone(&store),
            Some(new_model.clone()),
            MemoryConfig::default(),
        );
        // Found by keywords while the vectors are redone.
        let hits = new.search(&alice, "cat", 5).await.unwrap();
        assert_eq!(hits[0].memory.text, "our cat is called Nabi");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while new.is_reembedding(&alice) {
            assert!(
                std::time::Instant::now() < deadline,
                "re-embedding never ended"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        for memory in store.memories(&alice).await.unwrap() {
            assert_eq!(
                memory.embedding_model.as_deref(),
                Some("words-2"),
                "{}",
                memory.text
            );
            let expected = new_model
                .embed(std::slice::from_ref(&memory.text))
                .unwrap()
                .remove(0);
            assert_eq!(memory.embedding.as_deref(), Some(expected.as_slice()));
        }
        let hits = new.search(&alice, "piano lesson", 5).await.unwrap();
        assert_eq!(hits[0].memory.text, "the piano lesson is on Tuesday");
        assert!(!new.is_reembedding(&alice), "nothing left to redo");
    });
}

/// Two models side by side: the joined vector's dot product is the weighted sum of cosines.
#[test]
fn a_combined_embedder_fuses_the_cosines_of_its_parts() {
    use super::embed::{CombinedEmbedder, Embedder};
    let a: Arc<dyn Embedder> = Arc::new(WordsEmbedder { seed: 1 });
    let b: Arc<dyn Embedder> = Arc::new(WordsEmbedder { seed: 7 });
    let combined = CombinedEmbedder::new(vec![(a.clone(), 1.0), (b.clone(), 3.0)]);
    let texts = vec![
        "our cat is called Nabi".to_owned(),
        "my cat Nabi".to_owned(),
    ];
    let joined = combined.embed(&texts).unwrap();
    assert_eq!(joined[0].len(), 64);
    let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
    let (va, vb) = (a.embed(&texts).unwrap(), b.embed(&texts).unwrap());
    let expected = 0.25 * dot(&va[0], &va[1]) + 0.75 * dot(&vb[0], &vb[1]);
    assert!((dot(&joined[0], &joined[1]) - expected).abs() < 1e-5);
    assert!(
        (dot(&joined[0], &joined[0]) - 1.0).abs() < 1e-5,
        "unit length"
    );
    assert_eq!(combined.describe(), "words-1 ×0.25 + words-7 ×0.75");
}

/// A model that names its own relevance floor sets the rank's; one that does not keeps it.
#[test]
fn a_models_own_relevance_floor_replaces_the_configured_one() {
    struct Floored(WordsEmbedder);
    impl super::embed::Embedder for Floored {
        fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, super::embed::EmbedError> {
            self.0.embed(texts)
        }
        fn describe(&self) -> String {
            self.0.describe()
        }
        fn relevance_floor(&self) -> Option<f32> {
            Some(0.25)
        }
    }
    let store = Arc::new(crate::store::memory::InMemoryStore::new());
    let floored = Memories::new(
        store.clone(),
        Some(Arc::new(Floored(WordsEmbedder { seed: 1 }))),
        MemoryConfig::default(),
    );
    assert_eq!(floored.config().rank.dense_floor, 0.25);
    let plain = Memories::new(
        store,
        Some(Arc::new(WordsEmbedder { seed: 1 })),
        MemoryConfig::default(),
    );
    assert_eq!(
        plain.config().rank.dense_floor,
        MemoryConfig::default().rank.dense_floor
    );
}

/// A store that counts how often a person's memories are read in full.
struct CountingStore {
    inner: InMemoryStore,
    full_reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl super::MemoryStore for CountingStore {
    async fn next_id(&self) -> Result<String, crate::store::StoreError> {
        self.inner.next_id().await
    }
    async fn put_memory(&self, memory: &super::Memory) -> Result<(), crate::store::StoreError> {
        self.inner.put_memory(memory).await
    }
    async fn memory(
        &self,
        owner: &UserKey,
        id: &str,
    ) -> Result<Option<super::Memory>, crate::store::StoreError> {
        self.inner.memory(owner, id).await
    }
    async fn memories(
        &self,
        owner: &UserKey,
    ) -> Result<Vec<super::Memory>, crate::store::StoreError> {
        self.full_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.memories(owner).await
    }
    async fn remove_memory(
        &self,
        owner: &UserKey,
        id: &str,
    ) -> Result<bool, crate::store::StoreError> {
        self.inner.remove_memory(owner, id).await
    }
    async fn remove_all_memories(
        &self,
        owner: &UserKey,
    ) -> Result<usize, crate::store::StoreError> {
        self.inner.remove_all_memories(owner).await
    }
    async fn flush(&self) -> Result<(), crate::store::StoreError> {
        super::MemoryStore::flush(&self.inner).await
    }
}

/// Remembering, correcting and forgetting change the loaded index in place: the next
/// search sees the change without reading the person's memories from the store again.
#[test]
fn changes_update_the_loaded_index_without_a_rebuild() {
    let store = Arc::new(CountingStore {
        inner: InMemoryStore::new(),
        full_reads: Default::default(),
    });
    let memories = Memories::new(store.clone(), None, MemoryConfig::default());
    let ana = UserKey::new(Platform::Telegram, "1");
    let reads = || store.full_reads.load(std::sync::atomic::Ordering::SeqCst);
    runtime().block_on(async {
        memories
            .remember(
                &ana,
                "My sister Ana lives in Lisbon",
                MemorySource::Explicit,
            )
            .await
            .unwrap();
        assert_eq!(memories.search(&ana, "sister", 5).await.unwrap().len(), 1);
        assert_eq!(reads(), 1, "the first search loads the index");

        let bike = memories
            .remember(&ana, "I ride a green bicycle", MemorySource::Explicit)
            .await
            .unwrap();
        let hits = memories.search(&ana, "bicycle", 5).await.unwrap();
        assert_eq!(hits[0].memory.id, bike.id);

        memories
            .update(&ana, &bike.id, "I ride a red scooter")
            .await
            .unwrap()
            .unwrap();
        assert!(
            memories
                .search(&ana, "bicycle", 5)
                .await
                .unwrap()
                .is_empty()
        );
        let hits = memories.search(&ana, "scooter", 5).await.unwrap();
        assert_eq!(hits[0].memory.text, "I ride a red scooter");

        assert!(memories.forget(&ana, &bike.id).await.unwrap());
        assert!(
            memories
                .search(&ana, "scooter", 5)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(memories.search(&ana, "Lisbon", 5).await.unwrap().len(), 1);
        assert_eq!(reads(), 1, "no change rebuilt the index from the store");

        memories.forget_all(&ana).await.unwrap();
        assert!(memories.search(&ana, "Lisbon", 5).await.unwrap().is_empty());
    });
}

/// A person whose (empty) index was loaded before they had any memory still finds what they
/// remember afterwards by meaning.
#[test]
fn memories_added_after_an_empty_index_loaded_are_found_by_meaning() {
    struct Axes;
    impl super::embed::Embedder for Axes {
        fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, super::embed::EmbedError> {
            Ok(texts
                .iter()
                .map(|t| {
                    if t.contains("bike") || t.contains("cycling") {
                        vec![0.0, 1.0]
                    } else {
                        vec![1.0, 0.0]
                    }
                })
                .collect())
        }
        fn describe(&self) -> String {
            "axes".into()
        }
    }
    let memories = Memories::new(
        Arc::new(InMemoryStore::new()),
        Some(Arc::new(Axes)),
        MemoryConfig::default(),
    );
    let ana = UserKey::new(Platform::Telegram, "1");
    runtime().block_on(async {
        assert!(
            memories
                .search(&ana, "anything", 5)
                .await
                .unwrap()
                .is_empty()
        );
        memories
            .remember(&ana, "I own a green bike", MemorySource::Explicit)
            .await
            .unwrap();
        let hits = memories.search(&ana, "cycling gear", 5).await.unwrap();
        assert_eq!(hits.len(), 1, "found by meaning, sharing no keyword");
    });
}

#[cfg(feature = "fastembed")]
#[test]
fn a_model_loaded_in_the_background_has_the_name_and_floor_it_was_given_at_start() {
    use crate::memory::embed::{check_models, load_models, load_models_in_background};
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let config = |dir: &str| FastEmbedConfig {
        ort_library: root.join("onnxruntime/libonnxruntime.so"),
        model: EmbedModelSource::Dir(root.join(dir)),
        threads: 1,
        max_length: 256,
        cache_dir: root.join(".cache"),
    };
    // Vectors are stamped with the name known before loading: it must be the loaded one's.
    for (configs, weights) in [
        (vec![config("minilm")], vec![]),
        (vec![config("minilm"), config("minilm")], vec![3.0, 1.0]),
    ] {
        let (name, tuning) = check_models(&configs, &weights).unwrap();
        let loaded = load_models(&configs, &weights).unwrap();
        assert_eq!(name, loaded.describe());
        assert_eq!(tuning.relevance_floor, loaded.relevance_floor());
        assert_eq!(tuning.dense_weight, loaded.dense_weight());
        let deferred = load_models_in_background(&configs, &weights).unwrap();
        assert_eq!(deferred.describe(), loaded.describe());
        let text = vec!["the cat sleeps".to_owned()];
        assert_eq!(deferred.embed(&text).unwrap(), loaded.embed(&text).unwrap());
        assert!(deferred.ready());
    }
    // A missing file is found before anything loads.
    let mut missing = config("minilm");
    missing.model = EmbedModelSource::Dir(root.join("no-such-model"));
    let error = match load_models_in_background(&[missing], &[]) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a missing model folder was accepted"),
    };
    assert!(error.contains("model.onnx"), "{error}");
}
