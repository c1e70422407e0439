//! A fake MCP server with one tool, `add_item`, spoken to over streamable HTTP (an axum
//! route, like n8n's MCP Server Trigger) or over stdio (the `fake-mcp-stdio` binary).
//!
//! Both answer JSON-RPC 2.0 as the MCP specification (2025-06-18) says: `initialize`
//! (echoing the client's protocol version), `notifications/initialized`, `ping`,
//! `tools/list`, `tools/call`. Over HTTP the session id comes with `initialize`, a
//! notification is answered 202, `tools/call` is answered as a server-sent event, the rest
//! as JSON, and GET (the optional event stream) is 405.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{Value, json};

/// The answer to one JSON-RPC message (`None` for a notification); `calls` records the
/// arguments of every `tools/call`.
pub fn respond(message: &Value, calls: &Mutex<Vec<Value>>) -> Option<Value> {
    let id = message.get("id")?.clone();
    let method = message["method"].as_str().unwrap_or_default();
    let result = match method {
        "initialize" => json!({
            "protocolVersion": message["params"]["protocolVersion"].as_str().unwrap_or("2025-06-18"),
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": "fake-shopping", "version": "1.0.0"},
        }),
        "ping" => json!({}),
        "tools/list" => json!({"tools": [{
            "name": "add_item",
            "description": "Add an item to the shopping list.",
            "inputSchema": {"type": "object", "properties": {"item": {"type": "string"}}, "required": ["item"]},
        }]}),
        "tools/call" if message["params"]["name"] == "add_item" => {
            let arguments = message["params"]["arguments"].clone();
            calls.lock().unwrap().push(arguments.clone());
            let item = arguments["item"].as_str().unwrap_or("?");
            json!({"content": [{"type": "text", "text": format!("Added {item}; the list has 3 items.")}], "isError": false})
        }
        "tools/call" => {
            return Some(json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32602, "message": "Unknown tool"}}));
        }
        _ => {
            return Some(json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": "Method not found"}}));
        }
    };
    Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// The HTTP fake.
pub struct FakeMcp {
    /// Its address.
    pub addr: SocketAddr,
    calls: Arc<Mutex<Vec<Value>>>,
    authorization: Arc<Mutex<Vec<Option<String>>>>,
    methods: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMcp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeMcp {
    /// Starts on 127.0.0.1:0, serving `/mcp`.
    pub async fn start() -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let authorization = Arc::new(Mutex::new(Vec::new()));
        let methods = Arc::new(Mutex::new(Vec::new()));
        let (seen_calls, seen_auth, seen_methods) =
            (calls.clone(), authorization.clone(), methods.clone());
        let app = Router::new().route(
            "/mcp",
            post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (calls, auth, methods) =
                    (seen_calls.clone(), seen_auth.clone(), seen_methods.clone());
                async move {
                    auth.lock().unwrap().push(
                        headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    );
                    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
                        return StatusCode::BAD_REQUEST.into_response();
                    };
                    methods
                        .lock()
                        .unwrap()
                        .push(message["method"].as_str().unwrap_or_default().to_owned());
                    let Some(answer) = respond(&message, &calls) else {
                        return StatusCode::ACCEPTED.into_response();
                    };
                    if message["method"] == "tools/call" {
                        let event = format!("event: message\ndata: {answer}\n\n");
                        return ([("content-type", "text/event-stream")], event).into_response();
                    }
                    let mut response = axum::Json(answer).into_response();
                    if message["method"] == "initialize" {
                        response
                            .headers_mut()
                            .insert("mcp-session-id", "session-1".parse().unwrap());
                    }
                    response
                }
            })
            .get(|| async { StatusCode::METHOD_NOT_ALLOWED })
            .delete(|| async { StatusCode::METHOD_NOT_ALLOWED }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            crate::serve(listener, app).await;
        });
        Self {
            addr,
            calls,
            authorization,
            methods,
            task,
        }
    }

    /// Its endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// The arguments of every tool call so far.
    pub fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }

    /// The JSON-RPC method of every request so far.
    pub fn methods(&self) -> Vec<String> {
        self.methods.lock().unwrap().clone()
    }

    /// The Authorization header of every request so far.
    pub fn authorization(&self) -> Vec<Option<String>> {
        self.authorization.lock().unwrap().clone()
    }
}

/// Serves MCP over stdin and stdout (newline-delimited JSON-RPC) until stdin closes;
/// appends each call's arguments as a line to `log`.
pub fn serve_stdio(log: &std::path::Path) {
    use std::io::{BufRead, Write};
    let calls = Mutex::new(Vec::new());
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(answer) = respond(&message, &calls) {
            let _ = writeln!(stdout, "{answer}");
            let _ = stdout.flush();
        }
        for call in calls.lock().unwrap().drain(..) {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("the call log");
            let _ = writeln!(file, "{call}");
        }
    }
}
