//! Typed models for the events most bots use, and [`Snowflake`] ids.
//!
//! Each event type implements [`EventModel`], which names the dispatch it parses
//! (`MessageCreate::NAME == "MESSAGE_CREATE"`); parse a [`Dispatch`] with
//! [`Dispatch::data`] or [`EventModel::parse`]:
//!
//! ```no_run
//! use syncord::model::{EventModel, MessageCreate};
//! use syncord::{Event, Intents, Shard};
//!
//! let shard = Shard::new(std::env::var("DISCORD_TOKEN").unwrap_or_default(),
//!                        Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT)?;
//! shard.run(|event| {
//!     let Event::Dispatch(dispatch) = event else { return };
//!     match MessageCreate::parse(&dispatch) {
//!         Some(Ok(message)) => println!("{}: {}", message.author.username, message.content),
//!         Some(Err(error)) => eprintln!("MESSAGE_CREATE #{}: {error}", dispatch.seq()),
//!         None => {} // another event
//!     }
//! })?;
//! # Ok::<(), syncord::Error>(())
//! ```
//!
//! | dispatch (`t`) | type |
//! |---|---|
//! | READY, RESUMED | [`Ready`], [`Resumed`] |
//! | GUILD_CREATE / _UPDATE / _DELETE | [`GuildCreate`], [`GuildUpdate`] ([`Guild`]), [`GuildDelete`] |
//! | GUILD_ROLE_CREATE / _UPDATE / _DELETE | [`GuildRoleCreate`], [`GuildRoleUpdate`] ([`Role`]), [`GuildRoleDelete`] |
//! | CHANNEL_CREATE / _UPDATE / _DELETE | [`ChannelCreate`], [`ChannelUpdate`], [`ChannelDelete`] ([`Channel`]) |
//! | THREAD_CREATE / _UPDATE / _DELETE | [`ThreadCreate`], [`ThreadUpdate`], [`ThreadDelete`] ([`Channel`]) |
//! | MESSAGE_CREATE / _UPDATE | [`MessageCreate`] ([`Message`]), [`MessageUpdate`] |
//! | MESSAGE_DELETE / _DELETE_BULK | [`MessageDelete`], [`MessageDeleteBulk`] |
//! | MESSAGE_REACTION_ADD / _REMOVE | [`MessageReactionAdd`], [`MessageReactionRemove`] |
//! | INTERACTION_CREATE | [`InteractionCreate`] ([`Interaction`]) |
//! | GUILD_MEMBER_ADD / _UPDATE / _REMOVE | [`GuildMemberAdd`], [`GuildMemberUpdate`] ([`Member`]), [`GuildMemberRemove`] |
//! | GUILD_MEMBERS_CHUNK | [`GuildMembersChunk`] |
//! | PRESENCE_UPDATE, TYPING_START | [`PresenceUpdate`], [`TypingStart`] |
//! | VOICE_STATE_UPDATE, VOICE_SERVER_UPDATE | [`VoiceStateUpdate`] ([`VoiceState`]), [`VoiceServerUpdate`] |
//! | USER_UPDATE | [`UserUpdate`] ([`User`]) |
//!
//! Events that share a shape (CHANNEL_* and THREAD_* carry a channel) are thin wrappers
//! that deref to it.
//!
//! # Lenient by design
//!
//! Unknown fields are ignored and only what Discord always sends is required (usually the
//! ids); everything else is an `Option`, or an empty list or `false` when absent. Real
//! servers differ (other gateway implementations send READY without `shard`, with extra
//! fields), and Discord adds fields without a version bump, so every struct is
//! `#[non_exhaustive]`. Timestamps are kept as the ISO 8601 strings Discord sends; bitfields
//! (flags, permissions) as integers; nested objects most bots do not read (embeds,
//! components, interaction data) as raw JSON ([`RawValue`](serde_json::value::RawValue))
//! to parse further on demand. A message's member, mentions, attachments, embeds,
//! components, replied-to message and thread are [`Lazy`]: the typed model of the most
//! frequent event does not parse them until `.get()` asks (about half of its parse).
//!
//! # Borrowed text
//!
//! Strings are `Cow<'a, str>`: they borrow from the dispatch when the JSON text has no
//! escapes, and own an unescaped copy when it does (a `\n`, a `\"`, an emoji sent as
//! `\ud83d\ude00`). A `&'a str` field cannot hold unescaped text, so serde fails on any
//! message with a newline or a quote; your own models should use `Cow` with
//! `#[serde(borrow)]` too. A model borrows from its [`Dispatch`]: keep the fields you need
//! (`.into_owned()`, `.to_string()`), or the dispatch itself, to use them later.
//!
//! # Any serde type works
//!
//! [`Dispatch::data`] takes any `Deserialize` type, so a bot that wants Discord's complete
//! models can use another crate's, e.g. `twilight_model::channel::Message` for
//! MESSAGE_CREATE, with this crate's shard.
//!
//! ```
//! use std::borrow::Cow;
//! use syncord::model::{MessageCreate, Snowflake};
//!
//! let d = r#"{"id":"1","channel_id":"2","author":{"id":"3","username":"ann"},
//!             "content":"two\nlines \ud83d\ude00","mentions":[],"extra":{"ignored":true}}"#;
//! let message: MessageCreate = serde_json::from_str(d)?;
//! assert_eq!(message.content, "two\nlines 😀");
//! assert!(matches!(message.author.username, Cow::Borrowed("ann")));
//! assert_eq!(message.channel_id, Snowflake(2));
//! # Ok::<(), serde_json::Error>(())
//! ```

use crate::Dispatch;
use serde::Deserialize;

mod channel;
pub(crate) mod de;
mod gateway;
mod guild;
mod interaction;
mod lazy;
mod member;
mod message;
mod presence;
mod snowflake;
mod user;
mod voice;

pub use channel::{
    Channel, ChannelCreate, ChannelDelete, ChannelType, ChannelUpdate, PermissionOverwrite,
    ThreadCreate, ThreadDelete, ThreadMember, ThreadMetadata, ThreadUpdate,
};
pub use gateway::{PartialApplication, Ready, Resumed, UnavailableGuild};
pub use guild::{
    Guild, GuildCreate, GuildDelete, GuildRoleCreate, GuildRoleDelete, GuildRoleUpdate,
    GuildUpdate, Role, RoleTags,
};
pub use interaction::{Interaction, InteractionCreate, InteractionType};
pub use lazy::Lazy;
pub use member::{GuildMemberAdd, GuildMemberRemove, GuildMemberUpdate, GuildMembersChunk, Member};
pub use message::{
    Attachment, Emoji, Mention, Message, MessageCreate, MessageDelete, MessageDeleteBulk,
    MessageReactionAdd, MessageReactionRemove, MessageReference, MessageUpdate,
};
pub use presence::{Activity, ClientStatus, PresenceUpdate, TypingStart};
pub use snowflake::{ParseSnowflakeError, Snowflake};
pub use user::{User, UserUpdate};
pub use voice::{VoiceServerUpdate, VoiceState, VoiceStateUpdate};

/// A typed model of one gateway dispatch: the type and the event name (`t`) it parses.
///
/// A dispatcher registers a handler by type and routes each dispatch whose
/// [`event_type`](Dispatch::event_type) is `NAME` to it. Any `Deserialize` type can be an
/// event model, including another crate's:
///
/// ```
/// use std::borrow::Cow;
/// use syncord::model::EventModel;
///
/// /// Only the fields this bot reads.
/// #[derive(serde::Deserialize)]
/// struct Typing<'a> {
///     user_id: syncord::model::Snowflake,
///     #[serde(borrow)]
///     channel_id: Cow<'a, str>,
/// }
///
/// impl<'a> EventModel<'a> for Typing<'a> {
///     const NAME: &'static str = "TYPING_START";
/// }
/// # assert_eq!(Typing::NAME, "TYPING_START");
/// ```
pub trait EventModel<'a>: Deserialize<'a> {
    /// The dispatch's event name, e.g. `MESSAGE_CREATE`.
    const NAME: &'static str;

    /// Parses `dispatch` if it is this event (`None` for any other event name); an `Err`
    /// says which field of `d` did not fit.
    fn parse(dispatch: &'a Dispatch) -> Option<serde_json::Result<Self>> {
        (dispatch.event_type() == Self::NAME).then(|| dispatch.data())
    }
}

/// Defines an event that carries a shared shape as a transparent wrapper that derefs to
/// it, and names its dispatch.
macro_rules! newtype_event {
    ($(#[$doc:meta])* $event:ident($inner:ident) = $name:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $event<'a>(#[serde(borrow)] pub $inner<'a>);

        impl<'a> $event<'a> {
            /// The payload itself.
            pub fn into_inner(self) -> $inner<'a> {
                self.0
            }
        }

        impl<'a> std::ops::Deref for $event<'a> {
            type Target = $inner<'a>;

            fn deref(&self) -> &$inner<'a> {
                &self.0
            }
        }

        impl<'a> std::ops::DerefMut for $event<'a> {
            fn deref_mut(&mut self) -> &mut $inner<'a> {
                &mut self.0
            }
        }

        impl<'a> $crate::model::EventModel<'a> for $event<'a> {
            const NAME: &'static str = $name;
        }
    };
}
pub(crate) use newtype_event;

/// Names the dispatch a model parses.
macro_rules! event_name {
    ($event:ident = $name:literal) => {
        impl<'a> $crate::model::EventModel<'a> for $event<'a> {
            const NAME: &'static str = $name;
        }
    };
}
pub(crate) use event_name;
