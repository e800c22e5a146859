//! Messages and reactions (Discord docs: Resources → Message).

use super::lazy::{self, Lazy};
use super::{de, event_name, newtype_event, Channel, Member, Snowflake, User};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::ops::Deref;

/// A message (Resources → Message → Message Object), with the fields MESSAGE_CREATE adds
/// (`guild_id`, `member`; Topics → Gateway Events → Message Create).
///
/// `id`, `channel_id` and `author` are required. Without the `MESSAGE_CONTENT` intent,
/// `content`, `embeds`, `attachments` and `components` are empty for most messages.
///
/// The parts most bots do not read (`member`, `mentions`, `attachments`, `embeds`,
/// `components`, `referenced_message`, `thread`) are [`Lazy`]: kept as their JSON text
/// and parsed by `.get()`, so a bot that reads the author, the channel and the content
/// does not pay for them.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Message<'a> {
    /// The message's id.
    pub id: Snowflake,
    /// The channel it was sent in.
    pub channel_id: Snowflake,
    /// The guild, for guild messages (gateway events only).
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// The author: a user, or the webhook for webhook messages (`webhook_id` is set).
    #[serde(borrow)]
    pub author: User<'a>,
    /// The author's member (without `user`), for guild messages (gateway events only).
    #[serde(borrow, default)]
    pub member: Option<Lazy<'a, Member<'a>>>,
    /// The text (up to 2000 characters).
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub content: Cow<'a, str>,
    /// When it was sent (ISO 8601).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub timestamp: Option<Cow<'a, str>>,
    /// When it was last edited (ISO 8601), `None` if never.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub edited_timestamp: Option<Cow<'a, str>>,
    /// Whether it is a text-to-speech message.
    #[serde(default)]
    pub tts: bool,
    /// Whether it mentions `@everyone` or `@here`.
    #[serde(default)]
    pub mention_everyone: bool,
    /// Users mentioned, each with a partial member in guilds.
    #[serde(borrow, default, deserialize_with = "lazy::list")]
    pub mentions: Lazy<'a, Vec<Mention<'a>>>,
    /// Roles mentioned.
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub mention_roles: Vec<Snowflake>,
    /// Attached files.
    #[serde(borrow, default, deserialize_with = "lazy::list")]
    pub attachments: Lazy<'a, Vec<Attachment<'a>>>,
    /// Embeds (Resources → Message → Embed Object), each as raw JSON.
    #[serde(borrow, default, deserialize_with = "lazy::list")]
    pub embeds: Lazy<'a, Vec<Box<RawValue>>>,
    /// Whether it is pinned.
    #[serde(default)]
    pub pinned: bool,
    /// The webhook that sent it.
    #[serde(default)]
    pub webhook_id: Option<Snowflake>,
    /// The message type (Resources → Message → Message Types): 0 default, 19 reply, 20 chat
    /// input command…
    #[serde(rename = "type", default)]
    pub kind: u8,
    /// The application, for interaction responses and application-owned webhooks.
    #[serde(default)]
    pub application_id: Option<Snowflake>,
    /// Message flags (Resources → Message → Message Flags), e.g. 64 ephemeral.
    #[serde(default)]
    pub flags: u64,
    /// What a reply, crosspost, pin or forward points at.
    #[serde(default)]
    pub message_reference: Option<MessageReference>,
    /// The message replied to, when Discord included it (`None` also when deleted).
    #[serde(borrow, default)]
    pub referenced_message: Option<Lazy<'a, Message<'a>>>,
    /// The thread started from this message.
    #[serde(borrow, default)]
    pub thread: Option<Lazy<'a, Channel<'a>>>,
    /// Buttons, select menus… (Reference → Component Reference), each as raw JSON.
    #[serde(borrow, default, deserialize_with = "lazy::list")]
    pub components: Lazy<'a, Vec<Box<RawValue>>>,
}

newtype_event! {
    /// MESSAGE_CREATE: a message was sent (Topics → Gateway Events → Message Create).
    MessageCreate(Message) = "MESSAGE_CREATE"
}

/// A user mentioned in a message, with a partial member in guilds (Topics → Gateway
/// Events → Message Create, `mentions`). Derefs to the [`User`].
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Mention<'a> {
    /// The user.
    #[serde(flatten, borrow)]
    pub user: User<'a>,
    /// Their member, for guild messages.
    #[serde(borrow, default)]
    pub member: Option<Member<'a>>,
}

impl<'a> Deref for Mention<'a> {
    type Target = User<'a>;

    fn deref(&self) -> &User<'a> {
        &self.user
    }
}

/// An attached file (Resources → Message → Attachment Object).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Attachment<'a> {
    /// The attachment's id.
    pub id: Snowflake,
    /// The file's name.
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub filename: Cow<'a, str>,
    /// Alt text.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub description: Option<Cow<'a, str>>,
    /// The media type, e.g. `image/png`.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub content_type: Option<Cow<'a, str>>,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Where to download it.
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub url: Cow<'a, str>,
    /// A proxied URL of it.
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub proxy_url: Cow<'a, str>,
    /// Height of an image or video.
    #[serde(default)]
    pub height: Option<u32>,
    /// Width of an image or video.
    #[serde(default)]
    pub width: Option<u32>,
    /// Whether it is ephemeral (removed after a while).
    #[serde(default)]
    pub ephemeral: bool,
    /// Attachment flags (Resources → Message → Attachment Flags).
    #[serde(default)]
    pub flags: u64,
}

/// What a reply, crosspost, pin or forward points at (Resources → Message → Message
/// Reference Structure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MessageReference {
    /// 0 for a reply or crosspost (the default), 1 for a forward.
    #[serde(rename = "type", default)]
    pub kind: u8,
    /// The message.
    #[serde(default)]
    pub message_id: Option<Snowflake>,
    /// Its channel.
    #[serde(default)]
    pub channel_id: Option<Snowflake>,
    /// Its guild.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
}

/// MESSAGE_UPDATE: a message was edited (Topics → Gateway Events → Message Update).
///
/// The fields of [`Message`], but only `id` and `channel_id` are certain: an update may
/// carry a subset of the message, and a field that is `None` did not come with it.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct MessageUpdate<'a> {
    /// The message's id.
    pub id: Snowflake,
    /// The channel it was sent in.
    pub channel_id: Snowflake,
    /// The guild, for guild messages.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// The author.
    #[serde(borrow, default)]
    pub author: Option<User<'a>>,
    /// The author's member (without `user`), for guild messages.
    #[serde(borrow, default)]
    pub member: Option<Member<'a>>,
    /// The text as edited.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub content: Option<Cow<'a, str>>,
    /// When it was sent (ISO 8601).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub timestamp: Option<Cow<'a, str>>,
    /// When it was edited (ISO 8601).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub edited_timestamp: Option<Cow<'a, str>>,
    /// Always `false` in updates.
    #[serde(default)]
    pub tts: Option<bool>,
    /// Whether it mentions `@everyone` or `@here`.
    #[serde(default)]
    pub mention_everyone: Option<bool>,
    /// Users mentioned.
    #[serde(borrow, default)]
    pub mentions: Option<Vec<Mention<'a>>>,
    /// Roles mentioned.
    #[serde(default)]
    pub mention_roles: Option<Vec<Snowflake>>,
    /// Attached files.
    #[serde(borrow, default)]
    pub attachments: Option<Vec<Attachment<'a>>>,
    /// Embeds, as raw JSON.
    #[serde(default)]
    pub embeds: Option<Vec<Box<RawValue>>>,
    /// Whether it is pinned.
    #[serde(default)]
    pub pinned: Option<bool>,
    /// The webhook that sent it.
    #[serde(default)]
    pub webhook_id: Option<Snowflake>,
    /// The message type.
    #[serde(rename = "type", default)]
    pub kind: Option<u8>,
    /// Message flags.
    #[serde(default)]
    pub flags: Option<u64>,
    /// What a reply points at.
    #[serde(default)]
    pub message_reference: Option<MessageReference>,
    /// Components, as raw JSON.
    #[serde(default)]
    pub components: Option<Vec<Box<RawValue>>>,
}
event_name!(MessageUpdate = "MESSAGE_UPDATE");

/// MESSAGE_DELETE: a message was deleted (Topics → Gateway Events → Message Delete).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MessageDelete {
    /// The message.
    pub id: Snowflake,
    /// Its channel.
    pub channel_id: Snowflake,
    /// Its guild.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
}

impl super::EventModel<'_> for MessageDelete {
    const NAME: &'static str = "MESSAGE_DELETE";
}

/// MESSAGE_DELETE_BULK: several messages were deleted at once (Topics → Gateway Events →
/// Message Delete Bulk).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MessageDeleteBulk {
    /// The messages.
    pub ids: Vec<Snowflake>,
    /// Their channel.
    pub channel_id: Snowflake,
    /// Their guild.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
}

impl super::EventModel<'_> for MessageDeleteBulk {
    const NAME: &'static str = "MESSAGE_DELETE_BULK";
}

/// An emoji as reactions carry it (Resources → Emoji → Emoji Object, partial): a custom
/// emoji has an `id`; a Unicode emoji only a `name`, the emoji itself.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Emoji<'a> {
    /// The custom emoji's id; `None` for a Unicode emoji.
    #[serde(default)]
    pub id: Option<Snowflake>,
    /// The name, or the Unicode emoji; `None` for a custom emoji that was deleted.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub name: Option<Cow<'a, str>>,
    /// Whether a custom emoji is animated.
    #[serde(default)]
    pub animated: bool,
}

/// MESSAGE_REACTION_ADD: a user reacted to a message (Topics → Gateway Events → Message
/// Reaction Add).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct MessageReactionAdd<'a> {
    /// Who reacted.
    pub user_id: Snowflake,
    /// The message's channel.
    pub channel_id: Snowflake,
    /// The message.
    pub message_id: Snowflake,
    /// The message's guild.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// The member who reacted, in guilds.
    #[serde(borrow, default)]
    pub member: Option<Member<'a>>,
    /// The emoji.
    #[serde(borrow)]
    pub emoji: Emoji<'a>,
    /// The message's author.
    #[serde(default)]
    pub message_author_id: Option<Snowflake>,
    /// Whether it is a super reaction.
    #[serde(default)]
    pub burst: bool,
    /// A super reaction's colours, as `#rrggbb` strings.
    #[serde(borrow, default, deserialize_with = "de::cow_list")]
    pub burst_colors: Vec<Cow<'a, str>>,
    /// 0 normal, 1 burst.
    #[serde(rename = "type", default)]
    pub kind: u8,
}
event_name!(MessageReactionAdd = "MESSAGE_REACTION_ADD");

/// MESSAGE_REACTION_REMOVE: a user removed a reaction (Topics → Gateway Events → Message
/// Reaction Remove).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct MessageReactionRemove<'a> {
    /// Whose reaction it was.
    pub user_id: Snowflake,
    /// The message's channel.
    pub channel_id: Snowflake,
    /// The message.
    pub message_id: Snowflake,
    /// The message's guild.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// The emoji.
    #[serde(borrow)]
    pub emoji: Emoji<'a>,
    /// Whether it was a super reaction.
    #[serde(default)]
    pub burst: bool,
    /// 0 normal, 1 burst.
    #[serde(rename = "type", default)]
    pub kind: u8,
}
event_name!(MessageReactionRemove = "MESSAGE_REACTION_REMOVE");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventModel;

    /// Shaped like Resources → Message → Example Message plus Message Create's
    /// `guild_id`, `member` and mention members; the content has a newline, quotes and an
    /// emoji sent as a surrogate pair.
    pub(crate) const DOCS_MESSAGE_CREATE: &str = r#"{
        "reactions": [{"count": 1, "count_details": {"burst": 0, "normal": 1}, "me": false,
                       "me_burst": false, "emoji": {"id": null, "name": "🔥"}, "burst_colors": []}],
        "attachments": [{"id": "1234567890", "filename": "cat.png", "size": 1024,
                         "url": "https://cdn.example.invalid/cat.png",
                         "proxy_url": "https://media.example.invalid/cat.png",
                         "height": 100, "width": 200, "content_type": "image/png"}],
        "tts": false,
        "embeds": [{"title": "hi", "type": "rich"}],
        "timestamp": "2017-07-11T17:27:07.299000+00:00",
        "mention_everyone": false,
        "id": "334385199974967042",
        "pinned": false,
        "edited_timestamp": null,
        "author": {"username": "Mason", "discriminator": "9999", "id": "53908099506183680",
                   "avatar": "a_bab14f271d565501444b2ca3be944b25", "public_flags": 131328},
        "mention_roles": ["41771983423143936"],
        "content": "Supa Hot\nsays \"hi\" \ud83d\ude00",
        "channel_id": "290926798999357250",
        "guild_id": "290926798626357248",
        "member": {"roles": [], "joined_at": "2017-03-13T19:19:14.040000+00:00", "deaf": false, "mute": false},
        "mentions": [{"id": "80351110224678912", "username": "Nelly", "discriminator": "1337",
                      "avatar": null, "member": {"roles": [], "nick": "nells", "deaf": false, "mute": false}}],
        "type": 0,
        "flags": 4,
        "message_reference": {"type": 0, "message_id": "334385199974967041", "channel_id": "290926798999357250"},
        "components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "Click", "custom_id": "b"}]}],
        "nonce": "334385199974967040"
    }"#;

    #[test]
    fn a_docs_shaped_message_create_parses_with_escapes_unescaped() {
        let message: MessageCreate = serde_json::from_str(DOCS_MESSAGE_CREATE).unwrap();
        assert_eq!(MessageCreate::NAME, "MESSAGE_CREATE");
        assert_eq!(message.id, Snowflake(334385199974967042));
        assert_eq!(message.channel_id, Snowflake(290926798999357250));
        assert_eq!(message.guild_id, Some(Snowflake(290926798626357248)));
        assert_eq!(message.content, "Supa Hot\nsays \"hi\" 😀");
        assert!(
            matches!(message.content, Cow::Owned(_)),
            "escaped text is unescaped"
        );
        assert!(matches!(message.author.username, Cow::Borrowed("Mason")));
        assert_eq!(message.author.id, Snowflake(53908099506183680));
        assert_eq!(message.author.public_flags, Some(131328));
        assert_eq!(
            message.timestamp.as_deref(),
            Some("2017-07-11T17:27:07.299000+00:00")
        );
        assert!(message.edited_timestamp.is_none());
        assert!(!message.tts && !message.mention_everyone && !message.pinned);
        let mentions = message.mentions.get().unwrap();
        assert_eq!(mentions[0].id, Snowflake(80351110224678912));
        let mention_member = mentions[0].member.as_ref().unwrap();
        assert_eq!(mention_member.nick.as_deref(), Some("nells"));
        assert_eq!(message.mention_roles, [Snowflake(41771983423143936)]);
        let attachments = message.attachments.get().unwrap();
        let attachment = &attachments[0];
        assert_eq!(attachment.filename, "cat.png");
        assert_eq!((attachment.size, attachment.width), (1024, Some(200)));
        assert_eq!(attachment.content_type.as_deref(), Some("image/png"));
        assert_eq!(
            message.embeds.get().unwrap()[0].get(),
            r#"{"title": "hi", "type": "rich"}"#
        );
        assert_eq!((message.kind, message.flags), (0, 4));
        let member = message.member.unwrap().get().unwrap();
        assert!(member.user.is_none());
        assert_eq!(
            member.joined_at.as_deref(),
            Some("2017-03-13T19:19:14.040000+00:00")
        );
        let reference = message.message_reference.unwrap();
        assert_eq!(reference.message_id, Some(Snowflake(334385199974967041)));
        assert_eq!(message.components.get().unwrap().len(), 1);
        assert!(message.referenced_message.is_none() && message.thread.is_none());
    }

    #[test]
    fn plain_content_is_borrowed_from_the_payload() {
        let json = r#"{"id":"1","channel_id":"2","author":{"id":"3","username":"u"},"content":"no escapes here"}"#;
        let message: MessageCreate = serde_json::from_str(json).unwrap();
        assert!(matches!(message.content, Cow::Borrowed("no escapes here")));
    }

    #[test]
    fn a_reply_carries_the_referenced_message() {
        let json = r#"{"id":"2","channel_id":"9","author":{"id":"3","username":"u"},"content":"re",
            "type":19,"message_reference":{"message_id":"1","channel_id":"9"},
            "referenced_message":{"id":"1","channel_id":"9","author":{"id":"4","username":"v"},"content":"first"}}"#;
        let message: MessageCreate = serde_json::from_str(json).unwrap();
        assert_eq!(message.kind, 19);
        let replied = message.referenced_message.unwrap().get().unwrap();
        assert_eq!((replied.id, &*replied.content), (Snowflake(1), "first"));
    }

    #[test]
    fn a_message_without_author_is_an_error_that_names_it() {
        let error =
            serde_json::from_str::<MessageCreate>(r#"{"id":"1","channel_id":"2"}"#).unwrap_err();
        assert!(
            error.to_string().contains("missing field `author`"),
            "{error}"
        );
    }

    #[test]
    fn a_partial_message_update_parses_with_the_rest_absent() {
        // An embed resolving: only ids and the new embeds (Topics → Gateway Events →
        // Message Update: "may contain only a subset of the full message object").
        let json = r#"{"id":"334385199974967042","channel_id":"290926798999357250",
            "guild_id":"290926798626357248","embeds":[{"type":"link"}]}"#;
        let update: MessageUpdate = serde_json::from_str(json).unwrap();
        assert_eq!(MessageUpdate::NAME, "MESSAGE_UPDATE");
        assert_eq!(update.id, Snowflake(334385199974967042));
        assert_eq!(update.embeds.as_ref().map(Vec::len), Some(1));
        assert!(update.content.is_none() && update.author.is_none() && update.mentions.is_none());
    }

    #[test]
    fn a_full_message_update_parses_like_a_create() {
        let update: MessageUpdate = serde_json::from_str(DOCS_MESSAGE_CREATE).unwrap();
        assert_eq!(update.content.as_deref(), Some("Supa Hot\nsays \"hi\" 😀"));
        assert_eq!(
            update.author.as_ref().map(|a| a.id),
            Some(Snowflake(53908099506183680))
        );
        assert_eq!(update.mentions.as_ref().map(Vec::len), Some(1));
        assert_eq!((update.kind, update.flags), (Some(0), Some(4)));
    }

    #[test]
    fn message_delete_and_bulk_delete_parse() {
        let json = r#"{"id":"334385199974967042","channel_id":"290926798999357250","guild_id":"290926798626357248"}"#;
        let deleted: MessageDelete = serde_json::from_str(json).unwrap();
        assert_eq!(MessageDelete::NAME, "MESSAGE_DELETE");
        assert_eq!(deleted.id, Snowflake(334385199974967042));
        assert_eq!(deleted.guild_id, Some(Snowflake(290926798626357248)));

        let json = r#"{"ids":["1","2","3"],"channel_id":"290926798999357250"}"#;
        let bulk: MessageDeleteBulk = serde_json::from_str(json).unwrap();
        assert_eq!(MessageDeleteBulk::NAME, "MESSAGE_DELETE_BULK");
        assert_eq!(bulk.ids, [Snowflake(1), Snowflake(2), Snowflake(3)]);
        assert!(bulk.guild_id.is_none());
    }

    /// Shaped like Topics → Gateway Events → Message Reaction Add's field table.
    const DOCS_REACTION_ADD: &str = r#"{
        "user_id": "80351110224678912",
        "type": 0,
        "message_id": "334385199974967042",
        "message_author_id": "53908099506183680",
        "member": {"user": {"id": "80351110224678912", "username": "Nelly \"n\"\n"}, "roles": [],
                   "joined_at": "2015-04-26T06:26:56.936000+00:00", "deaf": false, "mute": false},
        "emoji": {"name": "\ud83d\ude00", "id": null},
        "channel_id": "290926798999357250",
        "burst": false,
        "burst_colors": [],
        "guild_id": "290926798626357248"
    }"#;

    #[test]
    fn a_docs_shaped_reaction_add_parses() {
        let reaction: MessageReactionAdd = serde_json::from_str(DOCS_REACTION_ADD).unwrap();
        assert_eq!(MessageReactionAdd::NAME, "MESSAGE_REACTION_ADD");
        assert_eq!(reaction.user_id, Snowflake(80351110224678912));
        assert_eq!(reaction.message_id, Snowflake(334385199974967042));
        assert_eq!(
            reaction.message_author_id,
            Some(Snowflake(53908099506183680))
        );
        assert_eq!(reaction.emoji.name.as_deref(), Some("😀"));
        assert!(reaction.emoji.id.is_none() && !reaction.burst);
        let member_user = reaction
            .member
            .as_ref()
            .and_then(|m| m.user.as_ref())
            .unwrap();
        assert_eq!(member_user.username, "Nelly \"n\"\n");
    }

    #[test]
    fn a_reaction_remove_with_a_custom_emoji_parses() {
        let json = r##"{"user_id":"1","channel_id":"2","message_id":"3","guild_id":"4",
            "emoji":{"id":"41771983429993937","name":"LUL","animated":true},"burst":true,"type":1,
            "burst_colors":["#ff0000"]}"##;
        let reaction: MessageReactionRemove = serde_json::from_str(json).unwrap();
        assert_eq!(MessageReactionRemove::NAME, "MESSAGE_REACTION_REMOVE");
        assert_eq!(reaction.emoji.id, Some(Snowflake(41771983429993937)));
        assert!(reaction.emoji.animated && reaction.burst);
        assert_eq!(reaction.kind, 1);
        let added: MessageReactionAdd = serde_json::from_str(json).unwrap();
        assert!(matches!(added.burst_colors[..], [Cow::Borrowed("#ff0000")]));
    }
}
