//! Which intents each dispatch needs (Discord: Gateway → Gateway Intents, the table of
//! intents and the events they enable).

use crate::Intents;
use std::fmt;

/// The intents under which Discord sends the dispatch `event` (any one of them is enough:
/// MESSAGE_CREATE comes with `GUILD_MESSAGES` for guild messages, `DIRECT_MESSAGES` for
/// DMs). `None` for dispatches that need no intent (READY, INTERACTION_CREATE,
/// GUILD_MEMBERS_CHUNK, …) and for names this table does not know.
///
/// ```
/// use syncord::{dispatch::required_intents, Intents};
/// assert_eq!(required_intents("GUILD_MEMBER_ADD"), Some(Intents::GUILD_MEMBERS));
/// assert_eq!(
///     required_intents("MESSAGE_CREATE"),
///     Some(Intents::GUILD_MESSAGES | Intents::DIRECT_MESSAGES)
/// );
/// assert_eq!(required_intents("INTERACTION_CREATE"), None);
/// ```
pub fn required_intents(event: &str) -> Option<Intents> {
    use Intents as I;
    let intents = match event {
        "GUILD_CREATE"
        | "GUILD_UPDATE"
        | "GUILD_DELETE"
        | "GUILD_ROLE_CREATE"
        | "GUILD_ROLE_UPDATE"
        | "GUILD_ROLE_DELETE"
        | "CHANNEL_CREATE"
        | "CHANNEL_UPDATE"
        | "CHANNEL_DELETE"
        | "THREAD_CREATE"
        | "THREAD_UPDATE"
        | "THREAD_DELETE"
        | "THREAD_LIST_SYNC"
        | "THREAD_MEMBER_UPDATE"
        | "STAGE_INSTANCE_CREATE"
        | "STAGE_INSTANCE_UPDATE"
        | "STAGE_INSTANCE_DELETE"
        | "VOICE_CHANNEL_STATUS_UPDATE"
        | "VOICE_CHANNEL_START_TIME_UPDATE" => I::GUILDS,
        // With GUILDS alone, only for the bot itself; with GUILD_MEMBERS for everyone.
        "THREAD_MEMBERS_UPDATE" => I::GUILDS | I::GUILD_MEMBERS,
        // GUILD_MEMBER_UPDATE of the bot's own member also comes without GUILD_MEMBERS.
        "GUILD_MEMBER_ADD" | "GUILD_MEMBER_UPDATE" | "GUILD_MEMBER_REMOVE" => I::GUILD_MEMBERS,
        "GUILD_AUDIT_LOG_ENTRY_CREATE" | "GUILD_BAN_ADD" | "GUILD_BAN_REMOVE" => {
            I::GUILD_MODERATION
        }
        "GUILD_EMOJIS_UPDATE"
        | "GUILD_STICKERS_UPDATE"
        | "GUILD_SOUNDBOARD_SOUND_CREATE"
        | "GUILD_SOUNDBOARD_SOUND_UPDATE"
        | "GUILD_SOUNDBOARD_SOUND_DELETE"
        | "GUILD_SOUNDBOARD_SOUNDS_UPDATE" => I::GUILD_EXPRESSIONS,
        "GUILD_INTEGRATIONS_UPDATE"
        | "INTEGRATION_CREATE"
        | "INTEGRATION_UPDATE"
        | "INTEGRATION_DELETE" => I::GUILD_INTEGRATIONS,
        "WEBHOOKS_UPDATE" => I::GUILD_WEBHOOKS,
        "INVITE_CREATE" | "INVITE_DELETE" => I::GUILD_INVITES,
        "VOICE_CHANNEL_EFFECT_SEND" | "VOICE_STATE_UPDATE" => I::GUILD_VOICE_STATES,
        "PRESENCE_UPDATE" => I::GUILD_PRESENCES,
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" => {
            I::GUILD_MESSAGES | I::DIRECT_MESSAGES
        }
        "MESSAGE_DELETE_BULK" => I::GUILD_MESSAGES,
        "CHANNEL_PINS_UPDATE" => I::GUILDS | I::DIRECT_MESSAGES,
        "MESSAGE_REACTION_ADD"
        | "MESSAGE_REACTION_REMOVE"
        | "MESSAGE_REACTION_REMOVE_ALL"
        | "MESSAGE_REACTION_REMOVE_EMOJI" => {
            I::GUILD_MESSAGE_REACTIONS | I::DIRECT_MESSAGE_REACTIONS
        }
        "TYPING_START" => I::GUILD_MESSAGE_TYPING | I::DIRECT_MESSAGE_TYPING,
        "GUILD_SCHEDULED_EVENT_CREATE"
        | "GUILD_SCHEDULED_EVENT_UPDATE"
        | "GUILD_SCHEDULED_EVENT_DELETE"
        | "GUILD_SCHEDULED_EVENT_USER_ADD"
        | "GUILD_SCHEDULED_EVENT_USER_REMOVE" => I::GUILD_SCHEDULED_EVENTS,
        "AUTO_MODERATION_RULE_CREATE"
        | "AUTO_MODERATION_RULE_UPDATE"
        | "AUTO_MODERATION_RULE_DELETE" => I::AUTO_MODERATION_CONFIGURATION,
        "AUTO_MODERATION_ACTION_EXECUTION" => I::AUTO_MODERATION_EXECUTION,
        "MESSAGE_POLL_VOTE_ADD" | "MESSAGE_POLL_VOTE_REMOVE" => {
            I::GUILD_MESSAGE_POLLS | I::DIRECT_MESSAGE_POLLS
        }
        _ => return None,
    };
    Some(intents)
}

/// A handler whose event cannot arrive under the intents a shard identifies with, from
/// [`Dispatcher::check`](super::Dispatcher::check).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingIntent {
    /// The handler's event, e.g. `GUILD_MEMBER_ADD`.
    pub event: String,
    /// The intents that would bring it (any one of them).
    pub needs: Intents,
}

impl fmt::Display for MissingIntent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needs = self.needs.names().join(" or ");
        write!(
            f,
            "the handler for {} never fires: the shard identifies without {needs}",
            self.event
        )?;
        let privileged = self.needs.privileged();
        if self.needs == privileged {
            write!(
                f,
                " (privileged: enable it for the application in the Developer Portal, then add it with Dispatcher::add_intents or to the Config's intents)"
            )
        } else {
            write!(f, " (add it to the Config's intents)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_intent_but_message_content_enables_some_event() {
        let names = [
            "GUILD_CREATE",
            "GUILD_MEMBER_ADD",
            "GUILD_BAN_ADD",
            "GUILD_EMOJIS_UPDATE",
            "INTEGRATION_CREATE",
            "WEBHOOKS_UPDATE",
            "INVITE_CREATE",
            "VOICE_STATE_UPDATE",
            "PRESENCE_UPDATE",
            "MESSAGE_CREATE",
            "MESSAGE_REACTION_ADD",
            "TYPING_START",
            "GUILD_SCHEDULED_EVENT_CREATE",
            "AUTO_MODERATION_RULE_CREATE",
            "AUTO_MODERATION_ACTION_EXECUTION",
            "MESSAGE_POLL_VOTE_ADD",
        ];
        let covered = names
            .iter()
            .filter_map(|name| required_intents(name))
            .fold(Intents::empty(), |all, i| all | i);
        assert_eq!(covered, Intents::all() - Intents::MESSAGE_CONTENT);
    }

    #[test]
    fn intent_free_events_need_nothing() {
        for name in [
            "READY",
            "RESUMED",
            "INTERACTION_CREATE",
            "GUILD_MEMBERS_CHUNK",
            "USER_UPDATE",
            "VOICE_SERVER_UPDATE",
        ] {
            assert_eq!(required_intents(name), None, "{name}");
        }
    }

    #[test]
    fn a_missing_privileged_intent_says_how_to_get_it() {
        let missing = MissingIntent {
            event: "GUILD_MEMBER_ADD".into(),
            needs: Intents::GUILD_MEMBERS,
        };
        let text = missing.to_string();
        assert!(
            text.contains("GUILD_MEMBER_ADD") && text.contains("GUILD_MEMBERS"),
            "{text}"
        );
        assert!(text.contains("Developer Portal"), "{text}");
    }
}
