//! `HEARTH_METRICS_ADDR`: `/metrics` (Prometheus text) and `/healthz` for the owner's
//! monitoring. Off by default; a loopback address keeps it on the machine.
//!
//! The core records through the `metrics` facade (`bot_core::telemetry`); this installs the
//! Prometheus recorder (metrics-exporter-prometheus, without its own HTTP listener) and serves
//! its rendering with axum, next to a health check that asks the parts that can fail.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bot_core::store::sled_store::SledStore;
use bot_core::{ChatService, Platform};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// How long `/healthz` waits for the model server.
const MODEL_CHECK: Duration = Duration::from_secs(3);

/// Installs the recorder. Call before the service starts so nothing recorded is lost.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    // Latencies from a few milliseconds (memory search) to minutes (a model loading).
    let buckets = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        120.0, 300.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets(&buckets)
        .map_err(|e| anyhow::anyhow!("metrics buckets: {e}"))?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    bot_core::telemetry::describe();
    Ok(handle)
}

struct Observed {
    handle: PrometheusHandle,
    service: ChatService,
    store: SledStore,
    /// The platforms the owner configured (each should be connected).
    platforms: Vec<Platform>,
}

/// Serves `/metrics` and `/healthz` on `addr` until `shutdown`.
pub async fn start(
    addr: SocketAddr,
    handle: PrometheusHandle,
    service: ChatService,
    store: SledStore,
    platforms: Vec<Platform>,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen for metrics on {addr} (HEARTH_METRICS_ADDR): {e}")
    })?;
    tracing::info!(addr = %addr, "metrics listening (GET /metrics, GET /healthz)");
    let observed = Arc::new(Observed {
        handle,
        service,
        store,
        platforms,
    });
    let router = axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(observed);
    Ok(tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
            .map_err(|e| anyhow::anyhow!("the metrics listener failed: {e}"))
    }))
}

async fn metrics(State(observed): State<Arc<Observed>>) -> Response {
    if let Ok(bytes) = observed.store.size_on_disk() {
        bot_core::telemetry::store_bytes(bytes);
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        observed.handle.render(),
    )
        .into_response()
}

async fn healthz(State(observed): State<Arc<Observed>>) -> Response {
    let connected = observed.service.outbounds().platforms();
    let adapters: serde_json::Map<String, serde_json::Value> = observed
        .platforms
        .iter()
        .map(|p| (p.as_str().to_owned(), json!(connected.contains(p))))
        .collect();
    let adapters_ok = observed.platforms.iter().all(|p| connected.contains(p));
    let model_ok = matches!(
        tokio::time::timeout(MODEL_CHECK, observed.service.model().list_models()).await,
        Ok(Ok(_))
    );
    let store_ok = observed.store.check_writable().await.is_ok();
    let ok = adapters_ok && model_ok && store_ok;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // Says what is wrong, never where: no addresses, no errors with URLs in them.
    (
        status,
        axum::Json(json!({
            "ok": ok,
            "adapters": adapters,
            "model_server": model_ok,
            "store_writable": store_ok,
        })),
    )
        .into_response()
}
