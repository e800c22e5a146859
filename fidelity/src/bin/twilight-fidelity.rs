//! Runs every scenario with twilight-gateway against fresh simulators, a few at a time, and
//! prints one tab-separated line per scenario:
//! `row <TAB> twilight <TAB> <mode> <TAB> PASS|FAIL <TAB> <scenario> <TAB> <what twilight did / why it failed>`.
//! Exits 1 if any scenario failed.
//!
//! Usage: `cargo run --bin twilight-fidelity [--features zlib|zstd] [-- NAME_PART...]`
//! (only the scenarios whose name contains one of the parts). `FIDELITY_JOBS` sets how many
//! run at once (default 6).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use syncord_fidelity::scenarios::{self, Scenario};
use syncord_fidelity::twilight::MODE;

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).collect();
    let chosen: Vec<Scenario> = scenarios::all()
        .into_iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name.contains(f.as_str())))
        .collect();
    let jobs = std::env::var("FIDELITY_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(6usize)
        .max(1);
    let started = Instant::now();
    let chosen = Arc::new(chosen);
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (0..jobs.min(chosen.len()))
        .map(|_| {
            let (chosen, next, tx) = (chosen.clone(), next.clone(), tx.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::AcqRel);
                let Some(scenario) = chosen.get(i) else {
                    return;
                };
                let t0 = Instant::now();
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| (scenario.run)()))
                    .unwrap_or_else(|_| Err("panicked".into()));
                let _ = tx.send((i, outcome, t0.elapsed()));
            })
        })
        .collect();
    drop(tx);
    let mut results: Vec<_> = rx.iter().collect();
    for worker in workers {
        let _ = worker.join();
    }
    results.sort_by_key(|(i, _, _)| *i);
    let mut failed = 0;
    for (i, outcome, took) in &results {
        let name = &chosen[*i].name;
        let (verdict, text) = match outcome {
            Ok(cell) => ("PASS", cell.clone()),
            Err(why) => {
                failed += 1;
                ("FAIL", why.clone())
            }
        };
        let text = text.replace(['\t', '\n'], " ");
        println!("row\ttwilight\t{MODE}\t{verdict}\t{name}\t{text}");
        eprintln!("{verdict} {name} ({:.1}s)", took.as_secs_f64());
    }
    eprintln!(
        "twilight-gateway, compression {MODE}: {} scenarios, {failed} failed, {:.1}s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    if failed > 0 || results.len() != chosen.len() {
        std::process::exit(1);
    }
}
