//! Channels and threads (Discord docs: Resources → Channel).

use super::{de, newtype_event, Snowflake, User};
use serde::Deserialize;
use std::borrow::Cow;

/// A guild channel, DM or thread (Resources → Channel → Channel Object).
///
/// Only `id` and `type` are required: THREAD_DELETE sends just `id`, `guild_id`,
/// `parent_id` and `type` (Topics → Gateway Events → Thread Delete).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Channel<'a> {
    /// The channel's id.
    pub id: Snowflake,
    /// What kind of channel this is.
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// The guild, for guild channels (some gateway events leave it out).
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// Sorting position.
    #[serde(default)]
    pub position: Option<i32>,
    /// Explicit permission overwrites for members and roles.
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub permission_overwrites: Vec<PermissionOverwrite>,
    /// The name (1 to 100 characters); absent for DMs.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub name: Option<Cow<'a, str>>,
    /// The topic (forum and media channels: the guidelines).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub topic: Option<Cow<'a, str>>,
    /// Whether the channel is age-restricted.
    #[serde(default)]
    pub nsfw: bool,
    /// The last message (or thread, for forums) sent; it may not exist any more.
    #[serde(default)]
    pub last_message_id: Option<Snowflake>,
    /// Voice bitrate in bits per second.
    #[serde(default)]
    pub bitrate: Option<u32>,
    /// Voice user limit (0 = none).
    #[serde(default)]
    pub user_limit: Option<u32>,
    /// Slowmode: seconds a user waits between messages (0 = none).
    #[serde(default)]
    pub rate_limit_per_user: Option<u32>,
    /// The recipients of a DM.
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub recipients: Vec<User<'a>>,
    /// The category of a guild channel, or the channel a thread was created in.
    #[serde(default)]
    pub parent_id: Option<Snowflake>,
    /// The creator of a thread or group DM.
    #[serde(default)]
    pub owner_id: Option<Snowflake>,
    /// When the last message was pinned (ISO 8601).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub last_pin_timestamp: Option<Cow<'a, str>>,
    /// Messages in a thread, not counting the first or deleted ones.
    #[serde(default)]
    pub message_count: Option<u32>,
    /// Approximate members of a thread (stops counting at 50).
    #[serde(default)]
    pub member_count: Option<u32>,
    /// Thread-only fields.
    #[serde(borrow, default)]
    pub thread_metadata: Option<ThreadMetadata<'a>>,
    /// The bot's membership of a thread, when it has joined it.
    #[serde(borrow, default)]
    pub member: Option<ThreadMember<'a>>,
    /// Whether THREAD_CREATE is for a new thread (rather than one the bot was added to).
    #[serde(default)]
    pub newly_created: bool,
    /// Channel flags (Resources → Channel → Channel Flags).
    #[serde(default)]
    pub flags: u64,
    /// The forum tags of a thread in a forum or media channel.
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub applied_tags: Vec<Snowflake>,
}

/// A channel type (Resources → Channel → Channel Types). Unknown numbers are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(transparent)]
pub struct ChannelType(pub u8);

impl ChannelType {
    /// A text channel in a guild.
    pub const GUILD_TEXT: ChannelType = ChannelType(0);
    /// A direct message between users.
    pub const DM: ChannelType = ChannelType(1);
    /// A voice channel in a guild.
    pub const GUILD_VOICE: ChannelType = ChannelType(2);
    /// A direct message between several users.
    pub const GROUP_DM: ChannelType = ChannelType(3);
    /// A category of up to 50 channels.
    pub const GUILD_CATEGORY: ChannelType = ChannelType(4);
    /// An announcement channel that users can follow.
    pub const GUILD_ANNOUNCEMENT: ChannelType = ChannelType(5);
    /// A thread in an announcement channel.
    pub const ANNOUNCEMENT_THREAD: ChannelType = ChannelType(10);
    /// A public thread in a text or forum channel.
    pub const PUBLIC_THREAD: ChannelType = ChannelType(11);
    /// A private thread, visible to those invited and moderators.
    pub const PRIVATE_THREAD: ChannelType = ChannelType(12);
    /// A stage channel.
    pub const GUILD_STAGE_VOICE: ChannelType = ChannelType(13);
    /// The channel of a hub's directory.
    pub const GUILD_DIRECTORY: ChannelType = ChannelType(14);
    /// A forum: a channel that holds only threads.
    pub const GUILD_FORUM: ChannelType = ChannelType(15);
    /// A media channel: like a forum, for media.
    pub const GUILD_MEDIA: ChannelType = ChannelType(16);

    /// Whether this is one of the three thread types.
    pub fn is_thread(self) -> bool {
        matches!(self.0, 10..=12)
    }
}

/// Explicit permissions for a role or member in a channel (Resources → Channel → Overwrite
/// Object).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PermissionOverwrite {
    /// The role or user id.
    pub id: Snowflake,
    /// 0 for a role, 1 for a member.
    #[serde(rename = "type")]
    pub kind: u8,
    /// Permissions allowed (a bitfield).
    #[serde(deserialize_with = "de::bits")]
    pub allow: u64,
    /// Permissions denied (a bitfield).
    #[serde(deserialize_with = "de::bits")]
    pub deny: u64,
}

/// Thread-only fields (Resources → Channel → Thread Metadata Object).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct ThreadMetadata<'a> {
    /// Whether the thread is archived.
    #[serde(default)]
    pub archived: bool,
    /// Minutes of inactivity before it is archived: 60, 1440, 4320 or 10080.
    #[serde(default)]
    pub auto_archive_duration: Option<u32>,
    /// When it was last archived or unarchived (ISO 8601).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub archive_timestamp: Option<Cow<'a, str>>,
    /// Whether only moderators may unarchive it.
    #[serde(default)]
    pub locked: bool,
    /// Whether non-moderators may add others to a private thread.
    #[serde(default)]
    pub invitable: Option<bool>,
    /// When the thread was created (ISO 8601; threads created before 2022-01-09 lack it).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub create_timestamp: Option<Cow<'a, str>>,
}

/// A user's membership of a thread (Resources → Channel → Thread Member Object).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct ThreadMember<'a> {
    /// The thread (absent inside GUILD_CREATE).
    #[serde(default)]
    pub id: Option<Snowflake>,
    /// The user (absent inside GUILD_CREATE).
    #[serde(default)]
    pub user_id: Option<Snowflake>,
    /// When the user last joined the thread (ISO 8601).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub join_timestamp: Option<Cow<'a, str>>,
    /// Notification settings.
    #[serde(default)]
    pub flags: u64,
}

newtype_event! {
    /// CHANNEL_CREATE: a guild channel was created (Topics → Gateway Events → Channel Create).
    ChannelCreate(Channel) = "CHANNEL_CREATE"
}
newtype_event! {
    /// CHANNEL_UPDATE: a channel changed; not sent when only `last_message_id` changes.
    ChannelUpdate(Channel) = "CHANNEL_UPDATE"
}
newtype_event! {
    /// CHANNEL_DELETE: a channel was deleted.
    ChannelDelete(Channel) = "CHANNEL_DELETE"
}
newtype_event! {
    /// THREAD_CREATE: a thread was created, or the bot was added to one
    /// ([`Channel::newly_created`] tells which).
    ThreadCreate(Channel) = "THREAD_CREATE"
}
newtype_event! {
    /// THREAD_UPDATE: a thread changed; not sent when only `last_message_id` changes.
    ThreadUpdate(Channel) = "THREAD_UPDATE"
}
newtype_event! {
    /// THREAD_DELETE: a thread was deleted; only `id`, `guild_id`, `parent_id` and `type`
    /// are sent.
    ThreadDelete(Channel) = "THREAD_DELETE"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventModel;

    /// Shaped like Resources → Channel → Example Guild Text Channel, with a topic that
    /// needs escapes.
    const DOCS_TEXT_CHANNEL: &str = r#"{
        "id": "41771983423143937",
        "guild_id": "41771983423143937",
        "name": "general",
        "type": 0,
        "position": 6,
        "permission_overwrites": [{"id": "41771983423143937", "type": 0, "allow": "1024", "deny": "2048"}],
        "rate_limit_per_user": 2,
        "nsfw": true,
        "topic": "24/7 chat about how \"gigantic\"\nnew features are \ud83d\ude00",
        "last_message_id": "155117677105512449",
        "parent_id": "399942396007890945",
        "default_auto_archive_duration": 60
    }"#;

    /// Shaped like Resources → Channel → Example Thread Channel.
    const DOCS_THREAD: &str = r#"{
        "id": "41771983423143937",
        "guild_id": "41771983423143937",
        "parent_id": "41771983423143937",
        "owner_id": "41771983423143937",
        "name": "don't buy dota-2",
        "type": 11,
        "last_message_id": "155117677105512449",
        "message_count": 1,
        "member_count": 5,
        "rate_limit_per_user": 2,
        "thread_metadata": {
            "archived": false,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2021-04-12T23:40:39.855793+00:00",
            "locked": false
        },
        "member": {"id": "41771983423143937", "user_id": "80351110224678912",
                   "join_timestamp": "2021-04-12T23:40:39.855793+00:00", "flags": 1},
        "total_message_sent": 1,
        "newly_created": true
    }"#;

    #[test]
    fn a_docs_shaped_text_channel_parses() {
        let channel: ChannelCreate = serde_json::from_str(DOCS_TEXT_CHANNEL).unwrap();
        assert_eq!(ChannelCreate::NAME, "CHANNEL_CREATE");
        assert_eq!(channel.id, Snowflake(41771983423143937));
        assert_eq!(channel.kind, ChannelType::GUILD_TEXT);
        assert!(matches!(channel.name, Some(Cow::Borrowed("general"))));
        assert_eq!(
            channel.topic.as_deref(),
            Some("24/7 chat about how \"gigantic\"\nnew features are 😀")
        );
        assert_eq!(channel.position, Some(6));
        assert_eq!(channel.rate_limit_per_user, Some(2));
        assert!(channel.nsfw);
        assert_eq!(channel.last_message_id, Some(Snowflake(155117677105512449)));
        assert_eq!(channel.parent_id, Some(Snowflake(399942396007890945)));
        let overwrite = channel.permission_overwrites[0];
        assert_eq!(
            (overwrite.kind, overwrite.allow, overwrite.deny),
            (0, 1024, 2048)
        );
        assert!(channel.thread_metadata.is_none() && !channel.kind.is_thread());
    }

    #[test]
    fn a_docs_shaped_thread_parses_as_thread_create_and_update() {
        let thread: ThreadCreate = serde_json::from_str(DOCS_THREAD).unwrap();
        assert_eq!(ThreadCreate::NAME, "THREAD_CREATE");
        assert_eq!(thread.kind, ChannelType::PUBLIC_THREAD);
        assert!(thread.kind.is_thread() && thread.newly_created);
        assert_eq!(thread.name.as_deref(), Some("don't buy dota-2"));
        assert_eq!(
            (thread.message_count, thread.member_count),
            (Some(1), Some(5))
        );
        let metadata = thread.thread_metadata.as_ref().unwrap();
        assert!(!metadata.archived && !metadata.locked);
        assert_eq!(metadata.auto_archive_duration, Some(1440));
        assert_eq!(
            metadata.archive_timestamp.as_deref(),
            Some("2021-04-12T23:40:39.855793+00:00")
        );
        let member = thread.member.as_ref().unwrap();
        assert_eq!(member.user_id, Some(Snowflake(80351110224678912)));
        assert_eq!(member.flags, 1);

        let update: ThreadUpdate = serde_json::from_str(DOCS_THREAD).unwrap();
        assert_eq!(ThreadUpdate::NAME, "THREAD_UPDATE");
        assert_eq!(
            update.into_inner().owner_id,
            Some(Snowflake(41771983423143937))
        );
    }

    #[test]
    fn thread_delete_carries_only_four_fields() {
        let json = r#"{"id":"3","guild_id":"1","parent_id":"2","type":12}"#;
        let deleted: ThreadDelete = serde_json::from_str(json).unwrap();
        assert_eq!(ThreadDelete::NAME, "THREAD_DELETE");
        assert_eq!(deleted.id, Snowflake(3));
        assert_eq!(deleted.guild_id, Some(Snowflake(1)));
        assert_eq!(deleted.parent_id, Some(Snowflake(2)));
        assert_eq!(deleted.kind, ChannelType::PRIVATE_THREAD);
        assert!(deleted.name.is_none() && deleted.permission_overwrites.is_empty());
    }

    #[test]
    fn a_dm_channel_with_recipients_and_an_unknown_type_parses() {
        let json = r#"{"id":"319674150115610528","type":99,"last_message_id":null,
            "recipients":[{"id":"82198898841029460","username":"test","discriminator":"9999","avatar":null}]}"#;
        let channel: ChannelUpdate = serde_json::from_str(json).unwrap();
        assert_eq!(ChannelUpdate::NAME, "CHANNEL_UPDATE");
        assert_eq!(channel.kind, ChannelType(99));
        assert_eq!(channel.recipients[0].username, "test");
        assert!(channel.last_message_id.is_none());
        let deleted: ChannelDelete = serde_json::from_str(json).unwrap();
        assert_eq!(ChannelDelete::NAME, "CHANNEL_DELETE");
        assert_eq!(deleted.id, Snowflake(319674150115610528));
    }

    #[test]
    fn a_channel_without_a_type_is_an_error_that_names_it() {
        let error = serde_json::from_str::<Channel>(r#"{"id":"1"}"#).unwrap_err();
        assert!(error.to_string().contains("`type`"), "{error}");
    }
}
