//! A read-ahead buffer under the websocket (and under TLS): one `recv` takes in as much as
//! the socket holds, and tungstenite's small reads are served from memory.
//!
//! tungstenite asks for little at a time: after its handshake it sizes each read to the
//! frame it is completing, about 2 KiB per `recv` for ~1 KiB gateway messages, so a busy
//! plain-text connection spent half of the reader's time in the kernel (496k `recv`s for
//! 1M events). The buffer is only kept while the connection is busy: a connection starts
//! without one, takes one when a read fills all it asked for (more is likely waiting), and
//! gives it back after a few refills that found the socket nearly empty, so idle shards
//! keep no 64 KiB buffer each.

use std::io::{self, Read, Write};

/// The buffer of a busy connection.
const BUFFER: usize = 64 * 1024;
/// A refill below this found the socket nearly empty.
const LIGHT: usize = BUFFER / 16;
/// Light refills in a row after which the buffer is given back.
const LIGHT_REFILLS_TO_RELEASE: u32 = 4;

/// Wraps a stream with an adaptive read-ahead buffer; writes pass straight through.
pub(crate) struct ReadAhead<S> {
    inner: S,
    /// Empty while the connection is quiet (reads go straight to `inner`).
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    light_refills: u32,
}

impl<S> ReadAhead<S> {
    pub fn new(inner: S) -> ReadAhead<S> {
        ReadAhead {
            inner,
            buffer: Vec::new(),
            start: 0,
            end: 0,
            light_refills: 0,
        }
    }

    /// Whether a read-ahead buffer is held now.
    #[cfg(test)]
    fn buffered(&self) -> bool {
        !self.buffer.is_empty()
    }
}

impl<S: Read> Read for ReadAhead<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            if self.buffer.is_empty() || out.len() >= self.buffer.len() {
                // Quiet connection, or a read as large as the buffer: no copy.
                let n = self.inner.read(out)?;
                if self.buffer.is_empty() && n == out.len() && n > 0 {
                    self.buffer = vec![0; BUFFER];
                    self.light_refills = 0;
                }
                return Ok(n);
            }
            let n = self.inner.read(&mut self.buffer)?;
            if n < LIGHT {
                self.light_refills += 1;
            } else {
                self.light_refills = 0;
            }
            if self.light_refills >= LIGHT_REFILLS_TO_RELEASE && n <= out.len() {
                // Quiet again: hand this one over and give the buffer back.
                out[..n].copy_from_slice(&self.buffer[..n]);
                self.buffer = Vec::new();
                return Ok(n);
            }
            self.start = 0;
            self.end = n;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buffer[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

impl<S: Write> Write for ReadAhead<S> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A socket that holds `pending` bytes and counts the reads it serves.
    struct Socket {
        pending: VecDeque<u8>,
        reads: usize,
    }

    impl Socket {
        fn holding(bytes: &[u8]) -> Socket {
            Socket {
                pending: bytes.iter().copied().collect(),
                reads: 0,
            }
        }
    }

    impl Read for Socket {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.pending.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.reads += 1;
            let n = out.len().min(self.pending.len());
            for (slot, byte) in out.iter_mut().zip(self.pending.drain(..n)) {
                *slot = byte;
            }
            Ok(n)
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// Reads everything in `chunk`-sized asks until the socket would block.
    fn drain(stream: &mut ReadAhead<Socket>, chunk: usize) -> Vec<u8> {
        let mut got = vec![];
        let mut buf = vec![0; chunk];
        loop {
            match stream.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return got,
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn a_backlog_is_read_in_large_recvs_and_nothing_is_lost_or_reordered() {
        let sent = data(1_000_000);
        let mut stream = ReadAhead::new(Socket::holding(&sent));
        assert_eq!(drain(&mut stream, 2048), sent);
        // 2 KiB asks: one recv to notice the backlog, then one per 64 KiB.
        let reads = stream.inner.reads;
        assert!(reads <= 1 + sent.len() / BUFFER + 1, "{reads} recvs");
    }

    #[test]
    fn a_quiet_connection_holds_no_buffer() {
        let sent = data(100);
        let mut stream = ReadAhead::new(Socket::holding(&sent));
        assert_eq!(drain(&mut stream, 2048), sent);
        assert!(!stream.buffered(), "a short read means nothing is waiting");
    }

    #[test]
    fn the_buffer_is_given_back_once_the_socket_runs_light() {
        let mut stream = ReadAhead::new(Socket::holding(&data(200_000)));
        drain(&mut stream, 2048);
        assert!(stream.buffered());
        let mut received = vec![];
        for round in 0..LIGHT_REFILLS_TO_RELEASE {
            let message = data(500 + round as usize);
            stream.inner.pending.extend(message.iter().copied());
            received.push((message.clone(), drain(&mut stream, 2048)));
        }
        assert!(!stream.buffered(), "still buffered after light refills");
        for (sent, got) in received {
            assert_eq!(got, sent);
        }
    }

    #[test]
    fn large_asks_bypass_the_buffer() {
        let sent = data(300_000);
        let mut stream = ReadAhead::new(Socket::holding(&sent));
        let mut first = vec![0; 2048];
        let n = stream.read(&mut first).unwrap();
        assert!(stream.buffered());
        let mut got = first[..n].to_vec();
        got.extend(drain(&mut stream, 2 * BUFFER));
        assert_eq!(got, sent);
    }
}
