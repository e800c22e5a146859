//! Fidelity checks of syncord's gateway simulator: independent clients (twilight-gateway
//! here, @discordjs/ws in `discordjs/`) run against it, and each scenario asserts what the
//! client would see against Discord (the repository's PROTOCOL reference, Discord's Gateway
//! pages). Issue 16's permanent check; see README.md.

pub mod check;
pub mod flow;
pub mod scenarios;
pub mod twilight;
