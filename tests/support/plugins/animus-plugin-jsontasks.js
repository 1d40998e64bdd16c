#!/usr/bin/env node
// A subject backend over a JSON file (Node.js, no dependencies): animus's reference for the kind.
//
// The file (settings.file, relative to the project root; default tasks.json) holds
//   {"items": [{"id": "1", "title": "…", "description": "…", "labels": [], "priority": "high",
//               "state": "open" | "closed", "updated_at": "…"}]}
// task/list answers every item (a complete listing); task/status writes the run's status into the
// item ("animus": {run_id, status, summary}) and appends "<run>:<status>" to its "history" only when the
// status changed, so a status delivered twice is recorded once. Writes are atomic (temp file + rename).
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const NAME = 'jsontasks';
const VERSION = '0.1.0';
const METHODS = ['task/list', 'task/get', 'task/create', 'task/update', 'task/status'];
const started = Date.now();

if (process.argv.includes('--manifest')) {
  process.stdout.write(JSON.stringify({name: NAME, version: VERSION, plugin_kind: 'subject_backend',
    description: 'tasks from a JSON file (animus test plugin)', protocol_version: '1.0.0', capabilities: METHODS}) + '\n');
  process.exit(0);
}

const send = (m) => process.stdout.write(JSON.stringify({jsonrpc: '2.0', ...m}) + '\n');
const fileOf = (params) => path.resolve(process.cwd(), (params.settings && params.settings.file) || 'tasks.json');

function load(file) {
  if (!fs.existsSync(file)) return {items: []};
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  doc.items = doc.items || [];
  return doc;
}

function save(file, doc) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

function view(item) {
  return {id: String(item.id), title: item.title, description: item.description || '', labels: item.labels || [],
    priority: item.priority || null, type: item.type || null, depends_on: item.depends_on || [],
    open: (item.state || 'open') === 'open', updated_at: item.updated_at || '', key: `json:${item.id}`,
    url: item.url || ''};
}

function find(doc, id) {
  return doc.items.find((it) => String(it.id) === String(id));
}

const handlers = {
  'task/list': (p) => {
    const doc = load(fileOf(p));
    return {items: doc.items.map(view), cursor: null, complete: true};
  },
  'task/get': (p) => {
    const item = find(load(fileOf(p)), p.id);
    return {item: item ? view(item) : null};
  },
  'task/create': (p) => {
    const file = fileOf(p);
    const doc = load(file);
    const id = String(doc.items.reduce((n, it) => Math.max(n, Number(it.id) || 0), 0) + 1);
    const item = {id, title: p.title, description: p.description || '', labels: p.labels || [],
      priority: p.priority || null, type: p.type || null, state: 'open', updated_at: new Date().toISOString()};
    doc.items.push(item);
    save(file, doc);
    return {item: view(item)};
  },
  'task/update': (p) => {
    const file = fileOf(p);
    const doc = load(file);
    const item = find(doc, p.id);
    if (!item) throw {code: -32602, message: `no item ${p.id}`};
    for (const key of ['title', 'description', 'labels', 'priority', 'type', 'state']) {
      if (p[key] !== undefined) item[key] = p[key];
    }
    item.updated_at = new Date().toISOString();
    save(file, doc);
    return {item: view(item)};
  },
  'task/status': (p) => {
    const file = fileOf(p);
    const doc = load(file);
    const item = find(doc, p.id);
    if (!item) throw {code: -32602, message: `no item ${p.id}`};
    const now = item.animus || {};
    // look before writing: the same status of the same run again changes nothing (a new summary is written in place)
    const same = now.run_id === p.run_id && now.status === p.status;
    if (same && now.summary === p.summary) return {changed: false};
    item.animus = {run_id: p.run_id, task_id: p.task_id, status: p.status, summary: p.summary};
    if (!same) item.history = [...(item.history || []), `${p.run_id}:${p.status}`];
    if (p.status === 'landed') item.state = 'closed';
    save(file, doc);
    return {changed: true};
  },
};

let ready = false;
readline.createInterface({input: process.stdin}).on('line', (line) => {
  if (!line.trim()) return;
  const {id, method, params = {}} = JSON.parse(line);
  if (id === undefined) {
    if (method === 'initialized') ready = true;
    if (method === 'exit') process.exit(0);
    return;
  }
  if (method === 'initialize') {
    return send({id, result: {protocol_version: '1.0.0', plugin_info: {name: NAME, version: VERSION, plugin_kind: 'subject_backend'},
      capabilities: {methods: METHODS, subject_kinds: ['task']}}});
  }
  if (method === '$/ping') return send({id, result: {}});
  if (method === 'shutdown') return send({id, result: null});
  if (method === 'health/check') return send({id, result: {status: 'healthy', uptime_ms: Date.now() - started, last_error: null}});
  if (!ready) return send({id, error: {code: -1000, message: 'not ready'}});
  const handler = handlers[method];
  if (!handler) return send({id, error: {code: -32601, message: `method not found: ${method}`}});
  try {
    send({id, result: handler(params)});
  } catch (err) {
    send({id, error: {code: err.code || -32603, message: err.message || String(err)}});
  }
});
