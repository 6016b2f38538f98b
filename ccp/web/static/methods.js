/* /ui/methods: Methods grouped by category, search, upload, download, edit, execute. */
"use strict";

(() => {
  const { el, append, clear, getJSON, enc, metadataTitles, compatibleWith } = CCP;
  const UNCATEGORISED = "Uncategorised";
  let methods = [];
  let infrastructures = {};

  function searchText(method) {
    return [method.id, method.title, method.description, ...(method.keywords || [])]
      .filter(Boolean).join(" ").toLowerCase();
  }

  function card(method) {
    const infra = compatibleWith(method);
    const known = infra && infrastructures[infra.id];
    const authors = metadataTitles(method, "author");
    const base = "/ui/methods/" + enc(method.id);
    const node = el("article", { class: "method-card", dataset: { search: searchText(method) } },
      el("div", { class: "method-head" },
        el("h3", { class: "method-title", text: method.title || method.id }),
        el("span", { class: "tag version", text: "v" + (method.version || "?") }),
        method.executable
          ? el("span", { class: "badge ok", text: "executable" })
          : el("span", { class: "badge off", text: "not executable",
            title: "its infrastructure is not configured on this server" })),
      el("div", { class: "method-sub muted" },
        el("code", { class: "method-id", text: method.id }),
        authors.length ? " · by " + authors.join(", ") : ""),
      method.description ? el("p", { class: "method-desc", text: method.description }) : null,
      (method.keywords || []).length
        ? el("div", { class: "keywords" }, method.keywords.map((k) => el("span", { class: "chip", text: k })))
        : null,
      el("div", { class: "method-infra small" }, "Runs on: ",
        infra
          ? el("span", { class: known ? "" : "warn", text: (known ? known.name : infra.title || infra.id) +
            (known ? " (" + known.type + ")" : " — unknown infrastructure '" + infra.id + "'") })
          : el("span", { class: "warn", text: "no compatible infrastructure" })),
      el("div", { class: "card-actions" },
        method.executable
          ? el("a", { class: "button primary small", href: base + "/execute", text: "Execute" })
          : el("span", { class: "button small disabled", text: "Execute", title: "not executable here" }),
        el("a", { class: "button small", href: base + "/edit", text: "Edit" }),
        CCP.apiLink("/processes/" + enc(method.id) + "?f=json", "Download JSON",
          { class: "button small ghost", download: method.id + ".json" })));
    return node;
  }

  function render() {
    const root = document.getElementById("methods");
    clear(root);
    const executable = methods.filter((m) => m.executable).length;
    document.getElementById("summary").textContent =
      methods.length + " Methods · " + executable + " executable";
    const groups = new Map();
    for (const method of methods) {
      const categories = metadataTitles(method, "category");
      for (const category of categories.length ? categories : [UNCATEGORISED]) {
        if (!groups.has(category)) groups.set(category, []);
        groups.get(category).push(method);
      }
    }
    const names = [...groups.keys()].sort((a, b) =>
      a === UNCATEGORISED ? 1 : b === UNCATEGORISED ? -1 : a.localeCompare(b));
    for (const name of names) {
      const list = groups.get(name).sort((a, b) => String(a.title).localeCompare(String(b.title)));
      append(root, el("section", { class: "category" },
        el("h2", {}, el("span", { text: name }), " ",
          el("span", { class: "count", text: String(list.length) })),
        el("div", { class: "method-grid" }, list.map(card))));
    }
    append(root, el("p", { class: "muted empty", id: "no-match", hidden: true,
      text: "No Method matches the search." }));
    if (!methods.length) append(root, el("p", { class: "muted", text: "No Methods yet: upload one or write a new one." }));
    filter();
  }

  function filter() {
    const words = document.getElementById("search").value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const section of document.querySelectorAll("#methods section.category")) {
      let inSection = 0;
      for (const cardNode of section.querySelectorAll(".method-card")) {
        const match = words.every((w) => cardNode.dataset.search.includes(w));
        cardNode.hidden = !match;
        if (match) inSection += 1;
      }
      section.hidden = inSection === 0;
      shown += inSection;
    }
    const none = document.getElementById("no-match");
    if (none) none.hidden = shown > 0 || !methods.length;
  }

  async function load() {
    try {
      const [processes, infras] = await Promise.all([getJSON("/processes"), getJSON("/infrastructures")]);
      infrastructures = Object.fromEntries(infras.infrastructures.map((i) => [i.id, i]));
      methods = processes.processes;
      render();
    } catch (err) {
      const root = clear(document.getElementById("methods"));
      append(root, CCP.errorBox(err, "Cannot load the Methods"));
      document.getElementById("summary").textContent = "";
    }
  }

  async function upload(event) {
    const input = event.target;
    const file = input.files && input.files[0];
    const result = clear(document.getElementById("upload-result"));
    if (!file) return;
    try {
      const text = await file.text();
      const { data } = await CCP.sendJSON("POST", "/processes", JSON.parse(text));
      CCP.flash("Deployed '" + data.title + "' (" + data.id + ", version " + data.version + ").", "ok",
        { href: "/ui/methods/" + enc(data.id) + "/edit", text: "Open in the editor" });
      await load();
    } catch (err) {
      const error = err instanceof SyntaxError
        ? { title: "Not a JSON file", message: file.name + ": " + err.message, problems: [] }
        : err;
      append(result, CCP.errorBox(error, "Upload of " + file.name + " failed: " + (error.title || "")));
    } finally {
      input.value = "";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("search").addEventListener("input", filter);
    document.getElementById("refresh").addEventListener("click", load);
    document.getElementById("upload-file").addEventListener("change", upload);
    load();
  });
  document.addEventListener("ccp:token", load);
})();
