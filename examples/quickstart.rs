//! The first program to run: connect, print what happens, stop.
//!
//! ```text
//! cargo run --example quickstart                        # offline, on the built-in simulator
//! DISCORD_TOKEN=... cargo run --example quickstart      # on Discord, until Ctrl-C
//! ```
//!
//! A [`Dispatcher`] holds the handlers: one for each message, one for the connection's
//! lifecycle. The shard identifies with the intents those handlers need (GUILD_MESSAGES and
//! DIRECT_MESSAGES for MESSAGE_CREATE). Message text needs the privileged MESSAGE_CONTENT
//! intent: without it, `content` is empty except in DMs and messages that mention the bot.
//! Offline it is on; on Discord, enable it for the application in the Developer Portal and
//! set `SYNCORD_MESSAGE_CONTENT=1`.
//!
//! Without `DISCORD_TOKEN` it starts the gateway simulator in this process; a helper thread
//! plays the other users and writes a few messages, the last one `!stop`, and the handler
//! shuts the shard down when it sees it.

use std::process::ExitCode;
use std::time::Duration;
use syncord::dispatch::Dispatcher;
use syncord::model::MessageCreate;
use syncord::sim::{payload, SimConfig, Simulator};
use syncord::{Event, Intents, Shard};

/// The messages the simulator's "users" write, in order.
const MESSAGES: [(&str, &str); 4] = [
    ("ada", "hello from the simulator"),
    ("grace", "syncord runs on plain threads, no async runtime"),
    ("linus", "every event arrives once, in order"),
    ("ada", "!stop"),
];

fn main() -> ExitCode {
    let dispatcher = Dispatcher::new();
    dispatcher.on::<MessageCreate>(|ctx, message| {
        let author = message.author.display_name();
        println!(
            "#{} message from {author}: {}",
            ctx.seq().unwrap_or(0),
            message.content
        );
        if message.content == "!stop" {
            ctx.handle().shutdown(); // `run` returns Ok once this handler returns.
        }
    });
    dispatcher.on_lifecycle(|_, event| print_lifecycle(event));

    let result = match std::env::var("DISCORD_TOKEN") {
        Ok(token) if !token.is_empty() => {
            if std::env::var("SYNCORD_MESSAGE_CONTENT").is_ok_and(|v| v == "1") {
                dispatcher.add_intents(Intents::MESSAGE_CONTENT);
            }
            println!("connecting to Discord; press Ctrl-C to stop");
            dispatcher
                .shard(token)
                .and_then(|shard| dispatcher.run(shard))
                .map_err(Into::into)
        }
        _ => {
            println!("DISCORD_TOKEN is not set: using the built-in gateway simulator");
            dispatcher.add_intents(Intents::MESSAGE_CONTENT);
            run_on_simulator(&dispatcher)
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn run_on_simulator(dispatcher: &Dispatcher) -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start(SimConfig::default())?;
    // The simulator's config (its token, discovery through its REST endpoint) with the
    // dispatcher's intents.
    let shard = Shard::with_config(sim.client_config(dispatcher.intents()).build()?);
    println!("intents: {}", dispatcher.intents().names().join(" | "));

    std::thread::scope(|scope| {
        // The other side of the conversation: once our session is live, people write.
        scope.spawn(|| {
            if sim.wait_for_session(Duration::from_secs(10)).is_some() {
                for (i, (author, content)) in (1..).zip(MESSAGES) {
                    // Message `i` from user `i`: in a demo, ids only need to differ.
                    let message = payload::named_message_create(i, i, author, content);
                    sim.push("MESSAGE_CREATE", &message);
                }
            }
        });
        // Blocks this thread, calling the handlers for every event, until shutdown.
        dispatcher.run(shard)
    })?;
    println!("shut down cleanly");
    Ok(())
}

fn print_lifecycle(event: &Event) {
    match event {
        Event::Connecting { attempt, url, .. } => {
            println!("connecting to {url} (attempt {attempt})")
        }
        Event::Connected => println!("connected"),
        Event::Ready(ready) => {
            let name = ready
                .user
                .as_ref()
                .map_or("?", |user| user.username.as_str());
            println!("ready: logged in as {name}, session {}", ready.session_id);
        }
        Event::Disconnected {
            code: Some(code),
            reason,
        } => println!("disconnected ({code}): {reason}"),
        Event::Disconnected { reason, .. } => println!("disconnected: {reason}"),
        Event::Reconnecting { attempt, delay } => {
            println!("reconnecting in {delay:.1?} (attempt {attempt})")
        }
        other => println!("{}: {other:?}", other.name()),
    }
}
