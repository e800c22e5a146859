// @discordjs/ws 2.0.4 against syncord's simulator (issue 16's permanent check, the second
// client). The simulator runs in `sim-server` (the fidelity crate's binary), driven over its
// stdin; each scenario starts a fresh simulator and a fresh WebSocketManager whose REST
// client points at the simulator, so discovery (GET /gateway/bot) is the normal one.
//
// Usage: node fidelity.mjs <path to sim-server> [none|zlib|zstd ...] [--only NAME_PART]
// Prints one line per scenario and mode, as the twilight runner does:
//   row <TAB> discord.js <TAB> <mode> <TAB> PASS|FAIL|N/A <TAB> <scenario> <TAB> <text>
// Exits 1 if any scenario failed.
//
// What is asserted is what the client would see against Discord (the repository's PROTOCOL
// reference); where @discordjs/ws's own policy differs from it (it identifies again after a
// server 1000, resumes after 4009), the row passes if the outcome is consistent and says
// what it did.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { REST } from '@discordjs/rest';
import { CompressionMethod, WebSocketManager, WebSocketShardEvents } from '@discordjs/ws';
// The websocket class @discordjs/ws uses on Node: its `close` events show what the client
// saw when a connection ended (1006 when the server shut TCP without answering a close).
import { WebSocket } from 'ws';

const wsCloses = [];
const emit = WebSocket.prototype.emit;
WebSocket.prototype.emit = function recordClose(event, ...rest) {
  if (event === 'close') wsCloses.push({ url: String(this.url), code: rest[0] });
  return emit.call(this, event, ...rest);
};

const STEP = 12_000;
// GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT
const INTENTS = (1 << 0) | (1 << 9) | (1 << 15);

const args = process.argv.slice(2);
const simServer = args.shift();
if (!simServer) {
  console.error('usage: node fidelity.mjs <sim-server> [none|zlib|zstd ...] [--only NAME_PART]');
  process.exit(2);
}
let only = null;
const modes = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--only') only = args[++i];
  else modes.push(args[i]);
}
if (modes.length === 0) modes.push('none', 'zlib', 'zstd');

const MODE_NAME = { none: 'none', zlib: 'zlib-stream', zstd: 'zstd-stream' };

/** The simulator process, one command at a time. */
class Sim {
  constructor(path) {
    this.child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.child.stdout });
    this.waiting = [];
    this.lines.on('line', (line) => {
      const next = this.waiting.shift();
      if (!next) return;
      if (line.startsWith('ok ')) next.resolve(JSON.parse(line.slice(3)));
      else next.reject(new Error(line.replace(/^err /, '')));
    });
    this.chain = Promise.resolve();
  }

  cmd(line) {
    const run = () => new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${line}\n`);
    });
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => {});
    return result;
  }

  wait(filter, ms = STEP) {
    return this.cmd(`wait ${ms} ${JSON.stringify(filter)}`);
  }

  /** Resolves to null if no record matches within `ms` (for asserting that none comes). */
  async none(filter, ms) {
    try {
      return await this.wait(filter, ms);
    } catch {
      return null;
    }
  }

  quit() {
    this.child.stdin.end('quit\n');
  }
}

/** What the manager emitted, with waits on it. */
class Events {
  constructor() {
    this.log = [];
    this.waiters = [];
  }

  push(event) {
    this.log.push(event);
    for (const w of [...this.waiters]) this.check(w);
  }

  check(w) {
    for (let i = w.from; i < this.log.length; i++) {
      if (w.pred(this.log[i], i, this.log)) {
        clearTimeout(w.timer);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(i);
        return;
      }
    }
  }

  /** The index of the first event from `from` on matching `pred`. */
  wait(what, pred, from = 0, ms = STEP) {
    return new Promise((resolve, reject) => {
      const w = { pred, from, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`discord.js never emitted ${what}; it emitted ${this.summary()}`));
      }, ms);
      this.waiters.push(w);
      this.check(w);
    });
  }

  dispatch(t, from = 0) {
    return this.wait(t, (e) => e.kind === 'dispatch' && e.t === t, from);
  }

  seq(s, from = 0) {
    return this.wait(`s=${s}`, (e) => e.kind === 'dispatch' && e.s === s, from);
  }

  summary() {
    return `[${this.log.map((e) => (e.kind === 'dispatch' ? `${e.t}(s=${e.s})` : e.kind + (e.code ? `(${e.code})` : '') + (e.message ? `(${e.message})` : ''))).join(', ')}]`;
  }
}

function ensure(cond, msg) {
  if (!cond) throw new Error(typeof msg === 'function' ? msg() : msg);
}

/**
 * Every dispatch once, in order, per session (READY starts at 1 again). The one exception
 * is the client's own doing: after a Resume whose `seq` was older than what it had already
 * received (`events.resumeSeq`), the server rightly replays from there; that repeat is
 * allowed once and reported (`events.duplicates`).
 */
function noLoss(events) {
  let expected = null;
  for (const e of events.log) {
    if (e.kind !== 'dispatch') continue;
    if (e.t === 'READY') {
      ensure(e.s === 1, `READY with s=${e.s}`);
      expected = 2;
      continue;
    }
    ensure(expected !== null, `${e.t} before READY`);
    if (e.s !== expected && events.resumeSeq !== undefined && e.s === events.resumeSeq + 1 && e.s < expected
      && events.duplicates === undefined) {
      events.duplicates = expected - e.s;
      expected = e.s;
    }
    ensure(e.s === expected, () => `${e.t} with s=${e.s}, expected ${expected}: ${events.summary()}${events.resumeSeq === undefined ? '' : ` (its Resume said seq=${events.resumeSeq})`}`);
    expected = e.s + 1;
  }
}

/** A fresh simulator and manager; runs `body`, then tears both down. */
async function withShard(sim, mode, options, body) {
  const info = await sim.cmd(`start ${JSON.stringify(options.sim ?? {})}`);
  const events = new Events();
  const sessions = new Map();
  const rest = new REST({ api: info.api_base.replace(/\/v10$/, '') }).setToken(info.token);
  const manager = new WebSocketManager({
    token: info.token,
    intents: INTENTS,
    rest,
    shardCount: 1,
    compression: mode === 'zlib' ? CompressionMethod.ZlibNative : null,
    // Its own session store: by default every manager of a process shares one, keyed by
    // shard id, and the scenarios run side by side as if each were its own process.
    retrieveSessionInfo: (shardId) => sessions.get(shardId) ?? null,
    updateSessionInfo: (shardId, info) => (info ? sessions.set(shardId, info) : sessions.delete(shardId)),
  });
  const E = WebSocketShardEvents;
  manager.on(E.Dispatch, (p) => events.push({ kind: 'dispatch', t: p.t, s: p.s }));
  manager.on(E.Closed, (code) => events.push({ kind: 'closed', code }));
  manager.on(E.Error, (e) => events.push({ kind: 'error', message: e.message }));
  manager.on(E.Hello, () => events.push({ kind: 'hello' }));
  manager.on(E.Resumed, () => events.push({ kind: 'resumed' }));
  manager.on(E.HeartbeatComplete, () => events.push({ kind: 'ack' }));
  manager.connect().catch((e) => events.push({ kind: 'connect_error', message: e.message }));
  try {
    if (!options.fatal) {
      await events.dispatch('READY');
    }
    return await body({ sim, events, manager, info });
  } finally {
    await manager.destroy({ code: 1000 }).catch(() => {});
  }
}

async function pushMessages(sim, n) {
  return sim.cmd(`push_messages ${n}`);
}

/** After a disruption of connection `old`: Resume (op 6, same session) then RESUMED. */
async function expectResume(ctx, old, from, { sameSocketOk = false } = {}) {
  const { sim, events } = ctx;
  const filter = sameSocketOk ? { kind: 'Received', op: 6 } : { kind: 'Received', op: 6, after: old };
  const resume = await sim.wait(filter);
  const identified = await sim.none({ kind: 'Received', op: 2, after: old }, 0);
  ensure(identified === null, 'identified instead of resuming');
  await events.wait('RESUMED', (e) => e.kind === 'dispatch' && e.t === 'RESUMED', from);
  return resume;
}

/** A new session: an Identify recorded no earlier than `sinceMs`, then a new READY. */
async function expectNewSession(ctx, sinceMs, from) {
  const { sim, events } = ctx;
  const first = await sim.wait({ kind: 'Received', op: 2, since_ms: sinceMs }).catch(() => null);
  ensure(first !== null, () => `no Identify after ${sinceMs} ms: ${events.summary()}`);
  await events.wait('a new READY', (e) => e.kind === 'dispatch' && e.t === 'READY', from);
  return first;
}

async function connectionOf(sim) {
  return (await sim.wait({ kind: 'Connected' })).connection;
}

const scenarios = [
  ['handshake', async (ctx, mode) => {
    const { sim } = ctx;
    const opened = await sim.wait({ kind: 'Connected' });
    const q = opened.query.split('&');
    ensure(q.includes('v=10') && q.includes('encoding=json'), `query ${opened.query}`);
    ensure(mode === 'none' ? !opened.query.includes('compress') : q.includes(`compress=${MODE_NAME[mode]}`),
      `query ${opened.query} for ${mode}`);
    const identify = (await sim.wait({ kind: 'Received', op: 2 })).d;
    ensure(['os', 'browser', 'device'].every((k) => typeof identify.properties?.[k] === 'string'),
      `properties ${JSON.stringify(identify.properties)}`);
    ensure(identify.intents === INTENTS, `intents ${identify.intents}`);
    ensure(JSON.stringify(identify.shard) === '[0,1]', `shard ${JSON.stringify(identify.shard)}`);
    noLoss(ctx.events);
    return `op 2 with properties, intents, shard [0,1], large_threshold=${identify.large_threshold}, compress=${identify.compress}`;
  }],
  ['heartbeats on schedule', async (ctx) => {
    const { sim, events } = ctx;
    const conn = await connectionOf(sim);
    await pushMessages(sim, 1);
    await events.wait('6 ACKs', (e, i, log) => e.kind === 'ack' && log.slice(0, i + 1).filter((x) => x.kind === 'ack').length >= 6);
    const records = await sim.cmd('records');
    const opened = records.find((r) => r.kind === 'Connected').ms;
    const beats = records.filter((r) => r.connection === conn && r.kind === 'Received' && r.op === 1);
    ensure(beats.length >= 6, () => `${beats.length} heartbeats: ${JSON.stringify(records.filter((r) => r.kind !== 'Http'))}`);
    const iv = 300;
    ensure(beats[0].ms - opened <= iv * 1.5, `first beat ${beats[0].ms - opened} ms after Hello`);
    const gaps = beats.slice(1).map((b, i) => b.ms - beats[i].ms);
    ensure(gaps.every((g) => g >= iv * 0.5 && g <= iv * 1.8), `gaps ${gaps} for ${iv} ms`);
    ensure(beats.at(-1).d === 2, `last heartbeat d=${beats.at(-1).d}, last s=2`);
    ensure(!records.some((r) => r.kind === 'ClosedByServer'), 'closed by the simulator');
    noLoss(events);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    return `first after ${Math.round(((beats[0].ms - opened) / iv) * 100)}% of the interval, then every ${(mean / iv).toFixed(2)}×interval, d = last s`;
  }, { sim: { heartbeat_ms: 300 } }],
  ['op 1 answered at once', async (ctx) => {
    const { sim } = ctx;
    const asked = await sim.cmd('request_heartbeat');
    ensure(asked.applied, 'no connection to ask');
    const answer = await sim.wait({ kind: 'Received', op: 1, since_ms: asked.ms });
    ensure(answer.ms - asked.ms < 1000, `answered after ${answer.ms - asked.ms} ms`);
    ensure(answer.d === 1, `d=${answer.d}, last s=1`);
    return `heartbeat after ${answer.ms - asked.ms} ms`;
  }, { sim: { heartbeat_ms: 40000 } }],
  ['op 7 reconnect', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await pushMessages(sim, 3);
    const from = events.log.length;
    await sim.cmd('reconnect');
    await pushMessages(sim, 3);
    const closed = await sim.wait({ kinds: ['ClosedByClient', 'Disconnected'], connection: old });
    ensure(!(closed.kind === 'ClosedByClient' && [1000, 1001].includes(closed.code)), `closed with ${closed.code}`);
    const resume = await expectResume(ctx, old, from);
    const opened = (await sim.wait({ kind: 'Connected', connection: resume.connection }));
    ensure(opened.path.replace(/\/$/, '') === '/resume', `resumed on ${opened.path}`);
    const last = (await pushMessages(sim, 3)).at(-1);
    await events.seq(last, from);
    noLoss(events);
    return `closes ${closed.code ?? 'TCP'}, resumes on resume_gateway_url`;
  }],
  ['op 9 true', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await pushMessages(sim, 2);
    const from = events.log.length;
    await sim.cmd('invalidate true');
    const held = await pushMessages(sim, 3);
    ensure(held.length === 3, 'the session did not survive op 9 true');
    const resume = await expectResume(ctx, old, from, { sameSocketOk: true });
    events.resumeSeq = resume.d.seq;
    await events.seq(held.at(-1), from);
    ensure(await sim.none({ kind: 'ClosedByServer', code: 4005 }, 0) === null, 'closed with 4005');
    noLoss(events);
    const stale = events.duplicates ? `; Resume seq was stale, ${events.duplicates} events replayed twice` : '';
    return (resume.connection === old ? 'resumes on the same socket at once (Discord: wait 1–5 s)' : 'resumes on a new socket') + stale;
  }],
  ['op 9 false', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    const from = events.log.length;
    const sent = await sim.cmd('invalidate false');
    const identify = await expectNewSession(ctx, sent.ms, from);
    const last = (await pushMessages(sim, 2)).at(-1);
    await events.seq(last, from);
    noLoss(events);
    const where = identify.connection === old ? 'on the same socket' : 'on a new socket';
    return `identifies ${where} ${((identify.ms - sent.ms) / 1000).toFixed(1)}s later`;
  }],
  ['TCP drop', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await pushMessages(sim, 3);
    const from = events.log.length;
    await sim.cmd('drop');
    await pushMessages(sim, 3);
    await expectResume(ctx, old, from);
    const last = (await pushMessages(sim, 3)).at(-1);
    await events.seq(last, from);
    noLoss(events);
    const closed = events.log.slice(from).find((e) => e.kind === 'closed');
    return `emits closed(${closed?.code ?? '-'}), resumes`;
  }],
  ['zombie (no ACKs)', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await events.wait('an ACK', (e) => e.kind === 'ack');
    const from = events.log.length;
    const stopped = await sim.cmd('acks off');
    const gone = await sim.wait({ kinds: ['ClosedByClient', 'Disconnected'], connection: old });
    await sim.cmd('acks on');
    ensure(!(gone.kind === 'ClosedByClient' && [1000, 1001].includes(gone.code)), `closed with ${gone.code}`);
    const after = gone.ms - stopped.ms;
    ensure(after <= 400 * 3, `noticed ${after} ms after ACKs stopped`);
    await expectResume(ctx, old, from);
    noLoss(events);
    return `${gone.kind === 'ClosedByClient' ? `closes ${gone.code}` : 'drops TCP'} after ${(after / 400).toFixed(1)} intervals without ACK, resumes`;
  }, { sim: { heartbeat_ms: 400 } }],
  ...[4000, 4001, 4002, 4003, 4005, 4007, 4008, 4009, 1000, 1001].map((code) => [`server close ${code}`, async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await pushMessages(sim, 2);
    const from = events.log.length;
    await sim.cmd(`close ${code}`);
    await events.wait(`closed(${code})`, (e) => e.kind === 'closed' && e.code === code, from);
    const first = await sim.wait({ kind: 'Received', after: old, ops: [2, 6] });
    let how;
    if (first.op === 6) {
      await events.wait('RESUMED or a new READY', (e) => e.kind === 'dispatch' && ['RESUMED', 'READY'].includes(e.t), from);
      const resumed = events.log.slice(from).some((e) => e.t === 'RESUMED');
      how = resumed ? 'resume' : 'resume, op 9 false, then identify';
      if (!resumed) await events.dispatch('READY', from);
    } else {
      await events.dispatch('READY', from);
      how = 'identify (new session)';
    }
    const last = (await pushMessages(sim, 2)).at(-1);
    await events.seq(last, from);
    noLoss(events);
    return how;
  }, { sim: { end_session_on_close: true } }]),
  ['mid-frame drop', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await pushMessages(sim, 3);
    const from = events.log.length;
    await sim.cmd('drop_mid_frame');
    await pushMessages(sim, 3);
    await expectResume(ctx, old, from);
    const last = (await pushMessages(sim, 3)).at(-1);
    await events.seq(last, from);
    noLoss(events);
    const closed = events.log.slice(from).find((e) => e.kind === 'closed');
    return `emits closed(${closed?.code ?? '-'}), resumes`;
  }],
  ['events in order across resume', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await pushMessages(sim, 40);
    const from = events.log.length;
    await sim.cmd('drop');
    await pushMessages(sim, 40);
    await expectResume(ctx, old, from);
    const last = (await pushMessages(sim, 40)).at(-1);
    await events.seq(last, from);
    noLoss(events);
    const n = events.log.filter((e) => e.t === 'MESSAGE_CREATE').length;
    ensure(n === 120, `${n} of 120 messages`);
    return '120 of 120, in order, once each';
  }],
  ...[4010, 4011, 4012, 4013, 4014].map((code) => [`server close ${code}`, async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await sim.cmd(`close ${code}`);
    await events.wait('an error', (e) => e.kind === 'error');
    const again = await sim.none({ kind: 'Connected', after: old }, 2000);
    ensure(again === null, `reconnected after ${code}`);
    const error = events.log.find((e) => e.kind === 'error');
    return `error "${error.message}", no reconnect (2 s)`;
  }]),
  ['bug 3: client close 1000 gets the handshake', async (ctx) => {
    const { sim, manager, info } = ctx;
    const old = await connectionOf(sim);
    const before = wsCloses.length;
    await manager.destroy({ code: 1000 });
    // Only this simulator's sockets (other scenarios run at the same time).
    const mine = (c) => c.url.startsWith(`${info.gateway_url}/`) || c.url.startsWith(`${info.gateway_url}?`);
    const closed = await sim.wait({ kind: 'ClosedByClient', connection: old });
    ensure(closed.code === 1000, `closed with ${closed.code}`);
    const seen = wsCloses.slice(before).filter(mine).map((c) => c.code);
    ensure(seen.length === 1 && seen[0] === 1000, `the client's socket closed with ${seen}: no closing handshake`);
    const pushed = await pushMessages(sim, 1);
    ensure(pushed.length === 0, 'the session outlived a client close with 1000');
    return 'its socket closes with the server\'s 1000 (handshake done); session ended';
  }],
  ['bug 4: RefuseResume on /resume/?v=10', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await sim.cmd('fault refuse_resume 1');
    const from = events.log.length;
    await sim.cmd('reconnect');
    await events.wait('RESUMED or READY', (e) => e.kind === 'dispatch' && ['RESUMED', 'READY'].includes(e.t), from);
    const records = await sim.cmd('records');
    const refused = records.filter((r) => r.connection > old && r.kind === 'Disconnected'
      && !records.some((c) => c.connection === r.connection && c.kind === 'Connected'));
    ensure(refused.length === 1, `${refused.length} refused connections: the fault did not fire on the resume URL`);
    const resumed = events.log.slice(from).some((e) => e.t === 'RESUMED');
    noLoss(events);
    return resumed ? 'resume URL refused, then resumes' : 'resume URL refused, then identifies (new session)';
  }],
  ['server close 4004', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    await sim.cmd('close 4004');
    await events.wait('an error', (e) => e.kind === 'error');
    const again = await sim.none({ kind: 'Connected', after: old }, 2000);
    ensure(again === null, 'reconnected after 4004');
    const error = events.log.find((e) => e.kind === 'error');
    return `error "${error.message}", no reconnect (2 s)`;
  }],
  ['4014 from disallowed intents', async (ctx) => {
    const { sim, events } = ctx;
    const closed = await sim.wait({ kind: 'ClosedByServer' });
    ensure(closed.code === 4014, `closed with ${closed.code}`);
    await events.wait('an error', (e) => e.kind === 'error' || e.kind === 'connect_error');
    const again = await sim.none({ kind: 'Connected', after: closed.connection }, 2000);
    ensure(again === null, 'reconnected after 4014');
    const error = events.log.find((e) => e.kind === 'error' || e.kind === 'connect_error');
    return `error "${error.message}", no reconnect (2 s)`;
  }, { sim: { no_privileged: true }, fatal: true }],
  ['bug 1: op 9 then Identify/Resume on the same socket', async (ctx) => {
    const { sim, events } = ctx;
    const old = await connectionOf(sim);
    const from = events.log.length;
    await sim.cmd('invalidate true');
    const resume = await sim.wait({ kind: 'Received', op: 6 });
    await events.dispatch('RESUMED', from);
    ensure(await sim.none({ kind: 'ClosedByServer' }, 0) === null, 'the simulator closed the socket');
    noLoss(events);
    return resume.connection === old ? 'Resume on the same socket accepted' : 'resumes on a new socket';
  }],
];

// Scenarios run a few at a time, each worker with its own sim-server process; the rows are
// printed in table order at the end.
const jobs = [];
for (const mode of modes) {
  for (const [name, run, options = {}] of scenarios) {
    if (!only || name.includes(only)) jobs.push({ mode, name, run, options });
  }
}
const results = new Array(jobs.length);
let next = 0;
async function worker() {
  const sim = new Sim(simServer);
  try {
    while (next < jobs.length) {
      const i = next++;
      const { mode, name, run, options } = jobs[i];
      if (mode === 'zstd' && CompressionMethod.ZstdNative === undefined) {
        results[i] = ['N/A', 'no zstd-stream in @discordjs/ws 2.0.4'];
        continue;
      }
      try {
        results[i] = ['PASS', await withShard(sim, mode, options, (ctx) => run(ctx, mode))];
      } catch (e) {
        results[i] = ['FAIL', e.message];
      }
    }
  } finally {
    sim.quit();
  }
}
const width = Math.max(1, Number(process.env.FIDELITY_JOBS ?? 6));
await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
let failed = 0;
jobs.forEach(({ mode, name }, i) => {
  const [verdict, text] = results[i];
  if (verdict === 'FAIL') failed++;
  console.log(['row', 'discord.js', MODE_NAME[mode], verdict, name, String(text).replace(/[\t\n]/g, ' ')].join('\t'));
});
process.exit(failed > 0 ? 1 : 0);
