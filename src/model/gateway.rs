//! The session dispatches: READY and RESUMED (Discord docs: Topics → Gateway Events).

use super::{de, event_name, Snowflake, User};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// READY: a new session started (Topics → Gateway Events → Ready).
///
/// Lenient where servers differ: `shard` and `application` may be absent, extra fields
/// (user-client data, `_trace`) are ignored. The shard reads its own copy of READY for the
/// session; this model is for the bot.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Ready<'a> {
    /// The API version in use (10).
    #[serde(default)]
    pub v: Option<u8>,
    /// The bot's user.
    #[serde(borrow)]
    pub user: User<'a>,
    /// The guilds on this shard, each unavailable until its GUILD_CREATE arrives.
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub guilds: Vec<UnavailableGuild>,
    /// The session's id, needed to resume it.
    #[serde(borrow)]
    pub session_id: Cow<'a, str>,
    /// Where to resume this session (the query string is added by the client).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub resume_gateway_url: Option<Cow<'a, str>>,
    /// `[shard_id, num_shards]`, echoing Identify, when the server sends it.
    #[serde(default)]
    pub shard: Option<[u32; 2]>,
    /// The bot's application (`id` and `flags`).
    #[serde(default)]
    pub application: Option<PartialApplication>,
}
event_name!(Ready = "READY");

/// A guild the bot is in that is not available yet (READY) or no longer (GUILD_DELETE):
/// Resources → Guild → Unavailable Guild Object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct UnavailableGuild {
    /// The guild's id.
    pub id: Snowflake,
    /// `Some(true)` during an outage; absent in GUILD_DELETE when the bot left or was
    /// removed from the guild.
    #[serde(default)]
    pub unavailable: Option<bool>,
}

/// The application part of READY (Resources → Application, `id` and `flags` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PartialApplication {
    /// The application's id (also the bot user's id for bots made since 2016).
    pub id: Snowflake,
    /// Application flags (Resources → Application → Application Flags).
    #[serde(default)]
    pub flags: Option<u64>,
}

/// RESUMED: the replay after a Resume is over (Topics → Gateway Events → Resumed). It
/// carries no data; any `d` (`null`, `{"_trace":…}`) is accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resumed;

impl<'de> Deserialize<'de> for Resumed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Resumed, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Resumed)
    }
}

impl super::EventModel<'_> for Resumed {
    const NAME: &'static str = "RESUMED";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventModel;

    /// Shaped like Topics → Gateway Events → Ready's field table, with the extra fields
    /// Discord sends beside it.
    const DOCS_READY: &str = r#"{
        "v": 10,
        "user_settings": {},
        "user": {"id": "1100000000000000000", "username": "Bot \"q\" \ud83d\ude00", "discriminator": "0",
                 "global_name": null, "avatar": null, "bot": true, "verified": true, "flags": 0, "mfa_enabled": true},
        "session_type": "normal",
        "session_id": "e2bd0b1ed4b57f6e0c4cd6c4d7c6ea07",
        "resume_gateway_url": "wss://gateway-us-east1-b.discord.gg",
        "relationships": [],
        "private_channels": [],
        "presences": [],
        "guilds": [{"id": "41771983423143937", "unavailable": true}, {"id": "81384788765712384", "unavailable": true}],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["newark", "us-east"],
        "auth": {},
        "application": {"id": "1100000000000000000", "flags": 8953856},
        "shard": [0, 1],
        "_trace": ["[\"gateway-prd-us-east1-b-1\",{\"micros\":90000}]"]
    }"#;

    #[test]
    fn a_docs_shaped_ready_parses() {
        let ready: Ready = serde_json::from_str(DOCS_READY).unwrap();
        assert_eq!(Ready::NAME, "READY");
        assert_eq!(ready.v, Some(10));
        assert_eq!(ready.user.id, Snowflake(1100000000000000000));
        assert_eq!(ready.user.username, "Bot \"q\" 😀");
        assert!(ready.user.bot);
        assert!(matches!(
            ready.session_id,
            Cow::Borrowed("e2bd0b1ed4b57f6e0c4cd6c4d7c6ea07")
        ));
        assert_eq!(
            ready.resume_gateway_url.as_deref(),
            Some("wss://gateway-us-east1-b.discord.gg")
        );
        assert_eq!(ready.guilds.len(), 2);
        assert_eq!(ready.guilds[1].id, Snowflake(81384788765712384));
        assert_eq!(ready.guilds[1].unavailable, Some(true));
        assert_eq!(ready.shard, Some([0, 1]));
        let application = ready.application.unwrap();
        assert_eq!(application.id, Snowflake(1100000000000000000));
        assert_eq!(application.flags, Some(8953856));
    }

    #[test]
    fn a_minimal_ready_without_shard_or_application_parses() {
        // What a server that is not Discord may send: no shard, no application, no guilds.
        let ready: Ready =
            serde_json::from_str(r#"{"user":{"id":"5","username":"b"},"session_id":"s"}"#).unwrap();
        assert_eq!(ready.user.id, Snowflake(5));
        assert!(ready.shard.is_none() && ready.application.is_none());
        assert!(ready.guilds.is_empty() && ready.resume_gateway_url.is_none());
    }

    #[test]
    fn a_ready_without_a_session_id_names_the_field() {
        let error =
            serde_json::from_str::<Ready>(r#"{"user":{"id":"5","username":"b"}}"#).unwrap_err();
        assert!(error.to_string().contains("session_id"), "{error}");
    }

    #[test]
    fn resumed_accepts_null_an_object_or_anything() {
        assert_eq!(Resumed::NAME, "RESUMED");
        for json in ["null", r#"{"_trace":["gateway-prd"]}"#, "{}", "1"] {
            assert_eq!(serde_json::from_str::<Resumed>(json).unwrap(), Resumed);
        }
        assert!(serde_json::from_str::<Resumed>("{").is_err());
    }
}
