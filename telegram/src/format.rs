//! Markdown from the model to Telegram HTML, split into messages that fit.
//!
//! The Markdown is parsed with pulldown-cmark into a flat list of pieces
//! (open tag, close tag, text). Splitting works on those pieces: when a
//! message is full, every open tag is closed and reopened at the start of the
//! next one, so a code block split across two messages is a code block in
//! both, and every message is well-formed HTML on its own.
//!
//! Telegram's limit (4096) counts the text after entity parsing, in UTF-16
//! code units, so that is what is counted here.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// Telegram's limit on one message's text.
pub const TELEGRAM_LIMIT: usize = 4096;

/// One message ready to send: the HTML and the same text without markup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Telegram HTML (`parse_mode = HTML`).
    pub html: String,
    /// The visible text, for resending without formatting if Telegram refuses the HTML.
    pub plain: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Open {
        open: String,
        close: &'static str,
    },
    Close,
    Text(String),
    /// A place between blocks where a split reads best.
    Break,
}

/// Renders `markdown` and splits it into messages of at most `limit` visible UTF-16 units.
pub fn render_chunks(markdown: &str, limit: usize) -> Vec<Chunk> {
    split(&to_pieces(markdown), limit)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Walks the Markdown events and produces pieces.
struct Renderer {
    pieces: Vec<Piece>,
    wrote_block: bool,
    lists: Vec<Option<u64>>,
    at_item_start: bool,
    code: Option<String>,
    table_cells: usize,
}

fn open(tag: impl Into<String>, close: &'static str) -> Piece {
    Piece::Open {
        open: tag.into(),
        close,
    }
}

impl Renderer {
    fn text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if let Some(code) = self.code.as_mut() {
            code.push_str(&text);
        } else if !text.is_empty() {
            self.at_item_start = false;
            self.pieces.push(Piece::Text(text));
        }
    }

    fn block_start(&mut self) {
        if self.at_item_start {
            self.at_item_start = false;
        } else if self.wrote_block {
            self.pieces.push(Piece::Break);
            self.text(if self.lists.is_empty() { "\n\n" } else { "\n" });
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(t.to_string()),
            Event::Code(t) => {
                self.pieces.push(open("<code>", "</code>"));
                self.text(t.to_string());
                self.pieces.push(Piece::Close);
            }
            Event::Html(t)
            | Event::InlineHtml(t)
            | Event::InlineMath(t)
            | Event::DisplayMath(t) => self.text(t.to_string()),
            Event::FootnoteReference(t) => self.text(format!("[{t}]")),
            Event::SoftBreak | Event::HardBreak => self.text("\n"),
            Event::Rule => {
                self.block_start();
                self.text("──────────");
                self.wrote_block = true;
            }
            Event::TaskListMarker(done) => self.text(if done { "☑ " } else { "☐ " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.block_start(),
            Tag::Heading { .. } => {
                self.block_start();
                self.pieces.push(open("<b>", "</b>"));
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                self.pieces.push(open("<blockquote>", "</blockquote>"));
                self.wrote_block = false;
            }
            Tag::CodeBlock(kind) => {
                self.block_start();
                self.pieces.push(open("<pre>", "</pre>"));
                let class = match kind {
                    CodeBlockKind::Fenced(lang) => {
                        lang.split_whitespace().next().map(str::to_owned)
                    }
                    CodeBlockKind::Indented => None,
                };
                let code_tag = match class {
                    Some(lang) if !lang.is_empty() => {
                        format!("<code class=\"language-{}\">", escape(&lang))
                    }
                    _ => "<code>".to_owned(),
                };
                self.pieces.push(open(code_tag, "</code>"));
                self.code = Some(String::new());
            }
            Tag::List(first) => {
                if self.lists.is_empty() || self.at_item_start {
                    self.block_start();
                } else {
                    // A list nested in an item starts on the next line.
                    self.pieces.push(Piece::Break);
                    self.text("\n");
                }
                self.lists.push(first);
                self.wrote_block = false;
            }
            Tag::Item => {
                if self.wrote_block {
                    self.pieces.push(Piece::Break);
                    self.text("\n");
                }
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "• ".to_owned(),
                };
                self.text(format!("{}{marker}", "   ".repeat(depth)));
                self.at_item_start = true;
                self.wrote_block = false;
            }
            Tag::Emphasis => self.pieces.push(open("<i>", "</i>")),
            Tag::Strong => self.pieces.push(open("<b>", "</b>")),
            Tag::Strikethrough => self.pieces.push(open("<s>", "</s>")),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.pieces
                    .push(open(format!("<a href=\"{}\">", escape(&dest_url)), "</a>"));
            }
            Tag::Table(_) => {
                self.block_start();
                self.pieces.push(open("<pre>", "</pre>"));
            }
            Tag::TableHead | Tag::TableRow => self.table_cells = 0,
            Tag::TableCell => {
                if self.table_cells > 0 {
                    self.text(" | ");
                }
                self.table_cells += 1;
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.wrote_block = true,
            TagEnd::Heading(_) | TagEnd::BlockQuote(_) | TagEnd::Table => {
                self.pieces.push(Piece::Close);
                self.wrote_block = true;
            }
            TagEnd::CodeBlock => {
                let mut code = self.code.take().unwrap_or_default();
                if code.ends_with('\n') {
                    code.pop();
                }
                self.text(code);
                self.pieces.push(Piece::Close);
                self.pieces.push(Piece::Close);
                self.wrote_block = true;
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.wrote_block = true;
            }
            TagEnd::Item => {
                self.at_item_start = false;
                self.wrote_block = true;
            }
            TagEnd::TableHead | TagEnd::TableRow => self.text("\n"),
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Link
            | TagEnd::Image => self.pieces.push(Piece::Close),
            _ => {}
        }
    }
}

fn to_pieces(markdown: &str) -> Vec<Piece> {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let mut renderer = Renderer {
        pieces: Vec::new(),
        wrote_block: false,
        lists: Vec::new(),
        at_item_start: false,
        code: None,
        table_cells: 0,
    };
    for event in Parser::new_ext(markdown, options) {
        renderer.event(event);
    }
    renderer.pieces
}

/// Open tags: the opening HTML and the matching closing tag.
type TagStack = Vec<(String, &'static str)>;

/// A place where the current message could end: lengths so far and the open tags there.
struct BreakPoint {
    html: usize,
    plain: usize,
    visible: usize,
    stack: TagStack,
}

/// Builds chunks from pieces; see the module docs.
struct Splitter {
    limit: usize,
    chunks: Vec<Chunk>,
    html: String,
    plain: String,
    len: usize,
    stack: TagStack,
    /// Where the last block break was.
    last_break: Option<BreakPoint>,
}

impl Splitter {
    fn closing(stack: &[(String, &'static str)]) -> String {
        stack.iter().rev().map(|(_, close)| *close).collect()
    }

    fn opening(stack: &[(String, &'static str)]) -> String {
        stack.iter().map(|(open, _)| open.as_str()).collect()
    }

    /// Ends the current message and starts the next with the open tags reopened.
    fn flush(&mut self) {
        if !self.plain.trim().is_empty() {
            let html = format!("{}{}", self.html, Self::closing(&self.stack));
            self.chunks.push(Chunk {
                html,
                plain: self.plain.trim_end().to_owned(),
            });
        }
        self.html = Self::opening(&self.stack);
        self.plain.clear();
        self.len = 0;
        self.last_break = None;
    }

    /// Ends the current message at the last block break, carrying the rest over.
    fn flush_at_break(&mut self) -> bool {
        let Some(BreakPoint {
            html: html_at,
            plain: plain_at,
            visible: len_at,
            stack: stack_at,
        }) = self.last_break.take()
        else {
            return false;
        };
        if len_at < self.limit / 2 {
            return false;
        }
        let tail_html = self.html.split_off(html_at);
        let tail_plain = self.plain.split_off(plain_at);
        let html = format!("{}{}", self.html, Self::closing(&stack_at));
        self.chunks.push(Chunk {
            html,
            plain: self.plain.trim_end().to_owned(),
        });
        // The separator that followed the break is not carried over.
        let separator = tail_plain.len() - tail_plain.trim_start_matches('\n').len();
        self.html = format!("{}{}", Self::opening(&stack_at), &tail_html[separator..]);
        self.plain = tail_plain[separator..].to_owned();
        self.len -= len_at + separator;
        true
    }

    fn push_text(&mut self, mut text: &str) {
        // Text at the start of a message never begins with blank lines.
        if self.len == 0 {
            text = text.trim_start_matches('\n');
        }
        while !text.is_empty() {
            let room = self.limit - self.len;
            let need = utf16_len(text);
            if need <= room {
                self.append(text, need);
                return;
            }
            if self.flush_at_break() {
                continue;
            }
            let cut = cut_point(text, room);
            if cut == 0 {
                self.flush();
                text = text.trim_start_matches('\n');
                continue;
            }
            let (head, tail) = text.split_at(cut);
            self.append(head, utf16_len(head));
            self.flush();
            text = tail.trim_start_matches(['\n', ' ']);
        }
    }

    fn append(&mut self, text: &str, len: usize) {
        self.html.push_str(&escape(text));
        self.plain.push_str(text);
        self.len += len;
    }
}

/// Where to cut `text` so the head fits in `room` UTF-16 units: after the last
/// newline, else after the last space, else at the last character that fits.
fn cut_point(text: &str, room: usize) -> usize {
    let mut used = 0;
    let mut fits = 0;
    for (i, c) in text.char_indices() {
        used += c.len_utf16();
        if used > room {
            break;
        }
        fits = i + c.len_utf8();
    }
    let head = &text[..fits];
    if let Some(i) = head.rfind('\n').filter(|&i| i > 0) {
        return i + 1;
    }
    if let Some(i) = head.rfind(' ').filter(|&i| i > fits / 2) {
        return i + 1;
    }
    fits
}

fn split(pieces: &[Piece], limit: usize) -> Vec<Chunk> {
    let mut s = Splitter {
        limit,
        chunks: Vec::new(),
        html: String::new(),
        plain: String::new(),
        len: 0,
        stack: Vec::new(),
        last_break: None,
    };
    for piece in pieces {
        match piece {
            Piece::Open { open, close } => {
                s.html.push_str(open);
                s.stack.push((open.clone(), close));
            }
            Piece::Close => {
                if let Some((_, close)) = s.stack.pop() {
                    s.html.push_str(close);
                }
            }
            Piece::Text(text) => s.push_text(text),
            Piece::Break => {
                if s.len > 0 {
                    s.last_break = Some(BreakPoint {
                        html: s.html.len(),
                        plain: s.plain.len(),
                        visible: s.len,
                        stack: s.stack.clone(),
                    });
                }
            }
        }
    }
    s.flush();
    s.chunks
}

#[cfg(test)]
mod tests;
