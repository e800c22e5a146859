//! Many shards (issue 13): cluster start, idle footprint, and busy throughput.
//!
//! - `start`: 64 shards, `max_concurrency` 16, identify window 1 s, against the simulator
//!   (which rejects early Identifies): time from start to all READY against the ideal (the
//!   4th window opens 3 windows after the 1st), in one process (`LocalQueue`) and in 4
//!   processes of 16 shards on one `redis-server` (`RedisQueue`; needs `redis-server`, and
//!   the bench built with `--features redis`).
//! - `idle`: 1,000 idle shards in one cluster (the simulator in another process, Discord's
//!   41.25 s heartbeat): RSS, threads, CPU % of one core and voluntary context switches per
//!   second over `--idle-s=SECONDS` (20).
//! - `busy`: 16 shards, each on its own replay of N dispatches (zstd-stream, pre-built):
//!   total events/s, against one shard alone in the same run.
//!
//!     cargo bench --bench cluster --features redis -- [--start] [--idle] [--busy] [EVENTS=100000] [--idle-s=20]

mod common;

use common::{BenchServer, Mode, Prebuilt};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncord::cluster::{Cluster, IdentifyQueue, LocalQueue, ShardCount};
use syncord::sim::{SimConfig, Simulator};
use syncord::{Config, Event, Intents};

const USAGE: &str = "cluster [--start] [--idle] [--busy] [EVENTS=100000] [--idle-s=20]";
const START_SHARDS: u64 = 64;
const START_CONCURRENCY: u64 = 16;
const WINDOW: Duration = Duration::from_secs(1);

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    match argv.get(1).map(String::as_str) {
        Some("--start-child") => start_child(&argv[2..]),
        Some("--serve-sim") => serve_sim(),
        Some("--idle-child") => idle_child(&argv[2..]),
        _ => parent(),
    }
}

fn parent() {
    let args = common::Args::parse(USAGE);
    let all = !["--start", "--idle", "--busy"].iter().any(|w| args.flag(w));
    let idle_s = args.value("--idle-s", 20);
    eprintln!("machine: {}", common::machine());
    if all || args.flag("--start") {
        start_one_process();
        start_on_redis();
    }
    if all || args.flag("--idle") {
        idle(1000, idle_s);
    }
    if all || args.flag("--busy") {
        busy(args.number(0, 100_000) as usize);
    }
}

// ------------------------------------------------------------------ start

fn start_sim() -> Simulator {
    Simulator::start(
        SimConfig::default()
            .shards(START_SHARDS, START_CONCURRENCY)
            .identify_window(WINDOW),
    )
    .expect("simulator")
}

/// The ideal: the last of 4 windows opens 3 windows after the first.
fn ideal() -> Duration {
    WINDOW * (START_SHARDS.div_ceil(START_CONCURRENCY) as u32 - 1)
}

fn report_start(label: &str, sim: &Simulator, took: Duration) {
    let violations = sim.identify_violations().len();
    let accepted = sim.accepted_identifies();
    let spread = accepted
        .last()
        .zip(accepted.first())
        .map_or(Duration::ZERO, |(last, first)| last.at - first.at);
    println!(
        "start {label}: {START_SHARDS} shards READY in {:.2} s (ideal {:.2} s, x{:.2}); identifies spread over {:.2} s; violations {violations}",
        took.as_secs_f64(),
        ideal().as_secs_f64(),
        took.as_secs_f64() / ideal().as_secs_f64(),
        spread.as_secs_f64()
    );
    common::figure(
        &format!("start_{label}_s"),
        format!("{:.3}", took.as_secs_f64()),
    );
    common::figure(&format!("start_{label}_violations"), violations);
}

fn start_one_process() {
    let sim = start_sim();
    let started = Instant::now();
    let cluster = Cluster::builder(
        sim.client_config(Intents::GUILDS)
            .build()
            .expect("valid config"),
    )
    .identify_window(WINDOW, None)
    .build()
    .expect("cluster");
    let (thread, events) = cluster.spawn_receiver().expect("spawn");
    let mut ready = 0;
    while ready < START_SHARDS {
        let event = events.recv_timeout(Duration::from_secs(60)).expect("READY");
        if let Event::Ready(_) = event.event {
            ready += 1;
        }
    }
    let took = started.elapsed();
    report_start("one_process", &sim, took);
    thread.shutdown().expect("shutdown");
}

/// Child: 16 shards from `from` on the Redis queue; prints `READY <shard>`; stops at EOF.
fn start_child(args: &[String]) {
    let [gateway, redis_url, from] = args else {
        panic!("--start-child GATEWAY REDIS FROM");
    };
    let from: u64 = from.parse().expect("from");
    let queue = redis_queue(redis_url);
    let config = Config::builder("sim-token", Intents::GUILDS)
        .gateway_url(gateway.clone())
        .build()
        .expect("valid config");
    let cluster = Cluster::builder(config)
        .shard_count(ShardCount::Fixed(START_SHARDS))
        .shards(from..from + START_SHARDS / 4)
        .identify_queue(queue)
        .build()
        .expect("cluster");
    let handle = cluster.handle();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        handle.shutdown();
    });
    let out = std::io::stdout();
    cluster
        .run(|shard, event| {
            if let Event::Ready(_) = event {
                let mut out = out.lock();
                let _ = writeln!(out, "READY {shard}");
                let _ = out.flush();
            }
        })
        .expect("cluster run");
}

#[cfg(feature = "redis")]
fn redis_queue(url: &str) -> Arc<dyn IdentifyQueue> {
    Arc::new(
        syncord::cluster::RedisQueue::new(url, START_CONCURRENCY)
            .expect("redis url")
            .prefix("bench")
            .window(WINDOW),
    )
}

#[cfg(not(feature = "redis"))]
fn redis_queue(_url: &str) -> Arc<dyn IdentifyQueue> {
    unreachable!("the Redis start bench runs only with --features redis")
}

/// `redis-server` of the bench's own on a free loopback port, killed when dropped.
struct RedisServer(Child, u16);

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Option<RedisServer> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    let server = RedisServer(child, port);
    for line in BufReader::new(stdout).lines() {
        if line.ok()?.contains("Ready to accept connections") {
            return Some(server);
        }
    }
    None
}

fn start_on_redis() {
    if !cfg!(feature = "redis") {
        eprintln!("start on Redis: skipped (build with --features redis)");
        return;
    }
    let Some(redis) = start_redis() else {
        eprintln!("start on Redis: skipped (no redis-server)");
        return;
    };
    let sim = start_sim();
    let exe = std::env::current_exe().expect("exe");
    let url = format!("redis://127.0.0.1:{}/", redis.1);
    let (tx, lines) = std::sync::mpsc::channel();
    let started = Instant::now();
    let mut children: Vec<Child> = (0..4)
        .map(|i| {
            let mut child = Command::new(&exe)
                .args(["--start-child", &sim.gateway_url(), &url])
                .arg((i * START_SHARDS / 4).to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("child");
            let stdout = child.stdout.take().expect("stdout");
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            child
        })
        .collect();
    let mut ready = 0;
    while ready < START_SHARDS {
        let line = lines.recv_timeout(Duration::from_secs(60)).expect("READY");
        if line.starts_with("READY ") {
            ready += 1;
        }
    }
    let took = started.elapsed();
    report_start("four_processes_redis", &sim, took);
    for child in &mut children {
        drop(child.stdin.take());
    }
    for mut child in children {
        let _ = child.wait();
    }
    drop(redis);
}

// ------------------------------------------------------------------ idle

/// Child: a simulator until stdin closes.
fn serve_sim() {
    raise_fd_limit();
    // The idle cluster's queue: 100 buckets, a 100 ms window (see `idle_child`).
    let sim = Simulator::start(
        SimConfig::default()
            .shards(1000, 100)
            .identify_window(Duration::from_millis(100)),
    )
    .expect("simulator");
    println!("URL {}", sim.gateway_url());
    std::io::stdout().flush().expect("stdout");
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}

fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

fn voluntary_switches() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_nvcsw as u64
}

/// Child: `n` idle shards in one cluster; prints `name=value` figures.
fn idle_child(args: &[String]) {
    let [n, url, idle_s] = args else {
        panic!("--idle-child N URL IDLE");
    };
    let n: u64 = n.parse().expect("n");
    let idle_s: u64 = idle_s.parse().expect("idle");
    raise_fd_limit();
    let rss0 = common::proc_status("VmRSS");
    let config = Config::builder("sim-token", Intents::GUILD_MESSAGES)
        .gateway_url(url.clone())
        .build()
        .expect("valid config");
    // 100 buckets, a short window: the start is not what this measures.
    let queue = Arc::new(LocalQueue::new(100).window(Duration::from_millis(100)));
    let cluster = Cluster::builder(config)
        .shard_count(ShardCount::Fixed(n))
        .identify_queue(queue)
        .build()
        .expect("cluster");
    let ready = Arc::new(AtomicUsize::new(0));
    let counter = ready.clone();
    let started = Instant::now();
    let thread = cluster
        .spawn(move |_, event| {
            if let Event::Ready(_) = event {
                counter.fetch_add(1, Ordering::AcqRel);
            }
        })
        .expect("spawn");
    while ready.load(Ordering::Acquire) < n as usize {
        assert!(started.elapsed() < Duration::from_secs(180), "READY");
        std::thread::sleep(Duration::from_millis(20));
    }
    let connect = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let rss = common::proc_status("VmRSS");
    let threads = common::proc_status("Threads");
    let (cpu0, cs0, t0) = (common::cpu_time(), voluntary_switches(), Instant::now());
    std::thread::sleep(Duration::from_secs(idle_s));
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (common::cpu_time() - cpu0).as_secs_f64();
    let cs = voluntary_switches() - cs0;
    common::figure("idle_shards", n);
    common::figure("idle_connect_s", format!("{:.2}", connect.as_secs_f64()));
    common::figure("idle_baseline_rss_kib", rss0);
    common::figure("idle_rss_kib", rss.max(common::proc_status("VmRSS")));
    common::figure("idle_threads", threads);
    common::figure("idle_cpu_pct", format!("{:.3}", cpu / wall * 100.0));
    common::figure("idle_wakeups_per_s", format!("{:.1}", cs as f64 / wall));
    std::io::stdout().flush().expect("stdout");
    // The 1,000 shards are not shut down one by one: the simulator child sees EOFs.
    drop(thread);
    std::process::exit(0);
}

fn idle(n: u64, idle_s: u64) {
    let exe = std::env::current_exe().expect("exe");
    let mut sim = Command::new(&exe)
        .arg("--serve-sim")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("simulator process");
    let mut line = String::new();
    BufReader::new(sim.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("URL");
    let url = line
        .trim()
        .strip_prefix("URL ")
        .expect("URL line")
        .to_owned();
    let output = Command::new(&exe)
        .args(["--idle-child", &n.to_string(), &url, &idle_s.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .expect("measuring process");
    drop(sim.stdin.take());
    let _ = sim.wait();
    let text = String::from_utf8_lossy(&output.stdout);
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("?")
            .to_owned()
    };
    let rss_mib = get("idle_rss_kib").parse::<f64>().unwrap_or(f64::NAN) / 1024.0;
    println!(
        "idle: {n} shards in one cluster: RSS {rss_mib:.1} MiB, {} threads, {} % of one core, {} wake-ups/s (connected in {} s)",
        get("idle_threads"),
        get("idle_cpu_pct"),
        get("idle_wakeups_per_s"),
        get("idle_connect_s")
    );
    print!("{text}");
}

// ------------------------------------------------------------------ busy

/// Events/s of `shards` shards in one cluster, each on its own replay of `stream`.
fn busy_run(stream: &Arc<Prebuilt>, shards: u64) -> f64 {
    let per_shard = stream.dispatches();
    let server = BenchServer::start_many(stream.clone(), shards as usize);
    let config = Config::builder("bench-token", Intents::GUILD_MESSAGES)
        .gateway_url(server.url())
        .compression(Mode::Zstd.compression())
        .build()
        .expect("valid config");
    let cluster = Cluster::builder(config)
        .shard_count(ShardCount::Fixed(shards))
        .identify_queue(Arc::new(
            LocalQueue::new(shards).window(Duration::from_millis(1)),
        ))
        .event_queue(4096)
        .build()
        .expect("cluster");
    let handle = cluster.handle();
    let mut ready = 0;
    let mut start = None;
    let mut counts = vec![0usize; shards as usize];
    let mut done = 0;
    let mut sum = 0u64;
    let mut elapsed = Duration::ZERO;
    cluster
        .run(|shard, event| match event {
            Event::Ready(_) => {
                ready += 1;
                if ready == 1 {
                    start = Some(Instant::now());
                }
            }
            Event::Dispatch(d) if d.seq() >= 2 => {
                sum = sum
                    .wrapping_add(d.seq())
                    .wrapping_add(d.data_json().len() as u64);
                let count = &mut counts[shard as usize];
                *count += 1;
                if *count == per_shard {
                    done += 1;
                    if done == shards {
                        elapsed = start.map_or(Duration::ZERO, |s| s.elapsed());
                        handle.shutdown();
                    }
                }
            }
            _ => {}
        })
        .expect("cluster run");
    server.join();
    std::hint::black_box(sum);
    (per_shard as u64 * shards) as f64 / elapsed.as_secs_f64()
}

fn busy(events: usize) {
    let dispatches = common::mixed_stream(events, 2, false);
    let stream = Arc::new(Prebuilt::build(Mode::Zstd, &dispatches, "ws://127.0.0.1:1"));
    let mut one = Vec::new();
    let mut sixteen = Vec::new();
    for _ in 0..3 {
        one.push(busy_run(&stream, 1));
        sixteen.push(busy_run(&stream, 16));
    }
    let one = common::median_f64(&mut one);
    let sixteen = common::median_f64(&mut sixteen);
    println!(
        "busy (zstd, {events} events per shard, median of 3): 1 shard {one:.0} events/s; 16 shards {sixteen:.0} events/s in total (x{:.2})",
        sixteen / one
    );
    common::figure("busy_one_shard_events_per_s", format!("{one:.0}"));
    common::figure("busy_sixteen_shards_events_per_s", format!("{sixteen:.0}"));
}
