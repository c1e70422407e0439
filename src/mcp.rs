//! The owner's MCP servers as tools, through the official Rust SDK (rmcp).
//!
//! Each server listed under `[[mcp]]` in the `HEARTH_ACTIONS` file is either a command
//! started with stdio (`command = ["npx", "-y", "some-mcp-server"]`) or a streamable HTTP
//! endpoint (`url = "http://127.0.0.1:5678/mcp/..."`, e.g. n8n's MCP Server Trigger), with
//! headers whose secrets come from the environment. A task per server connects, lists its
//! tools and keeps the connection; when it drops, it reconnects after a pause. Tools are
//! offered to the model as `<server>_<tool>`; `confirm` (default true) asks the person
//! before each call, as for actions.
//!
//! rmcp 0.15 is the newest release that uses the same reqwest 0.12 as the Telegram,
//! Discord and Ollama clients; later ones would compile a second HTTP stack.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bot_core::actions::{SourcedTool, ToolSource};
use bot_core::model::ToolSpec;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{Peer, RoleClient};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How long to wait before connecting again to a server that failed or went away.
const RECONNECT_AFTER: Duration = Duration::from_secs(30);
/// The most of a tool's result given back to the model.
const MAX_RESULT_CHARS: usize = 4000;

/// How to reach one server.
#[derive(Clone, Debug)]
pub enum Transport {
    /// Start `program` with `args`; talk over its stdin and stdout.
    Stdio {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Streamable HTTP at `url`, with `headers` on every request.
    Http {
        /// The endpoint.
        url: url::Url,
        /// Header names and secret values.
        headers: Vec<(String, SecretString)>,
    },
}

/// One MCP server from the configuration.
#[derive(Clone, Debug)]
pub struct McpServerConfig {
    /// Its name: the prefix of its tools' names.
    pub name: String,
    /// How to reach it.
    pub transport: Transport,
    /// Ask the person before each call.
    pub confirm: bool,
    /// How long a call may take.
    pub timeout: Duration,
}

impl McpServerConfig {
    /// Where it is, for the owner (doctor, logs): the program or the host.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Stdio { program, .. } => format!("command {program}"),
            Transport::Http { url, .. } => url.host_str().unwrap_or("?").to_owned(),
        }
    }
}

struct Connected {
    peer: Peer<RoleClient>,
    /// (name shown to the model, the server's own name, spec).
    tools: Vec<(String, String, ToolSpec)>,
}

struct Server {
    config: McpServerConfig,
    connected: RwLock<Option<Connected>>,
}

/// Every configured server, as one [`ToolSource`].
pub struct McpTools {
    servers: Vec<Arc<Server>>,
}

/// `<server>_<tool>` with only the characters tool names may have, at most 64.
fn tool_name(server: &str, tool: &str) -> String {
    format!("{server}_{tool}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

impl McpTools {
    /// Starts a connection task per server; they stop at `shutdown`.
    pub fn start(configs: Vec<McpServerConfig>, shutdown: CancellationToken) -> Arc<Self> {
        let servers: Vec<Arc<Server>> = configs
            .into_iter()
            .map(|config| {
                Arc::new(Server {
                    config,
                    connected: RwLock::new(None),
                })
            })
            .collect();
        for server in &servers {
            tokio::spawn(Arc::clone(server).keep_connected(shutdown.clone()));
        }
        Arc::new(Self { servers })
    }
}

/// Connects to `config`'s server once and lists its tools (for `hearth doctor`).
pub async fn probe(config: &McpServerConfig) -> Result<Vec<String>, String> {
    let server = Server {
        config: config.clone(),
        connected: RwLock::new(None),
    };
    let running = tokio::time::timeout(Duration::from_secs(20), server.connect())
        .await
        .map_err(|_| "no answer within 20 seconds".to_owned())??;
    let listed = running.peer().list_all_tools().await;
    running.cancellation_token().cancel();
    listed
        .map(|tools| tools.into_iter().map(|t| t.name.to_string()).collect())
        .map_err(|e| e.to_string())
}

impl Server {
    async fn keep_connected(self: Arc<Self>, shutdown: CancellationToken) {
        let name = self.config.name.clone();
        loop {
            match self.connect().await {
                Ok(running) => {
                    let peer = running.peer().clone();
                    match peer.list_all_tools().await {
                        Ok(listed) => {
                            let tools: Vec<(String, String, ToolSpec)> = listed
                                .into_iter()
                                .map(|tool| {
                                    let own = tool.name.to_string();
                                    let shown = tool_name(&name, &own);
                                    let spec = ToolSpec {
                                        name: shown.clone(),
                                        description: tool
                                            .description
                                            .map(|d| d.to_string())
                                            .unwrap_or_else(|| own.clone()),
                                        parameters: Value::Object((*tool.input_schema).clone()),
                                    };
                                    (shown, own, spec)
                                })
                                .collect();
                            tracing::info!(server = %name, tools = tools.len(), "connected to an MCP server");
                            *self.connected.write().unwrap_or_else(|e| e.into_inner()) =
                                Some(Connected { peer, tools });
                            let stop = running.cancellation_token();
                            tokio::select! {
                                _ = running.waiting() => {
                                    tracing::warn!(server = %name, "the MCP server went away; reconnecting later");
                                }
                                _ = shutdown.cancelled() => {
                                    stop.cancel();
                                    return;
                                }
                            }
                            *self.connected.write().unwrap_or_else(|e| e.into_inner()) = None;
                        }
                        Err(e) => {
                            tracing::warn!(server = %name, error = %e, "could not list an MCP server's tools");
                            running.cancellation_token().cancel();
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(server = %name, error = %e, "could not connect to an MCP server")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RECONNECT_AFTER) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    async fn connect(&self) -> Result<rmcp::service::RunningService<RoleClient, ()>, String> {
        match &self.config.transport {
            Transport::Stdio { program, args } => {
                let mut command = tokio::process::Command::new(program);
                command.args(args).kill_on_drop(true);
                let process = TokioChildProcess::new(command)
                    .map_err(|e| format!("could not start {program}: {e}"))?;
                ().serve(process).await.map_err(|e| e.to_string())
            }
            Transport::Http { url, headers } => {
                let mut map = reqwest::header::HeaderMap::new();
                for (name, value) in headers {
                    let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("header {name} is not a valid name"))?;
                    let mut value =
                        reqwest::header::HeaderValue::from_str(value.expose_secret())
                            .map_err(|_| format!("the value of header {name} is not valid"))?;
                    value.set_sensitive(true);
                    map.insert(name, value);
                }
                let client = reqwest::Client::builder()
                    .default_headers(map)
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| e.to_string())?;
                let transport = StreamableHttpClientTransport::with_client(
                    client,
                    StreamableHttpClientTransportConfig::with_uri(url.as_str()),
                );
                ().serve(transport).await.map_err(|e| e.to_string())
            }
        }
    }
}

#[async_trait::async_trait]
impl ToolSource for McpTools {
    fn tools(&self) -> Vec<SourcedTool> {
        self.servers
            .iter()
            .flat_map(|server| {
                let connected = server.connected.read().unwrap_or_else(|e| e.into_inner());
                connected
                    .as_ref()
                    .map(|c| {
                        c.tools
                            .iter()
                            .map(|(_, _, spec)| SourcedTool {
                                spec: spec.clone(),
                                confirm: server.config.confirm,
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect()
    }

    async fn call(&self, name: &str, arguments: &Value) -> Result<String, String> {
        let found = self.servers.iter().find_map(|server| {
            let connected = server.connected.read().unwrap_or_else(|e| e.into_inner());
            let c = connected.as_ref()?;
            let (_, own, _) = c.tools.iter().find(|(shown, _, _)| shown == name)?;
            Some((
                c.peer.clone(),
                own.clone(),
                server.config.timeout,
                server.config.name.clone(),
            ))
        });
        let Some((peer, own, timeout, server)) = found else {
            return Err("that tool's server is not connected".into());
        };
        let params = CallToolRequestParams {
            meta: None,
            name: own.into(),
            arguments: arguments.as_object().cloned(),
            task: None,
        };
        let result = match tokio::time::timeout(timeout, peer.call_tool(params)).await {
            Err(_) => return Err(format!("no answer within {} seconds", timeout.as_secs())),
            Ok(Err(e)) => {
                tracing::warn!(server = %server, error = %e, "an MCP tool call failed");
                return Err("the tool's server could not run it".into());
            }
            Ok(Ok(result)) => result,
        };
        let mut text: String = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n");
        if text.is_empty()
            && let Some(structured) = &result.structured_content
        {
            text = structured.to_string();
        }
        let text: String = text.chars().take(MAX_RESULT_CHARS).collect();
        if result.is_error == Some(true) {
            return Err(if text.is_empty() {
                "the tool reported an error".into()
            } else {
                text
            });
        }
        Ok(if text.is_empty() {
            "Done (the tool returned no text).".into()
        } else {
            text
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_prefixed_and_safe() {
        assert_eq!(tool_name("n8n", "add item"), "n8n_add_item");
        assert_eq!(tool_name("files", "read_file"), "files_read_file");
        assert_eq!(tool_name("x", &"y".repeat(100)).len(), 64);
    }
}
