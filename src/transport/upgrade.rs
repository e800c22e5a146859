//! The client's websocket upgrade (RFC 6455 §4.1), written by us rather than tungstenite:
//! tungstenite logs the whole request at trace level, and the request target carries
//! secrets (Slack's single-use `ticket`). After the 101, tungstenite takes the stream over
//! with whatever bytes followed the response head.

use super::adapter::DialError;
use std::io::{Read, Write};

/// The longest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// The request target (`/path?query`) of `url` (`scheme://authority/path?query#fragment`).
pub(crate) fn request_target(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split('#').next().unwrap_or("");
    match rest.find(['/', '?']) {
        Some(i) => &rest[i..],
        None => "/",
    }
}

/// Sends the upgrade request and reads the answer; returns the bytes read past the head.
/// Errors never quote the request target.
pub(crate) fn upgrade(
    stream: &mut (impl Read + Write),
    host_header: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<Vec<u8>, DialError> {
    let key = tungstenite::handshake::client::generate_key();
    let target = if target.starts_with('?') {
        format!("/{target}")
    } else {
        target.to_owned()
    };
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
    );
    for (name, value) in headers {
        if name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) {
            return Err(DialError(format!("bad header {name:?}")));
        }
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|e| DialError(format!("websocket handshake failed: {e}")))?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(DialError(format!(
                "websocket handshake failed: a response head over {MAX_HEAD} bytes"
            )));
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(DialError(
                    "websocket handshake failed: the server closed the connection".into(),
                ))
            }
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(DialError("websocket handshake timed out".into()))
            }
            Err(e) => return Err(DialError(format!("websocket handshake failed: {e}"))),
        }
    };
    let leftover = head.split_off(end);
    check_response(&head, &key)?;
    Ok(leftover)
}

/// A 101 with the headers RFC 6455 §4.1 requires, and the accept key for `key`.
fn check_response(head: &[u8], key: &str) -> Result<(), DialError> {
    let text = std::str::from_utf8(head).map_err(|_| {
        DialError("websocket handshake failed: a response head that is not text".into())
    })?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| DialError("websocket handshake failed: not an HTTP response".into()))?;
    if status != 101 {
        return Err(DialError(format!("handshake refused with HTTP {status}")));
    }
    let header = |name: &str| {
        text.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    };
    let upgrade_ok = header("Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let connection_ok = header("Connection").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    });
    if !upgrade_ok || !connection_ok {
        return Err(DialError(
            "websocket handshake failed: the 101 lacks Upgrade: websocket or Connection: Upgrade"
                .into(),
        ));
    }
    let expected = tungstenite::handshake::derive_accept_key(key.as_bytes());
    if header("Sec-WebSocket-Accept") != Some(expected.as_str()) {
        return Err(DialError(
            "websocket handshake failed: wrong Sec-WebSocket-Accept".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_target_is_the_path_and_query() {
        assert_eq!(
            request_target("wss://h:1/link/?ticket=t&a=b"),
            "/link/?ticket=t&a=b"
        );
        assert_eq!(request_target("ws://127.0.0.1:9/?v=10"), "/?v=10");
        assert_eq!(request_target("ws://127.0.0.1:9?v=10"), "?v=10");
        assert_eq!(request_target("ws://h"), "/");
        assert_eq!(request_target("ws://h/a#frag"), "/a");
    }

    /// A scripted server end: what the client wrote, and the answer it reads.
    struct Scripted {
        written: Vec<u8>,
        answer: std::io::Cursor<Vec<u8>>,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.answer.read(buf)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn key_of(request: &str) -> String {
        request
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_correct_101_is_accepted_and_the_bytes_after_it_kept() {
        // The accept key depends on the random request key: answer from a first attempt's
        // key is impossible, so check the pieces instead.
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455's example");
        let head = format!("HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
        assert!(check_response(head.as_bytes(), key).is_ok());
        let wrong = head.replace(&accept, "nope");
        assert!(check_response(wrong.as_bytes(), key).is_err());
        let refused = "HTTP/1.1 401 Unauthorized\r\n\r\n";
        let e = check_response(refused.as_bytes(), key).unwrap_err();
        assert_eq!(e.0, "handshake refused with HTTP 401");
        assert!(check_response(b"garbage\r\n\r\n", key).is_err());
    }

    #[test]
    fn the_request_carries_the_headers_and_errors_never_quote_the_target() {
        let mut server = Scripted {
            written: Vec::new(),
            answer: std::io::Cursor::new(b"HTTP/1.1 403 Forbidden\r\n\r\nrest".to_vec()),
        };
        let e = upgrade(
            &mut server,
            "h:1",
            "/link/?ticket=secret",
            &[("User-Agent", "x")],
        )
        .unwrap_err();
        assert!(!e.0.contains("secret"), "{}", e.0);
        let request = String::from_utf8(server.written).unwrap();
        assert!(request.starts_with("GET /link/?ticket=secret HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(request.contains("\r\nUser-Agent: x\r\n") && request.ends_with("\r\n\r\n"));
        assert_eq!(key_of(&request).len(), 24);
    }
}
