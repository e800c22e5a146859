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
//!         [--heartbeat-ms=N]  (the simulator's interval, 41250: shorter magnifies the beats)
//!
//! Where the idle CPU goes is printed per thread kind (`syncord-rd`, `-hb`, `-wr`, `-sh`):
//! CPU time and scheduler runs per beat, from each thread's `/proc/.../schedstat`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncord::cluster::LocalQueue;
use syncord::sim::{SimConfig, Simulator};
use syncord::{Config, Event, Intents, Shard};

const USAGE: &str = "footprint [SHARDS...=1 100 1000] [none|zlib|zstd (default zstd)] [--idle=20] \
     [--event-queue=N] [--heartbeat-ms=41250]";

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    match argv.get(1).map(String::as_str) {
        Some("--serve-sim") => serve_sim(&argv[2]),
        Some("--measure") => measure(&argv[2..]),
        _ => parent(),
    }
}

/// Child: runs a simulator until its stdin closes.
fn serve_sim(heartbeat_ms: &str) {
    raise_fd_limit();
    let heartbeat = Duration::from_millis(heartbeat_ms.parse().expect("heartbeat ms"));
    // No identify window: how fast the shards start is not what this measures.
    let config = SimConfig::default()
        .identify_window(Duration::ZERO)
        .heartbeat_interval(heartbeat);
    let sim = Simulator::start(config).expect("simulator");
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

/// CPU nanoseconds and scheduler runs of this process's threads, summed by thread kind (the
/// name up to its last `-`: `syncord-hb-12` counts as `syncord-hb`).
fn thread_kinds() -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut kinds = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return kinds;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("schedstat")),
        ) else {
            continue; // the thread ended meanwhile
        };
        let name = name.trim();
        let kind = name.rsplit_once('-').map_or(name, |(kind, _)| kind);
        // schedstat: CPU ns, ns waiting to run, runs.
        let fields: Vec<u64> = stat
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if let [cpu, _, runs] = fields[..] {
            let entry = kinds.entry(kind.to_owned()).or_insert((0, 0));
            entry.0 += cpu;
            entry.1 += runs;
        }
    }
    kinds
}

/// Child: connects `n` shards to the simulator at `url`, measures, prints `name=value`.
fn measure(args: &[String]) {
    let n: usize = args[0].parse().expect("shard count");
    let url = args[1].clone();
    let mode = common::Mode::parse(&args[2]).expect("mode");
    let idle: u64 = args[3].parse().expect("idle seconds");
    let event_queue: usize = args[4].parse().expect("event queue (0: default)");
    let heartbeat_ms: f64 = args[5].parse().expect("heartbeat ms");
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
    // Reading every thread's schedstat takes CPU time of its own: outside the window.
    let kinds0 = thread_kinds();
    let cpu0 = common::cpu_time();
    let cs0 = context_switches();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(idle));
    let wall = t0.elapsed();
    let cpu = common::cpu_time() - cpu0;
    let cs1 = context_switches();
    let rss2 = common::proc_status("VmRSS");
    let kinds1 = thread_kinds();
    let per_s = |a: u64, b: u64| (b - a) as f64 / wall.as_secs_f64();

    common::figure("shards", n);
    common::figure("connect_s", format!("{:.2}", connect.as_secs_f64()));
    common::figure("baseline_rss_kib", rss0);
    common::figure("rss_kib", rss2.max(rss1));
    common::figure("threads", threads1);
    // Where the RSS is: the heap's bytes in use, and what malloc holds from the system.
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let heap = unsafe { libc::mallinfo2() };
    common::figure("heap_in_use_kib", (heap.uordblks + heap.hblkhd) / 1024);
    common::figure("heap_held_kib", (heap.arena + heap.hblkhd) / 1024);
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
    let beats = n as f64 * wall.as_secs_f64() * 1000.0 / heartbeat_ms;
    for (kind, &(cpu1, runs1)) in &kinds1 {
        let (cpu0, runs0) = kinds0.get(kind).copied().unwrap_or((0, 0));
        let kind = kind.replace('-', "_");
        common::figure(
            &format!("thread_{kind}_us_per_beat"),
            format!("{:.1}", cpu1.saturating_sub(cpu0) as f64 / 1000.0 / beats),
        );
        common::figure(
            &format!("thread_{kind}_runs_per_beat"),
            format!("{:.2}", runs1.saturating_sub(runs0) as f64 / beats),
        );
    }
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
    let idle = args.value("--idle", 20);
    let event_queue = args.value("--event-queue", 0) as usize;
    let heartbeat_ms = args.value("--heartbeat-ms", 41_250);
    eprintln!("machine: {}", common::machine());
    let exe = std::env::current_exe().expect("current exe");
    let mut rows = Vec::new();
    for mode in modes {
        for &n in &counts {
            let mut sim = Command::new(&exe)
                .args(["--serve-sim", &heartbeat_ms.to_string()])
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
                    &heartbeat_ms.to_string(),
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
        "\nfootprint: idle shards on the simulator (heartbeat {:.2} s), {idle} s idle, {queue}",
        heartbeat_ms as f64 / 1000.0
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
    println!("\nper beat, by thread kind (CPU µs / scheduler runs):");
    for r in &rows {
        let kinds: Vec<String> = r
            .figures
            .iter()
            .filter_map(|(k, v)| {
                let kind = k.strip_prefix("thread_")?.strip_suffix("_us_per_beat")?;
                let runs = r.get(&format!("thread_{kind}_runs_per_beat"));
                Some(format!("{kind} {v}/{runs:.2}"))
            })
            .collect();
        println!("{:<6} {:>6}  {}", r.mode, r.get("shards"), kinds.join("  "));
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
