//! The first bytes of every accepted socket: an HTTP request, answered either as REST
//! (`GET /api/v10/gateway/bot`) or by upgrading to a websocket.

use std::io::{self, Read, Write};

/// A parsed request head.
pub(crate) struct RequestHead {
    pub method: String,
    pub path: String,
    pub query: String,
    headers: Vec<(String, String)>,
    /// Bytes read past the head (none from a well-behaved client).
    pub rest: Vec<u8>,
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

const MAX_HEAD: usize = 16 * 1024;

/// Reads up to the blank line that ends the request head.
pub(crate) fn read_head(stream: &mut impl Read) -> io::Result<RequestHead> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_owned();
    let target = request_line.next().unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(RequestHead {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        rest: buf[end..].to_vec(),
    })
}

/// Writes a complete HTTP/1.1 JSON response and flushes it (a 429 says `Retry-After: 1`).
pub(crate) fn respond(stream: &mut impl Write, status: u16, body: &str) -> io::Result<()> {
    let retry_after: &[(&str, &str)] = if status == 429 {
        &[("Retry-After", "1")]
    } else {
        &[]
    };
    respond_with(stream, status, body, retry_after)
}

/// Writes a complete HTTP/1.1 JSON response with extra headers and flushes it.
pub(crate) fn respond_with(
    stream: &mut impl Write,
    status: u16,
    body: &str,
    headers: &[(&str, &str)],
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        _ => "Error",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(body);
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

/// Why a request body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// No (or no numeric) `Content-Length`.
    NoLength,
    /// `Content-Length` over the limit.
    TooLarge,
    /// The connection ended before `Content-Length` bytes came.
    Truncated,
}

/// Reads the request body (`Content-Length` bytes, some already read with the head), at
/// most `max` bytes.
pub(crate) fn read_body(
    stream: &mut impl Read,
    head: &RequestHead,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    let length: usize = match head.header("Content-Length").map(str::parse) {
        Some(Ok(length)) => length,
        _ => return Err(BodyError::NoLength),
    };
    if length > max {
        return Err(BodyError::TooLarge);
    }
    let mut body = head.rest.clone();
    body.truncate(length);
    let mut chunk = [0u8; 4096];
    while body.len() < length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(BodyError::Truncated),
            Ok(n) => body.extend_from_slice(&chunk[..n.min(length - body.len())]),
        }
    }
    Ok(body)
}

/// Answers the websocket upgrade with 101.
pub(crate) fn accept_upgrade(stream: &mut impl Write, head: &RequestHead) -> io::Result<()> {
    let key = head
        .header("Sec-WebSocket-Key")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Sec-WebSocket-Key"))?;
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

/// The value of `key` in a query string.
pub(crate) fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}
