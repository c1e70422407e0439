//! `HEARTH_ACTIONS`: the owner's automations, read from a TOML or YAML file.
//!
//! ```toml
//! [[actions]]
//! name = "add_to_shopping_list"
//! description = "Add an item to the family shopping list."
//! url = "http://127.0.0.1:5678/webhook/shopping"   # an n8n Webhook node
//! method = "POST"                                  # POST (default), PUT, PATCH: JSON body; GET, DELETE: query
//! timeout = "10s"                                  # default 10s
//! confirm = false                                  # default true: ask the person first
//! headers = { Authorization = "Bearer ${N8N_TOKEN}" }  # ${VAR} comes from the environment
//! parameters = { type = "object", properties = { item = { type = "string" } }, required = ["item"] }
//! ```
//!
//! MCP servers come in the same file:
//!
//! ```toml
//! [[mcp]]
//! name = "n8n"                                     # tools are offered as n8n_<tool>
//! url = "http://127.0.0.1:5678/mcp/abc"            # streamable HTTP (n8n's MCP Server Trigger)
//! headers = { Authorization = "Bearer ${N8N_MCP_TOKEN}" }
//! confirm = true                                   # default true
//! timeout = "30s"                                  # default 30s
//!
//! [[mcp]]
//! name = "files"
//! command = ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/shared"]  # stdio
//! ```
//!
//! YAML holds the same keys under `actions:` and `mcp:`. Every mistake is reported with the action's
//! name and the key, never with a header's value.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use bot_core::actions::{Action, Method};

use crate::mcp::{McpServerConfig, Transport};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

/// Names the built-in tools use; an action may not take one.
const BUILT_IN: &[&str] = &[
    "current_time",
    "create_reminder",
    "list_reminders",
    "cancel_reminder",
    "search_memories",
    "remember",
    "search_notes",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    actions: Vec<Entry>,
    #[serde(default)]
    mcp: Vec<McpEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct McpEntry {
    name: String,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    confirm: Option<bool>,
}

/// What the file lists.
pub struct Loaded {
    /// HTTP actions.
    pub actions: Vec<Action>,
    /// MCP servers.
    pub mcp: Vec<McpServerConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    description: String,
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    confirm: Option<bool>,
    #[serde(default)]
    parameters: Option<Value>,
}

/// Reads the actions and MCP servers in `path`; `env` gives the values of `${VAR}` in
/// headers.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let yaml = matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("yaml" | "yml")
    );
    let file: File = if yaml {
        let value = yaml_to_json(&text)?;
        serde_json::from_value(value).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?
    };
    let mut seen = HashSet::new();
    let actions = file
        .actions
        .into_iter()
        .map(|entry| {
            let name = entry.name.clone();
            let action = check(entry, env).map_err(|e| format!("action '{name}': {e}"))?;
            if !seen.insert(action.name.clone()) {
                return Err(format!("action '{name}' is listed twice"));
            }
            Ok(action)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut servers = HashSet::new();
    let mcp = file
        .mcp
        .into_iter()
        .map(|entry| {
            let name = entry.name.clone();
            let server = check_mcp(entry, env).map_err(|e| format!("mcp '{name}': {e}"))?;
            if !servers.insert(server.name.clone()) {
                return Err(format!("mcp '{name}' is listed twice"));
            }
            Ok(server)
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Loaded { actions, mcp })
}

fn check_mcp(
    entry: McpEntry,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<McpServerConfig, String> {
    let name = entry.name.trim().to_owned();
    let valid_name = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return Err("the name may have only letters, digits, _ and - (at most 32)".into());
    }
    let transport = match (entry.command, entry.url) {
        (Some(command), None) => {
            if !entry.headers.is_empty() {
                return Err(
                    "headers are for url servers; a command gets its settings from its arguments"
                        .into(),
                );
            }
            let mut parts = command.into_iter();
            let program = parts
                .next()
                .filter(|p| !p.trim().is_empty())
                .ok_or("command is empty")?;
            Transport::Stdio {
                program,
                args: parts.collect(),
            }
        }
        (None, Some(url)) => {
            let url = url::Url::parse(url.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or("url is not an http:// or https:// address")?;
            let headers = expand_headers(entry.headers, env)?;
            Transport::Http { url, headers }
        }
        _ => return Err("give either command (a list: program and arguments) or url".into()),
    };
    Ok(McpServerConfig {
        name,
        transport,
        confirm: entry.confirm.unwrap_or(true),
        timeout: timeout_of(entry.timeout.as_deref(), 30)?,
    })
}

fn timeout_of(text: Option<&str>, default_secs: u64) -> Result<Duration, String> {
    match text {
        None => Ok(Duration::from_secs(default_secs)),
        Some(t) => bot_core::remind::when::parse_duration(t)
            .and_then(|d| d.to_std().ok())
            .filter(|d| (Duration::from_secs(1)..=Duration::from_secs(600)).contains(d))
            .ok_or_else(|| format!("timeout '{t}' is not between 1s and 10m")),
    }
}

fn expand_headers(
    headers: BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, SecretString)>, String> {
    headers
        .into_iter()
        .map(|(key, value)| {
            if reqwest_header_name_ok(&key) {
                Ok((key.clone(), SecretString::new(expand(&value, env, &key)?)))
            } else {
                Err(format!("header '{key}' is not a valid header name"))
            }
        })
        .collect()
}

fn check(entry: Entry, env: &dyn Fn(&str) -> Option<String>) -> Result<Action, String> {
    let name = entry.name.trim().to_owned();
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return Err("the name may have only letters, digits, _ and - (at most 64)".into());
    }
    if BUILT_IN.contains(&name.as_str()) {
        return Err("the name is taken by a built-in tool".into());
    }
    if entry.description.trim().is_empty() {
        return Err("the description is empty (the model reads it to decide when to call)".into());
    }
    let url = url::Url::parse(entry.url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or("url is not an http:// or https:// address")?;
    let method = match &entry.method {
        None => Method::Post,
        Some(m) => Method::parse(m.trim())
            .ok_or_else(|| format!("method '{m}' is not POST, PUT, PATCH, GET or DELETE"))?,
    };
    let timeout = timeout_of(entry.timeout.as_deref(), 10)?;
    let parameters = entry
        .parameters
        .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
    if parameters.get("type").and_then(Value::as_str) != Some("object") {
        return Err("parameters must be a JSON schema with type = \"object\"".into());
    }
    let headers = expand_headers(entry.headers, env)?;
    Ok(Action {
        name,
        description: entry.description.trim().to_owned(),
        parameters,
        url,
        method,
        headers,
        timeout,
        confirm: entry.confirm.unwrap_or(true),
    })
}

fn reqwest_header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `${VAR}` in `value` replaced from `env`; a missing variable is an error naming it.
fn expand(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
    header: &str,
) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("header '{header}' has a '${{' without its '}}'"))?;
        let var = &after[..end];
        let found = env(var).ok_or_else(|| {
            format!("header '{header}' uses ${{{var}}}, which is not set in the environment")
        })?;
        out.push_str(&found);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A YAML document as JSON, for the same serde structs as TOML.
fn yaml_to_json(text: &str) -> Result<Value, String> {
    use yaml_rust2::{Yaml, YamlLoader};
    fn convert(yaml: &Yaml) -> Result<Value, String> {
        Ok(match yaml {
            Yaml::Real(r) => r
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("'{r}' is not a number"))?,
            Yaml::Integer(i) => Value::from(*i),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Boolean(b) => Value::Bool(*b),
            Yaml::Array(items) => {
                Value::Array(items.iter().map(convert).collect::<Result<_, _>>()?)
            }
            Yaml::Hash(map) => {
                let mut object = serde_json::Map::new();
                for (k, v) in map {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => return Err("a key that is not text".into()),
                    };
                    object.insert(key, convert(v)?);
                }
                Value::Object(object)
            }
            Yaml::Null => Value::Null,
            Yaml::Alias(_) | Yaml::BadValue => return Err("an unsupported YAML value".into()),
        })
    }
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    match docs.first() {
        None => Ok(serde_json::json!({})),
        Some(doc) => convert(doc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn env(var: &str) -> Option<String> {
        (var == "N8N_TOKEN").then(|| "s3cret-token".to_owned())
    }

    const TOML: &str = r#"
[[actions]]
name = "add_to_shopping_list"
description = "Add an item to the family shopping list."
url = "http://127.0.0.1:5678/webhook/shopping"
timeout = "5s"
confirm = false
headers = { Authorization = "Bearer ${N8N_TOKEN}" }
parameters = { type = "object", properties = { item = { type = "string" } }, required = ["item"] }

[[actions]]
name = "lights_off"
description = "Turn off the lights."
url = "https://home.example/api/lights"
method = "get"
"#;

    #[test]
    fn toml_and_yaml_give_the_same_actions() {
        let (_d, toml_path) = write("actions.toml", TOML);
        let from_toml = load(&toml_path, &env).unwrap().actions;
        let yaml = r#"
actions:
  - name: add_to_shopping_list
    description: Add an item to the family shopping list.
    url: http://127.0.0.1:5678/webhook/shopping
    timeout: 5s
    confirm: false
    headers:
      Authorization: Bearer ${N8N_TOKEN}
    parameters:
      type: object
      properties:
        item: {type: string}
      required: [item]
  - name: lights_off
    description: Turn off the lights.
    url: https://home.example/api/lights
    method: get
"#;
        let (_e, yaml_path) = write("actions.yaml", yaml);
        let from_yaml = load(&yaml_path, &env).unwrap().actions;
        for actions in [&from_toml, &from_yaml] {
            assert_eq!(actions.len(), 2);
            let shop = &actions[0];
            assert_eq!(shop.name, "add_to_shopping_list");
            assert_eq!(shop.method, Method::Post);
            assert_eq!(shop.timeout, Duration::from_secs(5));
            assert!(!shop.confirm);
            assert_eq!(shop.parameters["required"][0], "item");
            assert_eq!(shop.headers[0].0, "Authorization");
            assert_eq!(
                secrecy::ExposeSecret::expose_secret(&shop.headers[0].1),
                "Bearer s3cret-token"
            );
            // Unset confirm means ask first; no parameters means none.
            assert!(actions[1].confirm);
            assert_eq!(actions[1].method, Method::Get);
            assert_eq!(actions[1].parameters["type"], "object");
        }
    }

    #[test]
    fn the_example_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/actions.example.toml");
        let loaded = load(&path, &|var| {
            var.starts_with("N8N_").then(|| "t".to_owned())
        })
        .unwrap();
        assert_eq!(loaded.actions.len(), 2);
        assert!(!loaded.actions[0].confirm && loaded.actions[1].confirm);
        assert_eq!(loaded.mcp.len(), 2);
        assert!(matches!(loaded.mcp[1].transport, Transport::Stdio { .. }));
    }

    #[test]
    fn mistakes_name_the_action_and_key_but_never_a_secret() {
        for (text, expected) in [
            (
                TOML.replace("${N8N_TOKEN}", "${MISSING}"),
                "action 'add_to_shopping_list': header 'Authorization' uses ${MISSING}, which is not set",
            ),
            (
                TOML.replace("lights_off", "remember"),
                "action 'remember': the name is taken by a built-in tool",
            ),
            (
                TOML.replace("https://home.example/api/lights", "file:///etc/passwd"),
                "action 'lights_off': url is not an http",
            ),
            (
                TOML.replace("method = \"get\"", "method = \"FETCH\""),
                "method 'FETCH' is not POST",
            ),
            (
                TOML.replace("timeout = \"5s\"", "timeout = \"2h\""),
                "timeout '2h' is not between",
            ),
            (
                TOML.replace("lights_off", "add_to_shopping_list"),
                "is listed twice",
            ),
            (
                TOML.replace("confirm = false", "confirm = false\nconfrim = true"),
                "unknown field",
            ),
        ] {
            let (_d, path) = write("actions.toml", &text);
            let err = load(&path, &env).err().unwrap();
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
        for (text, expected) in [
            ("[[mcp]]\nname = \"x\"\n", "mcp 'x': give either command"),
            (
                "[[mcp]]\nname = \"x\"\ncommand = [\"a\"]\nurl = \"http://h/\"\n",
                "give either command",
            ),
            (
                "[[mcp]]\nname = \"x y\"\nurl = \"http://h/\"\n",
                "the name may have only",
            ),
        ] {
            let (_d, path) = write("actions.toml", text);
            let err = load(&path, &env).err().unwrap();
            assert!(err.contains(expected), "{err}");
        }
        let (_d, path) = write("actions.yml", "actions: [unclosed");
        assert!(load(&path, &env).err().unwrap().contains("not valid YAML"));
    }
}
