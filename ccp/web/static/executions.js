/* /ui/executions: every Execution (paged through with the `next` links), grouped by Method
 * with counts per status; archive, provenance, re-execute, delete/dismiss; import an archive. */
"use strict";

(() => {
  const { el, append, clear, enc, getJSON } = CCP;
  const PAGE = 200;
  const MAX_PAGES = 50;
  const $ = (id) => document.getElementById(id);
  let jobs = [];
  let total = 0;
  let titles = {};
  let timer = null;
  let loading = false;

  async function fetchAll() {
    const found = [];
    let path = "/jobs?limit=" + PAGE;
    let matched = 0;
    for (let page = 0; path && page < MAX_PAGES; page += 1) {
      const data = await getJSON(path);
      found.push(...data.jobs);
      matched = data.numberMatched;
      const next = CCP.linkOf(data, "next");
      path = next ? CCP.apiPath(next.href) : null;
    }
    return { found, matched };
  }

  function counts(list) {
    const result = Object.fromEntries(CCP.STATUSES.map((s) => [s, 0]));
    for (const job of list) result[job.status] = (result[job.status] || 0) + 1;
    return result;
  }

  function countBadges(list) {
    const numbers = counts(list);
    return el("span", { class: "status-counts" }, CCP.STATUSES.filter((s) => numbers[s]).map((s) =>
      el("span", { class: "badge status-" + s, title: s, text: numbers[s] + " " + s })));
  }

  function short(id) {
    return String(id).slice(0, 8);
  }

  function time(label, value) {
    return el("div", { class: "nowrap" }, el("span", { class: "muted", text: label + " " }), CCP.fmtTime(value));
  }

  function row(job) {
    const duration = CCP.fmtDuration(job.started, job.finished);
    return el("tr", { class: "job-row", dataset: { job: job.jobID, status: job.status } },
      el("td", {}, el("a", { href: CCPJobs.jobPage(job.jobID), class: "job-link mono", title: job.jobID, text: short(job.jobID) }),
        job.derivedFrom ? el("div", { class: "muted small" }, "re-run of ",
          el("a", { href: CCPJobs.jobPage(job.derivedFrom), class: "mono", title: job.derivedFrom, text: short(job.derivedFrom) })) : null,
        job.cacheHit ? el("div", { class: "muted small cache-hit" }, "cache hit of ",
          el("a", { href: CCPJobs.jobPage(job.cacheHit.jobID), class: "mono", title: job.cacheHit.jobID, text: short(job.cacheHit.jobID) })) : null),
      el("td", { class: "mono", text: job.processVersion || "—" }),
      el("td", {}, CCP.badge(job.status),
        job.message ? el("div", { class: "muted small message", text: job.message }) : null),
      el("td", { class: "small" }, time("created", job.created), time("started", job.started),
        el("div", { class: "nowrap" }, el("span", { class: "muted", text: "finished " }), CCP.fmtTime(job.finished),
          duration ? el("span", { class: "muted", text: " (" + duration + ")" }) : null)),
      el("td", { class: "small" }, el("div", { text: job.infrastructure || "—" }),
        el("div", { class: "mono muted", text: job.image || "" })),
      el("td", {}, CCPJobs.actions(job, { deleted: load, changed: load, reexecuted: load })));
  }

  function render() {
    const root = clear($("executions"));
    const status = $("filter-status").value;
    const method = $("filter-method").value;
    const shown = jobs.filter((j) => (!status || j.status === status) && (!method || j.processID === method));
    const summary = $("summary");
    clear(summary);
    append(summary, total + " Executions" + (jobs.length < total ? " (showing the newest " + jobs.length + ")" : "") + " ",
      countBadges(jobs));
    const groups = new Map();
    for (const job of shown) {
      if (!groups.has(job.processID)) groups.set(job.processID, []);
      groups.get(job.processID).push(job);
    }
    for (const [processId, list] of [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      const title = titles[processId];
      append(root, el("section", { class: "panel job-group", dataset: { process: processId } },
        el("div", { class: "group-head" },
          el("h2", {}, el("span", { text: title || processId }), " ",
            title ? el("code", { class: "muted small", text: processId }) : null,
            el("span", { class: "count", text: String(list.length) })),
          countBadges(list),
          titles[processId] !== undefined
            ? el("a", { class: "button small", href: "/ui/methods/" + enc(processId) + "/execute", text: "Execute again…" })
            : el("span", { class: "muted small", text: "Method no longer deployed" })),
        el("div", { class: "table-wrap" }, el("table", { class: "jobs-table" },
          el("thead", {}, el("tr", {}, ["Execution", "Version", "Status", "Times", "Infrastructure / image", "Actions"]
            .map((h) => el("th", { text: h })))),
          el("tbody", {}, list.map(row))))));
    }
    if (!shown.length) {
      append(root, el("p", { class: "muted empty", text: jobs.length ? "No Execution matches the filter."
        : "No Executions yet: execute a Method from the Methods page." }));
    }
  }

  function fillMethodFilter() {
    const select = $("filter-method");
    const current = select.value;
    const ids = [...new Set([...jobs.map((j) => j.processID), ...Object.keys(titles)])].sort();
    clear(select);
    append(select, el("option", { value: "", text: "all" }),
      ids.map((id) => el("option", { value: id, text: titles[id] ? titles[id] + " (" + id + ")" : id })));
    select.value = ids.includes(current) ? current : "";
  }

  async function load() {
    if (loading) return;
    loading = true;
    try {
      const [result, processes] = await Promise.all([
        fetchAll(), getJSON("/processes").catch(() => ({ processes: [] }))]);
      jobs = result.found;
      total = result.matched;
      titles = Object.fromEntries(processes.processes.map((p) => [p.id, p.title]));
      fillMethodFilter();
      render();
    } catch (err) {
      append(clear($("executions")), CCP.errorBox(err, "Cannot load the Executions"));
    } finally {
      loading = false;
      schedule();
    }
  }

  function schedule() {
    clearTimeout(timer);
    if ($("auto-refresh").checked && jobs.some(CCPJobs.isActive)) {
      timer = setTimeout(() => {
        if (CCP.anyArmed() || document.hidden) schedule();
        else load();
      }, 3000);
    }
  }

  async function importArchive(event) {
    const input = event.target;
    const file = input.files && input.files[0];
    const result = clear($("import-result"));
    if (!file) return;
    try {
      const response = await CCP.api("POST", "/jobs/import",
        { body: file, headers: { "Content-Type": "application/zip" } });
      const job = await response.json();
      CCP.flash("Imported " + file.name + " as Execution " + job.jobID + ".", "ok",
        { href: CCPJobs.jobPage(job.jobID), text: "Open it" });
      await load();
    } catch (err) {
      append(result, CCP.errorBox(err, "Import of " + file.name + " failed: " + err.title));
    } finally {
      input.value = "";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("refresh").addEventListener("click", load);
    $("filter-status").addEventListener("change", render);
    $("filter-method").addEventListener("change", render);
    $("auto-refresh").addEventListener("change", schedule);
    $("import-file").addEventListener("change", importArchive);
    load();
  });
  document.addEventListener("ccp:token", load);
})();
