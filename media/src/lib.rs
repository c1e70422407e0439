//! Photos and documents for Hearth: the [`FileReader`] port of `bot-core`, in process.
//!
//! - Pictures ([`MediaReader::picture`]): PNG, JPEG, WebP and GIF (first frame) decoded by
//!   the `image` crate with decoder limits (dimensions and allocation, so a decompression
//!   bomb is refused before it takes memory), turned upright by their EXIF orientation,
//!   downscaled to the longest side a vision model wants and re-encoded (JPEG, or PNG
//!   when the picture has transparency). Nothing is written to disk.
//! - Documents ([`MediaReader::document`]): PDF text page by page with `lopdf` (its
//!   ToUnicode and encoding handling, and a bound on every decompressed stream; encrypted
//!   files are recognised), Word `.docx` with `zip` + `quick-xml` (the declared and the
//!   actual unpacked size are bounded), HTML with `html2text`, and text (`.txt`, `.md`,
//!   `.csv`, `.json`) as UTF-8.
//!
//! Why these crates: `lopdf` 0.47 is maintained, pure Rust, and has what a file from a
//! stranger needs (decompression limits, decryption with the empty password, page-wise
//! extraction); `pdf-extract` builds on an older `lopdf` and panics on malformed fonts.
//! A `.docx` is a zip of XML: `zip` and `quick-xml` read exactly the one part with the
//! text, where the docx crates parse (and allocate) the whole package.

use std::io::{Cursor, Read};

use base64::Engine;
use bot_core::files::{FileError, FileReader, Page, Picture};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The largest picture decoded, in pixels per side.
pub const MAX_SIDE_DECODED: u32 = 16_384;
/// The most pixels decoded (a 48-megapixel phone photo fits).
pub const MAX_PIXELS: u64 = 64_000_000;
/// The most memory a decoder may allocate.
pub const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;
/// The most bytes one PDF page's content (or one docx part) may unpack to.
pub const MAX_UNPACKED: usize = 64 * 1024 * 1024;
/// The JPEG quality pictures are re-encoded with.
pub const JPEG_QUALITY: u8 = 85;

/// Reads photos and documents in process.
#[derive(Clone, Copy, Debug, Default)]
pub struct MediaReader;

impl FileReader for MediaReader {
    fn picture(&self, bytes: &[u8], max_side: u32) -> Result<Picture, FileError> {
        picture(bytes, max_side)
    }

    fn document(
        &self,
        name: &str,
        mime: Option<&str>,
        bytes: &[u8],
    ) -> Result<Vec<Page>, FileError> {
        document(name, mime, bytes)
    }
}

fn format_name(format: ImageFormat) -> String {
    format!("{format:?}").to_ascii_uppercase()
}

/// A format the `image` crate does not know, named from the file's first bytes.
fn sniff_unknown(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(32)];
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if has(b"ftypheic") || has(b"ftypheix") || has(b"ftypmif1") {
        "HEIC".into()
    } else if has(b"ftypavif") {
        "AVIF".into()
    } else if head.starts_with(b"%PDF") {
        "PDF".into()
    } else if head.starts_with(b"<svg") || head.starts_with(b"<?xml") {
        "SVG".into()
    } else {
        "unknown".into()
    }
}

/// Decodes, orients, downscales and re-encodes one picture.
pub fn picture(bytes: &[u8], max_side: u32) -> Result<Picture, FileError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| FileError::Corrupt(e.to_string()))?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif)) => {
            f
        }
        Some(other) => return Err(FileError::Unsupported(format_name(other))),
        None => return Err(FileError::Unsupported(sniff_unknown(bytes))),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE_DECODED);
    limits.max_image_height = Some(MAX_SIDE_DECODED);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = reader;
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(e, header_dimensions(bytes)))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS
        || width > MAX_SIDE_DECODED
        || height > MAX_SIDE_DECODED
    {
        return Err(FileError::TooManyPixels { width, height });
    }
    if width == 0 || height == 0 {
        return Err(FileError::Corrupt("an image without pixels".into()));
    }
    let orientation = decoder.orientation().ok();
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e, Some((width, height))))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    let longest = image.width().max(image.height());
    let max_side = max_side.max(16);
    if longest > max_side {
        let scale = f64::from(max_side) / f64::from(longest);
        let w = ((f64::from(image.width()) * scale).round() as u32).max(1);
        let h = ((f64::from(image.height()) * scale).round() as u32).max(1);
        // A box-averaging downscale: fast on 12-megapixel photos, and sharp enough for a
        // model that sees at most this size anyway.
        image = image.thumbnail_exact(w, h);
    }
    let mut out = Vec::new();
    let keep_alpha =
        image.color().has_alpha() && format != ImageFormat::Jpeg && has_transparency(&image);
    if keep_alpha {
        image
            .to_rgba8()
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(|e| FileError::Corrupt(e.to_string()))?;
    } else {
        let rgb = image.to_rgb8();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        rgb.write_with_encoder(encoder)
            .map_err(|e| FileError::Corrupt(e.to_string()))?;
    }
    Ok(Picture {
        base64: base64::engine::general_purpose::STANDARD.encode(&out),
        width: image.width(),
        height: image.height(),
    })
}

/// The dimensions a picture's header claims, read without decoding it.
fn header_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    reader.no_limits();
    reader.into_dimensions().ok()
}

fn has_transparency(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageRgba8(buf) => buf.pixels().any(|p| p.0[3] < 255),
        DynamicImage::ImageLumaA8(buf) => buf.pixels().any(|p| p.0[1] < 255),
        _ => image.to_rgba8().pixels().any(|p| p.0[3] < 255),
    }
}

fn decode_error(e: image::ImageError, size: Option<(u32, u32)>) -> FileError {
    match e {
        image::ImageError::Limits(_) => match size {
            Some((width, height)) => FileError::TooManyPixels { width, height },
            None => FileError::Expands,
        },
        image::ImageError::Unsupported(u) => FileError::Unsupported(u.to_string()),
        other => FileError::Corrupt(other.to_string()),
    }
}

/// What kind of document a file is: by extension, else MIME type, else its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// PDF.
    Pdf,
    /// Word (Office Open XML).
    Docx,
    /// HTML.
    Html,
    /// JSON (pretty-printed when valid).
    Json,
    /// Plain text, Markdown, CSV.
    Text,
}

/// Tells the kind of a document, or why it is not one the bot reads.
pub fn document_kind(
    name: &str,
    mime: Option<&str>,
    bytes: &[u8],
) -> Result<DocumentKind, FileError> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    let mime = mime
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let by_name = match ext.as_str() {
        "pdf" => Some(DocumentKind::Pdf),
        "docx" => Some(DocumentKind::Docx),
        "html" | "htm" | "xhtml" => Some(DocumentKind::Html),
        "json" => Some(DocumentKind::Json),
        "txt" | "md" | "markdown" | "csv" | "tsv" | "text" | "log" => Some(DocumentKind::Text),
        _ => None,
    };
    let by_mime = match mime.as_str() {
        "application/pdf" => Some(DocumentKind::Pdf),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            Some(DocumentKind::Docx)
        }
        "text/html" | "application/xhtml+xml" => Some(DocumentKind::Html),
        "application/json" => Some(DocumentKind::Json),
        m if m.starts_with("text/") => Some(DocumentKind::Text),
        _ => None,
    };
    if let Some(kind) = by_name.or(by_mime) {
        return Ok(kind);
    }
    if bytes.starts_with(b"%PDF-") {
        return Ok(DocumentKind::Pdf);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(FileError::Unsupported(match ext.as_str() {
            "doc" => "Word 97-2003 (.doc)".into(),
            "xls" => "Excel 97-2003 (.xls)".into(),
            "ppt" => "PowerPoint 97-2003 (.ppt)".into(),
            _ => "an Office 97-2003 file".into(),
        }));
    }
    let head = &bytes[..bytes.len().min(8192)];
    if looks_like_text(head) {
        return Ok(DocumentKind::Text);
    }
    let shown = if ext.is_empty() {
        if mime.is_empty() {
            "this".to_owned()
        } else {
            mime
        }
    } else {
        format!(".{ext}")
    };
    Err(FileError::Unsupported(shown))
}

/// UTF-8 text cut anywhere (the head of a file may end inside a character).
fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 >= head.len(),
    }
}

/// Reads a document into pages.
pub fn document(name: &str, mime: Option<&str>, bytes: &[u8]) -> Result<Vec<Page>, FileError> {
    if bytes.is_empty() {
        return Err(FileError::NoText);
    }
    let pages = match document_kind(name, mime, bytes)? {
        DocumentKind::Pdf => pdf(bytes)?,
        DocumentKind::Docx => whole(docx(bytes)?),
        DocumentKind::Html => whole(html(bytes)?),
        DocumentKind::Json => whole(json(bytes)?),
        DocumentKind::Text => whole(text(bytes)?),
    };
    if pages.iter().all(|p| p.text.trim().is_empty()) {
        return Err(FileError::NoText);
    }
    Ok(pages)
}

fn whole(text: String) -> Vec<Page> {
    vec![Page { number: None, text }]
}

/// Text as UTF-8 (a byte-order mark dropped, UTF-16 with a mark decoded); binary refused.
fn text(bytes: &[u8]) -> Result<String, FileError> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Ok(utf16(rest, u16::from_le_bytes));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Ok(utf16(rest, u16::from_be_bytes));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(FileError::Corrupt("binary data in a text file".into()));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

fn utf16(bytes: &[u8], read: fn([u8; 2]) -> u16) -> String {
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| read([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

fn json(bytes: &[u8]) -> Result<String, FileError> {
    let raw = text(bytes)?;
    // Pretty-printed when it parses, so passages break at structure; as sent otherwise.
    Ok(match serde_json_pretty(&raw) {
        Some(pretty) => pretty,
        None => raw,
    })
}

fn serde_json_pretty(raw: &str) -> Option<String> {
    // Bounded nesting: serde_json refuses more than 128 levels itself.
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    serde_json::to_string_pretty(&value).ok()
}

fn html(bytes: &[u8]) -> Result<String, FileError> {
    let raw = text(bytes)?;
    html2text::config::plain()
        .no_link_wrapping()
        .string_from_read(raw.as_bytes(), 200)
        .map_err(|e| FileError::Corrupt(e.to_string()))
}

/// The text of a `.docx`: `word/document.xml`'s runs, paragraphs as blank lines.
fn docx(bytes: &[u8]) -> Result<String, FileError> {
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        // An OLE container named .docx: what Word writes for a password-protected file.
        return Err(FileError::Encrypted);
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| FileError::Corrupt(format!("not a zip: {e}")))?;
    let mut part = match archive.by_name("word/document.xml") {
        Ok(part) => part,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(FileError::Corrupt("no word/document.xml".into()));
        }
        Err(zip::result::ZipError::UnsupportedArchive(why)) if why.contains("assword") => {
            return Err(FileError::Encrypted);
        }
        Err(e) => return Err(FileError::Corrupt(e.to_string())),
    };
    if part.encrypted() {
        return Err(FileError::Encrypted);
    }
    if part.size() > MAX_UNPACKED as u64 {
        return Err(FileError::Expands);
    }
    // The declared size can lie: read one byte past the limit to know.
    let mut xml = Vec::new();
    (&mut part)
        .take(MAX_UNPACKED as u64 + 1)
        .read_to_end(&mut xml)
        .map_err(|e| FileError::Corrupt(e.to_string()))?;
    if xml.len() > MAX_UNPACKED {
        return Err(FileError::Expands);
    }
    docx_text(&xml)
}

fn docx_text(xml: &[u8]) -> Result<String, FileError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut out = String::new();
    let mut in_text = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.local_name().as_ref() == b"t" => in_text = true,
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => out.push_str("\n\n"),
                _ => {}
            },
            Ok(Event::Empty(e)) => match e.local_name().as_ref() {
                b"tab" => out.push('\t'),
                b"br" | b"cr" => out.push('\n'),
                _ => {}
            },
            Ok(Event::Text(t)) if in_text => {
                let piece = t
                    .xml_content()
                    .map_err(|e| FileError::Corrupt(e.to_string()))?;
                out.push_str(&piece);
            }
            Ok(Event::GeneralRef(r)) if in_text => {
                // &amp; and friends arrive as references in quick-xml 0.38.
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else {
                    let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                    out.push_str(match name.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(FileError::Corrupt(e.to_string())),
        }
        buf.clear();
    }
    Ok(out)
}

/// The text of each page of a PDF.
fn pdf(bytes: &[u8]) -> Result<Vec<Page>, FileError> {
    let options = lopdf::LoadOptions::with_max_decompressed_size(MAX_UNPACKED);
    let document = match lopdf::Document::load_mem_with_options(bytes, options) {
        Ok(document) => document,
        Err(lopdf::Error::Decryption(_)) | Err(lopdf::Error::AlreadyEncrypted) => {
            return Err(FileError::Encrypted);
        }
        Err(lopdf::Error::Decompress(_)) => return Err(FileError::Expands),
        Err(e) => {
            let text = e.to_string();
            if text.to_ascii_lowercase().contains("password") || text.contains("ncrypt") {
                return Err(FileError::Encrypted);
            }
            return Err(FileError::Corrupt(text));
        }
    };
    if document.is_encrypted() {
        // Still encrypted after the empty password: it needs the owner's.
        return Err(FileError::Encrypted);
    }
    let mut pages = Vec::new();
    for number in document.get_pages().keys().copied() {
        match document.extract_text_with_limit(&[number], MAX_UNPACKED) {
            Ok(text) => pages.push(Page {
                number: Some(number),
                text: tidy_pdf_text(&text),
            }),
            Err(lopdf::Error::Decompress(_)) => return Err(FileError::Expands),
            Err(e) => {
                tracing::debug!(page = number, error = %e, "a PDF page without readable text");
                pages.push(Page {
                    number: Some(number),
                    text: String::new(),
                });
            }
        }
    }
    if pages.is_empty() {
        return Err(FileError::Corrupt("a PDF without pages".into()));
    }
    Ok(pages)
}

/// lopdf ends every text object with a line break: joins lines into paragraphs where a
/// line does not end a sentence, and keeps blank lines.
fn tidy_pdf_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            if !out.ends_with("\n\n") && !out.is_empty() {
                out.push_str("\n\n");
            }
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(line);
    }
    out.trim().to_owned()
}

pub mod fixtures;

#[cfg(test)]
mod tests;
