//! The heartbeat thread (Discord: Gateway → Sending Heartbeats; Slack's pings follow the
//! same schedule): the first beat after interval × jitter, then every interval on an
//! absolute schedule; a beat due with nothing received for the protocol's
//! [`Wire::SILENT_INTERVALS`] means a dead (zombie) connection. The schedule ([`Beats`]) is
//! pure logic; [`beat_loop`] sleeps until it is due, asks the writer (the only thread that
//! writes) to send, and records when each beat was asked for; the reader records the
//! answers, and [`Latency`] pairs them into round trips.

use super::doorbell::{park_until, Doorbell};
use super::latency::Latency;
use super::{Link, Report, RingingSender, Wire};
use crate::policy::Ended;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the reader tells the heartbeat thread.
pub(crate) enum BeatSignal {
    /// The connection is up (Discord's Hello with its `heartbeat_interval`; Slack's `hello`
    /// with the configured ping interval): the schedule starts.
    Hello(Duration),
    /// The server asks for a beat now (Discord's op 1).
    ServerAsked,
}

/// How many reader signals may wait for the heartbeat thread; more (a flood of op 1) are
/// dropped rather than queued without bound.
pub(crate) const BEAT_SIGNALS: usize = 64;

/// What the heartbeat thread waits on.
pub(super) struct BeatInputs<P> {
    /// What the reader rings after each signal and once it hangs up: answered at start.
    pub bell: Arc<Doorbell>,
    /// Hello's interval and op 1 requests, from the reader. Disconnected when the reader
    /// stops, which ends this thread too.
    pub signals: Receiver<BeatSignal>,
    /// Heartbeats go to the writer here, ahead of everything else.
    pub priority: RingingSender<P>,
}

/// Keeps one connection's beat: starts the schedule at Hello, asks for a beat when one is
/// due or the server asks (op 1, answered at once, schedule unchanged), and reports a
/// zombie. Parks until the next beat is due or the reader rings, so an idle connection
/// wakes this thread once per beat and nothing else; the reader records ACKs in `latency`
/// itself, so they wake nobody.
pub(super) fn beat_loop<W: Wire>(
    link: &Link<W::State>,
    inputs: BeatInputs<W::Priority>,
    reports: &Sender<Report>,
    latency: &Mutex<Latency>,
) {
    let mut beats: Option<Beats> = None;
    let request_beat = || {
        latency.lock().sent(Instant::now());
        inputs.priority.send(W::BEAT).is_ok()
    };
    inputs.bell.answer();
    loop {
        let signal = next_signal(&inputs.signals, beats.as_ref().map(Beats::due));
        match signal {
            Ok(BeatSignal::Hello(interval)) => {
                // Only the first Hello of a connection starts the schedule.
                if beats.is_none() {
                    let start = Beats::start(Instant::now(), interval, fastrand::f64());
                    beats = Some(start.dead_after(W::SILENT_INTERVALS));
                }
            }
            Ok(BeatSignal::ServerAsked) => {
                if !request_beat() {
                    return;
                }
            }
            // The reader stopped: the connection is over.
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                let Some(schedule) = beats.as_mut().filter(|b| b.due() <= now) else {
                    continue;
                };
                let received = link.received.load(Ordering::Acquire);
                let blocked = link.reader_blocked.load(Ordering::Acquire);
                match schedule.tick(now, received, blocked) {
                    Beat::Send => {
                        if !request_beat() {
                            return;
                        }
                    }
                    Beat::Zombie => {
                        let _ = reports.send(Report {
                            generation: link.generation,
                            ended: Ended::Zombie,
                        });
                        return;
                    }
                }
            }
        }
    }
}

/// The reader's next signal, waiting parked until `deadline` at most.
fn next_signal(
    signals: &Receiver<BeatSignal>,
    deadline: Option<Instant>,
) -> Result<BeatSignal, RecvTimeoutError> {
    loop {
        match signals.try_recv() {
            Ok(signal) => return Ok(signal),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        if !park_until(deadline) {
            return Err(RecvTimeoutError::Timeout);
        }
    }
}

/// What to do now that a beat is due.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Beat {
    /// Send a heartbeat.
    Send,
    /// Nothing arrived for the allowed silent intervals: the connection is dead.
    Zombie,
}

/// One connection's beat schedule, started by Hello.
#[derive(Debug)]
pub(super) struct Beats {
    interval: Duration,
    due: Instant,
    /// Frames received when the previous beat was sent (`None` before the first beat).
    received_at_last_beat: Option<u64>,
    /// Beats in a row that found nothing received since the one before.
    silent: u32,
    /// How many such beats make a zombie (Discord: 1).
    silent_intervals: u32,
}

impl Beats {
    /// The schedule for a Hello received at `hello`: the first beat is due after
    /// `interval × jitter`, `jitter` in [0, 1).
    pub fn start(hello: Instant, interval: Duration, jitter: f64) -> Beats {
        Beats {
            interval,
            due: hello + interval.mul_f64(jitter),
            received_at_last_beat: None,
            silent: 0,
            silent_intervals: 1,
        }
    }

    /// The same schedule, declaring the connection dead after `silent_intervals` beats in a
    /// row with nothing received (at least one).
    pub fn dead_after(mut self, silent_intervals: u32) -> Beats {
        self.silent_intervals = silent_intervals.max(1);
        self
    }

    /// When the next beat is due.
    pub fn due(&self) -> Instant {
        self.due
    }

    /// Called at `now`, once [`Beats::due`] has passed, with the link's frame counter and
    /// whether the reader is parked on a full event queue (then silence is ours, not the
    /// server's). A beat to send moves the schedule on by one interval from the previous
    /// due time, not from now, so late wake-ups do not make it drift; but a thread more
    /// than a whole interval late (a stalled machine) starts a new schedule
    /// from now, so the missed beats are not sent back to back, with no time for their ACK
    /// (which would look like a zombie).
    pub fn tick(&mut self, now: Instant, received: u64, reader_blocked: bool) -> Beat {
        if self.received_at_last_beat == Some(received) && !reader_blocked {
            self.silent += 1;
            if self.silent >= self.silent_intervals {
                return Beat::Zombie;
            }
        } else {
            self.silent = 0;
        }
        self.received_at_last_beat = Some(received);
        self.due += self.interval;
        if self.due <= now {
            self.due = now + self.interval;
        }
        Beat::Send
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(41_250);

    #[test]
    fn first_beat_after_interval_times_jitter() {
        let hello = Instant::now();
        assert_eq!(Beats::start(hello, INTERVAL, 0.0).due(), hello);
        assert_eq!(
            Beats::start(hello, INTERVAL, 0.5).due(),
            hello + INTERVAL / 2
        );
        assert!(Beats::start(hello, INTERVAL, 0.999_999).due() < hello + INTERVAL);
    }

    #[test]
    fn later_beats_follow_an_absolute_schedule() {
        let hello = Instant::now();
        let mut beats = Beats::start(hello, INTERVAL, 0.25);
        let first = beats.due();
        for n in 1..=5u32 {
            // On time: each beat is due one interval after the previous one.
            assert_eq!(beats.tick(beats.due(), u64::from(n), false), Beat::Send);
            assert_eq!(beats.due(), first + INTERVAL * n);
        }
    }

    #[test]
    fn a_writer_late_by_more_than_an_interval_starts_a_new_schedule() {
        let hello = Instant::now();
        let mut beats = Beats::start(hello, INTERVAL, 0.5);
        assert_eq!(beats.tick(beats.due(), 1, false), Beat::Send);
        // Stalled for three intervals: one beat now, the next a whole interval later,
        // not three at once (the second of which would find no ACK and call it a zombie).
        let late = beats.due() + INTERVAL * 3;
        assert_eq!(beats.tick(late, 2, false), Beat::Send);
        assert_eq!(beats.due(), late + INTERVAL);
        // Late by less than an interval: the schedule holds.
        let due = beats.due();
        assert_eq!(beats.tick(due + INTERVAL / 2, 3, false), Beat::Send);
        assert_eq!(beats.due(), due + INTERVAL);
    }

    #[test]
    fn the_first_beat_is_never_a_zombie() {
        let mut beats = Beats::start(Instant::now(), INTERVAL, 0.1);
        assert_eq!(beats.tick(beats.due(), 0, false), Beat::Send);
    }

    #[test]
    fn nothing_received_since_the_previous_beat_is_a_zombie() {
        let mut beats = Beats::start(Instant::now(), INTERVAL, 0.1);
        assert_eq!(beats.tick(beats.due(), 3, false), Beat::Send);
        assert_eq!(
            beats.tick(beats.due(), 4, false),
            Beat::Send,
            "an ACK arrived"
        );
        let due = beats.due();
        assert_eq!(beats.tick(beats.due(), 4, false), Beat::Zombie);
        assert_eq!(beats.due(), due, "a zombie ends the schedule");
    }

    #[test]
    fn with_three_silent_intervals_allowed_only_the_third_silent_beat_is_a_zombie() {
        let mut beats = Beats::start(Instant::now(), INTERVAL, 0.1).dead_after(3);
        assert_eq!(beats.tick(beats.due(), 1, false), Beat::Send);
        assert_eq!(beats.tick(beats.due(), 1, false), Beat::Send, "silent once");
        assert_eq!(
            beats.tick(beats.due(), 1, false),
            Beat::Send,
            "silent twice"
        );
        assert_eq!(
            beats.tick(beats.due(), 2, false),
            Beat::Send,
            "a frame resets it"
        );
        assert_eq!(beats.tick(beats.due(), 2, false), Beat::Send);
        assert_eq!(beats.tick(beats.due(), 2, false), Beat::Send);
        assert_eq!(beats.tick(beats.due(), 2, false), Beat::Zombie);
    }

    #[test]
    fn a_reader_parked_on_a_full_queue_is_not_a_zombie() {
        let mut beats = Beats::start(Instant::now(), INTERVAL, 0.1);
        assert_eq!(beats.tick(beats.due(), 7, false), Beat::Send);
        assert_eq!(beats.tick(beats.due(), 7, true), Beat::Send);
        assert_eq!(beats.tick(beats.due(), 7, true), Beat::Send);
        assert_eq!(
            beats.tick(beats.due(), 7, false),
            Beat::Zombie,
            "unparked and still silent"
        );
    }
}
