//! Users (Discord docs: Resources → User).

use super::{de, Snowflake};
use serde::Deserialize;
use std::borrow::Cow;

/// A user or bot (Resources → User → User Object), as far as most bots read it.
///
/// Only `id` is required: PRESENCE_UPDATE guarantees nothing else (Topics → Gateway Events →
/// Presence Update), so there `username` may be empty.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct User<'a> {
    /// The user's id.
    pub id: Snowflake,
    /// The unique username (empty when Discord sent a partial user).
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub username: Cow<'a, str>,
    /// The legacy 4-digit tag; `"0"` for users on the new username system.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub discriminator: Option<Cow<'a, str>>,
    /// The display name, if the user set one.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub global_name: Option<Cow<'a, str>>,
    /// Avatar hash (Reference → Image Formatting), if any.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub avatar: Option<Cow<'a, str>>,
    /// Whether the user is a bot (an OAuth2 application's user).
    #[serde(default)]
    pub bot: bool,
    /// Whether the user is an official Discord System user.
    #[serde(default)]
    pub system: bool,
    /// Public user flags (Resources → User → User Flags).
    #[serde(default)]
    pub public_flags: Option<u64>,
}

impl User<'_> {
    /// The name to show: `global_name` when set, else `username`.
    pub fn display_name(&self) -> &str {
        self.global_name.as_deref().unwrap_or(&self.username)
    }
}

super::newtype_event! {
    /// USER_UPDATE: the bot's own user changed (Topics → Gateway Events → User Update).
    UserUpdate(User) = "USER_UPDATE"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventModel;

    /// Shaped like the example user of Resources → User → Example User, with a global
    /// name that needs escapes.
    const DOCS_USER: &str = r#"{
        "id": "80351110224678912",
        "username": "Nelly",
        "discriminator": "1337",
        "global_name": "Nelly \"the\" \ud83d\ude00",
        "avatar": "8342729096ea3675442027381ff50dfe",
        "verified": true,
        "email": "nelly@discord.com",
        "flags": 64,
        "banner": "06c16474723fe537c283b8efa61a30c8",
        "accent_color": 16711680,
        "premium_type": 1,
        "public_flags": 64,
        "avatar_decoration_data": {"sku_id": "1144058844004233369", "asset": "a_fed43ab12698df65902ba06727e20c0e"}
    }"#;

    #[test]
    fn a_docs_shaped_user_parses_and_unknown_fields_are_ignored() {
        let user: UserUpdate = serde_json::from_str(DOCS_USER).unwrap();
        assert_eq!(UserUpdate::NAME, "USER_UPDATE");
        assert_eq!(user.id, Snowflake(80351110224678912));
        assert!(matches!(user.username, Cow::Borrowed("Nelly")));
        assert_eq!(user.discriminator.as_deref(), Some("1337"));
        assert_eq!(user.display_name(), "Nelly \"the\" 😀");
        assert_eq!(
            user.avatar.as_deref(),
            Some("8342729096ea3675442027381ff50dfe")
        );
        assert_eq!(user.public_flags, Some(64));
        assert!(!user.bot && !user.system);
    }

    #[test]
    fn a_user_with_only_an_id_parses() {
        let user: User = serde_json::from_str(r#"{"id":"1"}"#).unwrap();
        assert_eq!(user.id, Snowflake(1));
        assert_eq!(user.display_name(), "");
        assert!(user.global_name.is_none() && user.avatar.is_none());
    }

    #[test]
    fn a_user_without_an_id_is_an_error_that_names_it() {
        let error = serde_json::from_str::<User>(r#"{"username":"x"}"#).unwrap_err();
        assert!(error.to_string().contains("missing field `id`"), "{error}");
    }
}
