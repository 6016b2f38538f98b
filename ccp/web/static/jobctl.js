/* Job control on the job page (/ui/executions/<id>): suspend, resume and extend, offered only
 * where the Infrastructure's manifest (GET /infrastructures/{id}: features, limits) says so.
 * job.js announces every status it reads with a "ccp:job" event; this file draws from it. */
"use strict";

(() => {
  const { el, append, clear, enc, getJSON } = CCP;
  const manifests = {};
  let drawn = null;

  function manifestOf(id) {
    if (!(id in manifests)) manifests[id] = getJSON("/infrastructures/" + enc(id)).catch(() => null);
    return manifests[id];
  }

  function seconds(value) {
    return Math.round(Number(value) || 0) + " s";
  }

  async function act(path, body, done) {
    try {
      const { data } = await CCP.sendJSON("POST", path, body);
      done(data);
      render(data);
    } catch (err) {
      CCP.flashError(err, "Not done");
    }
  }

  function suspendButtons(job, base) {
    if (job.status !== "running") return [];
    if (job.suspended || job.message && job.message.startsWith("Suspend requested")) {
      return [CCP.actionButton("Resume", () => act(base + "/resume", undefined, () =>
        CCP.flash("Execution resumed; its time limit runs again.", "ok")),
      { class: "small primary resume", title: "Let it run on where it stopped" })];
    }
    return [CCP.actionButton("Suspend", () => act(base + "/suspend", undefined, (data) =>
      CCP.flash(data.suspended ? "Execution suspended; its time limit stands still."
        : "Suspend requested: it takes effect as soon as the runtime allows.", "ok")),
    { class: "small suspend", title: "Freeze every process of it; the time limit stands still" })];
  }

  function extendForm(job, base, limits) {
    const room = Math.max(0, (limits.maxTime || 0) - (job.timeLimit || 0));
    if (room <= 0) return el("span", { class: "muted small", text: "At the Infrastructure's maximum time limit." });
    const input = el("input", { type: "number", id: "extend-seconds", min: "1", max: String(room),
      step: "1", value: String(Math.min(600, room)), class: "small", "aria-label": "Seconds to add" });
    const form = el("form", { class: "extend-form inline" },
      el("label", { for: "extend-seconds", class: "small", text: "Add " }), input,
      el("span", { class: "small", text: " s " }),
      el("button", { type: "submit", class: "small extend", text: "Extend" }),
      el("span", { class: "muted small", text: " up to " + seconds(room) + " more (maximum " + seconds(limits.maxTime) + ")" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(base + "/extend", { seconds: Number(input.value) }, (data) =>
        CCP.flash("Time limit now " + seconds(data.timeLimit) + ".", "ok"));
    });
    return form;
  }

  async function render(job) {
    const root = document.getElementById("job-control");
    if (!root || !job || !job.jobID) return;
    const manifest = job.infrastructure ? await manifestOf(job.infrastructure) : null;
    const features = (manifest && manifest.features) || {};
    const limits = (manifest && manifest.limits) || {};
    const active = CCP.ACTIVE.includes(job.status);
    const key = JSON.stringify([job.status, job.suspended, job.message && job.message.slice(0, 16),
      job.timeLimit, job.suspendedSeconds, features.suspend, features.extend]);
    if (key === drawn || document.activeElement && document.activeElement.id === "extend-seconds") return;
    drawn = key;
    clear(root);
    const base = "/jobs/" + enc(job.jobID);
    if (job.timeLimit === undefined) return;  // an imported Execution may not say
    const state = el("p", { class: "small" },
      "Time limit ", el("strong", { id: "time-limit", text: seconds(job.timeLimit) }),
      job.extendedSeconds ? " (extended by " + seconds(job.extendedSeconds) + ")" : "",
      job.suspendedSeconds ? " · suspended " + seconds(job.suspendedSeconds) + " in all" : "");
    if (job.suspended) {
      append(state, " ", el("span", { class: "badge status-accepted", id: "suspended-badge",
        text: "suspended since " + CCP.fmtTime(job.suspendedSince) }));
    }
    append(root, state);
    if (!active) return;
    const controls = el("div", { class: "button-row job-control-buttons" });
    if (features.suspend) append(controls, suspendButtons(job, base));
    if (features.extend) append(controls, extendForm(job, base, limits));
    if (!features.suspend && !features.extend) {
      append(controls, el("span", { class: "muted small", id: "no-job-control",
        text: "Infrastructure " + job.infrastructure + " offers no suspend or extend." }));
    }
    append(root, controls);
  }

  document.addEventListener("ccp:job", (event) => render(event.detail));
  document.addEventListener("ccp:token", () => {
    for (const id of Object.keys(manifests)) delete manifests[id];
    drawn = null;
  });
})();
