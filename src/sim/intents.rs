//! What the gateway sends under a session's intents (Discord: Gateway → Gateway Intents,
//! and its "Message Content Intent" section): dispatches tied to an intent the session did
//! not identify with are not sent, and without `MESSAGE_CONTENT` a message's `content`,
//! `embeds`, `attachments`, `components` and `poll` arrive empty, except in DMs, in messages
//! that mention the bot and in the bot's own messages.

use crate::dispatch::required_intents;
use crate::Intents;
use serde_json::Value;
use std::borrow::Cow;

use super::payload::BOT_USER_ID;

/// Intents that enable an event in guilds, as opposed to DMs.
const GUILD_SIDE: Intents = Intents::GUILDS
    .union(Intents::GUILD_MESSAGES)
    .union(Intents::GUILD_MESSAGE_REACTIONS)
    .union(Intents::GUILD_MESSAGE_TYPING)
    .union(Intents::GUILD_MESSAGE_POLLS);

/// The intents that enable an event in DMs.
const DM_SIDE: Intents = Intents::DIRECT_MESSAGES
    .union(Intents::DIRECT_MESSAGE_REACTIONS)
    .union(Intents::DIRECT_MESSAGE_TYPING)
    .union(Intents::DIRECT_MESSAGE_POLLS);

/// The `d` to send for dispatch `event` to a session identified with `intents`, or `None`
/// when Discord would not send it at all.
pub(crate) fn gate<'d>(intents: Intents, event: &str, data_json: &'d str) -> Option<Cow<'d, str>> {
    let content_event = matches!(event, "MESSAGE_CREATE" | "MESSAGE_UPDATE");
    let blank = content_event && !intents.contains(Intents::MESSAGE_CONTENT);
    let Some(needs) = required_intents(event) else {
        return Some(Cow::Borrowed(data_json));
    };
    let split = needs.intersects(GUILD_SIDE) && needs.intersects(DM_SIDE);
    let covered = intents.intersects(needs);
    let own_member = event == "GUILD_MEMBER_UPDATE";
    // Most cases are decided without reading `d`.
    if !covered && !split && !own_member {
        return None;
    }
    if covered && !blank && (!split || intents.contains(needs)) {
        return Some(Cow::Borrowed(data_json));
    }
    let Ok(mut d) = serde_json::from_str::<Value>(data_json) else {
        // Not an object we can read: sent as it is when any of its intents is there.
        return covered.then_some(Cow::Borrowed(data_json));
    };
    let in_guild = d.get("guild_id").is_some_and(|g| !g.is_null());
    let allowed = if split {
        let side = if in_guild { GUILD_SIDE } else { DM_SIDE };
        intents.intersects(needs & side)
    } else if own_member && !covered {
        // The bot's own member update comes without GUILD_MEMBERS.
        d.pointer("/user/id").is_some_and(is_bot_id)
    } else {
        covered
    };
    if !allowed {
        return None;
    }
    if !blank || !in_guild || from_or_mentions_bot(&d) {
        return Some(Cow::Borrowed(data_json));
    }
    if let Some(message) = d.as_object_mut() {
        for (key, empty) in [
            ("content", Value::String(String::new())),
            ("embeds", Value::Array(Vec::new())),
            ("attachments", Value::Array(Vec::new())),
            ("components", Value::Array(Vec::new())),
        ] {
            if let Some(value) = message.get_mut(key) {
                *value = empty;
            }
        }
        message.remove("poll");
    }
    Some(Cow::Owned(d.to_string()))
}

/// Whether `id` is the simulated bot's user id (READY's `user`).
fn is_bot_id(id: &Value) -> bool {
    id.as_str().and_then(|id| id.parse::<u64>().ok()) == Some(BOT_USER_ID)
}

fn from_or_mentions_bot(d: &Value) -> bool {
    let is_bot = |user: &Value| user.get("id").is_some_and(is_bot_id);
    d.get("author").is_some_and(is_bot)
        || d.get("mentions")
            .and_then(Value::as_array)
            .is_some_and(|mentions| mentions.iter().any(is_bot))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUILD_MESSAGE: &str = r#"{"id":"1","channel_id":"2","guild_id":"3","author":{"id":"42"},"content":"secret","embeds":[{"title":"t"}],"attachments":[{"id":"9"}],"components":[{"type":1}],"poll":{"question":{}},"mentions":[]}"#;

    fn field(json: &str, key: &str) -> Value {
        serde_json::from_str::<Value>(json).unwrap()[key].clone()
    }

    #[test]
    fn events_of_intents_not_identified_are_not_sent() {
        assert!(gate(Intents::GUILDS, "GUILD_MEMBER_ADD", "{}").is_none());
        assert!(gate(Intents::GUILD_MEMBERS, "GUILD_MEMBER_ADD", "{}").is_some());
        assert!(gate(Intents::empty(), "GUILD_CREATE", "{}").is_none());
        assert!(gate(Intents::GUILDS, "PRESENCE_UPDATE", "{}").is_none());
        // Intent-free and unknown events always come.
        assert!(gate(Intents::empty(), "INTERACTION_CREATE", "{}").is_some());
        assert!(gate(Intents::empty(), "TEST_EVENT", "not json").is_some());
    }

    #[test]
    fn guild_and_dm_messages_need_their_own_intent() {
        let dm = r#"{"channel_id":"2","author":{"id":"42"},"content":"hi"}"#;
        assert!(gate(Intents::GUILD_MESSAGES, "MESSAGE_CREATE", GUILD_MESSAGE).is_some());
        assert!(gate(Intents::GUILD_MESSAGES, "MESSAGE_CREATE", dm).is_none());
        assert!(gate(Intents::DIRECT_MESSAGES, "MESSAGE_CREATE", dm).is_some());
        assert!(gate(Intents::DIRECT_MESSAGES, "MESSAGE_CREATE", GUILD_MESSAGE).is_none());
        let typing = r#"{"channel_id":"2","guild_id":"3","user_id":"4"}"#;
        assert!(gate(Intents::DIRECT_MESSAGE_TYPING, "TYPING_START", typing).is_none());
        assert!(gate(Intents::GUILD_MESSAGE_TYPING, "TYPING_START", typing).is_some());
    }

    #[test]
    fn without_message_content_guild_messages_arrive_blank() {
        let sent = gate(Intents::GUILD_MESSAGES, "MESSAGE_CREATE", GUILD_MESSAGE).unwrap();
        assert_eq!(field(&sent, "content"), "");
        for key in ["embeds", "attachments", "components"] {
            assert_eq!(field(&sent, key), Value::Array(vec![]), "{key}");
        }
        assert_eq!(field(&sent, "poll"), Value::Null);
        assert_eq!(field(&sent, "id"), "1", "the rest is kept");
        let with = gate(
            Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT,
            "MESSAGE_CREATE",
            GUILD_MESSAGE,
        )
        .unwrap();
        assert_eq!(field(&with, "content"), "secret");
    }

    #[test]
    fn dms_mentions_of_the_bot_and_its_own_messages_keep_their_content() {
        let dm = r#"{"channel_id":"2","author":{"id":"42"},"content":"hi"}"#;
        assert_eq!(
            field(
                &gate(Intents::DIRECT_MESSAGES, "MESSAGE_CREATE", dm).unwrap(),
                "content"
            ),
            "hi"
        );
        let mention = GUILD_MESSAGE.replace(
            r#""mentions":[]"#,
            &format!(r#""mentions":[{{"id":"{BOT_USER_ID}"}}]"#),
        );
        let sent = gate(Intents::GUILD_MESSAGES, "MESSAGE_CREATE", &mention).unwrap();
        assert_eq!(field(&sent, "content"), "secret");
        let own = GUILD_MESSAGE.replace(
            r#""author":{"id":"42"}"#,
            &format!(r#""author":{{"id":"{BOT_USER_ID}"}}"#),
        );
        let sent = gate(Intents::GUILD_MESSAGES, "MESSAGE_UPDATE", &own).unwrap();
        assert_eq!(field(&sent, "content"), "secret");
    }

    #[test]
    fn the_bots_own_member_update_comes_without_guild_members() {
        let own = format!(r#"{{"guild_id":"3","user":{{"id":"{BOT_USER_ID}"}},"roles":[]}}"#);
        let other = r#"{"guild_id":"3","user":{"id":"42"},"roles":[]}"#;
        assert!(gate(Intents::GUILDS, "GUILD_MEMBER_UPDATE", &own).is_some());
        assert!(gate(Intents::GUILDS, "GUILD_MEMBER_UPDATE", other).is_none());
    }
}
