//! `POST /api/v10/channels/{channel.id}/messages` (Discord: Resources → Message → Create
//! Message): the simulator records each call and, as Discord does, dispatches the created
//! message back as MESSAGE_CREATE, so a bot that answers messages is tested offline.

use super::http::{BodyError, RequestHead};
use super::payload::{message_create, BOT_USER_ID};
use super::record::RecordKind;
use super::state::Inner;
use serde_json::{json, Value};
use std::io::Read;
use std::sync::atomic::Ordering;

/// The largest request body accepted (Discord's own limit for a JSON body is larger, but no
/// message without files comes near it).
const MAX_BODY: usize = 256 * 1024;

/// The channel id of a Create Message path, if `path` is one.
pub(crate) fn create_message_channel(path: &str) -> Option<&str> {
    let channel = path
        .strip_prefix("/api/v10/channels/")?
        .strip_suffix("/messages")?;
    (!channel.is_empty() && channel.bytes().all(|b| b.is_ascii_digit())).then_some(channel)
}

/// Reads the request body, answering Discord's errors when it cannot be read.
pub(crate) fn read_body(
    stream: &mut impl Read,
    head: &RequestHead,
) -> Result<Vec<u8>, (u16, String)> {
    super::http::read_body(stream, head, MAX_BODY).map_err(|e| match e {
        BodyError::NoLength => error(411, "Content-Length required", 0),
        BodyError::TooLarge => error(413, "Request entity too large", 40005),
        BodyError::Truncated => error(400, "The request body ended early", 0),
    })
}

fn error(status: u16, message: &str, code: u32) -> (u16, String) {
    (
        status,
        json!({ "message": message, "code": code }).to_string(),
    )
}

/// Answers a Create Message call: the created message (200), or Discord's error.
pub(crate) fn create_message(
    inner: &Inner,
    authorized: bool,
    channel_id: &str,
    body: &[u8],
) -> (u16, String) {
    if !authorized {
        return error(401, "401: Unauthorized", 0);
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return error(
            400,
            "400: Bad Request (the body is not a JSON object)",
            50109,
        );
    };
    let content = match request.get("content") {
        None | Some(Value::Null) => "",
        Some(Value::String(content)) => content.as_str(),
        Some(_) => return error(400, "Invalid Form Body (content: must be a string)", 50035),
    };
    if content.chars().count() > 2000 {
        return error(
            400,
            "Invalid Form Body (content: must be 2000 or fewer in length)",
            50035,
        );
    }
    let embeds = request.get("embeds").cloned().unwrap_or(json!([]));
    if content.is_empty() && embeds.as_array().is_none_or(Vec::is_empty) {
        return error(400, "Cannot send an empty message", 50006);
    }
    inner.record(
        0,
        RecordKind::MessagePosted {
            channel_id: channel_id.to_owned(),
            json: String::from_utf8_lossy(body).into_owned(),
        },
    );
    let Ok(channel) = channel_id.parse::<u64>() else {
        return error(404, "Unknown Channel", 10003);
    };
    let n = inner.posted.fetch_add(1, Ordering::AcqRel);
    let id = 1_400_000_000_000_000_000u64 + n;
    // In the channel's guild if a message from there was seen, else a DM (guild 0).
    let guild = inner
        .channel_guilds
        .lock()
        .get(channel_id)
        .and_then(|g| g.parse::<u64>().ok())
        .unwrap_or(0);
    let Ok(mut message) =
        serde_json::from_str::<Value>(&message_create(guild, channel, id, BOT_USER_ID, content))
    else {
        return error(500, "the simulator could not build the message", 0);
    };
    let reference = request.get("message_reference").cloned();
    if let Some(object) = message.as_object_mut() {
        object.insert("embeds".into(), embeds);
        object.insert(
            "tts".into(),
            json!(request.get("tts").and_then(Value::as_bool).unwrap_or(false)),
        );
        if let Some(components) = request.get("components") {
            object.insert("components".into(), components.clone());
        }
        // 19 is a reply (Resources → Message → Message Types).
        if let Some(reference) = reference {
            object.insert("type".into(), json!(19));
            object.insert("message_reference".into(), reference);
        }
        // Discord echoes a nonce only when the request had one.
        match request.get("nonce") {
            Some(nonce) => object.insert("nonce".into(), nonce.clone()),
            None => object.remove("nonce"),
        };
    }
    let text = message.to_string();
    inner.push("MESSAGE_CREATE", &text);
    (200, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_numeric_channel_id_makes_a_create_message_path() {
        assert_eq!(
            create_message_channel("/api/v10/channels/123/messages"),
            Some("123")
        );
        assert_eq!(create_message_channel("/api/v10/channels//messages"), None);
        assert_eq!(
            create_message_channel("/api/v10/channels/12a/messages"),
            None
        );
        assert_eq!(
            create_message_channel("/api/v10/channels/1/messages/2"),
            None
        );
    }
}
