//! A fake Telegram Bot API server, faithful to what teloxide 0.17 sends and expects.
//!
//! Methods are matched case-insensitively (teloxide sends `SendMessage`).
//! Texts longer than 4096 UTF-16 units and malformed HTML get Telegram's own
//! 400 errors; queued faults answer 429 with `retry_after`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::html;

/// The fake bot's id and username.
pub const BOT_ID: i64 = 4242;
/// The fake bot's username.
pub const BOT_USERNAME: &str = "hearth_test_bot";

/// One API call the bot made.
#[derive(Clone, Debug)]
pub struct Call {
    /// Method name, lowercase.
    pub method: String,
    /// The JSON body.
    pub body: Value,
    /// When it arrived (before a long poll was held).
    pub at: Instant,
    /// The HTTP status the fake answered with (0 while the call is still held).
    pub status: u16,
}

/// A message the bot sent, as it stands now.
#[derive(Clone, Debug)]
pub struct BotMessage {
    /// Chat id.
    pub chat_id: i64,
    /// Message id.
    pub message_id: i64,
    /// The visible text.
    pub text: String,
    /// The HTML as sent (None for plain text).
    pub html: Option<String>,
    /// Formatted ranges.
    pub entities: Vec<html::Entity>,
    /// Every visible text the message has had, first to last.
    pub versions: Vec<String>,
    /// The message this one replies to.
    pub reply_to: Option<i64>,
    /// Its inline keyboard, row after row: (label, callback data).
    pub buttons: Vec<(String, String)>,
}

#[derive(Default)]
struct TgState {
    token: String,
    updates: Mutex<Vec<Value>>,
    handed_over: Mutex<BTreeMap<i64, Instant>>,
    new_update: Notify,
    next_update_id: AtomicI64,
    next_message_id: AtomicI64,
    messages: Mutex<BTreeMap<(i64, i64), BotMessage>>,
    calls: Mutex<Vec<Call>>,
    faults: Mutex<VecDeque<(String, u64)>>,
    commands: Mutex<Option<Value>>,
    /// setMyCommands with a `language_code`, by that code.
    commands_by_language: Mutex<HashMap<String, Value>>,
    reject_html: AtomicI64,
    documents: Mutex<Vec<(String, Vec<u8>)>>,
    confirmed: Mutex<i64>,
    /// Files users sent, by file id; and how many times the bot downloaded one.
    files: Mutex<HashMap<String, Vec<u8>>>,
    downloads: AtomicI64,
    /// People who have written to the bot privately: like Telegram, the bot may not
    /// start a private chat with anyone else.
    started: Mutex<std::collections::HashSet<i64>>,
}

/// The fake server. Dropping it stops it.
pub struct FakeTelegram {
    /// Base URL for `TELEGRAM_API_URL`.
    pub url: String,
    state: Arc<TgState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

fn error(code: u16, description: &str, retry_after: Option<u64>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(secs) = retry_after {
        body["parameters"] = json!({"retry_after": secs});
    }
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

fn user(id: i64, name: &str) -> Value {
    json!({"id": id, "is_bot": false, "first_name": name})
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Hearth", "username": BOT_USERNAME})
}

impl FakeTelegram {
    /// Starts the fake on 127.0.0.1:0 for bot `token`.
    pub async fn start(token: &str) -> Self {
        let state = Arc::new(TgState {
            token: token.to_owned(),
            ..TgState::default()
        });
        state.next_update_id.store(100, Ordering::SeqCst);
        state.next_message_id.store(5000, Ordering::SeqCst);
        let app = Router::new()
            .route("/{bot}/{method}", post(handle))
            .route("/file/{bot}/{*path}", get(download))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            crate::serve(listener, app).await;
        });
        Self { url, state, task }
    }

    fn push_update(&self, message: Value) -> i64 {
        if message["chat"]["type"] == "private" {
            let id = message["chat"]["id"].as_i64().unwrap_or_default();
            self.state.started.lock().unwrap().insert(id);
        }
        self.push_raw("message", message)
    }

    fn push_raw(&self, kind: &str, payload: Value) -> i64 {
        let update_id = self.state.next_update_id.fetch_add(1, Ordering::SeqCst);
        self.state
            .updates
            .lock()
            .unwrap()
            .push(json!({"update_id": update_id, kind: payload}));
        self.state.new_update.notify_waiters();
        update_id
    }

    /// User `user_id` taps the inline button with `data` under the bot's message
    /// `message_id` in `chat_id`: a `callback_query` update, as Telegram sends it.
    pub fn press_button(
        &self,
        user_id: i64,
        name: &str,
        chat_id: i64,
        message_id: i64,
        data: &str,
    ) -> i64 {
        let message = self
            .state
            .messages
            .lock()
            .unwrap()
            .get(&(chat_id, message_id))
            .map(message_json)
            .expect("the button's message exists");
        let id = format!("cb{}", self.next_message_id());
        self.push_raw(
            "callback_query",
            json!({"id": id, "from": user(user_id, name), "message": message,
                   "chat_instance": "-123456789", "data": data}),
        )
    }

    fn next_message_id(&self) -> i64 {
        self.state.next_message_id.fetch_add(1, Ordering::SeqCst)
    }

    /// A private-chat text from user `user_id` (chat id = user id). Returns the update id.
    pub fn send_private(&self, user_id: i64, name: &str, text: &str) -> i64 {
        let message = json!({
            "message_id": self.next_message_id(), "date": unix_now(),
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "from": user(user_id, name), "text": text,
        });
        self.push_update(message)
    }

    /// A text message from user `user_id` whose Telegram app is set to `language_code`
    /// (`from.language_code`, e.g. "ko"). Returns the update id.
    pub fn send_private_in(
        &self,
        user_id: i64,
        name: &str,
        text: &str,
        language_code: &str,
    ) -> i64 {
        let mut from = user(user_id, name);
        from["language_code"] = json!(language_code);
        let message = json!({
            "message_id": self.next_message_id(), "date": unix_now(),
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "from": from, "text": text,
        });
        self.push_update(message)
    }

    /// A voice note (OGG/Opus `bytes`, `duration` seconds as the client reports it)
    /// from user `user_id` in a private chat. Returns the update id.
    pub fn send_voice(&self, user_id: i64, name: &str, bytes: Vec<u8>, duration: u32) -> i64 {
        self.send_voice_in(user_id, name, bytes, duration, "")
    }

    /// The same from an app set to `language_code` (e.g. "ko"; empty: none given).
    pub fn send_voice_in(
        &self,
        user_id: i64,
        name: &str,
        bytes: Vec<u8>,
        duration: u32,
        language_code: &str,
    ) -> i64 {
        let file = self.store_file(bytes);
        let mut from = user(user_id, name);
        if !language_code.is_empty() {
            from["language_code"] = json!(language_code);
        }
        let message = json!({
            "message_id": self.next_message_id(), "date": unix_now(),
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "from": from,
            "voice": {"duration": duration, "mime_type": "audio/ogg", "file_id": file.0,
                      "file_unique_id": format!("u{}", file.0), "file_size": file.1},
        });
        self.push_update(message)
    }

    /// An audio file (`mime_type`, e.g. "audio/mpeg") from user `user_id`. Returns the update id.
    pub fn send_audio(&self, user_id: i64, name: &str, bytes: Vec<u8>, mime_type: &str) -> i64 {
        let file = self.store_file(bytes);
        let message = json!({
            "message_id": self.next_message_id(), "date": unix_now(),
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "from": user(user_id, name),
            "audio": {"duration": 3, "mime_type": mime_type, "file_id": file.0,
                      "file_unique_id": format!("u{}", file.0), "file_size": file.1,
                      "file_name": "song"},
        });
        self.push_update(message)
    }

    /// A photo as Telegram sends one: the same picture in several sizes (`sizes` holds each
    /// size's width, height and encoded bytes, smallest first), with an optional caption
    /// and album (`media_group_id`). Returns the update id.
    pub fn send_photo(
        &self,
        user_id: i64,
        name: &str,
        sizes: Vec<(u32, u32, Vec<u8>)>,
        caption: Option<&str>,
        media_group_id: Option<&str>,
    ) -> i64 {
        let photo: Vec<Value> = sizes
            .into_iter()
            .map(|(width, height, bytes)| {
                let file = self.store_file(bytes);
                json!({"file_id": file.0, "file_unique_id": format!("u{}", file.0),
                       "file_size": file.1, "width": width, "height": height})
            })
            .collect();
        let mut message = json!({
            "message_id": self.next_message_id(), "date": unix_now(),
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "from": user(user_id, name),
            "photo": photo,
        });
        if let Some(caption) = caption {
            message["caption"] = json!(caption);
        }
        if let Some(group) = media_group_id {
            message["media_group_id"] = json!(group);
        }
        self.push_update(message)
    }

    /// A file sent as a document (`file_name`, `mime_type`), with an optional caption.
    /// Returns the update id.
    pub fn send_document(
        &self,
        user_id: i64,
        name: &str,
        file_name: &str,
        mime_type: &str,
        bytes: Vec<u8>,
        caption: Option<&str>,
    ) -> i64 {
        let file = self.store_file(bytes);
        let mut message = json!({
            "message_id": self.next_message_id(), "date": unix_now(),
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "from": user(user_id, name),
            "document": {"file_id": file.0, "file_unique_id": format!("u{}", file.0),
                         "file_size": file.1, "file_name": file_name, "mime_type": mime_type},
        });
        if let Some(caption) = caption {
            message["caption"] = json!(caption);
        }
        self.push_update(message)
    }

    fn store_file(&self, bytes: Vec<u8>) -> (String, usize) {
        let id = format!("file-{}", self.next_message_id());
        let size = bytes.len();
        self.state.files.lock().unwrap().insert(id.clone(), bytes);
        (id, size)
    }

    /// How many files the bot downloaded.
    pub fn downloads(&self) -> i64 {
        self.state.downloads.load(Ordering::SeqCst)
    }

    /// A group message; `reply_to_bot` makes it a reply to that bot message.
    pub fn send_group(
        &self,
        chat_id: i64,
        user_id: i64,
        name: &str,
        text: &str,
        reply_to_bot: Option<i64>,
    ) -> i64 {
        let mut message = json!({
            "message_id": self.next_message_id(), "date": unix_now(),
            "chat": {"id": chat_id, "type": "supergroup", "title": "Family"},
            "from": user(user_id, name), "text": text,
        });
        if let Some(id) = reply_to_bot {
            message["reply_to_message"] = json!({
                "message_id": id, "date": unix_now(),
                "chat": {"id": chat_id, "type": "supergroup", "title": "Family"},
                "from": bot_user(), "text": "earlier answer",
            });
        }
        self.push_update(message)
    }

    /// The next `count` calls of `method` answer 429 with `retry_after` seconds.
    pub fn fail_with_retry_after(&self, method: &str, retry_after: u64, count: usize) {
        let mut faults = self.state.faults.lock().unwrap();
        for _ in 0..count {
            faults.push_back((method.to_lowercase(), retry_after));
        }
    }

    /// Flood control: the next `count` calls that send or edit anything (in any chat)
    /// answer 429 with `retry_after` seconds, as Telegram does to a bot that writes too much.
    pub fn flood(&self, retry_after: u64, count: usize) {
        self.fail_with_retry_after(FLOODED, retry_after, count);
    }

    /// The next `count` texts sent with HTML formatting are refused with
    /// "can't parse entities", as Telegram does for markup it dislikes.
    pub fn reject_html(&self, count: i64) {
        self.state.reject_html.store(count, Ordering::SeqCst);
    }

    /// Files the bot uploaded: (file name, contents).
    pub fn documents(&self) -> Vec<(String, Vec<u8>)> {
        self.state.documents.lock().unwrap().clone()
    }

    /// All calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Calls of one method (lowercase name).
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method.to_lowercase())
            .collect()
    }

    /// How many messages the bot has in the chats `chat_ids`, without copying them.
    pub fn message_count(&self, chat_ids: std::ops::RangeInclusive<i64>) -> usize {
        self.state
            .messages
            .lock()
            .unwrap()
            .values()
            .filter(|m| chat_ids.contains(&m.chat_id))
            .count()
    }

    /// The bot's messages in `chat_id`, oldest first.
    pub fn messages(&self, chat_id: i64) -> Vec<BotMessage> {
        self.state
            .messages
            .lock()
            .unwrap()
            .values()
            .filter(|m| m.chat_id == chat_id)
            .cloned()
            .collect()
    }

    /// The commands registered with setMyCommands (for every language).
    pub fn registered_commands(&self) -> Option<Value> {
        self.state.commands.lock().unwrap().clone()
    }

    /// The commands registered with setMyCommands for apps set to `language_code`.
    pub fn registered_commands_for(&self, language_code: &str) -> Option<Value> {
        self.state
            .commands_by_language
            .lock()
            .unwrap()
            .get(language_code)
            .cloned()
    }

    /// The update id Telegram was told the bot has seen everything before (the offset of
    /// its latest poll): those updates are never delivered again.
    pub fn confirmed(&self) -> i64 {
        *self.state.confirmed.lock().unwrap()
    }

    /// When each update was first handed to the bot.
    pub fn handed_over(&self, update_id: i64) -> Option<Instant> {
        self.state
            .handed_over
            .lock()
            .unwrap()
            .get(&update_id)
            .copied()
    }

    /// Waits until a bot message in `chat_id` satisfies `check`; returns it.
    pub async fn wait_for_message(
        &self,
        chat_id: i64,
        timeout: Duration,
        check: impl Fn(&BotMessage) -> bool,
    ) -> BotMessage {
        crate::eventually(timeout, || {
            self.messages(chat_id).into_iter().find(|m| check(m))
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "no matching message in chat {chat_id}; messages: {:#?}",
                self.messages(chat_id)
            )
        })
    }
}

/// `GET /file/bot<token>/<path>`: the file behind a `getFile` path.
async fn download(
    State(state): State<Arc<TgState>>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    if bot != format!("bot{}", state.token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let id = path.trim_start_matches("voice/").trim_end_matches(".oga");
    match state.files.lock().unwrap().get(id) {
        Some(bytes) => {
            state.downloads.fetch_add(1, Ordering::SeqCst);
            bytes.clone().into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn handle(
    State(state): State<Arc<TgState>>,
    Path((bot, method)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    let method = method.to_lowercase();
    let is_multipart = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let body: Value = if is_multipart {
        multipart_body(&state, request).await
    } else {
        let bytes = axum::body::to_bytes(request.into_body(), 64 << 20)
            .await
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    // Recorded on arrival (a long poll is visible while it is held); the status follows.
    let index = {
        let mut calls = state.calls.lock().unwrap();
        calls.push(Call {
            method: method.clone(),
            body: body.clone(),
            at: Instant::now(),
            status: 0,
        });
        calls.len() - 1
    };
    let response = respond(&state, &bot, &method, &body).await;
    state.calls.lock().unwrap()[index].status = response.status().as_u16();
    response
}

/// A fault queued by [`FakeTelegram::flood`]: any sending or editing method.
const FLOODED: &str = "*send*";

async fn respond(state: &TgState, bot: &str, method: &str, body: &Value) -> Response {
    if bot != format!("bot{}", state.token) {
        return error(401, "Unauthorized", None);
    }
    {
        let mut faults = state.faults.lock().unwrap();
        let hit = |(m, _): &(String, u64)| {
            m == method
                || (m == FLOODED
                    && matches!(
                        method,
                        "sendmessage" | "editmessagetext" | "senddocument" | "sendchataction"
                    ))
        };
        if faults.front().is_some_and(hit) {
            let (_, secs) = faults.pop_front().unwrap();
            return error(
                429,
                &format!("Too Many Requests: retry after {secs}"),
                Some(secs),
            );
        }
    }
    if matches!(method, "sendmessage" | "senddocument") {
        let chat_id = body["chat_id"]
            .as_i64()
            .or_else(|| body["chat_id"].as_str().and_then(|c| c.parse().ok()))
            .unwrap_or_default();
        if chat_id > 0 && !state.started.lock().unwrap().contains(&chat_id) {
            return error(
                403,
                "Forbidden: bot can't initiate conversation with a user",
                None,
            );
        }
    }
    match method {
        "getwebhookinfo" => {
            ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}))
        }
        "deletewebhook" | "sendchataction" | "deletemessage" | "answercallbackquery" => {
            ok(json!(true))
        }
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Hearth", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false,
        })),
        "setmycommands" => {
            match body.get("language_code").and_then(Value::as_str) {
                Some(code) if !code.is_empty() => {
                    let commands = body.get("commands").cloned().unwrap_or_default();
                    state
                        .commands_by_language
                        .lock()
                        .unwrap()
                        .insert(code.to_owned(), commands);
                }
                _ => *state.commands.lock().unwrap() = body.get("commands").cloned(),
            }
            ok(json!(true))
        }
        "getupdates" => ok(get_updates(state, body).await),
        "getfile" => {
            let id = body["file_id"].as_str().unwrap_or_default();
            match state.files.lock().unwrap().get(id) {
                // The cloud Bot API refuses files over 20 MB.
                Some(bytes) if bytes.len() > 20 * 1024 * 1024 => {
                    error(400, "Bad Request: file is too big", None)
                }
                Some(bytes) => ok(json!({"file_id": id, "file_unique_id": format!("u{id}"),
                                         "file_size": bytes.len(), "file_path": format!("voice/{id}.oga")})),
                None => error(400, "Bad Request: invalid file_id", None),
            }
        }
        "sendmessage" | "editmessagetext"
            if body.get("parse_mode").is_some()
                && state
                    .reject_html
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        (n > 0).then(|| n - 1)
                    })
                    .is_ok() =>
        {
            error(
                400,
                "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0",
                None,
            )
        }
        "sendmessage" => send_message(state, body),
        "senddocument" => {
            let chat_id = body["chat_id"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or_default();
            let message = BotMessage {
                chat_id,
                message_id: state.next_message_id.fetch_add(1, Ordering::SeqCst),
                text: body["caption"].as_str().unwrap_or_default().to_owned(),
                html: None,
                entities: Vec::new(),
                versions: Vec::new(),
                reply_to: None,
                buttons: Vec::new(),
            };
            store_message(state, message)
        }
        "editmessagetext" => edit_message(state, body),
        _ => error(404, "Not Found: method not found", None),
    }
}

/// The time Telegram stamps on a message: now, in seconds since 1970.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn get_updates(state: &TgState, body: &Value) -> Value {
    let offset = body.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(100) as usize;
    let timeout = body.get("timeout").and_then(Value::as_u64).unwrap_or(0);
    // Hold an empty poll up to a second (teloxide's client gives up after 17 s).
    let deadline = tokio::time::Instant::now() + Duration::from_millis((timeout * 1000).min(1000));
    // Like Telegram, a poll with an offset confirms every earlier update: they are
    // never delivered again, not even to a restarted bot polling from offset 0.
    let offset = {
        let mut confirmed = state.confirmed.lock().unwrap();
        *confirmed = (*confirmed).max(offset);
        *confirmed
    };
    loop {
        let notified = state.new_update.notified();
        let pending: Vec<Value> = state
            .updates
            .lock()
            .unwrap()
            .iter()
            .filter(|u| u["update_id"].as_i64().unwrap() >= offset)
            // Like Telegram: only the kinds of update the bot asked for.
            .filter(|u| {
                body.get("allowed_updates")
                    .and_then(Value::as_array)
                    .filter(|kinds| !kinds.is_empty())
                    .is_none_or(|kinds| {
                        kinds
                            .iter()
                            .filter_map(Value::as_str)
                            .any(|kind| u.get(kind).is_some())
                    })
            })
            .take(limit)
            .cloned()
            .collect();
        if !pending.is_empty() || tokio::time::Instant::now() >= deadline {
            let now = Instant::now();
            let mut handed = state.handed_over.lock().unwrap();
            for update in &pending {
                handed
                    .entry(update["update_id"].as_i64().unwrap())
                    .or_insert(now);
            }
            return Value::Array(pending);
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

/// Reads a multipart upload: text fields into JSON, files kept in `documents`.
async fn multipart_body(state: &TgState, request: axum::extract::Request) -> Value {
    use axum::extract::FromRequest;
    let mut form = match axum::extract::Multipart::from_request(request, &()).await {
        Ok(form) => form,
        Err(_) => return Value::Null,
    };
    let mut fields = serde_json::Map::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                let bytes = field.bytes().await.unwrap_or_default().to_vec();
                fields.insert(name, json!({"file_name": file_name}));
                state.documents.lock().unwrap().push((file_name, bytes));
            }
            None => {
                let text = field.text().await.unwrap_or_default();
                fields.insert(name, Value::String(text));
            }
        }
    }
    Value::Object(fields)
}

/// Applies Telegram's rules to an outgoing text: (visible text, html, entities) or the 400 to send.
fn check_text(body: &Value) -> Result<(String, Option<String>, Vec<html::Entity>), String> {
    let raw = body.get("text").and_then(Value::as_str).unwrap_or_default();
    let is_html = body
        .get("parse_mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("html"));
    let (text, entities) = if is_html {
        html::parse(raw)?
    } else {
        (raw.to_owned(), Vec::new())
    };
    if text.trim().is_empty() {
        return Err("Bad Request: message text is empty".into());
    }
    if html::telegram_len(&text) > 4096 {
        return Err("Bad Request: message is too long".into());
    }
    Ok((text, is_html.then(|| raw.to_owned()), entities))
}

fn message_json(message: &BotMessage) -> Value {
    let mut json = json!({
        "message_id": message.message_id, "date": unix_now(),
        "chat": {"id": message.chat_id, "type": "private", "first_name": "User"},
        "from": bot_user(), "text": message.text,
    });
    if !message.buttons.is_empty() {
        let row: Vec<Value> = message
            .buttons
            .iter()
            .map(|(text, data)| json!({"text": text, "callback_data": data}))
            .collect();
        json["reply_markup"] = json!({"inline_keyboard": [row]});
    }
    json
}

/// The inline keyboard of a send or edit, flattened.
fn buttons(body: &Value) -> Vec<(String, String)> {
    body.pointer("/reply_markup/inline_keyboard")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(Value::as_array)
                .flatten()
                .map(|b| {
                    (
                        b["text"].as_str().unwrap_or_default().to_owned(),
                        b["callback_data"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn send_message(state: &TgState, body: &Value) -> Response {
    let (text, html, entities) = match check_text(body) {
        Ok(checked) => checked,
        Err(description) => return error(400, &description, None),
    };
    let chat_id = body["chat_id"].as_i64().unwrap_or_default();
    let message = BotMessage {
        chat_id,
        message_id: state.next_message_id.fetch_add(1, Ordering::SeqCst),
        versions: vec![text.clone()],
        text,
        html,
        entities,
        reply_to: body
            .pointer("/reply_parameters/message_id")
            .and_then(Value::as_i64),
        buttons: buttons(body),
    };
    store_message(state, message)
}

/// Keeps a message the bot sent and answers with it, as Telegram does.
fn store_message(state: &TgState, message: BotMessage) -> Response {
    let json = message_json(&message);
    let key = (message.chat_id, message.message_id);
    state.messages.lock().unwrap().insert(key, message);
    ok(json)
}

fn edit_message(state: &TgState, body: &Value) -> Response {
    let (text, html, entities) = match check_text(body) {
        Ok(checked) => checked,
        Err(description) => return error(400, &description, None),
    };
    let chat_id = body["chat_id"].as_i64().unwrap_or_default();
    let message_id = body["message_id"].as_i64().unwrap_or_default();
    let mut messages = state.messages.lock().unwrap();
    let Some(message) = messages.get_mut(&(chat_id, message_id)) else {
        return error(400, "Bad Request: message to edit not found", None);
    };
    let keyboard = buttons(body);
    if message.text == text && message.html == html && message.buttons == keyboard {
        return error(
            400,
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            None,
        );
    }
    message.versions.push(text.clone());
    message.text = text;
    message.html = html;
    message.entities = entities;
    // An edit without `reply_markup` removes the inline keyboard.
    message.buttons = keyboard;
    ok(message_json(message))
}
