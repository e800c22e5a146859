//! The simulator applies intents as Discord does (Gateway → Gateway Intents): dispatches of
//! intents the session did not identify with are not sent, and without MESSAGE_CONTENT guild
//! messages arrive blank except those that mention the bot; its Create Message endpoint
//! records each call and dispatches the message back. Over real loopback sockets.

use crossbeam_channel::{unbounded, Receiver};
use serde_json::{json, Value};
use std::time::Duration;
use syncord::dispatch::Dispatcher;
use syncord::sim::payload::BOT_USER_ID;
use syncord::sim::{RecordKind, SimConfig, Simulator};
use syncord::{Dispatch, Intents, Shard, ShardThread};

const TIMEOUT: Duration = Duration::from_secs(20);

fn sim() -> Simulator {
    Simulator::start(SimConfig::default().heartbeat_interval(Duration::from_millis(200)))
        .expect("simulator starts")
}

/// A shard of `sim` identified with `intents`, forwarding every dispatch after READY.
fn spawn(sim: &Simulator, intents: Intents) -> (ShardThread, Receiver<Dispatch>, Dispatcher) {
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded();
    dispatcher.on_any(move |_, event| {
        if let syncord::Event::Dispatch(d) = event {
            if d.event_type() != "READY" {
                let _ = tx.send(d.clone());
            }
        }
    });
    let running = dispatcher
        .spawn(Shard::with_config(
            sim.client_config(intents).build().expect("valid config"),
        ))
        .unwrap();
    dispatcher.wait_ready(TIMEOUT).expect("a live session");
    assert!(sim.wait_for_session(TIMEOUT).is_some());
    (running, rx, dispatcher)
}

fn next(rx: &Receiver<Dispatch>) -> Dispatch {
    rx.recv_timeout(TIMEOUT).expect("a dispatch")
}

fn data(d: &Dispatch) -> Value {
    d.data::<Value>().expect("JSON")
}

fn guild_message(id: u64, content: &str, mentions: Value) -> String {
    json!({
        "id": id.to_string(), "channel_id": "200", "guild_id": "300", "type": 0,
        "author": {"id": "42", "username": "ann"}, "content": content,
        "embeds": [{"title": "an embed"}], "attachments": [{"id": "9", "filename": "a.png"}],
        "components": [{"type": 1, "components": []}], "mentions": mentions,
    })
    .to_string()
}

#[test]
fn dispatches_of_intents_the_session_did_not_identify_with_are_not_sent() {
    let sim = Simulator::start(SimConfig::default().guilds(1)).unwrap();
    // Without GUILDS, not even the GUILD_CREATE of READY's guild comes.
    let (running, rx, _) = spawn(&sim, Intents::GUILD_MESSAGES);
    assert_eq!(
        sim.push(
            "GUILD_MEMBER_ADD",
            r#"{"guild_id":"300","user":{"id":"7"}}"#
        ),
        None
    );
    assert_eq!(
        sim.push(
            "GUILD_ROLE_CREATE",
            r#"{"guild_id":"300","role":{"id":"8"}}"#
        ),
        None
    );
    assert_eq!(
        sim.push(
            "TYPING_START",
            r#"{"channel_id":"200","guild_id":"300","user_id":"7"}"#
        ),
        None
    );
    // A DM needs DIRECT_MESSAGES, a guild message GUILD_MESSAGES.
    assert_eq!(
        sim.push(
            "MESSAGE_CREATE",
            r#"{"id":"1","channel_id":"5","author":{"id":"7"},"content":"dm"}"#
        ),
        None
    );
    let seq = sim
        .push("MESSAGE_CREATE", &guild_message(2, "hi", json!([])))
        .expect("sent");
    // Intent-free events always come.
    let free = sim
        .push("INTERACTION_CREATE", r#"{"id":"3","type":2}"#)
        .expect("sent");
    let first = next(&rx);
    assert_eq!((first.event_type(), first.seq()), ("MESSAGE_CREATE", seq));
    assert_eq!(seq, 2, "READY is 1: nothing else was numbered");
    assert_eq!(next(&rx).seq(), free);
    running.shutdown().unwrap();

    let sim = Simulator::start(SimConfig::default().guilds(1)).unwrap();
    let (running, rx, _) = spawn(&sim, Intents::GUILDS | Intents::GUILD_MEMBERS);
    assert_eq!(next(&rx).event_type(), "GUILD_CREATE");
    let seq = sim
        .push(
            "GUILD_MEMBER_ADD",
            r#"{"guild_id":"300","user":{"id":"7"}}"#,
        )
        .expect("sent");
    assert_eq!(next(&rx).seq(), seq);
    running.shutdown().unwrap();
}

#[test]
fn without_message_content_guild_messages_arrive_blank_except_dms_and_mentions() {
    let sim = sim();
    let (running, rx, _) = spawn(&sim, Intents::GUILD_MESSAGES | Intents::DIRECT_MESSAGES);
    sim.push("MESSAGE_CREATE", &guild_message(1, "secret", json!([])))
        .unwrap();
    let blank = data(&next(&rx));
    assert_eq!(blank["content"], "");
    assert_eq!(blank["embeds"], json!([]));
    assert_eq!(blank["attachments"], json!([]));
    assert_eq!(blank["components"], json!([]));
    assert_eq!(blank["id"], "1", "the rest is kept");

    sim.push(
        "MESSAGE_CREATE",
        &guild_message(
            2,
            "hey bot",
            json!([{"id": BOT_USER_ID.to_string(), "username": "sim-bot"}]),
        ),
    )
    .unwrap();
    assert_eq!(
        data(&next(&rx))["content"],
        "hey bot",
        "a message that mentions the bot"
    );
    sim.push(
        "MESSAGE_CREATE",
        r#"{"id":"3","channel_id":"5","author":{"id":"42"},"content":"in a DM"}"#,
    )
    .unwrap();
    assert_eq!(data(&next(&rx))["content"], "in a DM");
    sim.push(
        "MESSAGE_UPDATE",
        &guild_message(1, "edited secret", json!([])),
    )
    .unwrap();
    assert_eq!(data(&next(&rx))["content"], "");
    running.shutdown().unwrap();

    let with_content = self::sim();
    let (running, rx, _) = spawn(
        &with_content,
        Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT,
    );
    let sim = with_content;
    sim.push("MESSAGE_CREATE", &guild_message(1, "secret", json!([])))
        .unwrap();
    let full = data(&next(&rx));
    assert_eq!(full["content"], "secret");
    assert_eq!(full["embeds"][0]["title"], "an embed");
    running.shutdown().unwrap();
}

fn post(sim: &Simulator, channel: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let url = format!("{}/channels/{channel}/messages", sim.api_base());
    let mut request = ureq::post(&url).timeout(TIMEOUT);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bot {token}"));
    }
    match request.send_json(body) {
        Ok(response) => (
            response.status(),
            response.into_json().unwrap_or(Value::Null),
        ),
        Err(ureq::Error::Status(status, response)) => {
            (status, response.into_json().unwrap_or(Value::Null))
        }
        Err(other) => panic!("request failed: {other}"),
    }
}

#[test]
fn a_posted_message_is_recorded_answered_and_dispatched_back() {
    let sim = sim();
    let (running, rx, _) = spawn(&sim, Intents::GUILD_MESSAGES | Intents::DIRECT_MESSAGES);
    // A message seen in channel 200 of guild 300: the reply carries the same guild.
    sim.push("MESSAGE_CREATE", &guild_message(1, "", json!([])))
        .unwrap();
    next(&rx);
    let (status, created) = post(
        &sim,
        "200",
        Some(sim.token()),
        json!({"content": "pong", "message_reference": {"message_id": "1"}}),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["content"], "pong");
    assert_eq!(created["author"]["id"], BOT_USER_ID.to_string());
    assert_eq!(created["type"], 19, "a reply");
    let echoed = next(&rx);
    assert_eq!(echoed.event_type(), "MESSAGE_CREATE");
    let echoed = data(&echoed);
    assert_eq!(echoed["id"], created["id"]);
    assert_eq!(
        (echoed["channel_id"].clone(), echoed["guild_id"].clone()),
        (json!("200"), json!("300"))
    );
    assert_eq!(
        echoed["content"], "pong",
        "the bot's own message keeps its content"
    );
    let posted: Vec<(String, Value)> = sim
        .records()
        .into_iter()
        .filter_map(|r| match r.kind {
            RecordKind::MessagePosted { channel_id, json } => {
                Some((channel_id, serde_json::from_str(&json).unwrap()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].0, "200");
    assert_eq!(posted[0].1["content"], "pong");
    running.shutdown().unwrap();
}

#[test]
fn a_bad_message_post_is_refused_like_discord_and_not_recorded() {
    let sim = sim();
    assert_eq!(post(&sim, "200", None, json!({"content": "x"})).0, 401);
    assert_eq!(
        post(&sim, "200", Some("wrong"), json!({"content": "x"})).0,
        401
    );
    let (status, error) = post(&sim, "200", Some(sim.token()), json!({"content": ""}));
    assert_eq!((status, error["code"].clone()), (400, json!(50006)));
    let long = "x".repeat(2001);
    assert_eq!(
        post(&sim, "200", Some(sim.token()), json!({"content": long})).0,
        400
    );
    assert_eq!(
        post(
            &sim,
            "not-a-snowflake",
            Some(sim.token()),
            json!({"content": "x"})
        )
        .0,
        404
    );
    assert!(!sim
        .records()
        .iter()
        .any(|r| matches!(r.kind, RecordKind::MessagePosted { .. })));
}
