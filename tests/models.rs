//! The typed models parse what crosses the wire: each event is pushed through the simulator
//! over loopback, received by a real shard and parsed from its `Dispatch` (issue 12 §2–3).
//! Payloads are shaped like Discord's documentation examples; text carries escapes (`\n`,
//! `\"`, an emoji as `\ud83d\ude00`), which a `&str` model cannot hold.

use std::borrow::Cow;
use std::time::Duration;
use syncord::model::{
    ChannelCreate, ChannelDelete, ChannelType, ChannelUpdate, EventModel, GuildCreate, GuildDelete,
    GuildMemberAdd, GuildMemberRemove, GuildMemberUpdate, GuildMembersChunk, GuildRoleCreate,
    GuildRoleDelete, GuildRoleUpdate, GuildUpdate, InteractionCreate, InteractionType,
    MessageCreate, MessageDelete, MessageDeleteBulk, MessageReactionAdd, MessageReactionRemove,
    MessageUpdate, PresenceUpdate, Ready, Resumed, Snowflake, ThreadCreate, ThreadDelete,
    ThreadUpdate, TypingStart, UserUpdate, VoiceServerUpdate, VoiceStateUpdate,
};
use syncord::protocol::RequestGuildMembers;
use syncord::sim::{SimConfig, Simulator};
use syncord::EventReceiver;
use syncord::{Dispatch, Event, Intents, Shard, ShardThread};

/// Every wait's limit: generous, the machine is a loaded 2-core box.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A shard on its own thread, connected to its own simulator.
struct Live {
    sim: Simulator,
    shard: ShardThread,
    events: EventReceiver,
    session_id: String,
}

impl Live {
    fn start(config: SimConfig) -> Live {
        let sim = Simulator::start(config).expect("the simulator starts");
        let intents = Intents::non_privileged() | Intents::PRIVILEGED;
        let shard = Shard::with_config(sim.client_config(intents).build().expect("valid config"));
        let (shard, events) = shard.spawn_receiver().expect("the shard starts");
        let session_id = sim.wait_for_session(TIMEOUT).expect("a session starts");
        Live {
            sim,
            shard,
            events,
            session_id,
        }
    }

    /// The next dispatch named `name`, skipping lifecycle events and other dispatches.
    fn next(&self, name: &str) -> Dispatch {
        loop {
            match self.events.recv_timeout(TIMEOUT) {
                Ok(Event::Dispatch(d)) if d.event_type() == name => return d,
                Ok(_) => {}
                Err(error) => panic!("no {name} dispatch within {TIMEOUT:?}: {error}"),
            }
        }
    }

    /// Pushes one event and returns it as the shard delivered it.
    fn deliver(&self, name: &str, data_json: &str) -> Dispatch {
        let seq = self.sim.push(name, data_json).expect("a live session");
        let dispatch = self.next(name);
        assert_eq!(dispatch.seq(), seq, "{name} arrived as pushed");
        dispatch
    }

    fn stop(self) {
        self.shard.shutdown().expect("the shard stops cleanly");
    }
}

/// Parses `dispatch` as `T`, checking that `T` is the model for its event name.
fn parse<'a, T: EventModel<'a>>(dispatch: &'a Dispatch) -> T {
    match T::parse(dispatch) {
        Some(Ok(model)) => model,
        Some(Err(error)) => panic!("{} did not parse: {error}", dispatch.event_type()),
        None => panic!("{} is not {}", dispatch.event_type(), T::NAME),
    }
}

/// Whether `text` points into the dispatch's own buffer (borrowed, not copied).
fn borrows_from(dispatch: &Dispatch, text: &str) -> bool {
    let payload = dispatch.payload_json().as_bytes().as_ptr_range();
    payload.contains(&text.as_ptr())
}

/// Content with a newline, quotes and an emoji as a surrogate pair, as JSON text.
const ESCAPED_JSON: &str = r#"Supa Hot\nsays \"hi\" \ud83d\ude00"#;
/// The same, unescaped.
const ESCAPED: &str = "Supa Hot\nsays \"hi\" 😀";

/// A MESSAGE_CREATE shaped like Resources → Message → Example Message, complete enough
/// for twilight-model's `Message` (which requires every field Discord always sends).
fn message_create_json(content_json: &str) -> String {
    format!(
        r#"{{
        "id": "334385199974967042",
        "channel_id": "290926798999357250",
        "guild_id": "290926798626357248",
        "author": {{"id": "53908099506183680", "username": "Mason", "discriminator": "9999",
                    "global_name": null, "avatar": "a_bab14f271d565501444b2ca3be944b25", "public_flags": 131328}},
        "member": {{"roles": [], "joined_at": "2017-03-13T19:19:14.040000+00:00", "deaf": false, "mute": false,
                    "flags": 0, "pending": false}},
        "content": "{content_json}",
        "timestamp": "2017-07-11T17:27:07.299000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [{{"id": "80351110224678912", "username": "Nelly", "discriminator": "1337", "avatar": null, "public_flags": 0,
                       "member": {{"roles": [], "joined_at": "2015-04-26T06:26:56.936000+00:00", "deaf": false, "mute": false, "flags": 0}}}}],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "reactions": [],
        "nonce": "334385199974967040",
        "pinned": false,
        "type": 0,
        "flags": 0,
        "components": [],
        "some_future_field": {{"x": [1, 2, 3]}}
    }}"#
    )
}

#[test]
fn ready_and_guild_create_parse_as_the_simulator_sends_them() {
    let live = Live::start(SimConfig::default().guilds(2));
    let ready_dispatch = live.next("READY");
    let ready: Ready = parse(&ready_dispatch);
    assert_eq!(ready.session_id, live.session_id);
    assert!(borrows_from(&ready_dispatch, &ready.session_id));
    assert_eq!(ready.v, Some(10));
    assert!(ready.user.bot);
    assert_eq!(ready.user.id, Snowflake(syncord::sim::payload::BOT_USER_ID));
    assert_eq!(ready.user.username, "sim-bot");
    assert_eq!(
        ready.resume_gateway_url.as_deref(),
        Some(&*live.sim.resume_url())
    );
    assert_eq!(ready.shard, Some([0, 1]));
    assert_eq!(
        ready.application.map(|a| a.id),
        Some(Snowflake(syncord::sim::payload::BOT_USER_ID))
    );
    assert_eq!(ready.guilds.len(), 2);
    assert!(ready.guilds.iter().all(|g| g.unavailable == Some(true)));
    // Another event's model declines it.
    assert!(MessageCreate::parse(&ready_dispatch).is_none());

    for unavailable in &ready.guilds {
        let dispatch = live.next("GUILD_CREATE");
        let guild: GuildCreate = parse(&dispatch);
        assert_eq!(guild.id, unavailable.id, "one GUILD_CREATE per READY guild");
        assert_eq!(guild.unavailable, Some(false));
        assert_eq!(
            guild.name.as_deref(),
            Some(&*format!("sim guild {}", guild.id))
        );
        // Shaped like Discord's: channels, the @everyone role, and the bot among the members.
        assert!(!guild.channels.is_empty(), "{}", dispatch.data_json());
        assert!(!guild.roles.is_empty(), "{}", dispatch.data_json());
        assert!(guild
            .members
            .iter()
            .any(|m| m.user.as_ref().map(|u| u.id) == Some(ready.user.id)));
    }
    live.stop();
}

#[test]
fn resumed_parses_as_the_simulator_sends_it() {
    let live = Live::start(SimConfig::default());
    live.next("READY");
    assert!(live.sim.reconnect(), "op 7 sent");
    let dispatch = live.next("RESUMED");
    assert_eq!(parse::<Resumed>(&dispatch), Resumed::default());
    live.stop();
}

#[test]
fn message_content_with_escapes_parses_where_a_str_model_fails() {
    let live = Live::start(SimConfig::default());
    let escaped = live.deliver("MESSAGE_CREATE", &message_create_json(ESCAPED_JSON));
    let message: MessageCreate = parse(&escaped);
    assert_eq!(message.content, ESCAPED);
    assert_eq!(message.id, Snowflake(334385199974967042));
    assert_eq!(message.guild_id, Some(Snowflake(290926798626357248)));
    assert_eq!(message.author.id, Snowflake(53908099506183680));
    assert!(borrows_from(&escaped, &message.author.username));
    assert_eq!(message.mentions.get().unwrap()[0].username, "Nelly");
    let member = message.member.map(|m| m.get().unwrap());
    assert!(member.is_some_and(|m| m.user.is_none()));

    // What the old `Dispatch::data` example did: `&str` cannot hold unescaped text.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Naive<'a> {
        content: &'a str,
    }
    let error = escaped.data::<Naive>().err().map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("borrowed string")),
        "{error:?}"
    );

    let plain = live.deliver("MESSAGE_CREATE", &message_create_json("plain text"));
    let message: MessageCreate = parse(&plain);
    assert!(matches!(message.content, Cow::Borrowed("plain text")));
    assert!(borrows_from(&plain, &message.content));
    live.stop();
}

#[test]
fn message_update_delete_and_reactions_parse_from_the_simulator() {
    let live = Live::start(SimConfig::default());
    let full = live.deliver("MESSAGE_UPDATE", &message_create_json(ESCAPED_JSON));
    let update: MessageUpdate = parse(&full);
    assert_eq!(update.content.as_deref(), Some(ESCAPED));
    let partial = live.deliver(
        "MESSAGE_UPDATE",
        r#"{"id":"334385199974967042","channel_id":"290926798999357250","embeds":[{"type":"link"}]}"#,
    );
    let update: MessageUpdate = parse(&partial);
    assert_eq!(update.id, Snowflake(334385199974967042));
    assert!(update.content.is_none() && update.author.is_none());
    assert_eq!(update.embeds.map(|e| e.len()), Some(1));

    let dispatch = live.deliver(
        "MESSAGE_DELETE",
        r#"{"id":"334385199974967042","channel_id":"290926798999357250","guild_id":"290926798626357248"}"#,
    );
    let deleted: MessageDelete = parse(&dispatch);
    assert_eq!(deleted.id, Snowflake(334385199974967042));
    let dispatch = live.deliver(
        "MESSAGE_DELETE_BULK",
        r#"{"ids":["1","2"],"channel_id":"290926798999357250","guild_id":"290926798626357248"}"#,
    );
    let bulk: MessageDeleteBulk = parse(&dispatch);
    assert_eq!(bulk.ids, [Snowflake(1), Snowflake(2)]);

    let reaction = r#"{"user_id":"80351110224678912","channel_id":"290926798999357250",
        "message_id":"334385199974967042","guild_id":"290926798626357248","message_author_id":"53908099506183680",
        "member":{"user":{"id":"80351110224678912","username":"Nelly \"N\"\n"},"roles":[],"deaf":false,"mute":false},
        "emoji":{"id":null,"name":"\ud83d\ude00"},"burst":false,"burst_colors":[],"type":0}"#;
    let dispatch = live.deliver("MESSAGE_REACTION_ADD", reaction);
    let added: MessageReactionAdd = parse(&dispatch);
    assert_eq!(added.emoji.name.as_deref(), Some("😀"));
    assert_eq!(added.message_author_id, Some(Snowflake(53908099506183680)));
    assert_eq!(
        added.member.and_then(|m| m.user).map(|u| u.username),
        Some("Nelly \"N\"\n".into())
    );
    let dispatch = live.deliver("MESSAGE_REACTION_REMOVE", reaction);
    let removed: MessageReactionRemove = parse(&dispatch);
    assert_eq!(removed.user_id, Snowflake(80351110224678912));
    live.stop();
}

#[test]
fn guild_and_role_events_parse_from_the_simulator() {
    let live = Live::start(SimConfig::default());
    let guild = r#"{"id":"197038439483310086","name":"Discord \"Testers\"\n\ud83d\ude00",
        "icon":"f64c482b807da4f539cff778d174971c","owner_id":"73193882359173120","features":["COMMUNITY"],
        "roles":[{"id":"197038439483310086","name":"@everyone","color":0,"hoist":false,"position":0,
                  "permissions":"104320577","managed":false,"mentionable":false,"flags":0}],
        "emojis":[],"verification_level":3,"premium_tier":3,"preferred_locale":"en-US",
        "joined_at":"2016-06-24T19:23:41.613000+00:00","large":true,"unavailable":false,"member_count":2,
        "channels":[{"id":"197038439483310087","type":0,"name":"general"}],"threads":[],
        "members":[{"user":{"id":"80351110224678912","username":"Nelly"},"roles":[],"deaf":false,"mute":false}],
        "voice_states":[],"presences":[],"stage_instances":[],"guild_scheduled_events":[],"soundboard_sounds":[]}"#;
    let dispatch = live.deliver("GUILD_CREATE", guild);
    let created: GuildCreate = parse(&dispatch);
    assert_eq!(created.name.as_deref(), Some("Discord \"Testers\"\n😀"));
    assert_eq!(created.roles[0].permissions, 104320577);
    assert_eq!(created.channels[0].kind, ChannelType::GUILD_TEXT);
    assert_eq!(created.member_count, Some(2));
    let dispatch = live.deliver("GUILD_UPDATE", guild);
    let updated: GuildUpdate = parse(&dispatch);
    assert_eq!(updated.owner_id, Some(Snowflake(73193882359173120)));
    let dispatch = live.deliver(
        "GUILD_DELETE",
        r#"{"id":"197038439483310086","unavailable":true}"#,
    );
    let deleted: GuildDelete = parse(&dispatch);
    assert!(!deleted.removed());

    let role = r#"{"guild_id":"197038439483310086","role":{"id":"41771983423143936",
        "name":"WE DEM \"BOYZZ\" \ud83d\ude00","color":3447003,"hoist":true,"position":1,"permissions":"66321471",
        "managed":false,"mentionable":false,"flags":0,"tags":{"premium_subscriber":null}}}"#;
    let dispatch = live.deliver("GUILD_ROLE_CREATE", role);
    let created: GuildRoleCreate = parse(&dispatch);
    assert_eq!(created.role.name, "WE DEM \"BOYZZ\" 😀");
    assert!(created.role.tags.is_some_and(|t| t.premium_subscriber));
    let dispatch = live.deliver("GUILD_ROLE_UPDATE", role);
    let updated: GuildRoleUpdate = parse(&dispatch);
    assert_eq!(updated.role.permissions, 66321471);
    let dispatch = live.deliver(
        "GUILD_ROLE_DELETE",
        r#"{"guild_id":"197038439483310086","role_id":"41771983423143936"}"#,
    );
    let deleted: GuildRoleDelete = parse(&dispatch);
    assert_eq!(deleted.role_id, Snowflake(41771983423143936));
    live.stop();
}

#[test]
fn channel_and_thread_events_parse_from_the_simulator() {
    let live = Live::start(SimConfig::default());
    let channel = r#"{"id":"41771983423143937","guild_id":"41771983423143937","name":"general","type":0,
        "position":6,"permission_overwrites":[],"rate_limit_per_user":2,"nsfw":true,
        "topic":"24/7 \"chat\"\n\ud83d\ude00","last_message_id":"155117677105512449","parent_id":"399942396007890945"}"#;
    let dispatch = live.deliver("CHANNEL_CREATE", channel);
    let created: ChannelCreate = parse(&dispatch);
    assert_eq!(created.topic.as_deref(), Some("24/7 \"chat\"\n😀"));
    let dispatch = live.deliver("CHANNEL_UPDATE", channel);
    let updated: ChannelUpdate = parse(&dispatch);
    assert_eq!(updated.position, Some(6));
    let dispatch = live.deliver("CHANNEL_DELETE", channel);
    let deleted: ChannelDelete = parse(&dispatch);
    assert_eq!(deleted.id, Snowflake(41771983423143937));

    let thread = r#"{"id":"41771983423143938","guild_id":"41771983423143937","parent_id":"41771983423143937",
        "owner_id":"80351110224678912","name":"don't \"buy\"\n\ud83d\ude00","type":11,"message_count":1,
        "member_count":5,"thread_metadata":{"archived":false,"auto_archive_duration":1440,
        "archive_timestamp":"2021-04-12T23:40:39.855793+00:00","locked":false},"newly_created":true}"#;
    let dispatch = live.deliver("THREAD_CREATE", thread);
    let created: ThreadCreate = parse(&dispatch);
    assert_eq!(created.name.as_deref(), Some("don't \"buy\"\n😀"));
    assert!(created.kind.is_thread() && created.newly_created);
    let dispatch = live.deliver("THREAD_UPDATE", thread);
    let updated: ThreadUpdate = parse(&dispatch);
    assert_eq!(
        updated.thread_metadata.as_ref().map(|m| m.archived),
        Some(false)
    );
    let dispatch = live.deliver(
        "THREAD_DELETE",
        r#"{"id":"41771983423143938","guild_id":"41771983423143937","parent_id":"41771983423143937","type":11}"#,
    );
    let deleted: ThreadDelete = parse(&dispatch);
    assert_eq!(deleted.parent_id, Some(Snowflake(41771983423143937)));
    live.stop();
}

#[test]
fn member_events_and_the_simulators_member_chunks_parse() {
    let live = Live::start(SimConfig::default().members(3, 2));
    let member = r#"{"guild_id":"197038439483310086","user":{"id":"80351110224678912","username":"Nelly"},
        "nick":"NOT \"API\"\n\ud83d\ude00","roles":["41771983423143936"],"joined_at":"2015-04-26T06:26:56.936000+00:00",
        "premium_since":null,"deaf":false,"mute":false,"flags":0,"pending":false}"#;
    let dispatch = live.deliver("GUILD_MEMBER_ADD", member);
    let added: GuildMemberAdd = parse(&dispatch);
    assert_eq!(added.guild_id, Snowflake(197038439483310086));
    assert_eq!(added.nick.as_deref(), Some("NOT \"API\"\n😀"));
    assert_eq!(added.roles, [Snowflake(41771983423143936)]);
    let dispatch = live.deliver("GUILD_MEMBER_UPDATE", member);
    let updated: GuildMemberUpdate = parse(&dispatch);
    assert_eq!(
        updated.user.as_ref().map(|u| u.id),
        Some(Snowflake(80351110224678912))
    );
    let dispatch = live.deliver(
        "GUILD_MEMBER_REMOVE",
        r#"{"guild_id":"197038439483310086","user":{"id":"80351110224678912","username":"Nelly"}}"#,
    );
    let removed: GuildMemberRemove = parse(&dispatch);
    assert_eq!(removed.user.username, "Nelly");

    // The chunks the simulator itself builds in answer to Request Guild Members.
    live.shard
        .handle()
        .send(&RequestGuildMembers::all("197038439483310086").nonce("models"))
        .expect("the request is sent");
    let mut ids = Vec::new();
    for index in 0..2 {
        let dispatch = live.next("GUILD_MEMBERS_CHUNK");
        let chunk: GuildMembersChunk = parse(&dispatch);
        assert_eq!(chunk.guild_id, Snowflake(197038439483310086));
        assert_eq!((chunk.chunk_index, chunk.chunk_count), (index, 2));
        assert_eq!(chunk.is_last(), index == 1);
        assert_eq!(chunk.nonce.as_deref(), Some("models"));
        for member in &chunk.members {
            let user = member
                .user
                .as_ref()
                .expect("chunk members carry their user");
            assert_eq!(user.username, format!("member{}", user.id));
            assert!(member.joined_at.is_some());
            ids.push(user.id);
        }
    }
    assert_eq!(ids, [Snowflake(1), Snowflake(2), Snowflake(3)]);
    live.stop();
}

#[test]
fn interaction_presence_typing_voice_and_user_events_parse_from_the_simulator() {
    let live = Live::start(SimConfig::default());
    let token = "aW50ZXJhY3Rpb246ODg1MjA0MjUzNTA0OTY5NzkyOmRZZmJhc2VjcmV0";
    let interaction = format!(
        r#"{{"type":2,"token":"{token}","id":"786008729715212338","application_id":"775799577604522054",
        "guild_id":"290926798626357999","channel_id":"645027906669510667","app_permissions":"442368",
        "member":{{"user":{{"id":"53908232506183680","username":"Mason"}},"roles":[],"permissions":"2147483647",
                   "joined_at":"2017-03-13T19:19:14.040000+00:00","deaf":false,"mute":false}},
        "data":{{"type":1,"name":"cardsearch","id":"771825006014889984",
                 "options":[{{"type":3,"name":"cardname","value":"The Gitrog \"Monster\"\n\ud83d\ude00"}}]}},
        "locale":"en-US","entitlements":[],"context":0,"version":1}}"#
    );
    let dispatch = live.deliver("INTERACTION_CREATE", &interaction);
    let created: InteractionCreate = parse(&dispatch);
    assert_eq!(created.kind, InteractionType::APPLICATION_COMMAND);
    assert_eq!(created.token, token);
    assert!(
        !format!("{created:?}").contains(token),
        "Debug hides the token"
    );
    assert_eq!(
        created.author().map(|u| u.id),
        Some(Snowflake(53908232506183680))
    );
    let data: serde_json::Value =
        serde_json::from_str(created.data.as_ref().map_or("null", |d| d.get())).unwrap();
    assert_eq!(data["options"][0]["value"], "The Gitrog \"Monster\"\n😀");

    let dispatch = live.deliver(
        "PRESENCE_UPDATE",
        r#"{"user":{"id":"80351110224678912"},"guild_id":"197038439483310086","status":"dnd",
        "activities":[{"name":"Custom Status","type":4,"state":"brb \"soon\"\n\ud83d\ude00"}],
        "client_status":{"desktop":"dnd"}}"#,
    );
    let presence: PresenceUpdate = parse(&dispatch);
    assert_eq!(presence.status, "dnd");
    assert_eq!(
        presence.activities[0].state.as_deref(),
        Some("brb \"soon\"\n😀")
    );

    let dispatch = live.deliver(
        "TYPING_START",
        r#"{"channel_id":"290926798999357250","guild_id":"290926798626357248","user_id":"80351110224678912","timestamp":1499793953}"#,
    );
    let typing: TypingStart = parse(&dispatch);
    assert_eq!(typing.timestamp, 1499793953);

    let dispatch = live.deliver(
        "VOICE_STATE_UPDATE",
        r#"{"guild_id":"41771983423143937","channel_id":"157733188964188161","user_id":"80351110224678912",
        "session_id":"90326bd25d71d39b9ef95b299e3872ff","deaf":false,"mute":false,"self_deaf":false,
        "self_mute":true,"self_video":false,"suppress":false,"request_to_speak_timestamp":null}"#,
    );
    let voice: VoiceStateUpdate = parse(&dispatch);
    assert!(voice.self_mute);
    assert_eq!(voice.channel_id, Some(Snowflake(157733188964188161)));
    let dispatch = live.deliver(
        "VOICE_SERVER_UPDATE",
        r#"{"token":"my_token","guild_id":"41771983423143937","endpoint":"sweetwater-12345.discord.media:2048"}"#,
    );
    let server: VoiceServerUpdate = parse(&dispatch);
    assert_eq!(server.token, "my_token");
    assert!(!format!("{server:?}").contains("my_token"));

    let dispatch = live.deliver(
        "USER_UPDATE",
        r#"{"id":"1000","username":"sim-bot","discriminator":"0","global_name":"Sim \"Bot\" \ud83d\ude00","avatar":null,"bot":true}"#,
    );
    let user: UserUpdate = parse(&dispatch);
    assert_eq!(user.display_name(), "Sim \"Bot\" 😀");
    live.stop();
}

#[test]
fn twilight_models_parse_a_dispatch_too() {
    // Any serde type is a model: a bot that wants Discord's complete types uses another
    // crate's with this crate's shard.
    let live = Live::start(SimConfig::default());
    let dispatch = live.deliver("MESSAGE_CREATE", &message_create_json(ESCAPED_JSON));
    let message = dispatch
        .data::<twilight_model::channel::Message>()
        .expect("twilight-model parses a Discord-shaped MESSAGE_CREATE");
    assert_eq!(message.content, ESCAPED);
    assert_eq!(message.id.get(), 334385199974967042);
    assert_eq!(message.channel_id.get(), 290926798999357250);
    assert_eq!(message.author.name, "Mason");
    assert_eq!(message.mentions[0].id.get(), 80351110224678912);
    assert_eq!(
        message.kind,
        twilight_model::channel::message::MessageType::Regular
    );
    // Ours and theirs agree on the same dispatch.
    let ours: MessageCreate = parse(&dispatch);
    assert_eq!(ours.id.get(), message.id.get());
    assert_eq!(ours.content, message.content);
    live.stop();
}
