//! Gateway and REST URL checks: TLS always, plain text only on loopback.

use crate::{Error, Result};
use http::Uri;

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

/// Splits an absolute URL into its lower-cased scheme, host (IPv6 in brackets), port and
/// path; `http::Uri` parses (RFC 3986), the query and any fragment are dropped. Our own
/// rules on top: no user info, a non-empty host, a port that fits in 16 bits.
fn split(
    url: &str,
    default_port: impl Fn(&str) -> u16,
) -> Result<(String, String, u16, String), &'static str> {
    const NOT_ABSOLUTE: &str = "not an absolute URL";
    const MALFORMED: &str = "the host or port is malformed";
    if !url.contains("://") {
        return Err(NOT_ABSOLUTE);
    }
    let uri: Uri = url.parse().map_err(|_| MALFORMED)?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(NOT_ABSOLUTE);
    };
    let scheme = scheme.to_ascii_lowercase();
    let host = authority.host();
    // `http::Uri` accepts user info and reads no port from ":99999"; we refuse both.
    let after_host = authority.as_str().strip_prefix(host).ok_or(MALFORMED)?;
    if host.is_empty() || authority.as_str().contains('@') {
        return Err(MALFORMED);
    }
    let port = match after_host {
        "" => default_port(&scheme),
        port => port
            .strip_prefix(':')
            .and_then(|p| p.parse().ok())
            .ok_or(MALFORMED)?,
    };
    Ok((scheme, host.to_owned(), port, uri.path().to_owned()))
}

impl WsUrl {
    /// Parses and checks a gateway URL: `wss://` anywhere, `ws://` only to loopback.
    pub fn parse(url: &str) -> Result<WsUrl> {
        WsUrl::parse_with(
            url,
            "gateway URL",
            ("wss", "ws"),
            "the scheme must be wss:// (or ws:// for loopback)",
        )
    }

    fn parse_with(
        url: &str,
        what: &'static str,
        (tls, plain): (&str, &str),
        bad_scheme: &'static str,
    ) -> Result<WsUrl> {
        let invalid = |why| Error::InvalidUrl {
            what,
            url: url.to_owned(),
            why,
        };
        let (scheme, host, port, path) =
            split(url, |scheme| if scheme == tls { 443 } else { 80 }).map_err(invalid)?;
        let secure = if scheme == tls {
            true
        } else if scheme == plain {
            false
        } else {
            return Err(invalid(bad_scheme));
        };
        if !secure && !is_loopback_host(&host) {
            return Err(invalid(
                "plain-text connections are only allowed to loopback hosts; use TLS",
            ));
        }
        Ok(WsUrl {
            secure,
            host,
            port,
            path,
        })
    }

    /// The full URL to open, with the gateway's query string (Discord: Gateway → Connecting).
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
        "API base",
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
            // Rows added with http::Uri. The hand-written parser let three of them through:
            // a:1:2 (as host "a:1" on port 2), the CRLF and the space in the host.
            "wss://host:65536",
            "wss://host:",
            "wss://:443",
            "wss://a:1:2",
            "wss://user:secret@host",
            "wss://host\r\nInjected: 1",
            "wss://ho st",
            "ws://[::1",
        ] {
            assert!(WsUrl::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn parts_come_from_the_uri() {
        let url = WsUrl::parse("WSS://Host.example:8443/gw?v=9#top").unwrap();
        assert_eq!(
            url,
            WsUrl {
                secure: true,
                host: "Host.example".into(),
                port: 8443,
                path: "/gw".into(),
            }
        );
        let url = WsUrl::parse("ws://[::1]").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("[::1]", 80));
        assert_eq!(url.path, "/");
        let url = WsUrl::parse("ws://localhost:65535").unwrap();
        assert_eq!(url.port, 65535);
    }

    #[test]
    fn rest_base_https_or_loopback_http() {
        assert!(check_api_base("https://discord.com/api/v10").is_ok());
        assert!(check_api_base("http://127.0.0.1:5000/api/v10").is_ok());
        assert!(check_api_base("http://discord.com/api/v10").is_err());
        assert!(check_api_base("ftp://127.0.0.1").is_err());
    }
}
