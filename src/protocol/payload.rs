//! The payload envelope and the session payloads: Hello, Identify, Resume, Heartbeat, Ready
//! (Discord: Opcodes and Status Codes → Gateway Opcodes, §4, §9).

use super::commands::UpdatePresence;
use super::{Intents, OpCode};
use crate::Token;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A received payload with `d` left as raw JSON until someone needs it.
///
/// Parsing the envelope validates the whole frame as JSON but allocates nothing for `d`.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// The opcode; numbers outside `u8` fail to parse.
    pub op: u8,
    /// The event data, or `None` when `d` is absent or `null`.
    #[serde(borrow, default)]
    pub d: Option<&'a RawValue>,
    /// Sequence number (dispatches only).
    #[serde(default)]
    pub s: Option<u64>,
    /// Event name (dispatches only).
    #[serde(borrow, default)]
    pub t: Option<Cow<'a, str>>,
}

impl<'a> Envelope<'a> {
    /// Parses one gateway payload; it must be a JSON object (serde would also accept an
    /// array as a struct, `[1,2,3]` reading as op 1).
    pub fn parse(json: &'a str) -> serde_json::Result<Envelope<'a>> {
        if !json.trim_start().starts_with('{') {
            return Err(serde::de::Error::custom(
                "a gateway payload must be a JSON object",
            ));
        }
        serde_json::from_str(json)
    }

    /// The raw `d` text, `null` when absent.
    pub fn data_json(&self) -> &'a str {
        self.d.map_or("null", RawValue::get)
    }
}

/// An outgoing payload: `{"op":…,"d":…}` (clients send only these two keys).
#[derive(Debug, Serialize, Deserialize)]
pub struct Outgoing<D> {
    /// The opcode.
    pub op: u8,
    /// The data.
    pub d: D,
}

impl<D: Serialize> Outgoing<D> {
    /// Wraps `d` with its opcode.
    pub fn new(op: OpCode, d: D) -> Outgoing<D> {
        Outgoing { op: op.0, d }
    }

    /// Serializes to the JSON text that goes on the wire.
    pub fn to_json(&self) -> String {
        // Serializing our own plain structs into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// op 10 Hello `d`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Milliseconds between heartbeats.
    pub heartbeat_interval: u64,
}

/// The `properties` object of Identify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifyProperties {
    /// Operating system.
    pub os: String,
    /// Library name.
    pub browser: String,
    /// Library name.
    pub device: String,
}

impl Default for IdentifyProperties {
    fn default() -> IdentifyProperties {
        IdentifyProperties {
            os: std::env::consts::OS.to_owned(),
            browser: "syncord".to_owned(),
            device: "syncord".to_owned(),
        }
    }
}

/// op 2 Identify `d` (Discord: Gateway Events → Identify). `Debug` hides the token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identify {
    /// The bot token.
    #[serde(serialize_with = "crate::token::serialize_secret")]
    pub token: Token,
    /// Connection properties.
    pub properties: IdentifyProperties,
    /// Payload compression (`compress: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
    /// Member count above which offline members are left out of GUILD_CREATE (50–250).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_threshold: Option<u64>,
    /// `[shard_id, num_shards]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<[u64; 2]>,
    /// Initial presence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<UpdatePresence>,
    /// The intents bitfield.
    pub intents: u64,
}

impl Identify {
    /// An Identify with default properties and only the required fields.
    pub fn new(token: Token, intents: Intents) -> Identify {
        Identify {
            token,
            properties: IdentifyProperties::default(),
            compress: None,
            large_threshold: None,
            shard: None,
            presence: None,
            intents: intents.bits(),
        }
    }
}

/// op 6 Resume `d` (Discord: Gateway Events → Resume). `Debug` hides the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The bot token.
    #[serde(serialize_with = "crate::token::serialize_secret")]
    pub token: Token,
    /// From READY.
    pub session_id: String,
    /// The last sequence number received.
    pub seq: u64,
}

/// op 1 Heartbeat: the last sequence number received, `None` before any dispatch.
pub fn heartbeat_json(seq: Option<u64>) -> String {
    match seq {
        Some(seq) => format!(r#"{{"op":1,"d":{seq}}}"#),
        None => r#"{"op":1,"d":null}"#.to_owned(),
    }
}

/// The bot user from READY; only `id` is required, the rest is kept if present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct CurrentUser {
    /// Snowflake, as Discord sends it (a string).
    pub id: String,
    /// Username.
    #[serde(default)]
    pub username: String,
    /// Display name, if set.
    #[serde(default)]
    pub global_name: Option<String>,
    /// Whether the user is a bot.
    #[serde(default)]
    pub bot: bool,
}

/// The READY dispatch `d`, parsed leniently: only `session_id` is required; unknown keys,
/// a missing `shard`, `user` or `resume_gateway_url` are normal.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Ready {
    /// Gateway version in use.
    #[serde(default)]
    pub v: Option<u64>,
    /// The bot user.
    #[serde(default)]
    pub user: Option<CurrentUser>,
    /// Needed for Resume.
    pub session_id: String,
    /// Where to resume (the query string is added by the client).
    #[serde(default)]
    pub resume_gateway_url: Option<String>,
    /// Echo of the Identify `shard`.
    #[serde(default)]
    pub shard: Option<[u64; 2]>,
    /// Number of (unavailable) guilds on this shard; GUILD_CREATE follows for each.
    #[serde(default, deserialize_with = "count_array")]
    pub guilds: usize,
}

fn count_array<'de, D: serde::Deserializer<'de>>(de: D) -> Result<usize, D::Error> {
    Ok(Vec::<IgnoredAny>::deserialize(de)?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_parses_from_the_protocol_example() {
        let json = r#"{"op":10,"d":{"heartbeat_interval":41250},"s":null,"t":null}"#;
        let env = Envelope::parse(json).unwrap();
        assert_eq!(OpCode(env.op), OpCode::HELLO);
        assert_eq!(env.s, None);
        let hello: Hello = serde_json::from_str(env.data_json()).unwrap();
        assert_eq!(hello.heartbeat_interval, 41250);
    }

    #[test]
    fn dispatch_keeps_d_raw_and_reads_s_and_t() {
        let json = r#"{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{"content":"hi","n":[1,2]}}"#;
        let env = Envelope::parse(json).unwrap();
        assert_eq!(env.t.as_deref(), Some("MESSAGE_CREATE"));
        assert_eq!(env.s, Some(42));
        assert_eq!(env.data_json(), r#"{"content":"hi","n":[1,2]}"#);
    }

    #[test]
    fn ack_without_d_s_t_parses() {
        let env = Envelope::parse(r#"{"op":11}"#).unwrap();
        assert_eq!(OpCode(env.op), OpCode::HEARTBEAT_ACK);
        assert_eq!(env.data_json(), "null");
    }

    #[test]
    fn envelope_rejects_missing_op_and_out_of_range_op() {
        assert!(Envelope::parse(r#"{"d":null}"#).is_err());
        assert!(
            Envelope::parse("[1,2,3]").is_err(),
            "arrays are not payloads"
        );
        assert!(Envelope::parse(r#"{"op":300}"#).is_err());
        assert!(Envelope::parse(r#"{"op":0,"s":-1}"#).is_err());
    }

    #[test]
    fn identify_serializes_like_the_protocol_example() {
        let mut identify = Identify::new(
            Token::new("TOKEN"),
            Intents::GUILDS | Intents::GUILD_MESSAGES,
        );
        identify.properties = IdentifyProperties {
            os: "linux".into(),
            browser: "syncord".into(),
            device: "syncord".into(),
        };
        identify.shard = Some([0, 1]);
        identify.large_threshold = Some(250);
        let json = Outgoing::new(OpCode::IDENTIFY, identify).to_json();
        let expected = r#"{"op":2,"d":{"token":"TOKEN","properties":{"os":"linux","browser":"syncord","device":"syncord"},"large_threshold":250,"shard":[0,1],"intents":513}}"#;
        let got: serde_json::Value = serde_json::from_str(&json).unwrap();
        let want: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn identify_debug_hides_the_token() {
        let identify = Identify::new(Token::new("secret-token"), Intents::GUILDS);
        assert!(!format!("{identify:?}").contains("secret-token"));
    }

    #[test]
    fn resume_and_heartbeat_serialize() {
        let resume = Resume {
            token: Token::new("T"),
            session_id: "abc".into(),
            seq: 251,
        };
        assert_eq!(
            Outgoing::new(OpCode::RESUME, resume).to_json(),
            r#"{"op":6,"d":{"token":"T","session_id":"abc","seq":251}}"#
        );
        assert_eq!(heartbeat_json(Some(251)), r#"{"op":1,"d":251}"#);
        assert_eq!(heartbeat_json(None), r#"{"op":1,"d":null}"#);
    }

    #[test]
    fn ready_parses_leniently() {
        let full = r#"{"v":10,"user":{"id":"1","username":"bot","discriminator":"0","bot":true,"avatar":null},
            "guilds":[{"id":"2","unavailable":true}],"session_id":"s1",
            "resume_gateway_url":"wss://r.example","shard":[0,1],"application":{"id":"3","flags":0},"_trace":["x"]}"#;
        let ready: Ready = serde_json::from_str(full).unwrap();
        assert_eq!(ready.session_id, "s1");
        assert_eq!(ready.guilds, 1);
        assert_eq!(ready.user.unwrap().username, "bot");
        assert_eq!(ready.shard, Some([0, 1]));

        let minimal: Ready = serde_json::from_str(r#"{"session_id":"s2"}"#).unwrap();
        assert_eq!(minimal.resume_gateway_url, None);
        assert!(serde_json::from_str::<Ready>(r#"{"user":{"id":"1"}}"#).is_err());
    }
}
