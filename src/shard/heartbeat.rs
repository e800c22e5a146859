//! The heartbeat thread: the first beat after interval × jitter, then every interval;
//! a beat due with nothing received since the previous one means a zombie connection
//! (PROTOCOL.md §4.2).

use super::link::{Link, Priority, Report};
use super::policy::Ended;
use crossbeam_channel::{select, Receiver, Sender};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub(super) fn heartbeat_loop(
    link: &Link,
    hello: &Receiver<Duration>,
    stop: &Receiver<()>,
    priority: &Sender<Priority>,
    reports: &Sender<Report>,
) {
    let interval = select! {
        recv(hello) -> h => match h { Ok(interval) => interval, Err(_) => return },
        recv(stop) -> _ => return,
    };
    // PROTOCOL.md §4.2: the first beat after interval × jitter in [0, 1).
    let mut due = Instant::now() + interval.mul_f64(fastrand::f64());
    let mut received_at_last_beat: Option<u64> = None;
    loop {
        select! {
            recv(stop) -> _ => return,
            recv(crossbeam_channel::at(due)) -> _ => {}
        }
        let received = link.received.load(Ordering::Acquire);
        let blocked = link.reader_blocked.load(Ordering::Acquire);
        if received_at_last_beat == Some(received) && !blocked {
            let _ = reports.send(Report {
                generation: link.generation,
                ended: Ended::Zombie,
            });
            return;
        }
        received_at_last_beat = Some(received);
        if priority.send(Priority::Heartbeat).is_err() {
            return;
        }
        due += interval;
    }
}
