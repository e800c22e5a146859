//! A cluster's metrics served in Prometheus' text format (issue 13).
//!
//! ```text
//! cargo run --example cluster_metrics            # one scrape printed, then exit
//! cargo run --example cluster_metrics -- --serve # keep serving http://127.0.0.1:9464/metrics
//! ```
//!
//! It runs 4 shards against the in-process simulator (no Discord needed), pushes a few
//! events, and answers `GET /metrics` with every shard's counters (label `shard`) and the
//! cluster's sums (exposition format: prometheus.io, "Exposition formats").

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;
use syncord::cluster::{Cluster, ClusterHandle, ClusterMetrics};
use syncord::sim::{SimConfig, Simulator};
use syncord::{Event, Intents, ShardMetrics};

type Field = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ShardMetrics) -> f64,
);

/// Name, type, help and value of each per-shard metric.
const FIELDS: [Field; 9] = [
    (
        "events_received_total",
        "counter",
        "Dispatches received.",
        |m| m.events_received as f64,
    ),
    (
        "bytes_received_total",
        "counter",
        "Websocket bytes received (as on the wire).",
        |m| m.bytes_received as f64,
    ),
    (
        "payloads_sent_total",
        "counter",
        "Payloads sent, heartbeats included.",
        |m| m.payloads_sent as f64,
    ),
    ("reconnects_total", "counter", "Reconnect attempts.", |m| {
        m.reconnects as f64
    }),
    ("resumes_total", "counter", "Sessions resumed.", |m| {
        m.resumes as f64
    }),
    (
        "identifies_total",
        "counter",
        "Sessions started (READY).",
        |m| m.identifies as f64,
    ),
    (
        "last_close_code",
        "gauge",
        "Close code of the last connection closed with one (0: none).",
        |m| f64::from(m.last_close_code.unwrap_or(0)),
    ),
    (
        "event_queue_depth",
        "gauge",
        "Events read but not yet handled.",
        |m| m.queue_depth as f64,
    ),
    (
        "latency_seconds",
        "gauge",
        "Last heartbeat round trip (NaN: none yet).",
        |m| m.latency.map_or(f64::NAN, |l| l.as_secs_f64()),
    ),
];

/// The snapshot in Prometheus' text exposition format.
fn render(metrics: &ClusterMetrics) -> String {
    let mut out = String::new();
    for (name, kind, help, value) in FIELDS {
        let _ = writeln!(out, "# HELP syncord_shard_{name} {help}");
        let _ = writeln!(out, "# TYPE syncord_shard_{name} {kind}");
        for (shard, m) in &metrics.shards {
            let _ = writeln!(
                out,
                "syncord_shard_{name}{{shard=\"{shard}\"}} {}",
                value(m)
            );
        }
        let _ = writeln!(
            out,
            "# HELP syncord_cluster_{name} {help} Summed over the shards."
        );
        let _ = writeln!(out, "# TYPE syncord_cluster_{name} {kind}");
        let _ = writeln!(out, "syncord_cluster_{name} {}", value(&metrics.total));
    }
    let _ = writeln!(out, "# HELP syncord_cluster_shards Total shard count.");
    let _ = writeln!(out, "# TYPE syncord_cluster_shards gauge");
    let _ = writeln!(out, "syncord_cluster_shards {}", metrics.shard_count);
    let _ = writeln!(
        out,
        "# HELP syncord_cluster_restarts_total Restarts with a new shard count."
    );
    let _ = writeln!(out, "# TYPE syncord_cluster_restarts_total counter");
    let _ = writeln!(out, "syncord_cluster_restarts_total {}", metrics.restarts);
    out
}

/// Answers one HTTP request: `/metrics` or 404.
fn answer(mut stream: TcpStream, cluster: &ClusterHandle) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request_line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut request_line)?;
    // Read the rest of the head too: closing a socket with unread bytes resets the
    // connection, and the client would see a reset instead of the answer.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 0 && header != "\r\n" && header != "\n" {
        header.clear();
    }
    let (status, body) = if request_line.starts_with("GET /metrics ") {
        ("200 OK", render(&cluster.metrics()))
    } else {
        ("404 Not Found", "not found\n".to_owned())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|a| a == "--serve");
    let sim = Simulator::start(
        SimConfig::default()
            .shards(4, 4)
            .identify_window(Duration::from_millis(100)),
    )?;
    let cluster = Cluster::builder(sim.client_config(Intents::GUILDS).build()?)
        .identify_window(Duration::from_millis(100), None)
        .build()?;
    let handle = cluster.handle();
    let (seen_tx, seen) = crossbeam_channel::unbounded();
    let thread = cluster.spawn(move |_shard, event| match event {
        Event::Ready(_) => {
            let _ = seen_tx.send(());
        }
        Event::Dispatch(d) if d.event_type() == "MESSAGE_CREATE" => {
            let _ = seen_tx.send(());
        }
        _ => {}
    })?;
    for _ in 0..4 {
        seen.recv_timeout(Duration::from_secs(30))?;
    }
    for n in 0..25u64 {
        sim.push_to_shard(n % 4, "MESSAGE_CREATE", &format!(r#"{{"content":"{n}"}}"#));
    }
    for _ in 0..25 {
        seen.recv_timeout(Duration::from_secs(30))?;
    }

    // Loopback only: this is an example, not an exporter to expose.
    let listener = TcpListener::bind(if serve {
        "127.0.0.1:9464"
    } else {
        "127.0.0.1:0"
    })?;
    let address = listener.local_addr()?;
    let server_handle = handle.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &server_handle);
        }
    });
    if serve {
        eprintln!("serving http://{address}/metrics; Ctrl-C to stop");
        loop {
            std::thread::park();
        }
    }
    // One scrape of our own, printed.
    let mut scrape = TcpStream::connect(address)?;
    write!(scrape, "GET /metrics HTTP/1.1\r\nHost: {address}\r\n\r\n")?;
    let mut response = String::new();
    scrape.read_to_string(&mut response)?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    print!("{body}");
    thread.shutdown()?;
    Ok(())
}
