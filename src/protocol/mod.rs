//! Wire types only, no I/O: opcodes, close codes, intents, the payload envelope and the
//! payloads a client sends (Discord's Gateway documentation).

mod close_code;
mod commands;
mod extent;
mod intents;
mod opcode;
// `pub(crate)` so that the hidden `fuzzing` module can re-export the readers for the
// benches; the rest of the crate uses the re-exports below.
pub(crate) mod payload;
pub(crate) mod skim;

pub use close_code::{CloseAction, CloseCode};
pub use commands::{
    Activity, ActivityType, Command, RequestGuildMembers, RequestSoundboardSounds, Status,
    UpdatePresence, UpdateVoiceState,
};
pub use intents::Intents;
pub use opcode::OpCode;
pub use payload::{CurrentUser, Hello, Identify, IdentifyProperties, Ready, Resume};
// The readers and writers of the wire format: the shard's own business, not a user's (the
// benches reach them through `fuzzing`).
pub(crate) use payload::{heartbeat_json, Envelope, Outgoing};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use skim::skim;
pub(crate) use skim::{skim_data, skim_head, DispatchHead, Head, Skim};

/// The largest payload a client may send, in bytes (Discord: Gateway → Rate Limiting).
pub const MAX_SEND_SIZE: usize = 4096;

/// The gateway API version this crate speaks.
pub const API_VERSION: u8 = 10;
