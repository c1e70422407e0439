//! OGG/Opus -> 16 kHz mono samples, in process (ogg + libopus through the `opus` crate).
//!
//! Telegram voice notes and Discord voice messages are OGG/Opus. libopus
//! decodes straight to 16 kHz (Whisper's rate), so no resampler is needed:
//! the stream's pre-skip (given at 48 kHz) is divided by 3, and the end is
//! trimmed at the last page's granule position, which gives exactly the
//! encoded length.

use std::io::Cursor;

use ogg::PacketReader;
use opus::{Channels, Decoder};

use super::VoiceError;

use super::SAMPLE_RATE;

/// The longest Opus frame (120 ms) at 16 kHz.
const MAX_FRAME: usize = 1920;

/// What the OpusHead packet says.
#[derive(Debug)]
struct OpusHead {
    channels: u8,
    pre_skip: u16,
    mapping_family: u8,
}

fn parse_head(packet: &[u8]) -> Result<OpusHead, VoiceError> {
    if packet.starts_with(b"\x01vorbis") {
        return Err(VoiceError::Unsupported("OGG/Vorbis".into()));
    }
    if packet.starts_with(b"fLaC") || packet.starts_with(b"\x7fFLAC") {
        return Err(VoiceError::Unsupported("OGG/FLAC".into()));
    }
    if packet.len() < 19 || !packet.starts_with(b"OpusHead") {
        return Err(VoiceError::Unsupported(
            "an OGG stream that is not Opus".into(),
        ));
    }
    Ok(OpusHead {
        channels: packet[9],
        pre_skip: u16::from_le_bytes([packet[10], packet[11]]),
        mapping_family: packet[18],
    })
}

/// Decodes an OGG/Opus file to 16 kHz mono samples in [-1, 1].
///
/// Stops with [`VoiceError::TooLong`] as soon as the audio passes `max_seconds`,
/// so a long file is never decoded whole.
pub fn decode_ogg_opus(bytes: &[u8], max_seconds: f64) -> Result<Vec<f32>, VoiceError> {
    if !bytes.starts_with(b"OggS") {
        return Err(sniff_format(bytes));
    }
    let mut reader = PacketReader::new(Cursor::new(bytes));
    let broken = |e: ogg::OggReadError| VoiceError::Corrupt(e.to_string());
    let head = reader
        .read_packet()
        .map_err(broken)?
        .ok_or_else(|| VoiceError::Corrupt("no packets".into()))?;
    let head = parse_head(&head.data)?;
    if head.channels == 0 || (head.mapping_family != 0 && head.channels > 2) {
        return Err(VoiceError::Unsupported(format!(
            "Opus with {} channels (mapping family {})",
            head.channels, head.mapping_family
        )));
    }
    // libopus mixes a stereo stream down when the decoder is mono.
    let mut decoder = Decoder::new(SAMPLE_RATE, Channels::Mono)
        .map_err(|e| VoiceError::Corrupt(e.to_string()))?;
    let limit = (max_seconds * f64::from(SAMPLE_RATE)).ceil() as usize;
    let skip = usize::from(head.pre_skip) / 3;
    let mut samples: Vec<f32> = Vec::new();
    let mut frame = vec![0f32; MAX_FRAME];
    let mut last_granule: Option<u64> = None;
    let mut seen_tags = false;
    let mut ended = false;
    while let Some(packet) = reader.read_packet().map_err(broken)? {
        ended = packet.last_in_stream();
        if !seen_tags {
            // The second packet is OpusTags (metadata).
            seen_tags = true;
            if packet.data.starts_with(b"OpusTags") {
                continue;
            }
        }
        let decoded = decoder
            .decode_float(&packet.data, &mut frame, false)
            .map_err(|e| VoiceError::Corrupt(format!("Opus packet: {e}")))?;
        samples.extend_from_slice(&frame[..decoded]);
        if packet.last_in_page() {
            last_granule = Some(packet.absgp_page());
        }
        if samples.len() > limit + skip {
            return Err(VoiceError::TooLong { max_seconds });
        }
    }
    if !ended {
        // Without the end-of-stream page the upload was cut short.
        return Err(VoiceError::Corrupt("the recording is cut off".into()));
    }
    // The final granule position (48 kHz) minus pre-skip is the true length.
    let end = last_granule
        .filter(|&g| g != u64::MAX)
        .map(|g| (g.saturating_sub(u64::from(head.pre_skip)) / 3) as usize + skip)
        .unwrap_or(samples.len())
        .min(samples.len());
    if end <= skip {
        return Err(VoiceError::Empty);
    }
    samples.truncate(end);
    samples.drain(..skip);
    Ok(samples)
}

/// Names a few formats people send instead of OGG/Opus, for a helpful reply.
fn sniff_format(bytes: &[u8]) -> VoiceError {
    let name = if bytes.starts_with(b"ID3")
        || bytes
            .get(..2)
            .is_some_and(|b| b[0] == 0xFF && b[1] & 0xE0 == 0xE0)
    {
        "MP3"
    } else if bytes.get(4..8) == Some(b"ftyp") {
        "MP4/M4A"
    } else if bytes.starts_with(b"RIFF") {
        "WAV"
    } else if bytes.starts_with(b"fLaC") {
        "FLAC"
    } else if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        "WebM"
    } else {
        return VoiceError::Corrupt("not an OGG file".into());
    };
    VoiceError::Unsupported(name.into())
}
