//! The Socket Mode client: run it with a closure (or a [`SlackDispatcher`]) on the caller's
//! thread; control it from any thread through its [`SlackHandle`].

use super::event::{Envelope, SlackEvent};
use std::sync::Arc;

/// Which envelopes a responding handler answers: their acknowledgement waits for it (up to
/// the response deadline) instead of going on receipt.
pub(crate) type HoldAcks = Arc<dyn Fn(&Envelope) -> bool + Send + Sync>;

/// A Socket Mode client (under construction).
pub struct SocketMode {
    pub(crate) hold: Option<HoldAcks>,
    handle: SlackHandle,
}

impl SocketMode {
    /// A handle to control the client from any thread.
    pub fn handle(&self) -> SlackHandle {
        self.handle.clone()
    }

    /// Runs on this thread until shutdown or a fatal error, calling `handler` for every event.
    pub fn run(&mut self, _handler: impl FnMut(SlackEvent)) -> crate::Result<()> {
        Err(crate::Error::Config("Socket Mode is not built yet".into()))
    }

    /// The dispatcher's responding handlers: acknowledgements of matching envelopes wait for
    /// [`SlackHandle::respond`].
    pub(crate) fn set_hold_acks(&mut self, hold: HoldAcks) {
        self.hold = Some(hold);
    }
}

/// Controls a running [`SocketMode`] client from any thread.
#[derive(Clone, Debug, Default)]
pub struct SlackHandle {
    _private: (),
}

/// Why [`SlackHandle::respond`] did not send a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The plain acknowledgement already went (the response deadline passed, or the envelope
    /// was not held for a response).
    #[error("too late: the envelope was already acknowledged without a payload")]
    AlreadyAcknowledged,
    /// The envelope does not accept a response payload.
    #[error("the envelope does not accept a response payload")]
    NotAccepted,
    /// The acknowledgement with this payload would be too large for Slack.
    #[error("the acknowledgement would be {0} bytes; Slack drops acknowledgements of 20 KiB or more: post large responses through the Web API")]
    TooLarge(usize),
    /// The payload is not a JSON object.
    #[error("the response payload is not a JSON object: {0}")]
    NotJson(String),
    /// The client has stopped.
    #[error("the client has stopped")]
    Stopped,
}

impl SlackHandle {
    /// Sends the acknowledgement of a held envelope with `payload_json` (a JSON object) as
    /// its response payload.
    pub fn respond(&self, _envelope_id: &str, _payload_json: &str) -> Result<(), RespondError> {
        Err(RespondError::Stopped)
    }

    /// Stops the client: closes the connection and makes `run` return `Ok`.
    pub fn shutdown(&self) {}

    /// Sends the plain acknowledgement of a held envelope now, without waiting for the
    /// response deadline; `Err(AlreadyAcknowledged)` if it was not held or already went.
    pub fn ack_now(&self, _envelope_id: &str) -> Result<(), RespondError> {
        Err(RespondError::Stopped)
    }
}
