//! The owner's automations as tools: each [`Action`] is an HTTP endpoint (an n8n Webhook
//! node, any small service) the model may call with JSON arguments.
//!
//! The binary reads them from `HEARTH_ACTIONS` (TOML or YAML; `src/actions.rs`); the core
//! offers them to tool-capable models next to the built-in tools and calls them with
//! [`ActionClient`]. Calls go only to the configured URL (no redirects are followed), with
//! the configured headers (their values are secrets: never logged or shown), within the
//! action's timeout. An action marked `confirm` is not run without the person's approval.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

/// The HTTP method of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Arguments as the JSON body.
    Post,
    /// Arguments as the JSON body.
    Put,
    /// Arguments as the JSON body.
    Patch,
    /// Arguments as query parameters.
    Get,
    /// Arguments as query parameters.
    Delete,
}

impl Method {
    /// `POST`, `get`, ... as written in the configuration.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "GET" => Method::Get,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    fn as_reqwest(self) -> reqwest::Method {
        match self {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Get => reqwest::Method::GET,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// One of the owner's automations.
#[derive(Clone, Debug)]
pub struct Action {
    /// The tool name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON schema of its arguments (an object schema).
    pub parameters: Value,
    /// Where it is called.
    pub url: Url,
    /// How.
    pub method: Method,
    /// Headers sent with each call; values are secrets.
    pub headers: Vec<(String, SecretString)>,
    /// How long a call may take.
    pub timeout: Duration,
    /// Ask the person before each call.
    pub confirm: bool,
}

/// The most of a response given back to the model.
pub const MAX_RESULT_CHARS: usize = 4000;

/// Why a call failed, in words a person can read (no URL, no header).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// Nothing answered, or the connection broke.
    #[error("the service could not be reached")]
    Unreachable,
    /// No answer within the action's timeout.
    #[error("the service did not answer within {0} seconds")]
    Timeout(u64),
    /// The service answered with an error status.
    #[error("the service answered {0}")]
    Status(u16),
}

/// Calls actions over HTTP.
#[derive(Clone, Debug)]
pub struct ActionClient {
    http: reqwest::Client,
}

impl Default for ActionClient {
    fn default() -> Self {
        Self::new()
    }
}

impl ActionClient {
    /// A client that never follows redirects, so calls go only where configured.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self { http }
    }

    /// Calls `action` with `arguments`; the response text, cut to [`MAX_RESULT_CHARS`].
    pub async fn call(&self, action: &Action, arguments: &Value) -> Result<String, ActionError> {
        let mut request = self
            .http
            .request(action.method.as_reqwest(), action.url.clone())
            .timeout(action.timeout);
        for (name, value) in &action.headers {
            request = request.header(name.as_str(), value.expose_secret().as_str());
        }
        request = match action.method {
            Method::Get | Method::Delete => {
                let pairs: Vec<(String, String)> = arguments
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| {
                                let v = match v {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                };
                                (k.clone(), v)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                request.query(&pairs)
            }
            _ => request.json(arguments),
        };
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                ActionError::Timeout(action.timeout.as_secs())
            } else {
                tracing::warn!(action = %action.name, error = %e.without_url(), "an action could not be reached");
                ActionError::Unreachable
            }
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            if e.is_timeout() {
                ActionError::Timeout(action.timeout.as_secs())
            } else {
                ActionError::Unreachable
            }
        })?;
        if !status.is_success() {
            tracing::warn!(action = %action.name, status = status.as_u16(), "an action answered with an error");
            return Err(ActionError::Status(status.as_u16()));
        }
        let mut text: String = text.chars().take(MAX_RESULT_CHARS).collect();
        if text.trim().is_empty() {
            text = "Done (the service sent no text back).".to_owned();
        }
        Ok(text)
    }
}

/// The data a confirmation button carries (Telegram `callback_data`, Discord
/// `custom_id`): `hc:<id>:y` to run, `hc:<id>:n` to cancel; short enough for both.
pub fn button_data(id: &str, approve: bool) -> String {
    format!("hc:{id}:{}", if approve { "y" } else { "n" })
}

/// The confirmation id and choice in a button's data, when it is one of ours.
pub fn parse_button_data(data: &str) -> Option<(String, bool)> {
    let (id, choice) = data.strip_prefix("hc:")?.rsplit_once(':')?;
    match choice {
        "y" => Some((id.to_owned(), true)),
        "n" => Some((id.to_owned(), false)),
        _ => None,
    }
}

/// A tool offered by a [`ToolSource`].
#[derive(Clone, Debug, PartialEq)]
pub struct SourcedTool {
    /// Its name, description and argument schema, as the model sees them.
    pub spec: crate::model::ToolSpec,
    /// Ask the person before each call.
    pub confirm: bool,
}

/// The port for tools that live elsewhere (the owner's MCP servers; the binary implements
/// it with rmcp). Calls run as the service decides; the source only lists and calls.
#[async_trait::async_trait]
pub trait ToolSource: Send + Sync {
    /// The tools it offers now (servers may connect later or go away).
    fn tools(&self) -> Vec<SourcedTool>;

    /// Calls `name` with `arguments`: its text result, or why it failed in a sentence
    /// a person can read (no addresses, no secrets).
    async fn call(&self, name: &str, arguments: &Value) -> Result<String, String>;
}
