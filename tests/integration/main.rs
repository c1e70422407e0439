//! Whole-bot tests: the real `hearth` binary (and, in `in_process`, the core and adapters
//! in this process) against local fakes of Telegram,
//! Discord and Ollama, through the real teloxide, serenity and ollama-rs clients.
//!
//! Modules:
//! - `chat`: streaming replies, per-chat order, the queue, reasoning removal, Unicode.
//! - `discord`: slash commands, streaming, follow-ups, mentions, DMs, access,
//!   reconnection, 429s and the interaction token's lifetime (fake Discord).
//! - `durability`: history across restarts, graceful shutdown.
//! - `in_process`: the core and both real adapters in this process (scripted model, in-memory
//!   store): streaming, commands and their menus, groups, strangers, contained panics, 429s,
//!   private answers, the outbound port, Discord mentions and DMs.
//! - `failures`: strangers, Ollama down, 429, oversized input, long answers, secrets.
//! - `memory`: /remember, /memory, /forget, /export, capture, privacy, durability.
//! - `notes`: the owner's vault in answers with sources, followed while the bot runs, kept
//!   from groups and other people; `hearth notes index|search|status` and doctor.
//! - `outbound`: `hearth send` and private answers to commands from shared chats.
//! - `reminders`: /remind, plain-language requests, delivery across kill -9, exactly once,
//!   per person, /reminders, /timezone.
//! - `tools`: a streamed tool call run by the bot, its result sent back, the answer streamed
//!   under a 🔧 line; no tools for models without them.
//! - `real_model`: the same flows against a real tiny model behind Ollama's API, and a photo
//!   through llama.cpp's real multimodal path (a random-weight test projector).
//! - `voice`: voice notes (espeak-ng + opusenc) decoded and transcribed by the real
//!   Whisper tiny.en model, through Telegram and Discord; limits and broken audio.
//! - `whisper_kernels`: the matrix kernels Hearth changes in whisper.cpp's ggml
//!   (`patches/whisper.cpp`) against reference sums, on odd shapes and thread counts.
//! - `files`: photos to a vision model (downscaled, sizes chosen, albums, kept in the history
//!   as a note), the clear reply without one, documents read and cited by page, follow-ups
//!   and `/reset`, and broken, locked, scanned, oversized and bomb files (Telegram, Discord).
//! - `cli`: `hearth doctor`, `hearth chat` and configuration errors.
//! - `deploy`: the compose files, the systemd unit and the Dockerfile.

mod chat;
mod cli;
mod deploy;
mod discord;
mod durability;
mod failures;
mod files;
mod in_process;
mod memory;
mod notes;
mod outbound;
mod privacy;
mod real_model;
mod reminders;
mod tools;
mod util;
mod voice;
// FFI into ggml (C): the one module of the tests that needs unsafe.
#[allow(unsafe_code)]
mod whisper_kernels;
