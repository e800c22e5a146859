//! Commands a client sends after the session is up (Discord: Gateway Events → Request Guild Members).
//!
//! Each type is a plain struct with public fields and a constructor for the common case;
//! send it with [`ShardHandle::send`](crate::ShardHandle::send).

use super::OpCode;
use serde::{Deserialize, Serialize};

/// Something that can be sent to the gateway as one payload.
pub trait Command: Serialize {
    /// The opcode this command is sent with.
    const OP: OpCode;
}

/// The bot's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Online (green).
    #[default]
    Online,
    /// Do not disturb (red).
    Dnd,
    /// Idle (yellow).
    Idle,
    /// Shown as offline while connected.
    Invisible,
    /// Offline.
    Offline,
}

/// An activity type (Discord: Gateway Events → Send Events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActivityType(pub u8);

impl ActivityType {
    /// "Playing {name}".
    pub const PLAYING: ActivityType = ActivityType(0);
    /// "Streaming {name}" (needs a twitch or youtube `url`).
    pub const STREAMING: ActivityType = ActivityType(1);
    /// "Listening to {name}".
    pub const LISTENING: ActivityType = ActivityType(2);
    /// "Watching {name}".
    pub const WATCHING: ActivityType = ActivityType(3);
    /// A custom status (`state` is the text).
    pub const CUSTOM: ActivityType = ActivityType(4);
    /// "Competing in {name}".
    pub const COMPETING: ActivityType = ActivityType(5);
}

/// An activity: bots may set only `name`, `type`, `state` and `url`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The activity's name.
    pub name: String,
    /// What kind of activity.
    #[serde(rename = "type")]
    pub kind: ActivityType,
    /// Stream URL (Streaming only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Custom status text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl Activity {
    /// An activity of `kind` named `name`.
    pub fn new(kind: ActivityType, name: impl Into<String>) -> Activity {
        Activity {
            name: name.into(),
            kind,
            url: None,
            state: None,
        }
    }
}

/// op 3 Update Presence (also the Identify `presence` object).
///
/// ```
/// use syncord::protocol::{Activity, ActivityType, Status, UpdatePresence};
/// let presence = UpdatePresence::new(Status::Online)
///     .activity(Activity::new(ActivityType::PLAYING, "with threads"));
/// assert_eq!(presence.activities.len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatePresence {
    /// Unix milliseconds since the client went idle; `None` if not idle.
    pub since: Option<u64>,
    /// Activities shown.
    pub activities: Vec<Activity>,
    /// Status.
    pub status: Status,
    /// Whether the client is AFK.
    pub afk: bool,
}

impl UpdatePresence {
    /// A presence with `status`, no activities, not AFK.
    pub fn new(status: Status) -> UpdatePresence {
        UpdatePresence {
            status,
            ..UpdatePresence::default()
        }
    }

    /// Adds an activity.
    #[must_use]
    pub fn activity(mut self, activity: Activity) -> UpdatePresence {
        self.activities.push(activity);
        self
    }
}

impl Command for UpdatePresence {
    const OP: OpCode = OpCode::PRESENCE_UPDATE;
}

/// op 4 Update Voice State: join, move or (with `channel_id: None`) leave voice.
///
/// ```
/// use syncord::protocol::UpdateVoiceState;
/// let join = UpdateVoiceState::join("81384788765712384", "81384788765712385");
/// let leave = UpdateVoiceState::leave("81384788765712384");
/// assert!(leave.channel_id.is_none() && join.channel_id.is_some());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateVoiceState {
    /// The guild.
    pub guild_id: String,
    /// The channel to join, `None` to leave.
    pub channel_id: Option<String>,
    /// Whether the bot is muted.
    pub self_mute: bool,
    /// Whether the bot is deafened.
    pub self_deaf: bool,
}

impl UpdateVoiceState {
    /// Joins (or moves to) a voice channel, unmuted and undeafened.
    pub fn join(guild_id: impl Into<String>, channel_id: impl Into<String>) -> UpdateVoiceState {
        UpdateVoiceState {
            guild_id: guild_id.into(),
            channel_id: Some(channel_id.into()),
            self_mute: false,
            self_deaf: false,
        }
    }

    /// Leaves voice in a guild.
    pub fn leave(guild_id: impl Into<String>) -> UpdateVoiceState {
        UpdateVoiceState {
            guild_id: guild_id.into(),
            channel_id: None,
            self_mute: false,
            self_deaf: false,
        }
    }
}

impl Command for UpdateVoiceState {
    const OP: OpCode = OpCode::VOICE_STATE_UPDATE;
}

/// op 8 Request Guild Members (Discord: Gateway Events → Request Guild Members). Answered by `GUILD_MEMBERS_CHUNK`s.
///
/// ```
/// use syncord::protocol::RequestGuildMembers;
/// let everyone = RequestGuildMembers::all("81384788765712384").nonce("n1");
/// let some = RequestGuildMembers::by_ids("81384788765712384", ["1", "2"]);
/// assert_eq!(everyone.limit, Some(0));
/// assert_eq!(some.user_ids.unwrap().len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestGuildMembers {
    /// The guild.
    pub guild_id: String,
    /// Username prefix; `""` with `limit: 0` means every member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Maximum members to return (required with `query`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Include presences (needs `GUILD_PRESENCES`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presences: Option<bool>,
    /// Specific users (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ids: Option<Vec<String>>,
    /// Echoed in every chunk (at most 32 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

impl RequestGuildMembers {
    /// Every member of the guild (`query: ""`, `limit: 0`; needs `GUILD_MEMBERS`).
    pub fn all(guild_id: impl Into<String>) -> RequestGuildMembers {
        RequestGuildMembers::query(guild_id, "", 0)
    }

    /// Members whose username starts with `prefix`, at most `limit`.
    pub fn query(
        guild_id: impl Into<String>,
        prefix: impl Into<String>,
        limit: u64,
    ) -> RequestGuildMembers {
        RequestGuildMembers {
            guild_id: guild_id.into(),
            query: Some(prefix.into()),
            limit: Some(limit),
            presences: None,
            user_ids: None,
            nonce: None,
        }
    }

    /// Specific users by id.
    pub fn by_ids<I, S>(guild_id: impl Into<String>, user_ids: I) -> RequestGuildMembers
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RequestGuildMembers {
            guild_id: guild_id.into(),
            query: None,
            limit: None,
            presences: None,
            user_ids: Some(user_ids.into_iter().map(Into::into).collect()),
            nonce: None,
        }
    }

    /// Sets the nonce echoed in every chunk.
    #[must_use]
    pub fn nonce(mut self, nonce: impl Into<String>) -> RequestGuildMembers {
        self.nonce = Some(nonce.into());
        self
    }

    /// Asks for presences too.
    #[must_use]
    pub fn with_presences(mut self) -> RequestGuildMembers {
        self.presences = Some(true);
        self
    }
}

impl Command for RequestGuildMembers {
    const OP: OpCode = OpCode::REQUEST_GUILD_MEMBERS;
}

/// op 31 Request Soundboard Sounds: one `SOUNDBOARD_SOUNDS` dispatch per guild.
///
/// ```
/// use syncord::protocol::RequestSoundboardSounds;
/// let request = RequestSoundboardSounds::new(["81384788765712384"]);
/// assert_eq!(request.guild_ids.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSoundboardSounds {
    /// The guilds.
    pub guild_ids: Vec<String>,
}

impl RequestSoundboardSounds {
    /// Sounds of these guilds.
    pub fn new<I, S>(guild_ids: I) -> RequestSoundboardSounds
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RequestSoundboardSounds {
            guild_ids: guild_ids.into_iter().map(Into::into).collect(),
        }
    }
}

impl Command for RequestSoundboardSounds {
    const OP: OpCode = OpCode::REQUEST_SOUNDBOARD_SOUNDS;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Outgoing;

    #[test]
    fn presence_serializes_with_type_key() {
        let presence = UpdatePresence::new(Status::Dnd)
            .activity(Activity::new(ActivityType::WATCHING, "logs"));
        assert_eq!(
            Outgoing::new(UpdatePresence::OP, presence).to_json(),
            r#"{"op":3,"d":{"since":null,"activities":[{"name":"logs","type":3}],"status":"dnd","afk":false}}"#
        );
    }

    #[test]
    fn voice_leave_sends_null_channel() {
        let json = Outgoing::new(UpdateVoiceState::OP, UpdateVoiceState::leave("1")).to_json();
        assert_eq!(
            json,
            r#"{"op":4,"d":{"guild_id":"1","channel_id":null,"self_mute":false,"self_deaf":false}}"#
        );
    }

    #[test]
    fn request_members_all_omits_unset_fields() {
        let json = Outgoing::new(
            RequestGuildMembers::OP,
            RequestGuildMembers::all("1").nonce("n"),
        )
        .to_json();
        assert_eq!(
            json,
            r#"{"op":8,"d":{"guild_id":"1","query":"","limit":0,"nonce":"n"}}"#
        );
    }
}
