// api.js: every REST read of the dashboard, one function per endpoint. Each
// accepts amkeeper's own response shape and Flink's, and returns one plain
// shape for the page. Only GET requests are made; a failed request throws an
// Error naming the path and the status.

async function get(path) {
  const r = await fetch(path, { method: "GET", cache: "no-store", credentials: "omit", headers: { Accept: "application/json" } });
  if (!r.ok) {
    throw new Error(`GET ${path}: ${r.status} ${r.statusText}`);
  }
  return r.json();
}

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

// GET /overview → {attempt, maxAttempts, attemptId, leader, taskManagers,
// slotsTotal, slotsAvailable, version}. amkeeper: attempt, maxAttempts,
// attemptId, leader, taskmanagers, slots-total. Flink: taskmanagers,
// slots-total, slots-available, flink-version.
export async function overview() {
  const o = await get("/overview");
  return {
    attempt: num(o.attempt),
    maxAttempts: num(o.maxAttempts),
    attemptId: o.attemptId ?? null,
    leader: typeof o.leader === "boolean" ? o.leader : null,
    taskManagers: num(o.taskmanagers),
    slotsTotal: num(o["slots-total"]),
    slotsAvailable: num(o["slots-available"]),
    version: o["flink-version"] ?? o.version ?? null,
  };
}

// GET /config (Flink's dashboard configuration) → {refreshInterval} in ms, or
// null when the AM does not serve it.
export async function dashboardConfig() {
  try {
    const c = await get("/config");
    return { refreshInterval: num(c["refresh-interval"]) };
  } catch {
    return { refreshInterval: null };
  }
}

// GET /attempts → {attempt, maxAttempts, attemptId, history: [{attempt,
// attemptId, start, end, exit, exitCode, signal, counted, countedFailures,
// reason, diagnostics}]} (the ended attempts, oldest first), historyError.
export async function attempts() {
  const a = await get("/attempts");
  const h = a.history;
  const list = Array.isArray(h) ? h : (h && Array.isArray(h.attempts) ? h.attempts : []);
  return {
    attempt: num(a.attempt),
    maxAttempts: num(a.maxAttempts),
    attemptId: a.attemptId ?? null,
    history: list.map((r) => ({
      attempt: num(r.attempt),
      attemptId: r.attempt_id ?? r.attemptId ?? "",
      start: r.start ?? null,
      end: r.end ?? null,
      exit: r.exit ?? "",
      exitCode: num(r.exit_code ?? r.exitCode),
      signal: r.signal ?? "",
      counted: r.counted === true,
      countedFailures: num(r.counted_failures ?? r.countedFailures),
      reason: r.reason ?? "",
      diagnostics: r.diagnostics ?? "",
    })),
    historyError: a.historyError ?? null,
  };
}

// GET /failover → {phase: milliseconds}: the phases this attempt reached, in
// milliseconds since the previous attempt ended. amkeeper: {phases: map, jobs};
// also accepts the plain map and {phases: [{phase|name, ms|millis}]}.
export async function failover() {
  const f = await get("/failover");
  const src = f && f.phases !== undefined ? f.phases : f;
  const out = {};
  if (Array.isArray(src)) {
    for (const p of src) {
      const name = p.phase ?? p.name;
      const ms = num(p.ms ?? p.millis ?? p.duration);
      if (name && ms !== null) out[name] = ms;
    }
  } else if (src && typeof src === "object") {
    for (const [name, ms] of Object.entries(src)) {
      if (num(ms) !== null) out[name] = ms;
    }
  }
  return out;
}

// GET /jobs → [{id, name, state, error}]; when its entries carry no name (Flink's
// /jobs: jobs[].id, status), GET /jobs/overview (jobs[].jid, name, state).
// amkeeper: jobs[].id, name, status, error.
export async function jobs() {
  let list = (await get("/jobs")).jobs ?? [];
  if (list.some((x) => x.name === undefined)) {
    list = (await get("/jobs/overview")).jobs ?? list;
  }
  return list.map((x) => ({
    id: x.jid ?? x.id,
    name: x.name ?? "",
    state: x.state ?? x.status ?? "",
    error: x.error ?? "",
  }));
}

// GET /jobs/:id/checkpoints → {completed, latest, restoredFrom, deployed,
// takeover, history: [{id, status}]}. amkeeper: latest (an ID), restoredFrom,
// deployed, takeover ({outcome, checkpoint, reason}: how this AM took the job
// over; null when absent).
// Flink: counts.completed, latest.completed.id, latest.restored.id,
// history[].id/status (amkeeper's restoredFrom and deployed beside them are read
// too).
export async function checkpoints(id) {
  const c = await get(`/jobs/${encodeURIComponent(id)}/checkpoints`);
  const latest = c.latest;
  const flink = latest !== null && typeof latest === "object";
  const pos = (v) => (num(v) !== null && v > 0 ? v : null);
  return {
    completed: num(c.counts?.completed),
    latest: flink ? pos(latest.completed?.id) : pos(latest),
    restoredFrom: (flink ? pos(latest.restored?.id) : null) ?? pos(c.restoredFrom),
    deployed: typeof c.deployed === "boolean" ? c.deployed : null,
    takeover: c.takeover && typeof c.takeover.outcome === "string"
      ? { outcome: c.takeover.outcome, checkpoint: num(c.takeover.checkpoint), reason: c.takeover.reason ?? "" }
      : null,
    history: Array.isArray(c.history) ? c.history.map((h) => ({ id: h.id, status: h.status ?? "" })) : [],
  };
}

// GET /taskmanagers → [{id, address, slots, freeSlots, pid, lastHeartbeat}].
// amkeeper: containerId, address, slots, pid, lastHeartbeat (RFC 3339).
// Flink: id, path, slotsNumber, freeSlots, timeSinceLastHeartbeat (epoch ms).
export async function taskManagers() {
  const t = await get("/taskmanagers");
  return (t.taskmanagers ?? []).map((x) => ({
    id: x.containerId ?? x.id,
    address: x.address ?? x.path ?? "",
    slots: num(x.slots ?? x.slotsNumber),
    freeSlots: num(x.freeSlots),
    pid: num(x.pid),
    lastHeartbeat: x.lastHeartbeat ?? (num(x.timeSinceLastHeartbeat) !== null ? new Date(x.timeSinceLastHeartbeat).toISOString() : null),
  }));
}

// GET /jobmanager/config → [{key, value, origin}] (origin absent in Flink's).
export async function config() {
  const c = await get("/jobmanager/config");
  return (Array.isArray(c) ? c : []).map((e) => ({ key: e.key, value: e.value, origin: e.origin ?? "" }));
}
