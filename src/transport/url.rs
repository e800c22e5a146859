//! Gateway and REST URL checks: TLS always, plain text only on loopback.

use crate::{Error, Result};

/// A websocket URL split into the parts the dialer needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WsUrl {
    pub secure: bool,
    pub host: String,
    pub port: u16,
    /// Path without the query, always starting with `/`.
    pub path: String,
}

/// Whether `host` (as written in a URL, brackets allowed) is a loopback address.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// Splits `scheme://authority/path?query` without pulling in a URL crate.
fn split(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((scheme, authority, path))
}

fn host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((format!("[{host}]"), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((authority.to_owned(), default_port)),
    }
}

impl WsUrl {
    /// Parses and checks a gateway URL: `wss://` anywhere, `ws://` only to loopback.
    pub fn parse(url: &str) -> Result<WsUrl> {
        WsUrl::parse_with(
            url,
            ("wss", "ws"),
            "the scheme must be wss:// (or ws:// for loopback)",
        )
    }

    fn parse_with(
        url: &str,
        (tls, plain): (&str, &str),
        bad_scheme: &'static str,
    ) -> Result<WsUrl> {
        let invalid = |why| Error::InvalidUrl {
            url: url.to_owned(),
            why,
        };
        let (scheme, authority, path) = split(url).ok_or(invalid("not an absolute URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        let secure = if scheme == tls {
            true
        } else if scheme == plain {
            false
        } else {
            return Err(invalid(bad_scheme));
        };
        let (host, port) = host_port(authority, if secure { 443 } else { 80 })
            .ok_or(invalid("the host or port is malformed"))?;
        if !secure && !is_loopback_host(&host) {
            return Err(invalid(
                "plain-text connections are only allowed to loopback hosts; use TLS",
            ));
        }
        Ok(WsUrl {
            secure,
            host,
            port,
            path: path.to_owned(),
        })
    }

    /// The full URL to open, with the gateway's query string (PROTOCOL.md §1.3).
    pub fn with_query(&self, compress: Option<&str>) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        let mut url = format!(
            "{scheme}://{}:{}{}?v={}&encoding=json",
            self.host,
            self.port,
            self.path,
            crate::protocol::API_VERSION
        );
        if let Some(compress) = compress {
            url.push_str("&compress=");
            url.push_str(compress);
        }
        url
    }
}

/// Checks a REST base URL: `https://` anywhere, `http://` only to loopback. The parts come
/// back in a [`WsUrl`] (`secure` is true for `https://`).
pub(crate) fn check_api_base(base: &str) -> Result<WsUrl> {
    WsUrl::parse_with(
        base,
        ("https", "http"),
        "the scheme must be https:// (or http:// for loopback)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wss_is_accepted_anywhere_and_gets_the_query() {
        let url = WsUrl::parse("wss://gateway.discord.gg").unwrap();
        assert!(url.secure);
        assert_eq!(url.port, 443);
        assert_eq!(
            url.with_query(None),
            "wss://gateway.discord.gg:443/?v=10&encoding=json"
        );
        let url = WsUrl::parse("wss://gateway.discord.gg/?v=9&encoding=etf").unwrap();
        assert_eq!(
            url.with_query(Some("zlib-stream")),
            "wss://gateway.discord.gg:443/?v=10&encoding=json&compress=zlib-stream"
        );
    }

    #[test]
    fn ws_only_for_loopback() {
        assert!(WsUrl::parse("ws://127.0.0.1:9000").is_ok());
        assert!(WsUrl::parse("ws://localhost:9000/resume").is_ok());
        assert!(WsUrl::parse("ws://[::1]:9000").is_ok());
        for bad in [
            "ws://gateway.discord.gg",
            "ws://10.0.0.1:80",
            "http://127.0.0.1",
            "wss://",
            "gateway.discord.gg",
            "wss://user@host",
            "wss://host:notaport",
        ] {
            assert!(WsUrl::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn rest_base_https_or_loopback_http() {
        assert!(check_api_base("https://discord.com/api/v10").is_ok());
        assert!(check_api_base("http://127.0.0.1:5000/api/v10").is_ok());
        assert!(check_api_base("http://discord.com/api/v10").is_err());
        assert!(check_api_base("ftp://127.0.0.1").is_err());
    }
}
