#!/usr/bin/env node
// A runner in another language getting exactly-once steps from `animus step-store serve`.
//
// It replays the design sketch's executePhase: build dispatch -> spawn -> wait -> evaluate -> git ops,
// each as one step. Every step's side effect is a line appended to the ledger file. A step begun
// and already committed is skipped and its recorded output reused, so a runner killed and started
// again does every side effect once. No dependencies: node's net module and newline-delimited
// JSON-RPC 2.0 over the server's Unix socket.
//
//   node execute_phase.js SOCKET RUN_ID LEDGER [KILL_AFTER_STEP]
//
// KILL_AFTER_STEP: SIGKILL this process right after that step's commit was acknowledged (a crash
// between two steps), so a second invocation must pick the run up where it stopped.
'use strict';
const net = require('net');
const fs = require('fs');

const [socketPath, runId, ledger, killAfter] = process.argv.slice(2);
const STEPS = ['build_dispatch', 'spawn', 'wait', 'evaluate', 'git_ops'];

const sock = net.createConnection(socketPath);
let buffer = '';
let nextId = 1;
const pending = new Map();
sock.on('data', (chunk) => {
  buffer += chunk.toString('utf8');
  let nl;
  while ((nl = buffer.indexOf('\n')) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    if (!line.trim()) continue;
    const msg = JSON.parse(line);
    const waiter = pending.get(msg.id);
    if (!waiter) continue;
    pending.delete(msg.id);
    if (msg.error) waiter.reject(new Error(`${msg.error.code}: ${msg.error.message}`));
    else waiter.resolve(msg.result);
  }
});
sock.on('error', (err) => { console.error(`execute_phase: ${err.message}`); process.exit(2); });

function call(method, params) {
  const id = nextId++;
  sock.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

// The side effect of each step: what a real runner would do (spawn an agent, push a branch...),
// recorded so the test can count it. Its output feeds the next step, as in the sketch.
function act(step, previous) {
  fs.appendFileSync(ledger, `${runId} ${step}\n`);
  return { step, after: previous ? previous.step : null, n: STEPS.indexOf(step) };
}

async function main() {
  const { epoch } = await call('begin_workflow_run', { run_id: runId, phase_id: 'implementation', inputs: { task: 'TASK-1' } });
  let previous = null;
  for (const step of STEPS) {
    const begun = await call('begin_step', {
      run_id: runId, phase_id: 'implementation', step_name: step, idempotency_key: `${runId}:${step}`,
      payload: { previous }, epoch,
    });
    if (begun.status === 'already_committed') {
      previous = begun.prior_output;
      console.log(`${step}: already committed, skipped`);
      continue;
    }
    const output = act(step, previous);
    await call('commit_step', { step_id: begun.step_id, output, epoch });
    console.log(`${step}: done`);
    previous = output;
    if (step === killAfter) process.kill(process.pid, 'SIGKILL');
  }
  await call('complete_workflow_run', { run_id: runId, output: { landed: true, last: previous.step } });
  console.log('completed');
  sock.end();
}

main().catch((err) => { console.error(`execute_phase: ${err.message}`); process.exit(1); });
