//! What it takes to resume a session, exportable across process restarts.

use serde::{Deserialize, Serialize};

/// A resumable session: hand it to [`ConfigBuilder::session`](crate::ConfigBuilder::session)
/// in a new process to resume instead of identifying (PROTOCOL.md §4.4).
///
/// ```
/// let session = syncord::Session {
///     id: "abc".into(),
///     seq: 42,
///     resume_url: "wss://gateway-us-east1-b.discord.gg".into(),
/// };
/// let saved = serde_json::to_string(&session).unwrap();
/// let restored: syncord::Session = serde_json::from_str(&saved).unwrap();
/// assert_eq!(restored, session);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `session_id` from READY.
    pub id: String,
    /// The last sequence number delivered to the handler.
    pub seq: u64,
    /// `resume_gateway_url` from READY (without query string).
    pub resume_url: String,
}
