//! Gathering the `GUILD_MEMBERS_CHUNK`s that answer one Request Guild Members
//! (Discord: Gateway Events → Request Guild Members). The reader thread routes chunks by nonce, so a caller may wait for
//! them from any thread, even from inside the event handler.

use crate::{Error, Result};
use crossbeam_channel::{unbounded, Receiver, Sender};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One chunk as far as gathering needs it.
#[derive(Deserialize)]
pub(crate) struct Chunk {
    guild_id: String,
    #[serde(default)]
    members: Vec<Box<RawValue>>,
    #[serde(default)]
    presences: Vec<Box<RawValue>>,
    #[serde(default)]
    not_found: Vec<Value>,
    chunk_index: u32,
    chunk_count: u32,
    #[serde(default)]
    nonce: Option<String>,
}

/// Open requests by nonce; shared by the handle (registering) and the reader (routing).
#[derive(Default)]
pub(crate) struct ChunkRouter {
    waiting: Mutex<HashMap<String, Sender<Chunk>>>,
    /// Lets the reader skip parsing chunks when nobody waits.
    open: AtomicUsize,
    next_nonce: AtomicU64,
}

impl ChunkRouter {
    pub fn register(self: &Arc<Self>, nonce: String) -> (Receiver<Chunk>, Registration) {
        let (tx, rx) = unbounded();
        self.waiting.lock().insert(nonce.clone(), tx);
        self.open.fetch_add(1, Ordering::AcqRel);
        let registration = Registration {
            router: self.clone(),
            nonce,
        };
        (rx, registration)
    }

    pub fn fresh_nonce(&self) -> String {
        format!(
            "syncord-{}",
            self.next_nonce.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Called by the reader for every `GUILD_MEMBERS_CHUNK`.
    pub fn route(&self, data_json: &str) {
        if self.open.load(Ordering::Acquire) == 0 {
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Chunk>(data_json) else {
            return;
        };
        let Some(nonce) = chunk.nonce.as_deref() else {
            return;
        };
        if let Some(tx) = self.waiting.lock().get(nonce) {
            let _ = tx.send(chunk);
        }
    }
}

/// Removes the nonce from the router when the request is dropped.
pub(crate) struct Registration {
    router: Arc<ChunkRouter>,
    nonce: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.router.waiting.lock().remove(&self.nonce).is_some() {
            self.router.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Every member chunk that answered one request, gathered.
#[derive(Debug)]
#[non_exhaustive]
pub struct GuildMembers {
    /// The guild.
    pub guild_id: String,
    /// Guild member objects, as raw JSON, in chunk order.
    pub members: Vec<Box<RawValue>>,
    /// Presence objects, when presences were requested.
    pub presences: Vec<Box<RawValue>>,
    /// Requested user ids that are not members.
    pub not_found: Vec<String>,
    /// How many chunks the answer had.
    pub chunk_count: u32,
}

/// A pending Request Guild Members, from
/// [`ShardHandle::request_guild_members`](crate::ShardHandle::request_guild_members).
/// The chunks still reach the event handler as dispatches too.
pub struct MembersRequest {
    pub(crate) chunks: Receiver<Chunk>,
    pub(crate) nonce: String,
    pub(crate) _registration: Registration,
}

impl std::fmt::Debug for MembersRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MembersRequest")
            .field("nonce", &self.nonce)
            .field("chunks_waiting", &self.chunks.len())
            .finish()
    }
}

impl MembersRequest {
    /// The nonce every chunk of the answer carries.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Blocks until every chunk has arrived (`chunk_count` of them), or fails with
    /// [`Error::TimedOut`] after `timeout`.
    ///
    /// ```no_run
    /// # fn demo(handle: syncord::ShardHandle) -> syncord::Result<()> {
    /// use std::time::Duration;
    /// use syncord::protocol::RequestGuildMembers;
    /// let request = handle.request_guild_members(RequestGuildMembers::all("81384788765712384"))?;
    /// let members = request.wait(Duration::from_secs(30))?;
    /// println!("{} members", members.members.len());
    /// # Ok(()) }
    /// ```
    pub fn wait(self, timeout: Duration) -> Result<GuildMembers> {
        let deadline = Instant::now() + timeout;
        let mut seen: Vec<bool> = Vec::new();
        let mut gathered: Vec<Option<Chunk>> = Vec::new();
        loop {
            if !seen.is_empty() && seen.iter().all(|s| *s) {
                break;
            }
            let chunk = self.chunks.recv_deadline(deadline).map_err(|_| {
                Error::TimedOut(format!(
                    "{} of {} member chunks arrived for nonce {}",
                    seen.iter().filter(|s| **s).count(),
                    if seen.is_empty() {
                        "?".to_owned()
                    } else {
                        seen.len().to_string()
                    },
                    self.nonce
                ))
            })?;
            let count = chunk.chunk_count.max(1) as usize;
            if seen.len() != count {
                seen.resize(count, false);
                gathered.resize_with(count, || None);
            }
            let index = chunk.chunk_index as usize;
            if index < count && !seen[index] {
                seen[index] = true;
                gathered[index] = Some(chunk);
            }
        }
        let mut result = GuildMembers {
            guild_id: String::new(),
            members: Vec::new(),
            presences: Vec::new(),
            not_found: Vec::new(),
            chunk_count: gathered.len() as u32,
        };
        for chunk in gathered.into_iter().flatten() {
            result.guild_id = chunk.guild_id;
            result.members.extend(chunk.members);
            result.presences.extend(chunk.presences);
            result
                .not_found
                .extend(chunk.not_found.into_iter().map(|id| match id {
                    Value::String(s) => s,
                    other => other.to_string(),
                }));
        }
        Ok(result)
    }
}
