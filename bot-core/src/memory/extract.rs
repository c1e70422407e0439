//! Automatic capture: after an exchange, ask the model for durable facts about
//! the user, as JSON constrained by a schema, and apply ADD / UPDATE / DELETE /
//! NONE against the most similar memories the user already has.
//!
//! The model's output is checked before anything is stored: malformed JSON,
//! unknown actions, ids that are not among the memories shown to the model,
//! empty or oversized texts are discarded and logged, never stored.

use serde::Deserialize;

use super::{Memories, MemorySource, SearchHit};
use crate::model::{PromptMessage, Role};
use crate::types::UserKey;

/// At most this many operations are applied per exchange.
const MAX_OPERATIONS: usize = 5;
/// The longest memory id the model may write (ids are short: `m12`).
const MAX_ID_CHARS: usize = 24;
/// The longest fact the model may write ("one short sentence"); 5 of them fit the
/// extraction's token limit with room to spare.
const MAX_FACT_CHARS: usize = 240;

/// The JSON schema the model's answer must follow (Ollama `format`), derived from the
/// types the answer is read into, so the two cannot drift apart.
pub fn schema() -> serde_json::Value {
    // Inlined (no `$ref`): grammar converters of model servers handle plain nesting best.
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    let mut schema =
        serde_json::to_value(generator.into_root_schema_for::<Answer>()).unwrap_or_default();
    if let Some(object) = schema.as_object_mut() {
        // Meta keys say nothing to the model's grammar.
        object.remove("$schema");
        object.remove("title");
    }
    schema
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
                  person, one short sentence each, in the language the user wrote in (a fact said in Korean \
                  stays in Korean). Only facts the user stated about themselves; nothing about the \
                  assistant, no small talk, no guesses. Return {\"operations\": []} when there is nothing durable.";
    let user = format!(
        "Known facts:\n{known}\nThe user said:\n{user_text}\n\nThe assistant answered:\n{answer}"
    );
    vec![
        PromptMessage::new(Role::System, system),
        PromptMessage::new(Role::User, user),
    ]
}

/// The model's answer.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct Answer {
    // Bounded in the schema too, so a small model looping inside the array or a string is cut
    // off by the grammar with valid JSON instead of by the token limit mid-string.
    #[schemars(length(max = MAX_OPERATIONS))]
    operations: Vec<Operation>,
}

/// What to do with one fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
enum Action {
    /// A new fact.
    Add,
    /// Change memory `id` to `text`.
    Update,
    /// Memory `id` no longer holds.
    Delete,
    /// Nothing to remember.
    None,
    /// Anything else the model wrote: discarded (the grammar should prevent it).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// One operation of the answer.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct Operation {
    action: Action,
    #[serde(default)]
    #[schemars(with = "String", length(max = MAX_ID_CHARS))]
    id: Option<String>,
    #[serde(default)]
    #[schemars(with = "String", length(max = MAX_FACT_CHARS))]
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

/// Escapes control characters written raw inside JSON strings (a line break in a fact), which
/// some servers' grammars let through and JSON forbids; everything else is left as it is.
fn escape_raw_controls(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string && !escaped && c < ' ' {
            out.push_str(match c {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => " ",
            });
            continue;
        }
        out.push(c);
        if escaped {
            escaped = false;
        } else if in_string && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
    }
    out
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
    let parsed = serde_json::from_str(raw.trim())
        .or_else(|_| serde_json::from_str(&escape_raw_controls(raw.trim())));
    let answer: Answer = match parsed {
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
        match (op.action, shown(&op.id), text) {
            (Action::None, _, _) => {}
            (Action::Add, _, Some(Ok(text))) => {
                let duplicate = memories
                    .list(owner)
                    .await?
                    .iter()
                    .any(|m| m.text.eq_ignore_ascii_case(&text));
                if duplicate {
                    continue;
                }
                memories.remember(owner, &text, source.clone()).await?;
                applied.added += 1;
            }
            (Action::Update, Some(id), Some(Ok(text))) => {
                if memories.update(owner, &id, &text).await?.is_some() {
                    applied.updated += 1;
                }
            }
            (Action::Delete, Some(id), _) => {
                if memories.forget(owner, &id).await? {
                    applied.deleted += 1;
                }
            }
            (action, id, _) => {
                tracing::info!(?action, ?id, "discarded an invalid memory operation");
                applied.discarded += 1;
            }
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod schema_tests {
    use serde_json::json;

    /// The derived schema is the one the model was constrained with before it was derived.
    #[test]
    fn the_derived_schema_constrains_what_apply_reads() {
        let schema = super::schema();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], json!(["operations"]));
        assert!(!schema.to_string().contains("$ref"), "{schema:#}");
        let operation = &schema["properties"]["operations"]["items"];
        assert_eq!(operation["required"], json!(["action"]));
        assert_eq!(operation["properties"]["id"]["type"], "string");
        assert_eq!(operation["properties"]["text"]["type"], "string");
        // Bounds, so a looping small model ends in valid JSON rather than at the token limit.
        assert_eq!(
            schema["properties"]["operations"]["maxItems"],
            super::MAX_OPERATIONS
        );
        assert_eq!(
            operation["properties"]["text"]["maxLength"],
            super::MAX_FACT_CHARS
        );
        assert_eq!(
            operation["properties"]["id"]["maxLength"],
            super::MAX_ID_CHARS
        );
        let action = &operation["properties"]["action"];
        let mut actions: Vec<String> = action["enum"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .or_else(|| {
                action["oneOf"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|v| v["const"].as_str().map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default();
        actions.sort();
        assert_eq!(actions, ["ADD", "DELETE", "NONE", "UPDATE"], "{schema:#}");
    }
}

#[cfg(test)]
mod raw_control_tests {
    #[test]
    fn raw_line_breaks_inside_strings_are_escaped_and_nothing_else_changes() {
        let raw = "{\"operations\": [\n {\"action\": \"add\", \"text\": \"two cats:\nMiso \\\"M\\\" and\tTofu\"}]}";
        assert!(serde_json::from_str::<serde_json::Value>(raw).is_err());
        let fixed = super::escape_raw_controls(raw);
        let value: serde_json::Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(
            value["operations"][0]["text"],
            "two cats:\nMiso \"M\" and\tTofu"
        );
    }
}
