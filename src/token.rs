//! Secrets: a redacting string that the Discord bot token and the Slack tokens both wrap, so
//! none can be printed by accident.

use serde::Deserialize;
use std::fmt;

/// A secret string. `Debug` and `Display` print `<redacted>`; only [`Secret::expose`] gives
/// the secret. No `Serialize`, so it cannot reach JSON by accident.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(String);

impl Secret {
    /// Wraps `secret`, surrounding whitespace trimmed.
    pub fn trimmed(secret: &str) -> Secret {
        Secret(secret.trim().to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the secret in `text` with `<redacted>`, so that text
    /// that may have echoed it (a server's error body, a URL) is safe to log.
    pub fn redact_in(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.0, "<redacted>")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A Discord bot token.
///
/// `Debug` and `Display` print `<redacted>`; the only way to the secret is [`Token::expose`].
/// A leading `Bot ` prefix (as copied from HTTP examples) is stripped.
///
/// It deliberately has no `Serialize`: `serde_json::to_string(&token)` would print the
/// secret. A [`Session`](crate::Session) never carries it; store the token as your platform
/// stores secrets.
#[derive(Clone, PartialEq, Eq, Deserialize, Debug)]
#[serde(transparent)]
pub struct Token(Secret);

impl Token {
    /// Wraps a token; a leading `Bot ` is removed and surrounding whitespace trimmed.
    pub fn new(token: impl Into<String>) -> Token {
        let token = token.into();
        let trimmed = token.trim();
        Token(Secret::trimmed(
            trimmed.strip_prefix("Bot ").unwrap_or(trimmed),
        ))
    }

    /// The secret itself, for the two places that must send it (Identify/Resume and the
    /// `Authorization` header).
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Replaces every occurrence of this token in `text` with `<redacted>`, so that text
    /// that may have echoed it (a server's error body, a URL) is safe to log.
    pub(crate) fn redact_in(&self, text: &str) -> String {
        self.0.redact_in(text)
    }
}

/// Writes the secret into the two payloads that must carry it (Identify and Resume).
pub(crate) fn serialize_secret<S: serde::Serializer>(
    token: &Token,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(token.expose())
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<&str> for Token {
    fn from(token: &str) -> Token {
        Token::new(token)
    }
}

impl From<String> for Token {
    fn from(token: String) -> Token {
        Token::new(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_secret() {
        let token = Token::new("Bot abc.def.ghi");
        assert_eq!(token.expose(), "abc.def.ghi");
        assert!(!format!("{token:?} {token}").contains("abc"));
        assert_eq!(format!("{token:?} {token}"), "Token(<redacted>) <redacted>");
        assert_eq!(token.redact_in("bad abc.def.ghi!"), "bad <redacted>!");
    }
}
