#!/usr/bin/env node
// A reference provider plugin in Node.js, without dependencies: the Animus plugin protocol over stdio.
//
// agent/run {run_id, prompt, cwd, session_id} writes PLUGIN_EDIT.md in cwd, streams normalized
// events as agent/event notifications and answers with a phase decision. It is idempotent on
// run_id: the state of each run is kept in <state dir>/<run_id>.json (state dir: $NODEEDIT_STATE_DIR,
// else .animus/nodeedit-state under the plugin's cwd, which the host pins to the project root), so
// agent/status answers for runs of earlier processes and a finished run is never done again.
// Knobs (the agent's `env:` reaches the plugin): NODEEDIT_DELAY_MS (pause before the edit),
// NODEEDIT_LEDGER (a file that gets a line per agent/* call and per run actually started), NODEEDIT_VERDICT,
// NODEEDIT_CRASH (exit with that code in the middle of agent/run).
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const MANIFEST = {
  name: 'nodeedit',
  version: '0.3.0',
  plugin_kind: 'provider',
  description: 'edits PLUGIN_EDIT.md in the worktree and returns a decision (animus reference provider)',
  protocol_version: '1.0.0',
  capabilities: ['agent/run', 'agent/resume', 'agent/cancel', 'agent/status'],
};
if (process.argv.includes('--manifest')) {
  process.stdout.write(JSON.stringify(MANIFEST) + '\n');
  process.exit(0);
}

const started = Date.now();
const stateDir = process.env.NODEEDIT_STATE_DIR || path.join(process.cwd(), '.animus', 'nodeedit-state');
const live = new Map(); // run_id -> {cancelled, waiters: [resolve]}
let ready = false;

const send = (msg) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...msg }) + '\n');
const event = (runId, ev) => send({ method: 'agent/event', params: { run_id: runId, event: ev } });
const ledger = (entry) => process.env.NODEEDIT_LEDGER && fs.appendFileSync(process.env.NODEEDIT_LEDGER, JSON.stringify(entry) + '\n');
const stateFile = (runId) => path.join(stateDir, runId.replace(/[^A-Za-z0-9._-]/g, '_') + '.json');

function readState(runId) {
  try { return JSON.parse(fs.readFileSync(stateFile(runId), 'utf8')); } catch { return null; }
}
function writeState(runId, state) {
  fs.mkdirSync(stateDir, { recursive: true });
  const tmp = stateFile(runId) + '.tmp';
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, stateFile(runId));
}

async function work(p, resumed) {
  const runId = p.run_id;
  const done = readState(runId);
  if (done && done.status !== 'running') return done.result; // idempotent: never twice
  if (live.has(runId)) return new Promise((resolve) => live.get(runId).waiters.push(resolve)); // re-attach
  const me = { cancelled: false, waiters: [] };
  live.set(runId, me);
  writeState(runId, { status: 'running' });
  ledger({ run_id: runId, pid: process.pid, resumed });
  const session = p.session_id || `nodeedit-${runId}`;
  event(runId, { kind: 'session', id: session, model: p.model || 'nodeedit-1' });
  event(runId, { kind: 'text', text: resumed ? `Resuming session ${session}.` : 'Editing PLUGIN_EDIT.md.' });
  await new Promise((resolve) => { me.wake = resolve; setTimeout(resolve, Number(process.env.NODEEDIT_DELAY_MS || 0)); });
  if (process.env.NODEEDIT_CRASH) process.exit(Number(process.env.NODEEDIT_CRASH)); // a provider that dies mid-run
  let result;
  if (me.cancelled) {
    result = { run_id: runId, status: 'cancelled', reason: 'cancelled on request', session_id: session };
  } else if (p.read_only) {
    result = { run_id: runId, status: 'failed', reason: 'this provider only edits', session_id: session };
  } else {
    const target = path.join(p.cwd, 'PLUGIN_EDIT.md');
    event(runId, { kind: 'tool_call', id: 'w1', name: 'write_file', input: { path: 'PLUGIN_EDIT.md' } });
    fs.writeFileSync(target, `edited by nodeedit for ${runId}\n\n${(p.prompt || '').split('\n')[0]}\n`);
    event(runId, { kind: 'tool_result', id: 'w1', ok: true, output: 'wrote PLUGIN_EDIT.md' });
    result = {
      run_id: runId,
      status: 'completed',
      session_id: session,
      text: 'Wrote PLUGIN_EDIT.md.',
      usage: { input_tokens: 120, output_tokens: 30, cost_usd: 0.002 },
      decision: {
        verdict: process.env.NODEEDIT_VERDICT || 'advance',
        confidence: 0.9,
        risk: 'low',
        reason: 'wrote PLUGIN_EDIT.md',
        evidence: [{ kind: 'file', description: 'PLUGIN_EDIT.md written' }],
      },
    };
  }
  writeState(runId, { status: result.status, result });
  live.delete(runId);
  me.waiters.forEach((w) => w(result));
  return result;
}

async function handle(msg) {
  const { id, method } = msg;
  const params = msg.params || {};
  if (id === undefined) {
    if (method === 'initialized') ready = true;
    if (method === 'exit') process.exit(0);
    return;
  }
  const ok = (result) => send({ id, result });
  const fail = (code, message) => send({ id, error: { code, message } });
  switch (method) {
    case 'initialize':
      return ok({
        protocol_version: '1.0.0',
        plugin_info: { name: MANIFEST.name, version: MANIFEST.version, plugin_kind: 'provider' },
        capabilities: { methods: MANIFEST.capabilities, streaming: true },
      });
    case '$/ping': return ok({});
    case 'health/check': return ok({ status: 'healthy', uptime_ms: Date.now() - started, memory_usage_bytes: process.memoryUsage().rss, last_error: null });
    case 'shutdown': return ok(null);
  }
  if (!ready) return fail(-1000, 'not ready: `initialized` not received');
  if (method.startsWith('agent/')) ledger({ call: method, of: params.run_id });
  switch (method) {
    case 'agent/run': return ok(await work(params, false));
    case 'agent/resume': return ok(await work(params, true));
    case 'agent/status': {
      const state = readState(params.run_id);
      if (live.has(params.run_id)) return ok({ run_id: params.run_id, status: 'running' });
      if (!state) return ok({ run_id: params.run_id, status: 'unknown' });
      // "running" in the file but not here: its process died mid-run; agent/run starts it over
      if (state.status === 'running') return ok({ run_id: params.run_id, status: 'unknown' });
      return ok({ run_id: params.run_id, status: state.status, result: state.result });
    }
    case 'agent/cancel': {
      const run = live.get(params.run_id);
      ledger({ cancelled: params.run_id });
      if (run) { run.cancelled = true; run.wake(); }
      return ok({ run_id: params.run_id, cancelled: Boolean(run) });
    }
    default: return fail(-32601, `method not found: ${method}`);
  }
}

process.stderr.write(`nodeedit started pid=${process.pid}\n`);
// A stop signals the whole run; wait a moment for the host's agent/cancel (a remote run would be cancelled there).
process.on('SIGTERM', () => setTimeout(() => process.exit(143), 3000).unref());
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  let msg;
  try { msg = JSON.parse(line); } catch { return send({ id: null, error: { code: -32700, message: 'parse error' } }); }
  handle(msg).catch((err) => msg.id !== undefined && send({ id: msg.id, error: { code: -32603, message: String(err && err.message || err) } }));
});
