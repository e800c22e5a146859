//! The one hook ureq 2 offers on its connections, its TLS connector, and what discovery
//! does with it.
//!
//! ureq 2 calls its TLS connector with the connected TCP socket, but only for `https://`
//! URLs. Discovery therefore hands every request to ureq as `https://` (with an explicit
//! port), and [`Hook`] decides from the real base URL, checked beforehand, whether to run
//! TLS: a plain `http://` base (loopback only) gets the socket untouched. Through this hook
//! every discovery socket, plain or TLS, is:
//!
//! - handed to `on_connected` before anything is sent, so that `shutdown` can abort the
//!   request by shutting the socket down;
//! - read through [`HeadGuard`], which fails the read of a response head that has a header
//!   line without a colon: ureq 2.12 panics (an out-of-range slice in `Header::value`) when
//!   it looks such a line up by name (`Content-Length`, `Connection`, …).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

/// Discovery's connector for ureq: registers the socket, runs TLS or not, guards the head.
pub(crate) struct Hook {
    /// TLS for an `https://` base; `None` for a plain `http://` one (loopback only).
    pub tls: Option<native_tls::TlsConnector>,
    pub on_connected: Arc<dyn Fn(&TcpStream) + Send + Sync>,
}

impl ureq::TlsConnector for Hook {
    fn connect(
        &self,
        dns_name: &str,
        io: Box<dyn ureq::ReadWrite>,
    ) -> Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        if let Some(tcp) = io.socket() {
            (self.on_connected)(tcp);
        }
        let stream = match &self.tls {
            Some(tls) => ureq::TlsConnector::connect(tls, dns_name, io)?,
            None => io,
        };
        Ok(Box::new(HeadGuard::new(stream)))
    }
}

/// Where a [`HeadGuard`] is in the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    StatusLine,
    /// In a header line: its length so far, whether its last byte was `\r`, whether it
    /// has a colon.
    Header {
        len: usize,
        cr: bool,
        colon: bool,
    },
    Body,
}

const NEW_LINE: Place = Place::Header {
    len: 0,
    cr: false,
    colon: false,
};

/// Passes one response through, failing the read that brings a header line without a
/// colon. Lines are split as ureq splits them: at `\n`, one trailing `\r` dropped; the
/// head ends at the first empty line. Only the first response is checked: discovery keeps
/// no connection for a second request.
pub(crate) struct HeadGuard<S> {
    inner: S,
    place: Place,
}

impl<S> HeadGuard<S> {
    pub fn new(inner: S) -> HeadGuard<S> {
        HeadGuard {
            inner,
            place: Place::StatusLine,
        }
    }

    fn check(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &byte in bytes {
            self.place = match (self.place, byte) {
                (Place::Body, _) => return Ok(()),
                (Place::StatusLine, b'\n') => NEW_LINE,
                (Place::StatusLine, _) => Place::StatusLine,
                (Place::Header { len, cr, colon }, b'\n') => {
                    if len == 0 || (len == 1 && cr) {
                        Place::Body
                    } else if !colon {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "malformed HTTP response: a header line without a colon",
                        ));
                    } else {
                        NEW_LINE
                    }
                }
                (Place::Header { len, colon, .. }, _) => Place::Header {
                    len: len.saturating_add(1),
                    cr: byte == b'\r',
                    colon: colon || byte == b':',
                },
            };
        }
        Ok(())
    }
}

impl<S: Read> Read for HeadGuard<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.check(&buf[..n])?;
        Ok(n)
    }
}

impl<S: Write> Write for HeadGuard<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<S: fmt::Debug> fmt::Debug for HeadGuard<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<S: ureq::ReadWrite> ureq::ReadWrite for HeadGuard<S> {
    fn socket(&self) -> Option<&TcpStream> {
        self.inner.socket()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(response: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        HeadGuard::new(response).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn a_well_formed_response_passes_unchanged() {
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Empty:\r\n\r\nbody\nwithout:";
        assert_eq!(passes(response).unwrap(), response);
        // Bare `\n` line ends, as ureq accepts them.
        assert!(passes(b"HTTP/1.1 200 OK\nContent-Length: 0\n\n").is_ok());
    }

    #[test]
    fn a_header_line_without_a_colon_fails_the_read() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nDate: today\r\nConnection\n close\r\n\r\n",
            b"HTTP/1.1 429 Too Many Requests\nRetry-After\n\n",
            b"HTTP/1.1 200 OK\r\n\rX\r\n\r\n",
        ] {
            let error = passes(bad).expect_err("refused");
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        }
    }

    #[test]
    fn the_body_is_not_checked() {
        assert!(passes(b"HTTP/1.1 200 OK\r\n\r\nno colon here\r\nnor here\r\n").is_ok());
    }

    #[test]
    fn the_check_holds_across_reads_of_any_size() {
        let bad = b"HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Length\r\n\r\n";
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let one = buf.len().min(1);
                self.0.read(&mut buf[..one])
            }
        }
        let mut out = Vec::new();
        assert!(HeadGuard::new(OneByte(bad)).read_to_end(&mut out).is_err());
        let good = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        let mut out = Vec::new();
        HeadGuard::new(OneByte(good)).read_to_end(&mut out).unwrap();
        assert_eq!(out, good);
    }
}
