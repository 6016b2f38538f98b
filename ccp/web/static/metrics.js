/* /ui/executions/<id>: what the Execution uses, live — CPU and memory of every replica over
 * time, the summary (CPU-seconds, peak memory, bytes in and out, block I/O), and the phase
 * timeline (Launch … Destroy, one row per replica). Reads GET /jobs/{id}/metrics (only the
 * rounds it has not seen, every second while the job is active) and /jobs/{id}/statistics.
 * Tells other scripts the job's status with a "ccp:job-status" event. */
"use strict";

(() => {
  const { el, append, clear, enc, getJSON } = CCP;
  const C = CCPCharts;
  const $ = (id) => document.getElementById(id);
  const ACTIVE = ["created", "accepted", "running"];
  const SCRIPT_PHASES = ["Deploy", "Execute", "Undeploy"];
  const BUSY_PERCENT = 2;
  let jobId = null;
  let timer = null;
  let state = null;

  function reset() {
    clearTimeout(timer);
    state = { samples: [], phases: [], lastSeq: -1, status: null, statistics: null, polls: 0 };
  }

  function byReplica(samples) {
    const replicas = new Map();
    for (const sample of samples) {
      if (!replicas.has(sample.replica)) replicas.set(sample.replica, []);
      replicas.get(sample.replica).push(sample);
    }
    return new Map([...replicas.entries()].sort((a, b) => a[0] - b[0]));
  }

  function span() {
    const starts = state.phases.map((p) => Date.parse(p.started));
    const times = state.samples.map((s) => Date.parse(s.time));
    const from = Math.min(...starts, ...times);
    const ends = state.phases.map((p) => (p.finished ? Date.parse(p.finished) : Date.now()));
    const to = ACTIVE.includes(state.status) ? Date.now() : Math.max(...ends, ...times);
    return [from, to];
  }

  /** Charts are drawn at the width they get, so their text keeps its size. */
  function widthOf(box) {
    return Math.max(320, Math.round(box.clientWidth || 0) || 560);
  }

  function fact(name, value, id) {
    return [el("dt", { text: name }), el("dd", { id, text: value })];
  }

  function renderSummary() {
    const box = clear($("usage-summary"));
    const s = state.statistics;
    if (!s) return;
    const net = s.networkRxBytes === null ? "— (host network)" : C.bytes(s.networkRxBytes) + " in · " + C.bytes(s.networkTxBytes) + " out";
    append(box, el("dl", { class: "facts usage-facts" },
      fact("CPU time", s.cpuSeconds === null ? "—" : C.seconds(s.cpuSeconds), "stat-cpu"),
      fact("Peak memory", C.bytes(s.peakMemoryBytes) + (s.memoryLimitBytes ? " of " + C.bytes(s.memoryLimitBytes) : ""), "stat-memory"),
      fact("Network", net, "stat-network"),
      fact("Block I/O", s.blockReadBytes === null ? "—" : C.bytes(s.blockReadBytes) + " read · " + C.bytes(s.blockWriteBytes) + " written", "stat-block"),
      fact("Samples", s.samples + " every " + C.seconds(s.interval), "stat-samples")));
  }

  function renderCharts() {
    const cpuBox = clear($("cpu-chart"));
    const memoryBox = clear($("memory-chart"));
    if (!state.samples.length) {
      const waiting = ACTIVE.includes(state.status) ? "Waiting for the first sample…" : "No samples were taken.";
      append(cpuBox, el("p", { class: "muted", text: waiting }));
      return;
    }
    const rounds = new Set(state.samples.map((s) => s.seq)).size;
    if (rounds < 2 && !ACTIVE.includes(state.status)) {
      append(cpuBox, el("p", { class: "muted", text: "Too short to chart: one sample was taken (every " + C.seconds(state.interval) + ")." }));
      return;
    }
    const [from, to] = span();
    const replicas = byReplica(state.samples);
    const series = (field) => [...replicas.entries()].map(([replica, samples]) => ({
      name: "replica " + replica,
      points: samples.map((s) => [Date.parse(s.time), s[field]]),
    }));
    const limits = [...replicas.values()].map((samples) => samples[samples.length - 1].memory_limit_bytes).filter((v) => v);
    append(cpuBox, el("h3", { text: "CPU" }, el("span", { class: "muted small", text: " % of one core" })),
      C.lineChart({ series: series("cpu_percent"), from, to, yMax: 100, format: (v) => Math.round(v) + " %", label: "CPU per replica", width: widthOf(cpuBox) }));
    const memory = series("memory_bytes");
    const peak = Math.max(...state.samples.map((s) => s.memory_bytes || 0));
    // a limit far above what was used (an engine's whole host) would flatten the lines
    const guides = limits.length && limits[0] <= peak * 8 ? [{ value: limits[0], label: "limit " + C.bytes(limits[0]) }] : [];
    append(memoryBox, el("h3", { text: "Memory" }, el("span", { class: "muted small", text: limits.length ? " limit " + C.bytes(limits[0]) : "" })),
      C.lineChart({ series: memory, from, to, yScale: C.byteScale, format: C.bytes, guides, label: "memory per replica", width: widthOf(memoryBox) }));
    append(clear($("usage-legend")), C.legend(memory));
  }

  /** For each replica and phase that runs scripts: the time of its last busy sample. */
  function busyTimes() {
    const busy = {};
    for (const [replica, samples] of byReplica(state.samples)) {
      busy[replica] = {};
      state.phases.forEach((phase, index) => {
        if (!SCRIPT_PHASES.includes(phase.phase)) return;
        const from = Date.parse(phase.started);
        const to = phase.finished ? Date.parse(phase.finished) : Infinity;
        for (const s of samples) {
          const t = Date.parse(s.time);
          if (t >= from && t <= to && (s.cpu_percent || 0) >= BUSY_PERCENT) busy[replica][index] = t;
        }
      });
    }
    return busy;
  }

  function renderTimeline() {
    const box = clear($("timeline"));
    if (!state.phases.length) {
      append(box, el("p", { class: "muted", text: ACTIVE.includes(state.status) ? "Not started yet." : "No phases were recorded." }));
      return;
    }
    const replicas = [...byReplica(state.samples).keys()];
    append(box, C.timeline({ phases: state.phases, replicas, busy: busyTimes(), now: Date.now(), width: widthOf(box) }));
    const list = el("ul", { class: "phase-list" });
    for (const phase of state.phases) {
      const swatch = C.svg("svg", { width: 12, height: 12, class: "swatch" },
        C.svg("rect", { width: 12, height: 12, rx: 2, fill: C.PHASE_COLORS[phase.phase] || "#ced4da" }));
      append(list, el("li", { dataset: { phase: phase.phase } }, swatch, " " + phase.phase + " ",
        el("span", { class: "muted", text: phase.finished ? C.seconds(phase.seconds) : "running" })));
    }
    append(box, list);
  }

  async function loadStatistics() {
    try {
      state.statistics = await getJSON("/jobs/" + enc(jobId) + "/statistics");
    } catch (_) {
      state.statistics = null;
    }
    renderSummary();
  }

  async function poll() {
    clearTimeout(timer);
    let data;
    try {
      data = await getJSON("/jobs/" + enc(jobId) + "/metrics?after=" + state.lastSeq);
    } catch (err) {
      append(clear($("usage-summary")), CCP.errorBox(err, "No metrics"));
      if (err.status !== 404 && err.status !== 401) timer = setTimeout(poll, 3000);
      return;
    }
    state.samples.push(...data.samples);
    for (const sample of data.samples) state.lastSeq = Math.max(state.lastSeq, sample.seq);
    state.phases = data.phases;
    state.interval = data.interval;
    const changed = data.status !== state.status;
    state.status = data.status;
    if (changed) document.dispatchEvent(new CustomEvent("ccp:job-status", { detail: { status: data.status } }));
    const active = ACTIVE.includes(data.status);
    if (!active || changed || state.polls % 5 === 0) await loadStatistics();
    state.polls += 1;
    renderCharts();
    renderTimeline();
    $("usage-panel").dataset.status = data.status;
    if (active) timer = setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    jobId = CCP.pathParts()[1];
    reset();
    poll();
  });
  document.addEventListener("ccp:token", () => { reset(); poll(); });
})();
