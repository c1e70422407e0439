//! Real tiny models behind an Ollama-compatible API, served by
//! `tests/support/llm/ollama_server.py` over llama-cpp-python: SmolLM2-135M-Instruct (fast, no
//! tools) and Qwen2.5-Coder-0.5B-Instruct (calls tools). `scripts/install-llm.sh` installs the
//! models and the engine (scripts/test.sh runs it).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running model server. Dropping it stops it.
pub struct RealModelServer {
    /// Base URL for `OLLAMA_HOST`.
    pub url: String,
    child: Child,
}

/// The model name the server answers to.
pub const MODEL: &str = "smollm2:135m";

/// The name the tool-capable model answers to ([`RealModelServer::start_tool_model`]).
pub const TOOL_MODEL: &str = "qwen2.5-coder:0.5b";

impl RealModelServer {
    /// Starts the server with SmolLM2 and a context window of `ctx` tokens, on a free port.
    pub fn start(ctx: usize) -> Self {
        Self::serve(
            "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            MODEL,
            ctx,
            &["--parameter-size", "135M", "--quantization", "Q4_1"],
        )
    }

    /// Starts the server with Qwen2.5-Coder-0.5B-Instruct, whose chat template takes tools:
    /// `/api/show` reports the `tools` capability and its calls come back as Ollama's
    /// `tool_calls`.
    pub fn start_tool_model(ctx: usize) -> Self {
        Self::serve(
            "models/qwen/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            TOOL_MODEL,
            ctx,
            &[
                "--parameter-size",
                "494M",
                "--quantization",
                "Q4_K_M",
                "--max-tokens",
                "160",
            ],
        )
    }

    /// Starts SmolLM2 with the test projector (random LLaVA-style weights, from
    /// `scripts/install-llm.sh`): `/api/show` lists `vision`, and pictures go through
    /// llama.cpp's real multimodal path (decoded, encoded into 64 image tokens, evaluated).
    /// The answers cannot describe the picture: the projector knows nothing.
    pub fn start_vision_model(ctx: usize) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mmproj = root.join("models/test-vision/mmproj-smollm2-135m-random.gguf");
        assert!(
            mmproj.is_file(),
            "the test projector is missing: run scripts/install-llm.sh (scripts/test.sh does)"
        );
        Self::serve(
            "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            MODEL,
            ctx,
            &[
                "--parameter-size",
                "135M",
                "--quantization",
                "Q4_1",
                "--mmproj",
                &mmproj.display().to_string(),
            ],
        )
    }

    fn serve(model: &str, name: &str, ctx: usize, extra: &[&str]) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let model = root.join(model);
        let site = root.join(".cache/llm/site");
        assert!(
            model.is_file() && site.join("llama_cpp").is_dir(),
            "the real model or its engine is missing: run scripts/install-llm.sh (scripts/test.sh does)"
        );
        let mut child = Command::new("python3")
            .arg(root.join("tests/support/llm/ollama_server.py"))
            .args([
                "--model",
                &model.display().to_string(),
                "--name",
                name,
                "--ctx",
                &ctx.to_string(),
            ])
            .args(extra)
            .env("PYTHONPATH", &site)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the model server (python3)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("server output");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("model server said {line:?}"))
            .to_owned();
        Self { url, child }
    }

    /// What each chat request cost, as the server counted it.
    pub async fn requests(&self) -> serde_json::Value {
        let body = raw_get(&self.url, "/debug/requests").await;
        serde_json::from_str(&body).expect("debug JSON")
    }
}

impl Drop for RealModelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny HTTP GET (the test support crate has no HTTP client of its own).
async fn raw_get(base: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the model server");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}
