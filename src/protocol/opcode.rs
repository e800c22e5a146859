//! Gateway opcodes (Discord: Opcodes and Status Codes → Gateway Opcodes).

use std::fmt;

/// A gateway opcode: the `op` field of every payload.
///
/// Unknown numbers are kept (`OpCode(n)`) rather than rejected, so the reader can report
/// them instead of failing to parse.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpCode(pub u8);

impl OpCode {
    /// op 0, server → client: an event; `t` names it, `s` numbers it.
    pub const DISPATCH: OpCode = OpCode(0);
    /// op 1, both ways: client keep-alive, or the server asking for one now.
    pub const HEARTBEAT: OpCode = OpCode(1);
    /// op 2, client → server: start a new session.
    pub const IDENTIFY: OpCode = OpCode(2);
    /// op 3, client → server: change the bot's presence.
    pub const PRESENCE_UPDATE: OpCode = OpCode(3);
    /// op 4, client → server: join, move or leave a voice channel.
    pub const VOICE_STATE_UPDATE: OpCode = OpCode(4);
    /// op 6, client → server: continue a dropped session.
    pub const RESUME: OpCode = OpCode(6);
    /// op 7, server → client: reconnect and resume now.
    pub const RECONNECT: OpCode = OpCode(7);
    /// op 8, client → server: ask for guild members.
    pub const REQUEST_GUILD_MEMBERS: OpCode = OpCode(8);
    /// op 9, server → client: the session is invalid; `d` says whether it may be resumed.
    pub const INVALID_SESSION: OpCode = OpCode(9);
    /// op 10, server → client: first frame of every connection.
    pub const HELLO: OpCode = OpCode(10);
    /// op 11, server → client: acknowledges a heartbeat.
    pub const HEARTBEAT_ACK: OpCode = OpCode(11);
    /// op 31, client → server: ask for guild soundboard sounds.
    pub const REQUEST_SOUNDBOARD_SOUNDS: OpCode = OpCode(31);
    /// op 43, client → server: ask for ephemeral channel data.
    pub const REQUEST_CHANNEL_INFO: OpCode = OpCode(43);

    /// The opcode's name in Discord's words, or `None` for a number Discord does not define.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "Dispatch",
            1 => "Heartbeat",
            2 => "Identify",
            3 => "Presence Update",
            4 => "Voice State Update",
            6 => "Resume",
            7 => "Reconnect",
            8 => "Request Guild Members",
            9 => "Invalid Session",
            10 => "Hello",
            11 => "Heartbeat ACK",
            31 => "Request Soundboard Sounds",
            43 => "Request Channel Info",
            _ => return None,
        })
    }

    /// Whether a client may send this opcode (Discord: Opcodes and Status Codes → Gateway Opcodes, direction column).
    pub fn is_client_sendable(self) -> bool {
        matches!(self.0, 1 | 2 | 3 | 4 | 6 | 8 | 31 | 43)
    }
}

impl fmt::Debug for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "OpCode({} {name})", self.0),
            None => write!(f, "OpCode({} unknown)", self.0),
        }
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_protocol_table() {
        assert_eq!(OpCode::HELLO.name(), Some("Hello"));
        assert_eq!(OpCode(5).name(), None);
        assert!(OpCode::IDENTIFY.is_client_sendable());
        assert!(!OpCode::HELLO.is_client_sendable());
        assert!(!OpCode(12).is_client_sendable());
    }
}
