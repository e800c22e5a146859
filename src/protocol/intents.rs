//! Gateway intents (Discord: Gateway → Gateway Intents).

use bitflags::bitflags;

bitflags! {
    /// The `intents` bitfield sent in Identify: which groups of events the gateway sends.
    ///
    /// Privileged intents (`GUILD_MEMBERS`, `GUILD_PRESENCES`, `MESSAGE_CONTENT`) must be
    /// enabled for the application in the Developer Portal, or the gateway closes with 4014.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Intents: u64 {
        /// Guild, role, channel, thread and stage instance events.
        const GUILDS = 1 << 0;
        /// Member add/update/remove (privileged).
        const GUILD_MEMBERS = 1 << 1;
        /// Audit log entries and bans (formerly `GUILD_BANS`).
        const GUILD_MODERATION = 1 << 2;
        /// Emoji, sticker and soundboard changes (formerly `GUILD_EMOJIS_AND_STICKERS`).
        const GUILD_EXPRESSIONS = 1 << 3;
        /// Integration events.
        const GUILD_INTEGRATIONS = 1 << 4;
        /// `WEBHOOKS_UPDATE`.
        const GUILD_WEBHOOKS = 1 << 5;
        /// Invite create/delete.
        const GUILD_INVITES = 1 << 6;
        /// Voice state updates and voice channel effects.
        const GUILD_VOICE_STATES = 1 << 7;
        /// `PRESENCE_UPDATE` (privileged).
        const GUILD_PRESENCES = 1 << 8;
        /// Guild message create/update/delete.
        const GUILD_MESSAGES = 1 << 9;
        /// Guild message reactions.
        const GUILD_MESSAGE_REACTIONS = 1 << 10;
        /// Guild typing.
        const GUILD_MESSAGE_TYPING = 1 << 11;
        /// Direct messages.
        const DIRECT_MESSAGES = 1 << 12;
        /// Direct message reactions.
        const DIRECT_MESSAGE_REACTIONS = 1 << 13;
        /// Direct message typing.
        const DIRECT_MESSAGE_TYPING = 1 << 14;
        /// Message content fields (privileged; sends no events of its own).
        const MESSAGE_CONTENT = 1 << 15;
        /// Scheduled event events.
        const GUILD_SCHEDULED_EVENTS = 1 << 16;
        /// AutoMod rule create/update/delete.
        const AUTO_MODERATION_CONFIGURATION = 1 << 20;
        /// AutoMod action execution.
        const AUTO_MODERATION_EXECUTION = 1 << 21;
        /// Poll votes in guilds.
        const GUILD_MESSAGE_POLLS = 1 << 24;
        /// Poll votes in direct messages.
        const DIRECT_MESSAGE_POLLS = 1 << 25;
    }
}

impl Intents {
    /// The intents that need approval in the Developer Portal.
    pub const PRIVILEGED: Intents = Intents::GUILD_MEMBERS
        .union(Intents::GUILD_PRESENCES)
        .union(Intents::MESSAGE_CONTENT);

    /// Every intent that needs no approval: a safe default for a new bot.
    pub fn non_privileged() -> Intents {
        Intents::all().difference(Intents::PRIVILEGED)
    }

    /// The privileged intents contained in `self`.
    pub fn privileged(self) -> Intents {
        self.intersection(Intents::PRIVILEGED)
    }

    /// Names of the set flags, e.g. `["GUILD_MEMBERS", "MESSAGE_CONTENT"]`.
    pub fn names(self) -> Vec<&'static str> {
        self.iter_names().map(|(name, _)| name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_the_protocol_table() {
        assert_eq!(Intents::all().bits(), 53_608_447);
        assert_eq!(Intents::non_privileged().bits(), 53_575_421);
        assert_eq!(Intents::PRIVILEGED.bits(), 33_026);
        assert_eq!(Intents::from_bits(1 << 17), None, "bit 17 is undefined");
    }

    #[test]
    fn privileged_names_are_listed() {
        let asked = Intents::GUILDS | Intents::MESSAGE_CONTENT | Intents::GUILD_MEMBERS;
        assert_eq!(
            asked.privileged().names(),
            ["GUILD_MEMBERS", "MESSAGE_CONTENT"]
        );
    }
}
