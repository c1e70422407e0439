//! Files made in code for tests and benchmarks (no checked-in binaries): PDFs with text
//! pages, one without a text layer, a password-protected one, a `.docx`, and pictures.

use std::io::{Cursor, Write};

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

/// A PDF whose page `i` shows the lines of `pages[i]` in Helvetica (compressed streams).
pub fn pdf(pages: &[&str]) -> Vec<u8> {
    let mut doc = build(pages, false);
    save(&mut doc)
}

/// A PDF of `n` pages with a drawing and no text (what a scan without OCR looks like to a
/// text extractor).
pub fn pdf_without_text(n: usize) -> Vec<u8> {
    let blank: Vec<&str> = vec![""; n];
    let mut doc = build(&blank, true);
    save(&mut doc)
}

/// A PDF that opens only with `password`.
pub fn pdf_with_password(pages: &[&str], password: &str) -> Vec<u8> {
    use lopdf::encryption::crypt_filters::{Aes128CryptFilter, CryptFilter};
    use lopdf::{EncryptionState, EncryptionVersion, Permissions};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    let mut doc = build(pages, false);
    let id = Object::String(b"hearth-fixture-id".to_vec(), lopdf::StringFormat::Literal);
    doc.trailer.set("ID", vec![id.clone(), id]);
    let crypt_filter: Arc<dyn CryptFilter> = Arc::new(Aes128CryptFilter);
    let version = EncryptionVersion::V4 {
        document: &doc,
        encrypt_metadata: true,
        crypt_filters: BTreeMap::from([(b"StdCF".to_vec(), crypt_filter)]),
        stream_filter: b"StdCF".to_vec(),
        string_filter: b"StdCF".to_vec(),
        owner_password: password,
        user_password: password,
        permissions: Permissions::all(),
    };
    let state = EncryptionState::try_from(version).expect("an encryption state");
    doc.encrypt(&state).expect("encrypts");
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("saves");
    out
}

fn build(pages: &[&str], drawing: bool) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids = Vec::new();
    for text in pages {
        let mut operations = Vec::new();
        if drawing {
            operations.push(Operation::new(
                "re",
                vec![50.into(), 50.into(), 400.into(), 600.into()],
            ));
            operations.push(Operation::new("f", vec![]));
        }
        let mut y = 780;
        for line in text.lines() {
            operations.push(Operation::new("BT", vec![]));
            operations.push(Operation::new("Tf", vec!["F1".into(), 11.into()]));
            operations.push(Operation::new("Td", vec![50.into(), y.into()]));
            operations.push(Operation::new("Tj", vec![Object::string_literal(line)]));
            operations.push(Operation::new("ET", vec![]));
            y -= 14;
        }
        let content = Content { operations };
        let content_id = doc.add_object(Stream::new(
            dictionary! {},
            content.encode().expect("encodes"),
        ));
        kids.push(
            doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => content_id,
            })
            .into(),
        );
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    doc
}

fn save(doc: &mut Document) -> Vec<u8> {
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("saves");
    out
}

/// A `.docx` with one paragraph per item of `paragraphs`.
pub fn docx(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|p| {
            let escaped = p
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!("<w:p><w:r><w:t xml:space=\"preserve\">{escaped}</w:t></w:r></w:p>")
        })
        .collect();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
         <w:body>{body}</w:body></w:document>"
    );
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("word/document.xml", xml.as_bytes()),
    ])
}

/// A `.docx` whose text part unpacks to `bytes` bytes of nothing (a zip bomb).
pub fn docx_bomb(bytes: usize) -> Vec<u8> {
    let mut xml =
        b"<?xml version=\"1.0\"?><w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>".to_vec();
    xml.resize(xml.len() + bytes, b' ');
    xml.extend_from_slice(b"</w:t></w:r></w:p></w:body></w:document>");
    zip_of(&[("word/document.xml", &xml)])
}

const CONTENT_TYPES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
<Default Extension=\"xml\" ContentType=\"application/xml\"/>\
<Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>\
</Types>";

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            zip.start_file(*name, options).expect("starts a file");
            zip.write_all(data).expect("writes");
        }
        zip.finish().expect("finishes");
    }
    out.into_inner()
}

/// A `width`×`height` picture with a gradient and a few shapes, encoded as `format`.
pub fn picture(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let r = (x * 255 / width.max(1)) as u8;
        let g = (y * 255 / height.max(1)) as u8;
        let b = if (x / 64 + y / 64) % 2 == 0 { 200 } else { 40 };
        image::Rgb([r, g, b])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut out), format)
        .expect("encodes");
    out
}

/// A PNG header claiming `width`×`height` pixels, followed by a tiny compressed body (what
/// a decompression bomb looks like before decoding).
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
