/* Actions on one Execution, shared by the executions list and the job page. */
"use strict";

const CCPJobs = (() => {
  const { el, append, enc } = CCP;
  const PROV_FORMATS = ["json", "ttl", "xml", "provn"];

  function isActive(job) {
    return CCP.ACTIVE.includes(job.status);
  }

  function jobPage(id) {
    return "/ui/executions/" + enc(id);
  }

  /**
   * Buttons and links for a job: archive, provenance, re-execute, delete (finished) or
   * dismiss (accepted/running). `hooks.changed(job)` after a dismiss, `hooks.deleted(id)`,
   * `hooks.reexecuted(newJob)`.
   */
  function actions(job, hooks) {
    const on = hooks || {};
    const id = job.jobID;
    const base = "/jobs/" + enc(id);
    const box = el("div", { class: "job-actions" });
    if (CCP.linkOf(job, "archive")) {
      append(box, CCP.apiLink(base + "/archive", "Archive", {
        class: "button small archive-link", download: "ccp-" + id + ".zip",
        title: "The whole Execution archive (zip)" }));
    }
    if (CCP.linkOf(job, "provenance")) {
      append(box, el("span", { class: "prov-links" },
        el("span", { class: "muted small", text: "Provenance:" }),
        PROV_FORMATS.map((f) => CCP.apiLink(base + "/provenance" + (f === "json" ? "" : "?f=" + f), f,
          { class: "prov small", newTab: true, title: "PROV record as " + f }))));
    }
    if (!isActive(job)) {
      append(box, CCP.actionButton("Re-execute", () => reexecute(id, false, on), {
        class: "small reexecute", title: "Run the same request with the same Method version" }));
      append(box, CCP.actionButton("…with latest version", () => reexecute(id, true, on), {
        class: "small ghost", title: "Run the same request with the Method's current version" }));
      append(box, CCP.confirmButton("Delete", "Click again to delete", async () => {
        try {
          await CCP.api("DELETE", base);
          if (on.deleted) on.deleted(id);
        } catch (err) {
          CCP.flashError(err, "Not deleted");
        }
      }, { class: "small danger delete" }));
    } else {
      append(box, CCP.actionButton("Dismiss", async (button) => {
        button.textContent = "Dismissing…";
        try {
          const { data } = await CCP.sendJSON("DELETE", base);
          if (on.changed) on.changed(data);
        } catch (err) {
          CCP.flashError(err, "Not dismissed");
        } finally {
          button.textContent = "Dismiss";
        }
      }, { class: "small danger dismiss", title: "Stop it: cancel script, then the runtime is destroyed" }));
    }
    return box;
  }

  async function reexecute(id, latest, hooks) {
    try {
      const { data } = await CCP.sendJSON("POST", "/jobs/" + enc(id) + "/reexecute" + (latest ? "?method=latest" : ""));
      CCP.flash("Re-executed as " + data.jobID + ".", "ok", { href: jobPage(data.jobID), text: "Follow it →" });
      if (hooks.reexecuted) hooks.reexecuted(data);
    } catch (err) {
      CCP.flashError(err, "Not re-executed");
    }
  }

  function progressBar(job) {
    const value = Math.max(0, Math.min(100, Number(job.progress) || 0));
    const bar = el("div", { class: "progress status-" + job.status, role: "progressbar",
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(value) });
    const fill = el("div", { class: "progress-fill" });
    fill.style.width = value + "%";
    append(bar, fill);
    return bar;
  }

  return { actions, isActive, jobPage, progressBar };
})();
