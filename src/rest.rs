//! REST gateway discovery: `GET /gateway/bot` (PROTOCOL.md §1.1–1.2).

use crate::transport::{check_api_base, get, RequestOptions, Response};
use crate::{Error, Result, Token};
use serde::Deserialize;
use std::time::Duration;

/// The answer of `GET /gateway/bot`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct GatewayBot {
    /// The websocket URL to identify against (no query string).
    pub url: String,
    /// Discord's recommended shard count.
    #[serde(default = "one")]
    pub shards: u64,
    /// Session start limits.
    #[serde(default)]
    pub session_start_limit: Option<SessionStartLimit>,
}

fn one() -> u64 {
    1
}

/// Identify budget from `GET /gateway/bot`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SessionStartLimit {
    /// Identifies allowed per window.
    pub total: u64,
    /// Identifies left in this window.
    pub remaining: u64,
    /// Milliseconds until `remaining` refills.
    pub reset_after: u64,
    /// Identifies allowed per 5-second slot.
    pub max_concurrency: u64,
}

#[derive(Deserialize)]
struct RateLimited {
    retry_after: f64,
}

/// The `User-Agent` Discord asks for: `DiscordBot (<url>, <version>)`.
pub(crate) fn user_agent() -> String {
    format!(
        "DiscordBot (https://github.com/syncord/syncord, {})",
        env!("CARGO_PKG_VERSION")
    )
}

/// How many transient failures (5xx, connection errors) discovery retries before giving up.
const TRANSIENT_RETRIES: u32 = 4;
/// How many 429 answers in a row discovery honours before giving up.
const RATE_LIMIT_RETRIES: u32 = 5;

/// Fetches `{api_base}/gateway/bot`.
///
/// 401 → [`Error::AuthenticationFailed`]; 429 → waits `retry_after` and retries; 5xx and
/// connection errors → retries with backoff, then [`Error::Discovery`]. `sleep` waits and
/// returns false when the wait was interrupted by shutdown.
pub(crate) fn gateway_bot(
    api_base: &str,
    token: &Token,
    opts: &RequestOptions<'_>,
    sleep: &dyn Fn(Duration) -> bool,
) -> Result<GatewayBot> {
    check_api_base(api_base)?;
    let url = format!("{api_base}/gateway/bot");
    let authorization = format!("Bot {}", token.expose());
    let user_agent = user_agent();
    let headers = [
        ("Authorization", authorization.as_str()),
        ("User-Agent", user_agent.as_str()),
    ];
    let (mut transient, mut limited) = (0u32, 0u32);
    loop {
        let wait = match get(&url, &headers, opts) {
            Ok(Response { status, body }) => match status {
                200..=299 => {
                    return serde_json::from_str(&body).map_err(|e| {
                        Error::Discovery(format!("unexpected /gateway/bot body: {e}"))
                    })
                }
                401 => {
                    return Err(Error::AuthenticationFailed {
                        source_of_truth: "HTTP 401 from GET /gateway/bot",
                    })
                }
                429 if limited < RATE_LIMIT_RETRIES => {
                    limited += 1;
                    let retry_after = serde_json::from_str::<RateLimited>(&body)
                        .map(|r| r.retry_after)
                        .unwrap_or(1.0);
                    let secs = if retry_after.is_finite() {
                        retry_after.clamp(0.0, 600.0)
                    } else {
                        1.0
                    };
                    log::warn!("GET /gateway/bot rate limited; retrying in {secs:.3} s");
                    Duration::from_secs_f64(secs)
                }
                500..=599 if transient < TRANSIENT_RETRIES => {
                    transient += 1;
                    log::warn!("GET /gateway/bot answered HTTP {status}; retrying");
                    Duration::from_millis(250 << transient)
                }
                _ => {
                    let excerpt: String = body.chars().take(200).collect();
                    return Err(Error::Discovery(format!(
                        "GET /gateway/bot answered HTTP {status}: {}",
                        token.redact_in(&excerpt)
                    )));
                }
            },
            Err(e) if transient < TRANSIENT_RETRIES => {
                transient += 1;
                log::warn!("GET /gateway/bot failed: {e}; retrying");
                Duration::from_millis(250 << transient)
            }
            Err(e) => return Err(Error::Discovery(format!("GET /gateway/bot failed: {e}"))),
        };
        if !sleep(wait) {
            return Err(Error::Stopped);
        }
    }
}
