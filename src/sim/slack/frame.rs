//! Websocket frames as the Slack simulator reads and writes them (RFC 6455 §5.2).
//!
//! The Slack simulator does its own framing instead of going through tungstenite because
//! what it must model lives below the message layer: Slack's frame-length limit on acks
//! (close 1009 "Max frame length of 20480"), fragmented acks that Slack is suspected to
//! drop, pings left unanswered (tungstenite answers every ping by itself) and a frame cut
//! in the middle.

use std::io::{self, Read};

/// Frame opcodes (RFC 6455 §5.2).
pub(crate) mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// One frame read from a client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The FIN bit: false on every frame of a fragmented message but the last.
    pub fin: bool,
    pub opcode: u8,
    /// The unmasked payload; empty when the frame was over the reader's limit
    /// ([`Frame::skipped`]).
    pub payload: Vec<u8>,
    /// The payload length the header announced.
    pub len: u64,
    /// True if the payload was over the limit and was read past, not kept.
    pub skipped: bool,
}

/// Frames at least this large are read past, not kept, so a client cannot make the
/// simulator allocate without bound.
const DISCARD_LIMIT: u64 = 16 << 20;

/// Reads one frame. A payload of `keep_limit` bytes or more is read past and not kept
/// ([`Frame::skipped`]); one of 16 MiB or more fails the read.
pub(crate) fn read_frame(reader: &mut impl Read, keep_limit: u64) -> io::Result<Frame> {
    let mut head = [0u8; 2];
    reader.read_exact(&mut head)?;
    let fin = head[0] & 0x80 != 0;
    let opcode = head[0] & 0x0F;
    let masked = head[1] & 0x80 != 0;
    let len = match head[1] & 0x7F {
        126 => {
            let mut ext = [0u8; 2];
            reader.read_exact(&mut ext)?;
            u64::from(u16::from_be_bytes(ext))
        }
        127 => {
            let mut ext = [0u8; 8];
            reader.read_exact(&mut ext)?;
            u64::from_be_bytes(ext)
        }
        short => u64::from(short),
    };
    let mut mask = [0u8; 4];
    if masked {
        reader.read_exact(&mut mask)?;
    }
    if len >= DISCARD_LIMIT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    if len >= keep_limit {
        let skipped = io::copy(&mut reader.take(len), &mut io::sink())?;
        if skipped < len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        return Ok(Frame {
            fin,
            opcode,
            payload: Vec::new(),
            len,
            skipped: true,
        });
    }
    // Bounded by `keep_limit` above.
    let mut payload = vec![0u8; len as usize];
    reader.read_exact(&mut payload)?;
    if masked {
        for (byte, key) in payload.iter_mut().zip(mask.iter().cycle()) {
            *byte ^= key;
        }
    }
    Ok(Frame {
        fin,
        opcode,
        payload,
        len,
        skipped: false,
    })
}

/// A final, unmasked frame as a server sends it (RFC 6455 §5.1: servers do not mask).
pub(crate) fn encode_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(len as u8),
        len @ 126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// The payload of a close frame: the code, then the reason (RFC 6455 §5.5.1).
pub(crate) fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    // Control frames carry at most 125 bytes (RFC 6455 §5.5).
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    payload
}

/// The code of a close frame's payload, if it has one.
pub(crate) fn close_code(payload: &[u8]) -> Option<u16> {
    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            len @ 0..=125 => frame.push(0x80 | len as u8),
            len => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        frame
    }

    #[test]
    fn a_masked_text_frame_is_unmasked() {
        let bytes = masked(true, opcode::TEXT, b"{\"envelope_id\":\"1\"}");
        let frame = read_frame(&mut bytes.as_slice(), 1024).unwrap();
        assert!(frame.fin && !frame.skipped);
        assert_eq!(frame.opcode, opcode::TEXT);
        assert_eq!(frame.payload, b"{\"envelope_id\":\"1\"}");
    }

    #[test]
    fn a_frame_over_the_limit_is_read_past_and_the_next_one_still_parses() {
        let mut bytes = masked(true, opcode::TEXT, &[b'a'; 300]);
        bytes.extend(masked(false, opcode::TEXT, b"next"));
        let mut reader = bytes.as_slice();
        let big = read_frame(&mut reader, 200).unwrap();
        assert!(big.skipped);
        assert_eq!(big.len, 300);
        let next = read_frame(&mut reader, 200).unwrap();
        assert!(!next.fin);
        assert_eq!(next.payload, b"next");
    }

    #[test]
    fn server_frames_are_unmasked_with_extended_lengths() {
        assert_eq!(encode_frame(opcode::PING, b"hi"), [0x89, 2, b'h', b'i']);
        let frame = encode_frame(opcode::TEXT, &[0; 300]);
        assert_eq!(&frame[..4], &[0x81, 126, 0x01, 0x2c]);
    }

    #[test]
    fn close_payloads_round_trip_their_code() {
        let payload = close_payload(1009, "Max frame length of 20480");
        assert_eq!(close_code(&payload), Some(1009));
        assert_eq!(close_code(&[]), None);
    }
}
