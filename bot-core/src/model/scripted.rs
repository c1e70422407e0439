//! A language model that answers from a script, for tests of the core and adapters.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;

use super::{
    ChatPiece, ChatRequest, ChatStream, LanguageModel, ModelError, ModelInfo, Role, ToolCall,
};

/// One scripted answer.
#[derive(Debug)]
pub enum ScriptedReply {
    /// Stream these pieces, waiting `delay` before each.
    Text {
        /// Answer pieces.
        pieces: Vec<String>,
        /// Pause before each piece.
        delay: Duration,
    },
    /// Call these tools (after any text the pieces hold).
    Tools {
        /// Text before the calls.
        pieces: Vec<String>,
        /// The calls.
        calls: Vec<ToolCall>,
    },
    /// Fail the request.
    Error(ModelError),
    /// Panic inside the request, as a bug would (tests that panics are contained).
    Panic,
}

/// Answers from a queue of [`ScriptedReply`]s; when the queue is empty it
/// echoes the last user message as `echo: TEXT`. Records every request.
#[derive(Debug, Default)]
pub struct ScriptedModel {
    models: Vec<String>,
    context_length: Option<u64>,
    tools: bool,
    vision: Vec<String>,
    script: Mutex<VecDeque<ScriptedReply>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedModel {
    /// A model server that has `models`, each with `context_length` tokens.
    pub fn new(models: &[&str], context_length: u64) -> Self {
        Self {
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            context_length: Some(context_length),
            ..Self::default()
        }
    }

    /// Queues an answer streamed in `pieces`.
    pub fn push_text(&self, pieces: &[&str], delay: Duration) {
        let pieces = pieces.iter().map(|p| (*p).to_owned()).collect();
        self.lock_script()
            .push_back(ScriptedReply::Text { pieces, delay });
    }

    /// The same server, its models able to call tools.
    pub fn with_tools(mut self) -> Self {
        self.tools = true;
        self
    }

    /// The same server, where `models` can see pictures.
    pub fn with_vision(mut self, models: &[&str]) -> Self {
        self.vision = models.iter().map(|m| (*m).to_owned()).collect();
        self
    }

    /// Queues an answer that calls tools, each given as `(name, arguments)`.
    pub fn push_tool_calls(&self, calls: &[(&str, serde_json::Value)]) {
        let calls = calls
            .iter()
            .map(|(name, arguments)| ToolCall {
                id: None,
                name: (*name).to_owned(),
                arguments: arguments.clone(),
            })
            .collect();
        self.lock_script().push_back(ScriptedReply::Tools {
            pieces: Vec::new(),
            calls,
        });
    }

    /// Queues a panic.
    pub fn push_panic(&self) {
        self.lock_script().push_back(ScriptedReply::Panic);
    }

    /// Queues a failure.
    pub fn push_error(&self, error: ModelError) {
        self.lock_script().push_back(ScriptedReply::Error(error));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn lock_script(&self) -> std::sync::MutexGuard<'_, VecDeque<ScriptedReply>> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl LanguageModel for ScriptedModel {
    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        if !self.models.contains(&request.model) {
            return Err(ModelError::ModelNotFound {
                model: request.model,
            });
        }
        let echo = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| format!("echo: {}", m.content))
            .unwrap_or_default();
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
        let next = self.lock_script().pop_front();
        let (pieces, delay, calls) = match next {
            Some(ScriptedReply::Error(e)) => return Err(e),
            Some(ScriptedReply::Panic) => panic!("scripted panic"),
            Some(ScriptedReply::Text { pieces, delay }) => (pieces, delay, Vec::new()),
            Some(ScriptedReply::Tools { pieces, calls }) => (pieces, Duration::ZERO, calls),
            None => (vec![echo], Duration::ZERO, Vec::new()),
        };
        let mut pieces: Vec<ChatPiece> = pieces.into_iter().map(ChatPiece::Text).collect();
        if !calls.is_empty() {
            pieces.push(ChatPiece::ToolCalls(calls));
        }
        Ok(futures::stream::iter(pieces)
            .then(move |piece| async move {
                tokio::time::sleep(delay).await;
                Ok(piece)
            })
            .boxed())
    }

    async fn list_models(&self) -> Result<Vec<String>, ModelError> {
        Ok(self.models.clone())
    }

    async fn model_info(&self, model: &str) -> Result<ModelInfo, ModelError> {
        if !self.models.iter().any(|m| m == model) {
            return Err(ModelError::ModelNotFound {
                model: model.to_owned(),
            });
        }
        Ok(ModelInfo {
            context_length: self.context_length,
            tools: self.tools,
            vision: self.vision.iter().any(|m| m == model),
        })
    }

    fn describe(&self) -> String {
        "scripted".into()
    }
}
