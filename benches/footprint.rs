//! Footprint (issue 6, item 6): RSS, thread count and CPU time of one process holding 1,
//! 100 and 1,000 idle shards connected to the simulator (Discord's heartbeat interval,
//! 41.25 s), each shard on its own thread (`Shard::spawn`).
//!
//! Every measurement runs in a fresh child process (so freed memory of a previous count
//! does not hide in the baseline), and the simulator in another child process (so its
//! threads and buffers are not counted). Idle CPU is measured over `--idle=SECONDS` (20)
//! after every shard is READY and 2 s of settling; context switches per second show
//! whether idle shards wake up for anything but heartbeats.
//!
//!     cargo bench --bench footprint -- [SHARDS...=1 100 1000] [none|zlib|zstd] [--idle=20]
//!         [--event-queue=N]   (a non-default `ConfigBuilder::event_queue`, to see its cost)

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncord::cluster::LocalQueue;
use syncord::sim::{SimConfig, Simulator};
use syncord::{Config, Event, Intents, Shard};

const USAGE: &str =
    "footprint [SHARDS...=1 100 1000] [none|zlib|zstd (default zstd)] [--idle=20] [--event-queue=N]";

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    match argv.get(1).map(String::as_str) {
        Some("--serve-sim") => serve_sim(),
        Some("--measure") => measure(&argv[2..]),
        _ => parent(),
    }
}

/// Child: runs a simulator until its stdin closes.
fn serve_sim() {
    raise_fd_limit();
    // No identify window: how fast the shards start is not what this measures.
    let sim =
        Simulator::start(SimConfig::default().identify_window(Duration::ZERO)).expect("simulator");
    println!("URL {}", sim.gateway_url());
    std::io::stdout().flush().expect("stdout");
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
    drop(sim);
}

fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

fn context_switches() -> (u64, u64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    (usage.ru_nvcsw as u64, usage.ru_nivcsw as u64)
}

/// Child: connects `n` shards to the simulator at `url`, measures, prints `name=value`.
fn measure(args: &[String]) {
    let n: usize = args[0].parse().expect("shard count");
    let url = args[1].clone();
    let mode = common::Mode::parse(&args[2]).expect("mode");
    let idle: u64 = args[3].parse().expect("idle seconds");
    let event_queue: usize = args[4].parse().expect("event queue (0: default)");
    let fds = raise_fd_limit();
    let rss0 = common::proc_status("VmRSS");
    let threads0 = common::proc_status("Threads");
    let ready = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut shards = Vec::with_capacity(n);
    let unspaced = Arc::new(LocalQueue::new(1).window(Duration::ZERO));
    for i in 0..n {
        let mut config = Config::builder("sim-token", Intents::GUILD_MESSAGES)
            .gateway_url(url.clone())
            .identify_queue(unspaced.clone())
            .compression(mode.compression())
            .shard(i as u64, n as u64);
        if event_queue > 0 {
            config = config.event_queue(event_queue);
        }
        let config = config.build().expect("valid config");
        let (ready, dropped) = (ready.clone(), dropped.clone());
        let shard = Shard::with_config(config)
            .spawn(move |event| match event {
                Event::Ready(_) => {
                    ready.fetch_add(1, Ordering::AcqRel);
                }
                Event::Disconnected { .. } => {
                    dropped.fetch_add(1, Ordering::AcqRel);
                }
                _ => {}
            })
            .expect("spawn shard");
        shards.push(shard);
    }
    while ready.load(Ordering::Acquire) < n {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "only {} of {n} shards READY after 180 s (fd limit {fds})",
            ready.load(Ordering::Acquire)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let connect = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let rss1 = common::proc_status("VmRSS");
    let threads1 = common::proc_status("Threads");
    let cpu0 = common::cpu_time();
    let cs0 = context_switches();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(idle));
    let wall = t0.elapsed();
    let cpu = common::cpu_time() - cpu0;
    let cs1 = context_switches();
    let rss2 = common::proc_status("VmRSS");
    let per_s = |a: u64, b: u64| (b - a) as f64 / wall.as_secs_f64();

    common::figure("shards", n);
    common::figure("connect_s", format!("{:.2}", connect.as_secs_f64()));
    common::figure("baseline_rss_kib", rss0);
    common::figure("rss_kib", rss2.max(rss1));
    common::figure("threads", threads1);
    common::figure("baseline_threads", threads0);
    common::figure("idle_cpu_ms", cpu.as_millis());
    common::figure("idle_wall_s", format!("{:.1}", wall.as_secs_f64()));
    common::figure(
        "idle_cpu_pct",
        format!("{:.4}", cpu.as_secs_f64() / wall.as_secs_f64() * 100.0),
    );
    common::figure(
        "voluntary_switches_per_s",
        format!("{:.1}", per_s(cs0.0, cs1.0)),
    );
    common::figure(
        "involuntary_switches_per_s",
        format!("{:.1}", per_s(cs0.1, cs1.1)),
    );
    common::figure("disconnects", dropped.load(Ordering::Acquire));
    std::io::stdout().flush().expect("stdout");
    // Exit without shutting 1000 shards down one by one: the simulator child sees EOFs.
    std::process::exit(0);
}

struct Row {
    mode: &'static str,
    figures: Vec<(String, String)>,
}

impl Row {
    fn get(&self, key: &str) -> f64 {
        self.figures
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(f64::NAN)
    }
}

fn parent() {
    let args = common::Args::parse(USAGE);
    let counts: Vec<u64> = if args.numbers.is_empty() {
        vec![1, 100, 1000]
    } else {
        args.numbers.clone()
    };
    let modes = if std::env::args().any(|a| common::Mode::parse(&a).is_some()) {
        args.modes.clone()
    } else {
        vec![common::Mode::Zstd]
    };
    let idle = args
        .words
        .iter()
        .find_map(|w| w.strip_prefix("--idle="))
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(20);
    let event_queue = args
        .words
        .iter()
        .find_map(|w| w.strip_prefix("--event-queue="))
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    eprintln!("machine: {}", common::machine());
    let exe = std::env::current_exe().expect("current exe");
    let mut rows = Vec::new();
    for mode in modes {
        for &n in &counts {
            let mut sim = Command::new(&exe)
                .arg("--serve-sim")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start the simulator process");
            let mut line = String::new();
            BufReader::new(sim.stdout.take().expect("sim stdout"))
                .read_line(&mut line)
                .expect("simulator URL");
            let url = line
                .trim()
                .strip_prefix("URL ")
                .expect("URL line")
                .to_owned();
            let output = Command::new(&exe)
                .args([
                    "--measure",
                    &n.to_string(),
                    &url,
                    mode.name(),
                    &idle.to_string(),
                    &event_queue.to_string(),
                ])
                .stderr(Stdio::inherit())
                .output()
                .expect("run the measuring process");
            drop(sim.stdin.take()); // the simulator exits on EOF
            let _ = sim.wait();
            let text = String::from_utf8_lossy(&output.stdout);
            let figures: Vec<(String, String)> = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            assert!(
                output.status.success() && !figures.is_empty(),
                "measuring {n} shards failed: {}",
                output.status
            );
            eprintln!("{} {n} shards: {}", mode.name(), text.replace('\n', " "));
            rows.push(Row {
                mode: mode.name(),
                figures,
            });
        }
    }

    let queue = match event_queue {
        0 => "default event_queue".to_owned(),
        n => format!("event_queue({n})"),
    };
    println!(
        "\nfootprint: idle shards on the simulator (heartbeat 41.25 s), {idle} s idle, {queue}"
    );
    println!(
        "{:<6} {:>6} {:>10} {:>12} {:>8} {:>9} {:>10} {:>12} {:>10}",
        "mode",
        "shards",
        "RSS MiB",
        "KiB/shard",
        "threads",
        "thr/shard",
        "idle CPU %",
        "CPU %/shard",
        "wakeups/s"
    );
    for r in &rows {
        let n = r.get("shards");
        let per_shard = (r.get("rss_kib") - r.get("baseline_rss_kib")) / n;
        let threads = (r.get("threads") - r.get("baseline_threads")) / n;
        println!(
            "{:<6} {:>6} {:>10.1} {:>12.1} {:>8} {:>9.1} {:>10.4} {:>12.6} {:>10.1}",
            r.mode,
            n,
            r.get("rss_kib") / 1024.0,
            per_shard,
            r.get("threads"),
            threads,
            r.get("idle_cpu_pct"),
            r.get("idle_cpu_pct") / n,
            r.get("voluntary_switches_per_s")
        );
    }
    println!();
    for r in &rows {
        let n = r.get("shards");
        let key = format!("footprint_{}_{}", r.mode, n);
        let per_shard = (r.get("rss_kib") - r.get("baseline_rss_kib")) / n;
        common::figure(
            &format!("{key}_rss_mib"),
            format!("{:.1}", r.get("rss_kib") / 1024.0),
        );
        common::figure(
            &format!("{key}_rss_per_shard_kib"),
            format!("{per_shard:.1}"),
        );
        common::figure(&format!("{key}_threads"), r.get("threads"));
        common::figure(
            &format!("{key}_idle_cpu_pct"),
            format!("{:.4}", r.get("idle_cpu_pct")),
        );
        common::figure(
            &format!("{key}_idle_cpu_pct_per_shard"),
            format!("{:.6}", r.get("idle_cpu_pct") / n),
        );
        common::figure(
            &format!("{key}_wakeups_per_s"),
            format!("{:.1}", r.get("voluntary_switches_per_s")),
        );
        common::figure(
            &format!("{key}_connect_s"),
            format!("{:.2}", r.get("connect_s")),
        );
    }
}
