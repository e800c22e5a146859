//! Voice (Discord docs: Resources → Voice, Topics → Gateway Events → Voice).

use super::{de, event_name, newtype_event, Member, Snowflake};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// A user's voice connection state (Resources → Voice → Voice State Object).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct VoiceState<'a> {
    /// The guild (absent inside GUILD_CREATE).
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// The voice channel; `None` when the user left voice.
    #[serde(default)]
    pub channel_id: Option<Snowflake>,
    /// The user.
    pub user_id: Snowflake,
    /// Their member, in guilds.
    #[serde(borrow, default)]
    pub member: Option<Member<'a>>,
    /// The voice session's id (needed to connect to voice).
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub session_id: Cow<'a, str>,
    /// Deafened by the server.
    #[serde(default)]
    pub deaf: bool,
    /// Muted by the server.
    #[serde(default)]
    pub mute: bool,
    /// Deafened by themselves.
    #[serde(default)]
    pub self_deaf: bool,
    /// Muted by themselves.
    #[serde(default)]
    pub self_mute: bool,
    /// Streaming with Go Live.
    #[serde(default)]
    pub self_stream: bool,
    /// Camera on.
    #[serde(default)]
    pub self_video: bool,
    /// Muted by the bot's missing permission, or not a stage speaker.
    #[serde(default)]
    pub suppress: bool,
    /// When the user asked to speak on a stage (ISO 8601).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub request_to_speak_timestamp: Option<Cow<'a, str>>,
}

newtype_event! {
    /// VOICE_STATE_UPDATE: someone joined, left or moved between voice channels, or muted…
    /// (Topics → Gateway Events → Voice State Update; needs `GUILD_VOICE_STATES`).
    VoiceStateUpdate(VoiceState) = "VOICE_STATE_UPDATE"
}

/// VOICE_SERVER_UPDATE: where to connect for voice, after the bot joined a channel with
/// Update Voice State (Topics → Gateway Events → Voice Server Update).
///
/// `token` is the voice connection's secret: `Debug` prints `<redacted>` for it.
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct VoiceServerUpdate<'a> {
    /// The voice connection's token (a secret).
    #[serde(borrow)]
    pub token: Cow<'a, str>,
    /// The guild.
    pub guild_id: Snowflake,
    /// The voice server's host; `None` means the server went away: wait for another
    /// VOICE_SERVER_UPDATE.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub endpoint: Option<Cow<'a, str>>,
}
event_name!(VoiceServerUpdate = "VOICE_SERVER_UPDATE");

impl fmt::Debug for VoiceServerUpdate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VoiceServerUpdate")
            .field("token", &"<redacted>")
            .field("guild_id", &self.guild_id)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventModel;

    /// Shaped like Resources → Voice → Example Voice State plus the gateway's `guild_id`
    /// and `member`, with a nickname that needs escapes.
    const DOCS_VOICE_STATE: &str = r#"{
        "guild_id": "41771983423143937",
        "channel_id": "157733188964188161",
        "user_id": "80351110224678912",
        "member": {"user": {"id": "80351110224678912", "username": "Nelly"}, "nick": "\"N\"\n\ud83d\ude00",
                   "roles": [], "joined_at": "2015-04-26T06:26:56.936000+00:00", "deaf": false, "mute": false},
        "session_id": "90326bd25d71d39b9ef95b299e3872ff",
        "deaf": false,
        "mute": false,
        "self_deaf": false,
        "self_mute": true,
        "self_video": false,
        "suppress": false,
        "request_to_speak_timestamp": "2021-03-31T18:45:31.297561+00:00"
    }"#;

    #[test]
    fn a_docs_shaped_voice_state_update_parses() {
        let state: VoiceStateUpdate = serde_json::from_str(DOCS_VOICE_STATE).unwrap();
        assert_eq!(VoiceStateUpdate::NAME, "VOICE_STATE_UPDATE");
        assert_eq!(state.guild_id, Some(Snowflake(41771983423143937)));
        assert_eq!(state.channel_id, Some(Snowflake(157733188964188161)));
        assert_eq!(state.user_id, Snowflake(80351110224678912));
        assert!(matches!(
            state.session_id,
            Cow::Borrowed("90326bd25d71d39b9ef95b299e3872ff")
        ));
        assert!(state.self_mute && !state.self_deaf && !state.deaf && !state.self_stream);
        assert_eq!(
            state.member.as_ref().and_then(|m| m.nick.as_deref()),
            Some("\"N\"\n😀")
        );
        assert_eq!(
            state.request_to_speak_timestamp.as_deref(),
            Some("2021-03-31T18:45:31.297561+00:00")
        );
    }

    #[test]
    fn leaving_voice_is_a_null_channel() {
        let json = r#"{"guild_id":"1","channel_id":null,"user_id":"2","session_id":"s"}"#;
        let state: VoiceStateUpdate = serde_json::from_str(json).unwrap();
        assert!(state.channel_id.is_none());
    }

    /// Topics → Gateway Events → Voice Server Update's example.
    const DOCS_VOICE_SERVER: &str = r#"{
        "token": "my_token",
        "guild_id": "41771983423143937",
        "endpoint": "sweetwater-12345.discord.media:2048"
    }"#;

    #[test]
    fn a_docs_shaped_voice_server_update_parses_and_debug_hides_the_token() {
        let server: VoiceServerUpdate = serde_json::from_str(DOCS_VOICE_SERVER).unwrap();
        assert_eq!(VoiceServerUpdate::NAME, "VOICE_SERVER_UPDATE");
        assert_eq!(server.token, "my_token");
        assert_eq!(server.guild_id, Snowflake(41771983423143937));
        assert_eq!(
            server.endpoint.as_deref(),
            Some("sweetwater-12345.discord.media:2048")
        );
        let debug = format!("{server:?} {server:#?}");
        assert!(!debug.contains("my_token"), "{debug}");
        assert!(debug.contains("<redacted>") && debug.contains("sweetwater-12345"));
    }

    #[test]
    fn a_null_endpoint_means_the_server_went_away() {
        let json = r#"{"token":"t","guild_id":"1","endpoint":null}"#;
        let server: VoiceServerUpdate = serde_json::from_str(json).unwrap();
        assert!(server.endpoint.is_none());
    }
}
