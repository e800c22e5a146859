//! Typed Slack payloads for the events most apps handle, shaped like the examples of Slack's
//! documentation (Slack: Events API → Event types; Interactivity → Handling user
//! interaction; Slash commands).
//!
//! | envelope | payload | type |
//! |---|---|---|
//! | `events_api` | the whole payload | [`EventCallback`] (its `event` typed as you choose) |
//! | `events_api` | `event` of type `message` | [`MessageEvent`] |
//! | `events_api` | `event` of type `app_mention` | [`AppMention`] |
//! | `events_api` | `event` of type `reaction_added` | [`ReactionAdded`] |
//! | `slash_commands` | the whole payload | [`SlashCommand`] |
//! | `interactive` | type `block_actions` | [`BlockActions`] |
//! | `interactive` | type `view_submission` | [`ViewSubmission`] |
//!
//! Parse an [`Envelope`](super::Envelope) with [`Envelope::parse`](super::Envelope::parse),
//! or register handlers by type with [`SlackDispatcher::on`](super::SlackDispatcher::on).
//!
//! # Lenient, borrowed, redacted
//!
//! As for Discord's [models](crate::model): unknown fields are ignored, only what Slack always
//! sends is required (a message's `channel` and `ts`, an action's `action_id`, …), every
//! struct is `#[non_exhaustive]`, and strings are `Cow<'a, str>` that borrow from the
//! envelope unless the JSON text has escapes (Slack escapes `/` as `\/` and non-ASCII as
//! `\uXXXX`, so many strings are copies). Nested parts most handlers do not read (`blocks`,
//! an action's `selected_option`) are raw JSON ([`RawValue`]) to parse on demand.
//!
//! Fields that carry secrets are not modelled: the deprecated verification `token` every
//! payload carries, and `bot_access_token`. A `response_url` lets anyone who has it post to
//! the channel for half an hour, so it is a [`ResponseUrl`], whose `Debug` prints
//! `<redacted>`.
//!
//! ```
//! use syncord::slack::model::SlashCommand;
//!
//! let payload = r#"{"token":"gIkuvaNzQIHg97ATvDxqgjtO","team_id":"T0001",
//!     "channel_id":"C2147483705","user_id":"U2147483697","user_name":"Steve",
//!     "command":"\/weather","text":"94070","api_app_id":"A123456",
//!     "response_url":"https:\/\/hooks.slack.com\/commands\/1234\/5678",
//!     "trigger_id":"13345224609.738474920.8088930838d88f008e0"}"#;
//! let command: SlashCommand = serde_json::from_str(payload)?;
//! assert_eq!(command.command, "/weather");
//! assert_eq!(command.response_url.as_ref().unwrap().as_str(), "https://hooks.slack.com/commands/1234/5678");
//! assert!(!format!("{command:?}").contains("hooks.slack.com"));
//! # Ok::<(), serde_json::Error>(())
//! ```

use crate::model::de;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Declares the payload structs: `Clone`, `Debug`, `Deserialize`, `#[non_exhaustive]`, and
/// one serde rule per kind of borrowed field, so that each field names only its kind:
///
/// | kind | type | absent or `null` |
/// |---|---|---|
/// | `cow` | `Cow<'a, str>` | an error |
/// | `cow_or_empty` | `Cow<'a, str>` | `""` ([`de::cow_or_empty`]) |
/// | `cow_opt` | `Option<Cow<'a, str>>` | `None` ([`de::cow_opt`]) |
/// | `raw_opt` | `Option<&'a RawValue>` | `None` |
///
/// A kind's field may be renamed (`#[serde(rename = "type")]`). Any other field keeps the
/// attributes it is written with; one with none that is a `T<'a>` gets `borrow`, an
/// `Option<T<'a>>` `borrow, default`.
macro_rules! payload {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident<$lt:lifetime $(, $param:ident)*> { $($fields:tt)* }
    )*) => {$(
        payload!(@fields [
            $(#[$meta])*
            #[derive(Clone, Debug, Deserialize)]
            #[non_exhaustive]
            pub struct $name<$lt $(, $param)*>
        ] $lt [] $($fields)*);
    )*};
    (@fields [$($head:tt)*] $lt:lifetime [$($done:tt)*]) => {
        $($head)* { $($done)* }
    };
    (@fields $head:tt $lt:lifetime [$($done:tt)*]
        $(#[doc = $doc:literal])* $(#[serde(rename = $rename:literal)])?
        pub $field:ident: cow, $($rest:tt)*
    ) => {
        payload!(@fields $head $lt [$($done)*
            $(#[doc = $doc])*
            #[serde($(rename = $rename,)? borrow)]
            pub $field: Cow<$lt, str>,
        ] $($rest)*);
    };
    (@fields $head:tt $lt:lifetime [$($done:tt)*]
        $(#[doc = $doc:literal])* $(#[serde(rename = $rename:literal)])?
        pub $field:ident: cow_or_empty, $($rest:tt)*
    ) => {
        payload!(@fields $head $lt [$($done)*
            $(#[doc = $doc])*
            #[serde($(rename = $rename,)? borrow, default, deserialize_with = "de::cow_or_empty")]
            pub $field: Cow<$lt, str>,
        ] $($rest)*);
    };
    (@fields $head:tt $lt:lifetime [$($done:tt)*]
        $(#[doc = $doc:literal])* $(#[serde(rename = $rename:literal)])?
        pub $field:ident: cow_opt, $($rest:tt)*
    ) => {
        payload!(@fields $head $lt [$($done)*
            $(#[doc = $doc])*
            #[serde($(rename = $rename,)? borrow, default, deserialize_with = "de::cow_opt")]
            pub $field: Option<Cow<$lt, str>>,
        ] $($rest)*);
    };
    (@fields $head:tt $lt:lifetime [$($done:tt)*]
        $(#[doc = $doc:literal])* pub $field:ident: raw_opt, $($rest:tt)*
    ) => {
        payload!(@fields $head $lt [$($done)*
            $(#[doc = $doc])* #[serde(borrow, default)] pub $field: Option<&$lt RawValue>,
        ] $($rest)*);
    };
    (@fields $head:tt $lt:lifetime [$($done:tt)*]
        $(#[doc = $doc:literal])* pub $field:ident: Option<$ty:ident<$ty_lt:lifetime>>,
        $($rest:tt)*
    ) => {
        payload!(@fields $head $lt [$($done)*
            $(#[doc = $doc])* #[serde(borrow, default)] pub $field: Option<$ty<$ty_lt>>,
        ] $($rest)*);
    };
    (@fields $head:tt $lt:lifetime [$($done:tt)*]
        $(#[doc = $doc:literal])* pub $field:ident: $ty:ident<$ty_lt:lifetime>, $($rest:tt)*
    ) => {
        payload!(@fields $head $lt [$($done)*
            $(#[doc = $doc])* #[serde(borrow)] pub $field: $ty<$ty_lt>,
        ] $($rest)*);
    };
    (@fields $head:tt $lt:lifetime [$($done:tt)*]
        $(#[$attr:meta])* pub $field:ident: $ty:ty, $($rest:tt)*
    ) => {
        payload!(@fields $head $lt [$($done)* $(#[$attr])* pub $field: $ty,] $($rest)*);
    };
}

payload! {
    /// The `payload` of an `events_api` envelope (Slack: Events API → Callback field overview),
    /// with its `event` parsed as `E`: one of this module's event types, your own, or
    /// `serde_json::Value`.
    ///
    /// ```
    /// use syncord::slack::model::{EventCallback, MessageEvent};
    ///
    /// let payload = r#"{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456",
    ///     "event":{"type":"message","channel":"C123ABC456","user":"U123ABC456",
    ///              "text":"Hello world","ts":"1355517523.000005"},
    ///     "type":"event_callback","event_id":"Ev123ABC456","event_time":1355517523}"#;
    /// let callback: EventCallback<MessageEvent> = serde_json::from_str(payload)?;
    /// assert_eq!(callback.event_id.as_deref(), Some("Ev123ABC456"));
    /// assert_eq!(callback.event.text, "Hello world");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct EventCallback<'a, E> {
        /// `event_callback` (the only type Socket Mode delivers).
        #[serde(rename = "type")]
        pub kind: cow_or_empty,
        /// The workspace the event happened in.
        pub team_id: cow_opt,
        /// The app the event is for.
        pub api_app_id: cow_opt,
        /// The event's id, unique across workspaces: the same on every retry.
        pub event_id: cow_opt,
        /// When the event was dispatched, in Unix seconds.
        #[serde(default)]
        pub event_time: Option<i64>,
        /// The event itself.
        pub event: E,
    }

    /// A `message` event (Slack: Events API → `message` event), subtypes included: `subtype` is
    /// `None` for a plain user message and names the kind otherwise (`bot_message`,
    /// `message_changed`, `message_deleted`, `thread_broadcast`, …).
    ///
    /// `channel` and `ts` are required. For `message_changed` and `message_deleted` the message
    /// is in [`message`](MessageEvent::message) and
    /// [`previous_message`](MessageEvent::previous_message), raw: those nested messages have no
    /// `channel`.
    pub struct MessageEvent<'a> {
        /// The subtype, `None` for an ordinary message.
        pub subtype: cow_opt,
        /// The channel (`C…` public, `G…` private, `D…` direct message).
        pub channel: cow,
        /// `channel`, `group`, `im` or `mpim`.
        pub channel_type: cow_opt,
        /// The author, absent for some bot messages and subtypes.
        pub user: cow_opt,
        /// The text in Slack's markup (`<@U123>`, `&amp;`…); empty when absent.
        pub text: cow_or_empty,
        /// The message's timestamp: its id within the channel.
        pub ts: cow,
        /// The thread's parent `ts`, for replies in threads (and the parent itself).
        pub thread_ts: cow_opt,
        /// When the event happened (may differ from `ts` for edits and deletions).
        pub event_ts: cow_opt,
        /// The bot that posted it, for bot messages.
        pub bot_id: cow_opt,
        /// The app that posted it, for app messages.
        pub app_id: cow_opt,
        /// The author's workspace.
        pub team: cow_opt,
        /// The client's id for the message, for user messages.
        pub client_msg_id: cow_opt,
        /// The parent's author, for replies in threads.
        pub parent_user_id: cow_opt,
        /// The `ts` of the deleted message, for `message_deleted`.
        pub deleted_ts: cow_opt,
        /// Whether the message is hidden from the channel (some subtypes).
        #[serde(default)]
        pub hidden: bool,
        /// Who edited it and when, for edited messages.
        pub edited: Option<Edited<'a>>,
        /// The message's blocks (Slack: Block Kit), raw.
        pub blocks: raw_opt,
        /// The message as it is now, for `message_changed`, raw.
        pub message: raw_opt,
        /// The message as it was, for `message_changed` and `message_deleted`, raw.
        pub previous_message: raw_opt,
    }

    /// A message's `edited` field.
    pub struct Edited<'a> {
        /// Who edited it.
        pub user: cow_opt,
        /// When.
        pub ts: cow_opt,
    }

    /// An `app_mention` event (Slack: Events API → `app_mention` event): a message that
    /// mentions the app.
    pub struct AppMention<'a> {
        /// Who mentioned the app.
        pub user: cow_opt,
        /// The text, with the mention (`<@U0LAN0Z89> is it everything a river should be?`).
        pub text: cow_or_empty,
        /// The message's timestamp.
        pub ts: cow,
        /// The channel.
        pub channel: cow,
        /// When the event happened.
        pub event_ts: cow_opt,
        /// The thread's parent `ts`, for mentions in threads.
        pub thread_ts: cow_opt,
        /// The bot that mentioned the app, for bot messages.
        pub bot_id: cow_opt,
        /// The author's workspace.
        pub team: cow_opt,
        /// The message's blocks, raw.
        pub blocks: raw_opt,
    }

    /// A `reaction_added` event (Slack: Events API → `reaction_added` event).
    pub struct ReactionAdded<'a> {
        /// Who reacted.
        pub user: cow,
        /// The emoji's name, without colons (`thumbsup`, `+1::skin-tone-2`).
        pub reaction: cow,
        /// What was reacted to.
        pub item: ReactionItem<'a>,
        /// The author of what was reacted to.
        pub item_user: cow_opt,
        /// When the reaction was added.
        pub event_ts: cow_opt,
    }

    /// What a reaction is on: a message (`channel` and `ts`), a file (`file`) or a file
    /// comment.
    pub struct ReactionItem<'a> {
        /// `message`, `file` or `file_comment`.
        #[serde(rename = "type")]
        pub kind: cow,
        /// The message's channel.
        pub channel: cow_opt,
        /// The message's timestamp.
        pub ts: cow_opt,
        /// The file, for reactions on files and file comments.
        pub file: cow_opt,
        /// The comment, for reactions on file comments.
        pub file_comment: cow_opt,
    }

    /// The payload of a `slash_commands` envelope (Slack: Slash commands → "Preparing your app
    /// to receive commands"): the fields Slack posts for a command, as JSON.
    pub struct SlashCommand<'a> {
        /// The command, with its slash (`/weather`).
        pub command: cow,
        /// What followed the command (`94070`); empty when nothing did.
        pub text: cow_or_empty,
        /// Who ran it.
        pub user_id: cow,
        /// Their name (deprecated by Slack in favour of `user_id`).
        pub user_name: cow_opt,
        /// Where it was run.
        pub channel_id: cow_opt,
        /// The channel's name.
        pub channel_name: cow_opt,
        /// The workspace.
        pub team_id: cow_opt,
        /// The workspace's domain.
        pub team_domain: cow_opt,
        /// The Enterprise Grid organisation, if any.
        pub enterprise_id: cow_opt,
        /// Where to post delayed responses (up to 5 within 30 minutes).
        pub response_url: Option<ResponseUrl<'a>>,
        /// Opens a modal, within 3 seconds (Slack: Modals).
        pub trigger_id: cow_opt,
        /// The app the command belongs to.
        pub api_app_id: cow_opt,
    }

    /// A `block_actions` payload of an `interactive` envelope (Slack: Interactivity →
    /// `block_actions` payloads): a user clicked a button, picked an option, … in a message or
    /// a view.
    pub struct BlockActions<'a> {
        /// Who acted.
        pub user: InteractiveUser<'a>,
        /// What they did (usually one action).
        #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
        pub actions: Vec<Action<'a>>,
        /// Opens a modal, within 3 seconds.
        pub trigger_id: cow_opt,
        /// Where to post responses, for actions in messages.
        pub response_url: Option<ResponseUrl<'a>>,
        /// Where the action happened: a message or a view.
        pub container: Option<Container<'a>>,
        /// The channel, for actions in messages.
        pub channel: Option<IdName<'a>>,
        /// The workspace (`null` for org-wide apps).
        pub team: Option<Team<'a>>,
        /// The app.
        pub api_app_id: cow_opt,
        /// The message the action was in, raw.
        pub message: raw_opt,
        /// The view the action was in, raw.
        pub view: raw_opt,
    }

    /// One element of [`BlockActions::actions`].
    pub struct Action<'a> {
        /// The element's `action_id`.
        pub action_id: cow,
        /// The block it is in.
        pub block_id: cow_opt,
        /// The element's type (`button`, `static_select`, …).
        #[serde(rename = "type")]
        pub kind: cow_or_empty,
        /// A button's `value`.
        pub value: cow_opt,
        /// When it happened.
        pub action_ts: cow_opt,
        /// A menu's chosen option, raw (`{"text":{…},"value":"…"}`).
        pub selected_option: raw_opt,
    }

    /// A `view_submission` payload of an `interactive` envelope (Slack: Interactivity →
    /// `view_submission` payloads): a user submitted a modal. The acknowledgement may carry a
    /// `response_action` (`errors`, `update`, `push`, `clear`) as its payload.
    pub struct ViewSubmission<'a> {
        /// Who submitted.
        pub user: InteractiveUser<'a>,
        /// The submitted view.
        pub view: View<'a>,
        /// Opens another modal, within 3 seconds.
        pub trigger_id: cow_opt,
        /// The workspace.
        pub team: Option<Team<'a>>,
        /// The app.
        pub api_app_id: cow_opt,
    }

    /// A view (Slack: Reference → Views): a modal or an App Home tab.
    pub struct View<'a> {
        /// The view's id.
        pub id: cow,
        /// `modal` or `home`.
        #[serde(rename = "type")]
        pub kind: cow_opt,
        /// The id the app gave the view when it opened it.
        pub callback_id: cow_opt,
        /// What the app stored in the view when it opened it.
        pub private_metadata: cow_opt,
        /// The inputs' values.
        #[serde(default)]
        pub state: Option<ViewState>,
        /// The view's version, for `views.update`.
        pub hash: cow_opt,
    }

}

/// A view's `state`.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct ViewState {
    /// The inputs' values by block id, then action id:
    /// `{"block":{"action":{"type":"plain_text_input","value":"…"}}}`.
    #[serde(default)]
    pub values: serde_json::Value,
}

payload! {
    /// The user of an interactive payload.
    pub struct InteractiveUser<'a> {
        /// The user's id.
        pub id: cow,
        /// Their username.
        pub username: cow_opt,
        /// Their name.
        pub name: cow_opt,
        /// Their workspace.
        pub team_id: cow_opt,
    }

    /// A workspace in an interactive payload.
    pub struct Team<'a> {
        /// The workspace's id.
        pub id: cow,
        /// Its domain.
        pub domain: cow_opt,
    }

    /// An object with an `id` and maybe a `name` (a channel in an interactive payload).
    pub struct IdName<'a> {
        /// The id.
        pub id: cow,
        /// The name.
        pub name: cow_opt,
    }

    /// Where an interaction happened (`container`).
    pub struct Container<'a> {
        /// `message`, `message_attachment` or `view`.
        #[serde(rename = "type")]
        pub kind: cow_or_empty,
        /// The message's timestamp, for messages.
        pub message_ts: cow_opt,
        /// The message's channel, for messages.
        pub channel_id: cow_opt,
        /// Whether the message is ephemeral.
        #[serde(default)]
        pub is_ephemeral: bool,
        /// The view's id, for views.
        pub view_id: cow_opt,
    }
}

/// A `response_url`: posting to it answers in the channel, so `Debug` hides it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct ResponseUrl<'a>(#[serde(borrow)] Cow<'a, str>);

impl ResponseUrl<'_> {
    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResponseUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseUrl(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The payloads are Slack's documentation examples, with escapes added where Slack
    // sends them (`\/`, `\n`, quotes, emoji as surrogate pairs) and the secrets they carry.

    #[test]
    fn a_message_event_in_its_callback_keeps_escapes_unescaped() {
        let payload = r#"{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456",
            "event":{"type":"message","channel":"C123ABC456","user":"U123ABC456",
                "text":"two\nlines, \"quoted\" \ud83d\ude00 <https:\/\/example.com>",
                "ts":"1355517523.000005","channel_type":"channel","event_ts":"1355517523.000005",
                "blocks":[{"type":"rich_text"}],"unknown":{"nested":[1,2]}},
            "type":"event_callback","authed_users":["U123ABC456"],
            "event_id":"Ev123ABC456","event_time":1355517523}"#;
        let callback: EventCallback<MessageEvent> = serde_json::from_str(payload).unwrap();
        assert_eq!(callback.kind, "event_callback");
        assert_eq!(callback.team_id.as_deref(), Some("T123ABC456"));
        assert_eq!(callback.event_time, Some(1355517523));
        let message = &callback.event;
        assert_eq!(
            message.text,
            "two\nlines, \"quoted\" 😀 <https://example.com>"
        );
        assert!(matches!(message.channel, Cow::Borrowed("C123ABC456")));
        assert_eq!(message.channel_type.as_deref(), Some("channel"));
        assert_eq!(message.subtype, None);
        assert_eq!(message.blocks.unwrap().get(), r#"[{"type":"rich_text"}]"#);
        assert!(!format!("{callback:?}").contains("XXYYZZ"), "no token");
    }

    #[test]
    fn message_subtypes_parse_with_their_own_fields() {
        let bot = r#"{"type":"message","subtype":"bot_message","text":"Pushing is the answer",
            "ts":"1358877455.000010","channel":"C123ABC456","bot_id":"BB12033","username":"github"}"#;
        let bot: MessageEvent = serde_json::from_str(bot).unwrap();
        assert_eq!(bot.subtype.as_deref(), Some("bot_message"));
        assert_eq!(bot.bot_id.as_deref(), Some("BB12033"));
        assert_eq!(bot.user, None);

        let changed = r#"{"type":"message","subtype":"message_changed","hidden":true,
            "channel":"C123ABC456","ts":"1358878755.000001",
            "message":{"type":"message","user":"U123ABC456","text":"Hello, world!",
                "ts":"1355517523.000005","edited":{"user":"U123ABC456","ts":"1358878755.000001"}}}"#;
        let changed: MessageEvent = serde_json::from_str(changed).unwrap();
        assert!(changed.hidden);
        assert_eq!(changed.text, "", "no text of its own");
        let nested = changed.message.unwrap().get();
        assert!(
            serde_json::from_str::<MessageEvent>(nested).is_err(),
            "the nested message has no channel"
        );
        #[derive(Deserialize)]
        struct Nested<'a> {
            #[serde(borrow)]
            edited: Edited<'a>,
        }
        let nested: Nested = serde_json::from_str(nested).unwrap();
        assert_eq!(nested.edited.ts.as_deref(), Some("1358878755.000001"));

        let thread_reply = r#"{"type":"message","channel":"C1","user":"U1","text":"reply",
            "ts":"1482960137.003543","thread_ts":"1482960137.003543","parent_user_id":"U2"}"#;
        let reply: MessageEvent = serde_json::from_str(thread_reply).unwrap();
        assert_eq!(reply.thread_ts.as_deref(), Some("1482960137.003543"));
        assert_eq!(reply.parent_user_id.as_deref(), Some("U2"));
    }

    #[test]
    fn a_message_without_channel_or_ts_does_not_parse() {
        assert!(serde_json::from_str::<MessageEvent>(r#"{"type":"message","ts":"1"}"#).is_err());
        assert!(
            serde_json::from_str::<MessageEvent>(r#"{"type":"message","channel":"C"}"#).is_err()
        );
    }

    #[test]
    fn an_app_mention_like_slacks_example() {
        let event = r#"{"type":"app_mention","user":"U061F7AUR",
            "text":"<@U0LAN0Z89> is it everything a river should be?",
            "ts":"1515449522.000016","channel":"C123ABC456","event_ts":"1515449522000016"}"#;
        let mention: AppMention = serde_json::from_str(event).unwrap();
        assert_eq!(mention.user.as_deref(), Some("U061F7AUR"));
        assert!(mention.text.starts_with("<@U0LAN0Z89> is it"));
        assert_eq!(mention.event_ts.as_deref(), Some("1515449522000016"));
        assert_eq!(mention.thread_ts, None);
    }

    #[test]
    fn a_reaction_added_on_a_message_and_on_a_file() {
        let on_message = r#"{"type":"reaction_added","user":"U123ABC456","reaction":"thumbsup",
            "item_user":"U222222222","item":{"type":"message","channel":"C123ABC456",
            "ts":"1360782400.498405"},"event_ts":"1360782804.083113"}"#;
        let reaction: ReactionAdded = serde_json::from_str(on_message).unwrap();
        assert_eq!(reaction.reaction, "thumbsup");
        assert_eq!(reaction.item.kind, "message");
        assert_eq!(reaction.item.channel.as_deref(), Some("C123ABC456"));
        assert_eq!(reaction.item.ts.as_deref(), Some("1360782400.498405"));
        assert_eq!(reaction.item_user.as_deref(), Some("U222222222"));

        let on_file = r#"{"type":"reaction_added","user":"U1","reaction":"+1::skin-tone-2",
            "item":{"type":"file","file":"F123ABC456"},"event_ts":"1"}"#;
        let reaction: ReactionAdded = serde_json::from_str(on_file).unwrap();
        assert_eq!(reaction.item.file.as_deref(), Some("F123ABC456"));
        assert_eq!(reaction.item.channel, None);
    }

    #[test]
    fn a_slash_command_hides_its_token_and_response_url() {
        let payload = r#"{"token":"gIkuvaNzQIHg97ATvDxqgjtO","team_id":"T0001",
            "team_domain":"example","enterprise_id":"E0001","enterprise_name":"Globular%20Construct%20Inc",
            "channel_id":"C2147483705","channel_name":"test","user_id":"U2147483697",
            "user_name":"Steve","command":"\/weather","text":"94070 \"tomorrow\"\n\u00e9t\u00e9",
            "response_url":"https:\/\/hooks.slack.com\/commands\/1234\/5678",
            "trigger_id":"13345224609.738474920.8088930838d88f008e0","api_app_id":"A123456",
            "is_enterprise_install":"false"}"#;
        let command: SlashCommand = serde_json::from_str(payload).unwrap();
        assert_eq!(command.command, "/weather");
        assert_eq!(command.text, "94070 \"tomorrow\"\nété");
        assert_eq!(command.user_id, "U2147483697");
        assert_eq!(command.channel_id.as_deref(), Some("C2147483705"));
        assert_eq!(
            command.response_url.as_ref().map(ResponseUrl::as_str),
            Some("https://hooks.slack.com/commands/1234/5678")
        );
        let debug = format!("{command:?}");
        assert!(!debug.contains("gIkuvaNz"), "{debug}");
        assert!(!debug.contains("hooks.slack.com"), "{debug}");
        assert!(
            debug.contains("<redacted>") && debug.contains("/weather"),
            "{debug}"
        );
    }

    #[test]
    fn a_slash_command_with_no_text() {
        let payload = r#"{"command":"/ping","user_id":"U1"}"#;
        let command: SlashCommand = serde_json::from_str(payload).unwrap();
        assert_eq!(command.text, "");
        assert!(command.response_url.is_none());
    }

    #[test]
    fn block_actions_like_slacks_example() {
        let payload = r#"{"type":"block_actions","team":{"id":"T9TK3CUKW","domain":"example"},
            "user":{"id":"UA8RXUSPL","username":"jtorrance","name":"jtorrance","team_id":"T9TK3CUKW"},
            "api_app_id":"AABA1ABCD","token":"9s8d9as89d8as9d8as989",
            "container":{"type":"message_attachment","message_ts":"1548261231.000200",
                "attachment_id":1,"channel_id":"CBR2V3XEX","is_ephemeral":false,"is_app_unfurl":false},
            "trigger_id":"12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
            "channel":{"id":"CBR2V3XEX","name":"review-updates"},
            "message":{"bot_id":"BAH5CA16Z","type":"message","text":"This content can't be displayed.",
                "user":"UAJ2RU415","ts":"1548261231.000200"},
            "response_url":"https:\/\/hooks.slack.com\/actions\/AABA1ABCD\/1232321423432\/D09sSasdasdAS9091209",
            "actions":[{"action_id":"WaXA","block_id":"=qXel","text":{"type":"plain_text","text":"View",
                "emoji":true},"value":"click_me_123","type":"button","action_ts":"1548426417.840180"},
                {"action_id":"pick","block_id":"b2","type":"static_select",
                "selected_option":{"text":{"type":"plain_text","text":"\ud83c\udf55 Pizza"},"value":"pizza"}}]}"#;
        let actions: BlockActions = serde_json::from_str(payload).unwrap();
        assert_eq!(actions.user.id, "UA8RXUSPL");
        assert_eq!(actions.user.username.as_deref(), Some("jtorrance"));
        assert_eq!(actions.actions.len(), 2);
        let button = &actions.actions[0];
        assert_eq!(
            (
                &*button.action_id,
                button.block_id.as_deref(),
                &*button.kind
            ),
            ("WaXA", Some("=qXel"), "button")
        );
        assert_eq!(button.value.as_deref(), Some("click_me_123"));
        let select = &actions.actions[1];
        let option: serde_json::Value =
            serde_json::from_str(select.selected_option.unwrap().get()).unwrap();
        assert_eq!(option["text"]["text"], "🍕 Pizza");
        let container = actions.container.as_ref().unwrap();
        assert_eq!(container.kind, "message_attachment");
        assert_eq!(container.channel_id.as_deref(), Some("CBR2V3XEX"));
        assert_eq!(
            actions.channel.as_ref().unwrap().name.as_deref(),
            Some("review-updates")
        );
        assert_eq!(
            actions.team.as_ref().unwrap().domain.as_deref(),
            Some("example")
        );
        assert!(actions.message.is_some());
        let debug = format!("{actions:?}");
        assert!(
            !debug.contains("9s8d9as8") && !debug.contains("hooks.slack.com"),
            "{debug}"
        );
    }

    #[test]
    fn a_view_submission_with_its_state_values() {
        let payload = r#"{"type":"view_submission","team":{"id":"T3MDE","domain":"d"},
            "user":{"id":"U0CA5","username":"Amy McGee","name":"Amy McGee","team_id":"T3MDE"},
            "api_app_id":"A0CA5","token":"Shh_its_a_seekrit",
            "trigger_id":"12345.98765.abcd2358fdea",
            "view":{"id":"VNHU13V36","type":"modal","title":{"type":"plain_text","text":"Modal"},
                "private_metadata":"shhh-its-secret","callback_id":"modal-with-inputs",
                "state":{"values":{"multi-line":{"ml-value":{"type":"plain_text_input",
                    "value":"This is my example\ninputted value"}}}},
                "hash":"156663117.cd33ad1f"},
            "response_urls":[],"is_enterprise_install":false}"#;
        let submission: ViewSubmission = serde_json::from_str(payload).unwrap();
        assert_eq!(submission.user.name.as_deref(), Some("Amy McGee"));
        let view = &submission.view;
        assert_eq!(view.id, "VNHU13V36");
        assert_eq!(view.kind.as_deref(), Some("modal"));
        assert_eq!(view.callback_id.as_deref(), Some("modal-with-inputs"));
        assert_eq!(view.private_metadata.as_deref(), Some("shhh-its-secret"));
        let values = &view.state.as_ref().unwrap().values;
        assert_eq!(
            values["multi-line"]["ml-value"]["value"],
            "This is my example\ninputted value"
        );
        assert!(!format!("{submission:?}").contains("seekrit"));
    }

    #[test]
    fn interactive_payloads_need_a_user() {
        assert!(
            serde_json::from_str::<BlockActions>(r#"{"type":"block_actions","actions":[]}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<ViewSubmission>(r#"{"user":{"id":"U"}}"#).is_err());
    }

    #[test]
    fn null_where_slack_sends_null_is_none() {
        let payload = r#"{"type":"block_actions","user":{"id":"U","username":null},
            "team":null,"channel":null,"actions":null,"container":null,"response_url":null}"#;
        let actions: BlockActions = serde_json::from_str(payload).unwrap();
        assert!(actions.team.is_none() && actions.channel.is_none());
        assert!(actions.actions.is_empty() && actions.response_url.is_none());
    }
}
