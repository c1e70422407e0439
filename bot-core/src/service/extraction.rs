//! Runs automatic memory capture after an exchange, in the background.

use std::time::Duration;

use futures::StreamExt;

use super::Inner;
use super::answer::Exchange;
use crate::memory::{MemorySource, extract};
use crate::model::{ChatPiece, ChatRequest};

/// The longest an extraction may take before it is abandoned.
const EXTRACTION_TIMEOUT: Duration = Duration::from_secs(120);

impl Inner {
    /// Asks the model for durable facts in `exchange` and applies them.
    pub(super) async fn capture(&self, exchange: Exchange) {
        let memories = &self.deps.memories;
        if !memories.config().auto_capture {
            return;
        }
        let user = exchange.message.user_key();
        let settings = match self.deps.settings.settings(&user).await {
            Ok(settings) if settings.memory_capture_off => return,
            Ok(settings) => settings,
            Err(e) => {
                tracing::warn!(error = %e, "no settings; skipping memory capture");
                return;
            }
        };
        let similar = match memories.search(&user, &exchange.message.text, 5).await {
            Ok(similar) => similar,
            Err(e) => {
                tracing::warn!(error = %e, "memory search failed; skipping capture");
                return;
            }
        };
        let model = settings
            .model
            .unwrap_or_else(|| self.config.default_model.clone());
        let request = ChatRequest {
            model,
            messages: extract::prompt(&exchange.message.text, &exchange.answer, &similar),
            num_ctx: None,
            format: Some(extract::schema()),
            // The extraction is a short JSON list; a model that rambles is cut off.
            num_predict: Some(512),
            tools: Vec::new(),
        };
        let raw = tokio::select! {
            _ = self.cancel.cancelled() => return,
            raw = tokio::time::timeout(EXTRACTION_TIMEOUT, self.complete(request)) => raw,
        };
        let raw = match raw {
            Ok(Ok(raw)) => raw,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "memory extraction request failed");
                return;
            }
            Err(_) => {
                tracing::warn!("memory extraction timed out");
                return;
            }
        };
        let source = MemorySource::Extracted {
            chat: exchange.message.chat.id.clone(),
            message_id: exchange.message.message_id.clone(),
        };
        match extract::apply(memories, &user, &raw, &similar, source).await {
            Ok(applied) => tracing::info!(user = %user, ?applied, "memory capture"),
            Err(e) => tracing::warn!(error = %e, "could not apply memory capture"),
        }
    }

    /// A whole (non-streamed) answer, taking a model slot like any request.
    pub(super) async fn complete(
        &self,
        request: ChatRequest,
    ) -> Result<String, crate::model::ModelError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut stream = self.deps.model.chat(request).await?;
        let mut text = String::new();
        while let Some(piece) = stream.next().await {
            if let ChatPiece::Text(piece) = piece? {
                text.push_str(&piece);
            }
        }
        Ok(text)
    }
}
