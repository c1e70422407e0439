//! The chat commands every adapter offers, parsed from message text.

/// A command, parsed from text such as `/model llama3.2`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `/start`: greeting and short help.
    Start,
    /// `/help`: what the bot can do.
    Help,
    /// `/reset`: start a new conversation.
    Reset,
    /// `/model` lists models; `/model NAME` picks one for this user.
    Model(Option<String>),
    /// `/remember TEXT`: store a memory.
    Remember(Option<String>),
    /// `/memory` lists memories; `/memory QUERY` searches; `/memory on|off|shared on|shared off|page N`.
    Memory(Option<String>),
    /// `/forget ID`, `/forget all`, `/forget all confirm`.
    Forget(Option<String>),
    /// `/export`: everything stored about the user, as a JSON file.
    Export,
    /// Any other `/word`.
    Unknown(String),
}

/// Name and description of each command, for platform command menus.
pub const COMMANDS: &[(&str, &str)] = &[
    ("start", "Say hello and show what I can do"),
    ("help", "Show help"),
    ("reset", "Start a new conversation"),
    ("model", "List models, or /model NAME to pick one"),
    ("remember", "Remember something: /remember TEXT"),
    ("memory", "List what I remember, or /memory QUERY to search"),
    ("forget", "Forget a memory: /forget ID, or /forget all"),
    ("export", "Get everything stored about you as a file"),
];

/// Parses `text` as a command, or `None` when it is ordinary text.
///
/// The adapter has already removed a platform suffix such as `@my_bot`.
pub fn parse(text: &str) -> Option<Command> {
    let text = text.trim();
    let rest = text.strip_prefix('/')?;
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (rest, ""),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        // "/ hello" or "/path/to/file" are text, not commands.
        return None;
    }
    let arg = (!args.is_empty()).then(|| args.to_owned());
    Some(match name.to_ascii_lowercase().as_str() {
        "start" => Command::Start,
        "help" => Command::Help,
        "reset" | "new" => Command::Reset,
        "model" => Command::Model(arg),
        "remember" => Command::Remember(arg),
        "memory" | "memories" => Command::Memory(arg),
        "forget" => Command::Forget(arg),
        "export" => Command::Export,
        other => Command::Unknown(other.to_owned()),
    })
}

/// The help text, in Markdown.
pub fn help_text() -> String {
    let mut text = String::from(
        "I am your own assistant, answered by a model running on your own server.\n\
         Just write to me. Commands:\n",
    );
    for (name, description) in COMMANDS {
        text.push_str(&format!("- /{name}: {description}\n"));
    }
    text.push_str(
        "\nI also pick up lasting facts from our chats (turn that off with /memory off). \
         In group chats I use your memories only if you allow it with /memory shared on.",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_leaves_text_alone() {
        assert_eq!(parse("/start"), Some(Command::Start));
        assert_eq!(parse("  /RESET  "), Some(Command::Reset));
        assert_eq!(parse("/model"), Some(Command::Model(None)));
        assert_eq!(
            parse("/model  qwen3:4b "),
            Some(Command::Model(Some("qwen3:4b".into())))
        );
        assert_eq!(
            parse("/frobnicate x"),
            Some(Command::Unknown("frobnicate".into()))
        );
        assert_eq!(parse("hello /start"), None);
        assert_eq!(parse("/usr/bin is a path"), None);
        assert_eq!(parse("/"), None);
    }
}
