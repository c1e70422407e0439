//! The fake Discord's REST routes (under `/api/v10`).

// Helpers return the HTTP error response itself; size does not matter in a test fake.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{BOT_ID, Call, DcMessage, DcState, message_json, user};

/// Discord's limit on message content.
const LIMIT: usize = 2000;
/// Discord's deadline for the first interaction response.
const FIRST_RESPONSE: std::time::Duration = std::time::Duration::from_secs(3);

fn error(status: u16, code: u64, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({"message": message, "code": code})),
    )
        .into_response()
}

fn bot_author() -> Value {
    json!({"id": BOT_ID, "username": "hearth", "bot": true, "discriminator": "0"})
}

/// A request body: JSON, or multipart with `payload_json` and files.
pub(super) async fn parse_body(
    headers: &HeaderMap,
    bytes: &Bytes,
) -> (Value, Vec<(String, Vec<u8>)>) {
    let multipart = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("multipart/form-data"))
        .map(str::to_owned);
    let Some(content_type) = multipart else {
        return (
            serde_json::from_slice(bytes).unwrap_or(Value::Null),
            Vec::new(),
        );
    };
    use axum::extract::FromRequest;
    let request = axum::http::Request::builder()
        .header("content-type", content_type)
        .body(axum::body::Body::from(bytes.clone()))
        .unwrap();
    let Ok(mut form) = axum::extract::Multipart::from_request(request, &()).await else {
        return (Value::Null, Vec::new());
    };
    let mut payload = Value::Null;
    let mut files = Vec::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                files.push((file_name, field.bytes().await.unwrap_or_default().to_vec()))
            }
            None if name == "payload_json" => {
                payload = serde_json::from_str(&field.text().await.unwrap_or_default())
                    .unwrap_or(Value::Null);
            }
            None => {}
        }
    }
    (payload, files)
}

/// Records every API call, checks the bot token, and answers queued 429s.
pub(super) async fn record_and_fault(
    State(state): State<Arc<DcState>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let full_path = request.uri().path().to_owned();
    let Some(path) = full_path.strip_prefix("/api/v10").map(str::to_owned) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let (json_body, _) = parse_body(&parts.headers, &bytes).await;
    let at = Instant::now();
    let needs_token = !(path.starts_with("/webhooks/") || path.starts_with("/interactions/"));
    let authorized = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bot {}", state.token));
    let key = format!("{method} {path}");
    let fault = {
        let mut faults = state.faults.lock().unwrap();
        let hit = faults
            .iter()
            .position(|(pattern, _)| key.contains(pattern.as_str()));
        hit.and_then(|i| faults.remove(i))
    };
    let response = if needs_token && !authorized {
        error(401, 0, "401: Unauthorized")
    } else if let Some((_, retry_after)) = fault {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false, "code": 0})),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(
            "retry-after",
            format!("{}", retry_after.ceil() as u64).parse().unwrap(),
        );
        headers.insert("x-ratelimit-limit", "5".parse().unwrap());
        headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
        headers.insert(
            "x-ratelimit-reset-after",
            format!("{retry_after}").parse().unwrap(),
        );
        headers.insert("x-ratelimit-bucket", "fake-bucket".parse().unwrap());
        response
    } else {
        next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
            .await
    };
    state.calls.lock().unwrap().push(Call {
        method,
        path,
        body: json_body,
        at,
        status: response.status().as_u16(),
    });
    response
}

pub(super) async fn gateway(State(state): State<Arc<DcState>>) -> Response {
    axum::Json(json!({"url": state.ws_url.lock().unwrap().clone()})).into_response()
}

pub(super) async fn me() -> Response {
    let mut me = bot_author();
    me["verified"] = json!(true);
    me["mfa_enabled"] = json!(false);
    axum::Json(me).into_response()
}

pub(super) async fn open_dm(State(state): State<Arc<DcState>>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let recipient = body["recipient_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body["recipient_id"].to_string());
    let channel = state
        .dm_channels
        .lock()
        .unwrap()
        .entry(recipient.clone())
        .or_insert_with(|| state.snowflake())
        .clone();
    axum::Json(json!({"id": channel, "type": 1, "recipients": [user(&recipient)], "last_message_id": null})).into_response()
}

pub(super) async fn register(State(state): State<Arc<DcState>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    state.commands.lock().unwrap().push((path, body.clone()));
    let commands: Vec<Value> = body
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut command| {
            command["id"] = json!(state.snowflake());
            command["application_id"] = json!(BOT_ID);
            command["version"] = json!("1");
            if command.get("type").is_none() {
                command["type"] = json!(1);
            }
            command
        })
        .collect();
    axum::Json(Value::Array(commands)).into_response()
}

/// Stores a bot message; returns its JSON, or the 400 for content over the limit.
fn store_message(
    state: &DcState,
    channel: &str,
    content: &str,
    ephemeral: bool,
    interaction: Option<String>,
    reply_to: Option<String>,
    files: Vec<(String, Vec<u8>)>,
) -> Result<(String, Value), Response> {
    check_length(state, content)?;
    let id = state.snowflake();
    let json = bot_message_json(state, &id, channel, content, ephemeral, &files);
    state.messages.lock().unwrap().insert(
        id.parse().unwrap(),
        DcMessage {
            id: id.clone(),
            channel_id: channel.to_owned(),
            author: BOT_ID.to_owned(),
            content: content.to_owned(),
            versions: if content.is_empty() {
                Vec::new()
            } else {
                vec![content.to_owned()]
            },
            ephemeral,
            interaction,
            reply_to,
            files,
            buttons: Vec::new(),
        },
    );
    Ok((id, json))
}

/// The buttons in a message body's `components` (action rows of buttons).
fn buttons(body: &Value) -> Vec<(String, String)> {
    body["components"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|row| row["components"].as_array())
                .flatten()
                .map(|b| {
                    (
                        b["label"].as_str().unwrap_or_default().to_owned(),
                        b["custom_id"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Gives message `id` the buttons of `body` (none when it has no `components`) and
/// returns its JSON as Discord would.
fn set_buttons(state: &DcState, id: &str, body: &Value) -> Value {
    let mut messages = state.messages.lock().unwrap();
    let message = messages
        .get_mut(&id.parse::<u64>().unwrap())
        .expect("a stored message");
    message.buttons = buttons(body);
    let message = message.clone();
    drop(messages);
    stored_message_json(state, &message)
}

/// A stored bot message as Discord sends it, with its buttons.
pub(crate) fn stored_message_json(state: &DcState, message: &super::DcMessage) -> Value {
    let mut json = bot_message_json(
        state,
        &message.id,
        &message.channel_id,
        &message.content,
        message.ephemeral,
        &message.files,
    );
    if !message.buttons.is_empty() {
        let row: Vec<Value> = message
            .buttons
            .iter()
            .map(|(label, id)| json!({"type": 2, "style": 1, "label": label, "custom_id": id}))
            .collect();
        json["components"] = json!([{"type": 1, "components": row}]);
    }
    json
}

fn check_length(state: &DcState, content: &str) -> Result<(), Response> {
    let length = content.chars().count();
    if length > LIMIT {
        state.violation(format!("message of {length} characters"));
        return Err(error(
            400,
            50035,
            "Invalid Form Body: content must be 2000 or fewer in length.",
        ));
    }
    Ok(())
}

fn bot_message_json(
    state: &DcState,
    id: &str,
    channel: &str,
    content: &str,
    ephemeral: bool,
    files: &[(String, Vec<u8>)],
) -> Value {
    let mut json = message_json(
        id,
        channel,
        &bot_author(),
        content,
        if ephemeral { 64 } else { 0 },
    );
    let base = state.attachment_base.lock().unwrap().clone();
    json["attachments"] = json!(files
        .iter()
        .map(|(name, bytes)| json!({"id": state.snowflake(), "filename": name, "size": bytes.len(),
            "url": format!("{base}/{name}"), "proxy_url": format!("{base}/{name}")}))
        .collect::<Vec<_>>());
    json
}

fn edit_stored(state: &DcState, id: &str, content: &str) -> Result<Value, Response> {
    check_length(state, content)?;
    let mut messages = state.messages.lock().unwrap();
    let Some(message) = id.parse::<u64>().ok().and_then(|id| messages.get_mut(&id)) else {
        return Err(error(404, 10008, "Unknown Message"));
    };
    message.content = content.to_owned();
    if message.versions.last().map(String::as_str) != Some(content) {
        message.versions.push(content.to_owned());
    }
    let message = message.clone();
    drop(messages);
    Ok(bot_message_json(
        state,
        &message.id,
        &message.channel_id,
        &message.content,
        message.ephemeral,
        &message.files,
    ))
}

pub(super) async fn callback(
    State(state): State<Arc<DcState>>,
    Path((_id, token)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let (body, files) = parse_body(&headers, &bytes).await;
    let record = state.interactions.lock().unwrap().get(&token).cloned();
    let Some(record) = record else {
        return error(404, 10062, "Unknown interaction");
    };
    if record.response.is_some() {
        return error(400, 40060, "Interaction has already been acknowledged.");
    }
    let waited = record.dispatched.elapsed();
    if waited > FIRST_RESPONSE {
        state.violation(format!(
            "first response to an interaction after {} ms",
            waited.as_millis()
        ));
        return error(404, 10062, "Unknown interaction");
    }
    let ephemeral = body["data"]["flags"].as_u64().is_some_and(|f| f & 64 != 0);
    let original = match body["type"].as_u64() {
        Some(4) => {
            let content = body["data"]["content"].as_str().unwrap_or_default();
            match store_message(
                &state,
                &record.channel,
                content,
                ephemeral,
                Some(token.clone()),
                None,
                files,
            ) {
                Ok((id, _)) => Some(id),
                Err(response) => return response,
            }
        }
        Some(5) => match store_message(
            &state,
            &record.channel,
            "",
            ephemeral,
            Some(token.clone()),
            None,
            Vec::new(),
        ) {
            Ok((id, _)) => Some(id),
            Err(response) => return response,
        },
        Some(8) => None,
        // UPDATE_MESSAGE, for a component interaction: edits the message with the button.
        Some(7) => {
            let Some(id) = record.original.clone() else {
                return error(
                    400,
                    50035,
                    "UPDATE_MESSAGE for an interaction without a message",
                );
            };
            let content = body["data"]["content"].as_str().unwrap_or_default();
            if let Err(response) = edit_stored(&state, &id, content) {
                return response;
            }
            set_buttons(&state, &id, &body["data"]);
            Some(id)
        }
        other => return error(400, 50035, &format!("unsupported callback type {other:?}")),
    };
    let mut interactions = state.interactions.lock().unwrap();
    let record = interactions.get_mut(&token).unwrap();
    record.response = Some((Instant::now(), body));
    record.original = original;
    StatusCode::NO_CONTENT.into_response()
}

/// The interaction behind a webhook token, if the token may still be used.
fn live_interaction(state: &DcState, token: &str) -> Result<super::InteractionRecord, Response> {
    let record = state.interactions.lock().unwrap().get(token).cloned();
    let Some(record) = record else {
        return Err(error(404, 10015, "Unknown Webhook"));
    };
    if record.response.is_none() {
        return Err(error(404, 10015, "Unknown Webhook"));
    }
    if record.dispatched.elapsed() > *state.token_lifetime.lock().unwrap() {
        return Err(error(401, 50027, "Invalid Webhook Token"));
    }
    Ok(record)
}

pub(super) async fn followup(
    State(state): State<Arc<DcState>>,
    Path((_app, token)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let (body, files) = parse_body(&headers, &bytes).await;
    let record = match live_interaction(&state, &token) {
        Ok(record) => record,
        Err(response) => return response,
    };
    let content = body["content"].as_str().unwrap_or_default();
    let ephemeral = body["flags"].as_u64().is_some_and(|f| f & 64 != 0);
    match store_message(
        &state,
        &record.channel,
        content,
        ephemeral,
        Some(token.clone()),
        None,
        files,
    ) {
        Ok((id, _)) => {
            let json = set_buttons(&state, &id, &body);
            if let Some(record) = state.interactions.lock().unwrap().get_mut(&token) {
                record.followups.push(id);
            }
            axum::Json(json).into_response()
        }
        Err(response) => response,
    }
}

pub(super) async fn edit_webhook_message(
    State(state): State<Arc<DcState>>,
    Path((_app, token, message)): Path<(String, String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let (body, _) = parse_body(&headers, &bytes).await;
    let record = match live_interaction(&state, &token) {
        Ok(record) => record,
        Err(response) => return response,
    };
    let id = if message == "@original" {
        match record.original {
            Some(id) => id,
            None => return error(404, 10008, "Unknown Message"),
        }
    } else if record.followups.contains(&message) {
        message
    } else {
        return error(404, 10008, "Unknown Message");
    };
    let content = body["content"].as_str().unwrap_or_default();
    match edit_stored(&state, &id, content) {
        Ok(json) => axum::Json(json).into_response(),
        Err(response) => response,
    }
}

pub(super) async fn create_message(
    State(state): State<Arc<DcState>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let (body, files) = parse_body(&headers, &bytes).await;
    let content = body["content"].as_str().unwrap_or_default();
    if content.is_empty() && files.is_empty() {
        return error(400, 50006, "Cannot send an empty message");
    }
    let closed = state.closed_dms.lock().unwrap().clone();
    let dms = state.dm_channels.lock().unwrap().clone();
    if closed
        .iter()
        .any(|user| dms.get(user).is_some_and(|dm| *dm == channel))
    {
        return error(403, 50007, "Cannot send messages to this user");
    }
    let reply_to = body["message_reference"]["message_id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            body["message_reference"]["message_id"]
                .as_u64()
                .map(|id| id.to_string())
        });
    match store_message(&state, &channel, content, false, None, reply_to, files) {
        Ok((id, _)) => axum::Json(set_buttons(&state, &id, &body)).into_response(),
        Err(response) => response,
    }
}

pub(super) async fn edit_message(
    State(state): State<Arc<DcState>>,
    Path((_channel, message)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let (body, _) = parse_body(&headers, &bytes).await;
    let content = body["content"].as_str().unwrap_or_default();
    match edit_stored(&state, &message, content) {
        Ok(json) => axum::Json(json).into_response(),
        Err(response) => response,
    }
}

pub(super) async fn typing() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn attachment(
    State(state): State<Arc<DcState>>,
    Path(name): Path<String>,
) -> Response {
    match state.attachments.lock().unwrap().get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
