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
    /// The result of a tool the model called.
    Tool,
}

/// One message of a prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptMessage {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
    /// The tools the model called in this (assistant) message.
    pub tool_calls: Vec<ToolCall>,
    /// For a [`Role::Tool`] message: which tool's result it is.
    pub tool_name: Option<String>,
    /// For a [`Role::Tool`] message: the id of the call it answers, when the server gave
    /// one (the OpenAI-compatible API pairs results with calls by it; Ollama by name).
    pub tool_call_id: Option<String>,
    /// Pictures that go with a (user) message, base64-encoded JPEG or PNG, for models that
    /// can see.
    pub images: Vec<String>,
}

impl PromptMessage {
    /// A message with text only.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_name: None,
            tool_call_id: None,
            images: Vec::new(),
        }
    }

    /// The model's message that called `calls` (with any text it wrote first).
    pub fn tool_request(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::new(Role::Assistant, content)
        }
    }

    /// The result of `call`, given back to the model.
    pub fn tool_result(call: &ToolCall, content: impl Into<String>) -> Self {
        Self {
            tool_name: Some(call.name.clone()),
            tool_call_id: call.id.clone(),
            ..Self::new(Role::Tool, content)
        }
    }
}

/// A tool the model may call: a name, what it does, and a JSON schema for its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    /// Name the model calls it by, e.g. `create_reminder`.
    pub name: String,
    /// What it does and when to use it, for the model.
    pub description: String,
    /// JSON schema (an object schema) of the arguments.
    pub parameters: serde_json::Value,
}

/// A tool call the model made.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    /// The server's id for the call, when it gives one.
    pub id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// Its arguments (a JSON object when the model behaves).
    pub arguments: serde_json::Value,
}

/// One piece of a streamed answer.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatPiece {
    /// Answer text.
    Text(String),
    /// The model asks for these tools to be run.
    ToolCalls(Vec<ToolCall>),
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
    /// Tools the model may call; empty: none (nothing about tools is sent).
    pub tools: Vec<ToolSpec>,
}

impl ChatRequest {
    /// A request for `model` with `messages` and nothing else set.
    pub fn new(model: impl Into<String>, messages: Vec<PromptMessage>) -> Self {
        Self {
            model: model.into(),
            messages,
            num_ctx: None,
            format: None,
            num_predict: None,
            tools: Vec::new(),
        }
    }
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelInfo {
    /// The model's trained context length in tokens, when the server reports it.
    pub context_length: Option<u64>,
    /// Whether the model can call tools (Ollama's `/api/show` `capabilities` has `tools`).
    pub tools: bool,
    /// Whether the model can see pictures (`capabilities` has `vision`).
    pub vision: bool,
}

/// The answer as the model produces it: text pieces, and tool calls.
pub type ChatStream = BoxStream<'static, Result<ChatPiece, ModelError>>;

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
    /// The request offered tools and the model cannot call any.
    #[error("the model does not support tools: {0}")]
    ToolsUnsupported(String),
    /// The model took too long.
    #[error("the model did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

impl ModelError {
    /// A short sentence for the user. The full error goes to the log.
    pub fn user_message(&self, lang: crate::lang::Lang) -> String {
        use crate::lang::{t, tr};
        match self {
            // The address stays in the log: chat users never see internal addresses.
            ModelError::Unreachable { .. } => t(lang, "model-unreachable"),
            ModelError::ModelNotFound { model } => {
                tr(lang, "model-not-installed", &[("model", model)])
            }
            ModelError::Server { .. }
            | ModelError::Protocol(_)
            | ModelError::ToolsUnsupported(_) => t(lang, "model-server-trouble"),
            ModelError::Timeout(limit) => tr(
                lang,
                "model-timeout",
                &[("seconds", &limit.as_secs().to_string())],
            ),
        }
    }
}

/// A chat model server.
#[async_trait::async_trait]
pub trait LanguageModel: Send + Sync {
    /// Starts a chat; the stream yields answer text as it is generated, and the tool
    /// calls the model makes (only when the request offers tools).
    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, ModelError>;

    /// Names of the models the server has.
    async fn list_models(&self) -> Result<Vec<String>, ModelError>;

    /// Facts about one model.
    async fn model_info(&self, model: &str) -> Result<ModelInfo, ModelError>;

    /// Where the server is, for messages (no credentials).
    fn describe(&self) -> String;
}
