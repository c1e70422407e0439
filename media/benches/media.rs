//! Photos and documents: decode + downscale + re-encode of a 12-megapixel JPEG, and PDF text
//! extraction on a 200-page generated PDF; time and peak memory (each part runs in a child
//! process of its own, `--part=image` or `--part=pdf`, so its peak RSS is its own).
//!
//! `cargo bench -p hearth-media --bench media`. Without `--bench` (`cargo test --benches`,
//! as the test command runs it) it is a smoke run: a small photo, a short PDF, one run each.

use std::process::Command;
use std::time::Instant;

use hearth_media::fixtures;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A smoke run (no `--bench`): small inputs, one run, figures mean nothing.
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// A 4000×3000 photo-like JPEG: smooth gradients with fine noise (a plain gradient compresses
/// far better than a camera's picture and decodes faster).
fn photo(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 48) as i32 - 24;
        let r = (x * 255 / width) as i32 + noise;
        let g = (y * 255 / height) as i32 - noise;
        let b = (((x / 40) ^ (y / 40)) % 255) as i32 + noise / 2;
        image::Rgb([
            r.clamp(0, 255) as u8,
            g.clamp(0, 255) as u8,
            b.clamp(0, 255) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&image)
        .expect("encodes");
    out
}

fn pdf_pages(n: usize) -> Vec<u8> {
    let pages: Vec<String> = (0..n)
        .map(|p| {
            (0..45)
                .map(|l| {
                    format!(
                        "Page {p} line {l}: the committee reviewed the garden budget, the greenhouse roof and membership."
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    fixtures::pdf(&refs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn image_part() {
    let (width, height, runs) = if smoke() {
        (1600, 1200, 1)
    } else {
        (4000, 3000, 7)
    };
    let jpeg = photo(width, height);
    let before = peak_rss_mib();
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..runs {
        let started = Instant::now();
        let picture = hearth_media::picture(&jpeg, 1024).expect("decodes");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        out = Some(picture);
    }
    let picture = out.expect("ran");
    println!(
        "image: {width}x{height} JPEG ({:.1} MB) -> {}x{} JPEG ({} KB base64): median {:.0} ms, min {:.0} ms over {} runs; peak RSS {:.0} MiB (input and process before: {:.0} MiB)",
        jpeg.len() as f64 / 1e6,
        picture.width,
        picture.height,
        picture.base64.len() / 1024,
        median(times.clone()),
        times.iter().cloned().fold(f64::INFINITY, f64::min),
        times.len(),
        peak_rss_mib(),
        before,
    );
}

fn pdf_part() {
    let (count, runs) = if smoke() { (10, 1) } else { (200, 5) };
    let pdf = pdf_pages(count);
    let before = peak_rss_mib();
    let mut rates = Vec::new();
    let mut chars = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let pages =
            hearth_media::document("report.pdf", Some("application/pdf"), &pdf).expect("reads");
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(pages.len(), count);
        chars = pages.iter().map(|p| p.text.chars().count()).sum();
        rates.push(count as f64 / secs);
    }
    println!(
        "pdf: {count} pages ({:.1} MB, {} characters of text): median {:.0} pages/s, best {:.0} over {} runs; peak RSS {:.0} MiB (input and process before: {:.0} MiB)",
        pdf.len() as f64 / 1e6,
        chars,
        median(rates.clone()),
        rates.iter().cloned().fold(0.0, f64::max),
        rates.len(),
        peak_rss_mib(),
        before,
    );
}

fn main() {
    let part = std::env::args().find_map(|a| a.strip_prefix("--part=").map(str::to_owned));
    match part.as_deref() {
        Some("image") => return image_part(),
        Some("pdf") => return pdf_part(),
        _ => {}
    }
    let me = std::env::current_exe().expect("own path");
    for part in ["image", "pdf"] {
        let mut child = Command::new(&me);
        child.arg(format!("--part={part}"));
        if !smoke() {
            child.arg("--bench");
        }
        let status = child.status().expect("runs");
        assert!(status.success(), "{part} failed");
    }
}
