//! Close codes and what each means for the client (Discord: Opcodes and Status Codes → Gateway Close Event Codes).

/// What a close code tells the client to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseAction {
    /// Reconnect and resume the session.
    Resume,
    /// Reconnect, but the session is gone: identify a new one.
    Reidentify,
    /// Do not reconnect: the fault is in the token, the config or the application.
    Fatal,
}

/// A close code received from (or sent to) the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 4000 Unknown error.
    pub const UNKNOWN_ERROR: CloseCode = CloseCode(4000);
    /// 4001 Unknown opcode.
    pub const UNKNOWN_OPCODE: CloseCode = CloseCode(4001);
    /// 4002 Decode error (also any sent payload over 4096 bytes).
    pub const DECODE_ERROR: CloseCode = CloseCode(4002);
    /// 4003 Not authenticated.
    pub const NOT_AUTHENTICATED: CloseCode = CloseCode(4003);
    /// 4004 Authentication failed: bad token.
    pub const AUTHENTICATION_FAILED: CloseCode = CloseCode(4004);
    /// 4005 Already authenticated.
    pub const ALREADY_AUTHENTICATED: CloseCode = CloseCode(4005);
    /// 4007 Invalid seq on resume.
    pub const INVALID_SEQ: CloseCode = CloseCode(4007);
    /// 4008 Rate limited: more than 120 sends per 60 s.
    pub const RATE_LIMITED: CloseCode = CloseCode(4008);
    /// 4009 Session timed out.
    pub const SESSION_TIMED_OUT: CloseCode = CloseCode(4009);
    /// 4010 Invalid shard.
    pub const INVALID_SHARD: CloseCode = CloseCode(4010);
    /// 4011 Sharding required.
    pub const SHARDING_REQUIRED: CloseCode = CloseCode(4011);
    /// 4012 Invalid API version.
    pub const INVALID_API_VERSION: CloseCode = CloseCode(4012);
    /// 4013 Invalid intent(s).
    pub const INVALID_INTENTS: CloseCode = CloseCode(4013);
    /// 4014 Disallowed intent(s).
    pub const DISALLOWED_INTENTS: CloseCode = CloseCode(4014);

    /// What the client should do after the server closed with this code.
    ///
    /// 4003, 4007 and 4009 mean the session is gone; 4004 and 4010–4014 are fatal; every
    /// other code (including 1000/1001 from the server, 1006 and codes Discord does not
    /// define) is treated as a network fault and resumed.
    pub fn action(self) -> CloseAction {
        match self.0 {
            4003 | 4006 | 4007 | 4009 => CloseAction::Reidentify,
            4004 | 4010..=4014 => CloseAction::Fatal,
            _ => CloseAction::Resume,
        }
    }

    /// Discord's name for the code, if it is one of the gateway's.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "Normal closure",
            1001 => "Going away",
            1006 => "Abnormal closure",
            4000 => "Unknown error",
            4001 => "Unknown opcode",
            4002 => "Decode error",
            4003 => "Not authenticated",
            4004 => "Authentication failed",
            4005 => "Already authenticated",
            4007 => "Invalid seq",
            4008 => "Rate limited",
            4009 => "Session timed out",
            4010 => "Invalid shard",
            4011 => "Sharding required",
            4012 => "Invalid API version",
            4013 => "Invalid intent(s)",
            4014 => "Disallowed intent(s)",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gateway_code_has_the_protocol_tables_action() {
        use CloseAction::*;
        let table = [
            (4000, Resume),
            (4001, Resume),
            (4002, Resume),
            (4003, Reidentify),
            (4004, Fatal),
            (4005, Resume),
            (4006, Reidentify),
            (4007, Reidentify),
            (4008, Resume),
            (4009, Reidentify),
            (4010, Fatal),
            (4011, Fatal),
            (4012, Fatal),
            (4013, Fatal),
            (4014, Fatal),
            (1000, Resume),
            (1001, Resume),
            (1006, Resume),
            (4999, Resume),
        ];
        for (code, action) in table {
            assert_eq!(CloseCode(code).action(), action, "close code {code}");
        }
    }
}
