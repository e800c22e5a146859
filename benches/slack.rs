//! Socket Mode against the Slack simulator (issue 14): envelopes per second end to end, and
//! the acknowledgement latency (the simulator's write of an envelope -> its read of the ack,
//! both on the simulator's clock), paced and flat out.
//!
//!     cargo bench --bench slack --features slack,sim -- [ENVELOPES=20000] [RUNS=5]
//!
//! The simulator builds each envelope's JSON as it pushes (nothing pre-encoded), so the
//! throughput figure includes its work on the same machine: a floor for the client.

use std::collections::HashMap;
use std::time::{Duration, Instant};
use syncord::sim::slack::{payload, SlackSim, SlackSimConfig};
use syncord::slack::{SlackConfig, SlackEvent, SocketMode};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at]
}

struct Run {
    per_second: f64,
    acks: Vec<Duration>,
}

/// Pushes `n` envelopes, one every `pace` (flat out for zero), and waits for the handler to
/// have all of them.
fn run(n: usize, pace: Duration) -> Run {
    let sim = SlackSim::start(SlackSimConfig::default()).expect("the simulator starts");
    let config = SlackConfig::builder(sim.app_token())
        .api_base(sim.api_base())
        .build()
        .expect("valid");
    let (tx, events) = crossbeam_channel::unbounded();
    let client = SocketMode::new(config)
        .spawn(move |event| {
            if matches!(event, SlackEvent::Envelope(_) | SlackEvent::Hello { .. }) {
                let _ = tx.send(());
            }
        })
        .expect("the client starts");
    events.recv_timeout(Duration::from_secs(10)).expect("hello");
    let event = payload::message_event(
        "C0SIM",
        "U0SIMUSER",
        "a benchmark message of ordinary length",
    );
    let started = Instant::now();
    let mut next = started;
    for _ in 0..n {
        if !pace.is_zero() {
            // Sleeping, not spinning: on 2 cores a spinning pacer takes one from the
            // client and the simulator.
            next += pace;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        sim.push_events_api(&event);
    }
    for _ in 0..n {
        events
            .recv_timeout(Duration::from_secs(60))
            .expect("every envelope arrives");
    }
    let elapsed = started.elapsed();
    assert!(
        sim.wait_for_acks(n, Duration::from_secs(30)),
        "every envelope acked"
    );
    let sent: HashMap<String, Instant> = sim
        .deliveries()
        .into_iter()
        .map(|d| (d.envelope_id, d.at))
        .collect();
    let mut acks: Vec<Duration> = sim
        .acks()
        .into_iter()
        .filter_map(|a| {
            sent.get(&a.envelope_id)
                .map(|at| a.at.saturating_duration_since(*at))
        })
        .collect();
    acks.sort_unstable();
    client.shutdown().expect("clean stop");
    Run {
        per_second: n as f64 / elapsed.as_secs_f64(),
        acks,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(20_000);
    let runs = args.get(1).copied().unwrap_or(5).max(1);
    for (label, pace, count) in [
        ("flat out", Duration::ZERO, n),
        ("1k/s", Duration::from_millis(1), n.min(5_000)),
    ] {
        let mut rates = Vec::new();
        let mut p50 = Vec::new();
        let mut p99 = Vec::new();
        for _ in 0..runs {
            let r = run(count, pace);
            rates.push(r.per_second);
            p50.push(percentile(&r.acks, 0.50));
            p99.push(percentile(&r.acks, 0.99));
        }
        rates.sort_by(f64::total_cmp);
        p50.sort_unstable();
        p99.sort_unstable();
        let mid = runs / 2;
        println!(
            "slack {label}: envelopes={count} runs={runs} envelopes_per_s={:.0} (min {:.0}, max {:.0}) ack_p50={:?} ack_p99={:?} (medians of the runs; p99 per run {:?})",
            rates[mid], rates[0], rates[runs - 1], p50[mid], p99[mid], p99
        );
    }
}
