use super::*;

/// Checks that `html` uses only Telegram's tags and that they nest properly.
fn assert_well_formed(html: &str) {
    let mut stack = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop(),
                Some(name.to_owned()),
                "mismatched close in {html}"
            );
        } else {
            let name = tag.split_whitespace().next().unwrap().to_owned();
            assert!(
                ["b", "i", "s", "u", "a", "code", "pre", "blockquote"].contains(&name.as_str()),
                "tag {name}"
            );
            stack.push(name);
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed {stack:?} in {html}");
}

fn one(markdown: &str) -> String {
    let chunks = render_chunks(markdown, TELEGRAM_LIMIT);
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    chunks[0].html.clone()
}

#[test]
fn inline_formatting() {
    assert_eq!(
        one("**bold** and _it_ `x < y`"),
        "<b>bold</b> and <i>it</i> <code>x &lt; y</code>"
    );
    assert_eq!(one("a < b & c > d"), "a &lt; b &amp; c &gt; d");
    assert_eq!(
        one("[site](https://e.org/?a=1&b=\"2\")"),
        "<a href=\"https://e.org/?a=1&amp;b=&quot;2&quot;\">site</a>"
    );
    assert_eq!(one("~~gone~~"), "<s>gone</s>");
}

#[test]
fn blocks() {
    assert_eq!(
        one("# Title\n\nText.\n\n```rust\nfn main() {}\n```"),
        "<b>Title</b>\n\nText.\n\n<pre><code class=\"language-rust\">fn main() {}</code></pre>"
    );
    assert_eq!(
        one("- one\n- two\n\n1. a\n2. b"),
        "• one\n• two\n\n1. a\n2. b"
    );
    assert_eq!(one("- a\n  - b\n- c"), "• a\n   • b\n• c");
    assert_eq!(one("> quoted"), "<blockquote>quoted</blockquote>");
    assert_eq!(
        one("<script>alert(1)</script>"),
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    );
}

#[test]
fn unfinished_markdown_while_streaming_is_still_valid() {
    for partial in [
        "**bold",
        "```py\nprint(1",
        "[link](http://",
        "`code",
        "1. a\n2.",
    ] {
        for chunk in render_chunks(partial, TELEGRAM_LIMIT) {
            assert_well_formed(&chunk.html);
        }
    }
}

fn long_answer() -> String {
    let mut md = String::new();
    let mut i = 0;
    while md.len() < 10_000 {
        md.push_str(&format!(
            "Paragraph {i} with **bold** words and some more text to read.\n\n"
        ));
        md.push_str("```python\n");
        for line in 0..30 {
            md.push_str(&format!("print({i}, {line})  # a comment < > &\n"));
        }
        md.push_str("```\n\n");
        i += 1;
    }
    md
}

fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn long_answers_split_into_valid_messages_without_losing_text() {
    let md = long_answer();
    let whole = render_chunks(&md, usize::MAX / 2);
    assert_eq!(whole.len(), 1);
    let chunks = render_chunks(&md, TELEGRAM_LIMIT);
    assert!(chunks.len() >= 3, "{} chunks", chunks.len());
    for chunk in &chunks {
        assert!(utf16_len(&chunk.plain) <= TELEGRAM_LIMIT);
        assert_well_formed(&chunk.html);
    }
    let joined: String = chunks.iter().map(|c| c.plain.as_str()).collect();
    assert_eq!(squash(&joined), squash(&whole[0].plain));
}

#[test]
fn a_split_inside_code_reopens_the_code_block() {
    let code: String = (0..400).map(|i| format!("let x{i} = {i};\n")).collect();
    let md = format!("```rust\n{code}```");
    let chunks = render_chunks(&md, TELEGRAM_LIMIT);
    assert!(chunks.len() >= 2);
    for chunk in &chunks {
        assert!(
            chunk
                .html
                .starts_with("<pre><code class=\"language-rust\">"),
            "{}",
            &chunk.html[..40]
        );
        assert!(chunk.html.ends_with("</code></pre>"));
        // Lines are never cut in half.
        assert!(
            chunk
                .plain
                .lines()
                .all(|l| l.starts_with("let x") && l.ends_with(';'))
        );
    }
}

#[test]
fn counts_utf16_units_like_telegram() {
    let md = "😀".repeat(3000); // 6000 UTF-16 units
    let chunks = render_chunks(&md, TELEGRAM_LIMIT);
    assert_eq!(chunks.len(), 2);
    assert!(chunks.iter().all(|c| utf16_len(&c.plain) <= TELEGRAM_LIMIT));
    assert_eq!(
        chunks
            .iter()
            .map(|c| c.plain.chars().count())
            .sum::<usize>(),
        3000
    );
}

#[test]
fn splits_prefer_paragraph_boundaries() {
    let para = format!("{}.", "word ".repeat(300)); // ~1500 chars
    let md = [para.as_str(); 4].join("\n\n");
    let chunks = render_chunks(&md, TELEGRAM_LIMIT);
    assert_eq!(chunks.len(), 2);
    assert!(chunks[0].plain.ends_with('.'));
    assert!(chunks[1].plain.starts_with("word"));
}

proptest::proptest! {
    // PROPTEST_CASES runs more (scripts/fuzz.sh).
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64)))]

    /// Any Unicode, any Markdown-ish punctuation: no panic, every chunk within the limit.
    #[test]
    fn any_text_renders_within_the_limit(
        text in "(\\PC|\\n|```[a-z]{0,10}\\n|\\*\\*|`|_|#|> |- |\\[x\\]\\(y\\)){0,3000}",
        limit in 64usize..4200,
    ) {
        for chunk in render_chunks(&text, limit) {
            proptest::prop_assert!(utf16_len(&chunk.plain) <= limit);
        }
    }
}
