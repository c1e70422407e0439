//! Platform-neutral core of Hearth.
//!
//! Adapters (Telegram, Discord, the terminal) translate platform events into an
//! [`InboundMessage`] and hand it to [`ChatService::handle`]; they get back a
//! [`ReplyStream`] of [`ReplyEvent`]s to render in their own idiom. Nothing in
//! this crate knows about teloxide or serenity.
//!
//! The parts:
//! - [`types`]: the inbound message, the reply stream and the keys that scope
//!   conversations and settings.
//! - [`service`]: the chat service: commands, per-chat ordering, the global
//!   limit on concurrent model requests, and the reply pipeline.
//! - [`prompt`]: pure prompt assembly within the model's context window.
//! - [`model`]: the [`LanguageModel`](model::LanguageModel) port, the Ollama
//!   client and a scripted model for tests.
//! - [`store`]: the [`HistoryStore`](store::HistoryStore) and
//!   [`SettingsStore`](store::SettingsStore) ports, backed by sled or memory, with
//!   write-through caches in front ([`store::cache`]).
//! - [`think`]: removes `<think>...</think>` reasoning from a text stream.
//! - [`access`]: who may talk to the bot.
//! - [`adapter`]: the [`Adapter`](adapter::Adapter) seam every platform starts through.
//! - [`clock`]: the [`Clock`](clock::Clock) port; a manual clock for tests.
//! - [`commands`]: the chat commands every adapter offers.
//! - [`pacer`]: one edit per interval per chat, pushed back by 429s.
//! - [`render`]: what a reply shows at each moment, for every adapter.
//! - [`retrieve`]: the [`Retriever`](retrieve::Retriever) port: scored, labelled
//!   passages for prompts (memories, the owner's notes).
//! - [`notes`]: the [`NotesSource`](notes::NotesSource) port (the `hearth-notes` crate
//!   implements it) and the retriever that puts notes in prompts.
//! - [`sources`]: which cited passages an answer used, for its `Sources:` line.
//! - [`outbound`]: the [`Outbound`](outbound::Outbound) port: messages the core sends
//!   on its own (private answers, the owner's `hearth send`, later reminders).
//! - [`remind`]: reminders: the time grammar (English and Korean), the
//!   [`ReminderStore`](remind::ReminderStore) port and the scheduler that delivers them.
//! - [`lang`]: which language to answer a person in (`/language`, the app's locale,
//!   `HEARTH_LANGUAGE`).
//! - [`actions`]: the owner's automations (HTTP endpoints such as n8n webhooks) as tools.
//! - [`voice`]: voice notes: OGG/Opus decoding and Whisper transcription.
//! - [`inbox`]: keeping a message in the [`InboxStore`](store::InboxStore) until it is
//!   answered, and taking back at start what a crash left (for every adapter).
//! - [`heap`]: handing memory freed after a model load back to the system.
//! - [`files`]: photos and documents: the [`FileReader`](files::FileReader) port and the
//!   documents of each conversation as a retriever.

pub mod access;
pub mod actions;
pub mod adapter;
pub mod clock;
pub mod commands;
pub mod error;
pub mod files;
pub mod heap;
pub mod inbox;
pub mod lang;
pub mod memory;
pub mod model;
pub mod notes;
pub mod outbound;
pub mod pacer;
pub mod prompt;
pub mod remind;
pub mod render;
pub mod retrieve;
pub mod service;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod think;
pub mod types;
pub mod voice;

pub use error::CoreError;
pub use service::{ChatService, Decided, ServiceConfig, VoiceNote};
pub use types::{
    Attachment, ChatRef, InboundMessage, Membership, Platform, ReplyEvent, ReplyStream, ScopeKey,
    TurnRef, UserKey,
};
