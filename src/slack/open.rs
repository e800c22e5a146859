//! `apps.connections.open` (Slack: apps.connections.open; Using Socket Mode) and
//! `rtm.connect` (Slack: rtm.connect; Legacy RTM API): one request for one single-use
//! websocket URL, and what its answer means (a pure table, tested).

use super::config::{SlackConfig, SlackToken};
use crate::rest::{agent, answer, HttpAnswer, Outcome, RequestOptions};
use crate::transport::check_api_base;
use crate::Error;
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// A single-use websocket URL: its `ticket` authenticates the connection, so it is never
/// printed (Debug shows `<ticket URL>`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TicketUrl(pub String);

impl fmt::Debug for TicketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<ticket URL>")
    }
}

impl TicketUrl {
    /// `text` (a dial error that may quote the URL) without the URL.
    pub fn redact_in(&self, text: &str) -> String {
        text.replace(&self.0, "<ticket URL>")
    }
}

/// Which method gives the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// Socket Mode, with the app-level token.
    ConnectionsOpen,
    /// Legacy RTM, with a classic app's bot token.
    RtmConnect,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::ConnectionsOpen => "apps.connections.open",
            Method::RtmConnect => "rtm.connect",
        }
    }
}

/// Who the RTM connection is (`rtm.connect`'s `team` and `self`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Identity {
    pub team_id: Option<String>,
    pub user_id: Option<String>,
}

/// What one request came back with.
#[derive(Debug)]
pub(crate) enum Opened {
    /// A websocket URL to connect to now.
    Url(TicketUrl, Identity),
    /// HTTP 429: wait at least this long (Slack: Rate limits).
    RateLimited(Duration),
    /// Network trouble, 5xx, or a malformed answer: back off and try again.
    Transient(String),
    /// Slack refused for a reason that retrying cannot fix.
    Fatal(Error),
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    team: Option<Id>,
    #[serde(default, rename = "self")]
    me: Option<Id>,
}

#[derive(Deserialize)]
struct Id {
    #[serde(default)]
    id: Option<String>,
}

/// Asks for a websocket URL (`POST {api_base}/{method}`, the token in `Authorization:
/// Bearer`: Slack refuses the app token as a form field).
pub(crate) fn open(config: &SlackConfig, method: Method, opts: &RequestOptions<'_>) -> Opened {
    let base = match check_api_base(&config.api_base) {
        Ok(base) => base,
        Err(e) => return Opened::Fatal(e),
    };
    let agent = match agent(opts, base.secure) {
        Ok(agent) => agent,
        Err(e) => return Opened::Transient(e.to_string()),
    };
    // Always `https://` to ureq, so every socket goes through the hook, which runs TLS only
    // for an `https://` base (as Discord's discovery does).
    let url = format!(
        "https://{}:{}{}/{}",
        base.host,
        base.port,
        base.path.trim_end_matches('/'),
        method.name()
    );
    let authorization = format!("Bearer {}", config.token.expose());
    let outcome = match agent
        .post(&url)
        .set("Authorization", &authorization)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string("")
    {
        Ok(response) | Err(ureq::Error::Status(_, response)) => answer(response),
        Err(ureq::Error::Transport(e)) => Outcome::Failed(
            e.to_string()
                .replace(&url, &format!("{}/{}", config.api_base, method.name())),
        ),
    };
    let debug_reconnects = config.debug_reconnects && method == Method::ConnectionsOpen;
    classify(outcome, method, &config.token, debug_reconnects)
}

/// The table: an answer → what the client does (SLACK.md's §4.4, from Slack's method
/// documentation and the SDKs' fatal lists).
pub(crate) fn classify(
    outcome: Outcome,
    method: Method,
    token: &SlackToken,
    debug_reconnects: bool,
) -> Opened {
    let name = method.name();
    let HttpAnswer {
        status,
        retry_after,
        body,
    } = match outcome {
        Outcome::Answer(http) => http,
        Outcome::Failed(e) => {
            return Opened::Transient(format!("{name} failed: {}", token.redact_in(&e)))
        }
    };
    if status == 429 {
        let secs = retry_after
            .and_then(|h| h.trim().parse::<u64>().ok())
            .unwrap_or(30)
            .min(600);
        return Opened::RateLimited(Duration::from_secs(secs));
    }
    if status == 404 {
        return Opened::Fatal(refused(
            "HTTP 404",
            method,
            "check that api_base is Slack's Web API base (the default is https://slack.com/api)",
        ));
    }
    if (500..=599).contains(&status) {
        return Opened::Transient(format!("{name} answered HTTP {status}"));
    }
    let Some(answer) = body.and_then(|b| serde_json::from_str::<Answer>(&b).ok()) else {
        return Opened::Transient(format!(
            "{name} answered HTTP {status} with something that is not Slack's answer"
        ));
    };
    let identity = Identity {
        team_id: answer.team.and_then(|t| t.id),
        user_id: answer.me.and_then(|m| m.id),
    };
    match (answer.ok, answer.url, answer.error.as_deref()) {
        (true, Some(mut url), _) => {
            if debug_reconnects {
                url.push_str(if url.contains('?') { "&" } else { "?" });
                url.push_str("debug_reconnects=true");
            }
            Opened::Url(TicketUrl(url), identity)
        }
        (true, None, _) => Opened::Transient(format!("{name} answered ok without a url")),
        (false, _, Some("ratelimited")) => Opened::RateLimited(Duration::from_secs(30)),
        (false, _, Some(error)) => match advice(error) {
            Some(advice) => Opened::Fatal(refused(error, method, advice)),
            None => Opened::Transient(format!("{name} refused: {error}")),
        },
        (false, _, None) => Opened::Transient(format!("{name} refused without an error")),
    }
}

fn refused(error: &str, method: Method, advice: &'static str) -> Error {
    Error::SlackRefused {
        error: error.to_owned(),
        advice: match (method, error) {
            (Method::RtmConnect, "not_allowed_token_type") => RTM_TOKEN_TYPE,
            _ => advice,
        },
    }
}

const RTM_TOKEN_TYPE: &str = "RTM needs the bot token (xoxb-…) of a classic app; apps with granular permissions cannot use RTM: use Socket Mode with an app-level token (xapp-…)";

/// What to fix for each error retrying cannot cure; `None` for the others (retried).
pub(crate) fn advice(error: &str) -> Option<&'static str> {
    Some(match error {
        "migration_in_progress" => return None,
        "invalid_auth" | "not_authed" => "check the app-level token (xapp-…) and that it is sent as configured; create one under Basic Information → App-Level Tokens with the connections:write scope",
        "not_allowed_token_type" => "Socket Mode needs the app-level token (xapp-…), not a bot (xoxb-) or user (xoxp-) token",
        "account_inactive" | "token_revoked" | "team_disabled" | "user_removed_from_team" => "the token no longer works: create a new app-level token, or reinstall the app",
        "missing_args" | "insecure_request" | "forbidden_team" => "Slack refused the request itself: check api_base and the app's workspace",
        "link_disabled" => "Socket Mode is turned off for this app: turn it on under Settings → Socket Mode",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Outcome {
        Outcome::Answer(HttpAnswer {
            status,
            retry_after: None,
            body: Some(body.to_owned()),
        })
    }

    /// Slack's answer `{"ok":false,"error":<error>}` (HTTP 200, as Slack answers errors).
    fn refused(error: &str) -> Outcome {
        answer(200, &format!(r#"{{"ok":false,"error":"{error}"}}"#))
    }

    fn token() -> SlackToken {
        SlackToken::new("xapp-1-secret")
    }

    #[test]
    fn every_answer_has_one_reaction() {
        let cases: Vec<(Outcome, &str)> = vec![
            (
                answer(200, r#"{"ok":true,"url":"wss://x/link/?ticket=t"}"#),
                "url",
            ),
            (refused("invalid_auth"), "fatal"),
            (refused("not_authed"), "fatal"),
            (refused("not_allowed_token_type"), "fatal"),
            (refused("token_revoked"), "fatal"),
            (refused("account_inactive"), "fatal"),
            (refused("team_disabled"), "fatal"),
            (refused("user_removed_from_team"), "fatal"),
            (refused("insecure_request"), "fatal"),
            (refused("ratelimited"), "limited"),
            (refused("internal_error"), "transient"),
            (answer(200, r#"{"ok":true}"#), "transient"),
            (answer(200, "<html>"), "transient"),
            (answer(404, "not found"), "fatal"),
            (answer(503, ""), "transient"),
            (
                Outcome::Answer(HttpAnswer {
                    status: 429,
                    retry_after: Some("7".into()),
                    body: Some(r#"{"ok":false,"error":"ratelimited"}"#.into()),
                }),
                "limited 7",
            ),
            (Outcome::Failed("connection refused".into()), "transient"),
        ];
        for (outcome, expected) in cases {
            let got = match classify(outcome, Method::ConnectionsOpen, &token(), false) {
                Opened::Url(..) => "url".to_owned(),
                Opened::Fatal(_) => "fatal".to_owned(),
                Opened::RateLimited(d) if d == Duration::from_secs(30) => "limited".to_owned(),
                Opened::RateLimited(d) => format!("limited {}", d.as_secs()),
                Opened::Transient(_) => "transient".to_owned(),
            };
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn fatal_errors_say_what_to_fix_and_never_echo_the_token() {
        let refused = |method| {
            let outcome = answer(200, r#"{"ok":false,"error":"not_allowed_token_type"}"#);
            match classify(outcome, method, &token(), false) {
                Opened::Fatal(e) => e.to_string(),
                other => panic!("not fatal: {other:?}"),
            }
        };
        assert!(refused(Method::ConnectionsOpen).contains("xapp-"));
        assert!(refused(Method::RtmConnect).contains("xoxb-"));
        let Opened::Transient(e) = classify(
            Outcome::Failed("bad header Bearer xapp-1-secret".into()),
            Method::ConnectionsOpen,
            &token(),
            false,
        ) else {
            panic!("not transient")
        };
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn debug_reconnects_is_added_to_the_url_and_the_url_never_prints() {
        let Opened::Url(url, _) = classify(
            answer(
                200,
                r#"{"ok":true,"url":"wss://x/link/?ticket=t&app_id=A"}"#,
            ),
            Method::ConnectionsOpen,
            &token(),
            true,
        ) else {
            panic!("no url")
        };
        assert_eq!(
            url.0,
            "wss://x/link/?ticket=t&app_id=A&debug_reconnects=true"
        );
        assert_eq!(format!("{url:?}"), "<ticket URL>");
        assert_eq!(
            url.redact_in(&format!("dial {} failed", url.0)),
            "dial <ticket URL> failed"
        );
    }
}
