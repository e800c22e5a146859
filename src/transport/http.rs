//! A minimal HTTPS GET for gateway discovery.
//!
//! Why not an HTTP crate: the ones we tried log every request byte (the `Authorization`
//! header included) at trace level, and the token must never reach a log. This client sends
//! one `GET` with `Connection: close`, reads the whole answer and understands
//! `Content-Length` and chunked bodies: all discovery needs.

use super::connection::{connect_tcp, resolve};
use super::url::WsUrl;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::stream::MaybeTlsStream;

/// The largest response accepted, in bytes.
const MAX_RESPONSE: u64 = 1 << 20;

/// A response: status code and body text.
pub(crate) struct Response {
    pub status: u16,
    pub body: String,
}

/// Settings for one request.
pub(crate) struct RequestOptions<'a> {
    pub timeout: Duration,
    pub tls: Option<&'a native_tls::TlsConnector>,
    /// Called with the socket once connected, so another thread can abort the request.
    pub on_connected: &'a dyn Fn(&TcpStream),
    /// Polled while connecting: true stops the attempt.
    pub aborted: &'a dyn Fn() -> bool,
}

fn other(message: String) -> io::Error {
    io::Error::other(message)
}

/// `GET url` with the given extra headers.
pub(crate) fn get(
    url: &str,
    headers: &[(&str, &str)],
    opts: &RequestOptions<'_>,
) -> io::Result<Response> {
    let endpoint = WsUrl::parse_rest(url).map_err(|e| other(e.to_string()))?;
    let addrs = resolve(&endpoint).map_err(|e| other(e.0))?;
    let tcp = connect_tcp(&addrs, opts.timeout, opts.aborted).map_err(|e| other(e.0))?;
    tcp.set_read_timeout(Some(opts.timeout))?;
    tcp.set_write_timeout(Some(opts.timeout))?;
    (opts.on_connected)(&tcp);
    let mut stream = if endpoint.secure {
        let connector = match opts.tls {
            Some(tls) => tls.clone(),
            None => native_tls::TlsConnector::new().map_err(|e| other(e.to_string()))?,
        };
        let tls = connector
            .connect(endpoint.bare_host(), tcp)
            .map_err(|e| other(format!("TLS handshake failed: {e}")))?;
        MaybeTlsStream::NativeTls(tls)
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n",
        endpoint.path, endpoint.host
    );
    for (name, value) in headers {
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.flush()?;

    let mut raw = Vec::new();
    (&mut stream).take(MAX_RESPONSE).read_to_end(&mut raw)?;
    parse_response(&raw)
}

pub(crate) fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let bad = |why: &str| other(format!("malformed HTTP response: {why}"));
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| bad("headers not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    let rest = &raw[head_end + 4..];
    let body = if chunked {
        dechunk(rest).ok_or_else(|| bad("broken chunked body"))?
    } else if let Some(length) = length {
        rest.get(..length)
            .ok_or_else(|| bad("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_body() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra").unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    }

    #[test]
    fn parses_chunked_body() {
        let raw = b"HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\n\r\n";
        let r = parse_response(raw).unwrap();
        assert_eq!((r.status, r.body.as_str()), (429, r#"{"a":1}"#));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_response(b"nonsense").is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab").is_err());
    }
}
