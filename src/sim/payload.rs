//! Dispatch payloads shaped like Discord's: the `d` of READY, GUILD_CREATE and the member
//! chunks the simulator sends itself, and of the events a test pushes with
//! [`Simulator::push`](super::Simulator::push), built from the object shapes in Discord's
//! developer documentation (the User, Guild, Guild Member, Role, Emoji, Sticker, Channel,
//! Message and Interaction objects, and the Gateway Events page) with the fields Discord
//! sends today, so strict typed clients parse them and sizes are realistic.
//!
//! Every function returns the JSON text of one dispatch's `d`:
//!
//! ```
//! use syncord::sim::{payload, SimConfig, Simulator};
//!
//! let sim = Simulator::start(SimConfig::default().guilds(1)).unwrap();
//! let guild = payload::guild_id(0);
//! let message = payload::message_create(guild, payload::channel_id(guild, 0), 42, 7, "hi");
//! let value: serde_json::Value = serde_json::from_str(&message).unwrap();
//! assert_eq!(value["content"], "hi");
//! assert_eq!(value["author"]["id"], "7");
//! # drop(sim);
//! ```
//!
//! IDs are snowflakes sent as strings. Guilds are numbered like the simulator's own
//! ([`guild_id`]); users `1..=members` are the members of every guild
//! ([`SimConfig::members`](super::SimConfig::members), which is also each guild's
//! `member_count`, what a request for all members returns); [`BOT_USER_ID`] is the bot, whose
//! own member GUILD_CREATE lists besides.

use serde_json::{json, Value};

/// The bot's user id (READY's `user`, the bot's member in every guild). Also the
/// application id, as for every bot.
pub const BOT_USER_ID: u64 = 1_184_512_213_377_929_257;

/// The owner of every simulated guild.
pub const OWNER_USER_ID: u64 = 80_351_110_224_678_912;

/// Channels per simulated guild: a category, text channels, voice channels.
const TEXT_CHANNELS: u64 = 8;
const VOICE_CHANNELS: u64 = 3;

/// A fixed time for `joined_at` and message timestamps, in Discord's ISO 8601 form.
const TIMESTAMP: &str = "2024-01-01T00:00:00.000000+00:00";

/// The id of the simulator's `index`th guild (from 0), as READY lists it.
pub fn guild_id(index: u32) -> u64 {
    (u64::from(index) + 1) << 22
}

/// The id of text channel `index` (0..8) of `guild`; channel 0 is `#general`, the system
/// channel. Voice channels and the category follow the text channels.
pub fn channel_id(guild: u64, index: u64) -> u64 {
    guild + 10 + index
}

fn category_id(guild: u64) -> u64 {
    guild + 1
}

fn voice_channel_id(guild: u64, index: u64) -> u64 {
    channel_id(guild, TEXT_CHANNELS + index)
}

/// The bot's managed role in `guild`; roles after it are ordinary ones.
fn role_id(guild: u64, index: u64) -> u64 {
    guild + 100 + index
}

fn id(value: u64) -> Value {
    Value::String(value.to_string())
}

/// A 32-hex-digit image hash (avatars, icons), derived from `seed`.
fn image_hash(seed: u64) -> String {
    format!(
        "{:016x}{:016x}",
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        !seed
    )
}

/// The name of user `user` (the bot is `sim-bot`).
fn username(user: u64) -> String {
    if user == BOT_USER_ID {
        "sim-bot".into()
    } else {
        format!("member{user}")
    }
}

/// A User object ("User Resource" in Discord's documentation) as other users see it.
fn user(user: u64) -> Value {
    let bot = user == BOT_USER_ID;
    let mut value = json!({
        "id": id(user),
        "username": username(user),
        "discriminator": "0",
        "global_name": if bot { Value::Null } else { Value::String(format!("Member {user}")) },
        "avatar": image_hash(user),
        "public_flags": 0,
        "flags": 0,
        "banner": null,
        "accent_color": null,
        "avatar_decoration_data": null,
        "collectibles": null,
        "primary_guild": null,
    });
    if bot {
        value["bot"] = json!(true);
    }
    value
}

/// The bot's own User object, as READY and USER_UPDATE carry it (with the fields only the
/// user itself sees: `mfa_enabled`, `verified`, `email`, `locale`, `flags`).
fn current_user() -> Value {
    json!({
        "id": id(BOT_USER_ID),
        "username": username(BOT_USER_ID),
        "discriminator": "0",
        "global_name": null,
        "avatar": null,
        "bot": true,
        "mfa_enabled": false,
        "verified": true,
        "email": null,
        "locale": "en-US",
        "flags": 0,
        "premium_type": 0,
        "public_flags": 0,
        "banner": null,
        "accent_color": null,
        "avatar_decoration_data": null,
    })
}

/// The roles of `user` in `guild`: the bot has its managed role, members one of the others.
fn member_roles(guild: u64, user: u64) -> Vec<Value> {
    if user == BOT_USER_ID {
        vec![id(role_id(guild, 0))]
    } else {
        vec![id(role_id(guild, 1 + user % 4))]
    }
}

/// The fields of a Guild Member object without `user` (a message's `member`).
fn partial_member(guild: u64, user: u64) -> Value {
    json!({
        "nick": null,
        "avatar": null,
        "banner": null,
        "roles": member_roles(guild, user),
        "joined_at": TIMESTAMP,
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "communication_disabled_until": null,
        "unusual_dm_activity_until": null,
    })
}

/// A Guild Member object of `guild`.
fn member(guild: u64, user_id: u64) -> Value {
    let mut value = partial_member(guild, user_id);
    value["user"] = user(user_id);
    value
}

/// The Guild Member JSON of user `user` in `guild`, as GUILD_MEMBERS_CHUNK carries it.
pub(crate) fn member_json(guild: u64, user: u64) -> String {
    member(guild, user).to_string()
}

/// A Role object ("Permissions" page, Role Object).
fn role(guild: u64, role: u64, name: &str, position: u64, permissions: &str) -> Value {
    let mut value = json!({
        "id": id(role),
        "name": name,
        "description": null,
        "color": if position == 0 { 0 } else { 0x3498DB },
        "colors": {"primary_color": if position == 0 { 0 } else { 0x3498DB }, "secondary_color": null, "tertiary_color": null},
        "hoist": position > 1,
        "icon": null,
        "unicode_emoji": null,
        "position": position,
        "permissions": permissions,
        "managed": false,
        "mentionable": false,
        "flags": 0,
    });
    if role == role_id(guild, 0) {
        value["managed"] = json!(true);
        value["tags"] = json!({"bot_id": id(BOT_USER_ID)});
    }
    value
}

fn roles(guild: u64) -> Vec<Value> {
    let mut roles = vec![
        // @everyone has the guild's id.
        role(guild, guild, "@everyone", 0, "2222085186636353"),
        role(guild, role_id(guild, 0), "sim-bot", 1, "1071698660929"),
    ];
    for (i, name) in ["Admin", "Moderator", "Regular", "Newcomer"]
        .iter()
        .enumerate()
    {
        let i = i as u64;
        roles.push(role(
            guild,
            role_id(guild, 1 + i),
            name,
            5 - i,
            "1071698529857",
        ));
    }
    roles
}

/// A guild channel object; `with_guild_id` is false inside GUILD_CREATE, which leaves
/// `guild_id` out of its channels.
fn text_channel(guild: u64, index: u64, with_guild_id: bool) -> Value {
    let name = if index == 0 {
        "general".to_owned()
    } else {
        format!("channel-{index}")
    };
    let mut value = json!({
        "id": id(channel_id(guild, index)),
        "type": 0,
        "position": index,
        "permission_overwrites": [],
        "name": name,
        "topic": if index == 0 { Value::String("Say hello".into()) } else { Value::Null },
        "nsfw": false,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "parent_id": id(category_id(guild)),
        "last_pin_timestamp": null,
        "flags": 0,
        "icon_emoji": null,
        "theme_color": null,
    });
    if with_guild_id {
        value["guild_id"] = id(guild);
    }
    value
}

fn channels(guild: u64) -> Vec<Value> {
    let mut channels = vec![json!({
        "id": id(category_id(guild)),
        "type": 4,
        "position": 0,
        "permission_overwrites": [],
        "name": "Text Channels",
        "flags": 0,
    })];
    channels.extend((0..TEXT_CHANNELS).map(|i| text_channel(guild, i, false)));
    channels.extend((0..VOICE_CHANNELS).map(|i| {
        json!({
            "id": id(voice_channel_id(guild, i)),
            "type": 2,
            "position": i,
            "permission_overwrites": [{"id": id(guild), "type": 0, "allow": "0", "deny": "1048576"}],
            "name": format!("Voice {i}"),
            "nsfw": false,
            "last_message_id": null,
            "rate_limit_per_user": 0,
            "parent_id": id(category_id(guild)),
            "bitrate": 64000,
            "user_limit": 0,
            "rtc_region": null,
            "flags": 0,
        })
    }));
    channels
}

fn emojis(guild: u64) -> Vec<Value> {
    ["sim_wave", "sim_party", "sim_ok", "sim_blob"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({
                "id": id(guild + 200 + i as u64),
                "name": name,
                "roles": [],
                "require_colons": true,
                "managed": false,
                "animated": i == 1,
                "available": true,
            })
        })
        .collect()
}

fn stickers(guild: u64) -> Vec<Value> {
    vec![json!({
        "id": id(guild + 300),
        "name": "sim sticker",
        "tags": "wave",
        "type": 2,
        "format_type": 1,
        "description": "A wave",
        "asset": "",
        "available": true,
        "guild_id": id(guild),
    })]
}

fn presence(user: u64) -> Value {
    json!({
        "user": {"id": id(user)},
        "status": "online",
        "client_status": {"desktop": "online"},
        "activities": [],
    })
}

/// A Guild object with the extra GUILD_CREATE fields ("Guild Create" in the Gateway Events
/// page). Its `members` (and `presences`) list every member only when the bot asked for
/// presences and the guild is not large; otherwise just the bot, as Discord does
/// ("Gateway Intents", GUILD_PRESENCES).
pub(crate) fn guild_create_with(
    guild: u64,
    members: u32,
    with_presences: bool,
    large_threshold: u64,
) -> String {
    let large = u64::from(members) > large_threshold;
    let mut member_list = vec![member(guild, BOT_USER_ID)];
    let mut presences = vec![presence(BOT_USER_ID)];
    if with_presences && !large {
        member_list.extend((1..=u64::from(members)).map(|u| member(guild, u)));
        presences.extend((1..=u64::from(members)).map(presence));
    }
    let mut value = json!({
        "id": id(guild),
        "name": format!("sim guild {guild}"),
        "icon": image_hash(guild),
        "splash": null,
        "discovery_splash": null,
        "owner_id": id(OWNER_USER_ID),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "widget_enabled": false,
        "widget_channel_id": null,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "roles": roles(guild),
        "emojis": emojis(guild),
        "features": ["INVITE_SPLASH", "ANIMATED_ICON", "NEWS"],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": id(channel_id(guild, 0)),
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "max_presences": null,
        "max_members": 500_000,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "nsfw_level": 0,
        "nsfw": false,
        "stickers": stickers(guild),
        "premium_progress_bar_enabled": false,
        "safety_alerts_channel_id": null,
        "incidents_data": null,
    });
    // The GUILD_CREATE extras, in a second object (one json! for both is too deep).
    let extras = json!({
        "joined_at": TIMESTAMP,
        "large": large,
        "unavailable": false,
        "member_count": members,
        "voice_states": [],
        "members": member_list,
        "channels": channels(guild),
        "threads": [],
        "presences": presences,
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    });
    if let (Value::Object(guild), Value::Object(extras)) = (&mut value, extras) {
        guild.extend(extras);
    }
    value.to_string()
}

/// GUILD_CREATE for `guild` with `members` members, as the simulator sends it after READY
/// to a bot without the GUILD_PRESENCES intent (only the bot's own member is listed).
pub fn guild_create(guild: u64, members: u32) -> String {
    guild_create_with(guild, members, false, 50)
}

/// What READY needs besides the guilds.
pub(crate) struct ReadyFacts<'a> {
    pub session_id: &'a str,
    pub resume_gateway_url: &'a str,
    pub shard: [u64; 2],
    pub guilds: &'a [u64],
    /// The application's flags ("Application Resource", Application Flags).
    pub application_flags: u64,
}

/// READY ("Ready" in the Gateway Events page): the bot's user, its guilds as unavailable
/// stubs, the session, and the keys Discord sends bots besides.
pub(crate) fn ready(facts: &ReadyFacts<'_>) -> String {
    let guilds: Vec<Value> = facts
        .guilds
        .iter()
        .map(|g| json!({"id": id(*g), "unavailable": true}))
        .collect();
    json!({
        "v": 10,
        "user_settings": {},
        "user": current_user(),
        "guilds": guilds,
        "session_id": facts.session_id,
        "session_type": "normal",
        "resume_gateway_url": facts.resume_gateway_url,
        "shard": facts.shard,
        "application": {"id": id(BOT_USER_ID), "flags": facts.application_flags},
        "relationships": [],
        "private_channels": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["rotterdam", "frankfurt", "milan", "madrid", "stockholm"],
        "auth": {},
        "_trace": ["[\"sim-gateway\",{\"micros\":1000}]"],
    })
    .to_string()
}

/// A Message object as MESSAGE_CREATE carries it, with `guild_id` and `member` for a guild
/// message ("Message Create" in the Gateway Events page); `guild == 0` makes it a DM.
fn message(guild: u64, channel: u64, message_id: u64, author: u64, content: &str) -> Value {
    let mut value = json!({
        "id": id(message_id),
        "channel_id": id(channel),
        "author": user(author),
        "content": content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
        "nonce": id(message_id ^ 0x5A5A),
        "channel_type": if guild == 0 { 1 } else { 0 },
    });
    if guild != 0 {
        value["guild_id"] = id(guild);
        value["member"] = partial_member(guild, author);
    }
    value
}

/// MESSAGE_CREATE: user `author` says `content` in `channel` of `guild` (`guild == 0`:
/// a DM, without `guild_id` and `member`).
pub fn message_create(
    guild: u64,
    channel: u64,
    message_id: u64,
    author: u64,
    content: &str,
) -> String {
    message(guild, channel, message_id, author, content).to_string()
}

/// MESSAGE_CREATE in `#general` of the first guild ([`guild_id`]`(0)`) from user `author`,
/// who goes by `name` (its `username` and `global_name`): [`message_create`] with a readable
/// author, for examples and demos.
pub fn named_message_create(message_id: u64, author: u64, name: &str, content: &str) -> String {
    let guild = guild_id(0);
    let mut value = message(guild, channel_id(guild, 0), message_id, author, content);
    value["author"]["username"] = json!(name);
    value["author"]["global_name"] = json!(name);
    value.to_string()
}

/// MESSAGE_UPDATE: the whole edited message, as Discord sends it, with `edited_timestamp`.
pub fn message_update(
    guild: u64,
    channel: u64,
    message_id: u64,
    author: u64,
    edited_content: &str,
) -> String {
    let mut value = message(guild, channel, message_id, author, edited_content);
    value["edited_timestamp"] = json!("2024-01-01T00:05:00.000000+00:00");
    value.to_string()
}

/// MESSAGE_DELETE.
pub fn message_delete(guild: u64, channel: u64, message_id: u64) -> String {
    json!({"id": id(message_id), "channel_id": id(channel), "guild_id": id(guild)}).to_string()
}

/// MESSAGE_REACTION_ADD: `user` reacts with the unicode `emoji`.
pub fn message_reaction_add(
    guild: u64,
    channel: u64,
    message_id: u64,
    user_id: u64,
    emoji: &str,
) -> String {
    json!({
        "user_id": id(user_id),
        "type": 0,
        "message_id": id(message_id),
        "message_author_id": id(BOT_USER_ID),
        "member": member(guild, user_id),
        "emoji": {"name": emoji, "id": null},
        "channel_id": id(channel),
        "burst": false,
        "burst_colors": [],
        "guild_id": id(guild),
    })
    .to_string()
}

/// TYPING_START.
pub fn typing_start(guild: u64, channel: u64, user_id: u64) -> String {
    json!({
        "user_id": id(user_id),
        "timestamp": 1_704_067_200,
        "member": member(guild, user_id),
        "channel_id": id(channel),
        "guild_id": id(guild),
    })
    .to_string()
}

/// PRESENCE_UPDATE: `user` is `status` (`online`, `idle`, `dnd`, `offline`), playing a game.
pub fn presence_update(guild: u64, user_id: u64, status: &str) -> String {
    json!({
        "user": {"id": id(user_id)},
        "status": status,
        "guild_id": id(guild),
        "client_status": {"desktop": status},
        "activities": [{
            "id": "ec0b28a579ecb4bd",
            "name": "a simulated game",
            "type": 0,
            "created_at": 1_704_067_200_000_u64,
            "timestamps": {"start": 1_704_067_100_000_u64},
        }],
    })
    .to_string()
}

/// GUILD_MEMBER_ADD: `user` joins `guild`.
pub fn guild_member_add(guild: u64, user_id: u64) -> String {
    let mut value = member(guild, user_id);
    value["guild_id"] = id(guild);
    value.to_string()
}

/// GUILD_MEMBER_UPDATE: `user`'s member in `guild`, with nickname `nick`.
pub fn guild_member_update(guild: u64, user_id: u64, nick: Option<&str>) -> String {
    let mut value = member(guild, user_id);
    value["guild_id"] = id(guild);
    value["nick"] = nick.map_or(Value::Null, |n| Value::String(n.to_owned()));
    value.to_string()
}

/// GUILD_MEMBER_REMOVE: `user` left `guild`.
pub fn guild_member_remove(guild: u64, user_id: u64) -> String {
    json!({"guild_id": id(guild), "user": user(user_id)}).to_string()
}

/// GUILD_DELETE: `unavailable: true` is an outage; false means the bot was removed (the key
/// is then absent, as Discord sends it).
pub fn guild_delete(guild: u64, unavailable: bool) -> String {
    if unavailable {
        json!({"id": id(guild), "unavailable": true}).to_string()
    } else {
        json!({"id": id(guild)}).to_string()
    }
}

/// GUILD_ROLE_CREATE.
pub fn guild_role_create(guild: u64, role_id: u64, name: &str) -> String {
    json!({
        "guild_id": id(guild),
        "role": role(guild, role_id, name, 2, "1071698529857"),
    })
    .to_string()
}

/// CHANNEL_CREATE: text channel `index` of `guild` (see [`channel_id`]).
pub fn channel_create(guild: u64, index: u64) -> String {
    text_channel(guild, index, true).to_string()
}

/// VOICE_STATE_UPDATE: `user` joins voice channel `index` of `guild` (`None`: leaves).
pub fn voice_state_update(guild: u64, index: Option<u64>, user_id: u64) -> String {
    json!({
        "guild_id": id(guild),
        "channel_id": index.map_or(Value::Null, |i| id(voice_channel_id(guild, i))),
        "user_id": id(user_id),
        "member": member(guild, user_id),
        "session_id": format!("{:032x}", user_id),
        "deaf": false,
        "mute": false,
        "self_deaf": false,
        "self_mute": false,
        "self_video": false,
        "suppress": false,
        "request_to_speak_timestamp": null,
    })
    .to_string()
}

/// USER_UPDATE: the bot's own user.
pub fn user_update() -> String {
    current_user().to_string()
}

/// INTERACTION_CREATE: `user` runs the slash command `/name` in `channel` of `guild`
/// ("Interaction Object" in Discord's Receiving and Responding page). The interaction
/// `token` is a made-up one, never the bot's.
pub fn interaction_create(
    guild: u64,
    channel: u64,
    interaction_id: u64,
    user_id: u64,
    name: &str,
) -> String {
    let mut member = member(guild, user_id);
    member["permissions"] = json!("2248473465835073");
    json!({
        "id": id(interaction_id),
        "application_id": id(BOT_USER_ID),
        "type": 2,
        "data": {
            "id": id(guild + 400),
            "name": name,
            "type": 1,
            "options": [],
            "guild_id": id(guild),
        },
        "guild": {"id": id(guild), "locale": "en-US", "features": ["NEWS"]},
        "guild_id": id(guild),
        "channel": {
            "id": id(channel),
            "type": 0,
            "guild_id": id(guild),
            "name": "general",
            "position": 0,
            "parent_id": id(category_id(guild)),
            "topic": null,
            "nsfw": false,
            "rate_limit_per_user": 0,
            "last_message_id": null,
            "flags": 0,
            "permissions": "2248473465835073",
        },
        "channel_id": id(channel),
        "member": member,
        "token": format!("aW50ZXJhY3Rpb246{interaction_id:x}OnNpbXVsYXRlZC10b2tlbg"),
        "version": 1,
        "app_permissions": "2248473465835073",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": id(guild)},
        "context": 0,
        "attachment_size_limit": 10_485_760,
    })
    .to_string()
}

/// One of each event this module builds, as `(event name, d)`, for a guild with
/// `members` members: a whole session's worth of typical traffic, for parsing tests.
pub fn samples(members: u32) -> Vec<(&'static str, String)> {
    let guild = guild_id(0);
    let channel = channel_id(guild, 0);
    let user_id = 7;
    vec![
        ("GUILD_CREATE", guild_create(guild, members)),
        ("CHANNEL_CREATE", channel_create(guild, 3)),
        (
            "GUILD_ROLE_CREATE",
            guild_role_create(guild, guild + 150, "New role"),
        ),
        ("GUILD_MEMBER_ADD", guild_member_add(guild, user_id)),
        (
            "GUILD_MEMBER_UPDATE",
            guild_member_update(guild, user_id, Some("seven")),
        ),
        ("PRESENCE_UPDATE", presence_update(guild, user_id, "online")),
        ("TYPING_START", typing_start(guild, channel, user_id)),
        (
            "MESSAGE_CREATE",
            message_create(guild, channel, 5000, user_id, "hello"),
        ),
        (
            "MESSAGE_CREATE",
            message_create(0, 900, 5001, user_id, "a DM"),
        ),
        (
            "MESSAGE_UPDATE",
            message_update(guild, channel, 5000, user_id, "hello!"),
        ),
        (
            "MESSAGE_REACTION_ADD",
            message_reaction_add(guild, channel, 5000, user_id, "👍"),
        ),
        ("MESSAGE_DELETE", message_delete(guild, channel, 5000)),
        (
            "INTERACTION_CREATE",
            interaction_create(guild, channel, 6000, user_id, "ping"),
        ),
        (
            "VOICE_STATE_UPDATE",
            voice_state_update(guild, Some(0), user_id),
        ),
        ("USER_UPDATE", user_update()),
        ("GUILD_MEMBER_REMOVE", guild_member_remove(guild, user_id)),
        ("GUILD_DELETE", guild_delete(guild, true)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_a_json_object() {
        for (name, d) in samples(10) {
            let value: Value = serde_json::from_str(&d).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(value.is_object(), "{name}");
        }
    }

    #[test]
    fn guild_create_lists_every_member_only_with_presences_below_the_threshold() {
        let count = |json: &str| {
            let value: Value = serde_json::from_str(json).unwrap();
            value["members"].as_array().map(Vec::len)
        };
        let guild = guild_id(0);
        assert_eq!(count(&guild_create_with(guild, 10, true, 50)), Some(11));
        assert_eq!(count(&guild_create_with(guild, 10, false, 50)), Some(1));
        assert_eq!(count(&guild_create_with(guild, 100, true, 50)), Some(1));
        let large: Value = serde_json::from_str(&guild_create_with(guild, 100, true, 50)).unwrap();
        assert_eq!(large["large"], json!(true));
    }

    #[test]
    fn a_named_message_is_the_message_with_its_author_renamed() {
        let named: Value = serde_json::from_str(&named_message_create(3, 7, "ada", "hi")).unwrap();
        let guild = guild_id(0);
        let mut plain: Value =
            serde_json::from_str(&message_create(guild, channel_id(guild, 0), 3, 7, "hi")).unwrap();
        plain["author"]["username"] = json!("ada");
        plain["author"]["global_name"] = json!("ada");
        assert_eq!(named, plain);
    }

    #[test]
    fn ids_do_not_collide_within_a_guild_or_across_guilds() {
        let guild = guild_id(0);
        let mut ids = vec![guild, category_id(guild), role_id(guild, 0), guild_id(1)];
        ids.extend((0..TEXT_CHANNELS + VOICE_CHANNELS).map(|i| channel_id(guild, i)));
        ids.extend((1..5).map(|i| role_id(guild, i)));
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count);
    }
}
