//! Interactions: slash commands, components, modals (Discord docs: Interactions →
//! Receiving and Responding).

use super::{de, newtype_event, Member, Message, Snowflake, User};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// An interaction (Interactions → Receiving and Responding → Interaction Object): a slash
/// command, a button press, a modal submitted…
///
/// `data` depends on `kind` and stays raw JSON: parse it into your command's own type.
/// `token` answers the interaction for 15 minutes, so it is a secret: `Debug` prints
/// `<redacted>` for it.
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct Interaction<'a> {
    /// The interaction's id.
    pub id: Snowflake,
    /// The application it is for.
    pub application_id: Snowflake,
    /// Ping, command, component, autocomplete or modal submit.
    #[serde(rename = "type")]
    pub kind: InteractionType,
    /// The command's options, the component's `custom_id`, the modal's values… (raw JSON;
    /// absent for pings).
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
    /// The guild it was sent from.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// The channel it was sent from.
    #[serde(default)]
    pub channel_id: Option<Snowflake>,
    /// The invoking member, in a guild (with `user` and `permissions`).
    #[serde(borrow, default)]
    pub member: Option<Member<'a>>,
    /// The invoking user, in DMs.
    #[serde(borrow, default)]
    pub user: Option<User<'a>>,
    /// The continuation token for responding (a secret for 15 minutes).
    #[serde(borrow)]
    pub token: Cow<'a, str>,
    /// Always 1.
    #[serde(default = "one")]
    pub version: u8,
    /// The message a component is attached to.
    #[serde(borrow, default)]
    pub message: Option<Box<Message<'a>>>,
    /// The bot's permissions in the channel (a bitfield; sent as a string).
    #[serde(default, deserialize_with = "de::bits_opt")]
    pub app_permissions: Option<u64>,
    /// The invoking user's language (not for pings).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub locale: Option<Cow<'a, str>>,
    /// The guild's preferred language.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub guild_locale: Option<Cow<'a, str>>,
    /// Where it was triggered: 0 guild, 1 bot DM, 2 private channel.
    #[serde(default)]
    pub context: Option<u8>,
}

fn one() -> u8 {
    1
}

impl Interaction<'_> {
    /// The user who triggered it: the member's user in a guild, `user` in DMs.
    pub fn author(&self) -> Option<&User<'_>> {
        self.member
            .as_ref()
            .and_then(|m| m.user.as_ref())
            .or(self.user.as_ref())
    }
}

impl fmt::Debug for Interaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interaction")
            .field("id", &self.id)
            .field("application_id", &self.application_id)
            .field("kind", &self.kind)
            .field("data", &self.data)
            .field("guild_id", &self.guild_id)
            .field("channel_id", &self.channel_id)
            .field("member", &self.member)
            .field("user", &self.user)
            .field("token", &"<redacted>")
            .field("version", &self.version)
            .field("message", &self.message)
            .field("app_permissions", &self.app_permissions)
            .field("locale", &self.locale)
            .field("guild_locale", &self.guild_locale)
            .field("context", &self.context)
            .finish()
    }
}

/// An interaction type (Interactions → Receiving and Responding → Interaction Type).
/// Unknown numbers are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(transparent)]
pub struct InteractionType(pub u8);

impl InteractionType {
    /// Discord checking an interactions endpoint URL (not sent over the gateway).
    pub const PING: InteractionType = InteractionType(1);
    /// A slash, user or message command.
    pub const APPLICATION_COMMAND: InteractionType = InteractionType(2);
    /// A button pressed or a select menu used.
    pub const MESSAGE_COMPONENT: InteractionType = InteractionType(3);
    /// A command option being typed, asking for choices.
    pub const APPLICATION_COMMAND_AUTOCOMPLETE: InteractionType = InteractionType(4);
    /// A modal submitted.
    pub const MODAL_SUBMIT: InteractionType = InteractionType(5);
}

newtype_event! {
    /// INTERACTION_CREATE: a user used a command or component (Topics → Gateway Events →
    /// Interaction Create). Respond over HTTP with the id and token within 3 seconds.
    InteractionCreate(Interaction) = "INTERACTION_CREATE"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventModel;

    const TOKEN: &str = "aW50ZXJhY3Rpb246ODg1MjA0MjUzNTA0OTY5NzkyOmRZZmJhc2VjcmV0";

    /// Shaped like Interactions → Receiving and Responding's example slash command, with
    /// an option value that needs escapes.
    fn docs_command() -> String {
        format!(
            r#"{{
            "type": 2,
            "token": "{TOKEN}",
            "member": {{
                "user": {{"id": "53908232506183680", "username": "Mason", "avatar": "a_d5efa99b3eeaa7dd43acca82f5692432",
                          "discriminator": "1337", "public_flags": 131141}},
                "roles": ["539082325061836999"],
                "premium_since": null,
                "permissions": "2147483647",
                "pending": false,
                "nick": null,
                "mute": false,
                "joined_at": "2017-03-13T19:19:14.040000+00:00",
                "is_pending": false,
                "deaf": false
            }},
            "id": "786008729715212338",
            "application_id": "775799577604522054",
            "guild_id": "290926798626357999",
            "guild": {{"id": "290926798626357999", "locale": "en-US", "features": []}},
            "app_permissions": "442368",
            "guild_locale": "en-US",
            "locale": "en-US",
            "data": {{
                "options": [{{"type": 3, "name": "cardname", "value": "The Gitrog \"Monster\"\n\ud83d\ude00"}}],
                "type": 1,
                "name": "cardsearch",
                "id": "771825006014889984"
            }},
            "channel_id": "645027906669510667",
            "channel": {{"id": "645027906669510667", "type": 0}},
            "entitlements": [],
            "authorizing_integration_owners": {{"0": "290926798626357999"}},
            "context": 0,
            "attachment_size_limit": 524288000,
            "version": 1
        }}"#
        )
    }

    #[test]
    fn a_docs_shaped_command_interaction_parses() {
        let json = docs_command();
        let interaction: InteractionCreate = serde_json::from_str(&json).unwrap();
        assert_eq!(InteractionCreate::NAME, "INTERACTION_CREATE");
        assert_eq!(interaction.id, Snowflake(786008729715212338));
        assert_eq!(interaction.application_id, Snowflake(775799577604522054));
        assert_eq!(interaction.kind, InteractionType::APPLICATION_COMMAND);
        assert_eq!(interaction.token, TOKEN);
        assert_eq!(interaction.guild_id, Some(Snowflake(290926798626357999)));
        assert_eq!(interaction.channel_id, Some(Snowflake(645027906669510667)));
        assert_eq!(interaction.app_permissions, Some(442368));
        assert_eq!(interaction.locale.as_deref(), Some("en-US"));
        assert_eq!((interaction.version, interaction.context), (1, Some(0)));
        let member = interaction.member.as_ref().unwrap();
        assert_eq!(member.permissions, Some(2147483647));
        assert_eq!(
            interaction.author().map(|u| u.id),
            Some(Snowflake(53908232506183680))
        );

        #[derive(Deserialize)]
        struct Command<'a> {
            #[serde(borrow)]
            name: Cow<'a, str>,
            options: Vec<CommandOption<'a>>,
        }
        #[derive(Deserialize)]
        struct CommandOption<'a> {
            #[serde(borrow)]
            value: Cow<'a, str>,
        }
        let data = interaction.data.as_ref().unwrap();
        let command: Command = serde_json::from_str(data.get()).unwrap();
        assert_eq!(command.name, "cardsearch");
        assert_eq!(command.options[0].value, "The Gitrog \"Monster\"\n😀");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let json = docs_command();
        let interaction: InteractionCreate = serde_json::from_str(&json).unwrap();
        let debug = format!("{interaction:?} {interaction:#?} {:?}", interaction.0);
        assert!(!debug.contains(TOKEN), "{debug}");
        assert!(debug.contains("<redacted>") && debug.contains("786008729715212338"));
    }

    #[test]
    fn a_dm_component_interaction_has_a_user_and_the_message() {
        let json = r#"{"id":"1","application_id":"2","type":3,"token":"t","user":{"id":"5","username":"dm"},
            "data":{"custom_id":"click_one","component_type":2},"channel_id":"6",
            "message":{"id":"7","channel_id":"6","author":{"id":"2","username":"bot"},"content":"pick"},
            "future_field":{"nested":[1,2,3]}}"#;
        let interaction: InteractionCreate = serde_json::from_str(json).unwrap();
        assert_eq!(interaction.kind, InteractionType::MESSAGE_COMPONENT);
        assert_eq!(interaction.author().map(|u| u.id), Some(Snowflake(5)));
        assert_eq!(
            interaction.message.as_ref().map(|m| m.id),
            Some(Snowflake(7))
        );
        assert_eq!(interaction.version, 1, "absent version defaults to 1");
        assert!(interaction.app_permissions.is_none() && interaction.guild_id.is_none());
    }

    #[test]
    fn an_unknown_interaction_type_is_kept() {
        let json = r#"{"id":"1","application_id":"2","type":42,"token":"t"}"#;
        let interaction: Interaction = serde_json::from_str(json).unwrap();
        assert_eq!(interaction.kind, InteractionType(42));
        assert!(interaction.data.is_none() && interaction.author().is_none());
    }
}
