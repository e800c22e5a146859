//! Guilds and roles (Discord docs: Resources → Guild, Topics → Permissions → Role Object).

use super::{
    de, event_name, newtype_event, Channel, EventModel, Member, PresenceUpdate, Snowflake,
    UnavailableGuild, VoiceState,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::ops::Deref;

/// A guild (Resources → Guild → Guild Object), with the fields GUILD_CREATE adds
/// (Topics → Gateway Events → Guild Create).
///
/// Only `id` is required: GUILD_CREATE may carry an unavailable guild (`id` and
/// `unavailable: true`) during an outage.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Guild<'a> {
    /// The guild's id.
    pub id: Snowflake,
    /// The name (2 to 100 characters); absent for an unavailable guild.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub name: Option<Cow<'a, str>>,
    /// Icon hash (Reference → Image Formatting).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub icon: Option<Cow<'a, str>>,
    /// The owner's user id.
    #[serde(default)]
    pub owner_id: Option<Snowflake>,
    /// The description of a Community guild.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub description: Option<Cow<'a, str>>,
    /// The AFK voice channel.
    #[serde(default)]
    pub afk_channel_id: Option<Snowflake>,
    /// Where system messages (joins, boosts) go.
    #[serde(default)]
    pub system_channel_id: Option<Snowflake>,
    /// Where Community guilds show their rules.
    #[serde(default)]
    pub rules_channel_id: Option<Snowflake>,
    /// Verification level required to talk (0 none … 4 very high).
    #[serde(default)]
    pub verification_level: Option<u8>,
    /// Boost level (0 to 3).
    #[serde(default)]
    pub premium_tier: Option<u8>,
    /// The locale of a Community guild, e.g. `en-US`.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub preferred_locale: Option<Cow<'a, str>>,
    /// Enabled guild features (Resources → Guild → Guild Features), e.g. `COMMUNITY`.
    #[serde(borrow, default, deserialize_with = "de::cow_list")]
    pub features: Vec<Cow<'a, str>>,
    /// The guild's roles.
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub roles: Vec<Role<'a>>,
    /// When the bot joined (ISO 8601; GUILD_CREATE only).
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub joined_at: Option<Cow<'a, str>>,
    /// Whether the guild counts as large (GUILD_CREATE only; Identify's `large_threshold`).
    #[serde(default)]
    pub large: bool,
    /// `Some(true)` when the guild is unavailable (an outage).
    #[serde(default)]
    pub unavailable: Option<bool>,
    /// Members in the guild (GUILD_CREATE only).
    #[serde(default)]
    pub member_count: Option<u64>,
    /// Channels (GUILD_CREATE only).
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub channels: Vec<Channel<'a>>,
    /// Active threads the bot can see (GUILD_CREATE only).
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub threads: Vec<Channel<'a>>,
    /// Members: without `GUILD_PRESENCES`, or in large guilds, only the bot and members in
    /// voice (GUILD_CREATE only).
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub members: Vec<Member<'a>>,
    /// Voice states of members in voice, without `guild_id` (GUILD_CREATE only).
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub voice_states: Vec<VoiceState<'a>>,
    /// Presences, as limited as `members` (GUILD_CREATE only).
    #[serde(borrow, default, deserialize_with = "de::null_as_empty")]
    pub presences: Vec<PresenceUpdate<'a>>,
}

/// A role (Topics → Permissions → Role Object).
///
/// Only `id` is required; Discord always sends `name` and `permissions` too (empty and 0
/// here if another server leaves them out).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Role<'a> {
    /// The role's id (the guild's id for `@everyone`).
    pub id: Snowflake,
    /// The name.
    #[serde(borrow, default, deserialize_with = "de::cow_or_empty")]
    pub name: Cow<'a, str>,
    /// The colour as `0xRRGGBB` (0 = none).
    #[serde(default)]
    pub color: u32,
    /// Whether members with it are listed apart in the member list.
    #[serde(default)]
    pub hoist: bool,
    /// Role icon hash.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub icon: Option<Cow<'a, str>>,
    /// Role emoji.
    #[serde(borrow, default, deserialize_with = "de::cow_opt")]
    pub unicode_emoji: Option<Cow<'a, str>>,
    /// Sorting position (ties are sorted by id).
    #[serde(default)]
    pub position: i32,
    /// The permission bitfield (Topics → Permissions; sent as a string).
    #[serde(default, deserialize_with = "de::bits")]
    pub permissions: u64,
    /// Whether an integration manages it.
    #[serde(default)]
    pub managed: bool,
    /// Whether it can be mentioned.
    #[serde(default)]
    pub mentionable: bool,
    /// What the role belongs to (a bot, a boost, an integration…).
    #[serde(default)]
    pub tags: Option<RoleTags>,
    /// Role flags (Topics → Permissions → Role Flags).
    #[serde(default)]
    pub flags: u64,
}

/// What a role belongs to (Topics → Permissions → Role Tags Structure).
///
/// Discord marks the boolean tags by sending them as `null` and omits them when false, so
/// here a key that is present reads as `true`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RoleTags {
    /// The bot this role belongs to.
    #[serde(default)]
    pub bot_id: Option<Snowflake>,
    /// The integration this role belongs to.
    #[serde(default)]
    pub integration_id: Option<Snowflake>,
    /// Whether this is the guild's Booster role.
    #[serde(default, deserialize_with = "present")]
    pub premium_subscriber: bool,
    /// The role subscription's SKU.
    #[serde(default)]
    pub subscription_listing_id: Option<Snowflake>,
    /// Whether the role can be bought.
    #[serde(default, deserialize_with = "present")]
    pub available_for_purchase: bool,
    /// Whether this is the guild's linked role.
    #[serde(default, deserialize_with = "present")]
    pub guild_connections: bool,
}

/// Called only for a key that is present: Discord's "null means true" tags.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

newtype_event! {
    /// GUILD_CREATE: a guild became available, the bot joined it, or (lazily after READY)
    /// one of the shard's guilds loaded (Topics → Gateway Events → Guild Create).
    GuildCreate(Guild) = "GUILD_CREATE"
}
newtype_event! {
    /// GUILD_UPDATE: a guild's settings changed (no GUILD_CREATE-only fields).
    GuildUpdate(Guild) = "GUILD_UPDATE"
}

/// GUILD_DELETE: the guild became unavailable (`unavailable: Some(true)`), or the bot left
/// or was removed (`unavailable` absent) (Topics → Gateway Events → Guild Delete).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct GuildDelete(pub UnavailableGuild);

impl GuildDelete {
    /// Whether the bot left or was removed from the guild (rather than an outage).
    pub fn removed(&self) -> bool {
        self.0.unavailable != Some(true)
    }
}

impl Deref for GuildDelete {
    type Target = UnavailableGuild;

    fn deref(&self) -> &UnavailableGuild {
        &self.0
    }
}

impl EventModel<'_> for GuildDelete {
    const NAME: &'static str = "GUILD_DELETE";
}

/// GUILD_ROLE_CREATE: a role was created (Topics → Gateway Events → Guild Role Create).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct GuildRoleCreate<'a> {
    /// The guild.
    pub guild_id: Snowflake,
    /// The new role.
    #[serde(borrow)]
    pub role: Role<'a>,
}
event_name!(GuildRoleCreate = "GUILD_ROLE_CREATE");

/// GUILD_ROLE_UPDATE: a role changed (Topics → Gateway Events → Guild Role Update).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct GuildRoleUpdate<'a> {
    /// The guild.
    pub guild_id: Snowflake,
    /// The role as it is now.
    #[serde(borrow)]
    pub role: Role<'a>,
}
event_name!(GuildRoleUpdate = "GUILD_ROLE_UPDATE");

/// GUILD_ROLE_DELETE: a role was deleted (Topics → Gateway Events → Guild Role Delete).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct GuildRoleDelete {
    /// The guild.
    pub guild_id: Snowflake,
    /// The deleted role.
    pub role_id: Snowflake,
}

impl EventModel<'_> for GuildRoleDelete {
    const NAME: &'static str = "GUILD_ROLE_DELETE";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChannelType;

    /// Shaped like Resources → Guild → Example Guild plus Guild Create's extra fields,
    /// with a description that needs escapes.
    const DOCS_GUILD_CREATE: &str = r#"{
        "id": "197038439483310086",
        "name": "Discord Testers",
        "icon": "f64c482b807da4f539cff778d174971c",
        "description": "The official place to report Discord Bugs!\n\"Test\" \ud83d\ude00",
        "splash": null,
        "discovery_splash": null,
        "features": ["ANIMATED_ICON", "VERIFIED", "NEWS", "VANITY_URL", "DISCOVERABLE", "MORE_EMOJI",
                     "INVITE_SPLASH", "BANNER", "COMMUNITY"],
        "emojis": [],
        "banner": "9b6439a7de04f1d26af92f84ac9e1e4a",
        "owner_id": "73193882359173120",
        "application_id": null,
        "region": null,
        "afk_channel_id": null,
        "afk_timeout": 300,
        "system_channel_id": null,
        "widget_enabled": true,
        "widget_channel_id": null,
        "verification_level": 3,
        "roles": [{
            "id": "197038439483310086", "name": "@everyone", "color": 0, "hoist": false,
            "icon": null, "unicode_emoji": null, "position": 0, "permissions": "104320577",
            "managed": false, "mentionable": false, "flags": 0
        }],
        "default_message_notifications": 1,
        "mfa_level": 1,
        "explicit_content_filter": 2,
        "max_presences": 40000,
        "max_members": 250000,
        "vanity_url_code": "discord-testers",
        "premium_tier": 3,
        "premium_subscription_count": 33,
        "system_channel_flags": 0,
        "preferred_locale": "en-US",
        "rules_channel_id": "441688182833020939",
        "public_updates_channel_id": "281283303326089216",
        "safety_alerts_channel_id": "281283303326089216",
        "joined_at": "2016-06-24T19:23:41.613000+00:00",
        "large": true,
        "unavailable": false,
        "member_count": 300000,
        "voice_states": [{"channel_id": "197038439483310087", "user_id": "80351110224678912",
                          "session_id": "90326bd25d71d39b9ef95b299e3872ff", "deaf": false, "mute": false,
                          "self_deaf": false, "self_mute": true, "self_video": false, "suppress": false,
                          "request_to_speak_timestamp": null}],
        "members": [{"user": {"id": "80351110224678912", "username": "Nelly", "discriminator": "1337", "avatar": null},
                     "nick": null, "roles": [], "joined_at": "2015-04-26T06:26:56.936000+00:00",
                     "deaf": false, "mute": false, "flags": 0}],
        "channels": [{"id": "197038439483310087", "type": 2, "name": "Voice", "bitrate": 64000, "user_limit": 0}],
        "threads": [],
        "presences": [{"user": {"id": "80351110224678912"}, "status": "online", "activities": [],
                       "client_status": {"desktop": "online"}}],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": []
    }"#;

    #[test]
    fn a_docs_shaped_guild_create_parses() {
        let guild: GuildCreate = serde_json::from_str(DOCS_GUILD_CREATE).unwrap();
        assert_eq!(GuildCreate::NAME, "GUILD_CREATE");
        assert_eq!(guild.id, Snowflake(197038439483310086));
        assert!(matches!(guild.name, Some(Cow::Borrowed("Discord Testers"))));
        assert_eq!(
            guild.description.as_deref(),
            Some("The official place to report Discord Bugs!\n\"Test\" 😀")
        );
        assert_eq!(guild.owner_id, Some(Snowflake(73193882359173120)));
        assert_eq!(guild.features.len(), 9);
        assert_eq!(guild.features[8], "COMMUNITY");
        assert_eq!(guild.verification_level, Some(3));
        assert_eq!(guild.premium_tier, Some(3));
        assert_eq!(guild.preferred_locale.as_deref(), Some("en-US"));
        assert_eq!(guild.rules_channel_id, Some(Snowflake(441688182833020939)));
        assert!(guild.afk_channel_id.is_none());
        assert_eq!(guild.roles[0].name, "@everyone");
        assert_eq!(guild.roles[0].permissions, 104320577);
        assert_eq!(
            guild.joined_at.as_deref(),
            Some("2016-06-24T19:23:41.613000+00:00")
        );
        assert!(guild.large);
        assert_eq!(guild.unavailable, Some(false));
        assert_eq!(guild.member_count, Some(300000));
        assert_eq!(guild.voice_states[0].user_id, Snowflake(80351110224678912));
        assert!(guild.voice_states[0].self_mute);
        let member_user = guild.members[0].user.as_ref().unwrap();
        assert_eq!(member_user.username, "Nelly");
        assert_eq!(guild.channels[0].kind, ChannelType::GUILD_VOICE);
        assert_eq!(guild.channels[0].bitrate, Some(64000));
        assert_eq!(guild.presences[0].status, "online");
        assert!(guild.threads.is_empty());
    }

    #[test]
    fn an_unavailable_guild_create_parses() {
        let guild: GuildCreate =
            serde_json::from_str(r#"{"id":"41771983423143937","unavailable":true}"#).unwrap();
        assert_eq!(guild.unavailable, Some(true));
        assert!(guild.name.is_none() && guild.roles.is_empty());
    }

    #[test]
    fn guild_update_parses_the_guild_object() {
        let guild: GuildUpdate =
            serde_json::from_str(r#"{"id":"1","name":"renamed","roles":null,"features":[]}"#)
                .unwrap();
        assert_eq!(GuildUpdate::NAME, "GUILD_UPDATE");
        assert_eq!(guild.into_inner().name.as_deref(), Some("renamed"));
    }

    #[test]
    fn guild_delete_tells_an_outage_from_a_removal() {
        assert_eq!(GuildDelete::NAME, "GUILD_DELETE");
        let outage: GuildDelete =
            serde_json::from_str(r#"{"id":"41771983423143937","unavailable":true}"#).unwrap();
        assert_eq!(outage.id, Snowflake(41771983423143937));
        assert!(!outage.removed());
        let removed: GuildDelete = serde_json::from_str(r#"{"id":"41771983423143937"}"#).unwrap();
        assert!(removed.removed());
    }

    /// Shaped like Topics → Permissions → Role Object's example (a Booster role), with
    /// a name that needs escapes.
    const DOCS_ROLE_CREATE: &str = r#"{
        "guild_id": "41771983423143937",
        "role": {
            "id": "41771983423143936",
            "name": "WE DEM \"BOYZZ\"!!!!!! \ud83d\ude00\n",
            "color": 3447003,
            "colors": {"primary_color": 3447003, "secondary_color": null, "tertiary_color": null},
            "hoist": true,
            "icon": "cf3ced8600b777c9486c3a49f5e0eb36",
            "unicode_emoji": null,
            "position": 1,
            "permissions": "66321471",
            "managed": false,
            "mentionable": false,
            "flags": 0,
            "tags": {"premium_subscriber": null}
        }
    }"#;

    #[test]
    fn a_docs_shaped_role_create_parses_with_null_tags_as_true() {
        let created: GuildRoleCreate = serde_json::from_str(DOCS_ROLE_CREATE).unwrap();
        assert_eq!(GuildRoleCreate::NAME, "GUILD_ROLE_CREATE");
        assert_eq!(created.guild_id, Snowflake(41771983423143937));
        let role = &created.role;
        assert_eq!(role.id, Snowflake(41771983423143936));
        assert_eq!(role.name, "WE DEM \"BOYZZ\"!!!!!! 😀\n");
        assert_eq!((role.color, role.position), (3447003, 1));
        assert!(role.hoist && !role.managed && !role.mentionable);
        assert_eq!(role.permissions, 66321471);
        let tags = role.tags.unwrap();
        assert!(tags.premium_subscriber);
        assert!(!tags.available_for_purchase && !tags.guild_connections);
        assert!(tags.bot_id.is_none());

        let updated: GuildRoleUpdate = serde_json::from_str(DOCS_ROLE_CREATE).unwrap();
        assert_eq!(GuildRoleUpdate::NAME, "GUILD_ROLE_UPDATE");
        assert_eq!(
            updated.role.icon.as_deref(),
            Some("cf3ced8600b777c9486c3a49f5e0eb36")
        );
    }

    #[test]
    fn role_delete_carries_the_role_id() {
        let json = r#"{"guild_id":"41771983423143937","role_id":"41771983423143936"}"#;
        let deleted: GuildRoleDelete = serde_json::from_str(json).unwrap();
        assert_eq!(GuildRoleDelete::NAME, "GUILD_ROLE_DELETE");
        assert_eq!(deleted.role_id, Snowflake(41771983423143936));
    }

    #[test]
    fn a_role_whose_permissions_are_not_a_number_is_a_clear_error() {
        let error = serde_json::from_str::<Role>(r#"{"id":"1","permissions":"all"}"#).unwrap_err();
        assert!(error.to_string().contains("permission bitfield"), "{error}");
    }
}
