//! A real tiny model (SmolLM2-135M-Instruct) behind an Ollama-compatible API,
//! served by `tests/support/llm/ollama_server.py` over llama-cpp-python.
//! `scripts/install-llm.sh` installs the model and the engine (scripts/test.sh runs it).

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

impl RealModelServer {
    /// Starts the server with a context window of `ctx` tokens, on a free port.
    pub fn start(ctx: usize) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let model = root.join("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
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
                MODEL,
                "--ctx",
                &ctx.to_string(),
            ])
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
