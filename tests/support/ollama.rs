//! A fake Ollama server with the exact shapes ollama-rs 0.3.6 expects.
//!
//! Chat answers come from a queue of scripted replies; with the queue empty it
//! answers `echo: <last user message>`. It can split every NDJSON line into
//! small HTTP chunks that cut through multi-byte characters, and it can go down
//! and come back on the same port.
//!
//! It also speaks the OpenAI-compatible API (`GET /v1/models`, `POST /v1/chat/completions`
//! as server-sent events) from the same scripts, as llama.cpp's server streams it: a tool
//! call's id and name first, then its arguments as pieces of a JSON string, then
//! `finish_reason: "tool_calls"` and `[DONE]`; tools offered to a model that has none are
//! refused as vLLM refuses them without `--enable-auto-tool-choice`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Script {
    /// Content pieces, one NDJSON line each.
    pub pieces: Vec<String>,
    /// Pause before each piece.
    pub delay: Duration,
    /// Cut the body into chunks of this many bytes (splitting characters).
    pub chunk_bytes: Option<usize>,
    /// Tool calls streamed after the pieces, as Ollama writes them (`{"function": {...}}`).
    pub tool_calls: Vec<Value>,
}

impl Script {
    /// An answer in `pieces` with no pause.
    pub fn pieces(pieces: &[&str]) -> Self {
        Self {
            pieces: pieces.iter().map(|p| (*p).to_owned()).collect(),
            delay: Duration::ZERO,
            chunk_bytes: None,
            tool_calls: Vec::new(),
        }
    }

    /// An answer that calls `name` with `arguments`, as Ollama 0.12 streams it: one line
    /// whose message has empty content and `tool_calls`, then the final line.
    pub fn tool_call(name: &str, arguments: Value) -> Self {
        Self::pieces(&[]).and_call(name, arguments)
    }

    /// The same with one more call.
    pub fn and_call(mut self, name: &str, arguments: Value) -> Self {
        let index = self.tool_calls.len();
        self.tool_calls.push(json!({
            "id": format!("call_{index}"),
            "function": {"index": index, "name": name, "arguments": arguments},
        }));
        self
    }

    /// The same with a pause before each piece.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The same, cut into `n`-byte HTTP chunks.
    pub fn split_every(mut self, n: usize) -> Self {
        self.chunk_bytes = Some(n);
        self
    }
}

/// A chat request the fake received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The JSON body.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// The model asked for.
    pub fn model(&self) -> &str {
        self.body["model"].as_str().unwrap_or_default()
    }

    /// All message contents, joined by newlines.
    pub fn all_text(&self) -> String {
        self.body["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["content"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// The base64 images of each message that has some, in order.
    pub fn images(&self) -> Vec<Vec<String>> {
        self.body["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["images"].as_array())
                    .map(|images| {
                        images
                            .iter()
                            .filter_map(|i| i.as_str().map(str::to_owned))
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The last user message.
    pub fn last_user(&self) -> String {
        self.body["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// How an unscripted answer misbehaves, like a real model server under load: a random
/// pause before each piece, some requests failing with a 5xx, some streams stalling.
#[derive(Clone, Copy, Debug)]
pub struct Chaos {
    /// Longest pause before the first piece and between pieces.
    pub max_delay: Duration,
    /// Share of requests answered 500.
    pub error_rate: f64,
    /// Share of requests that stall this long before their first piece.
    pub stall_rate: f64,
    /// How long a stall lasts.
    pub stall: Duration,
}

struct OllamaState {
    /// Counts stops: an answer being streamed when it changes is cut off, as when the
    /// server process dies.
    stops: tokio::sync::watch::Sender<u64>,
    chaos: Mutex<Option<Chaos>>,
    models: Vec<String>,
    /// Models whose `/api/show` lists the `tools` capability.
    tool_models: Mutex<Vec<String>>,
    /// Models whose `/api/show` lists the `vision` capability.
    vision_models: Mutex<Vec<String>>,
    context_length: u64,
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<Received>>,
}

impl OllamaState {
    /// Records a chat request.
    fn receive(&self, body: &Value) -> Received {
        let received = Received {
            body: body.clone(),
            at: Instant::now(),
        };
        self.requests.lock().unwrap().push(received.clone());
        received
    }

    /// The next scripted answer, or `echo: <last user message>`.
    fn next_script(&self, received: &Received) -> Script {
        self.scripts
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Script::pieces(&[&format!("echo: {}", received.last_user())]))
    }
}

/// The fake server.
pub struct FakeOllama {
    /// Its address.
    pub addr: SocketAddr,
    state: Arc<OllamaState>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }
}

impl FakeOllama {
    /// Starts the fake on 127.0.0.1:0 with `models`.
    pub async fn start(models: &[&str]) -> Self {
        let state = Arc::new(OllamaState {
            stops: tokio::sync::watch::Sender::new(0),
            chaos: Mutex::default(),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            tool_models: Mutex::default(),
            vision_models: Mutex::default(),
            context_length: 8192,
            scripts: Mutex::default(),
            requests: Mutex::default(),
        });
        let listener = bind("127.0.0.1:0".parse().unwrap());
        let addr = listener.local_addr().unwrap();
        let fake = Self {
            addr,
            state,
            task: Mutex::new(None),
        };
        fake.serve(listener);
        fake
    }

    /// Base URL for `OLLAMA_HOST`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route("/api/tags", get(tags))
            .route(
                "/api/version",
                get(|| async { axum::Json(json!({"version": "0.12.6"})) }),
            )
            .route("/api/show", post(show))
            .route("/api/chat", post(chat))
            .route("/v1/models", get(openai_models))
            .route("/v1/chat/completions", post(openai_chat))
            .with_state(Arc::clone(&self.state));
        let task = tokio::spawn(async move {
            crate::serve(listener, app).await;
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// Stops answering, as a server process that exits: connections to the port are
    /// refused and answers being streamed are cut off mid-way.
    pub async fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
        self.state.stops.send_modify(|n| *n += 1);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Serves again on the same port.
    pub fn restart(&self) {
        self.serve(bind(self.addr));
    }

    /// Makes `model` able to call tools: `/api/show` lists `tools` in its capabilities
    /// (otherwise a request with `tools` is refused as Ollama refuses it).
    pub fn enable_tools(&self, model: &str) {
        self.state
            .tool_models
            .lock()
            .unwrap()
            .push(model.to_owned());
    }

    /// Makes `model` able to see: `/api/show` lists `vision` in its capabilities
    /// (otherwise a request with `images` is refused as Ollama refuses it).
    pub fn enable_vision(&self, model: &str) {
        self.state
            .vision_models
            .lock()
            .unwrap()
            .push(model.to_owned());
    }

    /// Unscripted answers misbehave as `chaos` says from now on (`None`: they do not).
    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        *self.state.chaos.lock().unwrap() = chaos;
    }

    /// Queues a scripted answer.
    pub fn push(&self, script: Script) {
        self.state.scripts.lock().unwrap().push_back(script);
    }

    /// Chat requests received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    /// How many chat requests were received so far, without copying them (benchmarks poll
    /// this while the bot works; copying every request under the lock would slow the fake).
    pub fn request_count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }
}

fn bind(addr: SocketAddr) -> tokio::net::TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(128).unwrap()
}

fn now() -> String {
    "2026-11-27T12:00:00.000000000Z".to_owned()
}

async fn tags(State(state): State<Arc<OllamaState>>) -> impl IntoResponse {
    let models: Vec<Value> = state
        .models
        .iter()
        .map(|name| {
            json!({
                "name": name, "model": name, "modified_at": now(), "size": 1_000_000u64,
                "digest": "0123456789abcdef",
                "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                            "parameter_size": "1B", "quantization_level": "Q4_0"},
            })
        })
        .collect();
    axum::Json(json!({"models": models}))
}

fn not_found(model: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": format!("model '{model}' not found")})),
    )
        .into_response()
}

async fn show(
    State(state): State<Arc<OllamaState>>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let model = body["model"]
        .as_str()
        .or(body["name"].as_str())
        .unwrap_or_default();
    if !state.models.iter().any(|m| m == model) {
        return not_found(model);
    }
    let tools = state.tool_models.lock().unwrap().iter().any(|m| m == model);
    let vision = state
        .vision_models
        .lock()
        .unwrap()
        .iter()
        .any(|m| m == model);
    let (template, mut capabilities) = if tools {
        (
            "{{- if .Tools }}{{ range .Tools }}{{ . }}{{ end }}{{ end }}{{ .Prompt }}",
            vec!["completion", "tools"],
        )
    } else {
        ("{{ .Prompt }}", vec!["completion"])
    };
    if vision {
        capabilities.push("vision");
    }
    axum::Json(json!({
        "license": "", "modelfile": "", "parameters": "", "template": template,
        "details": {"format": "gguf", "family": "llama"},
        "model_info": {"general.architecture": "llama", "llama.context_length": state.context_length},
        "capabilities": capabilities,
    }))
    .into_response()
}

fn line(model: &str, content: &str) -> String {
    let v = json!({"model": model, "created_at": now(), "message": {"role": "assistant", "content": content}, "done": false});
    format!("{v}\n")
}

fn final_line(model: &str, pieces: usize) -> String {
    let v = json!({
        "model": model, "created_at": now(), "message": {"role": "assistant", "content": ""},
        "done": true, "done_reason": "stop", "total_duration": 1_000_000u64, "load_duration": 1000u64,
        "prompt_eval_count": 10, "prompt_eval_duration": 1000u64, "eval_count": pieces, "eval_duration": 1000u64,
    });
    format!("{v}\n")
}

async fn chat(
    State(state): State<Arc<OllamaState>>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let received = state.receive(&body);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if !state.models.contains(&model) {
        return not_found(&model);
    }
    let offers_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let has_images = body["messages"].as_array().is_some_and(|m| {
        m.iter()
            .any(|m| m["images"].as_array().is_some_and(|i| !i.is_empty()))
    });
    if has_images && !state.vision_models.lock().unwrap().contains(&model) {
        // Ollama's answer to images for a model without a projector.
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "this model is missing data required for image input"})),
        )
            .into_response();
    }
    if offers_tools && !state.tool_models.lock().unwrap().contains(&model) {
        // Ollama's answer to tools for a model whose template has none.
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": format!("registry.ollama.ai/library/{model} does not support tools")})),
        )
            .into_response();
    }
    let script = state.next_script(&received);
    let chaos = *state.chaos.lock().unwrap();
    let mut first_delay = Duration::ZERO;
    let script = match chaos {
        Some(chaos) if script.tool_calls.is_empty() => {
            if fastrand::f64() < chaos.error_rate {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(
                        json!({"error": "llama runner process has terminated: signal: killed"}),
                    ),
                )
                    .into_response();
            }
            let max = chaos.max_delay.as_millis().max(1) as u64;
            first_delay = if fastrand::f64() < chaos.stall_rate {
                chaos.stall
            } else {
                Duration::from_millis(fastrand::u64(0..max))
            };
            // The answer in a few pieces, each after a random pause.
            let text = script.pieces.concat();
            let mut pieces = Vec::new();
            let chars: Vec<char> = text.chars().collect();
            for part in chars.chunks(chars.len().div_ceil(3).max(1)) {
                pieces.push(part.iter().collect::<String>());
            }
            Script {
                pieces,
                delay: Duration::from_millis(fastrand::u64(0..max) / 3),
                ..script
            }
        }
        _ => script,
    };
    let mut lines: Vec<(Duration, String)> = script
        .pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let pause = if i == 0 {
                script.delay + first_delay
            } else {
                script.delay
            };
            (pause, line(&model, p))
        })
        .collect();
    if !script.tool_calls.is_empty() {
        let v = json!({
            "model": model, "created_at": now(),
            "message": {"role": "assistant", "content": "", "tool_calls": script.tool_calls},
            "done": false,
        });
        lines.push((script.delay, format!("{v}\n")));
    }
    lines.push((Duration::ZERO, final_line(&model, script.pieces.len())));
    if body["stream"] == json!(false) {
        let content: String = script.pieces.concat();
        let mut v: Value = serde_json::from_str(&final_line(&model, script.pieces.len())).unwrap();
        v["message"]["content"] = content.into();
        if !script.tool_calls.is_empty() {
            v["message"]["tool_calls"] = script.tool_calls.clone().into();
        }
        return axum::Json(v).into_response();
    }
    let chunk_bytes = script.chunk_bytes;
    let stream = async_stream(lines, chunk_bytes, state.stops.subscribe());
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// The body as a stream of chunks, paced as scripted.
fn async_stream(
    lines: Vec<(Duration, String)>,
    chunk_bytes: Option<usize>,
    mut stops: tokio::sync::watch::Receiver<u64>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        for (delay, line) in lines {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stops.changed() => {
                    // The server went away: the connection breaks mid-answer.
                    let cut = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "server stopped");
                    let _ = tx.send(Err(cut)).await;
                    return;
                }
            }
            let bytes = line.into_bytes();
            let size = chunk_bytes.unwrap_or(bytes.len()).max(1);
            for chunk in bytes.chunks(size) {
                if tx.send(Ok(Bytes::copy_from_slice(chunk))).await.is_err() {
                    return;
                }
                if chunk_bytes.is_some() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

async fn openai_models(State(state): State<Arc<OllamaState>>) -> impl IntoResponse {
    let data: Vec<Value> = state
        .models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "local"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data}))
}

/// One server-sent event of a chat completion chunk whose choice has `delta`.
fn sse(model: &str, delta: Value, finish_reason: Option<&str>) -> String {
    let v = json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    });
    format!("data: {v}\n\n")
}

async fn openai_chat(
    State(state): State<Arc<OllamaState>>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let received = state.receive(&body);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if !state.models.contains(&model) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(
                json!({"error": {"message": format!("The model `{model}` does not exist"),
                "type": "invalid_request_error", "code": "model_not_found"}}),
            ),
        )
            .into_response();
    }
    let offers_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    if offers_tools && !state.tool_models.lock().unwrap().contains(&model) {
        // vLLM's answer to tools when it was started without a tool-call parser.
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"object": "error",
                "message": "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set",
                "type": "BadRequestError", "param": null, "code": 400})),
        )
            .into_response();
    }
    let script = state.next_script(&received);
    let mut lines = vec![(
        Duration::ZERO,
        sse(&model, json!({"role": "assistant", "content": ""}), None),
    )];
    for piece in &script.pieces {
        lines.push((script.delay, sse(&model, json!({"content": piece}), None)));
    }
    for (index, call) in script.tool_calls.iter().enumerate() {
        let function = &call["function"];
        lines.push((
            script.delay,
            sse(
                &model,
                json!({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                    "function": {"name": function["name"], "arguments": ""}}]}),
                None,
            ),
        ));
        // The arguments as a JSON string, in pieces that may cut a character's escape.
        let arguments = function["arguments"].to_string();
        let chars: Vec<char> = arguments.chars().collect();
        for piece in chars.chunks(6) {
            let piece: String = piece.iter().collect();
            lines.push((
                Duration::ZERO,
                sse(
                    &model,
                    json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                    None,
                ),
            ));
        }
    }
    let reason = if script.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    lines.push((Duration::ZERO, sse(&model, json!({}), Some(reason))));
    lines.push((Duration::ZERO, "data: [DONE]\n\n".to_owned()));
    let stream = async_stream(lines, script.chunk_bytes, state.stops.subscribe());
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}
