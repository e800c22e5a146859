//! Realistic gateway payloads and discovery answers, shaped like what Discord sends.
//!
//! Shared (through `#[path]`) by the seed-corpus generator (`fuzz/gen_corpus.rs`) and the
//! stable-toolchain mutation test (`tests/mutation.rs`), so both start from the same inputs.
//! Plain `std` only: each includer brings its own compressors.

#![allow(dead_code)]

/// A `_trace` array as Discord sends it: JSON-in-a-string.
fn trace(name: &str) -> String {
    format!(
        r#"["[\"{name}\",{{\"micros\":18392,\"calls\":[\"id_created\",{{\"micros\":852,\"calls\":[]}},\"session_lookup_time\",{{\"micros\":322,\"calls\":[]}}]}}]"]"#
    )
}

fn user(id: u64, name: &str, bot: bool) -> String {
    format!(
        r#"{{"id":"{id}","username":"{name}","global_name":null,"discriminator":"0","avatar":"a_1b2c3d4e5f60718293a4b5c6d7e8f901","bot":{bot},"public_flags":64,"avatar_decoration_data":null,"clan":null}}"#
    )
}

fn member(id: u64, name: &str) -> String {
    format!(
        r#"{{"user":{},"roles":["1100000000000000001","1100000000000000002"],"nick":null,"joined_at":"2021-06-01T12:34:56.789000+00:00","premium_since":null,"deaf":false,"mute":false,"flags":0,"pending":false,"communication_disabled_until":null,"avatar":null}}"#,
        user(id, name, false)
    )
}

/// op 10 Hello.
pub fn hello() -> String {
    format!(
        r#"{{"t":null,"s":null,"op":10,"d":{{"heartbeat_interval":41250,"_trace":{}}}}}"#,
        trace("gateway-prd-us-east1-b-0568")
    )
}

/// op 0 READY, with the fields the client reads and the many it ignores.
pub fn ready() -> String {
    let guilds: Vec<String> = (0..6)
        .map(|i| {
            format!(
                r#"{{"unavailable":true,"id":"{}"}}"#,
                81384788765712384u64 + i
            )
        })
        .collect();
    format!(
        r#"{{"t":"READY","s":1,"op":0,"d":{{"v":10,"user_settings":{{}},"user":{user},"session_type":"normal","session_id":"9c5ff6e7b7d3a1c2e4f80912ab34cd56","resume_gateway_url":"wss://gateway-us-east1-b.discord.gg","relationships":[],"private_channels":[],"presences":[],"guilds":[{guilds}],"guild_join_requests":[],"geo_ordered_rtc_regions":["newark","us-east","us-central","atlanta","us-south"],"game_relationships":[],"auth":{{}},"application":{{"id":"1234567890123456789","flags":565248}},"shard":[0,1],"_trace":{trace}}}}}"#,
        user = user(1234567890123456789, "syncord-bot", true),
        guilds = guilds.join(","),
        trace = trace("gateway-prd-us-east1-b-0568")
    )
}

/// op 0 MESSAGE_CREATE with an embed, mentions and a reply reference.
pub fn message_create(seq: u64, content: &str) -> String {
    format!(
        r#"{{"t":"MESSAGE_CREATE","s":{seq},"op":0,"d":{{"type":0,"tts":false,"timestamp":"2024-05-17T09:21:43.120000+00:00","referenced_message":null,"pinned":false,"nonce":"1240943011542876160","mentions":[{mention}],"mention_roles":[],"mention_everyone":false,"member":{{"roles":[],"premium_since":null,"pending":false,"nick":null,"mute":false,"joined_at":"2022-01-03T10:00:00.000000+00:00","flags":0,"deaf":false,"communication_disabled_until":null,"avatar":null}},"id":"1240943012620681277","flags":0,"embeds":[{{"type":"rich","title":"Build #4821 \u2714","description":"All 312 tests passed in 41.7s \u2014 \ud83d\ude80","color":5763719,"fields":[{{"name":"branch","value":"main","inline":true}}]}}],"edited_timestamp":null,"content":"{content}","components":[],"channel_id":"859736561476632586","author":{author},"attachments":[],"guild_id":"81384788765712384"}}}}"#,
        mention = user(80351110224678912, "nelly", false),
        author = user(53908232506183680, "mason", false),
    )
}

/// op 0 GUILD_MEMBERS_CHUNK, as the answer to a Request Guild Members with a nonce.
pub fn guild_members_chunk(members: usize) -> String {
    let list: Vec<String> = (0..members)
        .map(|i| member(300000000000000000 + i as u64, &format!("member{i}")))
        .collect();
    let presences: Vec<String> = (0..members.min(3))
        .map(|i| {
            format!(
                r#"{{"user":{{"id":"{}"}},"status":"online","client_status":{{"desktop":"online"}},"activities":[]}}"#,
                300000000000000000 + i as u64
            )
        })
        .collect();
    format!(
        r#"{{"t":"GUILD_MEMBERS_CHUNK","s":7,"op":0,"d":{{"members":[{}],"presences":[{}],"not_found":["111","222"],"guild_id":"81384788765712384","chunk_index":0,"chunk_count":2,"nonce":"syncord-0"}}}}"#,
        list.join(","),
        presences.join(",")
    )
}

/// op 0 GUILD_CREATE (a small guild: roles, channels, a few members).
pub fn guild_create() -> String {
    let channels: Vec<String> = (0..8)
        .map(|i| {
            format!(
                r#"{{"id":"{}","type":0,"name":"channel-{i}","position":{i},"parent_id":null,"topic":null,"nsfw":false,"permission_overwrites":[{{"id":"81384788765712384","type":0,"allow":"0","deny":"1024"}}],"rate_limit_per_user":0,"last_message_id":"1240943012620681277"}}"#,
                859736561476632586u64 + i
            )
        })
        .collect();
    let members: Vec<String> = (0..4)
        .map(|i| member(400000000000000000 + i, &format!("user{i}")))
        .collect();
    format!(
        r#"{{"t":"GUILD_CREATE","s":2,"op":0,"d":{{"id":"81384788765712384","name":"Discord Developers","icon":"a_2f0d5b5f5e0c6a7b8c9d","owner_id":"53908232506183680","afk_timeout":300,"verification_level":1,"roles":[{{"id":"81384788765712384","name":"@everyone","permissions":"1071698660929","position":0,"color":0,"hoist":false,"managed":false,"mentionable":false}}],"emojis":[],"features":["COMMUNITY","NEWS"],"member_count":4,"large":false,"unavailable":false,"joined_at":"2021-06-01T12:34:56.789000+00:00","channels":[{}],"threads":[],"members":[{}],"presences":[],"voice_states":[],"stage_instances":[],"guild_scheduled_events":[]}}}}"#,
        channels.join(","),
        members.join(",")
    )
}

/// op 11 Heartbeat ACK, with and without `d`.
pub fn heartbeat_ack() -> String {
    r#"{"t":null,"s":null,"op":11,"d":null}"#.to_owned()
}

/// op 1 Heartbeat request from the server.
pub fn heartbeat_request() -> String {
    r#"{"t":null,"s":null,"op":1,"d":null}"#.to_owned()
}

/// op 7 Reconnect.
pub fn reconnect() -> String {
    r#"{"t":null,"s":null,"op":7,"d":null}"#.to_owned()
}

/// op 9 Invalid Session (`d`: resumable or not).
pub fn invalid_session(resumable: bool) -> String {
    format!(r#"{{"t":null,"s":null,"op":9,"d":{resumable}}}"#)
}

/// op 0 RESUMED.
pub fn resumed(seq: u64) -> String {
    format!(
        r#"{{"t":"RESUMED","s":{seq},"op":0,"d":{{"_trace":{}}}}}"#,
        trace("gateway-prd-us-east1-c-7f1z")
    )
}

/// Every single gateway payload kind, named.
pub fn gateway_payloads() -> Vec<(&'static str, String)> {
    vec![
        ("hello", hello()),
        ("ready", ready()),
        (
            "message_create",
            message_create(3, "hello <@80351110224678912> \\\"quoted\\\" \\u00e9"),
        ),
        ("guild_members_chunk", guild_members_chunk(3)),
        ("guild_create", guild_create()),
        ("heartbeat_ack", heartbeat_ack()),
        ("heartbeat_ack_bare", r#"{"op":11}"#.to_owned()),
        ("heartbeat_request", heartbeat_request()),
        ("reconnect", reconnect()),
        ("invalid_session_false", invalid_session(false)),
        ("invalid_session_true", invalid_session(true)),
        ("resumed", resumed(12)),
    ]
}

/// The messages of one connection, in the order Discord sends them.
pub fn session_sequences() -> Vec<(&'static str, Vec<String>)> {
    vec![
        (
            "handshake",
            vec![hello(), heartbeat_ack(), ready(), guild_create()],
        ),
        (
            "messages",
            vec![
                hello(),
                ready(),
                message_create(3, "first"),
                heartbeat_ack(),
                message_create(4, "second, a bit longer than the first one"),
                message_create(5, "third"),
            ],
        ),
        (
            "members",
            vec![
                hello(),
                ready(),
                guild_members_chunk(2),
                guild_members_chunk(5),
                heartbeat_request(),
            ],
        ),
        (
            "reconnect",
            vec![hello(), ready(), message_create(3, "bye"), reconnect()],
        ),
        (
            "invalid_session",
            vec![hello(), resumed(9), heartbeat_ack(), invalid_session(false)],
        ),
    ]
}

/// `GET /gateway/bot` answers (whole HTTP responses), named.
pub fn discovery_responses() -> Vec<(&'static str, Vec<u8>)> {
    let ok_body = r#"{"url":"wss://gateway.discord.gg","shards":9,"session_start_limit":{"total":1000,"remaining":999,"reset_after":14400000,"max_concurrency":1}}"#;
    let with_length = |status: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nDate: Fri, 17 May 2024 09:21:43 GMT\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nx-ratelimit-bucket: 41f9cd5d28af77da04563bcb1d67fdfd\r\nVia: 1.1 google\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let chunked = {
        let (a, b) = ok_body.split_at(40);
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
        .into_bytes()
    };
    vec![
        ("ok", with_length("200 OK", ok_body)),
        ("ok_chunked", chunked),
        (
            "ok_minimal",
            with_length("200 OK", r#"{"url":"wss://gateway.discord.gg"}"#),
        ),
        (
            "rate_limited",
            with_length(
                "429 Too Many Requests",
                r#"{"message":"You are being rate limited.","retry_after":0.327,"global":false}"#,
            ),
        ),
        (
            "unauthorized",
            with_length(
                "401 Unauthorized",
                r#"{"message":"401: Unauthorized","code":0}"#,
            ),
        ),
        (
            "no_length",
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{ok_body}")
                .into_bytes(),
        ),
    ]
}
