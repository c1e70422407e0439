//! The language model port and its implementations.
//!
//! - [`LanguageModel`]: the small trait the chat service talks to.
//! - [`ollama::OllamaModel`]: over Ollama's HTTP API (the default).
//! - [`openai::OpenAiModel`]: over the OpenAI-compatible API (LM Studio, llama.cpp's
//!   server, vLLM).
//! - [`scripted::ScriptedModel`]: answers from a script, for tests.

pub mod ollama;
pub mod openai;
pub mod scripted;

use futures::stream::BoxStream;

/// Who said a prompt message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// One message of a prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptMessage {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
}

/// A chat request to a model.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    /// Model name, e.g. `llama3.2:3b`.
    pub model: String,
    /// System prompt, history and the new message, oldest first.
    pub messages: Vec<PromptMessage>,
    /// Context window to ask the server for, in tokens.
    pub num_ctx: Option<u64>,
    /// A JSON schema the answer must follow.
    pub format: Option<serde_json::Value>,
    /// The most tokens the answer may have (`num_predict`); `None`: the server's default.
    pub num_predict: Option<u64>,
}

/// `url` as it may appear in logs and errors: without user name and password.
pub fn redact_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        // Only URLs that cannot have credentials refuse these, and those have none.
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
    }
    shown.as_str().trim_end_matches('/').to_owned()
}

/// What the core needs to know about a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// The model's trained context length in tokens, when the server reports it.
    pub context_length: Option<u64>,
}

/// Pieces of answer text as the model produces them.
pub type TextStream = BoxStream<'static, Result<String, ModelError>>;

/// Errors from a model server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Nothing answers at the server's address.
    #[error("the model server at {host} is not reachable: {source}")]
    Unreachable {
        /// The server address for the log (credentials removed; never shown to chat users).
        host: String,
        /// What the HTTP client said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server does not have this model.
    #[error("model '{model}' not found on the server")]
    ModelNotFound {
        /// The model name asked for.
        model: String,
    },
    /// The server answered with an error.
    #[error("the model server answered {status}: {message}")]
    Server {
        /// HTTP status, 0 when the error came inside a stream.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server's answer did not have the expected shape.
    #[error("unexpected answer from the model server: {0}")]
    Protocol(String),
    /// The model took too long.
    #[error("the model did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

impl ModelError {
    /// A short sentence for the user. The full error goes to the log.
    pub fn user_message(&self) -> String {
        match self {
            // The address stays in the log: chat users never see internal addresses.
            ModelError::Unreachable { .. } => "The model server is not reachable right now. \
                 I will try again with your next message."
                .into(),
            ModelError::ModelNotFound { model } => format!(
                "The model `{model}` is not installed on the model server. \
                 Install it with `ollama pull {model}` or pick another one with /model."
            ),
            ModelError::Server { .. } | ModelError::Protocol(_) => {
                "The model server had a problem answering. Please try again in a moment.".into()
            }
            ModelError::Timeout(limit) => format!(
                "The model did not answer within {} seconds. It may still be loading; \
                 please try again in a moment.",
                limit.as_secs()
            ),
        }
    }
}

/// A chat model server.
#[async_trait::async_trait]
pub trait LanguageModel: Send + Sync {
    /// Starts a chat; the stream yields answer text as it is generated.
    async fn chat(&self, request: ChatRequest) -> Result<TextStream, ModelError>;

    /// Names of the models the server has.
    async fn list_models(&self) -> Result<Vec<String>, ModelError>;

    /// Facts about one model.
    async fn model_info(&self, model: &str) -> Result<ModelInfo, ModelError>;

    /// Where the server is, for messages (no credentials).
    fn describe(&self) -> String;
}
