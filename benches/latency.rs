//! Dispatch latency and command latency (issue 6, items 3–4).
//!
//! Dispatch latency: a loopback server sends pre-built dispatches (MESSAGE_CREATE,
//! TYPING_START, PRESENCE_UPDATE; no GUILD_CREATE) at a fixed rate, one write each, and
//! stores the instant of each write; the callback stores the instant it is entered. Both
//! read one process-wide clock. p50 / p99 / p99.9 at 1k and 10k events/s.
//!
//! The floor: the same server and pacing read by one blocking tungstenite thread that
//! inflates, reads the top level (`protocol::skim`) and takes the time itself (no thread
//! hand-off).
//!
//! Command latency: `ShardHandle::send_raw` (op 3, presence) every 4 ms -> the instant the
//! server's reader has the message, idle (nothing else on the connection) and while the
//! shard receives 10k events/s.
//!
//!     cargo bench --bench latency -- [SECONDS=10] [none] [zlib] [zstd]

mod common;

use common::{now_ns, Args, BenchServer, ClientMessages, Mode, Pace, Prebuilt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use syncord::protocol::OpCode;
use syncord::{Config, Event, Intents, Shard};

const USAGE: &str = "latency [SECONDS=10] [none] [zlib] [zstd]";

/// Interval between commands.
const COMMAND_EVERY: Duration = Duration::from_millis(4);

struct RunResult {
    /// Per dispatch, callback entry - server write, ns (warm-up left out).
    dispatch: Vec<u64>,
    /// Per command, server receipt - `send_raw`, ns.
    command: Vec<u64>,
}

/// One connection: `n` dispatches at `rate` per second (none if `rate` is 0, then the run
/// lasts `idle_for`), and commands every [`COMMAND_EVERY`] if `commands`.
fn run(mode: Mode, rate: f64, n: usize, commands: bool, idle_for: Duration) -> RunResult {
    let dispatches = common::mixed_stream(n, 2, false);
    let stream = Arc::new(Prebuilt::build(mode, &dispatches, "ws://127.0.0.1:1"));
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let pace = if n == 0 {
        Pace::Idle
    } else {
        Pace::Rate {
            rate,
            sent: sent.clone(),
        }
    };
    let server = BenchServer::start(stream, pace);
    let config = Config::builder("bench-token", Intents::GUILD_MESSAGES)
        .gateway_url(server.url())
        .compression(mode.compression())
        // Our own server does not limit: let the commands go at the pace we send them.
        .rate_limit(100_000, Duration::from_secs(60))
        .build()
        .expect("valid config");
    let shard = Shard::with_config(config);
    let handle = shard.handle();
    let (ready_tx, ready_rx) = mpsc::channel();
    let done = Arc::new(AtomicBool::new(false));
    let caller = {
        let (handle, done) = (handle.clone(), done.clone());
        std::thread::Builder::new()
            .name("bench-caller".into())
            .spawn(move || {
                let mut received = vec![0u64; n];
                let mut count = 0usize;
                shard
                    .run(|event| {
                        let at = now_ns();
                        match event {
                            Event::Ready(_) => {
                                let _ = ready_tx.send(());
                            }
                            Event::Dispatch(d) if d.seq() >= 2 => {
                                received[(d.seq() - 2) as usize] = at;
                                std::hint::black_box(d.data_json().as_bytes()[0]);
                                count += 1;
                                if count == n {
                                    done.store(true, Ordering::Release);
                                }
                            }
                            Event::Disconnected { reason, .. } if !done.load(Ordering::Acquire) => {
                                eprintln!("disconnected early: {reason}");
                                done.store(true, Ordering::Release);
                                handle.shutdown();
                            }
                            _ => {}
                        }
                    })
                    .expect("shard run");
                received
            })
            .expect("spawn caller")
    };
    ready_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("READY within 30 s");
    let started = std::time::Instant::now();
    let mut command_sent = Vec::new();
    loop {
        let finished = if n == 0 {
            started.elapsed() >= idle_for
        } else {
            done.load(Ordering::Acquire)
        };
        if finished {
            break;
        }
        if commands {
            let id = command_sent.len();
            let json = format!(r#"{{"since":{id},"activities":[],"status":"online","afk":false}}"#);
            let at = now_ns();
            if handle.send_raw(OpCode::PRESENCE_UPDATE, &json).is_err() {
                break;
            }
            command_sent.push(at);
        }
        std::thread::sleep(COMMAND_EVERY);
    }
    // Let the last commands arrive before closing.
    std::thread::sleep(Duration::from_millis(50));
    done.store(true, Ordering::Release);
    handle.shutdown();
    let received = caller.join().expect("caller thread");
    let from_client: ClientMessages = server.join();

    let dispatch = latencies(&received, &sent);
    let mut command = Vec::new();
    for (at, text) in from_client.try_iter() {
        if !text.contains(r#""op":3"#) {
            continue;
        }
        let id = text
            .split(r#""since":"#)
            .nth(1)
            .and_then(|rest| rest.split([',', '}']).next())
            .and_then(|id| id.trim().parse::<usize>().ok());
        if let Some(&sent_at) = id.and_then(|id| command_sent.get(id)) {
            command.push(at.saturating_sub(sent_at));
        }
    }
    if command.len() != command_sent.len() {
        eprintln!(
            "  {} of {} commands arrived",
            command.len(),
            command_sent.len()
        );
    }
    command.sort_unstable();
    RunResult { dispatch, command }
}

/// The latency floor: the same server and pacing, read by one blocking tungstenite client
/// thread that inflates, parses the envelope and takes the time itself (no hand-off
/// between threads). What the machine and the loopback cost before any client design.
fn run_floor(mode: Mode, rate: f64, n: usize) -> Vec<u64> {
    let dispatches = common::mixed_stream(n, 2, false);
    let stream = Arc::new(Prebuilt::build(mode, &dispatches, "ws://127.0.0.1:1"));
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let server = BenchServer::start(
        stream,
        Pace::Rate {
            rate,
            sent: sent.clone(),
        },
    );
    let compress = match mode {
        Mode::None => "",
        Mode::Zlib => "&compress=zlib-stream",
        Mode::Zstd => "&compress=zstd-stream",
    };
    let url = format!("{}/?v=10&encoding=json{compress}", server.url());
    let (mut ws, _) = tungstenite::connect(url).expect("connect");
    if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = ws.get_mut() {
        let _ = tcp.set_nodelay(true);
    }
    ws.send(tungstenite::Message::text(r#"{"op":2,"d":{}}"#))
        .expect("identify");
    let mut inflate = common::Inflate::new(mode);
    let mut received = vec![0u64; n];
    let mut count = 0;
    while count < n {
        let message = ws.read().expect("read");
        let payload: &[u8] = match &message {
            tungstenite::Message::Text(text) => text.as_bytes(),
            tungstenite::Message::Binary(bytes) => inflate.message(bytes),
            _ => continue,
        };
        let text = std::str::from_utf8(payload).expect("UTF-8");
        let (op, s) = match syncord::fuzzing::readers::skim(text) {
            Some(top) => (top.op, top.s),
            None => {
                let envelope = syncord::fuzzing::readers::Envelope::parse(text).expect("envelope");
                (envelope.op, envelope.s)
            }
        };
        let at = now_ns();
        if let (0, Some(seq)) = (op, s) {
            if seq >= 2 {
                received[(seq - 2) as usize] = at;
                count += 1;
            }
        }
    }
    let _ = ws.close(None);
    while ws.read().is_ok() {}
    drop(ws);
    server.join();
    latencies(&received, &sent)
}

/// Sorted per-dispatch latencies, warm-up (the first 1 %, at most 100) left out.
fn latencies(received: &[u64], sent: &[AtomicU64]) -> Vec<u64> {
    let n = received.len();
    let warmup = (n / 100).min(100);
    let mut dispatch: Vec<u64> = (warmup..n)
        .filter(|&i| received[i] != 0)
        .map(|i| received[i].saturating_sub(sent[i].load(Ordering::Acquire)))
        .collect();
    dispatch.sort_unstable();
    dispatch
}

fn main() {
    let args = Args::parse(USAGE);
    let seconds = args.number(0, 10).max(1);
    eprintln!("machine: {}", common::machine());
    let p = common::percentile;
    let us = |ns: u64| format!("{:.1}", common::micros(ns));
    let mut table = Vec::new();
    let mut commands = Vec::new();
    for &mode in &args.modes {
        let m = mode.name();
        for rate in [1_000u64, 10_000] {
            let n = (rate * seconds) as usize;
            let result = run(mode, rate as f64, n, rate == 10_000, Duration::ZERO);
            let floor = run_floor(mode, rate as f64, n);
            for (who, d) in [("syncord", &result.dispatch), ("floor", &floor)] {
                eprintln!(
                    "{m} {rate}/s {who}: dispatch p50 {} p99 {} p99.9 {} max {} µs ({} samples)",
                    us(p(d, 50.0)),
                    us(p(d, 99.0)),
                    us(p(d, 99.9)),
                    us(d.last().copied().unwrap_or(0)),
                    d.len()
                );
                table.push((
                    m,
                    rate,
                    who,
                    p(d, 50.0),
                    p(d, 99.0),
                    p(d, 99.9),
                    d.last().copied().unwrap_or(0),
                ));
            }
            if rate == 10_000 {
                commands.push((m, "10k events/s", result.command));
            }
        }
        let idle = run(mode, 0.0, 0, true, Duration::from_secs(seconds.min(5)));
        commands.push((m, "idle", idle.command));
    }

    println!("\ndispatch latency, server write -> callback entry (µs); floor: one blocking reader thread");
    println!(
        "{:<6} {:>7} {:<8} {:>9} {:>9} {:>9} {:>9}",
        "mode", "rate/s", "client", "p50", "p99", "p99.9", "max"
    );
    for (m, rate, who, p50, p99, p999, max) in &table {
        println!(
            "{m:<6} {rate:>7} {who:<8} {:>9} {:>9} {:>9} {:>9}",
            us(*p50),
            us(*p99),
            us(*p999),
            us(*max)
        );
    }
    println!("\ncommand latency, send_raw -> server receipt (µs)");
    println!(
        "{:<6} {:<14} {:>9} {:>9} {:>9} {:>8}",
        "mode", "while", "p50", "p99", "max", "samples"
    );
    for (m, while_, c) in &commands {
        println!(
            "{m:<6} {while_:<14} {:>9} {:>9} {:>9} {:>8}",
            us(p(c, 50.0)),
            us(p(c, 99.0)),
            us(c.last().copied().unwrap_or(0)),
            c.len()
        );
    }
    println!();
    for (m, rate, who, p50, p99, p999, _) in &table {
        let k = rate / 1000;
        let name = if *who == "syncord" {
            "dispatch_latency"
        } else {
            "dispatch_latency_floor"
        };
        common::figure(&format!("{name}_{m}_{k}k_p50_us"), us(*p50));
        common::figure(&format!("{name}_{m}_{k}k_p99_us"), us(*p99));
        common::figure(&format!("{name}_{m}_{k}k_p99_9_us"), us(*p999));
    }
    for (m, while_, c) in &commands {
        let w = if *while_ == "idle" { "idle" } else { "10k" };
        common::figure(&format!("command_latency_{m}_{w}_p50_us"), us(p(c, 50.0)));
        common::figure(&format!("command_latency_{m}_{w}_p99_us"), us(p(c, 99.0)));
    }
}
