// animus dashboard: plain DOM built with createElement and textContent (no HTML strings), no build step.
"use strict";

const COLUMNS = ["backlog", "ready", "in_progress", "blocked", "done", "cancelled"];
const state = { token: null, overview: null, runId: null, liveRun: null, liveAbort: null, refreshTimer: null };

// -- token ------------------------------------------------------------------------------------------
function loadToken() {
  const match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (match) {
    localStorage.setItem("animus.token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.token = localStorage.getItem("animus.token");
  document.getElementById("token-form").hidden = Boolean(state.token);
}

function headers(extra) {
  const h = Object.assign({ "Accept": "application/json" }, extra || {});
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

// -- HTTP -------------------------------------------------------------------------------------------
async function api(method, path, body) {
  const init = { method, headers: headers(body !== undefined ? { "Content-Type": "application/json" } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) document.getElementById("token-form").hidden = false;
    const err = (data && data.error) || { code: "http_" + response.status, message: response.statusText };
    throw new Error(err.code + ": " + err.message);
  }
  return data;
}

function showError(err) {
  const box = document.getElementById("error");
  box.textContent = err ? String(err.message || err) : "";
  box.hidden = !err;
}

async function act(method, path, body) {
  try {
    showError(null);
    const result = await api(method, path, body);
    scheduleRefresh(0);
    return result;
  } catch (err) {
    showError(err);
    return null;
  }
}

// -- DOM helpers ------------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function button(label, onclick, cls) {
  return el("button", { type: "button", class: cls || "", onclick: (ev) => { ev.stopPropagation(); onclick(); } }, label);
}

function replace(id, nodes, empty) {
  const target = document.getElementById(id);
  target.replaceChildren(...(nodes.length ? nodes : [el("p", { class: "dim" }, empty || "")]));
}

function money(value) { return "$" + Number(value || 0).toFixed(4); }

// -- rendering --------------------------------------------------------------------------------------
function renderBoard(board) {
  const columns = COLUMNS.map((status) => {
    const cards = (board[status] || []).map((task) => {
      const actions = [];
      if (status === "ready" || status === "backlog" || status === "blocked") {
        actions.push(button("queue", () => act("POST", "/api/v1/queue", { task_id: task.id })));
      }
      return el("div", { class: "task-card", dataset: { id: task.id, status }, onclick: () => showTaskRuns(task.id) },
        el("div", { class: "id" }, task.id, " · ", task.priority),
        el("div", { class: "title" }, task.title),
        task.labels.length ? el("div", { class: "meta" }, task.labels.join(", ")) : null,
        task.blocked_reason ? el("div", { class: "meta status-blocked" }, task.blocked_reason) : null,
        ...actions);
    });
    return el("div", { class: "column", id: "col-" + status },
      el("h3", {}, status.replace("_", " "), " (", cards.length, ")"), ...cards);
  });
  document.getElementById("board").replaceChildren(...columns);
}

function renderQueue(entries) {
  replace("queue", entries.map((entry) => el("div", { class: "row", dataset: { task: entry.task_id } },
    el("strong", {}, entry.task_id), el("span", { class: "pill status-" + entry.status }, entry.status),
    el("span", { class: "dim" }, entry.workflow || "default", " · ", entry.source),
    entry.status === "held" ? button("release", () => act("POST", `/api/v1/queue/${entry.task_id}/release`))
      : entry.status === "queued" ? button("hold", () => act("POST", `/api/v1/queue/${entry.task_id}/hold`)) : null,
    button("drop", () => act("DELETE", `/api/v1/queue/${entry.task_id}`), "bad"))), "empty");
}

function renderGates(gates) {
  // re-render only when the set of open gates changes, so a note being typed survives refreshes
  const key = gates.map((g) => `${g.run_id}/${g.phase}/${g.attempt}`).join(" ");
  if (key === state.gatesKey) return;
  state.gatesKey = key;
  replace("gates", gates.map((gate) => {
    const note = el("input", { placeholder: "note", class: "gate-note" });
    return el("div", { class: "row gate", dataset: { run: gate.run_id, phase: gate.phase } },
      el("strong", {}, gate.task_id), el("span", {}, gate.phase, " #", gate.attempt), note,
      button("approve", () => act("POST", `/api/v1/workflow-runs/${gate.run_id}/approve`, { phase: gate.phase, note: note.value }), "gate-approve"),
      button("reject", () => act("POST", `/api/v1/workflow-runs/${gate.run_id}/reject`, { phase: gate.phase, note: note.value }), "bad gate-reject"));
  }), "none waiting");
}

const ACTIVE = ["pending", "running", "waiting_manual", "waiting_pr"];

function renderActive(runs) {
  replace("active", runs.map((run) => el("div", { class: "row", dataset: { run: run.id } },
    el("a", { onclick: () => showRun(run.id) }, run.id),
    el("span", { class: "pill status-" + run.status }, run.status),
    el("span", { class: "dim" }, run.status === "waiting_pr" && run.pr_url ? "PR " + run.pr_url.split("/").pop() : (run.current_phase || "-")),
    el("span", { class: "dim" }, (run.input_tokens + run.output_tokens), " tok ", money(run.cost_usd)),
    run.agent_run_id ? button("watch", () => follow(run.agent_run_id)) : null,
    button("cancel", () => act("POST", `/api/v1/workflow-runs/${run.id}/cancel`), "bad"))), "nothing running");
  const live = runs.find((run) => run.agent_run_id);
  if (live && state.liveRun !== live.agent_run_id && !(state.liveAbort && state.liveFollowing)) follow(live.agent_run_id);
}

function renderRecent(runs) {
  replace("recent", runs.map((run) => el("div", { class: "row" },
    el("a", { onclick: () => showRun(run.id) }, run.id),
    el("span", { class: "pill status-" + run.status }, run.status),
    el("span", { class: "dim" }, money(run.cost_usd)))), "none yet");
}

function renderHealth(overview) {
  const daemon = overview.daemon || {};
  const health = document.getElementById("health");
  const paused = daemon.running && daemon.config_error;
  health.textContent = !daemon.running ? "daemon not running"
    : paused ? `dispatch paused: configuration invalid: ${daemon.config_error}`
    : `daemon up · pid ${daemon.pid} · pool ${daemon.pool_size ?? "?"}`;
  health.className = "pill " + (daemon.running && !paused ? "ok" : "bad");
  const outbox = overview.outbox || {};
  const pauses = (overview.paused_providers || []).map((p) => `${p.provider} paused ${Math.max(0, Math.round(p.resets_in_secs))}s`);
  const parked = (overview.parked_runs || []).map((r) => `${r.run_id} parked at its budget (${money(r.cost_usd)})`);
  document.getElementById("outbox").textContent =
    [`notifications: ${outbox.pending || 0} pending, ${outbox.delivered || 0} sent, ${outbox.dead || 0} dead`,
     ...pauses, ...parked].join(" · ");
}

async function refresh() {
  try {
    const overview = await api("GET", "/api/v1/overview");
    state.overview = overview;
    renderBoard(overview.board);
    renderQueue(overview.queue);
    renderGates(overview.gates);
    renderActive(overview.active_runs);
    renderRecent(overview.recent_runs);
    renderHealth(overview);
    if (state.runId) await showRun(state.runId, true);
  } catch (err) {
    showError(err);
  }
}

function scheduleRefresh(delay) {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refresh, delay);
}

// -- run timeline -----------------------------------------------------------------------------------
async function showTaskRuns(taskId) {
  const runs = await api("GET", `/api/v1/workflow-runs?task=${encodeURIComponent(taskId)}&limit=1`).catch(showError);
  if (runs && runs.length) showRun(runs[0].id);
}

async function showRun(runId, quiet) {
  state.runId = runId;
  let run;
  try {
    run = await api("GET", `/api/v1/workflow-runs/${encodeURIComponent(runId)}`);
  } catch (err) {
    if (!quiet) showError(err);
    return;
  }
  document.getElementById("run-section").hidden = false;
  document.getElementById("run-title").textContent = `${run.id} (${run.task_id}, ${run.workflow})`;
  const status = document.getElementById("run-status");
  status.textContent = run.status;
  status.className = "pill status-" + run.status;
  const actions = [];
  if (ACTIVE.includes(run.status)) {
    actions.push(button("cancel", () => act("POST", `/api/v1/workflow-runs/${run.id}/cancel`), "bad"));
  } else {
    if (run.status !== "completed") actions.push(button("resume", () => act("POST", `/api/v1/workflow-runs/${run.id}/resume`)));
    actions.push(button("retry", () => act("POST", `/api/v1/workflow-runs/${run.id}/retry`)));
  }
  document.getElementById("run-actions").replaceChildren(...actions);
  renderPullRequest(run);
  const rows = run.phases.map((phase) => el("tr", { class: "phase-row" },
    el("td", {}, phase.seq), el("td", {}, phase.phase), el("td", {}, phase.attempt), el("td", {}, phase.mode),
    el("td", { class: "status-" + phase.status }, phase.status),
    el("td", {}, phase.decisions.map((d) => d.verdict === d.effective ? d.effective : `${d.verdict}→${d.effective}`).join(", ")),
    el("td", { class: "reason" }, phase.rework_reasons.join(" / ") || (phase.decisions[0] ? phase.decisions[0].reason : "")),
    el("td", {}, phase.input_tokens + phase.output_tokens), el("td", {}, money(phase.cost_usd)),
    el("td", {}, phase.agent_run_id ? el("a", { onclick: () => follow(phase.agent_run_id) }, "output") : "")));
  document.querySelector("#timeline tbody").replaceChildren(...rows);
  document.getElementById("run-totals").textContent =
    `${run.input_tokens + run.output_tokens} tokens · ${money(run.cost_usd)}` + (run.failure_reason ? ` · ${run.failure_reason}` : "") +
    (run.landed_sha ? ` · landed ${run.landed_sha.slice(0, 10)}` : "");
}

// A run that landed through a pull request: its link, and what each look at the PR decided.
function renderPullRequest(run) {
  const box = document.getElementById("run-pr");
  const decisions = (run.decisions || []).filter((d) => d.source === "pr");
  box.hidden = !run.pr_url && !decisions.length;
  const link = document.getElementById("run-pr-link");
  link.textContent = run.pr_url || "";
  if (run.pr_url && /^https?:\/\//.test(run.pr_url)) link.setAttribute("href", run.pr_url);
  else link.removeAttribute("href");
  document.getElementById("run-pr-decisions").replaceChildren(...decisions.map((d) => el("li", { class: "pr-decision" },
    el("span", { class: "pill status-" + d.effective }, `${d.verdict} → ${d.effective}`), " ", d.reason)));
}

// -- live output (SSE read with fetch, so the token travels in a header, never in the URL) -------------
function lineFor(event) {
  switch (event.kind) {
    case "text": return (event.text || "").trim();
    case "thinking": return "… " + (event.text || "").trim();
    case "tool_call": return "→ " + event.name + " " + JSON.stringify(event.input || {}).slice(0, 200);
    case "tool_result": return (event.ok ? "← " : "✗ ") + String(event.output || "").slice(0, 200);
    case "error": return "error: " + event.message;
    case "rate_limit": return "rate limited until " + event.resets_at;
    case "result": return "■ " + (event.ok ? "done" : "failed") + ": " + (event.reason || "");
    default: return null;
  }
}

async function readSse(path, onEvent, signal) {
  const response = await fetch(path, { headers: headers({ "Accept": "text/event-stream" }), signal });
  if (!response.ok) throw new Error("stream " + path + ": HTTP " + response.status);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = { event: "message", data: "" };
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) event.event = line.slice(7);
        else if (line.startsWith("data: ")) event.data += line.slice(6);
        else if (line.startsWith("id: ")) event.id = line.slice(4);
      }
      if (event.data) onEvent(event.event, JSON.parse(event.data), event.id);
    }
  }
}

function follow(agentRunId) {
  if (state.liveAbort) state.liveAbort.abort();
  const controller = new AbortController();
  state.liveAbort = controller;
  state.liveRun = agentRunId;
  state.liveFollowing = true;
  const out = document.getElementById("live-output");
  out.replaceChildren();
  document.getElementById("live-title").textContent = agentRunId;
  readSse(`/api/v1/runs/${encodeURIComponent(agentRunId)}/stream`, (kind, data) => {
    const text = kind === "end" ? `— ended (${data.status}) —` : lineFor(data);
    if (!text) return;
    out.append(el("div", { class: "live-line" }, text));
    out.scrollTop = out.scrollHeight;
  }, controller.signal).catch((err) => { if (err.name !== "AbortError") showError(err); })
    .finally(() => { if (state.liveAbort === controller) state.liveFollowing = false; });
}

async function watchEvents() {
  for (;;) {
    try {
      await readSse("/api/v1/events?after=" + (state.lastSeq || 0), (kind, data, id) => {
        state.lastSeq = Number(id) || state.lastSeq;
        scheduleRefresh(150);
      });
    } catch (err) {
      // a restart of the server or a missing token: poll instead until the stream comes back
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// -- wiring -----------------------------------------------------------------------------------------
function wire() {
  document.getElementById("token-save").addEventListener("submit", (ev) => {
    ev.preventDefault();
    localStorage.setItem("animus.token", document.getElementById("token-input").value.trim());
    loadToken();
    refresh();
  });
  document.getElementById("forget-token").addEventListener("click", () => {
    localStorage.removeItem("animus.token");
    loadToken();
  });
  document.getElementById("new-task").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const title = document.getElementById("new-title");
    const queue = document.getElementById("new-queue").checked;
    const task = await act("POST", "/api/v1/tasks", {
      title: title.value,
      description: document.getElementById("new-description").value,
      priority: document.getElementById("new-priority").value,
      status: queue ? "ready" : "backlog",
    });
    if (task) {
      title.value = "";
      document.getElementById("new-description").value = "";
      if (queue) await act("POST", "/api/v1/queue", { task_id: task.id });
    }
  });
}

async function start() {
  loadToken();
  wire();
  const health = await fetch("/api/v1/health", { headers: headers() }).then((r) => r.json()).catch(() => ({}));
  document.getElementById("project").textContent = health.project || "";
  await refresh();
  state.lastSeq = (state.overview && state.overview.last_event_seq) || 0;
  setInterval(refresh, 3000);
  watchEvents();
}

document.addEventListener("DOMContentLoaded", start);
