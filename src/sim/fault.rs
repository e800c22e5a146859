//! Scripted faults: what the next accepted connections do instead of behaving normally.

use std::collections::VecDeque;
use std::time::Duration;

/// What the next accepted connections do instead of behaving normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionFault {
    /// Drop the TCP connection before the websocket handshake (a refused connection).
    Refuse,
    /// Only on the resume URL (path `/resume`, or `/resume/`): drop before the handshake.
    /// Connections to other paths skip it and take the next fault in the queue.
    RefuseResume,
    /// Complete the handshake, then never send Hello.
    NoHello,
    /// Send Hello only after this delay.
    DelayHello(Duration),
}

/// The first scripted fault that applies to this connection: `RefuseResume` only applies
/// on the resume URL, and waits there without holding up the faults queued behind it.
pub(crate) fn take_fault(
    faults: &mut VecDeque<ConnectionFault>,
    resume_path: bool,
) -> Option<ConnectionFault> {
    let index = faults
        .iter()
        .position(|f| resume_path || *f != ConnectionFault::RefuseResume)?;
    faults.remove(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuse_resume_waits_for_a_resume_without_blocking_later_faults() {
        let mut faults: VecDeque<_> = [ConnectionFault::RefuseResume, ConnectionFault::NoHello]
            .into_iter()
            .collect();
        assert_eq!(
            take_fault(&mut faults, false),
            Some(ConnectionFault::NoHello)
        );
        assert_eq!(take_fault(&mut faults, false), None);
        assert_eq!(
            take_fault(&mut faults, true),
            Some(ConnectionFault::RefuseResume)
        );
        assert!(faults.is_empty());
    }

    #[test]
    fn faults_apply_in_order_on_the_resume_url() {
        let mut faults: VecDeque<_> = [ConnectionFault::Refuse, ConnectionFault::RefuseResume]
            .into_iter()
            .collect();
        assert_eq!(take_fault(&mut faults, true), Some(ConnectionFault::Refuse));
        assert_eq!(
            take_fault(&mut faults, true),
            Some(ConnectionFault::RefuseResume)
        );
    }
}
