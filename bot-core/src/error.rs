//! Errors of the core.

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The storage backend failed.
    #[error("storage error: {0}")]
    Storage(#[from] crate::store::StoreError),
    /// The language model failed.
    #[error("model error: {0}")]
    Model(#[from] crate::model::ModelError),
}
