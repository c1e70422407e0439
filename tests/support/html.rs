//! Telegram's HTML parse mode, as the real server applies it: only its tags,
//! properly nested, only the four named entities plus numeric ones. Returns the
//! visible text and the formatted ranges, or Telegram's error text.

/// A formatted range of the visible text, in characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// Tag name, e.g. `pre`.
    pub tag: String,
    /// First character.
    pub start: usize,
    /// One past the last character.
    pub end: usize,
}

const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

/// Parses `html`; `Err` holds the 400 description Telegram would send.
pub fn parse(html: &str) -> Result<(String, Vec<Entity>), String> {
    let mut text = String::new();
    let mut chars = 0usize;
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut entities = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let Some(end) = rest.find('>') else {
                    return fail(format!(
                        "Unclosed start tag at byte offset {}",
                        html.len() - rest.len()
                    ));
                };
                let inner = &rest[1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim();
                    match open.pop() {
                        Some((tag, start)) if tag == name => entities.push(Entity {
                            tag,
                            start,
                            end: chars,
                        }),
                        Some((tag, _)) => {
                            return fail(format!(
                                "Can't find end tag corresponding to start tag \"{tag}\""
                            ));
                        }
                        None => return fail(format!("Unexpected end tag \"{name}\"")),
                    }
                } else {
                    let name = inner
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    if !TAGS.contains(&name.as_str()) {
                        return fail(format!("Unsupported start tag \"{name}\""));
                    }
                    if name == "a" && !inner.contains("href=\"") {
                        return fail("Can't find href in a tag".into());
                    }
                    open.push((name, chars));
                }
                rest = &rest[end + 1..];
            }
            '&' => {
                let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
                    return fail("Can't find end of the entity".into());
                };
                let name = &rest[1..end];
                let decoded = match name {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    n if n.starts_with('#') => {
                        let value = match n.strip_prefix("#x") {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => n[1..].parse().ok(),
                        };
                        match value.and_then(char::from_u32) {
                            Some(c) => c,
                            None => return fail(format!("Bad numeric entity &{n};")),
                        }
                    }
                    other => return fail(format!("Unsupported HTML entity \"&{other};\"")),
                };
                text.push(decoded);
                chars += 1;
                rest = &rest[end + 1..];
            }
            c => {
                text.push(c);
                chars += 1;
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some((tag, _)) = open.pop() {
        return fail(format!(
            "Can't find end tag corresponding to start tag \"{tag}\""
        ));
    }
    Ok((text, entities))
}

fn fail<T>(what: String) -> Result<T, String> {
    Err(format!("Bad Request: can't parse entities: {what}"))
}

/// Length as Telegram counts it: UTF-16 code units.
pub fn telegram_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_telegram_html_and_rejects_the_rest() {
        let (text, entities) =
            parse("<b>a</b> &lt;<pre><code class=\"language-rust\">x</code></pre>").unwrap();
        assert_eq!(text, "a <x");
        assert_eq!(
            entities[0],
            Entity {
                tag: "b".into(),
                start: 0,
                end: 1
            }
        );
        assert!(parse("<b>a").unwrap_err().contains("can't parse entities"));
        assert!(parse("<h1>a</h1>").is_err());
        assert!(parse("a < b").is_err());
        assert!(parse("&nbsp;").is_err());
        assert!(parse("<b><i>x</b></i>").is_err());
    }
}
