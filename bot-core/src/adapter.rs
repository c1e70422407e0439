//! The adapter seam: every chat platform starts the same way.
//!
//! A platform crate implements [`Adapter`] for its configuration; the binary keeps a list
//! of the configured ones and runs each with the same service and shutdown token. A third
//! platform is one new crate plus one line in `src/main.rs`.

use tokio_util::sync::CancellationToken;

use crate::ChatService;

/// Why an adapter stopped (for the log; the adapter's own error type is inside).
pub type AdapterError = Box<dyn std::error::Error + Send + Sync>;

/// A chat platform, configured and ready to connect.
#[async_trait::async_trait]
pub trait Adapter: Send {
    /// The platform's name, for logs ("Telegram").
    fn name(&self) -> &'static str;

    /// Connects, registers its outbound side with `service`, and answers messages until
    /// `shutdown` is cancelled; then waits for the replies it is delivering. Returning
    /// before `shutdown` means the adapter failed.
    async fn run(
        self: Box<Self>,
        service: ChatService,
        shutdown: CancellationToken,
    ) -> Result<(), AdapterError>;
}
