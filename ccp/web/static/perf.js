/* /ui/executions/<id>: what the cache and warm pools did for this Execution (ccp/cache.py,
 * ccp/warmpool.py): a cache hit names the identical Execution whose outputs it has; a warm
 * runtime says it was launched ahead. Fills #perf-facts from the status document. */
"use strict";

(() => {
  const { el, append, clear, enc, getJSON } = CCP;

  function render(job) {
    const box = clear(document.getElementById("perf-facts"));
    if (job.cacheHit) {
      append(box, el("div", { class: "notice cache-hit" },
        el("strong", { text: "Cache hit" }), " — the outputs of Execution ",
        el("a", { href: CCPJobs.jobPage(job.cacheHit.jobID), class: "mono", text: job.cacheHit.jobID }),
        ", which ran the same Method on the same inputs and image. Nothing ran for this one."));
    }
    if (job.warmRuntime) {
      append(box, el("div", { class: "notice warm-runtime" },
        el("strong", { text: "Warm runtime" }),
        " — ran in a runtime launched ahead by the Infrastructure's warm pool (used once, then destroyed)."));
    }
  }

  async function poll(jobId) {
    try {
      const job = await getJSON("/jobs/" + enc(jobId));
      render(job);
      if (CCPJobs.isActive(job)) setTimeout(() => poll(jobId), 2000);
    } catch (_) {
      /* job.js says what went wrong */
    }
  }

  document.addEventListener("DOMContentLoaded", () => poll(CCP.pathParts()[1]));
  document.addEventListener("ccp:token", () => poll(CCP.pathParts()[1]));
})();
