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
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct EventCallback<'a, E> {
    /// `event_callback` (the only type Socket Mode delivers).
    #[serde(
        rename = "type",
        borrow,
        default,
        deserialize_with = "de::cow_or_empty"
    )]
    pub kind: Cow<'a, str>,
    /// The workspace the event happened in.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub team_id: Option<Cow<'a, str>>,
    /// The app the event is for.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub api_app_id: Option<Cow<'a, str>>,
    /// The event's id, unique across workspaces: the same on every retry.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub event_id: Option<Cow<'a, str>>,
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
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct MessageEvent<'a> {
    /// The subtype, `None` for an ordinary message.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub subtype: Option<Cow<'a, str>>,
    /// The channel (`C…` public, `G…` private, `D…` direct message).
    #[serde(borrow)]
    pub channel: Cow<'a, str>,
    /// `channel`, `group`, `im` or `mpim`.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub channel_type: Option<Cow<'a, str>>,
    /// The author, absent for some bot messages and subtypes.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub user: Option<Cow<'a, str>>,
    /// The text in Slack's markup (`<@U123>`, `&amp;`…); empty when absent.
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub text: Cow<'a, str>,
    /// The message's timestamp: its id within the channel.
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    /// The thread's parent `ts`, for replies in threads (and the parent itself).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub thread_ts: Option<Cow<'a, str>>,
    /// When the event happened (may differ from `ts` for edits and deletions).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub event_ts: Option<Cow<'a, str>>,
    /// The bot that posted it, for bot messages.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub bot_id: Option<Cow<'a, str>>,
    /// The app that posted it, for app messages.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub app_id: Option<Cow<'a, str>>,
    /// The author's workspace.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub team: Option<Cow<'a, str>>,
    /// The client's id for the message, for user messages.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub client_msg_id: Option<Cow<'a, str>>,
    /// The parent's author, for replies in threads.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub parent_user_id: Option<Cow<'a, str>>,
    /// The `ts` of the deleted message, for `message_deleted`.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub deleted_ts: Option<Cow<'a, str>>,
    /// Whether the message is hidden from the channel (some subtypes).
    #[serde(default)]
    pub hidden: bool,
    /// Who edited it and when, for edited messages.
    #[serde(borrow, default)]
    pub edited: Option<Edited<'a>>,
    /// The message's blocks (Slack: Block Kit), raw.
    #[serde(borrow, default)]
    pub blocks: Option<&'a RawValue>,
    /// The message as it is now, for `message_changed`, raw.
    #[serde(borrow, default)]
    pub message: Option<&'a RawValue>,
    /// The message as it was, for `message_changed` and `message_deleted`, raw.
    #[serde(borrow, default)]
    pub previous_message: Option<&'a RawValue>,
}

/// A message's `edited` field.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Edited<'a> {
    /// Who edited it.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub user: Option<Cow<'a, str>>,
    /// When.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub ts: Option<Cow<'a, str>>,
}

/// An `app_mention` event (Slack: Events API → `app_mention` event): a message that
/// mentions the app.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct AppMention<'a> {
    /// Who mentioned the app.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub user: Option<Cow<'a, str>>,
    /// The text, with the mention (`<@U0LAN0Z89> is it everything a river should be?`).
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub text: Cow<'a, str>,
    /// The message's timestamp.
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    /// The channel.
    #[serde(borrow)]
    pub channel: Cow<'a, str>,
    /// When the event happened.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub event_ts: Option<Cow<'a, str>>,
    /// The thread's parent `ts`, for mentions in threads.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub thread_ts: Option<Cow<'a, str>>,
    /// The bot that mentioned the app, for bot messages.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub bot_id: Option<Cow<'a, str>>,
    /// The author's workspace.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub team: Option<Cow<'a, str>>,
    /// The message's blocks, raw.
    #[serde(borrow, default)]
    pub blocks: Option<&'a RawValue>,
}

/// A `reaction_added` event (Slack: Events API → `reaction_added` event).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct ReactionAdded<'a> {
    /// Who reacted.
    #[serde(borrow)]
    pub user: Cow<'a, str>,
    /// The emoji's name, without colons (`thumbsup`, `+1::skin-tone-2`).
    #[serde(borrow)]
    pub reaction: Cow<'a, str>,
    /// What was reacted to.
    #[serde(borrow)]
    pub item: ReactionItem<'a>,
    /// The author of what was reacted to.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub item_user: Option<Cow<'a, str>>,
    /// When the reaction was added.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub event_ts: Option<Cow<'a, str>>,
}

/// What a reaction is on: a message (`channel` and `ts`), a file (`file`) or a file
/// comment.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct ReactionItem<'a> {
    /// `message`, `file` or `file_comment`.
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    /// The message's channel.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub channel: Option<Cow<'a, str>>,
    /// The message's timestamp.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub ts: Option<Cow<'a, str>>,
    /// The file, for reactions on files and file comments.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub file: Option<Cow<'a, str>>,
    /// The comment, for reactions on file comments.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub file_comment: Option<Cow<'a, str>>,
}

/// The payload of a `slash_commands` envelope (Slack: Slash commands → "Preparing your app
/// to receive commands"): the fields Slack posts for a command, as JSON.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct SlashCommand<'a> {
    /// The command, with its slash (`/weather`).
    #[serde(borrow)]
    pub command: Cow<'a, str>,
    /// What followed the command (`94070`); empty when nothing did.
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub text: Cow<'a, str>,
    /// Who ran it.
    #[serde(borrow)]
    pub user_id: Cow<'a, str>,
    /// Their name (deprecated by Slack in favour of `user_id`).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub user_name: Option<Cow<'a, str>>,
    /// Where it was run.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub channel_id: Option<Cow<'a, str>>,
    /// The channel's name.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub channel_name: Option<Cow<'a, str>>,
    /// The workspace.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub team_id: Option<Cow<'a, str>>,
    /// The workspace's domain.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub team_domain: Option<Cow<'a, str>>,
    /// The Enterprise Grid organisation, if any.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub enterprise_id: Option<Cow<'a, str>>,
    /// Where to post delayed responses (up to 5 within 30 minutes).
    #[serde(borrow, default)]
    pub response_url: Option<ResponseUrl<'a>>,
    /// Opens a modal, within 3 seconds (Slack: Modals).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub trigger_id: Option<Cow<'a, str>>,
    /// The app the command belongs to.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub api_app_id: Option<Cow<'a, str>>,
}

/// A `block_actions` payload of an `interactive` envelope (Slack: Interactivity →
/// `block_actions` payloads): a user clicked a button, picked an option, … in a message or
/// a view.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct BlockActions<'a> {
    /// Who acted.
    #[serde(borrow)]
    pub user: InteractiveUser<'a>,
    /// What they did (usually one action).
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub actions: Vec<Action<'a>>,
    /// Opens a modal, within 3 seconds.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub trigger_id: Option<Cow<'a, str>>,
    /// Where to post responses, for actions in messages.
    #[serde(borrow, default)]
    pub response_url: Option<ResponseUrl<'a>>,
    /// Where the action happened: a message or a view.
    #[serde(borrow, default)]
    pub container: Option<Container<'a>>,
    /// The channel, for actions in messages.
    #[serde(borrow, default)]
    pub channel: Option<IdName<'a>>,
    /// The workspace (`null` for org-wide apps).
    #[serde(borrow, default)]
    pub team: Option<Team<'a>>,
    /// The app.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub api_app_id: Option<Cow<'a, str>>,
    /// The message the action was in, raw.
    #[serde(borrow, default)]
    pub message: Option<&'a RawValue>,
    /// The view the action was in, raw.
    #[serde(borrow, default)]
    pub view: Option<&'a RawValue>,
}

/// One element of [`BlockActions::actions`].
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Action<'a> {
    /// The element's `action_id`.
    #[serde(borrow)]
    pub action_id: Cow<'a, str>,
    /// The block it is in.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub block_id: Option<Cow<'a, str>>,
    /// The element's type (`button`, `static_select`, …).
    #[serde(
        rename = "type",
        borrow,
        default,
        deserialize_with = "de::cow_or_empty"
    )]
    pub kind: Cow<'a, str>,
    /// A button's `value`.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub value: Option<Cow<'a, str>>,
    /// When it happened.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub action_ts: Option<Cow<'a, str>>,
    /// A menu's chosen option, raw (`{"text":{…},"value":"…"}`).
    #[serde(borrow, default)]
    pub selected_option: Option<&'a RawValue>,
}

/// A `view_submission` payload of an `interactive` envelope (Slack: Interactivity →
/// `view_submission` payloads): a user submitted a modal. The acknowledgement may carry a
/// `response_action` (`errors`, `update`, `push`, `clear`) as its payload.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct ViewSubmission<'a> {
    /// Who submitted.
    #[serde(borrow)]
    pub user: InteractiveUser<'a>,
    /// The submitted view.
    #[serde(borrow)]
    pub view: View<'a>,
    /// Opens another modal, within 3 seconds.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub trigger_id: Option<Cow<'a, str>>,
    /// The workspace.
    #[serde(borrow, default)]
    pub team: Option<Team<'a>>,
    /// The app.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub api_app_id: Option<Cow<'a, str>>,
}

/// A view (Slack: Reference → Views): a modal or an App Home tab.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct View<'a> {
    /// The view's id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// `modal` or `home`.
    #[serde(rename = "type", borrow, default, deserialize_with = "de::cow_opt")]
    pub kind: Option<Cow<'a, str>>,
    /// The id the app gave the view when it opened it.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub callback_id: Option<Cow<'a, str>>,
    /// What the app stored in the view when it opened it.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub private_metadata: Option<Cow<'a, str>>,
    /// The inputs' values.
    #[serde(default)]
    pub state: Option<ViewState>,
    /// The view's version, for `views.update`.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub hash: Option<Cow<'a, str>>,
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

/// The user of an interactive payload.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct InteractiveUser<'a> {
    /// The user's id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Their username.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub username: Option<Cow<'a, str>>,
    /// Their name.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub name: Option<Cow<'a, str>>,
    /// Their workspace.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub team_id: Option<Cow<'a, str>>,
}

/// A workspace in an interactive payload.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Team<'a> {
    /// The workspace's id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Its domain.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub domain: Option<Cow<'a, str>>,
}

/// An object with an `id` and maybe a `name` (a channel in an interactive payload).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct IdName<'a> {
    /// The id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// The name.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub name: Option<Cow<'a, str>>,
}

/// Where an interaction happened (`container`).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Container<'a> {
    /// `message`, `message_attachment` or `view`.
    #[serde(
        rename = "type",
        borrow,
        default,
        deserialize_with = "de::cow_or_empty"
    )]
    pub kind: Cow<'a, str>,
    /// The message's timestamp, for messages.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub message_ts: Option<Cow<'a, str>>,
    /// The message's channel, for messages.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub channel_id: Option<Cow<'a, str>>,
    /// Whether the message is ephemeral.
    #[serde(default)]
    pub is_ephemeral: bool,
    /// The view's id, for views.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub view_id: Option<Cow<'a, str>>,
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
