//! The deployment files: no Docker engine or systemd runs here, so check what
//! can be checked: the compose files parse and wire the bot to Ollama, the
//! unit file is well-formed and hardened, the Dockerfile is multi-stage.

use std::collections::HashMap;
use std::path::PathBuf;

use yaml_rust2::{Yaml, YamlLoader};

fn deploy(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(file: &str) -> Yaml {
    let mut docs =
        YamlLoader::load_from_str(&deploy(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

#[test]
fn compose_runs_the_bot_next_to_ollama() {
    let compose = yaml("compose.yaml");
    let services = &compose["services"];
    assert!(
        services["ollama"]["image"]
            .as_str()
            .unwrap()
            .starts_with("ollama/ollama")
    );
    let models = services["ollama"]["volumes"][0].as_str().unwrap();
    assert!(models.ends_with(":/root/.ollama"), "{models}");
    let hearth = &services["hearth"];
    assert_eq!(
        hearth["build"]["dockerfile"].as_str(),
        Some("deploy/Dockerfile")
    );
    assert_eq!(
        hearth["environment"]["OLLAMA_HOST"].as_str(),
        Some("http://ollama:11434")
    );
    assert_eq!(hearth["depends_on"][0].as_str(), Some("ollama"));
    for volume in ["ollama-models", "hearth-data"] {
        assert!(
            !compose["volumes"][volume].is_badvalue(),
            "volume {volume} declared"
        );
    }
    let gpu = yaml("compose.gpu.yaml");
    let device = &gpu["services"]["ollama"]["deploy"]["resources"]["reservations"]["devices"][0];
    assert_eq!(device["driver"].as_str(), Some("nvidia"));
}

/// Parses a systemd unit into section -> key -> values.
fn unit(text: &str) -> HashMap<String, HashMap<String, Vec<String>>> {
    let mut sections: HashMap<String, HashMap<String, Vec<String>>> = HashMap::new();
    let mut current = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.to_owned());
            sections.entry(name.to_owned()).or_default();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not key=value: {line}", n + 1));
        let section = current
            .as_ref()
            .unwrap_or_else(|| panic!("line {}: outside a section", n + 1));
        sections
            .get_mut(section)
            .unwrap()
            .entry(key.trim().to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    sections
}

#[test]
fn the_unit_file_is_well_formed_and_hardened() {
    let unit = unit(&deploy("hearth.service"));
    let service = &unit["Service"];
    let one = |key: &str| service.get(key).map(|v| v.last().unwrap().as_str());
    assert_eq!(one("ExecStart"), Some("/usr/local/bin/hearth run"));
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("StateDirectory", "hearth"),
    ] {
        assert_eq!(one(key), Some(value), "{key}");
    }
    assert!(
        service["Environment"]
            .iter()
            .any(|e| e == "HEARTH_DATA_DIR=/var/lib/hearth"),
        "data in the state directory"
    );
    assert_eq!(unit["Install"]["WantedBy"], ["multi-user.target"]);
    assert!(unit["Unit"].contains_key("Description"));
}

#[test]
fn the_dockerfile_is_multi_stage() {
    let dockerfile = deploy("Dockerfile");
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 2, "{stages:?}");
    assert!(dockerfile.contains("COPY --from=build"));
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains("USER hearth"), "runs unprivileged");
}

/// The build stage copies everything `cargo build` needs: every workspace member, the root
/// build script, `.cargo` (the CPU baseline the release binary is built for) and the start-up
/// symbol order the build script hands the linker (idle memory).
#[test]
fn the_dockerfile_copies_every_workspace_member() {
    let dockerfile = deploy("Dockerfile");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let copied: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from"))
        .flat_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            parts[..parts.len().saturating_sub(1)].to_vec()
        })
        .collect();
    let mut needed: Vec<String> = manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    needed.extend(
        [
            "src",
            "build.rs",
            ".cargo",
            "Cargo.lock",
            "scripts/startup-symbols.txt",
        ]
        .map(str::to_owned),
    );
    for path in needed {
        assert!(
            copied.contains(&path.as_str()),
            "deploy/Dockerfile does not copy {path}: {copied:?}"
        );
    }
}

/// The Grafana dashboard charts every metric the bot records, and only those.
#[test]
fn the_grafana_dashboard_charts_every_metric() {
    use bot_core::telemetry as t;
    let dashboard: serde_json::Value = serde_json::from_str(&deploy("grafana-hearth.json"))
        .expect("deploy/grafana-hearth.json is JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap_or_default().to_owned())
        .collect();
    let all = exprs.join("\n");
    let recorded = [
        t::MESSAGES_IN,
        t::MESSAGES_OUT,
        t::ERRORS,
        t::MODEL_SECONDS,
        t::FIRST_TOKEN_SECONDS,
        t::QUEUE_DEPTH,
        t::TRANSCRIPTIONS,
        t::REAL_TIME_FACTOR,
        t::MEMORY_SEARCH_SECONDS,
        t::NOTES_SEARCH_SECONDS,
        t::REMINDERS_PENDING,
        t::REMINDERS_LATE,
        t::STORE_BYTES,
    ];
    for name in recorded {
        assert!(all.contains(name), "the dashboard does not chart {name}");
    }
    // Every metric name in an expression is one the bot records (histograms add suffixes).
    let re = regex::Regex::new(r"hearth_[a-z_]+").unwrap();
    for found in re.find_iter(&all) {
        let name = found.as_str();
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
        assert!(
            recorded.contains(&base),
            "the dashboard charts {name}, which the bot never records"
        );
    }
}
