//! REST gateway discovery: `GET /gateway/bot` (Discord API docs: Topics › Gateway › Get
//! Gateway Bot), over ureq 2.
//!
//! Why ureq 2 and not 3: ureq 2 logs the request head at debug level with the
//! `Authorization` value replaced by `***`, and logs no request or response bytes at any
//! level; ureq 3's protocol layer hex-dumps every request head, token included, at trace
//! level. One agent per discovery, keeping no connection: each request has its own socket,
//! which goes through [`Hook`] (shutdown's handle on it, TLS, a guard against a header line
//! ureq 2 would panic on).

use crate::transport::{check_api_base, Hook};
use crate::{Error, Result, Token};
use serde::Deserialize;
use std::io::Read;
use std::net::TcpStream;
use std::sync::Arc;
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

/// The `User-Agent` Discord asks for: `DiscordBot (<url>, <version>)` (Discord API docs:
/// Reference › User Agent).
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
/// The largest body read, in bytes (the real answer is about 200): a bigger one is an
/// error, never an allocation the server chooses.
pub(crate) const MAX_BODY: u64 = 1 << 20;

/// Settings for discovery's requests.
pub(crate) struct RequestOptions<'a> {
    /// Bounds each request as a whole: connect, TLS handshake, request and answer.
    pub timeout: Duration,
    /// The TLS connector to use; a default one (platform roots) when `None`.
    pub tls: Option<&'a native_tls::TlsConnector>,
    /// Called with each request's socket once connected, before the TLS handshake and
    /// before anything is sent, so that `shutdown` can abort the request by shutting the
    /// socket down.
    pub on_connected: Arc<dyn Fn(&TcpStream) + Send + Sync>,
    /// True once shutdown was requested: a failed request then ends discovery at once.
    pub aborted: &'a dyn Fn() -> bool,
}

/// Fetches `{api_base}/gateway/bot`.
///
/// 401 → [`Error::AuthenticationFailed`]; 429 → waits `retry_after` and retries; 5xx and
/// connection errors → retries with backoff, then [`Error::Discovery`]; a body over
/// [`MAX_BODY`] → [`Error::Discovery`]. `sleep` waits and returns false when the wait was
/// interrupted by shutdown.
pub(crate) fn gateway_bot(
    api_base: &str,
    token: &Token,
    opts: &RequestOptions<'_>,
    sleep: &dyn Fn(Duration) -> bool,
) -> Result<GatewayBot> {
    // Before any request: `http://` only to loopback.
    let base = check_api_base(api_base)?;
    let agent = agent(opts, base.secure)?;
    // Always `https://` to ureq, so that every socket goes through `Hook`, which runs TLS
    // only if the base is `https://`; the port is explicit as `https://` would imply 443.
    let url = format!(
        "https://{}:{}{}/gateway/bot",
        base.host,
        base.port,
        base.path.trim_end_matches('/')
    );
    let shown_url = format!("{api_base}/gateway/bot");
    let authorization = format!("Bot {}", token.expose());
    let mut attempts = Attempts::default();
    loop {
        let outcome = match agent
            .get(&url)
            .set("Authorization", &authorization)
            .set("Accept", "application/json")
            .call()
        {
            // ureq 2 turns 4xx and 5xx into `Error::Status`: the same answer to us.
            Ok(response) | Err(ureq::Error::Status(_, response)) => answer(response),
            Err(ureq::Error::Transport(e)) => {
                Outcome::Failed(e.to_string().replace(&url, &shown_url))
            }
        };
        if (opts.aborted)() {
            return Err(Error::Stopped);
        }
        match decide(outcome, &mut attempts, token) {
            Step::Done(result) => return result,
            Step::Retry(wait) => {
                if !sleep(wait) {
                    return Err(Error::Stopped);
                }
            }
        }
    }
}

/// One agent for one discovery: our connector (TLS if `secure`), timeouts, no pooled
/// connections, no redirects, our User-Agent.
pub(crate) fn agent(opts: &RequestOptions<'_>, secure: bool) -> Result<ureq::Agent> {
    let tls = match (secure, opts.tls) {
        (false, _) => None,
        (true, Some(tls)) => Some(tls.clone()),
        (true, None) => Some(
            native_tls::TlsConnector::new().map_err(|e| Error::Discovery {
                message: format!("TLS setup failed: {e}"),
                source: Some(Box::new(e)),
            })?,
        ),
    };
    Ok(ureq::AgentBuilder::new()
        .tls_connector(Arc::new(Hook {
            tls,
            on_connected: opts.on_connected.clone(),
        }))
        // `HeadGuard` checks one response per socket.
        .max_idle_connections(0)
        // ureq's connect timeout is separate from (and not bounded by) the overall one.
        .timeout_connect(opts.timeout)
        .timeout(opts.timeout)
        // Neither Discord nor Slack redirects these endpoints; following one could carry
        // the token somewhere unchecked.
        .redirects(0)
        .user_agent(&user_agent())
        .build())
}

/// What one request came back with.
pub(crate) enum Outcome {
    /// An HTTP answer, whatever its status.
    Answer(HttpAnswer),
    /// No answer: DNS, connect, TLS, timeout, or a malformed response.
    Failed(String),
}

/// An HTTP answer: what the policies read of it.
pub(crate) struct HttpAnswer {
    pub status: u16,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The body as text, or `None` if it was over [`MAX_BODY`].
    pub body: Option<String>,
}

/// Reads an answer's status, `Retry-After` and body (at most [`MAX_BODY`] bytes of it).
pub(crate) fn answer(response: ureq::Response) -> Outcome {
    let status = response.status();
    let retry_after = response.header("Retry-After").map(str::to_owned);
    let mut raw = Vec::new();
    // One byte past the cap tells "exactly the cap" from "more".
    if let Err(e) = response
        .into_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut raw)
    {
        return Outcome::Failed(format!("reading the HTTP {status} answer failed: {e}"));
    }
    let body = (raw.len() as u64 <= MAX_BODY).then(|| String::from_utf8_lossy(&raw).into_owned());
    Outcome::Answer(HttpAnswer {
        status,
        retry_after,
        body,
    })
}

/// Retries so far in one discovery.
#[derive(Default)]
pub(crate) struct Attempts {
    transient: u32,
    limited: u32,
}

/// What to do after one request.
pub(crate) enum Step {
    /// Discovery is over, with this result.
    Done(Result<GatewayBot>),
    /// Wait this long, then ask again.
    Retry(Duration),
}

/// The policy: what an outcome means for discovery. Text that may echo the request (an
/// error body, ureq's message) has the token redacted before it is logged or returned.
pub(crate) fn decide(outcome: Outcome, attempts: &mut Attempts, token: &Token) -> Step {
    let answer = match outcome {
        Outcome::Answer(answer) => answer,
        Outcome::Failed(e) if attempts.transient < TRANSIENT_RETRIES => {
            attempts.transient += 1;
            log::warn!("GET /gateway/bot failed: {}; retrying", token.redact_in(&e));
            return Step::Retry(transient_backoff(attempts.transient));
        }
        Outcome::Failed(e) => {
            return Step::Done(Err(Error::discovery(format!(
                "GET /gateway/bot failed: {}",
                token.redact_in(&e)
            ))))
        }
    };
    let status = answer.status;
    if status == 401 {
        return Step::Done(Err(Error::AuthenticationFailed {
            source_of_truth: "HTTP 401 from GET /gateway/bot",
        }));
    }
    let Some(body) = answer.body else {
        return Step::Done(Err(Error::discovery(format!(
            "GET /gateway/bot answered HTTP {status} with a body over {MAX_BODY} bytes; \
             is the REST base URL (`api_base`) pointing at Discord's API?"
        ))));
    };
    match status {
        // Something answered, but not Discord's API: retrying cannot fix the setting.
        200..=299 => Step::Done(serde_json::from_str(&body).map_err(|e| {
            Error::Config(format!(
                "api_base: GET /gateway/bot answered with something that is not Discord's answer ({e}); \
                 check that api_base is Discord's REST base ending in /api/v10"
            ))
        })),
        404 | 405 => Step::Done(Err(Error::Config(format!(
            "api_base: GET /gateway/bot answered HTTP {status}; check that api_base is Discord's \
             REST base ending in /api/v10 (the default is {})",
            crate::DEFAULT_API_BASE
        )))),
        429 if attempts.limited < RATE_LIMIT_RETRIES => {
            attempts.limited += 1;
            let wait = rate_limit_wait(&body, answer.retry_after.as_deref());
            log::warn!(
                "GET /gateway/bot rate limited; retrying in {:.3} s",
                wait.as_secs_f64()
            );
            Step::Retry(wait)
        }
        500..=599 if attempts.transient < TRANSIENT_RETRIES => {
            attempts.transient += 1;
            log::warn!("GET /gateway/bot answered HTTP {status}; retrying");
            Step::Retry(transient_backoff(attempts.transient))
        }
        _ => {
            let excerpt: String = body.chars().take(200).collect();
            Step::Done(Err(Error::discovery(format!(
                "GET /gateway/bot answered HTTP {status}: {}",
                token.redact_in(&excerpt)
            ))))
        }
    }
}

/// 500 ms, 1 s, 2 s, 4 s for retries 1 to 4.
fn transient_backoff(retry: u32) -> Duration {
    Duration::from_millis(250 << retry.min(8))
}

/// The wait a 429 asks for: the body's `retry_after` (seconds, a float), else the
/// `Retry-After` header (seconds), else 1 s; kept within 0–600 s (Discord API docs:
/// Topics › Rate Limits › Exceeding A Rate Limit).
fn rate_limit_wait(body: &str, header: Option<&str>) -> Duration {
    let secs = serde_json::from_str::<RateLimited>(body)
        .map(|r| r.retry_after)
        .ok()
        .or_else(|| header.and_then(|h| h.trim().parse::<f64>().ok()))
        .filter(|s| s.is_finite())
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs.clamp(0.0, 600.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_comes_from_the_body_then_the_header_then_one_second() {
        let ms = |body: &str, header: Option<&str>| rate_limit_wait(body, header).as_millis();
        assert_eq!(
            ms(r#"{"retry_after":0.327,"global":false}"#, Some("9")),
            327
        );
        assert_eq!(ms(r#"{"message":"slow down"}"#, Some("2")), 2000);
        assert_eq!(ms("not json", Some(" 3 ")), 3000);
        assert_eq!(ms("not json", None), 1000);
        assert_eq!(ms("not json", Some("soon")), 1000);
    }

    #[test]
    fn retry_after_is_kept_within_bounds() {
        let ms = |body: &str| rate_limit_wait(body, None).as_millis();
        assert_eq!(ms(r#"{"retry_after":-5}"#), 0);
        assert_eq!(ms(r#"{"retry_after":1e300}"#), 600_000);
        assert_eq!(rate_limit_wait("", Some("NaN")).as_millis(), 1000);
        assert_eq!(rate_limit_wait("", Some("inf")).as_millis(), 1000);
    }

    #[test]
    fn transient_backoff_doubles_from_half_a_second() {
        let waits: Vec<u128> = (1..=4).map(|n| transient_backoff(n).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000]);
    }
}

/// Discovery against the simulator over real loopback sockets, with a `sleep` that records
/// the waits instead of waiting.
#[cfg(all(test, feature = "sim"))]
mod wire_tests {
    use super::*;
    use crate::sim::{RecordKind, SimConfig, Simulator};
    use parking_lot::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What one discovery did: its result, the waits it asked for, the sockets it
    /// registered.
    struct Run {
        result: Result<GatewayBot>,
        waits: Vec<Duration>,
        registered: usize,
    }

    fn discover(api_base: &str, token: &str, tls: Option<&native_tls::TlsConnector>) -> Run {
        let waits = Mutex::new(Vec::new());
        let registered = Arc::new(AtomicUsize::new(0));
        let counter = registered.clone();
        let opts = RequestOptions {
            timeout: Duration::from_secs(10),
            tls,
            on_connected: Arc::new(move |_: &TcpStream| {
                counter.fetch_add(1, Ordering::Relaxed);
            }),
            aborted: &|| false,
        };
        let sleep = |wait: Duration| {
            waits.lock().push(wait);
            true
        };
        let result = gateway_bot(api_base, &Token::new(token), &opts, &sleep);
        Run {
            result,
            waits: waits.into_inner(),
            registered: registered.load(Ordering::Relaxed),
        }
    }

    fn sim(config: SimConfig) -> Simulator {
        Simulator::start(config).expect("simulator starts")
    }

    /// The statuses the simulator answered, in order, with each request's User-Agent.
    fn requests(sim: &Simulator) -> Vec<(u16, String)> {
        sim.records()
            .into_iter()
            .filter_map(|r| match r.kind {
                RecordKind::Http {
                    status, user_agent, ..
                } => Some((status, user_agent)),
                _ => None,
            })
            .collect()
    }

    fn statuses(sim: &Simulator) -> Vec<u16> {
        requests(sim)
            .into_iter()
            .map(|(status, _)| status)
            .collect()
    }

    #[test]
    fn a_success_returns_the_gateway_url_shards_and_limits() {
        let sim = sim(SimConfig::default().shards(3, 2));
        let run = discover(&sim.api_base(), sim.token(), None);
        let bot = run.result.expect("discovery succeeds");
        assert_eq!(bot.url, sim.gateway_url());
        assert_eq!(bot.shards, 3);
        assert_eq!(bot.session_start_limit.map(|l| l.max_concurrency), Some(2));
        assert!(run.waits.is_empty());
        assert_eq!(statuses(&sim), [200]);
        assert_eq!(run.registered, 1, "the plain socket was handed over too");
    }

    #[test]
    fn a_header_line_without_a_colon_is_a_failed_request_not_a_panic() {
        // ureq 2.12 itself would panic on this head (it looks `Content-Length` up).
        let sim = sim(SimConfig::default().gateway_bot_raw_response(
            "HTTP/1.1 200 OK\r\nContent-Length\r\nConnection: close\r\n\r\n{}",
        ));
        let run = discover(&sim.api_base(), sim.token(), None);
        let Err(Error::Discovery { message, .. }) = run.result else {
            panic!("{:?}", run.result);
        };
        assert!(
            message.contains("a header line without a colon"),
            "{message}"
        );
        assert!(
            message.contains(&sim.api_base()),
            "names the real URL: {message}"
        );
        assert_eq!(
            run.waits.len(),
            TRANSIENT_RETRIES as usize,
            "retried as transient"
        );
    }

    #[test]
    fn the_request_carries_the_discordbot_user_agent() {
        let sim = sim(SimConfig::default());
        discover(&sim.api_base(), sim.token(), None)
            .result
            .expect("discovery succeeds");
        let sent: Vec<String> = requests(&sim).into_iter().map(|(_, ua)| ua).collect();
        assert_eq!(sent, [user_agent()]);
        assert!(user_agent().starts_with("DiscordBot (https://"));
    }

    #[test]
    fn a_401_is_fatal_and_not_retried() {
        let sim = sim(SimConfig::default());
        let run = discover(&sim.api_base(), "not-the-token", None);
        assert!(
            matches!(run.result, Err(Error::AuthenticationFailed { .. })),
            "{:?}",
            run.result
        );
        assert!(run.waits.is_empty(), "no retry after a 401");
        assert_eq!(statuses(&sim), [401]);
    }

    #[test]
    fn a_429_waits_retry_after_then_asks_again() {
        let sim = sim(SimConfig::default().gateway_bot_rate_limited(2));
        let run = discover(&sim.api_base(), sim.token(), None);
        assert_eq!(run.result.expect("the third answer").url, sim.gateway_url());
        // The simulator's 429 body says `"retry_after":0.05`.
        assert_eq!(run.waits, [Duration::from_millis(50); 2]);
        assert_eq!(statuses(&sim), [429, 429, 200]);
    }

    #[test]
    fn too_many_429s_in_a_row_end_in_a_discovery_error() {
        let sim = sim(SimConfig::default().gateway_bot_rate_limited(100));
        let run = discover(&sim.api_base(), sim.token(), None);
        let Err(Error::Discovery { message, .. }) = run.result else {
            panic!("{:?}", run.result);
        };
        assert!(message.contains("HTTP 429"), "{message}");
        assert_eq!(run.waits.len(), RATE_LIMIT_RETRIES as usize);
        assert_eq!(statuses(&sim).len(), RATE_LIMIT_RETRIES as usize + 1);
    }

    #[test]
    fn server_errors_are_retried_with_backoff() {
        let sim = sim(SimConfig::default().gateway_bot_server_errors(2));
        let run = discover(&sim.api_base(), sim.token(), None);
        assert_eq!(run.result.expect("the third answer").url, sim.gateway_url());
        assert_eq!(
            run.waits,
            [Duration::from_millis(500), Duration::from_millis(1000)]
        );
        assert_eq!(statuses(&sim), [502, 502, 200]);
    }

    #[test]
    fn server_errors_past_the_retries_end_in_a_discovery_error() {
        let sim = sim(SimConfig::default().gateway_bot_server_errors(100));
        let run = discover(&sim.api_base(), sim.token(), None);
        let Err(Error::Discovery { message, .. }) = run.result else {
            panic!("{:?}", run.result);
        };
        assert!(message.contains("HTTP 502"), "{message}");
        assert_eq!(run.waits.len(), TRANSIENT_RETRIES as usize);
        assert_eq!(statuses(&sim), [502; TRANSIENT_RETRIES as usize + 1]);
    }

    #[test]
    fn connection_failures_are_retried_then_end_in_a_discovery_error() {
        // A port nobody listens on: every connect is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let run = discover(&format!("http://127.0.0.1:{port}/api/v10"), "token", None);
        let Err(Error::Discovery { message, .. }) = run.result else {
            panic!("{:?}", run.result);
        };
        assert!(message.contains("Connection Failed"), "{message}");
        assert_eq!(
            run.waits,
            (1..=TRANSIENT_RETRIES)
                .map(transient_backoff)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_body_over_the_cap_is_a_discovery_error() {
        let sim = sim(SimConfig::default().gateway_bot_body_size(MAX_BODY as usize + 1));
        let run = discover(&sim.api_base(), sim.token(), None);
        let Err(Error::Discovery { message, .. }) = run.result else {
            panic!("{:?}", run.result);
        };
        assert!(message.contains("body over 1048576 bytes"), "{message}");
        assert!(run.waits.is_empty(), "a huge answer is not asked for again");
    }

    #[test]
    fn a_body_of_exactly_the_cap_is_read() {
        let sim = sim(SimConfig::default().gateway_bot_body_size(MAX_BODY as usize));
        let run = discover(&sim.api_base(), sim.token(), None);
        assert_eq!(
            run.result.expect("discovery succeeds").url,
            sim.gateway_url()
        );
    }

    #[test]
    fn https_uses_the_configs_connector_and_registers_the_socket() {
        let sim = sim(SimConfig::default().tls(true));
        let pem = sim.certificate_pem().expect("a certificate");
        let trusting = native_tls::TlsConnector::builder()
            .add_root_certificate(native_tls::Certificate::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let run = discover(&sim.api_base(), sim.token(), Some(&trusting));
        assert_eq!(
            run.result.expect("discovery succeeds").url,
            sim.gateway_url()
        );
        assert_eq!(run.registered, 1, "the socket was handed over before TLS");

        // Without the config's connector the self-signed certificate is refused.
        let run = discover(&sim.api_base(), sim.token(), None);
        let Err(Error::Discovery { message, .. }) = run.result else {
            panic!("{:?}", run.result);
        };
        assert!(message.contains("native_tls"), "{message}");
        assert_eq!(
            statuses(&sim),
            [200],
            "nothing reached the untrusted server"
        );
    }

    #[test]
    fn a_404_is_a_configuration_error_naming_api_base_without_a_retry() {
        // A base whose `/gateway/bot` does not exist: the simulator answers 404.
        let sim = sim(SimConfig::default());
        let run = discover(&format!("{}/nowhere", sim.api_base()), sim.token(), None);
        let Err(Error::Config(message)) = run.result else {
            panic!("{:?}", run.result);
        };
        assert!(
            message.contains("HTTP 404") && message.contains("api_base"),
            "{message}"
        );
        assert!(run.waits.is_empty());
    }
}
