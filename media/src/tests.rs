use base64::Engine;
use image::ImageFormat;

use super::*;
use crate::fixtures;

fn decoded(picture: &Picture) -> DynamicImage {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&picture.base64)
        .expect("base64");
    image::load_from_memory(&bytes).expect("a decodable picture")
}

#[test]
fn a_large_photo_is_downscaled_to_the_longest_side_and_stays_decodable() {
    let jpeg = fixtures::picture(3000, 2000, ImageFormat::Jpeg);
    let picture = picture(&jpeg, 1024).unwrap();
    assert_eq!((picture.width, picture.height), (1024, 683));
    let image = decoded(&picture);
    assert_eq!((image.width(), image.height()), (1024, 683));
    // Re-encoded as JPEG.
    assert!(picture.base64.starts_with("/9j/"));
}

#[test]
fn small_pictures_keep_their_size_and_every_format_is_read() {
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::WebP,
        ImageFormat::Gif,
    ] {
        let bytes = fixtures::picture(300, 200, format);
        let picture = picture(&bytes, 1024).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!((picture.width, picture.height), (300, 200), "{format:?}");
        decoded(&picture);
    }
}

#[test]
fn broken_huge_and_unknown_pictures_are_refused_with_a_reason() {
    let mut jpeg = fixtures::picture(400, 300, ImageFormat::Jpeg);
    jpeg.truncate(120);
    assert!(
        matches!(picture(&jpeg, 1024), Err(FileError::Corrupt(_))),
        "{:?}",
        picture(&jpeg, 1024)
    );
    assert!(matches!(
        picture(&fixtures::png_bomb(100_000, 100_000), 1024),
        Err(FileError::TooManyPixels {
            width: 100_000,
            height: 100_000
        })
    ));
    assert!(matches!(
        picture(&fixtures::png_bomb(9000, 9000), 1024),
        Err(FileError::TooManyPixels { .. })
    ));
    assert!(matches!(
        picture(b"hello there", 1024),
        Err(FileError::Unsupported(_))
    ));
    let mut bmp = b"BM".to_vec();
    bmp.resize(64, 0);
    assert_eq!(
        picture(&bmp, 1024),
        Err(FileError::Unsupported("BMP".into()))
    );
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
    assert_eq!(
        picture(heic, 1024),
        Err(FileError::Unsupported("HEIC".into()))
    );
}

#[test]
fn a_pdf_is_read_page_by_page() {
    let bytes = fixtures::pdf(&[
        "Quarterly report\nIntroduction",
        "Revenue grew by 12% in the north.\nCosts fell.",
        "Appendix (notes & sources)",
    ]);
    let pages = document("report.pdf", Some("application/pdf"), &bytes).unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[1].number, Some(2));
    assert!(
        pages[1].text.contains("Revenue grew by 12% in the north."),
        "{:?}",
        pages[1].text
    );
    assert!(
        pages[2].text.contains("(notes & sources)"),
        "{:?}",
        pages[2].text
    );
}

#[test]
fn scanned_encrypted_and_broken_pdfs_get_their_own_reasons() {
    assert_eq!(
        document("scan.pdf", None, &fixtures::pdf_without_text(2)),
        Err(FileError::NoText)
    );
    let locked = fixtures::pdf_with_password(&["secret plans"], "hunter2");
    assert_eq!(
        document("locked.pdf", None, &locked),
        Err(FileError::Encrypted)
    );
    let mut broken = fixtures::pdf(&["some text"]);
    broken.truncate(60);
    assert!(matches!(
        document("broken.pdf", None, &broken),
        Err(FileError::Corrupt(_))
    ));
    assert!(matches!(
        document("junk.pdf", None, b"%PDF-1.4 garbage garbage"),
        Err(FileError::Corrupt(_))
    ));
}

#[test]
fn word_html_json_and_text_files_are_read() {
    let docx = fixtures::docx(&["Packing list", "Tent & stove", "한국어 문단"]);
    let pages = document("trip.docx", None, &docx).unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].number, None);
    assert!(
        pages[0].text.contains("Tent & stove"),
        "{:?}",
        pages[0].text
    );
    assert!(pages[0].text.contains("한국어 문단"));

    let html = b"<html><head><style>p{}</style></head><body><h1>Menu</h1><p>Soup of the <b>day</b></p></body></html>";
    let text = &document("menu.html", None, html).unwrap()[0].text;
    assert!(
        text.contains("Menu") && text.contains("Soup of the day"),
        "{text:?}"
    );
    assert!(!text.contains("<p>"));

    let json = br#"{"name":"Hearth","tags":["a","b"]}"#;
    let text = &document("data.json", None, json).unwrap()[0].text;
    assert!(text.contains("\"name\": \"Hearth\""), "{text:?}");

    let csv = "date,amount\n2026-01-01,12\n".as_bytes();
    assert!(
        document("a.csv", Some("text/csv"), csv).unwrap()[0]
            .text
            .contains("2026-01-01,12")
    );
    let md = "\u{feff}# Title\n\nBody".as_bytes();
    assert_eq!(
        document("n.md", None, md).unwrap()[0].text,
        "# Title\n\nBody"
    );
    // UTF-16 with a byte-order mark (Windows Notepad).
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend("hello".encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(document("w.txt", None, &utf16).unwrap()[0].text, "hello");
}

#[test]
fn bombs_binaries_and_unknown_formats_are_refused() {
    let bomb = fixtures::docx_bomb(MAX_UNPACKED + 10);
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb is small: {}",
        bomb.len()
    );
    assert_eq!(document("bomb.docx", None, &bomb), Err(FileError::Expands));
    assert!(matches!(
        document("x.docx", None, b"not a zip"),
        Err(FileError::Corrupt(_))
    ));
    let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
    assert_eq!(
        document("secret.docx", None, &ole),
        Err(FileError::Encrypted)
    );
    assert_eq!(
        document("old.doc", None, &ole),
        Err(FileError::Unsupported("Word 97-2003 (.doc)".into()))
    );
    assert_eq!(
        document(
            "song.mp3",
            Some("audio/mpeg"),
            &[0xFF, 0xFB, 0x90, 0x00, 0x00]
        ),
        Err(FileError::Unsupported(".mp3".into()))
    );
    assert!(matches!(
        document("bin.txt", None, &[0, 1, 2, 3]),
        Err(FileError::Corrupt(_))
    ));
    assert_eq!(document("empty.txt", None, b""), Err(FileError::NoText));
    assert_eq!(
        document("blank.txt", None, b"   \n\n "),
        Err(FileError::NoText)
    );
    // A text file with an unknown extension is still text.
    assert_eq!(
        document("notes.org", None, b"* heading").unwrap()[0].text,
        "* heading"
    );
}

proptest::proptest! {
    /// Real files of every kind read here, with bytes flipped and cut: no panic, no hang.
    /// (proptest's default case count, or PROPTEST_CASES: scripts/fuzz.sh runs many more.)
    #[test]
    fn damaged_real_files_never_panic(
        kind in 0usize..5,
        flips in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::num::u8::ANY), 0..24),
        cut in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let (name, mut bytes) = match kind {
            0 => ("a.pdf", fixtures::pdf(&["first page text", "second page"])),
            1 => ("a.docx", fixtures::docx(&["A paragraph.", "Another one."])),
            2 => ("a.png", fixtures::picture(40, 30, ImageFormat::Png)),
            3 => ("a.jpg", fixtures::picture(40, 30, ImageFormat::Jpeg)),
            _ => ("a.pdf", fixtures::pdf_with_password(&["secret"], "pw")),
        };
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value | 1;
        }
        let end = cut.index(bytes.len() + 1).max(1).min(bytes.len());
        let bytes = &bytes[..end];
        let started = std::time::Instant::now();
        if name.ends_with(".png") || name.ends_with(".jpg") {
            let _ = picture(bytes, 512);
        } else {
            let _ = document(name, None, bytes);
        }
        proptest::prop_assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
        let _ = picture(&bytes, 512);
        for name in ["a.pdf", "a.docx", "a.html", "a.json", "a.txt", "a"] {
            let _ = document(name, None, &bytes);
        }
    }
}
