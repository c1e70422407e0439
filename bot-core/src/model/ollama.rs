//! The Ollama client.
//!
//! Model list and model info go through `ollama-rs`. Streaming chat reuses
//! `ollama-rs`'s request and response types but reads the NDJSON stream itself:
//! ollama-rs 0.3.6 decodes each network chunk as UTF-8 on its own and silently
//! drops chunks that split a multi-byte character, which loses Korean, emoji
//! and accented text. Here bytes are buffered and split on `\n` first.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use ollama_rs::Ollama;
use ollama_rs::models::ModelOptions;
use url::Url;

use super::{
    ChatPiece, ChatRequest, ChatStream, LanguageModel, ModelError, ModelInfo, Role, ToolCall,
    ToolSpec,
};

/// Settings for [`OllamaModel`].
#[derive(Clone, Debug)]
pub struct OllamaConfig {
    /// Base URL, e.g. `http://127.0.0.1:11434`.
    pub host: Url,
    /// How long the server keeps the model loaded after a request, e.g. `30m`.
    pub keep_alive: Option<String>,
    /// How long to wait for a TCP connection.
    pub connect_timeout: Duration,
    /// How long a whole non-streaming request (model list, model info) may take.
    pub request_timeout: Duration,
}

impl OllamaConfig {
    /// Defaults for `host`.
    pub fn new(host: Url) -> Self {
        Self {
            host,
            keep_alive: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A [`LanguageModel`] served by Ollama.
#[derive(Clone, Debug)]
pub struct OllamaModel {
    config: OllamaConfig,
    client: Ollama,
    http: reqwest::Client,
}

impl OllamaModel {
    /// A client for the server in `config`. Makes no request yet.
    pub fn new(config: OllamaConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .unwrap_or_default();
        let client = Ollama::builder()
            .url(config.host.clone())
            .reqwest_client(http.clone())
            .build();
        Self {
            config,
            client,
            http,
        }
    }

    /// The server's address for logs: credentials removed.
    fn host(&self) -> String {
        super::redact_url(&self.config.host)
    }

    /// Runs a non-streaming request with the overall time limit, so a hung server
    /// cannot block the chat that asked.
    async fn bounded<T>(
        &self,
        request: impl std::future::Future<Output = Result<T, ModelError>>,
    ) -> Result<T, ModelError> {
        tokio::time::timeout(self.config.request_timeout, request)
            .await
            .unwrap_or(Err(ModelError::Timeout(self.config.request_timeout)))
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.config.host.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/{path}"));
        url
    }

    fn map_ollama_error(
        &self,
        err: ollama_rs::error::OllamaError,
        model: Option<&str>,
    ) -> ModelError {
        use ollama_rs::error::OllamaError;
        match err {
            OllamaError::ReqwestError(e) => self.map_http_error(e),
            OllamaError::Other(body)
            | OllamaError::InternalError(ollama_rs::error::InternalOllamaError { message: body }) => {
                classify_error_body(0, &body, model)
            }
            other => ModelError::Protocol(other.to_string()),
        }
    }

    fn map_http_error(&self, err: reqwest::Error) -> ModelError {
        if err.is_timeout() {
            return ModelError::Timeout(self.config.connect_timeout);
        }
        ModelError::Unreachable {
            host: self.host(),
            source: Box::new(err.without_url()),
        }
    }
}

/// Turns an Ollama error body such as `{"error":"model 'x' not found"}` into a [`ModelError`].
fn classify_error_body(status: u16, body: &str, model: Option<&str>) -> ModelError {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned());
    if message.contains("does not support tools") {
        return ModelError::ToolsUnsupported(message);
    }
    let missing = status == 404 || (message.contains("not found") && message.contains("model"));
    if let (true, Some(model)) = (missing, model) {
        return ModelError::ModelNotFound {
            model: model.to_owned(),
        };
    }
    ModelError::Server { status, message }
}

/// One prompt message as Ollama's `/api/chat` takes it. Written here rather than with
/// ollama-rs's `ChatMessage`: that type has no `tool_name` for a tool's result and its
/// tool calls carry no id.
fn wire_message(message: &super::PromptMessage) -> serde_json::Value {
    let role = match message.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut v = serde_json::json!({"role": role, "content": message.content});
    if !message.tool_calls.is_empty() {
        v["tool_calls"] = message
            .tool_calls
            .iter()
            .map(|call| {
                let mut c = serde_json::json!({
                    "function": {"name": call.name, "arguments": call.arguments}
                });
                if let Some(id) = &call.id {
                    c["id"] = id.clone().into();
                }
                c
            })
            .collect();
    }
    if let Some(name) = &message.tool_name {
        v["tool_name"] = name.clone().into();
    }
    if !message.images.is_empty() {
        v["images"] = message.images.clone().into();
    }
    v
}

/// A tool as `/api/chat`'s `tools` lists it (ollama-rs's `ToolInfo` wants a schema
/// generated from a Rust type; these come from code and the owner's configuration).
fn wire_tool(tool: &ToolSpec) -> serde_json::Value {
    serde_json::json!({
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        }
    })
}

#[async_trait::async_trait]
impl LanguageModel for OllamaModel {
    #[tracing::instrument(skip_all, fields(model = %request.model, messages = request.messages.len()))]
    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let mut options = ModelOptions::default();
        if let Some(num_ctx) = request.num_ctx {
            options = options.num_ctx(num_ctx);
        }
        if let Some(num_predict) = request.num_predict {
            options = options.num_predict(i32::try_from(num_predict).unwrap_or(i32::MAX));
        }
        let mut body = serde_json::json!({
            "model": request.model,
            "messages": request.messages.iter().map(wire_message).collect::<Vec<_>>(),
            "stream": true,
            "options": serde_json::to_value(&options).map_err(|e| ModelError::Protocol(e.to_string()))?,
        });
        if !request.tools.is_empty() {
            body["tools"] = request.tools.iter().map(wire_tool).collect();
        }
        if let Some(keep_alive) = &self.config.keep_alive {
            body["keep_alive"] = keep_alive.clone().into();
        }
        if let Some(format) = request.format {
            body["format"] = format;
        }
        let response = self
            .http
            .post(self.endpoint("api/chat"))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.map_http_error(e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(classify_error_body(
                status.as_u16(),
                &text,
                Some(&request.model),
            ));
        }
        let host = self.host();
        let bytes = response.bytes_stream().map(move |r| {
            r.map_err(|e| ModelError::Unreachable {
                host: host.clone(),
                source: Box::new(e.without_url()),
            })
        });
        Ok(chat_stream(bytes).boxed())
    }

    async fn list_models(&self) -> Result<Vec<String>, ModelError> {
        let models = self
            .bounded(async {
                self.client
                    .list_local_models()
                    .await
                    .map_err(|e| self.map_ollama_error(e, None))
            })
            .await?;
        Ok(models.into_iter().map(|m| m.name).collect())
    }

    async fn model_info(&self, model: &str) -> Result<ModelInfo, ModelError> {
        let info = self
            .bounded(async {
                self.client
                    .show_model_info(model.to_owned())
                    .await
                    .map_err(|e| self.map_ollama_error(e, Some(model)))
            })
            .await?;
        let context_length = info
            .model_info
            .iter()
            .find(|(key, _)| key.ends_with(".context_length"))
            .and_then(|(_, value)| value.as_u64());
        // Servers before `capabilities` existed: Ollama itself asked whether the
        // chat template handles tools.
        let tools = if info.capabilities.is_empty() {
            info.template.contains(".Tools")
        } else {
            info.capabilities.iter().any(|c| c == "tools")
        };
        let vision = info.capabilities.iter().any(|c| c == "vision");
        Ok(ModelInfo {
            context_length,
            tools,
            vision,
        })
    }

    fn describe(&self) -> String {
        self.host()
    }
}

/// Splits a byte stream into lines and decodes each complete line of `/api/chat`'s
/// NDJSON, yielding text pieces and tool calls until `done`.
pub fn chat_stream(
    bytes: impl Stream<Item = Result<Bytes, ModelError>> + Send + 'static,
) -> impl Stream<Item = Result<ChatPiece, ModelError>> + Send + 'static {
    let lines = ndjson_lines(bytes);
    futures::stream::unfold((Box::pin(lines), false), |(mut lines, done)| async move {
        if done {
            return None;
        }
        match lines.next().await {
            None => Some((
                vec![Err(ModelError::Protocol(
                    "the answer stream ended early".into(),
                ))],
                (lines, true),
            )),
            Some(Err(e)) => Some((vec![Err(e)], (lines, true))),
            Some(Ok(line)) => match parse_chat_line(&line) {
                Ok((pieces, finished)) => {
                    Some((pieces.into_iter().map(Ok).collect(), (lines, finished)))
                }
                Err(e) => Some((vec![Err(e)], (lines, true))),
            },
        }
    })
    .flat_map(futures::stream::iter)
}

#[derive(serde::Deserialize)]
struct WireLine {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    done: bool,
}

#[derive(serde::Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: String,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(serde::Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(serde::Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default, alias = "parameters")]
    arguments: serde_json::Value,
}

/// Arguments as an object: some servers send them as a JSON string.
pub(super) fn arguments_object(arguments: serde_json::Value) -> serde_json::Value {
    match arguments {
        serde_json::Value::String(text) => {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }
        serde_json::Value::Null => serde_json::json!({}),
        other => other,
    }
}

/// Parses one NDJSON line: its pieces and whether it is the last line.
fn parse_chat_line(line: &[u8]) -> Result<(Vec<ChatPiece>, bool), ModelError> {
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| ModelError::Protocol(format!("bad stream line: {e}")))?;
    if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
        return Err(classify_error_body(0, error, None));
    }
    let line: WireLine = serde_json::from_value(value)
        .map_err(|e| ModelError::Protocol(format!("bad stream line: {e}")))?;
    let mut pieces = Vec::new();
    if let Some(message) = line.message {
        if !message.content.is_empty() {
            pieces.push(ChatPiece::Text(message.content));
        }
        if !message.tool_calls.is_empty() {
            pieces.push(ChatPiece::ToolCalls(
                message
                    .tool_calls
                    .into_iter()
                    .map(|call| ToolCall {
                        id: call.id,
                        name: call.function.name,
                        arguments: arguments_object(call.function.arguments),
                    })
                    .collect(),
            ));
        }
    }
    Ok((pieces, line.done))
}

/// Splits a byte stream on `\n` without decoding (NDJSON and server-sent events alike), so a character split across
/// network chunks is whole again before it is decoded.
pub(super) fn ndjson_lines(
    bytes: impl Stream<Item = Result<Bytes, ModelError>> + Send + 'static,
) -> impl Stream<Item = Result<Vec<u8>, ModelError>> + Send + 'static {
    futures::stream::unfold(
        (Box::pin(bytes), BytesMut::new(), false),
        |(mut bytes, mut buffer, mut ended)| async move {
            loop {
                if let Some(pos) = buffer.iter().position(|&b| b == b'\n') {
                    let line = buffer.split_to(pos + 1);
                    let line = line[..pos].trim_ascii().to_vec();
                    if line.is_empty() {
                        continue;
                    }
                    return Some((Ok(line), (bytes, buffer, ended)));
                }
                if ended {
                    let rest = buffer.split().trim_ascii().to_vec();
                    return (!rest.is_empty()).then_some((Ok(rest), (bytes, buffer, ended)));
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                    Some(Err(e)) => return Some((Err(e), (bytes, buffer, true))),
                    None => ended = true,
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(content: &str, done: bool) -> String {
        let mut v = serde_json::json!({
            "model": "m", "created_at": "2024-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": content}, "done": done
        });
        if done {
            for key in [
                "total_duration",
                "load_duration",
                "prompt_eval_count",
                "prompt_eval_duration",
                "eval_count",
                "eval_duration",
            ] {
                v[key] = 1.into();
            }
            v["done_reason"] = "stop".into();
        }
        format!("{v}\n")
    }

    async fn collect(body: Vec<u8>, chunk: usize) -> Vec<Result<String, String>> {
        let chunks: Vec<Result<Bytes, ModelError>> = body
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        chat_stream(futures::stream::iter(chunks))
            .map(|r| {
                r.map(|piece| match piece {
                    ChatPiece::Text(text) => text,
                    ChatPiece::ToolCalls(calls) => format!("{calls:?}"),
                })
                .map_err(|e| e.to_string())
            })
            .collect()
            .await
    }

    #[tokio::test]
    async fn streamed_tool_calls_are_read_with_their_arguments() {
        // As Ollama 0.12 streams a call: one line with `tool_calls`, then the final line.
        let call = serde_json::json!({
            "model": "m", "created_at": "2024-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "function": {"index": 0, "name": "create_reminder",
                 "arguments": {"when": "in 2 minutes", "text": "stretch"}}},
                {"function": {"name": "current_time", "arguments": "{}"}}
            ]},
            "done": false
        });
        let body = format!("{call}\n{}", line("", true));
        let pieces: Vec<ChatPiece> = chat_stream(futures::stream::iter([Ok(Bytes::from(body))]))
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(
            pieces,
            vec![ChatPiece::ToolCalls(vec![
                ToolCall {
                    id: Some("call_1".into()),
                    name: "create_reminder".into(),
                    arguments: serde_json::json!({"when": "in 2 minutes", "text": "stretch"}),
                },
                ToolCall {
                    id: None,
                    name: "current_time".into(),
                    arguments: serde_json::json!({}),
                },
            ])]
        );
    }

    #[test]
    fn a_tool_result_goes_back_with_the_tools_name() {
        let call = ToolCall {
            id: Some("c1".into()),
            name: "current_time".into(),
            arguments: serde_json::json!({}),
        };
        let result = super::super::PromptMessage::tool_result(&call, "09:00");
        assert_eq!(
            wire_message(&result),
            serde_json::json!({"role": "tool", "content": "09:00", "tool_name": "current_time"})
        );
        let asked = super::super::PromptMessage::tool_request("", vec![call]);
        assert_eq!(
            wire_message(&asked)["tool_calls"][0],
            serde_json::json!({"id": "c1", "function": {"name": "current_time", "arguments": {}}})
        );
    }

    #[test]
    fn a_model_without_tools_is_recognised() {
        let err = classify_error_body(
            400,
            r#"{"error":"registry.ollama.ai/library/smollm2:135m does not support tools"}"#,
            Some("smollm2:135m"),
        );
        assert!(matches!(err, ModelError::ToolsUnsupported(_)));
    }

    #[tokio::test]
    async fn multibyte_text_survives_any_chunking() {
        let body = format!(
            "{}{}{}",
            line("안녕하세요 ", false),
            line("😀 café", false),
            line("", true)
        );
        for chunk in 1..=7 {
            let got = collect(body.clone().into_bytes(), chunk).await;
            let text: String = got.iter().map(|r| r.clone().unwrap()).collect();
            assert_eq!(text, "안녕하세요 😀 café", "chunk size {chunk}");
        }
    }

    #[tokio::test]
    async fn stream_without_done_is_an_error() {
        let got = collect(line("partial", false).into_bytes(), 1000).await;
        assert_eq!(got[0], Ok("partial".into()));
        assert!(got[1].as_ref().unwrap_err().contains("ended early"));
    }

    #[tokio::test]
    async fn error_line_inside_the_stream_is_reported() {
        let body = format!("{}{{\"error\":\"out of memory\"}}\n", line("a", false));
        let got = collect(body.into_bytes(), 1000).await;
        assert!(got[1].as_ref().unwrap_err().contains("out of memory"));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn missing_model_is_recognised() {
        let err = classify_error_body(404, r#"{"error":"model 'x' not found"}"#, Some("x"));
        assert!(matches!(err, ModelError::ModelNotFound { .. }));
        assert!(
            err.user_message(crate::lang::Lang::En)
                .contains("ollama pull x")
        );
    }
}
