//! Presences and typing (Discord docs: Topics → Gateway Events → Presence Update, Typing
//! Start).

use super::{de, event_name, Member, Snowflake, User};
use crate::protocol::ActivityType;
use serde::Deserialize;
use std::borrow::Cow;

/// PRESENCE_UPDATE: a member's status or activities changed (Topics → Gateway Events →
/// Presence Update; needs `GUILD_PRESENCES`). Also the shape of GUILD_CREATE's and
/// GUILD_MEMBERS_CHUNK's `presences`.
///
/// Discord does not validate these fields, so they are read leniently: only `user.id` is
/// required.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct PresenceUpdate<'a> {
    /// The user; only `id` is certain.
    #[serde(borrow)]
    pub user: User<'a>,
    /// The guild (absent inside GUILD_CREATE).
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// `idle`, `dnd`, `online` or `offline`.
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub status: Cow<'a, str>,
    /// Current activities, the first one shown. Discord does not validate them, so an
    /// activity that does not fit [`Activity`] is left out rather than failing the event.
    #[serde(borrow, default, deserialize_with = "de::skip_invalid")]
    pub activities: Vec<Activity<'a>>,
    /// The status on each kind of client.
    #[serde(borrow, default)]
    pub client_status: ClientStatus<'a>,
}
event_name!(PresenceUpdate = "PRESENCE_UPDATE");

/// An activity (Topics → Gateway Events → Activity Object): what a user is playing,
/// listening to, or their custom status.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Activity<'a> {
    /// The activity's name (`"Custom Status"` for a custom status).
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub name: Cow<'a, str>,
    /// Playing, Streaming, Listening, Watching, Custom or Competing.
    #[serde(rename = "type", default = "playing")]
    pub kind: ActivityType,
    /// The stream URL (Streaming).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub url: Option<Cow<'a, str>>,
    /// When it was added to the session (Unix ms).
    #[serde(default)]
    pub created_at: Option<u64>,
    /// The application, for a game's rich presence.
    #[serde(default)]
    pub application_id: Option<Snowflake>,
    /// What the user is doing, e.g. a song title.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub details: Option<Cow<'a, str>>,
    /// The party status, or the text of a custom status.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub state: Option<Cow<'a, str>>,
}

fn playing() -> ActivityType {
    ActivityType::PLAYING
}

/// The status on each kind of client; a client that is offline or invisible is absent.
#[derive(Clone, Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct ClientStatus<'a> {
    /// On the desktop application.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub desktop: Option<Cow<'a, str>>,
    /// On a mobile device.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub mobile: Option<Cow<'a, str>>,
    /// In a browser.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub web: Option<Cow<'a, str>>,
}

/// TYPING_START: a user started typing (Topics → Gateway Events → Typing Start).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TypingStart<'a> {
    /// The channel.
    pub channel_id: Snowflake,
    /// The guild, for guild channels.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// Who is typing.
    pub user_id: Snowflake,
    /// When they started, in **seconds** since the Unix epoch.
    #[serde(default)]
    pub timestamp: u64,
    /// Their member, in guilds.
    #[serde(borrow, default)]
    pub member: Option<Member<'a>>,
}
event_name!(TypingStart = "TYPING_START");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventModel;

    /// Shaped like Topics → Gateway Events → Presence Update and Activity Object's example,
    /// with a custom status that needs escapes.
    const DOCS_PRESENCE: &str = r#"{
        "user": {"id": "80351110224678912"},
        "guild_id": "197038439483310086",
        "status": "dnd",
        "activities": [
            {"name": "Rocket League", "type": 0, "application_id": "379286085710381999",
             "state": "In a Match", "details": "Ranked Duos: 2-1", "created_at": 15112000660000,
             "timestamps": {"start": 15112000660000}, "party": {"id": "9dd6594e-81b3-49f6-a6b5-a679e6a060d3", "size": [2, 2]},
             "assets": {"large_image": "351371005538729000"}},
            {"name": "Custom Status", "type": 4, "state": "brb \"soon\"\n\ud83d\ude00", "emoji": {"name": "😀"}}
        ],
        "client_status": {"desktop": "dnd", "mobile": "online"}
    }"#;

    #[test]
    fn a_docs_shaped_presence_update_parses() {
        let presence: PresenceUpdate = serde_json::from_str(DOCS_PRESENCE).unwrap();
        assert_eq!(PresenceUpdate::NAME, "PRESENCE_UPDATE");
        assert_eq!(presence.user.id, Snowflake(80351110224678912));
        assert_eq!(presence.guild_id, Some(Snowflake(197038439483310086)));
        assert!(matches!(presence.status, Cow::Borrowed("dnd")));
        let game = &presence.activities[0];
        assert_eq!(
            (&*game.name, game.kind),
            ("Rocket League", ActivityType::PLAYING)
        );
        assert_eq!(game.application_id, Some(Snowflake(379286085710381999)));
        assert_eq!(game.details.as_deref(), Some("Ranked Duos: 2-1"));
        assert_eq!(game.created_at, Some(15112000660000));
        let custom = &presence.activities[1];
        assert_eq!(custom.kind, ActivityType::CUSTOM);
        assert_eq!(custom.state.as_deref(), Some("brb \"soon\"\n😀"));
        assert_eq!(presence.client_status.desktop.as_deref(), Some("dnd"));
        assert_eq!(presence.client_status.mobile.as_deref(), Some("online"));
        assert!(presence.client_status.web.is_none());
    }

    #[test]
    fn an_activity_that_does_not_fit_is_left_out_not_fatal() {
        // A user client's odd activity: `created_at` as a string, `type` out of range.
        let json = r#"{"user":{"id":"1"},"status":"online","activities":[
            {"name":"odd","type":0,"created_at":"yesterday"},
            {"name":"odder","type":1000},
            {"name":"Listening \"fine\"","type":2}]}"#;
        let presence: PresenceUpdate = serde_json::from_str(json).unwrap();
        assert_eq!(presence.activities.len(), 1);
        assert_eq!(presence.activities[0].name, "Listening \"fine\"");
        assert_eq!(presence.activities[0].kind, ActivityType::LISTENING);
    }

    #[test]
    fn a_presence_with_only_a_user_id_parses() {
        let presence: PresenceUpdate = serde_json::from_str(r#"{"user":{"id":"1"}}"#).unwrap();
        assert!(presence.status.is_empty() && presence.activities.is_empty());
        assert!(presence.client_status.desktop.is_none());
    }

    #[test]
    fn a_docs_shaped_typing_start_parses() {
        let json = r#"{"channel_id":"290926798999357250","guild_id":"290926798626357248",
            "user_id":"80351110224678912","timestamp":1499793953,
            "member":{"user":{"id":"80351110224678912","username":"Nelly"},"roles":[],"deaf":false,"mute":false}}"#;
        let typing: TypingStart = serde_json::from_str(json).unwrap();
        assert_eq!(TypingStart::NAME, "TYPING_START");
        assert_eq!(typing.channel_id, Snowflake(290926798999357250));
        assert_eq!(typing.user_id, Snowflake(80351110224678912));
        assert_eq!(typing.timestamp, 1499793953);
        assert!(typing.member.is_some());
    }
}
