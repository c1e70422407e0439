//! The OpenAI-compatible client: LM Studio, llama.cpp's server, vLLM and others.
//!
//! `POST /v1/chat/completions` streamed as server-sent events (`data: {chunk}` lines,
//! ending with `data: [DONE]`), `GET /v1/models` for the model list. The stream is split
//! into lines before decoding, as for Ollama, so characters split across network chunks
//! survive. Such servers rarely say how large a model's context is: where `/v1/models`
//! reports it (vLLM's `max_model_len`, llama.cpp's `meta.n_ctx_train`) it is used,
//! otherwise the configured context size.

use std::time::Duration;

use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::ollama::ndjson_lines;
use super::{ChatPiece, ChatRequest, ChatStream, LanguageModel, ModelError, ModelInfo, Role};

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

/// The request body for `request`.
fn body(request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| {
            if m.images.is_empty() {
                return json!({"role": role(m.role), "content": m.content});
            }
            // Pictures as content parts with data URLs (the OpenAI vision format).
            let mut parts = vec![json!({"type": "text", "text": m.content})];
            parts.extend(m.images.iter().map(|b64| {
                json!({"type": "image_url", "image_url": {"url": format!("data:{};base64,{b64}", image_mime(b64))}})
            }));
            json!({"role": role(m.role), "content": parts})
        })
        .collect();
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
    body
}

/// One server-sent event line: a content piece, the end, or nothing to show.
enum Event {
    Piece(String),
    Done,
    Skip,
}

fn parse_event(line: &[u8]) -> Result<Event, ModelError> {
    let Some(data) = line.strip_prefix(b"data:") else {
        // Comments (": keep-alive"), `event:` and `id:` lines carry no text.
        return Ok(Event::Skip);
    };
    let data = data.trim_ascii();
    if data == b"[DONE]" {
        return Ok(Event::Done);
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
    let piece = value["choices"][0]["delta"]["content"]
        .as_str()
        .unwrap_or_default();
    Ok(Event::Piece(piece.to_owned()))
}

/// Reads a server-sent event stream into answer pieces, until `[DONE]`.
pub fn sse_text_stream(
    bytes: impl futures::Stream<Item = Result<bytes::Bytes, ModelError>> + Send + 'static,
) -> impl futures::Stream<Item = Result<String, ModelError>> + Send + 'static {
    let lines = ndjson_lines(bytes);
    futures::stream::unfold((Box::pin(lines), false), |(mut lines, done)| async move {
        if done {
            return None;
        }
        loop {
            return match lines.next().await {
                None => Some((
                    Err(ModelError::Protocol("the answer stream ended early".into())),
                    (lines, true),
                )),
                Some(Err(e)) => Some((Err(e), (lines, true))),
                Some(Ok(line)) => match parse_event(&line) {
                    Ok(Event::Skip) => continue,
                    Ok(Event::Done) => None,
                    Ok(Event::Piece(piece)) => Some((Ok(piece), (lines, false))),
                    Err(e) => Some((Err(e), (lines, true))),
                },
            };
        }
    })
    .filter(|item| futures::future::ready(!matches!(item, Ok(text) if text.is_empty())))
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
            return Err(classify_error(status.as_u16(), &text, Some(&request.model)));
        }
        let host = self.host();
        let bytes = response.bytes_stream().map(move |r| {
            r.map_err(|e| ModelError::Unreachable {
                host: host.clone(),
                source: Box::new(e.without_url()),
            })
        });
        // Tools are not offered through this backend yet (`model_info` says so), so
        // the stream is text only.
        Ok(sse_text_stream(bytes)
            .map(|r| r.map(ChatPiece::Text))
            .boxed())
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
            tools: false,
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

    async fn collect(body: Vec<u8>, chunk: usize) -> Vec<Result<String, String>> {
        let chunks: Vec<Result<bytes::Bytes, ModelError>> = body
            .chunks(chunk)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        sse_text_stream(futures::stream::iter(chunks))
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
            .await
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
