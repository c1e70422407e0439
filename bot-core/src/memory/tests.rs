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
