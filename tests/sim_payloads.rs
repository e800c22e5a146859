//! Every payload the simulator sends parses with twilight-model's typed events (issue 16):
//! a strict client would otherwise fail on the simulator and nowhere else. Driven with a
//! raw websocket client so every frame is seen as sent.

mod raw_client;

use raw_client::*;
use serde::de::DeserializeSeed;
use serde_json::{json, Value};
use syncord::sim::{payload, SimConfig, Simulator};
use twilight_model::gateway::event::{DispatchEvent, GatewayEvent, GatewayEventDeserializer};

/// Parses one gateway frame the way twilight-gateway does; panics with the frame on error.
fn parse(frame: &str) -> GatewayEvent {
    let deserializer = GatewayEventDeserializer::from_json(frame)
        .unwrap_or_else(|| panic!("twilight finds no opcode in {frame}"));
    let mut json = serde_json::Deserializer::from_str(frame);
    deserializer
        .deserialize(&mut json)
        .unwrap_or_else(|e| panic!("twilight-model cannot parse {frame}: {e}"))
}

/// Checks a dispatch parsed as the typed event its `t` names (not some fallback).
fn assert_typed(frame: &str) {
    let value: Value = serde_json::from_str(frame).expect("JSON");
    if value["t"] == json!("RATE_LIMITED") {
        return assert_rate_limited_as_discord_documents_it(&value["d"]);
    }
    let event = parse(frame);
    if let Some(t) = value["t"].as_str() {
        match &event {
            GatewayEvent::Dispatch(_, dispatch) => {
                assert_eq!(dispatch.kind().name(), Some(t), "{frame}");
                if let DispatchEvent::GuildCreate(guild) = dispatch {
                    assert!(
                        matches!(
                            **guild,
                            twilight_model::gateway::payload::incoming::GuildCreate::Available(_)
                        ),
                        "a full guild, not an unavailable stub"
                    );
                }
            }
            other => panic!("{t} parsed as {other:?}"),
        }
    }
}

/// twilight-model 0.18 models RATE_LIMITED's `meta` as an externally tagged enum
/// (`{"RequestGuildMembers": {…}}`), which no Discord payload matches: Discord documents and
/// sends `meta` as `{guild_id, nonce?}` ("Rate Limited" in the Gateway Events page, and the
/// 2025-08 change log entry introducing it). The simulator follows Discord; this checks that
/// shape field by field instead.
fn assert_rate_limited_as_discord_documents_it(d: &Value) {
    assert_eq!(d["opcode"], json!(8), "{d}");
    assert!(d["retry_after"].as_f64().is_some_and(|s| s > 0.0), "{d}");
    let meta = d["meta"].as_object().expect("meta is an object");
    assert!(
        meta["guild_id"]
            .as_str()
            .is_some_and(|g| g.parse::<u64>().is_ok()),
        "{d}"
    );
    assert!(
        meta.keys().all(|k| k == "guild_id" || k == "nonce"),
        "meta holds guild_id and nonce only: {d}"
    );
}

/// Reads text frames until one matches `until`; returns them all, raw.
fn read_frames_until(ws: &mut Ws, mut until: impl FnMut(&Value) -> bool) -> Vec<String> {
    let mut frames = Vec::new();
    loop {
        match ws.read().expect("a frame") {
            tungstenite::Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).expect("JSON");
                frames.push(text.to_string());
                if until(&value) {
                    return frames;
                }
            }
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

fn is_dispatch(t: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["t"] == json!(t)
}

#[test]
fn every_payload_the_simulator_sends_parses_with_twilight_model() {
    let sim = Simulator::start(SimConfig::default().guilds(3).members(20, 6)).unwrap();
    let mut ws = connect(&sim);
    let mut frames = read_frames_until(&mut ws, |v| v["op"] == json!(10));

    // Every intent (GUILD_MEMBERS and GUILD_PRESENCES among them: every member is listed in
    // GUILD_CREATE), so that the simulator, which applies intents, sends every sample.
    let mut identify = identify_payload(&sim, syncord::Intents::all().bits());
    identify["d"]["large_threshold"] = json!(250);
    send(&mut ws, &identify);
    let mut guild_creates = 0;
    frames.extend(read_frames_until(&mut ws, |v| {
        if v["t"] == json!("GUILD_CREATE") {
            guild_creates += 1;
        }
        guild_creates == 3
    }));
    let session_id = frames
        .iter()
        .find_map(|f| {
            let v: Value = serde_json::from_str(f).ok()?;
            (v["t"] == json!("READY")).then(|| v["d"]["session_id"].as_str().map(str::to_owned))?
        })
        .expect("READY");

    send(&mut ws, &json!({"op": 1, "d": 4}));
    frames.extend(read_frames_until(&mut ws, |v| v["op"] == json!(11)));

    let guild = payload::guild_id(0).to_string();
    let all = json!({"op": 8, "d": {"guild_id": guild, "query": "", "limit": 0, "nonce": "n1"}});
    send(&mut ws, &all);
    frames.extend(read_frames_until(&mut ws, |v| {
        v["t"] == json!("GUILD_MEMBERS_CHUNK") && v["d"]["chunk_index"] == json!(3)
    }));
    send(&mut ws, &all);
    frames.extend(read_frames_until(&mut ws, is_dispatch("RATE_LIMITED")));
    let by_id = json!({"op": 8, "d": {"guild_id": guild, "user_ids": ["7", "99"], "limit": 0}});
    send(&mut ws, &by_id);
    frames.extend(read_frames_until(
        &mut ws,
        is_dispatch("GUILD_MEMBERS_CHUNK"),
    ));

    let samples = payload::samples(20);
    for (t, d) in &samples {
        sim.push(t, d).expect("a session");
    }
    let mut left = samples.len();
    frames.extend(read_frames_until(&mut ws, |v| {
        if v["op"] == json!(0) {
            left -= 1;
        }
        left == 0
    }));

    assert!(sim.request_heartbeat());
    frames.extend(read_frames_until(&mut ws, |v| v["op"] == json!(1)));
    assert!(sim.reconnect());
    frames.extend(read_frames_until(&mut ws, |v| v["op"] == json!(7)));
    drop(ws);

    // A resume replays from seq 2 (the first GUILD_CREATE) and ends with RESUMED.
    let mut ws = connect_path(&sim, "/resume").expect("the resume URL opens");
    frames.extend(read_frames_until(&mut ws, |v| v["op"] == json!(10)));
    send(&mut ws, &resume_payload(&sim, &session_id, 1));
    frames.extend(read_frames_until(&mut ws, is_dispatch("RESUMED")));
    assert!(sim.invalidate_session(true));
    frames.extend(read_frames_until(&mut ws, |v| v["op"] == json!(9)));
    assert!(sim.invalidate_session(false));
    frames.extend(read_frames_until(&mut ws, |v| v["op"] == json!(9)));

    let mut seen = std::collections::BTreeSet::new();
    for frame in &frames {
        assert_typed(frame);
        let value: Value = serde_json::from_str(frame).expect("JSON");
        seen.insert(match value["t"].as_str() {
            Some(t) => t.to_owned(),
            None => format!("op {}", value["op"]),
        });
    }
    for expected in [
        "op 1",
        "op 7",
        "op 9",
        "op 10",
        "op 11",
        "READY",
        "RESUMED",
        "GUILD_CREATE",
        "GUILD_MEMBERS_CHUNK",
        "RATE_LIMITED",
        "MESSAGE_CREATE",
        "GUILD_MEMBER_ADD",
        "GUILD_MEMBER_UPDATE",
        "GUILD_MEMBER_REMOVE",
        "INTERACTION_CREATE",
    ] {
        assert!(
            seen.contains(expected),
            "{expected} not exercised: {seen:?}"
        );
    }
}

#[test]
fn guild_create_for_a_bot_without_presences_parses_and_lists_only_the_bot() {
    let sim = Simulator::start(SimConfig::default().guilds(1).members(500, 1000)).unwrap();
    let mut ws = connect(&sim);
    read_hello(&mut ws);
    send(&mut ws, &identify_payload(&sim, 1));
    let frames = read_frames_until(&mut ws, is_dispatch("GUILD_CREATE"));
    let guild_create = frames.last().expect("GUILD_CREATE");
    assert_typed(guild_create);
    let value: Value = serde_json::from_str(guild_create).unwrap();
    assert_eq!(
        value["d"]["large"],
        json!(true),
        "500 members > large_threshold 50"
    );
    assert_eq!(value["d"]["member_count"], json!(500));
    let members = value["d"]["members"].as_array().expect("members");
    assert_eq!(members.len(), 1, "only the bot without GUILD_PRESENCES");
    assert_eq!(
        members[0]["user"]["id"],
        json!(payload::BOT_USER_ID.to_string())
    );
}

/// Discord's payloads are not skeletons: a client's buffers and parsers see realistic sizes.
#[test]
fn payloads_have_realistic_sizes() {
    let guild = payload::guild_id(0);
    let channel = payload::channel_id(guild, 0);
    let sizes = [
        (
            "GUILD_CREATE",
            payload::guild_create(guild, 100).len(),
            5_000..40_000,
        ),
        (
            "MESSAGE_CREATE",
            payload::message_create(guild, channel, 1, 7, "hello").len(),
            700..3_000,
        ),
        (
            "INTERACTION_CREATE",
            payload::interaction_create(guild, channel, 1, 7, "ping").len(),
            1_200..4_000,
        ),
        (
            "GUILD_MEMBER_ADD",
            payload::guild_member_add(guild, 7).len(),
            300..2_000,
        ),
    ];
    for (name, size, range) in sizes {
        eprintln!("{name}: {size} bytes");
        assert!(
            range.contains(&size),
            "{name} is {size} bytes, expected {range:?}"
        );
    }
}

/// The samples also parse on their own (a bot's tests push them; the shapes must hold
/// whatever the session around them).
#[test]
fn every_sample_event_parses_as_its_typed_event() {
    for (s, (t, d)) in payload::samples(3).into_iter().enumerate() {
        let frame = format!(r#"{{"op":0,"s":{},"t":"{t}","d":{d}}}"#, s + 1);
        assert_typed(&frame);
    }
}
