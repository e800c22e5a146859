//! Payloads shaped like the examples of Slack's documentation (the event type pages,
//! "Implementing slash commands", the `block_actions` and `view_submission` payload pages),
//! for [`SlackSim::push_events_api`](super::SlackSim::push_events_api) and
//! [`SlackSim::push_envelope`](super::SlackSim::push_envelope).
//!
//! ```
//! use syncord::sim::slack::payload;
//!
//! let event: serde_json::Value =
//!     serde_json::from_str(&payload::message_event("C0SIM", "U0SIMUSER", "hi")).unwrap();
//! assert_eq!(event["type"], "message");
//! assert_eq!(event["text"], "hi");
//! ```

use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

/// The simulated workspace's id.
pub const TEAM_ID: &str = "T0SIM";
/// The simulated app's id (`app_id` in ticket URLs and `hello`).
pub const APP_ID: &str = "A0SIM";
/// The app's bot user.
pub const BOT_USER_ID: &str = "U0SIMBOT";
/// A human user for payloads.
pub const USER_ID: &str = "U0SIMUSER";
/// A channel for payloads.
pub const CHANNEL_ID: &str = "C0SIM";

static TS: AtomicU64 = AtomicU64::new(1);

/// A fresh message timestamp (`seconds.micro`, unique within the process).
pub fn ts() -> String {
    let n = TS.fetch_add(1, Ordering::Relaxed);
    format!("{}.{:06}", unix_seconds(), n % 1_000_000)
}

/// A `message` event (the `message` event page).
pub fn message_event(channel: &str, user: &str, text: &str) -> String {
    let ts = ts();
    json!({
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
        "client_msg_id": new_uuid(),
    })
    .to_string()
}

/// An `app_mention` event: `text` should mention `<@U0SIMBOT>` (the `app_mention` page).
pub fn app_mention(channel: &str, user: &str, text: &str) -> String {
    let ts = ts();
    json!({
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    })
    .to_string()
}

/// A `reaction_added` event on the message `item_ts` in `channel` (the `reaction_added`
/// page).
pub fn reaction_added(user: &str, reaction: &str, channel: &str, item_ts: &str) -> String {
    json!({
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item_user": BOT_USER_ID,
        "item": {"type": "message", "channel": channel, "ts": item_ts},
        "event_ts": ts(),
    })
    .to_string()
}

/// A `slash_commands` payload: the command's form fields as JSON ("Implementing slash
/// commands").
pub fn slash_command(command: &str, text: &str) -> String {
    json!({
        "token": "sim-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "sim",
        "channel_id": CHANNEL_ID,
        "channel_name": "general",
        "user_id": USER_ID,
        "user_name": "simuser",
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.invalid/commands/T0SIM/1/sim",
        "trigger_id": "1.sim.trigger",
    })
    .to_string()
}

/// An `interactive` `block_actions` payload: a button `action_id` clicked with `value`.
pub fn block_actions(action_id: &str, value: &str) -> String {
    json!({
        "type": "block_actions",
        "user": {"id": USER_ID, "username": "simuser", "name": "simuser", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "sim-verification-token",
        "container": {"type": "message", "message_ts": ts(), "channel_id": CHANNEL_ID,
            "is_ephemeral": false},
        "trigger_id": "1.sim.trigger",
        "team": {"id": TEAM_ID, "domain": "sim"},
        "channel": {"id": CHANNEL_ID, "name": "general"},
        "response_url": "https://hooks.slack.invalid/actions/T0SIM/1/sim",
        "actions": [{
            "action_id": action_id,
            "block_id": "sim-block",
            "text": {"type": "plain_text", "text": "Click", "emoji": true},
            "value": value,
            "type": "button",
            "action_ts": ts(),
        }],
    })
    .to_string()
}

/// An `interactive` `view_submission` payload for the modal `callback_id`, with
/// `state.values` set to `values_json` (a JSON object).
pub fn view_submission(callback_id: &str, values_json: &str) -> String {
    let values: serde_json::Value = serde_json::from_str(values_json).unwrap_or_else(|_| json!({}));
    json!({
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "sim"},
        "user": {"id": USER_ID, "username": "simuser", "name": "simuser", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "sim-verification-token",
        "trigger_id": "1.sim.trigger",
        "view": {
            "id": "V0SIM",
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": "1.sim",
            "private_metadata": "",
            "title": {"type": "plain_text", "text": "Sim"},
            "blocks": [],
        },
        "response_urls": [],
    })
    .to_string()
}

/// A fresh envelope id, shaped like Slack's (a UUID).
pub(crate) fn new_uuid() -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..0x1000),
        0x8000 | fastrand::u16(..0x4000),
        fastrand::u64(..1 << 48)
    )
}

pub(crate) fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
