//! The frame loop every websocket connection of the Slack simulator runs: control frames,
//! the closing handshake and text messages, which go to the connection's protocol.

use super::conn::{Phase, SlackConn};
use super::frame::{close_code, opcode, read_frame};
use super::record::SlackRecordKind;
use super::state::Inner;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// What to do with the text messages of a connection.
pub(crate) trait TextHandler {
    /// Frames of this many bytes or more close the connection with 1009 and `reason`.
    fn frame_limit(&self) -> (u64, &'static str);
    /// Whether fragmented messages are dropped (Socket Mode) instead of reassembled.
    fn drop_fragmented(&self) -> bool;
    /// One complete text message.
    fn text(&mut self, inner: &Inner, conn: &SlackConn, text: &str, frame_len: usize);
}

/// Reads frames until TCP ends: control frames, the closing handshake and text messages
/// (to `handler`); then marks the connection ended or a ghost.
pub(crate) fn frame_loop(
    inner: &Inner,
    conn: &SlackConn,
    reader: &mut impl Read,
    handler: &mut impl TextHandler,
) {
    let (limit, limit_reason) = handler.frame_limit();
    let mut fragments: Option<(Vec<u8>, usize)> = None;
    let id = Some(conn.id);
    while let Ok(frame) = read_frame(reader, limit) {
        match frame.opcode {
            opcode::PING => {
                // Answered before it is recorded: once a test sees the record, any pong is
                // on the wire.
                if inner.answer_pings.load(Ordering::Acquire) {
                    conn.send_frame(opcode::PONG, &frame.payload);
                }
                inner.record(
                    id,
                    SlackRecordKind::Ping {
                        payload: frame.payload,
                    },
                );
            }
            opcode::PONG => inner.record(
                id,
                SlackRecordKind::Pong {
                    payload: frame.payload,
                },
            ),
            opcode::CLOSE => {
                let code = close_code(&frame.payload);
                match conn.phase() {
                    Phase::ServerClosing => {
                        inner.record(id, SlackRecordKind::CloseEchoed { code });
                        // The server closes TCP after the handshake (RFC 6455 §7.1.1).
                        conn.shutdown();
                    }
                    Phase::Open => {
                        inner.record(id, SlackRecordKind::ClosedByClient { code });
                        conn.answer_close(code);
                        if inner.config.close_tcp_after_close_handshake {
                            conn.shutdown();
                        }
                    }
                    Phase::ClientClosed | Phase::Ended => {}
                }
            }
            _ if frame.skipped => {
                inner.record(
                    id,
                    SlackRecordKind::OversizedFrame {
                        frame_len: frame.len,
                    },
                );
                inner.close(conn, 1009, limit_reason);
            }
            opcode::TEXT if frame.fin => {
                let len = frame.payload.len();
                match String::from_utf8(frame.payload) {
                    Ok(text) => handler.text(inner, conn, &text, len),
                    // RFC 6455 §8.1: invalid UTF-8 in a text frame fails the connection.
                    Err(_) => {
                        inner.close(conn, 1007, "invalid UTF-8");
                    }
                }
            }
            opcode::TEXT => fragments = Some((frame.payload, 1)),
            opcode::CONTINUATION => {
                let Some((mut bytes, frames)) = fragments.take() else {
                    inner.close(conn, 1002, "continuation without a message");
                    continue;
                };
                bytes.extend_from_slice(&frame.payload);
                if !frame.fin {
                    fragments = Some((bytes, frames + 1));
                    continue;
                }
                if handler.drop_fragmented() {
                    inner.record(
                        id,
                        SlackRecordKind::FragmentedDropped {
                            len: bytes.len(),
                            frames: frames + 1,
                        },
                    );
                } else if bytes.len() as u64 >= limit {
                    inner.record(
                        id,
                        SlackRecordKind::OversizedFrame {
                            frame_len: bytes.len() as u64,
                        },
                    );
                    inner.close(conn, 1009, limit_reason);
                } else if let Ok(text) = String::from_utf8(bytes) {
                    let len = text.len();
                    handler.text(inner, conn, &text, len);
                }
            }
            opcode::BINARY => inner.record(
                id,
                SlackRecordKind::Binary {
                    len: frame.payload.len(),
                },
            ),
            _ => {
                inner.close(conn, 1002, "unknown opcode");
            }
        }
    }
    conn.shutdown();
    let ghost = {
        let mut state = conn.state.lock();
        let ghost = state.phase == Phase::Open;
        if ghost {
            state.ghost_until = Some(Instant::now() + inner.config.ghost_ttl);
        }
        state.phase = Phase::Ended;
        ghost
    };
    inner.record(
        id,
        if ghost {
            SlackRecordKind::BecameGhost
        } else {
            SlackRecordKind::TcpClosed
        },
    );
}
