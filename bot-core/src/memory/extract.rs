//! Automatic capture: after an exchange, ask the model for durable facts about
//! the user, as JSON constrained by a schema, and apply ADD / UPDATE / DELETE /
//! NONE against the most similar memories the user already has.
//!
//! The model's output is checked before anything is stored: malformed JSON,
//! unknown actions, ids that are not among the memories shown to the model,
//! empty or oversized texts are discarded and logged, never stored.

use serde::Deserialize;
use serde_json::json;

use super::{Memories, MemorySource, SearchHit};
use crate::model::{PromptMessage, Role};
use crate::types::UserKey;

/// At most this many operations are applied per exchange.
const MAX_OPERATIONS: usize = 5;

/// The JSON schema the model's answer must follow (Ollama `format`).
pub fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "operations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "action": {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]},
                        "id": {"type": "string"},
                        "text": {"type": "string"}
                    },
                    "required": ["action"]
                }
            }
        },
        "required": ["operations"]
    })
}

/// The prompt for one exchange, with the user's similar memories.
pub fn prompt(user_text: &str, answer: &str, similar: &[SearchHit]) -> Vec<PromptMessage> {
    let mut known = String::new();
    for hit in similar {
        known.push_str(&format!("- id {}: {}\n", hit.memory.id, hit.memory.text));
    }
    if known.is_empty() {
        known.push_str("(none)\n");
    }
    let system = "You maintain a list of durable facts about the user: name, family, friends, pets, home, work, \
                  health, preferences, plans with dates. Read the exchange below. Return JSON: \
                  {\"operations\": [...]} where each operation is {\"action\": \"ADD\", \"text\": fact} for a new fact, \
                  {\"action\": \"UPDATE\", \"id\": id, \"text\": fact} when a known fact changed, \
                  {\"action\": \"DELETE\", \"id\": id} when a known fact is no longer true. Write facts in the third \
                  person, one short sentence each. Only facts the user stated about themselves; nothing about the \
                  assistant, no small talk, no guesses. Return {\"operations\": []} when there is nothing durable.";
    let user = format!(
        "Known facts:\n{known}\nThe user said:\n{user_text}\n\nThe assistant answered:\n{answer}"
    );
    vec![
        PromptMessage {
            role: Role::System,
            content: system.to_owned(),
        },
        PromptMessage {
            role: Role::User,
            content: user,
        },
    ]
}

#[derive(Debug, Deserialize)]
struct Answer {
    operations: Vec<Operation>,
}

#[derive(Debug, Deserialize)]
struct Operation {
    action: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

/// What applying the model's answer did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Memories added.
    pub added: usize,
    /// Memories changed.
    pub updated: usize,
    /// Memories removed.
    pub deleted: usize,
    /// Operations discarded as invalid.
    pub discarded: usize,
}

/// Checks the model's `raw` answer and applies it to `owner`'s memories.
/// `similar` are the memories shown to the model: only they may be changed.
pub async fn apply(
    memories: &Memories,
    owner: &UserKey,
    raw: &str,
    similar: &[SearchHit],
    source: MemorySource,
) -> Result<Applied, super::MemoryError> {
    let mut applied = Applied::default();
    let answer: Answer = match serde_json::from_str(raw.trim()) {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(error = %e, output_chars = raw.len(), "discarded malformed memory extraction output");
            applied.discarded = 1;
            return Ok(applied);
        }
    };
    let shown = |id: &Option<String>| {
        id.as_ref()
            .filter(|id| similar.iter().any(|h| &h.memory.id == *id))
            .cloned()
    };
    for op in answer.operations.into_iter().take(MAX_OPERATIONS) {
        let text = op.text.as_deref().map(|t| memories.validate(t));
        match (op.action.as_str(), shown(&op.id), text) {
            ("NONE", _, _) => {}
            ("ADD", _, Some(Ok(text))) => {
                let duplicate = memories
                    .list(owner)?
                    .iter()
                    .any(|m| m.text.eq_ignore_ascii_case(&text));
                if duplicate {
                    continue;
                }
                memories.remember(owner, &text, source.clone()).await?;
                applied.added += 1;
            }
            ("UPDATE", Some(id), Some(Ok(text))) => {
                if memories.update(owner, &id, &text).await?.is_some() {
                    applied.updated += 1;
                }
            }
            ("DELETE", Some(id), _) => {
                if memories.forget(owner, &id).await? {
                    applied.deleted += 1;
                }
            }
            (action, id, _) => {
                tracing::info!(action, ?id, "discarded an invalid memory operation");
                applied.discarded += 1;
            }
        }
    }
    Ok(applied)
}
