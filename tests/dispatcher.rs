//! The callback dispatcher (issue 12) against the simulator over loopback sockets: typed,
//! raw, lifecycle and catch-all handlers in registration order, removal, run-once, derived
//! intents and the missing-intent warning, lazy parsing, waits, panics and slow handlers.

mod logs;

use crossbeam_channel::{unbounded, Receiver};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncord::dispatch::{Dispatcher, TypedEvent, WaitError};
use syncord::model::{GuildCreate, GuildMemberAdd, MessageCreate};
use syncord::sim::{SimConfig, Simulator};
use syncord::{Config, Error, Event, Intents, Shard, ShardThread};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A simulator with a short heartbeat and identify window (shards here re-identify after a
/// lost session; spacing is tested in tests/sim_limits.rs), an early Identify recorded but
/// not refused (see tests/resilience/mod.rs's `sim_config` for why).
fn sim() -> Simulator {
    Simulator::start(
        SimConfig::default()
            .heartbeat_interval(Duration::from_millis(200))
            .identify_window(Duration::from_millis(20))
            .reject_early_identify(false),
    )
    .expect("simulator starts")
}

fn config(sim: &Simulator, intents: Intents) -> Config {
    sim.client_config(intents).build().expect("valid config")
}

/// Runs `dispatcher` on a shard of `sim` on its own thread, its session live.
fn spawn(sim: &Simulator, dispatcher: &Dispatcher, config: Config) -> ShardThread {
    let running = dispatcher
        .spawn(Shard::with_config(config))
        .expect("shard starts");
    dispatcher
        .wait_ready(TIMEOUT)
        .expect("the session becomes live");
    assert!(sim.wait_for_session(TIMEOUT).is_some());
    running
}

/// A MESSAGE_CREATE `d` from a user in a guild text channel.
fn message(id: u64, content: &str) -> String {
    serde_json::json!({
        "id": id.to_string(), "channel_id": "200", "guild_id": "300", "type": 0,
        "author": {"id": "42", "username": "ann", "discriminator": "0", "global_name": null, "avatar": null},
        "content": content, "timestamp": "2025-01-01T00:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false,
    })
    .to_string()
}

fn recv<T>(rx: &Receiver<T>, what: &str) -> T {
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Pushes a `MARK` dispatch and waits for `marks` to see it: everything pushed before has
/// been handled.
fn barrier(sim: &Simulator, marks: &Receiver<u64>) {
    let seq = sim.push("MARK", "{}").expect("a session");
    loop {
        if recv(marks, "the MARK dispatch") == seq {
            return;
        }
    }
}

fn marks(dispatcher: &Dispatcher) -> Receiver<u64> {
    let (tx, rx) = unbounded();
    dispatcher.on_raw("MARK", move |ctx, _| {
        let _ = tx.send(ctx.seq().unwrap_or(0));
    });
    rx
}

#[test]
fn handlers_of_one_event_run_in_registration_order_typed_raw_and_catch_all() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded::<String>();
    let t = tx.clone();
    dispatcher.on::<MessageCreate>(move |ctx, m| {
        let _ = t.send(format!(
            "typed1 {} s={:?} shard={}",
            m.content,
            ctx.seq(),
            ctx.shard_id()
        ));
    });
    let t = tx.clone();
    dispatcher.on_raw("MESSAGE_CREATE", move |ctx, d| {
        let _ = t.send(format!("raw {} s={:?}", d.event_type(), ctx.seq()));
    });
    let t = tx.clone();
    dispatcher.on::<MessageCreate>(move |_, m| {
        let _ = t.send(format!("typed2 {}", m.author.username));
    });
    let t = tx.clone();
    dispatcher.on_any(move |_, event| {
        if let Event::Dispatch(d) = event {
            if d.event_type() == "MESSAGE_CREATE" {
                let _ = t.send("any".into());
            }
        }
    });
    let running = spawn(
        &sim,
        &dispatcher,
        config(&sim, Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT),
    );
    let seq = sim
        .push("MESSAGE_CREATE", &message(1, "hi\nthere"))
        .unwrap();
    let got: Vec<String> = (0..4).map(|_| recv(&rx, "a handler")).collect();
    assert_eq!(
        got,
        [
            format!("typed1 hi\nthere s=Some({seq}) shard=0"),
            format!("raw MESSAGE_CREATE s=Some({seq})"),
            "typed2 ann".to_owned(),
            "any".to_owned(),
        ]
    );
    running.shutdown().unwrap();
}

/// A model that counts how often it is deserialized.
static PARSES: AtomicUsize = AtomicUsize::new(0);

struct Counted<'a> {
    content: Cow<'a, str>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Counted<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            content: Cow<'a, str>,
        }
        PARSES.fetch_add(1, Ordering::SeqCst);
        Raw::deserialize(d).map(|raw| Counted {
            content: raw.content,
        })
    }
}

impl TypedEvent for Counted<'static> {
    const NAME: &'static str = "COUNTED";
    type Model<'a> = Counted<'a>;
}

#[test]
fn typed_handlers_of_one_model_share_one_parse_and_unhandled_events_are_never_parsed() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded::<String>();
    for i in 0..3 {
        let tx = tx.clone();
        dispatcher.on::<Counted>(move |_, c| {
            let _ = tx.send(format!("{i}:{}", c.content));
        });
    }
    let marks = marks(&dispatcher);
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    for n in 0..5 {
        sim.push("COUNTED", &format!(r#"{{"content":"c{n}"}}"#))
            .unwrap();
        // The same shape under another name: no handler, so no parse.
        sim.push("NOT_COUNTED", &format!(r#"{{"content":"c{n}"}}"#))
            .unwrap();
    }
    barrier(&sim, &marks);
    let got: Vec<String> = rx.try_iter().collect();
    assert_eq!(got.len(), 15, "three handlers, five events: {got:?}");
    assert_eq!(&got[..3], ["0:c0", "1:c0", "2:c0"]);
    assert_eq!(
        PARSES.load(Ordering::SeqCst),
        5,
        "one parse per event, not per handler"
    );
    running.shutdown().unwrap();
}

#[test]
fn a_dispatch_nobody_handles_is_not_scanned_past_its_envelope() {
    // A `d` whose brackets do not balance is only found malformed by scanning it: handled,
    // it is reported and skipped; unhandled, nobody looks, and the session goes on.
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (errors_tx, errors) = unbounded::<(syncord::ErrorKind, String)>();
    dispatcher.on_error(move |_, kind, message| {
        let _ = errors_tx.send((kind, message.to_owned()));
    });
    let marks = marks(&dispatcher);
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    sim.push("UNHANDLED", r#"{"a":[1}"#).unwrap();
    barrier(&sim, &marks);
    assert_eq!(errors.try_iter().collect::<Vec<_>>(), Vec::new());

    let handled = dispatcher.on_raw("UNHANDLED", |_, _| {});
    sim.push("UNHANDLED", r#"{"a":[1}"#).unwrap();
    barrier(&sim, &marks);
    let reported: Vec<_> = errors.try_iter().collect();
    assert!(
        reported
            .iter()
            .any(|(kind, m)| *kind == syncord::ErrorKind::SkippedPayload && m.contains("malformed")),
        "handled now, so scanned and reported as a skipped payload: {reported:?}"
    );
    assert!(handled.remove());
    running.shutdown().unwrap();
}

#[test]
fn unhandled_dispatches_count_for_the_session_and_a_resume_carries_their_seq() {
    // The reader keeps unhandled dispatches back and tells the session of each run in one
    // message: were a run lost, the next handled dispatch would be a sequence gap, and the
    // Resume after a reconnect would carry an older `seq`.
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (gaps_tx, gaps) = unbounded::<Event>();
    dispatcher.on_lifecycle(move |_, event| {
        if matches!(event, Event::SequenceGap { .. }) {
            let _ = gaps_tx.send(event.clone());
        }
    });
    let (noise_tx, noise) = unbounded::<u64>();
    let marks = marks(&dispatcher);
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    for _ in 0..300 {
        sim.push("NOISE", "{}").expect("a session");
    }
    barrier(&sim, &marks);
    assert_eq!(gaps.try_iter().count(), 0, "the runs were counted");

    // With nothing after it, a run still reaches the session: the heartbeats carry it.
    let mut last_noise = 0;
    for _ in 0..5 {
        last_noise = sim.push("NOISE", "{}").expect("a session");
    }
    let beat = sim.wait_for(TIMEOUT, |r| {
        r.op() == Some(1)
            && serde_json::from_str::<serde_json::Value>(r.json().unwrap()).unwrap()["d"]
                == last_noise
    });
    assert!(beat.is_some(), "a heartbeat carries s={last_noise}");

    let mut last_noise = 0;
    for _ in 0..50 {
        last_noise = sim.push("NOISE", "{}").expect("a session");
    }
    // Sent after the noise on the same socket: read after all of it.
    assert!(sim.reconnect());
    let resume = sim
        .wait_for(TIMEOUT, |r| r.op() == Some(6))
        .expect("the shard resumes");
    let sent: serde_json::Value = serde_json::from_str(resume.json().unwrap()).unwrap();
    assert_eq!(
        sent["d"]["seq"], last_noise,
        "Resume carries the last unhandled seq"
    );
    // A handler added now sees the next one: the filter is read per dispatch.
    let registration = dispatcher.on_raw("NOISE", move |ctx, _| {
        let _ = noise_tx.send(ctx.seq().unwrap_or(0));
    });
    let seq = sim.push("NOISE", "{}").expect("a session");
    assert_eq!(recv(&noise, "the now handled NOISE"), seq);
    assert_eq!(gaps.try_iter().count(), 0);
    assert!(registration.remove());
    running.shutdown().unwrap();
}

#[test]
fn an_unhandled_run_at_the_largest_sequence_number_does_not_end_the_reader() {
    // Hostile input: `s` = u64::MAX, then another unhandled dispatch. The run's "next seq"
    // must not overflow (a panic in a debug build would end the reader thread).
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let _marks = marks(&dispatcher);
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    for s in [u64::MAX, 7] {
        assert!(sim.send_text(&format!(r#"{{"op":0,"s":{s},"t":"NOISE","d":{{}}}}"#)));
    }
    let beat = sim.wait_for(TIMEOUT, |r| {
        r.op() == Some(1)
            && serde_json::from_str::<serde_json::Value>(r.json().unwrap()).unwrap()["d"]
                == u64::MAX
    });
    assert!(
        beat.is_some(),
        "the reader lived on and the run reached the session"
    );
    running.shutdown().unwrap();
}

#[test]
fn a_removed_handler_does_not_run_for_the_next_event() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded::<u64>();
    let registration = dispatcher.on_raw("TICK", move |ctx, _| {
        let _ = tx.send(ctx.seq().unwrap_or(0));
    });
    let marks = marks(&dispatcher);
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    let first = sim.push("TICK", "{}").unwrap();
    assert_eq!(recv(&rx, "the first TICK"), first);
    // Removed from this thread while the shard runs on its own.
    assert!(registration.remove());
    assert!(!registration.is_registered());
    assert!(!registration.remove(), "removing twice says it was gone");
    sim.push("TICK", "{}").unwrap();
    barrier(&sim, &marks);
    assert_eq!(rx.try_iter().count(), 0, "no call after remove()");
    running.shutdown().unwrap();
}

#[test]
fn a_handler_can_remove_another_during_the_same_event() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded::<&'static str>();
    let slot: Arc<parking_lot::Mutex<Option<syncord::Registration>>> = Arc::default();
    let s = slot.clone();
    let t = tx.clone();
    dispatcher.on_raw("TICK", move |_, _| {
        let _ = t.send("first");
        if let Some(second) = s.lock().take() {
            second.remove();
        }
    });
    let t = tx.clone();
    *slot.lock() = Some(dispatcher.on_raw("TICK", move |_, _| {
        let _ = t.send("second");
    }));
    let marks = marks(&dispatcher);
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    sim.push("TICK", "{}").unwrap();
    sim.push("TICK", "{}").unwrap();
    barrier(&sim, &marks);
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["first", "first"]);
    running.shutdown().unwrap();
}

#[test]
fn once_handlers_run_for_exactly_one_event() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded::<String>();
    let t = tx.clone();
    let typed = dispatcher.once::<MessageCreate>(move |_, m| {
        let _ = t.send(format!("typed {}", m.id));
    });
    let t = tx.clone();
    let raw = dispatcher.once_raw("MESSAGE_CREATE", move |ctx, _| {
        let _ = t.send(format!("raw {:?}", ctx.seq()));
    });
    let marks = marks(&dispatcher);
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILD_MESSAGES));
    let seq = sim.push("MESSAGE_CREATE", &message(7, "a")).unwrap();
    sim.push("MESSAGE_CREATE", &message(8, "b")).unwrap();
    sim.push("MESSAGE_CREATE", &message(9, "c")).unwrap();
    barrier(&sim, &marks);
    assert_eq!(
        rx.try_iter().collect::<Vec<_>>(),
        ["typed 7".to_owned(), format!("raw Some({seq})")]
    );
    assert!(!typed.is_registered() && !raw.is_registered());
    running.shutdown().unwrap();
}

#[test]
fn lifecycle_handlers_hear_ready_disconnect_resume_and_session_loss() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded::<String>();
    let t = tx.clone();
    dispatcher.on_ready(move |ctx, ready| {
        let _ = t.send(format!(
            "ready {} {:?}",
            ready.session_id.starts_with("sim-session"),
            ctx.seq()
        ));
    });
    let t = tx.clone();
    dispatcher.on_disconnected(move |_, code, _reason| {
        let _ = t.send(format!("disconnected {code:?}"));
    });
    let t = tx.clone();
    dispatcher.on_resumed(move |_, replayed| {
        let _ = t.send(format!("resumed {replayed}"));
    });
    let t = tx.clone();
    dispatcher.on_session_lost(move |_, last_seq, _reason| {
        let _ = t.send(format!("session lost after {last_seq}"));
    });
    let (all_tx, all) = unbounded::<&'static str>();
    dispatcher.on_lifecycle(move |_, event| {
        let _ = all_tx.send(event.name());
    });
    let config = sim
        .client_config(Intents::GUILDS)
        .backoff(syncord::Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            reset_after: Duration::from_secs(60),
        })
        .invalid_session_delay(Duration::ZERO..=Duration::ZERO)
        .build()
        .expect("valid config");
    let running = spawn(&sim, &dispatcher, config);
    assert_eq!(recv(&rx, "ready"), "ready true None");

    // A dropped connection is resumed; an event pushed meanwhile is replayed.
    assert!(sim.close(4000));
    assert_eq!(recv(&rx, "disconnected"), "disconnected Some(4000)");
    assert_eq!(recv(&rx, "resumed"), "resumed 0");

    // A session invalidated without resume is lost, and a new one starts.
    let last = sim.push("TICK", "{}").unwrap();
    assert!(sim.invalidate_session(false));
    let mut next = recv(&rx, "the invalid session's consequences");
    if next.starts_with("disconnected") {
        next = recv(&rx, "session lost");
    }
    assert_eq!(next, format!("session lost after {last}"));
    assert_eq!(recv(&rx, "the new session"), "ready true None");
    let names: Vec<&str> = all.try_iter().collect();
    for name in [
        "connecting",
        "connected",
        "ready",
        "disconnected",
        "resumed",
        "session_lost",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    running.shutdown().unwrap();
}

#[test]
fn a_shard_built_from_the_dispatcher_identifies_with_the_intents_its_handlers_need() {
    let sim = Simulator::start(
        SimConfig::default()
            .heartbeat_interval(Duration::from_millis(200))
            .allowed_privileged(Intents::MESSAGE_CONTENT),
    )
    .unwrap();
    let dispatcher = Dispatcher::new();
    dispatcher.on::<GuildCreate>(|_, _| {});
    dispatcher.on::<MessageCreate>(|_, _| {});
    dispatcher.on_raw("MESSAGE_REACTION_ADD", |_, _| {});
    dispatcher.on_raw("INTERACTION_CREATE", |_, _| {});
    // Privileged intents come only when asked for.
    dispatcher.on::<GuildMemberAdd>(|_, _| {});
    dispatcher.add_intents(Intents::MESSAGE_CONTENT);
    let expected = Intents::GUILDS
        | Intents::GUILD_MESSAGES
        | Intents::DIRECT_MESSAGES
        | Intents::GUILD_MESSAGE_REACTIONS
        | Intents::DIRECT_MESSAGE_REACTIONS
        | Intents::MESSAGE_CONTENT;
    assert_eq!(dispatcher.intents(), expected);
    let running = spawn(&sim, &dispatcher, config(&sim, dispatcher.intents()));
    let identify = sim
        .wait_for(TIMEOUT, |r| r.op() == Some(2))
        .expect("an Identify");
    let sent = identify.data().and_then(|d| d["intents"].as_u64());
    assert_eq!(sent, Some(expected.bits()));
    running.shutdown().unwrap();
}

#[test]
fn a_handler_whose_event_cannot_arrive_is_named_with_the_missing_intent_at_start() {
    logs::capture();
    let sim = sim();
    let dispatcher = Dispatcher::new();
    dispatcher.on::<GuildMemberAdd>(|_, _| {});
    dispatcher.on_raw("GUILD_BAN_ADD", |_, _| {});
    dispatcher.on::<GuildCreate>(|_, _| {});
    let missing = dispatcher.check(Intents::GUILDS);
    let events: Vec<&str> = missing.iter().map(|m| m.event.as_str()).collect();
    assert_eq!(events, ["GUILD_MEMBER_ADD", "GUILD_BAN_ADD"]);
    assert_eq!(missing[0].needs, Intents::GUILD_MEMBERS);
    assert_eq!(missing[1].needs, Intents::GUILD_MODERATION);

    // Set explicitly on the shard: warned when it starts.
    let running = spawn(
        &sim,
        &dispatcher,
        sim.client_config(Intents::GUILDS)
            .shard(0, 1)
            .build()
            .expect("valid config"),
    );
    let line = logs::wait_for(TIMEOUT, |line| {
        line.contains("GUILD_MEMBER_ADD") && line.contains("never fires")
    })
    .expect("a warning naming the handler's event");
    assert!(
        line.contains("GUILD_MEMBERS") && line.starts_with("WARN"),
        "{line}"
    );
    assert!(
        logs::wait_for(TIMEOUT, |line| line.contains("GUILD_BAN_ADD")
            && line.contains("GUILD_MODERATION"))
        .is_some()
    );
    running.shutdown().unwrap();
}

#[test]
fn wait_for_returns_the_matching_dispatch_from_another_thread() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    // Registered first, then the "command": the answer cannot be missed.
    let waiter = dispatcher.waiter("ANSWER", |d| d.data_json().contains(r#""n":42"#));
    sim.push("ANSWER", r#"{"n":1}"#).unwrap();
    let seq = sim.push("ANSWER", r#"{"n":42}"#).unwrap();
    let answer = waiter.wait(TIMEOUT).expect("the answer");
    assert_eq!((answer.event_type(), answer.seq()), ("ANSWER", seq));

    let started = Instant::now();
    let timeout = Duration::from_millis(200);
    assert_eq!(
        dispatcher.wait_for("NEVER", |_| true, timeout).unwrap_err(),
        WaitError::Timeout(timeout)
    );
    assert!(started.elapsed() >= timeout);
    // Already live: returns at once.
    dispatcher
        .wait_ready(Duration::ZERO)
        .expect("the session is live");
    running.shutdown().unwrap();
}

#[test]
fn waiting_on_the_handler_thread_fails_at_once_instead_of_deadlocking() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded();
    let d = dispatcher.clone();
    dispatcher.on_raw("ASK", move |_, _| {
        let started = Instant::now();
        let wait = d.wait_for("NEVER", |_| true, Duration::from_secs(60));
        let ready = d.wait_ready(Duration::from_secs(60));
        let _ = tx.send((wait.err(), ready.err(), started.elapsed()));
    });
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    sim.push("ASK", "{}").unwrap();
    let (wait, ready, took) = recv(&rx, "the handler's waits");
    assert_eq!(wait, Some(WaitError::OnHandlerThread));
    assert_eq!(ready, Some(WaitError::OnHandlerThread));
    assert!(
        took < Duration::from_secs(10),
        "failed at once, took {took:?}"
    );
    running.shutdown().unwrap();
}

#[test]
fn a_slow_wait_for_predicate_never_stalls_the_reader() {
    // The caller's thread holds the waiters' lock while a predicate runs. The reader asks
    // the dispatcher about every event name it has not seen since the last registration,
    // so if that question waited for the lock, a slow predicate would stop the reader: no
    // frames read, a heartbeat request unanswered (the reader relays those itself). An
    // hour-long interval keeps scheduled beats out of the way.
    let sim = Simulator::start(SimConfig::default().heartbeat_interval(Duration::from_secs(3600)))
        .expect("simulator starts");
    let dispatcher = Dispatcher::new();
    let (entered_tx, entered) = unbounded();
    let (release, release_rx) = unbounded::<()>();
    let waiter = dispatcher.waiter("SLOW", move |_| {
        let _ = entered_tx.send(());
        let _ = release_rx.recv_timeout(TIMEOUT);
        true
    });
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    let slow = sim.push("SLOW", "{}").unwrap();
    recv(&entered, "the predicate to start");

    sim.push("NEVER_SEEN_BEFORE", "{}").unwrap();
    let beats = sim.received(1).len();
    assert!(sim.request_heartbeat());
    let answered = sim.wait_for_nth(Duration::from_secs(5), beats + 1, |r| r.op() == Some(1));
    release.send(()).unwrap();
    assert!(
        answered.is_some(),
        "the heartbeat request went unanswered while a predicate ran"
    );
    assert_eq!(waiter.wait(TIMEOUT).expect("the slow one").seq(), slow);
    running.shutdown().unwrap();
}

#[test]
fn a_wait_ends_with_stopped_when_the_shard_stops() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    let waiter = dispatcher.waiter("NEVER", |_| true);
    let waiting = std::thread::spawn(move || waiter.wait(Duration::from_secs(60)));
    running.shutdown().unwrap();
    assert_eq!(waiting.join().unwrap().unwrap_err(), WaitError::Stopped);
}

#[test]
fn a_panicking_handler_is_reported_and_the_others_still_run() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded::<String>();
    dispatcher.on::<MessageCreate>(|_, m| panic!("boom on {}", m.id));
    let t = tx.clone();
    dispatcher.on::<MessageCreate>(move |_, m| {
        let _ = t.send(format!("second saw {}", m.id));
    });
    let t = tx.clone();
    dispatcher.on_error(move |_, kind, message| {
        let _ = t.send(format!("error {kind}: {message}"));
    });
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILD_MESSAGES));
    let seq = sim.push("MESSAGE_CREATE", &message(5, "x")).unwrap();
    assert_eq!(recv(&rx, "the second handler"), "second saw 5");
    let report = recv(&rx, "the panic report");
    assert!(
        report.starts_with("error handler_panicked: ")
            && report.contains(&format!("MESSAGE_CREATE (s={seq})"))
            && report.contains("boom on 5"),
        "{report}"
    );
    // The shard carries on.
    sim.push("MESSAGE_CREATE", &message(6, "y")).unwrap();
    assert_eq!(recv(&rx, "the next message"), "second saw 6");
    running.shutdown().unwrap();
}

#[test]
fn stop_on_handler_panic_still_stops_the_shard() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    dispatcher.on_raw("BOOM", |_, _| panic!("kaboom"));
    let config = sim
        .client_config(Intents::GUILDS)
        .stop_on_handler_panic(true)
        .build()
        .expect("valid config");
    let running = spawn(&sim, &dispatcher, config);
    sim.push("BOOM", "{}").unwrap();
    match running.join() {
        Err(Error::HandlerPanicked { event, message }) => {
            assert!(event.contains("BOOM"), "{event}");
            assert_eq!(message, "kaboom");
        }
        other => panic!("expected HandlerPanicked, got {other:?}"),
    }
}

#[test]
fn a_slow_handler_is_reported_while_it_still_runs() {
    logs::capture();
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (release_tx, release) = unbounded::<()>();
    let (done_tx, done) = unbounded::<()>();
    dispatcher.on_raw("SLOW_EVENT", move |_, _| {
        // Held until the test has seen the warning: it must come while this runs.
        let _ = release.recv_timeout(TIMEOUT);
        let _ = done_tx.send(());
    });
    let config = sim
        .client_config(Intents::GUILDS)
        .slow_handler_warning(Duration::from_millis(100))
        .build()
        .expect("valid config");
    let running = spawn(&sim, &dispatcher, config);
    let seq = sim.push("SLOW_EVENT", "{}").unwrap();
    let line = logs::wait_for(TIMEOUT, |line| {
        line.contains(&format!("SLOW_EVENT (s={seq})")) && line.contains("has been running for")
    })
    .expect("an in-flight warning");
    assert!(
        done.try_recv().is_err(),
        "the warning came while the handler ran: {line}"
    );
    release_tx.send(()).unwrap();
    recv(&done, "the handler to return");
    assert!(logs::wait_for(TIMEOUT, |l| l.contains("SLOW_EVENT")
        && l.contains("returned after"))
    .is_some());
    running.shutdown().unwrap();
}

#[test]
fn any_serde_type_is_a_model_twilight_models_included() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let (tx, rx) = unbounded::<(u64, String, String)>();
    dispatcher.on_data::<twilight_model::channel::Message>("MESSAGE_CREATE", move |_, m| {
        let _ = tx.send((m.id.get(), m.author.name.clone(), m.content.clone()));
    });
    let running = spawn(
        &sim,
        &dispatcher,
        config(&sim, Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT),
    );
    let d = serde_json::json!({
        "id": "334385199974967042", "channel_id": "290926798999357250", "guild_id": "290926798626357248",
        "author": {"id": "53908099506183680", "username": "Mason", "discriminator": "9999", "global_name": null, "avatar": null},
        "member": {"roles": [], "joined_at": "2017-03-13T19:19:14.040000+00:00", "deaf": false, "mute": false, "flags": 0},
        "content": "twilight \"too\"", "timestamp": "2017-07-11T17:27:07.299000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "type": 0, "flags": 0, "components": [],
    });
    sim.push("MESSAGE_CREATE", &d.to_string()).unwrap();
    let (id, author, content) = recv(&rx, "twilight's Message");
    assert_eq!(
        (id, author.as_str(), content.as_str()),
        (334385199974967042, "Mason", "twilight \"too\"")
    );
    running.shutdown().unwrap();
}

#[test]
fn registrations_made_while_running_take_effect_for_the_next_event() {
    let sim = sim();
    let dispatcher = Dispatcher::new();
    let marks = marks(&dispatcher);
    let running = spawn(&sim, &dispatcher, config(&sim, Intents::GUILDS));
    let (tx, rx) = unbounded::<u64>();
    dispatcher.on_raw("LATE", move |ctx, _| {
        let _ = tx.send(ctx.seq().unwrap_or(0));
    });
    let seq = sim.push("LATE", "{}").unwrap();
    assert_eq!(recv(&rx, "LATE"), seq);
    barrier(&sim, &marks);
    running.shutdown().unwrap();
}
