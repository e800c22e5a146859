//! Guild members (Discord docs: Resources → Guild → Guild Member Object).

use super::{de, event_name, PresenceUpdate, Snowflake, User};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::ops::Deref;

/// A user's membership of a guild (Resources → Guild → Guild Member Object).
///
/// Everything is optional: the member inside MESSAGE_CREATE has no `user` (it is the
/// message's author), and other events send partial members.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Member<'a> {
    /// The user; absent where the event gives the user beside the member (a message's
    /// `member`, whose user is the `author`).
    #[serde(borrow, default)]
    pub user: Option<User<'a>>,
    /// The guild nickname.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub nick: Option<Cow<'a, str>>,
    /// The guild avatar hash.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub avatar: Option<Cow<'a, str>>,
    /// The member's roles.
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub roles: Vec<Snowflake>,
    /// When the user joined (ISO 8601; `None` for guest members of a voice channel).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub joined_at: Option<Cow<'a, str>>,
    /// Since when the user boosts the guild (ISO 8601).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub premium_since: Option<Cow<'a, str>>,
    /// Whether the member is deafened in voice channels.
    #[serde(default)]
    pub deaf: bool,
    /// Whether the member is muted in voice channels.
    #[serde(default)]
    pub mute: bool,
    /// Member flags (Resources → Guild → Guild Member Flags).
    #[serde(default)]
    pub flags: u64,
    /// Whether the member has not yet passed the guild's Membership Screening.
    #[serde(default)]
    pub pending: bool,
    /// The member's permissions in the channel, in an interaction's member only.
    #[serde(default, deserialize_with = "de::bits_opt")]
    pub permissions: Option<u64>,
    /// Until when the member is timed out (ISO 8601); past or `None` when not.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub communication_disabled_until: Option<Cow<'a, str>>,
}

/// GUILD_MEMBER_ADD: a user joined a guild (Topics → Gateway Events → Guild Member Add;
/// needs `GUILD_MEMBERS`). Derefs to the [`Member`].
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct GuildMemberAdd<'a> {
    /// The guild.
    pub guild_id: Snowflake,
    /// The new member.
    #[serde(flatten, borrow)]
    pub member: Member<'a>,
}
event_name!(GuildMemberAdd = "GUILD_MEMBER_ADD");

impl<'a> Deref for GuildMemberAdd<'a> {
    type Target = Member<'a>;

    fn deref(&self) -> &Member<'a> {
        &self.member
    }
}

/// GUILD_MEMBER_UPDATE: a member changed (Topics → Gateway Events → Guild Member Update;
/// sent for the bot's own member even without `GUILD_MEMBERS`). Derefs to the [`Member`].
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct GuildMemberUpdate<'a> {
    /// The guild.
    pub guild_id: Snowflake,
    /// The member as it is now.
    #[serde(flatten, borrow)]
    pub member: Member<'a>,
}
event_name!(GuildMemberUpdate = "GUILD_MEMBER_UPDATE");

impl<'a> Deref for GuildMemberUpdate<'a> {
    type Target = Member<'a>;

    fn deref(&self) -> &Member<'a> {
        &self.member
    }
}

/// GUILD_MEMBER_REMOVE: a user left or was removed from a guild (Topics → Gateway Events
/// → Guild Member Remove).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct GuildMemberRemove<'a> {
    /// The guild.
    pub guild_id: Snowflake,
    /// The user who left.
    #[serde(borrow)]
    pub user: User<'a>,
}
event_name!(GuildMemberRemove = "GUILD_MEMBER_REMOVE");

/// GUILD_MEMBERS_CHUNK: one answer to Request Guild Members, at most 1000 members (Topics
/// → Gateway Events → Guild Members Chunk). The request is complete when `chunk_index ==
/// chunk_count - 1` has arrived; [`ShardHandle::request_guild_members`] gathers them.
///
/// [`ShardHandle::request_guild_members`]: crate::ShardHandle::request_guild_members
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct GuildMembersChunk<'a> {
    /// The guild.
    pub guild_id: Snowflake,
    /// The members of this chunk.
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub members: Vec<Member<'a>>,
    /// This chunk's index, from 0.
    pub chunk_index: u32,
    /// How many chunks answer the request.
    pub chunk_count: u32,
    /// Requested ids that are not members, as sent (an invalid id comes back as given,
    /// possibly a number).
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub not_found: Vec<Value>,
    /// The members' presences, when the request asked for them.
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub presences: Vec<PresenceUpdate<'a>>,
    /// The request's nonce.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub nonce: Option<Cow<'a, str>>,
}
event_name!(GuildMembersChunk = "GUILD_MEMBERS_CHUNK");

impl GuildMembersChunk<'_> {
    /// Whether this is the request's last chunk.
    pub fn is_last(&self) -> bool {
        self.chunk_index.saturating_add(1) >= self.chunk_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventModel;

    /// Shaped like Resources → Guild → Example Guild Member plus Guild Member Add's
    /// `guild_id`, with a nickname that needs escapes.
    const DOCS_MEMBER_ADD: &str = r#"{
        "guild_id": "197038439483310086",
        "user": {"id": "80351110224678912", "username": "Nelly", "discriminator": "1337",
                 "global_name": null, "avatar": "8342729096ea3675442027381ff50dfe"},
        "nick": "NOT API SUPPORT \"for real\"\n\ud83d\ude00",
        "avatar": null, "banner": null,
        "roles": ["197038439483310086", "41771983423143936"],
        "joined_at": "2015-04-26T06:26:56.936000+00:00", "premium_since": null,
        "deaf": false, "mute": false, "flags": 0, "pending": false,
        "communication_disabled_until": null, "avatar_decoration_data": null
    }"#;

    #[test]
    fn a_docs_shaped_member_add_parses() {
        let added: GuildMemberAdd = serde_json::from_str(DOCS_MEMBER_ADD).unwrap();
        assert_eq!(GuildMemberAdd::NAME, "GUILD_MEMBER_ADD");
        assert_eq!(added.guild_id, Snowflake(197038439483310086));
        let user = added.user.as_ref().unwrap();
        assert_eq!(user.id, Snowflake(80351110224678912));
        assert!(matches!(user.username, Cow::Borrowed("Nelly")));
        assert_eq!(
            added.nick.as_deref(),
            Some("NOT API SUPPORT \"for real\"\n😀")
        );
        assert_eq!(
            added.roles,
            [Snowflake(197038439483310086), Snowflake(41771983423143936)]
        );
        assert!(matches!(
            added.joined_at,
            Some(Cow::Borrowed("2015-04-26T06:26:56.936000+00:00"))
        ));
        assert!(added.premium_since.is_none() && added.communication_disabled_until.is_none());
        assert!(!added.deaf && !added.mute && !added.pending);
        assert!(added.permissions.is_none());
    }

    #[test]
    fn member_update_parses_the_same_shape() {
        let updated: GuildMemberUpdate = serde_json::from_str(DOCS_MEMBER_ADD).unwrap();
        assert_eq!(GuildMemberUpdate::NAME, "GUILD_MEMBER_UPDATE");
        assert_eq!(updated.guild_id, Snowflake(197038439483310086));
        assert_eq!(updated.roles.len(), 2);
        assert!(updated.member.user.is_some());
    }

    #[test]
    fn member_remove_carries_guild_and_user() {
        let json = r#"{"guild_id":"197038439483310086","user":{"id":"80351110224678912","username":"Nelly"}}"#;
        let removed: GuildMemberRemove = serde_json::from_str(json).unwrap();
        assert_eq!(GuildMemberRemove::NAME, "GUILD_MEMBER_REMOVE");
        assert_eq!(removed.user.id, Snowflake(80351110224678912));
    }

    #[test]
    fn a_docs_shaped_members_chunk_parses_with_not_found_as_sent() {
        let json = r#"{
            "guild_id": "197038439483310086",
            "members": [{"user": {"id": "1", "username": "a \ud83d\ude00"}, "roles": [],
                         "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false}],
            "chunk_index": 1,
            "chunk_count": 2,
            "not_found": ["5", 12],
            "presences": [{"user": {"id": "1"}, "status": "idle", "activities": [], "client_status": {}}],
            "nonce": "n1"
        }"#;
        let chunk: GuildMembersChunk = serde_json::from_str(json).unwrap();
        assert_eq!(GuildMembersChunk::NAME, "GUILD_MEMBERS_CHUNK");
        assert_eq!(chunk.members[0].user.as_ref().unwrap().username, "a 😀");
        assert_eq!((chunk.chunk_index, chunk.chunk_count), (1, 2));
        assert!(chunk.is_last());
        assert_eq!(chunk.not_found, [Value::from("5"), Value::from(12)]);
        assert_eq!(chunk.presences[0].status, "idle");
        assert!(matches!(chunk.nonce, Some(Cow::Borrowed("n1"))));
    }

    #[test]
    fn a_member_without_user_parses() {
        // The partial member of MESSAGE_CREATE (Resources → Message → Message Object).
        let member: Member =
            serde_json::from_str(r#"{"roles":[],"joined_at":null,"permissions":"8"}"#).unwrap();
        assert!(member.user.is_none() && member.joined_at.is_none());
        assert_eq!(member.permissions, Some(8));
    }
}
