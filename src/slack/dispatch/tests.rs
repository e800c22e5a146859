//! The dispatcher driven directly with events built from Socket Mode frames (the client's
//! reader makes them the same way), acknowledgements recorded.

use super::route::{Acks, Router};
use super::*;
use crate::slack::model::{
    AppMention, BlockActions, MessageEvent, ReactionAdded, SlashCommand, ViewSubmission,
};
use crate::slack::wire::{parse, Frame};
use crate::slack::RespondError;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the router asked of the client, in order, with what handlers did in between.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    /// What `respond` answers.
    respond_error: Mutex<Option<RespondError>>,
}

impl Log {
    fn push(&self, line: impl Into<String>) {
        self.lines.lock().push(line.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.lines.lock())
    }
}

impl Acks for Log {
    fn respond(&self, envelope_id: &str, payload_json: &str) -> Result<(), RespondError> {
        self.push(format!("respond {envelope_id} {payload_json}"));
        match self.respond_error.lock().clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn ack_now(&self, envelope_id: &str) -> Result<(), RespondError> {
        self.push(format!("ack_now {envelope_id}"));
        Ok(())
    }
}

fn router(dispatcher: &SlackDispatcher) -> (Router, Arc<Log>) {
    let log = Arc::new(Log::default());
    let router = dispatcher
        .router(SlackHandle::default(), log.clone())
        .expect("a router");
    (router, log)
}

fn envelope(text: &str) -> SlackEvent {
    match parse(text) {
        Ok(Frame::Envelope(envelope)) => SlackEvent::Envelope(envelope),
        other => panic!("not an envelope: {other:?}"),
    }
}

fn events_api(envelope_id: &str, event: &str) -> SlackEvent {
    envelope(&format!(
        r#"{{"envelope_id":"{envelope_id}","type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":"","payload":{{"token":"XXYYZZ","team_id":"T1","api_app_id":"A1","event":{event},"type":"event_callback","event_id":"Ev-{envelope_id}","event_time":1355517523}}}}"#
    ))
}

fn message(envelope_id: &str, text: &str) -> SlackEvent {
    events_api(
        envelope_id,
        &format!(
            r#"{{"type":"message","channel":"C1","user":"U1","text":{},"ts":"1355517523.000005"}}"#,
            serde_json::to_string(text).unwrap()
        ),
    )
}

fn slash(envelope_id: &str, command: &str) -> SlackEvent {
    envelope(&format!(
        r#"{{"envelope_id":"{envelope_id}","type":"slash_commands","accepts_response_payload":true,"payload":{{"token":"gIkuvaNz","team_id":"T1","channel_id":"C1","user_id":"U1","user_name":"Steve","command":"{command}","text":"94070","response_url":"https:\/\/hooks.slack.com\/commands\/1","trigger_id":"1.2.3","api_app_id":"A1"}}}}"#
    ))
}

fn interactive(envelope_id: &str, payload: &str, accepts: bool) -> SlackEvent {
    envelope(&format!(
        r#"{{"envelope_id":"{envelope_id}","type":"interactive","accepts_response_payload":{accepts},"payload":{payload}}}"#
    ))
}

fn the_envelope(event: &SlackEvent) -> &Envelope {
    match event {
        SlackEvent::Envelope(envelope) => envelope,
        other => panic!("{other:?}"),
    }
}

/// A dispatcher whose handlers append to `log`.
fn logging(log: &Arc<Log>) -> impl Fn(&'static str) -> Box<dyn Fn() + Send> {
    let log = log.clone();
    move |name| {
        let log = log.clone();
        Box::new(move || log.push(name))
    }
}

#[test]
fn typed_handlers_get_their_models() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let l = log.clone();
    dispatcher.on::<MessageEvent>(move |ctx, m| {
        l.push(format!(
            "message {} {:?} {:?}",
            m.text,
            ctx.event_id(),
            ctx.envelope_id()
        ))
    });
    let l = log.clone();
    dispatcher.on::<AppMention>(move |_, m| l.push(format!("mention {}", m.text)));
    let l = log.clone();
    dispatcher.on::<ReactionAdded>(move |_, r| l.push(format!("reaction {}", r.reaction)));
    let l = log.clone();
    dispatcher.on::<SlashCommand>(move |_, c| l.push(format!("command {} {}", c.command, c.text)));
    let l = log.clone();
    dispatcher
        .on::<BlockActions>(move |_, b| l.push(format!("actions {}", b.actions[0].action_id)));
    let l = log.clone();
    dispatcher.on::<ViewSubmission>(move |_, v| l.push(format!("view {}", v.view.id)));

    router.route(message("e1", "two\nlines \u{1F600}"));
    router.route(events_api(
        "e2",
        r#"{"type":"app_mention","user":"U1","text":"<@U0> hi","ts":"1.2","channel":"C1"}"#,
    ));
    router.route(events_api(
        "e3",
        r#"{"type":"reaction_added","user":"U1","reaction":"thumbsup","item":{"type":"message","channel":"C1","ts":"1.2"}}"#,
    ));
    router.route(slash("e4", "\\/weather"));
    router.route(interactive(
        "e5",
        r#"{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"go","type":"button"}]}"#,
        false,
    ));
    router.route(interactive(
        "e6",
        r#"{"type":"view_submission","user":{"id":"U1"},"view":{"id":"V1","state":{"values":{}}}}"#,
        false,
    ));
    router.route(events_api(
        "e7",
        r#"{"type":"reaction_removed","user":"U1","reaction":"x"}"#,
    ));
    let lines: Vec<String> = log
        .take()
        .into_iter()
        .filter(|l| !l.starts_with("ack_now"))
        .collect();
    assert_eq!(
        lines,
        [
            "message two\nlines 😀 Some(\"Ev-e1\") Some(\"e1\")",
            "mention <@U0> hi",
            "reaction thumbsup",
            "command /weather 94070",
            "actions go",
            "view V1",
        ]
    );
}

#[test]
fn raw_handlers_route_by_payload_type_and_by_envelope_type() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let l = log.clone();
    dispatcher.on_raw("reaction_removed", move |ctx, e| {
        l.push(format!("raw {} {}", e.envelope_id(), ctx.retry_attempt()))
    });
    let l = log.clone();
    dispatcher.on_raw("shortcut", move |_, e| {
        l.push(format!("shortcut {}", e.envelope_id()))
    });
    let l = log.clone();
    dispatcher.on_envelope("slash_commands", move |_, e| {
        l.push(format!("slash {}", e.envelope_id()))
    });
    let l = log.clone();
    dispatcher.on_envelope("events_api", move |_, e| {
        l.push(format!("events_api {}", e.envelope_id()))
    });

    router.route(events_api("r1", r#"{"type":"reaction_removed"}"#));
    router.route(message("r2", "hi"));
    router.route(slash("r3", "/x"));
    router.route(interactive("r4", r#"{"type":"shortcut"}"#, false));
    router.route(envelope(
        r#"{"envelope_id":"r5","type":"something_new","payload":{"type":"reaction_removed"}}"#,
    ));
    assert_eq!(
        log.take(),
        [
            "raw r1 0",
            "events_api r1",
            "events_api r2",
            "ack_now r3",
            "slash r3",
            "shortcut r4",
            "raw r5 0",
        ]
    );
}

#[test]
fn handlers_of_one_envelope_run_in_registration_order() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let mark = logging(&log);
    let (a, b, c, d, e) = (
        mark("any"),
        mark("typed"),
        mark("raw"),
        mark("kind"),
        mark("typed 2"),
    );
    dispatcher.on_any(move |_, _| a());
    dispatcher.on::<MessageEvent>(move |_, _| b());
    dispatcher.on_raw("message", move |_, _| c());
    dispatcher.on_envelope("events_api", move |_, _| d());
    dispatcher.on::<MessageEvent>(move |_, _| e());
    let lifecycle = mark("lifecycle");
    dispatcher.on_lifecycle(move |_, _| lifecycle());

    router.route(message("o1", "hi"));
    assert_eq!(log.take(), ["any", "typed", "raw", "kind", "typed 2"]);
    router.route(SlackEvent::Connected);
    assert_eq!(log.take(), ["any", "lifecycle"]);
}

#[test]
fn a_removed_handler_runs_for_no_later_event_not_even_the_current_one() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let later: Arc<Mutex<Option<Registration>>> = Arc::default();
    let first = {
        let (log, later) = (log.clone(), later.clone());
        dispatcher.on::<MessageEvent>(move |_, m| {
            log.push(format!("first {}", m.text));
            if let Some(later) = later.lock().as_ref() {
                assert!(later.remove());
            }
        })
    };
    let l = log.clone();
    *later.lock() = Some(dispatcher.on_raw("message", move |_, _| l.push("later")));
    assert_eq!(dispatcher.handlers.len(), 2);

    router.route(message("m1", "one"));
    assert_eq!(
        log.take(),
        ["first one"],
        "removed while the event was routed"
    );
    assert!(!later.lock().as_ref().unwrap().is_registered());
    assert_eq!(dispatcher.handlers.len(), 1, "the table dropped it");

    assert!(first.remove());
    assert!(!first.remove(), "removed once");
    router.route(message("m2", "two"));
    assert!(log.take().is_empty());
    assert!(format!("{first:?}").contains("registered: false"));
}

#[test]
fn once_handlers_run_for_one_event_each() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let l = log.clone();
    let typed = dispatcher.once::<MessageEvent>(move |_, m| l.push(format!("once {}", m.text)));
    let l = log.clone();
    dispatcher.once_raw("message", move |_, e| {
        l.push(format!("raw {}", e.envelope_id()))
    });
    let l = log.clone();
    dispatcher.once_envelope("events_api", move |_, e| {
        l.push(format!("kind {}", e.envelope_id()))
    });
    router.route(message("n1", "a"));
    router.route(message("n2", "b"));
    assert_eq!(log.take(), ["once a", "raw n1", "kind n1"]);
    assert!(!typed.is_registered());
    assert_eq!(
        dispatcher.handlers.len(),
        0,
        "all three gone from the table"
    );
}

#[test]
fn a_panicking_handler_is_reported_and_the_others_still_run() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    dispatcher.on::<MessageEvent>(|_, m| panic!("boom on {}", m.text));
    let l = log.clone();
    dispatcher.on_raw("message", move |_, _| l.push("raw still runs"));
    let l = log.clone();
    dispatcher.on_error(move |ctx, message| {
        l.push(format!(
            "error {message} (envelope {:?})",
            ctx.envelope_id()
        ))
    });
    let l = log.clone();
    dispatcher.on_any(move |_, event| {
        if let SlackEvent::Error { .. } = event {
            l.push("any got the error")
        }
    });

    router.route(message("p1", "x"));
    assert_eq!(
        log.take(),
        [
            "raw still runs",
            "error a handler for the message event panicked: boom on x (envelope Some(\"p1\"))",
            "any got the error",
        ]
    );
    router.route(message("p2", "y"));
    assert_eq!(
        log.take().len(),
        3,
        "the panicking handler stays registered"
    );
}

#[test]
fn a_payload_that_does_not_fit_the_model_is_reported_and_raw_handlers_still_run() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let l = log.clone();
    dispatcher.on::<MessageEvent>(move |_, _| l.push("typed"));
    dispatcher.on::<MessageEvent>(|_, _| unreachable!("skipped as well"));
    let l = log.clone();
    dispatcher.on_raw("message", move |_, _| l.push("raw"));
    let l = log.clone();
    dispatcher.on_error(move |_, message| l.push(message.to_owned()));
    // No `channel`: a message must have one.
    router.route(events_api(
        "b1",
        r#"{"type":"message","text":"hi","ts":"1"}"#,
    ));
    let lines = log.take();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "raw");
    assert!(
        lines[1].starts_with("a events_api envelope (message) did not parse as")
            && lines[1].contains("MessageEvent")
            && lines[1].contains("missing field `channel`")
            && lines[1].ends_with("its typed handlers were skipped"),
        "reported once: {}",
        lines[1]
    );
}

#[test]
fn lifecycle_handlers_get_their_events() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let l = log.clone();
    dispatcher.on_hello(move |_, n| l.push(format!("hello {n}")));
    let l = log.clone();
    dispatcher.on_disconnect(move |_, reason| l.push(format!("disconnect {reason}")));
    let l = log.clone();
    dispatcher
        .on_disconnected(move |_, code, reason| l.push(format!("disconnected {code:?} {reason}")));
    let l = log.clone();
    dispatcher.on_error(move |_, message| l.push(format!("error {message}")));
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    dispatcher.on_lifecycle(move |ctx, _| {
        assert_eq!(ctx.envelope_id(), None);
        c.fetch_add(1, Ordering::Relaxed);
    });
    let any = Arc::new(AtomicUsize::new(0));
    let a = any.clone();
    dispatcher.on_any(move |_, _| {
        a.fetch_add(1, Ordering::Relaxed);
    });

    let events = [
        SlackEvent::Connecting { attempt: 0 },
        SlackEvent::Connected,
        SlackEvent::Hello {
            num_connections: 2,
            host: None,
            approximate_connection_time: Some(18060),
        },
        SlackEvent::Disconnect {
            reason: "refresh_requested".into(),
        },
        SlackEvent::Disconnected {
            code: Some(1000),
            reason: "refreshed".into(),
        },
        SlackEvent::Reconnecting {
            attempt: 1,
            delay: Duration::from_secs(1),
        },
        SlackEvent::Error {
            kind: crate::ErrorKind::SkippedPayload,
            message: "a frame that is not a JSON object".into(),
        },
    ];
    for event in events {
        router.route(event);
    }
    router.route(message("l1", "an envelope is no lifecycle event"));
    assert_eq!(
        log.take(),
        [
            "hello 2",
            "disconnect refresh_requested",
            "disconnected Some(1000) refreshed",
            "error a frame that is not a JSON object",
        ]
    );
    assert_eq!(count.load(Ordering::Relaxed), 7);
    assert_eq!(any.load(Ordering::Relaxed), 8);
}

#[test]
fn the_context_carries_the_envelope_facts() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let l = log.clone();
    dispatcher.on_envelope("events_api", move |ctx, _| {
        l.push(format!(
            "{:?} {} {:?} {:?}",
            ctx.envelope_id(),
            ctx.retry_attempt(),
            ctx.retry_reason(),
            ctx.event_id()
        ));
        l.push(format!("{ctx:?}"));
    });
    router.route(envelope(
        r#"{"envelope_id":"x9","type":"events_api","accepts_response_payload":false,"retry_attempt":2,"retry_reason":"timeout","payload":{"token":"SECRET","event_id":"Ev9","event":{"type":"message"}}}"#,
    ));
    let lines = log.take();
    assert_eq!(lines[0], r#"Some("x9") 2 Some("timeout") Some("Ev9")"#);
    assert!(
        lines[1].contains("x9") && !lines[1].contains("SECRET"),
        "{}",
        lines[1]
    );
}

#[test]
fn the_hold_predicate_takes_envelopes_that_accept_a_payload_and_have_a_responder() {
    let dispatcher = SlackDispatcher::new();
    let handlers = &dispatcher.handlers;
    let command = slash("h1", "/ping");
    let submission = interactive(
        "h2",
        r#"{"type":"view_submission","user":{"id":"U"},"view":{"id":"V"}}"#,
        true,
    );
    let actions = interactive(
        "h3",
        r#"{"type":"block_actions","user":{"id":"U"},"actions":[]}"#,
        true,
    );
    let not_accepting = interactive(
        "h4",
        r#"{"type":"view_submission","user":{"id":"U"},"view":{"id":"V"}}"#,
        false,
    );
    let held = |event: &SlackEvent| handlers.has_responder(the_envelope(event));
    dispatcher.on::<SlashCommand>(|_, _| {});
    assert!(!held(&command), "observing handlers hold nothing");
    let slash_responder = dispatcher.respond::<SlashCommand>(|_, _| None);
    assert!(held(&command));
    assert!(!held(&submission) && !held(&actions));
    let view_responder = dispatcher.respond_raw("view_submission", |_, _| None);
    assert!(held(&submission) && !held(&actions));
    assert!(
        !held(&not_accepting),
        "accepts_response_payload false: never held"
    );
    assert!(!held(&message("h5", "hi")));
    dispatcher.respond_raw("interactive", |_, _| None);
    assert!(held(&actions), "by envelope type too");
    slash_responder.remove();
    view_responder.remove();
    assert!(!held(&command), "removed responders hold nothing");
}

#[test]
fn a_responders_answer_is_the_acknowledgement_sent_before_later_handlers_run() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let l = log.clone();
    dispatcher.on_envelope("slash_commands", move |_, _| l.push("observer before"));
    let l = log.clone();
    dispatcher.respond::<SlashCommand>(move |_, command| {
        l.push("responder");
        (command.command == "/ping").then(|| serde_json::json!({"text": "pong \"quoted\"\n"}))
    });
    let l = log.clone();
    dispatcher.on::<SlashCommand>(move |_, _| l.push("observer after"));

    router.route(slash("s1", "/ping"));
    assert_eq!(
        log.take(),
        [
            "observer before",
            "responder",
            r#"respond s1 {"text":"pong \"quoted\"\n"}"#,
            "observer after",
        ]
    );
    router.route(slash("s2", "/other"));
    assert_eq!(
        log.take(),
        [
            "observer before",
            "responder",
            "ack_now s2",
            "observer after"
        ],
        "no answer: the plain acknowledgement goes as soon as the responder returned"
    );
}

#[test]
fn an_envelope_without_responders_is_acknowledged_before_its_handlers_run() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let l = log.clone();
    dispatcher.on::<SlashCommand>(move |_, _| l.push("handler"));
    router.route(slash("a1", "/x"));
    assert_eq!(log.take(), ["ack_now a1", "handler"]);
    router.route(message("a2", "events_api envelopes accept no payload"));
    assert!(log.take().is_empty(), "nothing to acknowledge from here");
}

#[test]
fn the_first_responder_that_answers_is_sent_and_a_second_answer_reported() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let l = log.clone();
    dispatcher.respond_raw("slash_commands", move |_, _| {
        l.push("declines");
        None
    });
    dispatcher.respond::<SlashCommand>(|_, _| Some(serde_json::json!({"text": "first"})));
    dispatcher.respond::<SlashCommand>(|_, _| Some(serde_json::json!({"text": "second"})));
    let l = log.clone();
    dispatcher.on_error(move |_, message| l.push(format!("error {message}")));
    router.route(slash("f1", "/x"));
    assert_eq!(
        log.take(),
        [
            "declines",
            r#"respond f1 {"text":"first"}"#,
            "error a second responder answered the slash_commands event: only the first answer is sent",
        ]
    );
}

#[test]
fn a_response_that_cannot_be_sent_is_reported_and_the_plain_ack_goes() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    dispatcher.respond_raw("view_submission", |_, _| {
        Some(serde_json::json!({"response_action": "errors", "errors": {"b": "x".repeat(30_000)}}))
    });
    let l = log.clone();
    dispatcher.on_error(move |_, message| l.push(format!("error {message}")));
    *log.respond_error.lock() = Some(RespondError::TooLarge(30_100));
    let submission = r#"{"type":"view_submission","user":{"id":"U"},"view":{"id":"V"}}"#;
    router.route(interactive("t1", submission, true));
    let lines = log.take();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("respond t1 {\"errors\""));
    assert_eq!(lines[1], "ack_now t1");
    assert!(
        lines[2].starts_with("error the response to the view_submission event (envelope t1) was not sent: the acknowledgement would be 30100 bytes"),
        "{}",
        lines[2]
    );

    // Too late: the client acknowledged it already; nothing more to send.
    *log.respond_error.lock() = Some(RespondError::AlreadyAcknowledged);
    router.route(interactive("t2", submission, true));
    let lines = log.take();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].contains("too late"), "{}", lines[1]);
}

#[test]
fn a_panicking_responder_is_reported_and_the_plain_ack_goes() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    dispatcher.respond::<SlashCommand>(|_, _| panic!("responder broke"));
    let l = log.clone();
    dispatcher.on_error(move |_, message| l.push(format!("error {message}")));
    router.route(slash("x1", "/x"));
    assert_eq!(
        log.take(),
        [
            "ack_now x1",
            "error a handler for the slash_commands event panicked: responder broke",
        ]
    );
}

#[test]
fn a_responder_for_an_envelope_that_accepts_no_payload_has_its_answer_dropped() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    dispatcher.respond_raw("block_actions", |_, _| Some(serde_json::json!({})));
    let l = log.clone();
    dispatcher.on_error(move |_, message| l.push(format!("error {message}")));
    router.route(interactive(
        "d1",
        r#"{"type":"block_actions","user":{"id":"U"},"actions":[]}"#,
        false,
    ));
    let lines = log.take();
    assert_eq!(lines.len(), 1, "no acknowledgement from here: {lines:?}");
    assert!(
        lines[0].contains("does not accept a response payload"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_responder_removed_before_or_while_its_envelope_is_routed_lets_the_plain_ack_go() {
    let dispatcher = SlackDispatcher::new();
    let (mut router, log) = router(&dispatcher);
    let removed_before = dispatcher.respond::<SlashCommand>(|_, _| unreachable!("removed"));
    removed_before.remove();
    let l = log.clone();
    dispatcher.on_any(move |_, _| l.push("any"));
    router.route(slash("g1", "/x"));
    assert_eq!(log.take(), ["ack_now g1", "any"]);

    // Removed by a handler that runs first: the responder is skipped, and the plain
    // acknowledgement goes in its place.
    let responder: Arc<Mutex<Option<Registration>>> = Arc::default();
    let r = responder.clone();
    dispatcher.on_envelope("slash_commands", move |_, _| {
        if let Some(responder) = r.lock().take() {
            responder.remove();
        }
    });
    *responder.lock() = Some(dispatcher.respond::<SlashCommand>(|_, _| unreachable!("removed")));
    router.route(slash("g2", "/x"));
    assert_eq!(log.take(), ["any", "ack_now g2"]);
}

#[test]
fn the_dispatcher_and_its_context_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SlackDispatcher>();
    send_sync::<SlackContext>();
    send_sync::<Registration>();
    let dispatcher = SlackDispatcher::new();
    dispatcher.on::<MessageEvent>(|_, _| {});
    assert_eq!(format!("{dispatcher:?}"), "SlackDispatcher { handlers: 1 }");
}

mod slow {
    use super::*;
    use parking_lot::Condvar;

    /// Every log line of this test binary (other tests' lines too: each test looks for its
    /// own).
    struct Capture {
        lines: Mutex<Vec<String>>,
        added: Condvar,
    }

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            self.lines.lock().push(record.args().to_string());
            self.added.notify_all();
        }
        fn flush(&self) {}
    }

    static CAPTURE: Capture = Capture {
        lines: Mutex::new(Vec::new()),
        added: Condvar::new(),
    };

    /// The first line that `what` matches, waiting up to `timeout` for it.
    fn wait_for(timeout: Duration, what: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        let mut lines = CAPTURE.lines.lock();
        loop {
            if let Some(line) = lines.iter().find(|l| what(l)) {
                return Some(line.clone());
            }
            if CAPTURE.added.wait_until(&mut lines, deadline).timed_out() {
                return None;
            }
        }
    }

    #[test]
    fn a_slow_handler_is_reported_while_it_still_runs() {
        if log::set_logger(&CAPTURE).is_ok() {
            log::set_max_level(log::LevelFilter::Warn);
        }
        let dispatcher = SlackDispatcher::new();
        dispatcher.slow_handler_warning(Duration::from_millis(50));
        let (mut router, _log) = router(&dispatcher);
        let in_flight: Arc<Mutex<Option<String>>> = Arc::default();
        let seen = in_flight.clone();
        dispatcher.on_raw("slow_thing", move |_, _| {
            // Returns only once the warning is logged: it must come while this runs.
            *seen.lock() = wait_for(Duration::from_secs(10), |l| {
                l.starts_with("slack: a handler for the slow_thing event has been running")
            });
        });
        router.route(events_api("w1", r#"{"type":"slow_thing"}"#));
        let line = in_flight
            .lock()
            .take()
            .expect("a warning while the handler ran");
        assert!(line.contains("and has not returned"), "{line}");
        assert!(wait_for(Duration::ZERO, |l| {
            l.starts_with("slack: a handler for the slow_thing event returned after")
        })
        .is_some());
    }
}
