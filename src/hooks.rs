//! `POST /hooks/notify`: the owner's automations (an n8n workflow, a cron job) send a
//! message through the bot.
//!
//! Off unless `HEARTH_HOOKS_ADDR` is set, and then only with a bearer token
//! (`HEARTH_HOOKS_TOKEN`). The body is JSON: `{"user": "telegram:123456", "text": "..."}`
//! to reach a person on an allow-list privately, or `{"chat": "telegram:-100123", ...}` for
//! a chat listed in `HEARTH_HOOKS_CHATS`. Answers: 200 `{"delivered": true, "messages": N}`;
//! 400 for a body that is not that; 401 without the right token; 404 for a person or chat
//! the bot may not write to; 413 for a body over 64 KiB; 502 when the platform refused.
//! Nothing else is served.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bot_core::ChatService;
use bot_core::outbound::{OutboundError, OutboundMessage, Recipient};
use bot_core::service::SendError;
use bot_core::{Platform, UserKey};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// Longest message text accepted, in characters.
const MAX_TEXT: usize = 16_000;

/// The listener's settings.
#[derive(Clone, Debug)]
pub struct HooksConfig {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The bearer token callers must present.
    pub token: SecretString,
    /// Chats (besides allowed people) hooks may write to, as `platform:chat_id`.
    pub chats: Vec<(Platform, String)>,
}

struct Hooks {
    service: ChatService,
    token: SecretString,
    chats: Vec<(Platform, String)>,
}

/// The router, for tests and for [`serve`].
fn router(hooks: Arc<Hooks>) -> Router {
    Router::new()
        .route("/hooks/notify", post(notify))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(hooks)
}

/// Listens on `config.addr` (an address in use fails here, at start) and serves the hooks
/// in a task until `shutdown`.
pub async fn start(
    config: HooksConfig,
    service: ChatService,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen for hooks on {} (HEARTH_HOOKS_ADDR): {e}",
                config.addr
            )
        })?;
    tracing::info!(addr = %config.addr, "hooks listening (POST /hooks/notify)");
    let hooks = Arc::new(Hooks {
        service,
        token: config.token,
        chats: config.chats,
    });
    Ok(tokio::spawn(async move {
        axum::serve(listener, router(hooks))
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
            .map_err(|e| anyhow::anyhow!("the hooks listener failed: {e}"))
    }))
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    answer(status, json!({ "error": message }))
}

/// Compares without returning early, so the time taken says nothing about the token.
fn same_token(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
        == 0
}

async fn notify(State(hooks): State<Arc<Hooks>>, headers: HeaderMap, body: Bytes) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same_token(
        presented.trim().as_bytes(),
        hooks.token.expose_secret().as_bytes(),
    ) {
        tracing::warn!("a hook call without the right token was refused");
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let Some(text) = request["text"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return error(StatusCode::BAD_REQUEST, "\"text\" is missing or empty");
    };
    if text.chars().count() > MAX_TEXT {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "\"text\" is too long");
    }
    let message = OutboundMessage::text(text);
    let sent = match (request["user"].as_str(), request["chat"].as_str()) {
        (Some(user), None) => {
            let Some(user) = UserKey::parse(user) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "\"user\" is not like telegram:123456 or discord:123456",
                );
            };
            match hooks.service.send_to_user(&user, message).await {
                Err(SendError::NotAllowed(_)) => {
                    tracing::info!(user = %user, "a hook named a person on no allow-list");
                    return error(StatusCode::NOT_FOUND, "unknown user");
                }
                other => other.map_err(|e| match e {
                    SendError::Outbound(e) => e,
                    other => OutboundError::Failed(other.to_string()),
                }),
            }
        }
        (None, Some(chat)) => {
            let Some((platform, chat_id)) = parse_chat(chat) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "\"chat\" is not like telegram:-100123 or discord:123456",
                );
            };
            if !hooks
                .chats
                .iter()
                .any(|(p, id)| *p == platform && *id == chat_id)
            {
                tracing::info!(chat, "a hook named a chat not in HEARTH_HOOKS_CHATS");
                return error(StatusCode::NOT_FOUND, "unknown chat");
            }
            let to = Recipient::Chat { platform, chat_id };
            hooks.service.outbounds().send(&to, message).await
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "give exactly one of \"user\" and \"chat\"",
            );
        }
    };
    match sent {
        Ok(ids) => {
            tracing::info!(messages = ids.len(), "a hook's message was delivered");
            answer(
                StatusCode::OK,
                json!({ "delivered": true, "messages": ids.len() }),
            )
        }
        Err(e @ (OutboundError::NotReachable(_) | OutboundError::UnknownRecipient(_))) => {
            tracing::info!(error = %e, "a hook's message could not be delivered");
            error(StatusCode::NOT_FOUND, &e.to_string())
        }
        Err(e) => {
            tracing::warn!(error = %e, "a hook's message could not be delivered");
            error(StatusCode::BAD_GATEWAY, &e.to_string())
        }
    }
}

/// `telegram:-100123` → (Telegram, "-100123").
pub fn parse_chat(raw: &str) -> Option<(Platform, String)> {
    let (platform, id) = raw.trim().split_once(':')?;
    let platform = match platform.to_ascii_lowercase().as_str() {
        "telegram" => Platform::Telegram,
        "discord" => Platform::Discord,
        _ => return None,
    };
    let valid = !id.is_empty()
        && id.len() <= 32
        && id
            .trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit());
    valid.then(|| (platform, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"abc", b"abc"));
        assert!(!same_token(b"abd", b"abc"));
        assert!(!same_token(b"ab", b"abc"));
        assert!(!same_token(b"", b"abc"));
    }

    #[test]
    fn chats_are_platform_and_id() {
        assert_eq!(
            parse_chat("telegram:-100123"),
            Some((Platform::Telegram, "-100123".into()))
        );
        assert_eq!(
            parse_chat("discord:42"),
            Some((Platform::Discord, "42".into()))
        );
        assert_eq!(parse_chat("slack:1"), None);
        assert_eq!(parse_chat("telegram:abc"), None);
    }
}
