//! Transport decompression: zlib-stream and zstd-stream (one context per connection, never
//! reset), and payload compression (one standalone zlib stream per binary frame)
//! (Discord: Gateway → Encoding and Compression). The output limit is enforced while inflating, so a decompression bomb
//! stops at the limit instead of allocating it. Buffers are reused across messages.

use flate2::{Decompress, FlushDecompress, Status};

/// Every zlib-stream message ends with a sync flush: these four bytes.
pub(crate) const ZLIB_SUFFIX: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The first output buffer size; it doubles as messages need, up to the limit. Small: an
/// idle connection keeps its buffer, and 64 KiB here cost 32 MiB of RSS over 1,000 idle
/// zstd-stream shards (`cargo bench --bench footprint -- 1000`).
const INITIAL_OUTPUT: usize = 4 * 1024;

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The inflated message would exceed the limit.
    TooLarge { limit: usize },
    /// The compressed stream is corrupt or truncated.
    Corrupt(String),
}

impl std::fmt::Display for InflateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InflateError::TooLarge { limit } => {
                write!(f, "an inflated message exceeds the {limit}-byte limit")
            }
            InflateError::Corrupt(why) => write!(f, "corrupt compressed data: {why}"),
        }
    }
}

enum Context {
    Zlib(Box<Decompress>),
    #[cfg(feature = "zstd")]
    Zstd(Box<zstd::stream::raw::Decoder<'static>>),
}

/// One connection's decompressor.
pub(crate) struct Inflater {
    context: Context,
    /// zlib-stream: compressed bytes of a message split across several frames.
    pending: Vec<u8>,
    /// Inflated bytes; `len()` is the usable size (zero-filled once when grown, never per
    /// message: flate2's `decompress_vec` would zero the spare capacity on every call).
    output: Vec<u8>,
    limit: usize,
    /// zlib-stream: header bytes still to strip. The stream is inflated as raw deflate
    /// after its 2-byte header: the trailing Adler-32 of a zlib stream only comes at its
    /// end, which a gateway stream never reaches, so computing it would be pure waste
    /// (about an eighth of the reader's time). So a zlib stream that does end (a final
    /// block, then its checksum) is not supported; Discord's never does.
    header_left: usize,
    /// The header bytes seen so far (CMF, FLG).
    header: [u8; 2],
}

impl Inflater {
    /// A zlib-stream inflater.
    pub fn zlib(limit: usize) -> Inflater {
        let mut inflater = Inflater::with(Context::Zlib(Box::new(Decompress::new(false))), limit);
        inflater.header_left = 2;
        inflater
    }

    /// A zstd-stream inflater.
    #[cfg(feature = "zstd")]
    pub fn zstd(limit: usize) -> std::io::Result<Inflater> {
        let mut decoder = zstd::stream::raw::Decoder::new()?;
        // Refuse windows beyond 32 MiB: a hostile frame must not make us allocate more.
        decoder.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(25))?;
        Ok(Inflater::with(Context::Zstd(Box::new(decoder)), limit))
    }

    fn with(context: Context, limit: usize) -> Inflater {
        Inflater {
            context,
            pending: Vec::new(),
            output: Vec::new(),
            limit,
            header_left: 0,
            header: [0; 2],
        }
    }

    /// Feeds one websocket binary message. Returns the inflated payload when a message is
    /// complete, `None` while a zlib message is still split across frames.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<&[u8]>, InflateError> {
        match &mut self.context {
            Context::Zlib(decompress) => {
                let complete = if self.pending.is_empty() {
                    frame.ends_with(&ZLIB_SUFFIX)
                } else {
                    self.pending.extend_from_slice(frame);
                    self.pending.ends_with(&ZLIB_SUFFIX)
                };
                if !complete {
                    if self.pending.is_empty() {
                        self.pending.extend_from_slice(frame);
                    }
                    // Compressed data never shrinks below ~1/1000 of its size, but a
                    // message whose compressed bytes alone pass the limit is surely too big.
                    if self.pending.len() > self.limit {
                        self.pending.clear();
                        return Err(InflateError::TooLarge { limit: self.limit });
                    }
                    return Ok(None);
                }
                let input = std::mem::take(&mut self.pending);
                let mut source = if input.is_empty() { frame } else { &input };
                if self.header_left > 0 {
                    let take = self.header_left.min(source.len());
                    let at = 2 - self.header_left;
                    self.header[at..at + take].copy_from_slice(&source[..take]);
                    self.header_left -= take;
                    source = &source[take..];
                    if self.header_left == 0 {
                        check_zlib_header(self.header)?;
                    }
                }
                let result = inflate_zlib(
                    decompress,
                    &mut self.output,
                    self.limit,
                    source,
                    FlushDecompress::Sync,
                );
                // Keep the buffer's capacity for the next split message.
                self.pending = input;
                self.pending.clear();
                let written = result?;
                Ok(Some(&self.output[..written]))
            }
            #[cfg(feature = "zstd")]
            Context::Zstd(decoder) => {
                let written = inflate_zstd(decoder, &mut self.output, self.limit, frame)?;
                Ok(Some(&self.output[..written]))
            }
        }
    }

    /// Makes room for more output, or fails at the limit.
    fn grow(output: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        if output.len() > limit {
            return Err(InflateError::TooLarge { limit });
        }
        // One byte past the limit tells "exactly at the limit" from "over it".
        let next = (output.len() * 2)
            .max(INITIAL_OUTPUT)
            .min(limit.saturating_add(1));
        // One zeroed allocation (calloc) instead of `resize`, which zero-fills byte by byte
        // in unoptimised builds.
        let mut bigger = vec![0u8; next];
        bigger[..output.len()].copy_from_slice(output);
        *output = bigger;
        Ok(())
    }
}

/// Checks a zlib stream header (RFC 1950 §2.2): deflate, a window of at most 32 KiB, a valid
/// check value, no preset dictionary.
fn check_zlib_header([cmf, flg]: [u8; 2]) -> Result<(), InflateError> {
    let corrupt = |why: &str| Err(InflateError::Corrupt(why.into()));
    if cmf & 0x0f != 8 || cmf >> 4 > 7 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return corrupt("not a zlib stream header");
    }
    if flg & 0x20 != 0 {
        return corrupt("the zlib stream asks for a preset dictionary");
    }
    Ok(())
}

/// Inflates one complete message into `output`, returning its length. With
/// `FlushDecompress::Sync` the message ends where the input does (zlib-stream); with
/// `Finish` it must end with the stream (payload compression).
fn inflate_zlib(
    decompress: &mut Decompress,
    output: &mut Vec<u8>,
    limit: usize,
    source: &[u8],
    flush: FlushDecompress,
) -> Result<usize, InflateError> {
    let standalone = matches!(flush, FlushDecompress::Finish);
    let (mut read, mut written) = (0usize, 0usize);
    loop {
        if written == output.len() {
            Inflater::grow(output, limit)?;
        }
        let (in_before, out_before) = (decompress.total_in(), decompress.total_out());
        let status = decompress
            .decompress(&source[read..], &mut output[written..], flush)
            .map_err(|e| InflateError::Corrupt(e.to_string()))?;
        let consumed = (decompress.total_in() - in_before) as usize;
        let produced = (decompress.total_out() - out_before) as usize;
        read += consumed;
        written += produced;
        if written > limit {
            return Err(InflateError::TooLarge { limit });
        }
        let room_left = written < output.len();
        match status {
            Status::StreamEnd if read < source.len() => {
                return Err(InflateError::Corrupt(
                    "data after the end of the stream".into(),
                ))
            }
            Status::StreamEnd => break,
            _ if read == source.len() && room_left && standalone => {
                return Err(InflateError::Corrupt("truncated zlib stream".into()))
            }
            _ if read == source.len() && room_left => break,
            Status::BufError if consumed == 0 && produced == 0 && room_left => {
                return Err(InflateError::Corrupt("the stream made no progress".into()))
            }
            _ => {}
        }
    }
    Ok(written)
}

#[cfg(feature = "zstd")]
fn inflate_zstd(
    decoder: &mut zstd::stream::raw::Decoder<'static>,
    output: &mut Vec<u8>,
    limit: usize,
    frame: &[u8],
) -> Result<usize, InflateError> {
    use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
    let mut input = InBuffer::around(frame);
    let mut written = 0usize;
    loop {
        if written == output.len() {
            Inflater::grow(output, limit)?;
        }
        let mut out = OutBuffer::around_pos(&mut output[..], written);
        decoder
            .run(&mut input, &mut out)
            .map_err(|e| InflateError::Corrupt(e.to_string()))?;
        written = out.pos();
        if written > limit {
            return Err(InflateError::TooLarge { limit });
        }
        // Done when the input is used up and the decoder had room to spare (it then
        // holds nothing more back: ZSTD_decompressStream's contract).
        if input.pos() == frame.len() && written < output.len() {
            break;
        }
    }
    Ok(written)
}

/// Inflates one standalone zlib stream (payload compression, `compress: true`).
pub(crate) fn inflate_payload(data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut output = Vec::new();
    let written = inflate_zlib(
        &mut Decompress::new(true),
        &mut output,
        limit,
        data,
        FlushDecompress::Finish,
    )?;
    output.truncate(written);
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::deflate::{payload_zlib, ZlibStreamEncoder};

    fn json(i: usize, pad: usize) -> Vec<u8> {
        format!(
            r#"{{"op":0,"s":{i},"t":"MESSAGE_CREATE","d":{{"content":"{}"}}}}"#,
            "x".repeat(pad)
        )
        .into_bytes()
    }

    #[test]
    fn zlib_stream_inflates_each_message_with_one_context() {
        let mut encoder = ZlibStreamEncoder::new();
        let mut inflater = Inflater::zlib(1 << 20);
        for i in 0..50 {
            let message = json(i, i * 37);
            let frame = encoder.encode(&message).to_vec();
            assert!(frame.ends_with(&ZLIB_SUFFIX));
            assert_eq!(inflater.push(&frame).unwrap(), Some(&message[..]));
        }
    }

    #[test]
    fn a_bad_zlib_header_is_corrupt() {
        let mut encoder = ZlibStreamEncoder::new();
        let good = encoder.encode(&json(1, 10)).to_vec();
        // A wrong method, a wrong check value, a preset dictionary (0x78bb is 31 × 997).
        for (at, byte) in [(0, 0x79), (1, 0x9d), (1, 0xbb)] {
            let mut frame = good.clone();
            frame[at] = byte;
            assert!(
                matches!(
                    Inflater::zlib(1 << 20).push(&frame),
                    Err(InflateError::Corrupt(_))
                ),
                "byte {at} = {byte:#x}"
            );
        }
        assert_eq!(
            Inflater::zlib(1 << 20).push(&good).unwrap(),
            Some(&json(1, 10)[..])
        );
    }

    #[test]
    fn zlib_message_split_across_frames_is_buffered() {
        let mut encoder = ZlibStreamEncoder::new();
        let mut inflater = Inflater::zlib(1 << 20);
        let message = json(1, 5000);
        let frame = encoder.encode(&message).to_vec();
        let (a, b) = frame.split_at(frame.len() / 2);
        let (b, c) = b.split_at(b.len() - 2);
        assert_eq!(inflater.push(a).unwrap(), None);
        assert_eq!(inflater.push(b).unwrap(), None);
        assert_eq!(inflater.push(c).unwrap(), Some(&message[..]));
        // The next message still inflates with the same context.
        let next = json(2, 10);
        let frame = encoder.encode(&next).to_vec();
        assert_eq!(inflater.push(&frame).unwrap(), Some(&next[..]));
    }

    #[test]
    fn zlib_bomb_stops_at_the_limit() {
        let mut encoder = ZlibStreamEncoder::new();
        let limit = 256 * 1024;
        let mut inflater = Inflater::zlib(limit);
        let bomb = vec![b'a'; 8 << 20];
        let frame = encoder.encode(&bomb).to_vec();
        assert!(frame.len() < 100 * 1024, "{} compressed bytes", frame.len());
        assert_eq!(inflater.push(&frame), Err(InflateError::TooLarge { limit }));
        assert!(
            inflater.output.len() <= limit + 1,
            "allocated {}",
            inflater.output.len()
        );
    }

    #[test]
    fn message_exactly_at_the_limit_passes() {
        let mut encoder = ZlibStreamEncoder::new();
        let message = vec![b'7'; INITIAL_OUTPUT];
        let mut inflater = Inflater::zlib(message.len());
        let frame = encoder.encode(&message).to_vec();
        assert_eq!(
            inflater.push(&frame).unwrap().map(<[u8]>::len),
            Some(message.len())
        );
    }

    #[test]
    fn corrupt_zlib_is_an_error_not_a_panic() {
        let mut inflater = Inflater::zlib(1 << 20);
        let garbage = [0x78, 0x9c, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff];
        assert!(matches!(
            inflater.push(&garbage),
            Err(InflateError::Corrupt(_))
        ));
        let mut inflater = Inflater::zlib(1 << 20);
        assert!(matches!(
            inflater.push(&[1, 2, 3, 0, 0, 0xff, 0xff]),
            Err(InflateError::Corrupt(_))
        ));
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_stream_inflates_each_message_with_one_context() {
        let mut encoder = crate::sim::deflate::ZstdStreamEncoder::new().unwrap();
        let mut inflater = Inflater::zstd(1 << 20).unwrap();
        for i in 0..50 {
            let message = json(i, i * 101);
            let frame = encoder.encode(&message).to_vec();
            assert_eq!(
                inflater.push(&frame).unwrap(),
                Some(&message[..]),
                "message {i}"
            );
        }
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_bomb_stops_at_the_limit() {
        let mut encoder = crate::sim::deflate::ZstdStreamEncoder::new().unwrap();
        let limit = 256 * 1024;
        let mut inflater = Inflater::zstd(limit).unwrap();
        let frame = encoder.encode(&vec![0u8; 8 << 20]).to_vec();
        assert_eq!(inflater.push(&frame), Err(InflateError::TooLarge { limit }));
        assert!(matches!(
            Inflater::zstd(limit)
                .unwrap()
                .push(b"\x28\xb5\x2f\xfd garbage"),
            Err(InflateError::Corrupt(_))
        ));
    }

    #[test]
    fn payload_compression_inflates_standalone_streams() {
        let message = json(3, 3000);
        assert_eq!(
            inflate_payload(&payload_zlib(&message), 1 << 20).unwrap(),
            message
        );
        let truncated = payload_zlib(&message);
        assert!(inflate_payload(&truncated[..truncated.len() / 2], 1 << 20).is_err());
        let bomb = payload_zlib(&vec![b'a'; 10 << 20]);
        assert_eq!(
            inflate_payload(&bomb, 4096),
            Err(InflateError::TooLarge { limit: 4096 })
        );
    }
}
