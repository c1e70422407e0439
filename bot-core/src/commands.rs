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
    /// `/notes` shows the owner's vaults; `/notes QUERY` searches them; `/notes on|off`.
    Notes(Option<String>),
    /// `/remind WHEN WHAT`: set a reminder.
    Remind(Option<String>),
    /// `/reminders` lists them; `/reminders cancel|pause|resume ID`, `/reminders snooze ID 10m`.
    Reminders(Option<String>),
    /// `/schedule WHEN PROMPT`: run a prompt at a time, the answer to this chat.
    Schedule(Option<String>),
    /// `/schedules` lists scheduled prompts; `cancel|pause|resume ID`.
    Schedules(Option<String>),
    /// `/timezone` shows the person's zone; `/timezone Area/City` sets it.
    Timezone(Option<String>),
    /// `/language` shows the person's language; `/language ko|en|auto` sets it.
    Language(Option<String>),
    /// Any other `/word`.
    Unknown(String),
}

/// The argument a command takes, for platforms with typed options (Discord).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgumentSpec {
    /// Option name.
    pub name: &'static str,
    /// What to type.
    pub description: &'static str,
    /// Whether the command needs it.
    pub required: bool,
    /// Whether the platform should suggest values (the model list for `/model`).
    pub autocomplete: bool,
}

/// One command as platforms register it: every adapter builds its menu from [`COMMANDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandSpec {
    /// Name without the slash.
    pub name: &'static str,
    /// One line for the platform's menu.
    pub description: &'static str,
    /// The argument, if the command takes one.
    pub argument: Option<ArgumentSpec>,
}

const fn spec(
    name: &'static str,
    description: &'static str,
    argument: Option<ArgumentSpec>,
) -> CommandSpec {
    CommandSpec {
        name,
        description,
        argument,
    }
}

const fn arg(
    name: &'static str,
    description: &'static str,
    required: bool,
    autocomplete: bool,
) -> Option<ArgumentSpec> {
    Some(ArgumentSpec {
        name,
        description,
        required,
        autocomplete,
    })
}

/// Every command, in menu order. Each concerns only the person who uses it, so a
/// platform that can answer privately (Discord's ephemeral replies) does.
pub const COMMANDS: &[CommandSpec] = &[
    spec("start", "Say hello and show what I can do", None),
    spec("help", "Show help", None),
    spec("reset", "Start a new conversation", None),
    spec(
        "model",
        "List models, or /model NAME to pick one",
        arg("name", "The model to use", false, true),
    ),
    spec(
        "remember",
        "Remember something: /remember TEXT",
        arg("text", "What to remember", true, false),
    ),
    spec(
        "memory",
        "List what I remember, or /memory QUERY to search",
        arg(
            "query",
            "Words to search for (or on, off, shared on, shared off, page N)",
            false,
            false,
        ),
    ),
    spec(
        "forget",
        "Forget a memory: /forget ID, /forget all (memories), /forget everything (all about you)",
        arg("target", "A memory id, all, or everything", true, false),
    ),
    spec("export", "Get everything stored about you as a file", None),
    spec(
        "notes",
        "Search notes: /notes QUERY, /notes off|on, /notes add (file the document just sent)",
        arg(
            "query",
            "Words to search for (or on, off, add); empty shows the vaults",
            false,
            false,
        ),
    ),
    spec(
        "remind",
        "Set a reminder: /remind in 20 minutes take the pizza out",
        arg(
            "when_what",
            "When and what, e.g. tomorrow at 9 call the dentist",
            true,
            false,
        ),
    ),
    spec(
        "reminders",
        "List your reminders, or /reminders cancel ID, snooze ID 10m",
        arg(
            "action",
            "cancel ID, snooze ID 10m, pause ID, resume ID; empty lists them",
            false,
            false,
        ),
    ),
    spec(
        "schedule",
        "Run a prompt on a schedule: /schedule every weekday at 7:30 summarize my day",
        arg(
            "when_prompt",
            "When and the prompt, e.g. every day at 8 plan my day",
            true,
            false,
        ),
    ),
    spec(
        "schedules",
        "List scheduled prompts, or /schedules cancel|pause|resume ID",
        arg(
            "action",
            "cancel ID, pause ID, resume ID; empty lists them",
            false,
            false,
        ),
    ),
    spec(
        "timezone",
        "Show or set your time zone: /timezone Asia/Seoul",
        arg(
            "zone",
            "An IANA time zone, e.g. Europe/Berlin",
            false,
            false,
        ),
    ),
    spec(
        "language",
        "Show or set the language I answer in: /language ko, en or auto",
        arg(
            "language",
            "ko (한국어), en (English) or auto",
            false,
            false,
        ),
    ),
];

impl Command {
    /// The command called `name` with `argument` (trimmed; empty means none), as a
    /// platform with typed commands hands it over.
    pub fn from_parts(name: &str, argument: Option<&str>) -> Command {
        let arg = argument
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        match name.to_ascii_lowercase().as_str() {
            "start" => Command::Start,
            "help" => Command::Help,
            "reset" | "new" => Command::Reset,
            "model" => Command::Model(arg),
            "remember" => Command::Remember(arg),
            "memory" | "memories" => Command::Memory(arg),
            "forget" => Command::Forget(arg),
            "export" => Command::Export,
            "notes" | "note" => Command::Notes(arg),
            "remind" | "reminder" | "remindme" => Command::Remind(arg),
            "reminders" => Command::Reminders(arg),
            "schedule" => Command::Schedule(arg),
            "schedules" => Command::Schedules(arg),
            "timezone" | "tz" => Command::Timezone(arg),
            "language" | "lang" => Command::Language(arg),
            other => Command::Unknown(other.to_owned()),
        }
    }
}

/// The spec of the command called `name`.
pub fn spec_of(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

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
    Some(Command::from_parts(name, Some(args)))
}

/// A command's description in `lang` (the menus and the help).
pub fn description(lang: crate::lang::Lang, spec: &CommandSpec) -> String {
    let key = format!("cmd-{}", spec.name);
    let text = crate::lang::t(lang, &key);
    if text == key {
        spec.description.to_owned()
    } else {
        text
    }
}

/// The description of `spec`'s argument in `lang` (`arg-NAME` in the catalogs), if it takes one.
pub fn argument_description(lang: crate::lang::Lang, spec: &CommandSpec) -> Option<String> {
    let argument = spec.argument?;
    let key = format!("arg-{}", spec.name);
    let text = crate::lang::t(lang, &key);
    Some(if text == key {
        argument.description.to_owned()
    } else {
        text
    })
}

/// The help text in `lang`, in Markdown.
pub fn help_text(lang: crate::lang::Lang) -> String {
    use crate::lang::t;
    let mut text = t(lang, "help-intro");
    text.push('\n');
    for command in COMMANDS {
        text.push_str(&format!(
            "- /{}: {}\n",
            command.name,
            description(lang, command)
        ));
    }
    text.push('\n');
    text.push_str(&t(lang, "help-outro"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_described_in_every_language() {
        use crate::lang::Lang;
        for lang in Lang::ALL {
            for command in COMMANDS {
                let key = format!("cmd-{}", command.name);
                assert_ne!(crate::lang::t(lang, &key), key, "{lang:?}");
            }
        }
        assert_eq!(description(Lang::En, &COMMANDS[2]), COMMANDS[2].description);
        assert!(help_text(Lang::Ko).contains("/reset: 새 대화 시작"));
    }

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

    #[test]
    fn typed_and_typed_out_commands_agree() {
        for spec in COMMANDS {
            let typed = Command::from_parts(spec.name, Some("  x y "));
            let text = parse(&format!("/{} x y", spec.name)).unwrap();
            assert_eq!(typed, text, "{}", spec.name);
            assert!(
                !matches!(typed, Command::Unknown(_)),
                "{} is listed but unknown",
                spec.name
            );
        }
        assert_eq!(
            Command::from_parts("memory", Some("   ")),
            Command::Memory(None)
        );
    }
}
