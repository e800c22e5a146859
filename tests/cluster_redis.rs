//! The Redis identify queue across processes (issue 13): 4 processes × 16 shards share one
//! `redis-server` that the test starts on a free loopback port, against one simulator in
//! this process. Then Redis is killed for 2 s while shards re-identify. Needs
//! `redis-server` on PATH (.ci/run installs it).
#![cfg(feature = "redis")]

use crossbeam_channel::{unbounded, Receiver, Sender};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncord::cluster::{Cluster, RedisQueue, ShardCount};
use syncord::sim::{SimConfig, Simulator};
use syncord::{Compression, Config, Event, Intents};

const TIMEOUT: Duration = Duration::from_secs(60);
const CHILD_ENV: &str = "SYNCORD_CLUSTER_CHILD";
const PROCESSES: u64 = 4;
const PER_PROCESS: u64 = 16;
const MAX_CONCURRENCY: u64 = 16;
const WINDOW: Duration = Duration::from_millis(250);
const SLACK: Duration = Duration::from_millis(100);

/// A `redis-server` of this test's own, killed when dropped (also on panic).
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on `port` (a free one when `None`) and waits until it accepts.
    fn start(port: Option<u16>) -> RedisServer {
        let port = port.unwrap_or_else(|| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        });
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        let stdout = child.stdout.take().unwrap();
        let server = RedisServer { child, port };
        let lines = lines_of(stdout, 0);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok((_, line)) if line.contains("Ready to accept connections") => break,
                Ok(_) => {}
                Err(_) => panic!("redis-server on port {port} did not become ready"),
            }
        }
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Child processes of this test binary, killed when dropped.
struct Children(Vec<(Child, Option<ChildStdin>)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every line of `stream`, tagged with `tag`, on a channel.
fn lines_of(stream: impl std::io::Read + Send + 'static, tag: u64) -> Receiver<(u64, String)> {
    let (tx, rx) = unbounded();
    forward_lines(stream, tag, tx);
    rx
}

fn forward_lines(stream: impl std::io::Read + Send + 'static, tag: u64, tx: Sender<(u64, String)>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send((tag, line)).is_err() {
                break;
            }
        }
    });
}

/// READY lines (`READY <shard>`) from the children until `wanted` holds for the counts
/// of READY per shard.
fn wait_ready(
    sim: &Simulator,
    lines: &Receiver<(u64, String)>,
    ready: &mut BTreeMap<u64, u32>,
    what: &str,
    wanted: impl Fn(&BTreeMap<u64, u32>) -> bool,
) {
    let deadline = Instant::now() + TIMEOUT;
    while !wanted(ready) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok((_, line)) => {
                // libtest's "test cluster_child_process ... " may start the first line.
                if let Some((_, shard)) = line.split_once("READY ") {
                    *ready.entry(shard.trim().parse().unwrap()).or_default() += 1;
                }
            }
            Err(_) => panic!(
                "timed out waiting for {what}: READY so far {ready:?}; the simulator has {} live sessions, violations {:?}",
                sim.live_shards().len(),
                sim.identify_violations()
            ),
        }
    }
}

/// What each child runs: a cluster of shards `from..from+16` of 64, on the Redis queue,
/// printing `READY <shard>` for each READY, until its stdin closes.
#[test]
#[ignore = "started by four_processes_share_one_redis_queue as a child process"]
fn cluster_child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split(' ').collect();
    let [gateway, redis_url, token, from] = parts[..] else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let from: u64 = from.parse().unwrap();
    let _ = env_logger::builder().is_test(false).try_init();
    let queue = RedisQueue::new(redis_url, MAX_CONCURRENCY)
        .unwrap()
        .prefix("cluster-test")
        .window_and_slack(WINDOW, SLACK);
    let mut config = Config::builder(token, Intents::GUILDS);
    // Children inherit the environment: the suite's compression mode applies here too.
    if let Some(mode) = std::env::var("SYNCORD_SIM_COMPRESSION")
        .ok()
        .and_then(|name| Compression::from_name(&name))
    {
        config = config.compression(mode);
    }
    let config = config
        .gateway_url(gateway)
        .invalid_session_delay(Duration::from_millis(20)..=Duration::from_millis(60))
        .build()
        .expect("valid config");
    let cluster = Cluster::builder(config)
        .shard_count(ShardCount::Fixed(PROCESSES * PER_PROCESS))
        .shards(from..from + PER_PROCESS)
        .identify_queue(Arc::new(queue))
        .build()
        .unwrap();
    let handle = cluster.handle();
    std::thread::spawn(move || {
        // The parent closes stdin to stop this child.
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        handle.shutdown();
    });
    let stdout = std::io::stdout();
    cluster
        .run(|shard, event| {
            if let Event::Ready(_) = event {
                let mut out = stdout.lock();
                let _ = writeln!(out, "READY {shard}");
                let _ = out.flush();
            }
        })
        .unwrap();
    println!("STOPPED");
}

#[test]
fn four_processes_share_one_redis_queue_and_survive_a_redis_restart() {
    let mut redis = RedisServer::start(None);
    let count = PROCESSES * PER_PROCESS;
    let sim = Simulator::start(
        SimConfig::default()
            .shards(count, MAX_CONCURRENCY)
            .identify_window(WINDOW)
            .heartbeat_interval(Duration::from_secs(10)),
    )
    .unwrap();
    let exe = std::env::current_exe().unwrap();
    let (tx, lines) = unbounded();
    let mut children = Children(Vec::new());
    for process in 0..PROCESSES {
        let spec = format!(
            "{} {} {} {}",
            sim.gateway_url(),
            redis.url(),
            sim.token(),
            process * PER_PROCESS
        );
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "cluster_child_process",
                "--ignored",
                "--nocapture",
            ])
            .args(["--test-threads", "1"])
            .env(CHILD_ENV, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        forward_lines(child.stdout.take().unwrap(), process, tx.clone());
        let stdin = child.stdin.take();
        children.0.push((child, stdin));
    }
    let mut ready = BTreeMap::new();
    wait_ready(&sim, &lines, &mut ready, "64 shards READY", |r| {
        r.len() == count as usize
    });
    assert!(sim.wait_for_live_sessions(count as usize, TIMEOUT));
    assert_eq!(sim.identify_violations(), vec![], "4 processes, one Redis");
    let accepted = sim.accepted_identifies();
    assert_eq!(accepted.len(), count as usize);

    // Redis goes away for 2 s while several shards must identify again.
    let port = redis.port;
    drop(redis);
    let invalidated = [0, 5, 17, 18, 33, 34, 48, 63];
    for shard in invalidated {
        assert!(sim.invalidate_shard(shard, false), "shard {shard}");
    }
    std::thread::sleep(Duration::from_secs(2)); // the outage itself, not a wait for threads
    assert_eq!(
        sim.accepted_identifies().len(),
        count as usize,
        "nobody identified without the lock"
    );
    redis = RedisServer::start(Some(port));
    wait_ready(
        &sim,
        &lines,
        &mut ready,
        "the invalidated shards READY again",
        |r| invalidated.iter().all(|s| r.get(s) == Some(&2)),
    );
    assert!(sim.wait_for_live_sessions(count as usize, TIMEOUT));
    assert_eq!(
        sim.identify_violations(),
        vec![],
        "a restart costs time only"
    );
    assert_eq!(
        sim.accepted_identifies().len(),
        count as usize + invalidated.len()
    );

    // Closing their stdin stops the children; each joins its shards and says so.
    for (_, stdin) in &mut children.0 {
        drop(stdin.take());
    }
    let mut stopped = 0;
    let deadline = Instant::now() + TIMEOUT;
    while stopped < PROCESSES {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok((_, line)) if line.ends_with("STOPPED") => stopped += 1,
            Ok(_) => {}
            Err(_) => panic!("{stopped} of {PROCESSES} children stopped"),
        }
    }
    drop(redis);
}
