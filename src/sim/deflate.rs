//! Server-side compression, as Discord does it: what the simulator sends, and the one
//! encoder the inflater tests, the mutation test, the benches and the fuzz corpus generator
//! compress with. One context per connection, a flush after every message. Not a public
//! API (hidden from the docs).

use flate2::{Compress, Compression, FlushCompress};

/// zlib-stream: one deflate stream per connection, a sync flush (`00 00 ff ff`) after each
/// message (Discord: Gateway → Transport Compression).
pub struct ZlibStreamEncoder {
    compress: Compress,
    out: Vec<u8>,
}

impl ZlibStreamEncoder {
    /// A fresh stream at the default level (6), as Discord compresses.
    #[allow(clippy::new_without_default)]
    pub fn new() -> ZlibStreamEncoder {
        ZlibStreamEncoder {
            compress: Compress::new(Compression::default(), true),
            out: Vec::new(),
        }
    }

    /// Compresses one message; the result ends with the sync-flush marker.
    pub fn encode(&mut self, message: &[u8]) -> &[u8] {
        self.out.clear();
        let mut read = 0;
        loop {
            self.out.reserve(message.len() - read + 64);
            let before = self.compress.total_in();
            // Compressing into a Vec we own cannot fail.
            let _ =
                self.compress
                    .compress_vec(&message[read..], &mut self.out, FlushCompress::Sync);
            read += (self.compress.total_in() - before) as usize;
            if read == message.len() && self.out.len() < self.out.capacity() {
                return &self.out;
            }
        }
    }
}

/// zstd-stream: one compression context per connection, `ZSTD_e_flush` after each message,
/// the frame never ended (Discord: Gateway → Transport Compression).
#[cfg(feature = "zstd")]
pub struct ZstdStreamEncoder {
    encoder: zstd::stream::raw::Encoder<'static>,
    out: Vec<u8>,
}

#[cfg(feature = "zstd")]
impl ZstdStreamEncoder {
    /// A fresh context at level 3 (zstd's default).
    pub fn new() -> std::io::Result<ZstdStreamEncoder> {
        Ok(ZstdStreamEncoder {
            encoder: zstd::stream::raw::Encoder::new(3)?,
            out: Vec::new(),
        })
    }

    /// Compresses one message and flushes, so the receiver can decode it completely.
    pub fn encode(&mut self, message: &[u8]) -> &[u8] {
        use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
        self.out.clear();
        self.out.resize(message.len() / 2 + 1024, 0);
        let mut written = 0;
        let mut input = InBuffer::around(message);
        while input.pos() < message.len() {
            if written == self.out.len() {
                self.out.resize(self.out.len() * 2, 0);
            }
            let mut out = OutBuffer::around_pos(&mut self.out[..], written);
            let _ = self.encoder.run(&mut input, &mut out);
            written = out.pos();
        }
        loop {
            if written == self.out.len() {
                self.out.resize(self.out.len() * 2, 0);
            }
            let mut out = OutBuffer::around_pos(&mut self.out[..], written);
            let remaining = self.encoder.flush(&mut out).unwrap_or(0);
            written = out.pos();
            if remaining == 0 {
                break;
            }
        }
        &self.out[..written]
    }
}

/// Payload compression: one standalone zlib stream (Discord: Gateway → Payload Compression).
pub fn payload_zlib(message: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
    let _ = encoder.write_all(message);
    encoder.finish().unwrap_or_default()
}
