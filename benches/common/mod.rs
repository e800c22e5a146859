//! Shared by the benchmark programs (`benches/*.rs`, `examples/bench_replay.rs`): the
//! payload generator, server-side compression and framing, a pre-encoding websocket server
//! on loopback, percentiles and process statistics.
//!
//! Not every program uses every item.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use syncord::sim::deflate::{ZlibStreamEncoder, ZstdStreamEncoder};
use syncord::Compression;

// ------------------------------------------------------------------ modes and arguments

/// A transport compression mode, as the benchmarks name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    None,
    Zlib,
    Zstd,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::None, Mode::Zlib, Mode::Zstd];

    pub fn parse(name: &str) -> Option<Mode> {
        match name {
            "none" | "plain" => Some(Mode::None),
            "zlib" | "zlib-stream" => Some(Mode::Zlib),
            "zstd" | "zstd-stream" => Some(Mode::Zstd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Zlib => "zlib",
            Mode::Zstd => "zstd",
        }
    }

    pub fn compression(self) -> Compression {
        match self {
            Mode::None => Compression::None,
            Mode::Zlib => Compression::ZlibStream,
            Mode::Zstd => Compression::ZstdStream,
        }
    }
}

/// Positional arguments: numbers in order into `numbers`, mode names into the mode list
/// (all three when none is given). Flags cargo adds (`--bench`) are ignored.
pub struct Args {
    pub numbers: Vec<u64>,
    pub modes: Vec<Mode>,
    pub words: Vec<String>,
}

impl Args {
    pub fn parse(usage: &str) -> Args {
        let mut args = Args {
            numbers: Vec::new(),
            modes: Vec::new(),
            words: Vec::new(),
        };
        for arg in std::env::args().skip(1) {
            if arg == "-h" || arg == "--help" {
                println!("{usage}");
                std::process::exit(0);
            }
            if arg.starts_with("--") {
                args.words.push(arg);
                continue;
            }
            let plain = arg.replace('_', "");
            if let Ok(n) = plain.parse::<u64>() {
                args.numbers.push(n);
            } else if let Some(k) = plain.strip_suffix('k').and_then(|n| n.parse::<u64>().ok()) {
                args.numbers.push(k * 1000);
            } else if let Some(mode) = Mode::parse(&arg) {
                if !args.modes.contains(&mode) {
                    args.modes.push(mode);
                }
            } else {
                eprintln!("unknown argument {arg:?}\n{usage}");
                std::process::exit(2);
            }
        }
        if args.modes.is_empty() {
            args.modes = Mode::ALL.to_vec();
        }
        args
    }

    pub fn number(&self, index: usize, default: u64) -> u64 {
        self.numbers.get(index).copied().unwrap_or(default)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.words.iter().any(|w| w == name)
    }

    /// The number after `--name=`, or `default` when it is absent or not a number.
    #[allow(dead_code)] // not every bench takes one
    pub fn value(&self, name: &str, default: u64) -> u64 {
        let prefix = format!("{name}=");
        self.words
            .iter()
            .find_map(|w| w.strip_prefix(prefix.as_str()))
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }
}

// ------------------------------------------------------------------ payloads

/// fastrand's generator with a fixed seed, so every run and every mode replays the same
/// stream.
pub struct Rng(fastrand::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }

    pub fn next(&mut self) -> u64 {
        self.0.u64(..)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n)
    }

    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(len);
        s
    }
}

const WORDS: &[&str] = &[
    "the",
    "a",
    "to",
    "and",
    "of",
    "is",
    "it",
    "you",
    "that",
    "in",
    "this",
    "for",
    "on",
    "with",
    "lol",
    "yeah",
    "just",
    "not",
    "but",
    "so",
    "what",
    "we",
    "can",
    "if",
    "be",
    "have",
    "are",
    "server",
    "bot",
    "update",
    "deploy",
    "patch",
    "release",
    "gateway",
    "shard",
    "latency",
    "anyone",
    "know",
    "how",
    "why",
    "when",
    "tonight",
    "tomorrow",
    "raid",
    "match",
    "queue",
    "ping",
    "lag",
    "fixed",
    "broken",
    "again",
    "thanks",
    "please",
    "maybe",
    "probably",
    "nice",
    "gg",
    "brb",
    "idk",
    "channel",
    "role",
    "message",
    "voice",
    "stream",
    "music",
    "docs",
    "rust",
    "python",
    "cargo",
    "crate",
    "thread",
    "doesn't",
    "won't",
    "I'm",
    "it's",
    "\u{1f389}",
    "\u{1f602}",
    "\\\"quoted\\\"",
    "<:pepe:1112223334445556667>",
    "https://example.com/post/1234",
];

const GUILD: u64 = 81_384_788_765_712_384;

fn snowflake(rng: &mut Rng) -> u64 {
    1_100_000_000_000_000_000 + rng.below(100_000_000_000_000_000)
}

fn user_json(rng: &mut Rng, id: u64) -> String {
    let i = id % 997;
    format!(
        r#"{{"username":"user_{i}","public_flags":{pf},"primary_guild":null,"id":"{id}","global_name":"User {i}","display_name_styles":null,"discriminator":"0","collectibles":null,"clan":null,"avatar_decoration_data":null,"avatar":"{av}"}}"#,
        pf = [0, 64, 128, 256][(i % 4) as usize],
        av = rng.hex(32)
    )
}

fn member_json(rng: &mut Rng) -> String {
    let roles: Vec<String> = (0..rng.below(4))
        .map(|r| format!("\"{}\"", GUILD + 1 + r))
        .collect();
    format!(
        r#""roles":[{}],"premium_since":null,"pending":false,"nick":null,"mute":false,"joined_at":"2023-03-14T09:26:53.589000+00:00","flags":0,"deaf":false,"communication_disabled_until":null,"banner":null,"avatar":null"#,
        roles.join(",")
    )
}

/// A guild MESSAGE_CREATE with member and author, ~0.9–1.3 KB.
pub fn message_create(rng: &mut Rng, seq: u64) -> String {
    let author_id = 200_000_000_000_000_000 + rng.below(500);
    let author = user_json(rng, author_id);
    let member = member_json(rng);
    let mut content = String::new();
    for w in 0..(8 + rng.below(40)) {
        if w > 0 {
            content.push(' ');
        }
        content.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    format!(
        r#"{{"t":"MESSAGE_CREATE","s":{seq},"op":0,"d":{{"type":0,"tts":false,"timestamp":"2024-06-01T12:{m:02}:{s:02}.{ms:03}000+00:00","pinned":false,"nonce":"{nonce}","mentions":[],"mention_roles":[],"mention_everyone":false,"member":{{{member}}},"id":"{id}","flags":0,"embeds":[],"edited_timestamp":null,"content":"{content}","components":[],"channel_id":"{channel}","author":{author},"attachments":[],"guild_id":"{GUILD}"}}}}"#,
        m = rng.below(60),
        s = rng.below(60),
        ms = rng.below(1000),
        nonce = snowflake(rng),
        id = snowflake(rng),
        channel = GUILD + 100 + rng.below(20),
    )
}

/// TYPING_START with the member, ~0.6 KB.
pub fn typing_start(rng: &mut Rng, seq: u64) -> String {
    let user_id = 200_000_000_000_000_000 + rng.below(500);
    let user = user_json(rng, user_id);
    let member = member_json(rng);
    format!(
        r#"{{"t":"TYPING_START","s":{seq},"op":0,"d":{{"user_id":"{user_id}","timestamp":{ts},"member":{{"user":{user},{member}}},"channel_id":"{channel}","guild_id":"{GUILD}"}}}}"#,
        ts = 1_717_243_200 + rng.below(3600),
        channel = GUILD + 100 + rng.below(20),
    )
}

/// PRESENCE_UPDATE with one activity, ~0.4 KB.
pub fn presence_update(rng: &mut Rng, seq: u64) -> String {
    let user_id = 200_000_000_000_000_000 + rng.below(500);
    let status = ["online", "idle", "dnd"][rng.below(3) as usize];
    format!(
        r#"{{"t":"PRESENCE_UPDATE","s":{seq},"op":0,"d":{{"user":{{"id":"{user_id}"}},"status":"{status}","guild_id":"{GUILD}","client_status":{{"desktop":"{status}"}},"activities":[{{"type":0,"timestamps":{{"start":{start}}},"name":"Some Game {g}","id":"{aid}","created_at":{start}}}]}}}}"#,
        start = 1_717_243_200_000u64 + rng.below(3_600_000),
        g = rng.below(17),
        aid = rng.hex(16),
    )
}

/// A large GUILD_CREATE: roles, channels, `members` members and a third as many presences
/// (~0.5 KB a member: ~0.5 MB for 1000).
pub fn guild_create(rng: &mut Rng, seq: u64, members: usize) -> String {
    let mut d = String::with_capacity(members * 600 + 32 * 1024);
    let _ = write!(
        d,
        r#"{{"t":"GUILD_CREATE","s":{seq},"op":0,"d":{{"id":"{GUILD}","name":"Bench Guild","icon":"{icon}","owner_id":"200000000000000000","afk_timeout":300,"verification_level":1,"default_message_notifications":1,"explicit_content_filter":2,"features":["COMMUNITY","NEWS"],"mfa_level":0,"premium_tier":1,"preferred_locale":"en-US","nsfw_level":0,"large":true,"unavailable":false,"joined_at":"2023-01-01T00:00:00.000000+00:00","member_count":{members},"voice_states":[],"threads":[],"stage_instances":[],"guild_scheduled_events":[],"roles":["#,
        icon = rng.hex(32)
    );
    for r in 0..25u64 {
        if r > 0 {
            d.push(',');
        }
        let _ = write!(
            d,
            r#"{{"unicode_emoji":null,"tags":{{}},"position":{r},"permissions":"2251799813685247","name":"role-{r}","mentionable":false,"managed":false,"id":"{id}","icon":null,"hoist":false,"flags":0,"color":{color}}}"#,
            id = GUILD + r,
            color = rng.below(0xff_ffff)
        );
    }
    d.push_str(r#"],"channels":["#);
    for c in 0..60u64 {
        if c > 0 {
            d.push(',');
        }
        let _ = write!(
            d,
            r#"{{"type":0,"topic":"Topic for channel {c}","rate_limit_per_user":0,"position":{c},"permission_overwrites":[{{"type":0,"id":"{GUILD}","deny":"2048","allow":"0"}}],"parent_id":null,"nsfw":false,"name":"chan-{c}","last_message_id":"{lm}","id":"{id}","flags":0}}"#,
            lm = snowflake(rng),
            id = GUILD + 100 + c
        );
    }
    d.push_str(r#"],"members":["#);
    for m in 0..members {
        if m > 0 {
            d.push(',');
        }
        let id = 200_000_000_000_000_000 + m as u64;
        let user = user_json(rng, id);
        let member = member_json(rng);
        let _ = write!(d, r#"{{"user":{user},{member}}}"#);
    }
    d.push_str(r#"],"presences":["#);
    for m in 0..members / 3 {
        if m > 0 {
            d.push(',');
        }
        let status = ["online", "idle", "dnd"][m % 3];
        let _ = write!(
            d,
            r#"{{"user":{{"id":"{}"}},"status":"{status}","client_status":{{"desktop":"{status}"}},"activities":[]}}"#,
            200_000_000_000_000_000 + m as u64
        );
    }
    d.push_str("]}}");
    d
}

/// How often a GUILD_CREATE appears in the mixed stream.
pub const GUILD_CREATE_EVERY: usize = 20_000;

/// `n` dispatches numbered from `first_seq`: ~85 % MESSAGE_CREATE, ~8 % TYPING_START,
/// ~7 % PRESENCE_UPDATE and, when `guilds` is set, a 1000-member GUILD_CREATE every
/// [`GUILD_CREATE_EVERY`] events (the first after half that).
pub fn mixed_stream(n: usize, first_seq: u64, guilds: bool) -> Vec<String> {
    let mut rng = Rng::new(0x5EED_F5EC_000D);
    (0..n)
        .map(|i| {
            let seq = first_seq + i as u64;
            if guilds && i % GUILD_CREATE_EVERY == GUILD_CREATE_EVERY / 2 {
                return guild_create(&mut rng, seq, 1000);
            }
            match rng.below(100) {
                0..=84 => message_create(&mut rng, seq),
                85..=92 => typing_start(&mut rng, seq),
                _ => presence_update(&mut rng, seq),
            }
        })
        .collect()
}

pub const HELLO: &str = r#"{"t":null,"s":null,"op":10,"d":{"heartbeat_interval":41250}}"#;

pub fn ready_json(url: &str) -> String {
    format!(
        r#"{{"t":"READY","s":1,"op":0,"d":{{"v":10,"user":{{"id":"1000","username":"bench-bot","discriminator":"0","global_name":null,"avatar":null,"bot":true}},"guilds":[],"session_id":"bench-session","resume_gateway_url":"{url}","shard":[0,1],"application":{{"id":"1000","flags":0}}}}}}"#
    )
}

// ------------------------------------------------------------------ compression, framing

/// One connection's server-side compression context (one per connection, never reset):
/// the simulator's own encoders.
pub enum Encoder {
    Plain,
    Zlib(Box<ZlibStreamEncoder>),
    Zstd(Box<ZstdStreamEncoder>),
}

impl Encoder {
    pub fn new(mode: Mode) -> Encoder {
        match mode {
            Mode::None => Encoder::Plain,
            // Level 6, like Discord's and the bench-peers replay server's.
            Mode::Zlib => Encoder::Zlib(Box::new(ZlibStreamEncoder::new())),
            Mode::Zstd => Encoder::Zstd(Box::new(ZstdStreamEncoder::new().expect("zstd context"))),
        }
    }

    /// Appends `message`, compressed and flushed so it decodes completely, to `out`.
    pub fn encode(&mut self, message: &[u8], out: &mut Vec<u8>) {
        match self {
            Encoder::Plain => out.extend_from_slice(message),
            Encoder::Zlib(encoder) => out.extend_from_slice(encoder.encode(message)),
            Encoder::Zstd(encoder) => out.extend_from_slice(encoder.encode(message)),
        }
    }
}

/// Appends an unmasked, unfragmented server frame header (text or binary) for `len` bytes.
pub fn frame_header(binary: bool, len: usize, out: &mut Vec<u8>) {
    out.push(0x80 | if binary { 2 } else { 1 });
    if len < 126 {
        out.push(len as u8);
    } else if len <= 0xffff {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// A whole connection's server stream, framed and compressed before any clock starts:
/// Hello, READY, then the dispatches, all through one compression context.
pub struct Prebuilt {
    pub mode: Mode,
    /// Every frame, back to back.
    pub wire: Vec<u8>,
    /// Per message (Hello, READY, dispatches…): the frame's range in `wire` and where its
    /// payload starts.
    pub frames: Vec<(usize, usize, usize)>,
    /// Uncompressed JSON bytes of the dispatches.
    pub json_bytes: u64,
}

/// Index of the first dispatch in [`Prebuilt::frames`].
pub const FIRST_DISPATCH: usize = 2;

impl Prebuilt {
    pub fn build(mode: Mode, dispatches: &[String], resume_url: &str) -> Prebuilt {
        let mut encoder = Encoder::new(mode);
        let total: usize = dispatches.iter().map(String::len).sum();
        let guess = match mode {
            Mode::None => total + dispatches.len() * 10 + 4096,
            _ => total / 4 + 4096,
        };
        let mut wire = Vec::with_capacity(guess);
        let mut frames = Vec::with_capacity(dispatches.len() + 2);
        let mut payload = Vec::new();
        let ready = ready_json(resume_url);
        let messages = [HELLO, ready.as_str()]
            .into_iter()
            .chain(dispatches.iter().map(String::as_str));
        for message in messages {
            payload.clear();
            encoder.encode(message.as_bytes(), &mut payload);
            let start = wire.len();
            frame_header(mode != Mode::None, payload.len(), &mut wire);
            let payload_start = wire.len();
            wire.extend_from_slice(&payload);
            frames.push((start, wire.len(), payload_start));
        }
        Prebuilt {
            mode,
            wire,
            frames,
            json_bytes: total as u64,
        }
    }

    pub fn dispatches(&self) -> usize {
        self.frames.len() - FIRST_DISPATCH
    }

    /// The wire bytes of frames `from..to`.
    pub fn span(&self, from: usize, to: usize) -> &[u8] {
        &self.wire[self.frames[from].0..self.frames[to - 1].1]
    }

    /// The payload bytes (compressed, or JSON) of message `i`.
    pub fn payload(&self, i: usize) -> &[u8] {
        let (_, end, payload) = self.frames[i];
        &self.wire[payload..end]
    }

    /// Wire bytes of the dispatches, websocket headers included.
    pub fn dispatch_wire_bytes(&self) -> u64 {
        (self.frames[self.frames.len() - 1].1 - self.frames[FIRST_DISPATCH].0) as u64
    }
}

// ------------------------------------------------------------------ the server

/// One process-wide time base: nanoseconds since it, comparable across threads.
pub fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    base.elapsed().as_nanos() as u64
}

/// How the server sends the dispatches once the client has identified.
pub enum Pace {
    /// As fast as the socket takes them, in 256 KiB writes.
    Flood,
    /// One write per dispatch at `rate` per second on an absolute schedule; the send time of
    /// dispatch `i` (nanoseconds, [`now_ns`]) is stored in `sent[i]`.
    Rate {
        rate: f64,
        sent: Arc<Vec<AtomicU64>>,
    },
    /// Nothing after READY.
    Idle,
}

/// What the server's reader saw from the client: receive time ([`now_ns`]) and text.
pub type ClientMessages = mpsc::Receiver<(u64, String)>;

/// A one-connection server on 127.0.0.1 for a pre-built stream.
pub struct BenchServer {
    pub port: u16,
    pub from_client: ClientMessages,
    thread: Option<JoinHandle<()>>,
}

impl BenchServer {
    /// Starts listening; the first connection gets Hello at once, READY and the dispatches
    /// after it sent Identify (or Resume).
    pub fn start(stream: Arc<Prebuilt>, pace: Pace) -> BenchServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let (tx, from_client) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || serve(listener, stream, pace, tx))
            .expect("spawn server");
        BenchServer {
            port,
            from_client,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Waits for the connection to end (the client closes it); returns what the client
    /// sent.
    pub fn join(mut self) -> ClientMessages {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.from_client
    }
}

impl BenchServer {
    /// Like [`BenchServer::start`], for `connections` connections at once (each gets the
    /// whole stream, with contexts of its own: a prebuilt stream starts fresh on each).
    /// [`BenchServer::join`] waits for all of them to end.
    pub fn start_many(stream: Arc<Prebuilt>, connections: usize) -> BenchServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let (tx, from_client) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                let mut served = Vec::new();
                for _ in 0..connections {
                    let Ok((tcp, _)) = listener.accept() else {
                        break;
                    };
                    let (stream, tx) = (stream.clone(), tx.clone());
                    served.push(std::thread::spawn(move || {
                        serve_connection(tcp, stream, Pace::Flood, tx)
                    }));
                }
                for thread in served {
                    let _ = thread.join();
                }
            })
            .expect("spawn server");
        BenchServer {
            port,
            from_client,
            thread: Some(thread),
        }
    }
}

fn serve(
    listener: TcpListener,
    stream: Arc<Prebuilt>,
    pace: Pace,
    tx: mpsc::Sender<(u64, String)>,
) {
    let Ok((tcp, _)) = listener.accept() else {
        return;
    };
    serve_connection(tcp, stream, pace, tx);
}

fn serve_connection(
    tcp: TcpStream,
    stream: Arc<Prebuilt>,
    pace: Pace,
    tx: mpsc::Sender<(u64, String)>,
) {
    let _ = tcp.set_nodelay(true);
    let mut raw = tcp.try_clone().expect("clone socket");
    let Ok(mut ws) = tungstenite::accept(tcp) else {
        return;
    };
    if raw.write_all(stream.span(0, 1)).is_err() {
        return;
    }
    let mut writer = None;
    let mut raw = Some(raw);
    let mut pace = Some(pace);
    loop {
        let text = match ws.read() {
            Ok(tungstenite::Message::Text(text)) => text,
            Ok(tungstenite::Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let at = now_ns();
        let session = text.contains(r#""op":2"#) || text.contains(r#""op":6"#);
        if session && writer.is_none() {
            let (stream, mut raw, pace) =
                (stream.clone(), raw.take().unwrap(), pace.take().unwrap());
            writer = Some(std::thread::spawn(move || {
                write_stream(&stream, &mut raw, pace)
            }));
        }
        // Nobody may listen: keep reading anyway so the client's writes never block.
        let _ = tx.send((at, text.to_string()));
    }
    if let Some(writer) = writer {
        let _ = writer.join();
    }
}

fn write_stream(stream: &Prebuilt, raw: &mut TcpStream, pace: Pace) {
    let n = stream.frames.len();
    if raw.write_all(stream.span(1, 2)).is_err() {
        return;
    }
    match pace {
        Pace::Idle => {}
        Pace::Flood => {
            for chunk in stream.span(FIRST_DISPATCH, n).chunks(256 * 1024) {
                if raw.write_all(chunk).is_err() {
                    return;
                }
            }
        }
        Pace::Rate { rate, sent } => {
            // Sleep precisely: the default 50 µs timer slack would bunch sends at 10k/s.
            unsafe {
                libc::prctl(libc::PR_SET_TIMERSLACK, 1u64, 0u64, 0u64, 0u64);
            }
            let start = now_ns() + 1_000_000;
            let step = 1e9 / rate;
            for i in FIRST_DISPATCH..n {
                let due = start + ((i - FIRST_DISPATCH) as f64 * step) as u64;
                let now = now_ns();
                if due > now {
                    std::thread::sleep(Duration::from_nanos(due - now));
                }
                sent[i - FIRST_DISPATCH].store(now_ns(), Ordering::Release);
                let (from, to, _) = stream.frames[i];
                if raw.write_all(&stream.wire[from..to]).is_err() {
                    return;
                }
            }
        }
    }
}

// ------------------------------------------------------------------ the floor

/// How the floor reads each payload's top level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// `syncord::fuzzing::readers::Envelope::parse`: serde_json, `d` validated as JSON.
    Serde,
    /// `syncord::fuzzing::readers::skim` (falling back to `Envelope::parse`): what the reader does.
    Skim,
}

/// Inflates and envelope-parses one connection's messages in a tight loop on this thread
/// (no sockets, no threads): what no client can beat on one core. Returns the elapsed time
/// of the dispatches and a checksum (so nothing is optimised away).
pub fn floor(stream: &Prebuilt, parse: Parse) -> (Duration, u64) {
    let mut inflate = Inflate::new(stream.mode);
    let mut sum = 0u64;
    let mut started = Instant::now();
    for i in 0..stream.frames.len() {
        if i == FIRST_DISPATCH {
            started = Instant::now();
        }
        let json = inflate.message(stream.payload(i));
        let text = std::str::from_utf8(json).expect("UTF-8");
        let skimmed = match parse {
            Parse::Skim => syncord::fuzzing::readers::skim(text)
                .map(|top| (top.s, top.t.map_or(0, str::len), top.d)),
            Parse::Serde => None,
        };
        let (s, t, d) = match skimmed {
            Some(parts) => parts,
            None => {
                let envelope = syncord::fuzzing::readers::Envelope::parse(text).expect("envelope");
                (
                    envelope.s,
                    envelope.t.as_deref().map_or(0, str::len),
                    envelope.data_json(),
                )
            }
        };
        let d = d.as_bytes();
        sum = sum
            .wrapping_add(s.unwrap_or(0))
            .wrapping_add(t as u64)
            .wrapping_add(u64::from(d[0]) + u64::from(d[d.len() - 1]));
    }
    (started.elapsed(), sum)
}

/// A minimal, reused-buffer transport inflater for the floor.
pub enum Inflate {
    Plain,
    Zlib(Box<flate2::Decompress>, Vec<u8>),
    Zstd(Box<zstd::stream::raw::Decoder<'static>>, Vec<u8>),
}

impl Inflate {
    pub fn new(mode: Mode) -> Inflate {
        let buffer = vec![0u8; 4 << 20];
        match mode {
            Mode::None => Inflate::Plain,
            Mode::Zlib => Inflate::Zlib(Box::new(flate2::Decompress::new(true)), buffer),
            Mode::Zstd => Inflate::Zstd(
                Box::new(zstd::stream::raw::Decoder::new().expect("zstd")),
                buffer,
            ),
        }
    }

    /// One message's JSON (the messages of the tests all fit the 4 MiB buffer).
    pub fn message<'a>(&'a mut self, payload: &'a [u8]) -> &'a [u8] {
        match self {
            Inflate::Plain => payload,
            Inflate::Zlib(decompress, out) => {
                let before = decompress.total_out();
                decompress
                    .decompress(payload, out, flate2::FlushDecompress::Sync)
                    .expect("inflate");
                let n = (decompress.total_out() - before) as usize;
                assert!(n < out.len(), "floor buffer too small");
                &out[..n]
            }
            Inflate::Zstd(decoder, out) => {
                use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
                let mut input = InBuffer::around(payload);
                let mut output = OutBuffer::around(&mut out[..]);
                decoder.run(&mut input, &mut output).expect("zstd");
                let n = output.pos();
                assert!(input.pos() == payload.len() && n < out.len());
                &out[..n]
            }
        }
    }
}

// ------------------------------------------------------------------ statistics

/// Percentile `p` (0–100) of sorted values, nearest rank.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median_f64(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

pub fn micros(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// A `key: value` line of /proc/self/status, in its unit (kB for memory).
pub fn proc_status(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// User and system CPU time of this process so far.
pub fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time of one thread of this process, by its name prefix, summed over matches.
pub fn thread_cpu(prefix: &str) -> Duration {
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if !comm.trim_end().starts_with(prefix) {
                continue;
            }
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // Fields after the ")" that ends the command name: utime is the 12th, stime 13th.
            if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let ut: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0);
                let st: u64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
                total += ut + st;
            }
        }
    }
    Duration::from_nanos(total * 1_000_000_000 / ticks)
}

/// The machine, for the report header.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim())
        })
        .unwrap_or("unknown CPU")
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {model}")
}

/// Prints `name=value`, the machine-readable form of every figure.
pub fn figure(name: &str, value: impl std::fmt::Display) {
    println!("{name}={value}");
}
