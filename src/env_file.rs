//! Errors in `.env`, described without the values: a line may hold a token.

use std::path::PathBuf;

/// What is wrong with `.env`: the line number and the variable, never the value.
pub fn describe_error(error: &dotenvy::Error) -> String {
    match error {
        dotenvy::Error::LineParse(line, _) => {
            let variable = line
                .split('=')
                .next()
                .map(|name| name.trim().trim_start_matches("export ").trim())
                .filter(|name| {
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                });
            let number = find_env_file()
                .and_then(|path| std::fs::read_to_string(path).ok())
                .and_then(|text| line_number(&text, line));
            let at = number.map_or_else(|| "a line".to_owned(), |n| format!("line {n}"));
            match variable {
                Some(name) => format!(
                    ".env {at}: the setting {name} cannot be read (check its quotes and \
                     escapes; the value is not shown)"
                ),
                None => format!(".env {at} is not a NAME=value setting (the line is not shown)"),
            }
        }
        dotenvy::Error::Io(e) => format!("cannot read .env: {e}"),
        _ => ".env cannot be read".to_owned(),
    }
}

/// The `.env` dotenvy reads: in the current directory or the nearest parent that has one.
fn find_env_file() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|dir| dir.join(".env"))
        .find(|path| path.is_file())
}

/// The 1-based number of the line of `text` where `bad` (one or more lines) starts.
fn line_number(text: &str, bad: &str) -> Option<usize> {
    let first = bad.lines().next()?.trim();
    text.lines()
        .position(|line| line.trim() == first || (!first.is_empty() && line.contains(first)))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_line_of_a_broken_setting() {
        let text = "A=1\nTELEGRAM_BOT_TOKEN='123:abc\nB=2\n";
        assert_eq!(
            line_number(text, "TELEGRAM_BOT_TOKEN='123:abc\nB=2"),
            Some(2)
        );
    }

    #[test]
    fn the_value_is_never_in_the_message() {
        let error = dotenvy::Error::LineParse("TELEGRAM_BOT_TOKEN='123:secret".into(), 19);
        let message = describe_error(&error);
        assert!(message.contains("TELEGRAM_BOT_TOKEN"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
}
