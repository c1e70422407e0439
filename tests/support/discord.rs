//! A fake Discord (REST on 127.0.0.1:0 and a WebSocket gateway), faithful to
//! what serenity 0.12.5 sends and expects.
//!
//! It enforces Discord's rules: the first interaction response within 3 s
//! (later ones get 10062 "Unknown interaction"), one response per interaction,
//! edits only after a response, 2,000 characters per message, and the
//! interaction token's lifetime (15 minutes, shorter when a test asks). It can
//! answer 429 to chosen calls and drop the gateway connection.

mod gateway;
mod rest;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, patch, post, put};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The bot's user id, which is also its application id.
pub const BOT_ID: &str = "900000000000000001";
/// The test server.
pub const GUILD: &str = "300000000000000001";
/// A channel in the test server.
pub const CHANNEL: &str = "400000000000000001";

/// One REST call the bot made.
#[derive(Clone, Debug)]
pub struct Call {
    /// HTTP method.
    pub method: String,
    /// Path after `/api/v10`.
    pub path: String,
    /// JSON body (multipart: its `payload_json`).
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
    /// The status the fake answered with.
    pub status: u16,
}

/// A message as it stands now.
#[derive(Clone, Debug)]
pub struct DcMessage {
    /// Message id.
    pub id: String,
    /// Channel id.
    pub channel_id: String,
    /// Author's user id.
    pub author: String,
    /// Current content.
    pub content: String,
    /// Every content it has had, first to last.
    pub versions: Vec<String>,
    /// Visible only to the person who used the command.
    pub ephemeral: bool,
    /// The interaction token it answers, for interaction responses and follow-ups.
    pub interaction: Option<String>,
    /// The message it replies to.
    pub reply_to: Option<String>,
    /// Attached files (name, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// Its buttons: (label, custom id).
    pub buttons: Vec<(String, String)>,
}

/// What the bot did with one interaction.
#[derive(Clone, Debug)]
pub struct InteractionRecord {
    /// Interaction id.
    pub id: String,
    /// The user who used the command.
    pub user: String,
    /// The channel it was used in.
    pub channel: String,
    /// When it was dispatched to the bot.
    pub dispatched: Instant,
    /// The first response: when, and its body.
    pub response: Option<(Instant, Value)>,
    /// The original response message, once there is one.
    pub original: Option<String>,
    /// Follow-up message ids, in order.
    pub followups: Vec<String>,
}

impl InteractionRecord {
    /// The callback type of the first response (5 = deferred, 4 = message, 8 = autocomplete).
    pub fn response_type(&self) -> Option<u64> {
        self.response
            .as_ref()
            .and_then(|(_, body)| body["type"].as_u64())
    }

    /// Whether the first response was ephemeral (flag 64).
    pub fn ephemeral(&self) -> bool {
        self.response
            .as_ref()
            .and_then(|(_, body)| body["data"]["flags"].as_u64())
            .is_some_and(|flags| flags & 64 != 0)
    }
}

pub(crate) struct DcState {
    token: String,
    ws_url: Mutex<String>,
    attachment_base: Mutex<String>,
    next_id: AtomicU64,
    seq: AtomicU64,
    heartbeat_ms: AtomicU64,
    events: Mutex<Vec<Value>>,
    new_event: Notify,
    identifies: AtomicUsize,
    resumes: AtomicUsize,
    drop_generation: AtomicUsize,
    stop_acks: AtomicBool,
    intents: Mutex<Option<u64>>,
    calls: Mutex<Vec<Call>>,
    interactions: Mutex<HashMap<String, InteractionRecord>>,
    messages: Mutex<BTreeMap<u64, DcMessage>>,
    faults: Mutex<VecDeque<(String, f64)>>,
    violations: Mutex<Vec<String>>,
    token_lifetime: Mutex<Duration>,
    commands: Mutex<Vec<(String, Value)>>,
    attachments: Mutex<HashMap<String, Vec<u8>>>,
    dm_channels: Mutex<HashMap<String, String>>,
    /// Users who do not accept direct messages from the bot (Discord error 50007).
    closed_dms: Mutex<std::collections::HashSet<String>>,
    /// The client language of users whose interactions say other than "en-US".
    locales: Mutex<HashMap<String, String>>,
}

impl DcState {
    fn snowflake(&self) -> String {
        self.next_id.fetch_add(1, Ordering::SeqCst).to_string()
    }

    /// A dispatch frame with the next sequence number, not kept for replay.
    fn dispatch_now(&self, kind: &str, data: Value) -> Value {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        json!({"op": 0, "s": seq, "t": kind, "d": data})
    }

    /// Queues a dispatch for the live session (and for replay after a resume).
    fn dispatch(&self, kind: &str, data: Value) {
        let mut events = self.events.lock().unwrap();
        events.push(self.dispatch_now(kind, data));
        drop(events);
        self.new_event.notify_waiters();
    }

    fn violation(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }
}

/// The fake. Dropping it stops it.
pub struct FakeDiscord {
    /// Base URL for `DISCORD_API_URL`.
    pub url: String,
    state: Arc<DcState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A snowflake for this moment (Discord's epoch is 2015-01-01T00:00:00Z).
fn snowflake_now() -> u64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    (ms - 1_420_070_400_000) << 22
}

pub(crate) fn user(id: &str) -> Value {
    json!({"id": id, "username": format!("user{id}"), "global_name": format!("User {id}"), "discriminator": "0"})
}

fn member(id: &str, roles: &[&str]) -> Value {
    json!({"user": user(id), "roles": roles, "deaf": false, "mute": false, "flags": 0,
           "joined_at": "2026-01-01T00:00:00Z"})
}

impl FakeDiscord {
    /// Starts the fake on 127.0.0.1:0 for bot `token`.
    pub async fn start(token: &str) -> Self {
        let state = Arc::new(DcState {
            token: token.to_owned(),
            ws_url: Mutex::default(),
            attachment_base: Mutex::default(),
            // Snowflakes carry their creation time (ms since 2015): start at now, as
            // Discord's would, so the bot can tell how old a message or command is.
            next_id: AtomicU64::new(snowflake_now()),
            seq: AtomicU64::new(0),
            heartbeat_ms: AtomicU64::new(41_250),
            events: Mutex::default(),
            new_event: Notify::new(),
            identifies: AtomicUsize::new(0),
            resumes: AtomicUsize::new(0),
            drop_generation: AtomicUsize::new(0),
            stop_acks: AtomicBool::new(false),
            intents: Mutex::default(),
            calls: Mutex::default(),
            interactions: Mutex::default(),
            messages: Mutex::default(),
            faults: Mutex::default(),
            violations: Mutex::default(),
            token_lifetime: Mutex::new(Duration::from_secs(15 * 60)),
            commands: Mutex::default(),
            attachments: Mutex::default(),
            dm_channels: Mutex::default(),
            closed_dms: Mutex::default(),
            locales: Mutex::new(HashMap::new()),
        });
        let api = Router::new()
            .route("/gateway", get(rest::gateway))
            .route("/users/@me", get(rest::me))
            .route("/users/@me/channels", post(rest::open_dm))
            .route("/applications/{app}/commands", put(rest::register))
            .route(
                "/applications/{app}/guilds/{guild}/commands",
                put(rest::register),
            )
            .route("/interactions/{id}/{token}/callback", post(rest::callback))
            .route("/webhooks/{app}/{token}", post(rest::followup))
            .route(
                "/webhooks/{app}/{token}/messages/{message}",
                patch(rest::edit_webhook_message),
            )
            .route("/channels/{channel}/messages", post(rest::create_message))
            .route(
                "/channels/{channel}/messages/{message}",
                patch(rest::edit_message),
            )
            .route("/channels/{channel}/typing", post(rest::typing));
        let app = Router::new()
            .nest("/api/v10", api)
            .route("/gateway", get(gateway::upgrade))
            .route("/attachments/{name}", get(rest::attachment))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&state),
                rest::record_and_fault,
            ))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        *state.ws_url.lock().unwrap() = format!("ws://{addr}/gateway");
        *state.attachment_base.lock().unwrap() = format!("http://{addr}/attachments");
        let task = tokio::spawn(async move {
            crate::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// How many times the bot identified (new sessions) and resumed.
    pub fn sessions(&self) -> (usize, usize) {
        (
            self.state.identifies.load(Ordering::SeqCst),
            self.state.resumes.load(Ordering::SeqCst),
        )
    }

    /// The intents of the last IDENTIFY.
    pub fn intents(&self) -> Option<u64> {
        *self.state.intents.lock().unwrap()
    }

    /// Closes the live gateway connection with code 4000.
    pub fn drop_connection(&self) {
        self.state.drop_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The heartbeat interval announced in HELLO (Discord: 41,250 ms).
    pub fn set_heartbeat_interval(&self, interval: Duration) {
        self.state
            .heartbeat_ms
            .store(interval.as_millis() as u64, Ordering::SeqCst);
    }

    /// Stops (or resumes) answering heartbeats.
    pub fn stop_heartbeat_acks(&self, stop: bool) {
        self.state.stop_acks.store(stop, Ordering::SeqCst);
    }

    /// Shortens the interaction token lifetime (Discord: 15 minutes).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.state.token_lifetime.lock().unwrap() = lifetime;
    }

    /// The next `count` calls whose "METHOD path" contains `pattern` get 429 with `retry_after`.
    pub fn rate_limit(&self, pattern: &str, retry_after: f64, count: usize) {
        let mut faults = self.state.faults.lock().unwrap();
        for _ in 0..count {
            faults.push_back((pattern.to_owned(), retry_after));
        }
    }

    /// Broken rules seen so far (late responses, over-long messages, ...).
    pub fn violations(&self) -> Vec<String> {
        self.state.violations.lock().unwrap().clone()
    }

    /// Every REST call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Registered commands: (route, body).
    pub fn registered_commands(&self) -> Vec<(String, Value)> {
        self.state.commands.lock().unwrap().clone()
    }

    /// Sets the client language `user_id`'s interactions carry (`locale`, e.g. "ko").
    pub fn set_locale(&self, user_id: &str, locale: &str) {
        self.state
            .locales
            .lock()
            .unwrap()
            .insert(user_id.to_owned(), locale.to_owned());
    }

    /// What happened to the interaction with `token`.
    pub fn interaction(&self, token: &str) -> Option<InteractionRecord> {
        self.state.interactions.lock().unwrap().get(token).cloned()
    }

    /// Messages in `channel` (including interaction responses), oldest first.
    pub fn messages(&self, channel: &str) -> Vec<DcMessage> {
        self.state
            .messages
            .lock()
            .unwrap()
            .values()
            .filter(|m| m.channel_id == channel)
            .cloned()
            .collect()
    }

    /// The DM channel the bot opened with `user`, if it did.
    pub fn dm_channel(&self, user: &str) -> Option<String> {
        self.state.dm_channels.lock().unwrap().get(user).cloned()
    }

    /// The DM channel between the bot and `user`, made now if there is none yet (Discord
    /// has exactly one: what `user` writes in it and what the bot opens to write to them).
    pub fn open_dm(&self, user: &str) -> String {
        self.state
            .dm_channels
            .lock()
            .unwrap()
            .entry(user.to_owned())
            .or_insert_with(|| self.state.snowflake())
            .clone()
    }

    /// `user` refuses direct messages: sending into their DM channel fails with 50007.
    pub fn close_dms(&self, user: &str) {
        self.state
            .closed_dms
            .lock()
            .unwrap()
            .insert(user.to_owned());
    }

    /// One message by id.
    pub fn message(&self, id: &str) -> Option<DcMessage> {
        let id: u64 = id.parse().ok()?;
        self.state.messages.lock().unwrap().get(&id).cloned()
    }

    /// The contents of the original response and follow-ups of an interaction, in order.
    pub fn interaction_texts(&self, token: &str) -> Vec<String> {
        let Some(record) = self.interaction(token) else {
            return Vec::new();
        };
        record
            .original
            .iter()
            .chain(record.followups.iter())
            .filter_map(|id| self.message(id))
            .map(|m| m.content)
            .collect()
    }

    /// Serves `bytes` as an attachment; returns its URL.
    pub fn host_attachment(&self, name: &str, bytes: Vec<u8>) -> String {
        self.state
            .attachments
            .lock()
            .unwrap()
            .insert(name.to_owned(), bytes);
        format!("{}/{name}", self.state.attachment_base.lock().unwrap())
    }

    fn interaction_event(
        &self,
        kind: u64,
        user_id: &str,
        channel: &str,
        guild: Option<(&str, &[&str])>,
        name: &str,
        options: Value,
    ) -> String {
        self.dispatch_interaction(
            kind,
            user_id,
            channel,
            guild,
            json!({"id": "700000000000000001", "name": name, "type": 1, "options": options}),
            None,
        )
    }

    /// Dispatches an interaction of `kind` with `payload` as its `data` (and, for a
    /// component, the `message` it is on, which an UPDATE_MESSAGE response edits);
    /// records it and returns its token.
    fn dispatch_interaction(
        &self,
        kind: u64,
        user_id: &str,
        channel: &str,
        guild: Option<(&str, &[&str])>,
        payload: Value,
        message: Option<&DcMessage>,
    ) -> String {
        let id = self.state.snowflake();
        let token = format!("itoken-{id}");
        let mut data = json!({
            "id": id, "application_id": BOT_ID, "type": kind, "token": token, "version": 1,
            "channel_id": channel, "entitlements": [],
            "locale": self.state.locales.lock().unwrap().get(user_id).cloned().unwrap_or_else(|| "en-US".to_owned()),
            "attachment_size_limit": 26_214_400, "app_permissions": "0",
            "data": payload,
        });
        if let Some(message) = message {
            data["message"] = rest::stored_message_json(&self.state, message);
        }
        match guild {
            Some((guild, roles)) => {
                data["guild_id"] = json!(guild);
                data["member"] = member(user_id, roles);
            }
            None => data["user"] = user(user_id),
        }
        self.state.interactions.lock().unwrap().insert(
            token.clone(),
            InteractionRecord {
                id: id.clone(),
                user: user_id.to_owned(),
                channel: channel.to_owned(),
                dispatched: Instant::now(),
                response: None,
                original: message.map(|m| m.id.clone()),
                followups: Vec::new(),
            },
        );
        self.state.dispatch("INTERACTION_CREATE", data);
        token
    }

    /// `user` taps the button `custom_id` under the bot's message `message_id` (a
    /// component interaction, type 3, in a DM when `guild` is None). Returns the
    /// interaction token.
    pub fn press_button(
        &self,
        user_id: &str,
        message_id: &str,
        guild: Option<(&str, &[&str])>,
        custom_id: &str,
    ) -> String {
        let message = self
            .message(message_id)
            .expect("the button's message exists");
        self.dispatch_interaction(
            3,
            user_id,
            &message.channel_id.clone(),
            guild,
            json!({"custom_id": custom_id, "component_type": 2}),
            Some(&message),
        )
    }

    /// A slash command from `user` in `channel` (in the test server with `roles`, or a DM
    /// when `guild` is None). `options` are (name, value). Returns the interaction token.
    pub fn slash(
        &self,
        user: &str,
        channel: &str,
        guild: Option<(&str, &[&str])>,
        name: &str,
        options: &[(&str, Value)],
    ) -> String {
        let options: Vec<Value> = options
            .iter()
            .map(|(name, value)| {
                let kind = if value.is_boolean() { 5 } else { 3 };
                json!({"name": name, "type": kind, "value": value})
            })
            .collect();
        self.interaction_event(2, user, channel, guild, name, json!(options))
    }

    /// An autocomplete request for the focused string option `option` of `name`.
    pub fn autocomplete(
        &self,
        user: &str,
        channel: &str,
        guild: Option<(&str, &[&str])>,
        name: &str,
        option: &str,
        typed: &str,
    ) -> String {
        let options = json!([{"name": option, "type": 3, "value": typed, "focused": true}]);
        self.interaction_event(4, user, channel, guild, name, options)
    }

    /// A message from `user` in `channel`; `mention` puts the bot's mention in front.
    /// Returns the message id.
    pub fn user_message(
        &self,
        user_id: &str,
        channel: &str,
        guild: Option<(&str, &[&str])>,
        text: &str,
        mention: bool,
        reply_to: Option<&str>,
    ) -> String {
        self.user_message_with(
            user_id,
            channel,
            guild,
            text,
            mention,
            reply_to,
            Vec::new(),
            0,
        )
    }

    /// The same with attachments (JSON objects) and message flags.
    #[allow(clippy::too_many_arguments)]
    pub fn user_message_with(
        &self,
        user_id: &str,
        channel: &str,
        guild: Option<(&str, &[&str])>,
        text: &str,
        mention: bool,
        reply_to: Option<&str>,
        attachments: Vec<Value>,
        flags: u64,
    ) -> String {
        let id = self.state.snowflake();
        let content = if mention {
            format!("<@{BOT_ID}> {text}")
        } else {
            text.to_owned()
        };
        let mut data = message_json(&id, channel, &user(user_id), &content, flags);
        data["attachments"] = json!(attachments);
        if mention {
            data["mentions"] =
                json!([{"id": BOT_ID, "username": "hearth", "bot": true, "discriminator": "0"}]);
        }
        if let Some((guild, roles)) = guild {
            data["guild_id"] = json!(guild);
            let mut member = member(user_id, roles);
            member.as_object_mut().unwrap().remove("user");
            data["member"] = member;
        }
        if let Some(reply_to) = reply_to {
            data["message_reference"] = json!({"message_id": reply_to, "channel_id": channel});
            if let Some(original) = self.message(reply_to) {
                let author = if original.author == BOT_ID {
                    json!({"id": BOT_ID, "username": "hearth", "bot": true, "discriminator": "0"})
                } else {
                    user(&original.author)
                };
                data["referenced_message"] =
                    message_json(&original.id, channel, &author, &original.content, 0);
                data["type"] = json!(19);
            }
        }
        self.state.dispatch("MESSAGE_CREATE", data);
        id
    }

    /// The texts of an interaction's response once its last piece satisfies `done`.
    pub async fn wait_for_interaction_texts(
        &self,
        token: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        crate::eventually(timeout, || {
            let texts = self.interaction_texts(token);
            texts.last().is_some_and(|t| done(t)).then_some(texts)
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "interaction {token} never finished: {:?}",
                self.interaction_texts(token)
            )
        })
    }

    /// Waits until `check` holds for a message in `channel`; returns it.
    pub async fn wait_for_message(
        &self,
        channel: &str,
        timeout: Duration,
        check: impl Fn(&DcMessage) -> bool,
    ) -> DcMessage {
        crate::eventually(timeout, || {
            self.messages(channel).into_iter().rev().find(|m| check(m))
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "no matching message in {channel}; messages: {:#?}",
                self.messages(channel)
            )
        })
    }
}

pub(crate) fn message_json(
    id: &str,
    channel: &str,
    author: &Value,
    content: &str,
    flags: u64,
) -> Value {
    json!({
        "id": id, "channel_id": channel, "author": author, "content": content,
        "timestamp": "2026-11-27T10:00:00Z", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "type": 0, "flags": flags
    })
}
