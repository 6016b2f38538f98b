/* /ui/infrastructures/<id>: health (now and recent checks), the manifest of features, and the
 * latest verify report (admins). */
"use strict";

(() => {
  const { el, append, clear, enc, getJSON } = CCP;
  const $ = (id) => document.getElementById(id);
  const FEATURES = {
    dismiss: "Dismiss a queued or running Execution",
    logs: "Log lines while it runs",
    suspend: "Suspend and resume; the time limit stands still",
    extend: "Extend the time limit, up to the maximum",
    replicas: "More than one replica per Execution",
    memoryLimit: "A memory limit on every Execution",
    cpuLimit: "A CPU limit on every Execution",
    healthChecks: "Scheduled checks that the engine answers",
    healthProbe: "Scheduled probe runs of a tiny instance",
    verify: "Compare the engine with the job store",
  };
  let infraId = null;

  function healthBadge(healthy) {
    if (healthy === true) return el("span", { class: "badge status-successful", id: "health-badge", text: "healthy" });
    if (healthy === false) return el("span", { class: "badge status-failed", id: "health-badge", text: "unhealthy" });
    return el("span", { class: "badge status-unknown", id: "health-badge", text: "not checked yet" });
  }

  function part(detail, name) {
    const found = detail && detail[name];
    if (!found) return "—";
    return (found.ok ? "ok" : "failed") + (found.latencyMs !== undefined ? " · " + found.latencyMs + " ms" : "");
  }

  function renderHealth(health) {
    append(clear($("health-now")), healthBadge(health.healthy), " ",
      health.since ? el("span", { class: "muted small", text: "since " + CCP.fmtTime(health.since) }) : "",
      health.problem ? el("div", { class: "error-box small", id: "health-problem", text: health.problem }) : "");
    const s = health.schedule || {};
    $("health-schedule").textContent = "Checked every " + s.intervalSeconds + " s" +
      (s.probeImage ? "; probe: image " + s.probeImage + " every " + s.probeIntervalSeconds + " s (at most " + s.probeTimeoutSeconds + " s)" : "; no probe configured") +
      "; queued Executions wait up to " + s.unhealthyWaitSeconds + " s while it is unhealthy.";
    const table = clear($("health-history"));
    append(table, el("thead", {}, el("tr", {}, ["Checked", "Result", "Latency", "Engine", "Probe", "Message", "Server"]
      .map((h) => el("th", { text: h })))));
    append(table, el("tbody", {}, (health.history || []).map((check) => el("tr", { class: "health-check" },
      el("td", { class: "small nowrap", text: CCP.fmtTime(check.checked) }),
      el("td", {}, el("span", { class: "badge " + (check.ok ? "status-successful" : "status-failed"), text: check.ok ? "ok" : "failed" })),
      el("td", { class: "small", text: check.latencyMs === null ? "—" : check.latencyMs + " ms" }),
      el("td", { class: "small", text: part(check.detail, "engine") }),
      el("td", { class: "small", text: part(check.detail, "probe") }),
      el("td", { class: "small", text: check.message }),
      el("td", { class: "small mono", text: check.server })))));
  }

  function renderManifest(infra) {
    append(clear($("infra-sub")), el("strong", { text: infra.name || infra.id }), " ",
      el("span", { class: "tag", text: infra.type }), " ", el("span", { text: infra.description || "" }));
    const table = clear($("features"));
    append(table, el("thead", {}, el("tr", {}, ["Feature", "Offered", ""].map((h) => el("th", { text: h })))));
    append(table, el("tbody", {}, Object.entries(infra.features || {}).map(([name, on]) =>
      el("tr", { class: on ? "feature-on" : "feature-off", dataset: { feature: name } },
        el("td", {}, el("code", { text: name })),
        el("td", { text: on ? "yes" : "no" }),
        el("td", { class: "small", text: FEATURES[name] || "" })))));
    const limits = infra.limits || {};
    const mib = (bytes) => bytes ? Math.round(bytes / 1048576) + " MiB" : "none";
    append(clear($("limits")),
      el("dt", { text: "Maximum time" }), el("dd", { text: limits.maxTime + " s" }),
      el("dt", { text: "Replicas" }), el("dd", { text: "up to " + limits.maxReplicas }),
      el("dt", { text: "Suspension" }), el("dd", { text: limits.maxSuspendSeconds ? "up to " + limits.maxSuspendSeconds + " s per Execution" : "not offered" }),
      el("dt", { text: "Memory" }), el("dd", { text: mib(limits.memoryBytes) }),
      el("dt", { text: "CPUs" }), el("dd", { text: limits.cpus ? String(limits.cpus) : "no limit" }));
  }

  function list(title, ids) {
    if (!ids || !ids.length) return null;
    return el("div", { class: "report-list" }, el("strong", { text: title + ": " }),
      ids.flatMap((id, i) => [i ? ", " : "", el("code", { text: id })]));
  }

  function renderReport(report) {
    const root = clear($("verify-report"));
    if (!report) {
      append(root, el("p", { class: "muted", text: "No verify report yet." }));
      return;
    }
    append(root, el("p", { id: "verify-summary" },
      el("span", { class: "badge " + (report.ok ? "status-successful" : "status-failed"), text: report.ok ? "agree" : "fixed" }), " ",
      el("span", { text: report.message }), " ",
      el("span", { class: "muted small", text: CCP.fmtTime(report.checked) + (report.server ? " · server " + report.server : "") })),
    list("Orphans removed", report.orphansRemoved),
    list("Lost jobs failed", report.lostJobsFailed),
    list("Unknown instances (left alone)", report.unknown),
    el("p", { class: "muted small", text: (report.matched || []).length + " running Executions match." }));
  }

  async function loadVerify() {
    const actions = clear($("verify-actions"));
    try {
      const data = await getJSON("/infrastructures/" + enc(infraId) + "/verify");
      renderReport((data.reports || [])[0]);
      append(actions, CCP.actionButton("Verify now", async () => {
        try {
          const { data: report } = await CCP.sendJSON("POST", "/infrastructures/" + enc(infraId) + "/verify");
          renderReport(report);
        } catch (err) {
          CCP.flashError(err, "Verify failed");
        }
      }, { class: "small primary verify-now" }));
    } catch (err) {
      append(clear($("verify-report")), el("p", { class: "muted", id: "verify-admins-only",
        text: err.status === 403 ? "Only admins see verify reports." : err.message }));
    }
  }

  async function loadHealth() {
    const health = await getJSON("/infrastructures/" + enc(infraId) + "/health");
    renderHealth(health);
    append(clear($("health-actions")), CCP.actionButton("Check now", async (button) => {
      button.textContent = "Checking…";
      try {
        const { data } = await CCP.sendJSON("POST", "/infrastructures/" + enc(infraId) + "/health");
        renderHealth(data);
      } catch (err) {
        CCP.flashError(err, "Not checked");
      } finally {
        button.textContent = "Check now";
      }
    }, { class: "small check-now", title: "Check the engine and run the probe now (admins)" }));
  }

  async function load() {
    clear($("general-errors"));
    try {
      renderManifest(await getJSON("/infrastructures/" + enc(infraId)));
      await loadHealth();
    } catch (err) {
      append($("general-errors"), CCP.errorBox(err, "Cannot load Infrastructure " + infraId));
      return;
    }
    await loadVerify();
  }

  document.addEventListener("DOMContentLoaded", () => {
    infraId = CCP.pathParts()[1];
    $("infra-id").textContent = infraId;
    load();
  });
  document.addEventListener("ccp:token", load);
})();
