/* /ui/: counts of Methods and Executions, the Infrastructures. */
"use strict";

(() => {
  const { el, clear, append, getJSON } = CCP;

  async function load() {
    const methods = document.getElementById("stat-methods");
    const executions = document.getElementById("stat-executions");
    const list = document.getElementById("infrastructures");
    try {
      const data = await getJSON("/processes");
      const executable = data.processes.filter((p) => p.executable).length;
      methods.textContent = data.processes.length + " Methods, " + executable + " executable";
    } catch (err) {
      methods.textContent = err.message;
    }
    try {
      const data = await getJSON("/jobs?limit=1");
      executions.textContent = data.numberMatched + " Executions";
    } catch (err) {
      executions.textContent = err.message;
    }
    try {
      const data = await getJSON("/infrastructures");
      clear(list);
      for (const infra of data.infrastructures) {
        const health = (infra.health || {}).healthy;
        append(list, el("li", { dataset: { infrastructure: infra.id } },
          el("a", { href: "/ui/infrastructures/" + CCP.enc(infra.id) }, el("strong", { text: infra.name || infra.id })), " ",
          el("span", { class: "tag", text: infra.type }), " ",
          el("code", { class: "muted", text: infra.id }), " ",
          el("span", { class: "badge infra-health " + (health === true ? "status-successful" : health === false ? "status-failed" : "status-unknown"),
            text: health === true ? "healthy" : health === false ? "unhealthy" : "not checked" }),
          el("div", { class: "muted small", text: infra.description || "" })));
      }
      if (!data.infrastructures.length) append(list, el("li", { class: "muted", text: "None configured." }));
    } catch (err) {
      clear(list);
      append(list, el("li", {}, CCP.errorBox(err)));
    }
  }

  document.addEventListener("DOMContentLoaded", load);
  document.addEventListener("ccp:token", load);
})();
