//! The fake Discord gateway: one WebSocket session at a time, as serenity 0.12 expects it.
//!
//! HELLO, then IDENTIFY -> READY (a new session) or RESUME -> missed events and
//! RESUMED; heartbeats are ACKed unless the test stops that. Dispatches carry
//! increasing sequence numbers; frames are plain JSON text (no zlib).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};

use super::{BOT_ID, DcState};

pub(super) async fn upgrade(State(state): State<Arc<DcState>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| session(state, socket))
}

async fn send(socket: &mut WebSocket, value: &Value) -> bool {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .is_ok()
}

async fn session(state: Arc<DcState>, mut socket: WebSocket) {
    let hello =
        json!({"op": 10, "d": {"heartbeat_interval": state.heartbeat_ms.load(Ordering::SeqCst)}});
    if !send(&mut socket, &hello).await {
        return;
    }
    let generation = state.drop_generation.load(Ordering::SeqCst);
    // Index into the event log of the next event to send; None until the session is live.
    let mut cursor: Option<usize> = None;
    loop {
        if state.drop_generation.load(Ordering::SeqCst) != generation {
            // The test dropped the connection: Discord's "session timed out" close.
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: 4000,
                    reason: "connection dropped by the test".into(),
                })))
                .await;
            return;
        }
        // Listening for new events starts before the pending ones are read (a `Notified`
        // hears `notify_waiters` from its creation): an event queued while they are being
        // sent wakes the loop at once instead of waiting out the sleep.
        let notified = state.new_event.notified();
        if let Some(at) = cursor.as_mut() {
            let pending: Vec<Value> = state.events.lock().unwrap()[*at..].to_vec();
            for event in pending {
                if !send(&mut socket, &event).await {
                    return;
                }
                *at += 1;
            }
        }
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                let Message::Text(text) = message else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                let op = frame["op"].as_u64();
                if op == Some(1) {
                    let acked = state.stop_acks.load(Ordering::SeqCst) || send(&mut socket, &json!({"op": 11})).await;
                    if !acked {
                        return;
                    }
                    continue;
                }
                match op {
                    Some(2) => {
                        let token = frame["d"]["token"].as_str().unwrap_or_default();
                        if token.trim_start_matches("Bot ") != state.token {
                            let _ = socket.send(Message::Close(Some(CloseFrame { code: 4004, reason: "Authentication failed.".into() }))).await;
                            return;
                        }
                        state.identifies.fetch_add(1, Ordering::SeqCst);
                        *state.intents.lock().unwrap() = frame["d"]["intents"].as_u64();
                        let ready = state.dispatch_now("READY", ready(&state));
                        if !send(&mut socket, &ready).await {
                            return;
                        }
                        cursor = Some(state.events.lock().unwrap().len());
                    }
                    Some(6) => {
                        state.resumes.fetch_add(1, Ordering::SeqCst);
                        let after = frame["d"]["seq"].as_u64().unwrap_or(0);
                        // The missed events go first, then RESUMED.
                        let missed: Vec<Value> = {
                            let events = state.events.lock().unwrap();
                            cursor = Some(events.len());
                            events.iter().filter(|e| e["s"].as_u64().unwrap_or(0) > after).cloned().collect()
                        };
                        for event in missed {
                            if !send(&mut socket, &event).await {
                                return;
                            }
                        }
                        let resumed = state.dispatch_now("RESUMED", json!({}));
                        if !send(&mut socket, &resumed).await {
                            return;
                        }
                    }
                    _ => {}
                }
            }
            _ = notified => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
        }
    }
}

fn ready(state: &DcState) -> Value {
    json!({
        "v": 10,
        "user": {"id": BOT_ID, "username": "hearth", "bot": true, "discriminator": "0"},
        "guilds": [],
        "session_id": format!("session-{}", state.identifies.load(Ordering::SeqCst)),
        "resume_gateway_url": state.ws_url.lock().unwrap().clone(),
        "application": {"id": BOT_ID, "flags": 0}
    })
}
