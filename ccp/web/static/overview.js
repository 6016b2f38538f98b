/* /ui/overview: executions per day by status (the last 14 days), the queue, and what runs on
 * each Infrastructure with whether it answers. From GET /statistics: a plain user sees their
 * own executions, an admin all of them. Refreshed every 5 seconds. */
"use strict";

(() => {
  const { el, append, clear, getJSON } = CCP;
  const C = CCPCharts;
  const $ = (id) => document.getElementById(id);
  const STATUSES = ["successful", "failed", "dismissed", "running", "accepted", "created"];
  let timer = null;

  function renderDays(days) {
    const box = clear($("per-day"));
    const stacks = STATUSES.map((status) => ({
      name: status, color: C.STATUS_COLORS[status], values: days.map((d) => d[status] || 0),
    }));
    append(box, C.stackedBars({
      categories: days.map((d) => d.day), stacks, label: "executions per day by status",
      formatCategory: (day) => day.slice(5), width: Math.max(360, Math.round(box.clientWidth || 760)),
    }), C.legend(stacks));
    const total = days.reduce((sum, d) => sum + STATUSES.reduce((s, status) => s + (d[status] || 0), 0), 0);
    $("per-day-total").textContent = total + " in " + days.length + " days";
  }

  function renderInfrastructures(infrastructures) {
    const box = clear($("per-infrastructure"));
    const busiest = Math.max(1, ...infrastructures.map((i) => i.running));
    const rows = infrastructures.map((infrastructure) => {
      const reach = infrastructure.reachable === null ? el("span", { class: "badge off", text: "not checked" })
        : infrastructure.reachable ? el("span", { class: "badge ok", text: "reachable" })
          : el("span", { class: "badge status-failed", text: "unreachable" });
      const bar = C.svg("svg", { class: "meter", viewBox: "0 0 200 14", width: 200, height: 14, role: "img", "aria-label": infrastructure.running + " running" },
        C.svg("rect", { width: 200, height: 14, rx: 3, class: "meter-back" }),
        C.svg("rect", { width: Math.max(infrastructure.running ? 6 : 0, (200 * infrastructure.running) / busiest), height: 14, rx: 3, fill: C.STATUS_COLORS.running }));
      return el("tr", { dataset: { infrastructure: infrastructure.id } },
        el("td", {}, el("code", { text: infrastructure.id })),
        el("td", { class: "muted", text: infrastructure.type }),
        el("td", {}, reach),
        el("td", {}, bar),
        el("td", { class: "num running-count", text: String(infrastructure.running) }));
    });
    append(box, el("table", { class: "grid-table" },
      el("thead", {}, el("tr", {}, ["Infrastructure", "Type", "Health", "Running", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows)));
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const data = await getJSON("/statistics?days=14");
      clear($("overview-errors"));
      $("queued").textContent = String(data.queued);
      $("running-total").textContent = String(Object.values(data.running).reduce((a, b) => a + b, 0));
      $("scope").textContent = data.scope === "all" ? "every user's executions" : "your executions";
      renderDays(data.days);
      renderInfrastructures(data.infrastructures);
    } catch (err) {
      append(clear($("overview-errors")), CCP.errorBox(err, "Cannot load the overview"));
    }
    timer = setTimeout(refresh, 5000);
  }

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("ccp:token", refresh);
})();
