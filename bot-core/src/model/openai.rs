//! The OpenAI-compatible client: LM Studio, llama.cpp's server, vLLM and others.
//!
//! `POST /v1/chat/completions` streamed as server-sent events (`data: {chunk}` lines,
//! ending with `data: [DONE]`), `GET /v1/models` for the model list. The stream is split
//! into lines before decoding, as for Ollama, so characters split across network chunks
//! survive. Such servers rarely say how large a model's context is: where `/v1/models`
//! reports it (vLLM's `max_model_len`, llama.cpp's `meta.n_ctx_train`) it is used,
//! otherwise the configured context size.
//!
//! Tools as the API defines them: `tools` (`{"type": "function", "function": {…}}`) in the
//! request; calls streamed as `delta.tool_calls` fragments (an `index`, then the id and name,
//! then the arguments as pieces of one JSON string) that are put together and handed over
//! as one [`ChatPiece::ToolCalls`] when the choice finishes; the model's call sent back as
//! an assistant message with `tool_calls` (arguments as a JSON string) and each result as
//! `role: tool` with the call's `tool_call_id`. The API has no way to ask whether a model
//! can call tools, so every model is offered them; a server that refuses (llama.cpp's
//! server without `--jinja`, vLLM without `--enable-auto-tool-choice`) answers with an error
//! that names tools, reported as [`ModelError::ToolsUnsupported`]: the chat service then
//! asks again without tools and does not offer them to that model again.

use std::time::Duration;

use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::ollama::{arguments_object, ndjson_lines};
use super::{
    ChatPiece, ChatRequest, ChatStream, LanguageModel, ModelError, ModelInfo, PromptMessage, Role,
    ToolCall, ToolSpec,
};

/// Settings for [`OpenAiModel`].
#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    /// Base URL, e.g. `http://127.0.0.1:1234` (LM Studio) or `http://gpu:8000` (vLLM);
    /// a trailing `/v1` is accepted too.
    pub base: Url,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<SecretString>,
    /// The context size to assume when the server does not report one, in tokens.
    pub context_tokens: u64,
    /// How long to wait for a TCP connection.
    pub connect_timeout: Duration,
    /// How long a whole non-streaming request (the model list) may take.
    pub request_timeout: Duration,
}

impl OpenAiConfig {
    /// Defaults for `base`.
    pub fn new(base: Url, context_tokens: u64) -> Self {
        Self {
            base,
            api_key: None,
            context_tokens,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A [`LanguageModel`] served over the OpenAI-compatible API.
#[derive(Clone, Debug)]
pub struct OpenAiModel {
    config: OpenAiConfig,
    http: reqwest::Client,
}

impl OpenAiModel {
    /// A client for the server in `config`. Makes no request yet.
    pub fn new(config: OpenAiConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .unwrap_or_default();
        Self { config, http }
    }

    fn host(&self) -> String {
        super::redact_url(&self.config.base)
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.config.base.clone();
        let base = url
            .path()
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .to_owned();
        url.set_path(&format!("{base}/v1/{path}"));
        url
    }

    fn request(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.config.api_key {
            Some(key) => builder.bearer_auth(key.expose_secret()),
            None => builder,
        }
    }

    fn unreachable(&self, error: reqwest::Error) -> ModelError {
        if error.is_timeout() {
            return ModelError::Timeout(self.config.connect_timeout);
        }
        ModelError::Unreachable {
            host: self.host(),
            source: Box::new(error.without_url()),
        }
    }

    async fn models(&self) -> Result<Vec<Value>, ModelError> {
        let fetch = async {
            let response = self
                .request(self.http.get(self.endpoint("models")))
                .send()
                .await
                .map_err(|e| self.unreachable(e))?;
            let status = response.status();
            let text = response.text().await.map_err(|e| self.unreachable(e))?;
            if !status.is_success() {
                return Err(classify_error(status.as_u16(), &text, None));
            }
            let body: Value = serde_json::from_str(&text)
                .map_err(|e| ModelError::Protocol(format!("bad model list: {e}")))?;
            Ok(body["data"].as_array().cloned().unwrap_or_default())
        };
        tokio::time::timeout(self.config.request_timeout, fetch)
            .await
            .unwrap_or(Err(ModelError::Timeout(self.config.request_timeout)))
    }
}

/// An error answer: `{"error": {"message": …}}` (OpenAI) or `{"error": "…"}` (others).
fn classify_error(status: u16, body: &str, model: Option<&str>) -> ModelError {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let message = value["error"]["message"]
        .as_str()
        .or_else(|| value["error"].as_str())
        .or_else(|| value["message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| body.trim().chars().take(500).collect());
    let lower = message.to_lowercase();
    let missing = status == 404
        || value["error"]["code"] == "model_not_found"
        || (lower.contains("model")
            && (lower.contains("not found") || lower.contains("does not exist")));
    if let (true, Some(model)) = (missing, model) {
        return ModelError::ModelNotFound {
            model: model.to_owned(),
        };
    }
    ModelError::Server { status, message }
}

fn role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// The MIME type of a base64-encoded JPEG or PNG, from its first bytes.
fn image_mime(b64: &str) -> &'static str {
    if b64.starts_with("iVBOR") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

/// One prompt message as the API wants it.
fn wire_message(m: &PromptMessage) -> Value {
    let content = if m.images.is_empty() {
        Value::from(m.content.as_str())
    } else {
        // Pictures as content parts with data URLs (the OpenAI vision format).
        let mut parts = vec![json!({"type": "text", "text": m.content})];
        parts.extend(m.images.iter().map(|b64| {
            json!({"type": "image_url", "image_url": {"url": format!("data:{};base64,{b64}", image_mime(b64))}})
        }));
        Value::Array(parts)
    };
    let mut v = json!({"role": role(m.role), "content": content});
    if !m.tool_calls.is_empty() {
        if m.content.is_empty() {
            v["content"] = Value::Null;
        }
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|call| {
                json!({
                    "id": call.id,
                    "type": "function",
                    // The API carries arguments as a JSON string.
                    "function": {"name": call.name, "arguments": call.arguments.to_string()},
                })
            })
            .collect();
    }
    if m.role == Role::Tool {
        match &m.tool_call_id {
            Some(id) => v["tool_call_id"] = id.as_str().into(),
            None => v["name"] = m.tool_name.as_deref().unwrap_or_default().into(),
        }
    }
    v
}

/// A tool as the request's `tools` lists it.
fn wire_tool(tool: &ToolSpec) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    })
}

/// The request body for `request`.
fn body(request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(wire_message).collect();
    let mut body = json!({"model": request.model, "messages": messages, "stream": true});
    if let Some(max_tokens) = request.num_predict {
        body["max_tokens"] = max_tokens.into();
    }
    if let Some(schema) = &request.format {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": "answer", "strict": true, "schema": schema},
        });
    }
    if !request.tools.is_empty() {
        body["tools"] = request.tools.iter().map(wire_tool).collect();
    }
    body
}

/// Whether an error answer to a request that offered tools says the server or the model
/// takes none: llama.cpp's "tools param requires --jinja flag", vLLM's "\"auto\" tool choice
/// requires --enable-auto-tool-choice …", "… does not support tools" (Ollama's own
/// OpenAI-compatible endpoint, LocalAI).
fn refuses_tools(error: &ModelError) -> bool {
    match error {
        ModelError::Server { message, .. } => message.to_lowercase().contains("tool"),
        _ => false,
    }
}

/// One call being put together from its streamed fragments.
#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// The calls of the answer being streamed, by their `index`.
#[derive(Debug, Default)]
struct PendingCalls(std::collections::BTreeMap<u64, PartialCall>);

impl PendingCalls {
    /// Adds the fragments of one event's `delta.tool_calls`.
    fn add(&mut self, fragments: &[Value]) {
        for (position, fragment) in fragments.iter().enumerate() {
            // Servers that send whole calls at once may leave out the index.
            let index = fragment["index"].as_u64().unwrap_or(position as u64);
            let call = self.0.entry(index).or_default();
            if let Some(id) = fragment["id"].as_str().filter(|id| !id.is_empty()) {
                call.id = Some(id.to_owned());
            }
            let function = &fragment["function"];
            if let Some(name) = function["name"].as_str() {
                // The name comes once; a server that repeats it whole is not doubled.
                if call.name != name {
                    call.name.push_str(name);
                }
            }
            match &function["arguments"] {
                Value::String(piece) => call.arguments.push_str(piece),
                Value::Null => {}
                // Some servers send the arguments as an object, not a string.
                whole => call.arguments = whole.to_string(),
            }
        }
    }

    /// The calls put together, in index order; none left pending.
    fn take(&mut self) -> Option<ChatPiece> {
        use std::sync::atomic::{AtomicU64, Ordering};
        /// Ids for calls the server gave none, unique in this process, so each result
        /// still names its call.
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let calls: Vec<ToolCall> = std::mem::take(&mut self.0)
            .into_values()
            .filter(|call| !call.name.is_empty())
            .map(|call| ToolCall {
                id: Some(call.id.unwrap_or_else(|| {
                    format!("call_h{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
                })),
                name: call.name,
                arguments: if call.arguments.trim().is_empty() {
                    json!({})
                } else {
                    arguments_object(Value::String(call.arguments))
                },
            })
            .collect();
        (!calls.is_empty()).then_some(ChatPiece::ToolCalls(calls))
    }
}

/// What one server-sent event line says.
#[derive(Default)]
struct Event {
    /// Answer text.
    text: String,
    /// Fragments of tool calls (`delta.tool_calls`).
    calls: Vec<Value>,
    /// The choice has finished (`finish_reason` is set).
    finished: bool,
    /// `[DONE]`: the stream ends.
    done: bool,
}

fn parse_event(line: &[u8]) -> Result<Event, ModelError> {
    let Some(data) = line.strip_prefix(b"data:") else {
        // Comments (": keep-alive"), `event:` and `id:` lines carry nothing.
        return Ok(Event::default());
    };
    let data = data.trim_ascii();
    if data == b"[DONE]" {
        return Ok(Event {
            done: true,
            ..Event::default()
        });
    }
    let value: Value = serde_json::from_slice(data)
        .map_err(|e| ModelError::Protocol(format!("bad stream event: {e}")))?;
    if let Some(error) = value.get("error") {
        let message = error["message"]
            .as_str()
            .or_else(|| error.as_str())
            .unwrap_or("error inside the stream");
        return Err(ModelError::Server {
            status: 0,
            message: message.to_owned(),
        });
    }
    let choice = &value["choices"][0];
    let delta = &choice["delta"];
    Ok(Event {
        text: delta["content"].as_str().unwrap_or_default().to_owned(),
        calls: delta["tool_calls"].as_array().cloned().unwrap_or_default(),
        finished: !choice["finish_reason"].is_null(),
        done: false,
    })
}

/// Reads a server-sent event stream into answer text and tool calls, until `[DONE]` (or
/// the end of the connection after the choice finished).
pub fn sse_chat_stream(
    bytes: impl futures::Stream<Item = Result<bytes::Bytes, ModelError>> + Send + 'static,
) -> impl futures::Stream<Item = Result<ChatPiece, ModelError>> + Send + 'static {
    struct State<L> {
        lines: L,
        calls: PendingCalls,
        finished: bool,
        over: bool,
    }
    let state = State {
        lines: Box::pin(ndjson_lines(bytes)),
        calls: PendingCalls::default(),
        finished: false,
        over: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.over {
            return None;
        }
        let mut out = Vec::new();
        while out.is_empty() && !state.over {
            match state.lines.next().await {
                None => {
                    state.over = true;
                    // A call cut off before its choice finished is never handed over.
                    if !state.finished {
                        out.push(Err(ModelError::Protocol(
                            "the answer stream ended early".into(),
                        )));
                    }
                }
                Some(Err(e)) => {
                    state.over = true;
                    out.push(Err(e));
                }
                Some(Ok(line)) => match parse_event(&line) {
                    Err(e) => {
                        state.over = true;
                        out.push(Err(e));
                    }
                    Ok(event) => {
                        if !event.text.is_empty() {
                            out.push(Ok(ChatPiece::Text(event.text)));
                        }
                        state.calls.add(&event.calls);
                        if event.finished || event.done {
                            state.finished = true;
                            out.extend(state.calls.take().map(Ok));
                        }
                        state.over = event.done;
                    }
                },
            }
        }
        Some((futures::stream::iter(out), state))
    })
    .flatten()
}

#[async_trait::async_trait]
impl LanguageModel for OpenAiModel {
    #[tracing::instrument(skip_all, fields(model = %request.model, messages = request.messages.len()))]
    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let response = self
            .request(self.http.post(self.endpoint("chat/completions")))
            .json(&body(&request))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let error = classify_error(status.as_u16(), &text, Some(&request.model));
            if !request.tools.is_empty() && refuses_tools(&error) {
                return Err(ModelError::ToolsUnsupported(error.to_string()));
            }
            return Err(error);
        }
        let host = self.host();
        let bytes = response.bytes_stream().map(move |r| {
            r.map_err(|e| ModelError::Unreachable {
                host: host.clone(),
                source: Box::new(e.without_url()),
            })
        });
        Ok(sse_chat_stream(bytes).boxed())
    }

    async fn list_models(&self) -> Result<Vec<String>, ModelError> {
        Ok(self
            .models()
            .await?
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect())
    }

    async fn model_info(&self, model: &str) -> Result<ModelInfo, ModelError> {
        let models = self.models().await?;
        let Some(found) = models.iter().find(|m| m["id"] == model) else {
            return Err(ModelError::ModelNotFound {
                model: model.to_owned(),
            });
        };
        let reported = found["max_model_len"]
            .as_u64()
            .or_else(|| found["meta"]["n_ctx_train"].as_u64())
            .or_else(|| found["context_length"].as_u64());
        Ok(ModelInfo {
            context_length: Some(reported.unwrap_or(self.config.context_tokens)),
            // The API cannot say; offered, and a server that refuses is heard (see above).
            tools: true,
            // The OpenAI-compatible API does not say; HEARTH_VISION_MODEL names one.
            vision: false,
        })
    }

    fn describe(&self) -> String {
        self.host()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(content: &str) -> String {
        format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"content": content}}]})
        )
    }

    async fn pieces(body: Vec<u8>, chunk: usize) -> Vec<Result<ChatPiece, String>> {
        let chunks: Vec<Result<bytes::Bytes, ModelError>> = body
            .chunks(chunk)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        sse_chat_stream(futures::stream::iter(chunks))
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
            .await
    }

    /// The text pieces (a tool call would fail the test).
    async fn collect(body: Vec<u8>, chunk: usize) -> Vec<Result<String, String>> {
        pieces(body, chunk)
            .await
            .into_iter()
            .map(|p| match p {
                Ok(ChatPiece::Text(text)) => Ok(text),
                Ok(other) => panic!("not text: {other:?}"),
                Err(e) => Err(e),
            })
            .collect()
    }

    fn data(value: Value) -> String {
        format!("data: {value}\n\n")
    }

    /// A call as llama.cpp's server streams it: id, type and name first with empty
    /// arguments, then the arguments in pieces, then `finish_reason: tool_calls`.
    fn streamed_call(index: u64, id: &str, name: &str, arguments: &str) -> String {
        let mut out = data(json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}
        ]}, "finish_reason": null}]}));
        let chars: Vec<char> = arguments.chars().collect();
        for piece in chars.chunks(5) {
            let piece: String = piece.iter().collect();
            out.push_str(&data(
                json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": index, "function": {"arguments": piece}}
            ]}, "finish_reason": null}]}),
            ));
        }
        out
    }

    fn finish(reason: &str) -> String {
        data(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}))
    }

    #[tokio::test]
    async fn streamed_tool_calls_are_put_together_from_their_fragments() {
        let mut body = event("Let me check. ");
        body.push_str(&streamed_call(
            0,
            "call_a",
            "create_reminder",
            r#"{"when": "내일 오전 9시", "text": "call the dentist"}"#,
        ));
        body.push_str(&streamed_call(1, "call_b", "current_time", ""));
        body.push_str(&finish("tool_calls"));
        body.push_str("data: [DONE]\n\n");
        for chunk in [1, 3, 17, 4096] {
            let got = pieces(body.clone().into_bytes(), chunk).await;
            assert_eq!(
                got,
                vec![
                    Ok(ChatPiece::Text("Let me check. ".into())),
                    Ok(ChatPiece::ToolCalls(vec![
                        ToolCall {
                            id: Some("call_a".into()),
                            name: "create_reminder".into(),
                            arguments: json!({"when": "내일 오전 9시", "text": "call the dentist"}),
                        },
                        ToolCall {
                            id: Some("call_b".into()),
                            name: "current_time".into(),
                            arguments: json!({}),
                        },
                    ])),
                ],
                "chunk size {chunk}"
            );
        }
    }

    #[tokio::test]
    async fn a_whole_call_in_one_event_without_index_or_id_is_read() {
        // As some servers send it: the arguments an object, no index, no id.
        let mut body = data(
            json!({"choices": [{"index": 0, "delta": {"role": "assistant",
            "tool_calls": [{"type": "function", "function": {"name": "search_notes", "arguments": {"query": "restic"}}}]},
            "finish_reason": "tool_calls"}]}),
        );
        body.push_str("data: [DONE]\n\n");
        let got = pieces(body.into_bytes(), 4096).await;
        let [Ok(ChatPiece::ToolCalls(calls))] = got.as_slice() else {
            panic!("{got:?}");
        };
        assert_eq!(calls[0].name, "search_notes");
        assert_eq!(calls[0].arguments, json!({"query": "restic"}));
        let id = calls[0].id.as_deref().unwrap();
        assert!(id.starts_with("call_"), "a result can still name it: {id}");
    }

    #[tokio::test]
    async fn a_stream_closed_after_its_finish_without_done_is_complete() {
        let mut body = streamed_call(0, "c", "current_time", "{}");
        body.push_str(&finish("tool_calls"));
        let got = pieces(body.into_bytes(), 7).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(matches!(&got[0], Ok(ChatPiece::ToolCalls(c)) if c[0].name == "current_time"));
    }

    #[tokio::test]
    async fn a_call_cut_off_mid_stream_is_an_error_and_never_run() {
        let body = streamed_call(0, "c", "create_reminder", r#"{"when": "in 2 min"#);
        let got = pieces(body.into_bytes(), 7).await;
        assert_eq!(got.len(), 1, "the half call is not handed over: {got:?}");
        assert!(got[0].as_ref().unwrap_err().contains("ended early"));
    }

    #[test]
    fn tools_calls_and_results_go_out_in_the_apis_shape() {
        let call = ToolCall {
            id: Some("call_7".into()),
            name: "create_reminder".into(),
            arguments: json!({"when": "in 2 minutes", "text": "stretch"}),
        };
        let request = ChatRequest {
            tools: vec![ToolSpec {
                name: "create_reminder".into(),
                description: "Sets a reminder".into(),
                parameters: json!({"type": "object"}),
            }],
            ..ChatRequest::new(
                "m",
                vec![
                    PromptMessage::new(Role::User, "remind me"),
                    PromptMessage::tool_request("", vec![call.clone()]),
                    PromptMessage::tool_result(&call, "Reminder r1 is set"),
                ],
            )
        };
        let body = body(&request);
        assert_eq!(
            body["tools"][0],
            json!({"type": "function", "function": {"name": "create_reminder",
                "description": "Sets a reminder", "parameters": {"type": "object"}}})
        );
        let asked = &body["messages"][1];
        assert_eq!(asked["role"], "assistant");
        assert!(asked["content"].is_null());
        assert_eq!(asked["tool_calls"][0]["id"], "call_7");
        assert_eq!(asked["tool_calls"][0]["type"], "function");
        let arguments = asked["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .expect("arguments are a JSON string");
        assert_eq!(
            serde_json::from_str::<Value>(arguments).unwrap(),
            call.arguments
        );
        assert_eq!(
            body["messages"][2],
            json!({"role": "tool", "content": "Reminder r1 is set", "tool_call_id": "call_7"})
        );
        let plain = super::body(&ChatRequest::new("m", vec![]));
        assert!(plain.get("tools").is_none(), "no tools, nothing about them");
    }

    #[test]
    fn a_refusal_that_names_tools_is_recognised() {
        for (status, body) in [
            (
                500,
                r#"{"error":{"code":500,"message":"tools param requires --jinja flag","type":"server_error"}}"#,
            ),
            (
                400,
                r#"{"object":"error","message":"\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set","type":"BadRequestError","code":400}"#,
            ),
            (
                400,
                r#"{"error":{"message":"registry.ollama.ai/library/smollm2:135m does not support tools"}}"#,
            ),
        ] {
            assert!(
                refuses_tools(&classify_error(status, body, Some("m"))),
                "{body}"
            );
        }
        assert!(!refuses_tools(&classify_error(
            400,
            r#"{"error":{"message":"the request exceeds the available context size"}}"#,
            Some("m")
        )));
    }

    #[tokio::test]
    async fn multibyte_text_survives_any_chunking() {
        let pieces = ["안녕", "하세요 ", "😀", " café"];
        let mut body = String::from(": keep-alive\n\n");
        body.push_str(&format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        ));
        for piece in pieces {
            body.push_str(&event(piece));
        }
        body.push_str("data: [DONE]\n\n");
        for chunk in [1, 2, 3, 7, 64] {
            let got = collect(body.clone().into_bytes(), chunk).await;
            let text: String = got.into_iter().map(Result::unwrap).collect();
            assert_eq!(text, pieces.concat(), "chunk size {chunk}");
        }
    }

    #[tokio::test]
    async fn a_stream_without_done_is_an_error() {
        let got = collect(event("partial").into_bytes(), 5).await;
        assert_eq!(got[0], Ok("partial".into()));
        assert!(got[1].as_ref().unwrap_err().contains("ended early"));
    }

    #[tokio::test]
    async fn an_error_event_is_reported() {
        let body = format!(
            "{}data: {{\"error\": {{\"message\": \"overloaded\"}}}}\n\n",
            event("a")
        );
        let got = collect(body.into_bytes(), 4).await;
        assert!(got[1].as_ref().unwrap_err().contains("overloaded"));
    }

    #[test]
    fn errors_are_classified() {
        let missing = classify_error(
            404,
            r#"{"error":{"message":"The model `x` does not exist","code":"model_not_found"}}"#,
            Some("x"),
        );
        assert!(matches!(missing, ModelError::ModelNotFound { .. }));
        let server = classify_error(500, r#"{"error":"boom"}"#, Some("x"));
        assert!(matches!(server, ModelError::Server { status: 500, .. }));
    }

    #[test]
    fn the_request_carries_the_cap_and_the_schema() {
        let request = ChatRequest {
            num_ctx: Some(4096),
            format: Some(json!({"type": "object"})),
            num_predict: Some(128),
            ..ChatRequest::new(
                "m",
                vec![super::super::PromptMessage::new(Role::User, "hi")],
            )
        };
        let body = body(&request);
        assert_eq!(body["max_tokens"], 128);
        assert_eq!(body["stream"], true);
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(
            body["response_format"]["json_schema"]["schema"]["type"],
            "object"
        );
    }

    #[test]
    fn endpoints_accept_a_base_with_or_without_v1() {
        for base in [
            "http://h:1234",
            "http://h:1234/",
            "http://h:1234/v1",
            "http://h/proxy/v1/",
        ] {
            let model = OpenAiModel::new(OpenAiConfig::new(base.parse().unwrap(), 4096));
            assert!(
                model.endpoint("models").as_str().ends_with("/v1/models"),
                "{base}"
            );
            assert!(
                !model.endpoint("models").as_str().contains("v1/v1"),
                "{base}"
            );
        }
    }
}
