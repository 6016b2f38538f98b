/* /ui/executions/<id>: live status (polled every second while accepted/running), log tail,
 * actions, and the results once successful. */
"use strict";

(() => {
  const { el, append, clear, enc, getJSON } = CCP;
  const TAIL_LINES = 400;
  const $ = (id) => document.getElementById(id);
  let jobId = null;
  let timer = null;
  let lastStatus = null;
  let deleted = false;

  function fact(name, ...value) {
    return [el("dt", { text: name }), el("dd", {}, ...value)];
  }

  function renderStatus(job) {
    append(clear($("job-status")), CCP.badge(job.status));
    $("job-message").textContent = job.message || "";
    append(clear($("job-progress")), CCPJobs.progressBar(job),
      el("span", { class: "muted small", text: (Number(job.progress) || 0) + " %" }));
    const sub = clear($("job-sub"));
    append(sub, "Method ", el("a", { href: "/ui/methods/" + enc(job.processID) + "/execute", text: job.processID }),
      " · version " + (job.processVersion || "?"));
    const duration = CCP.fmtDuration(job.started, job.finished);
    append(clear($("job-facts")),
      fact("Method", el("code", { text: job.processID }), " ", el("span", { class: "muted", text: "v" + (job.processVersion || "?") })),
      fact("Infrastructure", job.infrastructure || "—"),
      fact("Runtime image", el("code", { text: job.image || "—" })),
      fact("Created", CCP.fmtTime(job.created)),
      fact("Started", CCP.fmtTime(job.started)),
      fact("Finished", CCP.fmtTime(job.finished), duration ? el("span", { class: "muted", text: " (" + duration + ")" }) : ""),
      job.derivedFrom ? fact("Re-run of", el("a", { href: CCPJobs.jobPage(job.derivedFrom), class: "mono", text: job.derivedFrom })) : []);
    if (job.status !== lastStatus) {
      // rebuild the actions only when the status changes, so a half-confirmed click survives polling
      append(clear($("job-actions")), CCPJobs.actions(job, {
        changed: (data) => { poll(data); },
        deleted: () => gone(),
        reexecuted: (data) => {
          const slot = $("reexecuted") || el("div", { id: "reexecuted", class: "success-box" });
          clear(slot);
          append(slot, "New Execution ", el("code", { text: data.jobID }), " ", CCP.badge(data.status), " ",
            el("a", { id: "new-job-link", class: "button small primary", href: CCPJobs.jobPage(data.jobID), text: "Follow it →" }));
          $("job-actions").after(slot);
        },
      }));
    }
    document.title = job.status + " · " + job.processID + " · CCP";
  }

  function gone() {
    deleted = true;
    clearTimeout(timer);
    CCP.flash("Execution " + jobId + " and its archive were deleted.", "ok", { href: "/ui/executions", text: "All Executions" });
    clear($("job-actions"));
    append(clear($("job-status")), el("span", { class: "badge status-unknown", text: "deleted" }));
  }

  async function loadLog() {
    const pre = $("log");
    try {
      const text = await CCP.getText("/jobs/" + enc(jobId) + "/logs");
      const lines = text.split("\n");
      const tail = lines.length > TAIL_LINES
        ? "… " + (lines.length - TAIL_LINES) + " earlier lines in the full log …\n" + lines.slice(-TAIL_LINES).join("\n")
        : text;
      if (pre.textContent !== tail) {
        pre.textContent = tail || "(no log yet)";
        if ($("follow-log").checked) pre.scrollTop = pre.scrollHeight;
      }
    } catch (err) {
      pre.textContent = err.message;
    }
  }

  async function loadResults() {
    const panel = $("results-panel");
    const root = clear($("results"));
    try {
      const results = await getJSON("/jobs/" + enc(jobId) + "/results");
      for (const [id, value] of Object.entries(results)) {
        const body = value && typeof value === "object" && "value" in value
          ? el("pre", { class: "code-block result-value", text: typeof value.value === "string" ? value.value : JSON.stringify(value.value, null, 2) })
          : value && typeof value === "object" && value.href
            ? CCP.apiLink(value.href, id === "output" ? "output.zip" : id, { class: "button small", download: "" })
            : el("pre", { class: "code-block", text: JSON.stringify(value, null, 2) });
        append(root, el("div", { class: "result", dataset: { output: id } },
          el("h3", {}, el("span", { text: id }), " ",
            value && (value.mediaType || value.type) ? el("span", { class: "muted small", text: value.mediaType || value.type }) : null),
          body));
      }
      panel.hidden = false;
    } catch (err) {
      append(root, CCP.errorBox(err, "No results"));
      panel.hidden = false;
    }
  }

  async function poll(known) {
    clearTimeout(timer);
    if (deleted) return;
    let job = known;
    try {
      if (!job) job = await getJSON("/jobs/" + enc(jobId));
    } catch (err) {
      clear($("general-errors"));
      append($("general-errors"), CCP.errorBox(err, "Cannot load Execution " + jobId));
      if (err.status !== 404) timer = setTimeout(() => poll(), 3000);
      return;
    }
    clear($("general-errors"));
    const changed = job.status !== lastStatus;
    renderStatus(job);
    lastStatus = job.status;
    document.dispatchEvent(new CustomEvent("ccp:job", { detail: job }));  // for jobctl.js
    await loadLog();
    if (CCPJobs.isActive(job)) {
      timer = setTimeout(() => poll(), 1000);
    } else if (changed && job.status === "successful") {
      await loadResults();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    jobId = CCP.pathParts()[1];
    $("job-id").textContent = jobId;
    append($("full-log"), CCP.apiLink("/jobs/" + enc(jobId) + "/logs", "full log", { class: "small", newTab: true }));
    poll();
  });
  document.addEventListener("ccp:token", () => { lastStatus = null; poll(); });
})();
