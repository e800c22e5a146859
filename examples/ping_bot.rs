//! `ping_bot`: answers `!ping` with a reply, posted through Discord's REST API
//! (Resources → Message → Create Message: `POST /api/v10/channels/{channel.id}/messages`)
//! with ureq.
//!
//! ```text
//! cargo run --example ping_bot                      # offline, on the built-in simulator
//! DISCORD_TOKEN=... cargo run --example ping_bot    # on Discord, until Ctrl-C
//! ```
//!
//! On Discord, enable the Message Content intent for the application in the Developer
//! Portal: without it, `content` is empty for messages that do not mention the bot.
//!
//! Offline, the simulator plays a user who writes `!ping`; it serves the REST endpoint,
//! records the reply and dispatches it back as MESSAGE_CREATE, as Discord does, and the
//! program stops once that echo arrives.
//!
//! The reply is posted from the handler, which blocks the event stream for one HTTP round
//! trip: fine for a small bot (the dispatcher warns if a handler runs long); a busy bot
//! hands such work to its own threads.

use std::process::ExitCode;
use std::time::Duration;
use syncord::dispatch::Dispatcher;
use syncord::model::{MessageCreate, Snowflake};
use syncord::sim::{SimConfig, Simulator};
use syncord::{Intents, Shard, DEFAULT_API_BASE};

fn main() -> ExitCode {
    let result: Result<(), Box<dyn std::error::Error>> = match std::env::var("DISCORD_TOKEN") {
        Ok(token) if !token.is_empty() => {
            println!("connecting to Discord; press Ctrl-C to stop");
            bot(DEFAULT_API_BASE.to_owned(), token.clone())
                .map_err(Into::into)
                .and_then(|dispatcher| Ok(dispatcher.run(dispatcher.shard(token)?)?))
        }
        _ => {
            println!("DISCORD_TOKEN is not set: using the built-in gateway simulator");
            offline()
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ping_bot: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The whole bot: one handler, and the intents it needs.
fn bot(api_base: String, token: String) -> Result<Dispatcher, native_tls::Error> {
    // One HTTP agent for every reply (it keeps the connection), over native-tls like the
    // shard.
    let http = ureq::AgentBuilder::new()
        .tls_connector(std::sync::Arc::new(native_tls::TlsConnector::new()?))
        .timeout(Duration::from_secs(10))
        .build();
    let dispatcher = Dispatcher::new();
    // GUILD_MESSAGES and DIRECT_MESSAGES come from the handler; message text is privileged.
    dispatcher.add_intents(Intents::MESSAGE_CONTENT);
    dispatcher.on::<MessageCreate>(move |ctx, message| {
        if message.author.bot || message.content.trim() != "!ping" {
            return;
        }
        let latency = ctx
            .handle()
            .latency()
            .recent()
            .map_or_else(|| "not measured yet".to_owned(), |rtt| format!("{rtt:.0?}"));
        let reply = format!("pong! gateway latency: {latency}");
        match post_reply(
            &http,
            &api_base,
            &token,
            message.channel_id,
            message.id,
            &reply,
        ) {
            Ok(()) => println!(
                "answered {} in channel {}",
                message.author.username, message.channel_id
            ),
            Err(e) => eprintln!("could not answer in channel {}: {e}", message.channel_id),
        }
    });
    Ok(dispatcher)
}

/// Posts `content` as a reply to message `to` in `channel`.
fn post_reply(
    http: &ureq::Agent,
    api_base: &str,
    token: &str,
    channel: Snowflake,
    to: Snowflake,
    content: &str,
) -> Result<(), String> {
    let url = format!("{api_base}/channels/{channel}/messages");
    let body = serde_json::json!({
        "content": content,
        "message_reference": { "message_id": to.to_string() },
    });
    // The error names the URL and the status, never the headers (the token is in one).
    http.post(&url)
        .set("Authorization", &format!("Bot {token}"))
        .send_json(body)
        .map(|_| ())
        .map_err(|e| match e {
            ureq::Error::Status(status, _) => format!("Discord answered {status}"),
            other => format!("request failed: {}", other.kind()),
        })
}

/// The simulator plays Discord and a user; stops once the reply has come back.
fn offline() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start(SimConfig::default())?;
    let dispatcher = bot(sim.api_base(), sim.token().to_owned())?;
    let shard = Shard::with_config(sim.client_config(dispatcher.intents()).build()?);
    let running = dispatcher.spawn(shard)?;

    dispatcher.wait_ready(Duration::from_secs(10))?;
    // Registered before the user writes, so the reply cannot slip past.
    let reply = dispatcher.waiter("MESSAGE_CREATE", |d| {
        d.data_json().contains(r#""bot":true"#)
    });
    sim.push("MESSAGE_CREATE", &ping_message());
    let reply = reply.wait(Duration::from_secs(10))?;
    let reply: MessageCreate = reply.data()?;
    println!(
        "the simulator dispatched the reply back: {:?}",
        reply.content
    );
    running.shutdown()?;
    Ok(())
}

/// A user's `!ping` in a guild text channel, shaped like Discord's MESSAGE_CREATE.
fn ping_message() -> String {
    serde_json::json!({
        "id": "1300000000000000001", "channel_id": "1200000000000000001",
        "guild_id": "1100000000000000001", "type": 0,
        "author": {"id": "1000000000000000042", "username": "ada", "discriminator": "0", "global_name": "Ada", "avatar": null},
        "content": "!ping", "timestamp": "2025-01-01T12:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false,
    })
    .to_string()
}
