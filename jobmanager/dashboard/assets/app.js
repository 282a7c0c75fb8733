// app.js: renders the dashboard from api.js and polls the AM every
// ?refresh=<ms>, else GET /config's refresh-interval, else every second (250 ms
// at least). The DOM is built with
// textContent only: names and configuration values are never parsed as HTML.
import * as api from "./api.js";

let refresh = 1000; // set by start()
const $ = (id) => document.getElementById(id);

// The failover phases of every attempt this page has seen, by attempt number:
// the AM serves only its own, so earlier attempts' phases are what the page
// kept while they led.
const phasesByAttempt = new Map();
let configAttempt = null; // the attempt whose configuration is shown
let lostSince = null;

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  return e;
}

function row(cells, attrs) {
  const tr = el("tr", null, attrs);
  for (const c of cells) {
    tr.append(c instanceof Node ? c : el("td", c ?? "–"));
  }
  return tr;
}

function set(id, text, value) {
  const e = $(id);
  e.textContent = text ?? "–";
  if (value !== undefined) e.dataset.value = value === null ? "" : String(value);
}

function showError(id, err) {
  const e = $(id);
  e.hidden = !err;
  e.textContent = err ? String(err.message ?? err) : "";
}

const time = (t) => (t ? new Date(t).toLocaleTimeString() : "–");

// budgetUsed phrases the restart budget as yarn-session status does, never
// "attempt N of M" (attempts that did not count, or left the failure window,
// are not in the budget): the counted failures when the last attempt ended,
// plus the running one.
function budgetUsed(a, max) {
  const last = a.history.at(-1);
  return `${Math.min((last?.countedFailures ?? 0) + 1, max)} of ${max} attempts used`;
}

function renderOverview(o, a) {
  const attempt = a?.attempt ?? o?.attempt ?? null;
  const max = a?.maxAttempts ?? o?.maxAttempts ?? null;
  set("attempt", attempt === null ? "–" : max && a ? `${attempt} (${budgetUsed(a, max)})` : String(attempt), attempt);
  set("attempt-id", a?.attemptId ?? o?.attemptId, a?.attemptId ?? o?.attemptId ?? "");
  if (o) {
    const role = o.leader === null ? "serving" : o.leader ? "leader" : "standby (not leading)";
    set("leading", role, o.leader === null ? "" : String(o.leader));
    set("tm-count", o.taskManagers, o.taskManagers);
    const slots = o.slotsAvailable === null ? o.slotsTotal : `${o.slotsAvailable} free of ${o.slotsTotal}`;
    set("slots", slots, o.slotsTotal);
  }
  set("address", location.host);
}

function renderAttempts(a) {
  const body = $("attempts");
  const rows = a.history.map((h) =>
    row([h.attempt, h.attemptId, time(h.start), time(h.end),
      h.exit + (h.signal ? ` (${h.signal})` : h.exitCode ? ` (${h.exitCode})` : ""),
      h.counted ? "yes" : "no", h.reason + (h.diagnostics ? `: ${h.diagnostics}` : "")],
    { "data-attempt": String(h.attempt) }));
  if (a.attempt !== null && !a.history.some((h) => h.attempt === a.attempt)) {
    rows.push(row([a.attempt, a.attemptId, "–", "–", "running", "–", ""],
      { "data-attempt": String(a.attempt), class: "current" }));
  }
  body.replaceChildren(...rows);
  showError("attempts-error", a.historyError ? `attempt history: ${a.historyError}` : null);
}

function renderFailovers(current) {
  const box = $("failovers");
  const blocks = [];
  for (const attempt of [...phasesByAttempt.keys()].sort((x, y) => y - x)) {
    const phases = Object.entries(phasesByAttempt.get(attempt)).sort((x, y) => x[1] - y[1]);
    const div = el("div", null, { class: "failover" + (attempt === current ? " current" : ""), "data-attempt": String(attempt) });
    div.append(el("span", `attempt ${attempt}` + (attempt === current ? " (current)" : "")));
    const ol = el("ol");
    for (const [name, ms] of phases) {
      ol.append(el("li", `${name}: ${ms.toFixed(1)} ms`, { "data-phase": name, "data-ms": String(ms) }));
    }
    div.append(ol);
    blocks.push(div);
  }
  box.replaceChildren(...blocks);
}

// takeover is the cell saying how this AM took the job over: "adopted" (its
// tasks kept running), "restored from N" with why it was not adopted, or
// "started".
function takeover(t) {
  if (!t) return el("td", "–", { "data-k": "takeover", "data-value": "" });
  let text = t.outcome;
  if (t.outcome === "restored") text += t.checkpoint ? ` from ${t.checkpoint}` : " (no checkpoint)";
  if (t.reason) text += `: ${t.reason}`;
  return el("td", text, { "data-k": "takeover", "data-value": t.outcome, class: `takeover-${t.outcome}` });
}

async function renderJobs() {
  const jobs = await api.jobs();
  const infos = await Promise.allSettled(jobs.map((j) => api.checkpoints(j.id)));
  $("jobs").replaceChildren(...jobs.map((j, i) => {
    const c = infos[i].status === "fulfilled" ? infos[i].value : null;
    const state = el("td", j.state + (j.error ? `: ${j.error}` : ""), { class: `state-${j.state}`, "data-k": "state" });
    const cell = (k, v) => el("td", v ?? "–", { "data-k": k, "data-value": v === null || v === undefined ? "" : String(v) });
    const recent = c && c.history.length ? c.history.slice(0, 5).map((h) => `${h.id} ${h.status}`).join(", ") : null;
    return row([j.name, j.id, state, cell("latest", c?.latest), cell("completed", c?.completed),
      cell("restored", c?.restoredFrom), takeover(c?.takeover), cell("recent", recent)], { "data-job": j.id });
  }));
}

async function renderTaskManagers() {
  const tms = await api.taskManagers();
  $("taskmanagers").replaceChildren(...tms.map((t) =>
    row([t.id, t.address, t.freeSlots === null ? t.slots : `${t.freeSlots} free of ${t.slots}`, t.pid, time(t.lastHeartbeat)],
      { "data-tm": t.id })));
}

async function renderConfig(attempt) {
  if (configAttempt !== null && configAttempt === attempt) return;
  const entries = await api.config();
  $("config").replaceChildren(...entries.map((e) => row([e.key, e.value, e.origin || "–"], { "data-key": e.key })));
  configAttempt = attempt;
}

async function poll() {
  const [o, a, f] = await Promise.allSettled([api.overview(), api.attempts(), api.failover()]);
  const ov = o.status === "fulfilled" ? o.value : null;
  const at = a.status === "fulfilled" ? a.value : null;
  if (!ov && !at) {
    lostSince ??= new Date();
    const conn = $("conn");
    conn.dataset.state = "lost";
    conn.textContent = `AM unreachable since ${lostSince.toLocaleTimeString()} (${o.reason?.message ?? o.reason}); retrying`;
    return;
  }
  lostSince = null;
  const attempt = at?.attempt ?? ov?.attempt ?? null;
  if (f.status === "fulfilled" && attempt !== null) {
    phasesByAttempt.set(attempt, f.value);
  }
  renderOverview(ov, at);
  showError("leader-error", ov ? null : o.reason);
  if (at) renderAttempts(at);
  renderFailovers(attempt);
  const results = await Promise.allSettled([renderJobs(), renderTaskManagers(), renderConfig(attempt)]);
  ["jobs-error", "tms-error", "config-error"].forEach((id, i) =>
    showError(id, results[i].status === "rejected" ? results[i].reason : null));
  const conn = $("conn");
  conn.dataset.state = "live";
  conn.textContent = `live, updated ${new Date().toLocaleTimeString()}`;
}

async function loop() {
  try {
    await poll();
  } catch (err) {
    $("conn").textContent = `update failed: ${err.message ?? err}`;
  }
  setTimeout(loop, refresh);
}

async function start() {
  const asked = Number(new URLSearchParams(location.search).get("refresh"));
  refresh = Math.max(250, asked || (await api.dashboardConfig()).refreshInterval || 1000);
  loop();
}

start();
