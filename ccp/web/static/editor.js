/* /ui/methods/new and /ui/methods/<id>/edit: the Method editor.
 *
 * Save sends the whole Method: POST /processes for a new id (or a clone of a read-only one),
 * PUT /processes/<id> for a deployed one. The server validates; each problem it lists is shown
 * next to the field it names ("'version'", "input 'x'", "'execute-script'", …).
 */
"use strict";

(() => {
  const { el, append, clear, enc, getJSON, metadataTitles, compatibleWith } = CCP;
  const TYPES = ["string", "integer", "number", "boolean", "array", "object"];
  const PHASES = ["deploy", "execute", "undeploy", "cancel"];
  const CONTROL = ["ccpimage", "ccpmaxtime", "ccpreplicas"];
  const SERVER_LINKS = ["self", "alternate", "http://www.opengis.net/def/rel/ogc/1.0/execute",
    "http://www.opengis.net/def/rel/ogc/1.0/job-list", "compatibleWith"];
  const SHORTCUTS = {
    stdout: { title: "Standard output of the execute script", schema: { type: "string", contentMediaType: "text/plain" } },
    stderr: { title: "Standard error of the execute script", schema: { type: "string", contentMediaType: "text/plain" } },
    output: { title: "Everything written to /ccp_data, zipped", schema: { type: "string", contentMediaType: "application/zip" } },
  };
  const BLANK = {
    id: "", title: "", version: "1.0.0", description: "", keywords: [], metadata: [],
    inputs: { ccpimage: { title: "Runtime image", schema: { type: "string", default: "" }, minOccurs: 1, maxOccurs: 1 } },
    outputs: { output: SHORTCUTS.output, stdout: SHORTCUTS.stdout },
    additionalParameters: { parameters: [] },
    links: [],
  };

  const state = { mode: "new", loadedId: null, readOnly: false, original: structuredClone(BLANK), infrastructures: [], baseline: null };
  const $ = (id) => document.getElementById(id);

  // --- rows ---------------------------------------------------------------------------------

  function cell(...children) {
    return el("td", {}, ...children);
  }

  function defaultText(value) {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function inputRow(id, spec) {
    const schema = (spec && spec.schema) || {};
    const fixed = id === "ccpimage";
    const type = el("select", { class: "in-type", "aria-label": "type" },
      TYPES.map((t) => el("option", { value: t, text: t, selected: (schema.type || "string") === t })));
    const row = el("tr", { class: "input-row" },
      cell(el("input", { class: "in-id", value: id, readOnly: fixed, spellcheck: "false", "aria-label": "input id",
        title: fixed ? "ccpimage is always present: the runtime image" : undefined })),
      cell(el("input", { class: "in-title", value: spec.title || "", "aria-label": "input title" })),
      cell(type),
      cell(el("input", { class: "in-format narrow", value: schema.format || "", "aria-label": "format", placeholder: "—" })),
      cell(el("input", { class: "in-min tiny", type: "number", min: "0", "aria-label": "minOccurs",
        value: spec.minOccurs === undefined ? "" : String(spec.minOccurs) })),
      cell(el("input", { class: "in-max tiny", "aria-label": "maxOccurs", placeholder: "1",
        value: spec.maxOccurs === undefined ? "" : String(spec.maxOccurs) })),
      cell(el("input", { class: "in-default", value: defaultText(schema.default), "aria-label": "default", spellcheck: "false" })),
      cell(el("input", { class: "in-readonly", type: "checkbox", checked: Boolean(schema.readOnly), "aria-label": "read-only" })),
      cell(fixed ? el("span", { class: "muted small", text: "required" })
        : el("button", { type: "button", class: "small ghost remove", text: "Remove", onclick: () => { row.remove(); preview(); } })));
    row.spec = structuredClone(spec || {});
    if (fixed) type.disabled = true;
    return row;
  }

  function outputRow(id, spec) {
    const schema = (spec && spec.schema) || {};
    const row = el("tr", { class: "output-row" },
      cell(el("input", { class: "out-id", value: id, spellcheck: "false", "aria-label": "output id" })),
      cell(el("input", { class: "out-title", value: (spec && spec.title) || "", "aria-label": "output title" })),
      cell(el("input", { class: "out-media", value: schema.contentMediaType || "", "aria-label": "media type", placeholder: "text/plain" })),
      cell(el("button", { type: "button", class: "small ghost remove", text: "Remove", onclick: () => { row.remove(); preview(); } })));
    row.spec = structuredClone(spec || {});
    return row;
  }

  function addOutputShortcut(id) {
    const existing = [...document.querySelectorAll("#outputs .out-id")].some((i) => i.value === id);
    if (existing) {
      CCP.flash("The Method already has an output '" + id + "'.", "info");
      return;
    }
    append($("outputs"), outputRow(id, SHORTCUTS[id]));
    preview();
  }

  // --- form <-> Method document ---------------------------------------------------------------

  function splitList(text, separator) {
    return text.split(separator).map((s) => s.trim()).filter(Boolean);
  }

  function fill(method) {
    $("f-id").value = method.id || "";
    $("f-title").value = method.title || "";
    $("f-version").value = method.version || "";
    $("f-description").value = method.description || "";
    $("f-keywords").value = (method.keywords || []).join(", ");
    $("f-categories").value = metadataTitles(method, "category").join(", ");
    $("f-authors").value = metadataTitles(method, "author").join("; ");
    fillInfrastructures(compatibleWith(method));
    const inputs = clear($("inputs"));
    const given = { ...(method.inputs || {}) };
    if (!given.ccpimage) given.ccpimage = BLANK.inputs.ccpimage;
    // the Method's own inputs first, then the control inputs
    const ids = Object.keys(given);
    for (const id of [...ids.filter((i) => !CONTROL.includes(i)), ...CONTROL.filter((i) => ids.includes(i))]) {
      append(inputs, inputRow(id, given[id] || {}));
    }
    const outputs = clear($("outputs"));
    for (const [id, spec] of Object.entries(method.outputs || {})) append(outputs, outputRow(id, spec || {}));
    const parameters = ((method.additionalParameters || {}).parameters || []);
    for (const phase of PHASES) {
      const parameter = parameters.find((p) => p && p.name === phase + "-script");
      const value = parameter ? parameter.value : [];
      $("f-" + phase + "-script").value = Array.isArray(value) ? value.join("\n") : String(value || "");
    }
    preview();
  }

  function fillInfrastructures(current) {
    const select = clear($("f-infrastructure"));
    const ids = state.infrastructures.map((i) => i.id);
    for (const infra of state.infrastructures) {
      append(select, el("option", { value: infra.id, text: (infra.name || infra.id) + " (" + infra.type + ")" }));
    }
    if (current && current.id && !ids.includes(current.id)) {
      append(select, el("option", { value: current.id, text: current.id + " — not configured here" }));
    }
    if (!select.options.length) append(select, el("option", { value: "", text: "no infrastructure configured" }));
    select.value = current && current.id ? current.id : (ids.includes("local") ? "local" : ids[0] || "");
  }

  function parseDefault(text, type) {
    if (text === "") return undefined;
    if (type === "string") return text;
    try {
      return JSON.parse(text);
    } catch (_) {
      return text; // the server names the mismatch
    }
  }

  function occurs(text) {
    const value = text.trim();
    if (value === "") return undefined;
    if (value === "unbounded") return value;
    return /^-?\d+$/.test(value) ? Number(value) : value;
  }

  function readInputs() {
    const inputs = {};
    for (const row of document.querySelectorAll("#inputs tr.input-row")) {
      const id = row.querySelector(".in-id").value.trim();
      const spec = structuredClone(row.spec || {});
      const schema = typeof spec.schema === "object" && spec.schema ? spec.schema : {};
      const title = row.querySelector(".in-title").value.trim();
      if (title) spec.title = title;
      else delete spec.title;
      schema.type = row.querySelector(".in-type").value;
      const format = row.querySelector(".in-format").value.trim();
      if (format) schema.format = format;
      else delete schema.format;
      const value = parseDefault(row.querySelector(".in-default").value, schema.type);
      if (value === undefined) delete schema.default;
      else schema.default = value;
      if (row.querySelector(".in-readonly").checked) schema.readOnly = true;
      else delete schema.readOnly;
      spec.schema = schema;
      for (const [key, cls] of [["minOccurs", ".in-min"], ["maxOccurs", ".in-max"]]) {
        const number = occurs(row.querySelector(cls).value);
        if (number === undefined) delete spec[key];
        else spec[key] = number;
      }
      inputs[id] = spec;
    }
    return inputs;
  }

  function readOutputs() {
    const outputs = {};
    for (const row of document.querySelectorAll("#outputs tr.output-row")) {
      const id = row.querySelector(".out-id").value.trim();
      const spec = structuredClone(row.spec || {});
      const title = row.querySelector(".out-title").value.trim();
      if (title) spec.title = title;
      else delete spec.title;
      const schema = typeof spec.schema === "object" && spec.schema ? spec.schema : { type: "string" };
      const media = row.querySelector(".out-media").value.trim();
      if (media) schema.contentMediaType = media;
      else delete schema.contentMediaType;
      spec.schema = schema;
      outputs[id] = spec;
    }
    return outputs;
  }

  /** The Method as Save sends it: the loaded document with every edited field replaced. */
  function collect() {
    const method = structuredClone(state.original);
    delete method.executable;
    method.id = $("f-id").value.trim();
    method.title = $("f-title").value.trim();
    method.version = $("f-version").value.trim();
    const description = $("f-description").value.trim();
    if (description) method.description = description;
    else delete method.description;
    method.keywords = splitList($("f-keywords").value, ",");
    const kept = (Array.isArray(method.metadata) ? method.metadata : [])
      .filter((m) => !m || (m.role !== "category" && m.role !== "author"));
    method.metadata = [
      ...splitList($("f-authors").value, ";").map((title) => ({ role: "author", title })),
      ...kept,
      ...splitList($("f-categories").value, ",").map((title) => ({ role: "category", title })),
    ];
    method.inputs = readInputs();
    method.outputs = readOutputs();
    const additional = typeof method.additionalParameters === "object" && method.additionalParameters
      ? method.additionalParameters : {};
    const others = (Array.isArray(additional.parameters) ? additional.parameters : [])
      .filter((p) => !(p && typeof p.name === "string" && p.name.endsWith("-script")));
    const scripts = [];
    for (const phase of PHASES) {
      const text = $("f-" + phase + "-script").value.replace(/\s+$/, "");
      if (text.trim()) scripts.push({ name: phase + "-script", value: text.split("\n") });
    }
    additional.parameters = [...scripts, ...others];
    method.additionalParameters = additional;
    const infrastructure = $("f-infrastructure").value;
    const chosen = state.infrastructures.find((i) => i.id === infrastructure);
    method.links = [
      ...(Array.isArray(method.links) ? method.links : []).filter((l) => !(l && SERVER_LINKS.includes(l.rel))),
    ];
    if (infrastructure) {
      method.links.unshift({ rel: "compatibleWith", href: "infrastructures/" + infrastructure,
        title: chosen ? chosen.name : infrastructure });
    }
    return method;
  }

  const VERSION_HINT = "Changed a deployed Method? Bump the version: every version is kept and each Execution records the one it ran.";

  function preview() {
    const method = collect();
    const text = JSON.stringify(method, null, 2);
    $("json-text").textContent = text;
    // remind to bump the version once a deployed Method differs from what was loaded
    const remind = state.mode === "edit" && !state.readOnly && state.baseline !== null &&
      text !== state.baseline && method.version === state.original.version;
    const hint = $("version-hint");
    hint.classList.toggle("remind", remind);
    hint.textContent = remind
      ? "You changed this Method: give it a new version before saving (a version's content never changes)."
      : VERSION_HINT;
  }

  function markClean() {
    state.baseline = JSON.stringify(collect(), null, 2);
    preview();
  }

  // --- errors next to fields --------------------------------------------------------------------

  function clearErrors() {
    for (const node of document.querySelectorAll(".field-error")) node.textContent = "";
    for (const node of document.querySelectorAll(".has-error")) node.classList.remove("has-error");
    for (const node of document.querySelectorAll("tr.row-error")) node.remove();
    clear($("general-errors"));
  }

  function fieldError(name, message) {
    const slot = document.querySelector('.field-error[data-error-for="' + name + '"]');
    if (!slot) return false;
    slot.textContent = slot.textContent ? slot.textContent + " · " + message : message;
    const field = slot.closest(".field");
    if (field) field.classList.add("has-error");
    return true;
  }

  function rowError(tbodyId, idClass, id, message, columns) {
    const row = [...document.querySelectorAll("#" + tbodyId + " tr:not(.row-error)")]
      .find((r) => r.querySelector(idClass).value.trim() === id);
    if (!row) return false;
    row.classList.add("has-error");
    const next = row.nextElementSibling;
    if (next && next.classList.contains("row-error")) {
      next.firstChild.textContent += " · " + message;
    } else {
      row.after(el("tr", { class: "row-error" }, el("td", { colspan: String(columns), class: "field-error", text: message })));
    }
    return true;
  }

  /** Where a problem belongs, from the field it names; false when it names none. */
  function place(problem) {
    let match = /\binput '([^']*)'/.exec(problem);
    if (match) return rowError("inputs", ".in-id", match[1], problem, 9) || fieldError("inputs", problem);
    match = /\boutput (?:id )?'([^']*)'/.exec(problem);
    if (match) return rowError("outputs", ".out-id", match[1], problem, 4) || fieldError("outputs", problem);
    match = /'((?:deploy|execute|undeploy|cancel)-script)'/.exec(problem);
    if (match) return fieldError(match[1], problem);
    if (/-script'|additionalParameters/.test(problem)) return fieldError("scripts", problem);
    if (/compatibleWith|infrastructure/i.test(problem)) return fieldError("infrastructure", problem);
    match = /'(id|title|version|description|keywords|inputs|outputs)'/.exec(problem);
    if (match) return fieldError(match[1], problem);
    return false;
  }

  function showErrors(err) {
    clearErrors();
    let problems = err.problems.length ? err.problems : [];
    if (!problems.length) {
      // 409s and other single-message errors: place them by what they are about
      if (err.title === "Version exists") problems = ["'version': " + err.message];
      else if (err.title === "Duplicate process" || /differs from/.test(err.message)) problems = ["'id': " + err.message];
    }
    const general = problems.filter((p) => !place(p));
    if (general.length || !problems.length) {
      append($("general-errors"), CCP.errorBox(
        { title: err.title, message: general.length ? general.join("; ") : err.message, problems: general },
        "Not saved: " + err.title));
    } else {
      append($("general-errors"), el("div", { class: "error-box", role: "alert" },
        el("strong", { text: "Not saved: " + err.title }),
        el("p", { text: problems.length + (problems.length === 1 ? " problem is" : " problems are") +
          " shown next to the fields below." })));
    }
    const first = document.querySelector(".has-error");
    if (first) first.scrollIntoView({ block: "center" });
  }

  // --- load / save / delete -----------------------------------------------------------------------

  function setMode(mode, id) {
    state.mode = mode;
    state.loadedId = id || null;
    const editing = mode === "edit";
    $("editor-heading").textContent = editing ? "Edit Method" : "New Method";
    $("editor-sub").textContent = editing
      ? (state.readOnly ? "Read-only: Save under a new id deploys a copy." : "Save replaces the deployed Method with a new version.")
      : "Describe the Method, its inputs and outputs, and the scripts that run it.";
    const link = $("execute-link");
    link.hidden = !editing;
    if (editing) link.href = "/ui/methods/" + enc(id) + "/execute";
    $("readonly-notice").hidden = !(editing && state.readOnly);
    const slot = clear($("delete-slot"));
    if (editing && !state.readOnly) {
      append(slot, CCP.confirmButton("Delete", "Click again to delete", remove, { class: "danger" }));
    }
    const path = editing ? "/ui/methods/" + enc(id) + "/edit" : "/ui/methods/new";
    if (location.pathname !== path) history.replaceState(null, "", path);
    document.title = (editing ? "Edit " + id : "New Method") + " · CCP";
  }

  /** Can this user change the Method? A PUT without a body is refused before anything
   * changes: 403 (read-only, or someone else's) or 400 (it could be replaced). */
  async function probeReadOnly(method) {
    if (typeof method.readOnly === "boolean") return { readOnly: method.readOnly, reason: "" };
    try {
      await CCP.api("PUT", "/processes/" + enc(method.id), { headers: { "Content-Type": "application/json" } });
    } catch (err) {
      if (err.status === 403) return { readOnly: true, reason: err.message + "." };
    }
    return { readOnly: false, reason: "" };
  }

  async function load(id) {
    try {
      const method = await getJSON("/processes/" + enc(id));
      const access = await probeReadOnly(method);
      state.readOnly = access.readOnly;
      $("readonly-reason").textContent = access.reason;
      state.original = structuredClone(method);
      fill(method);
      setMode("edit", method.id);
      markClean();
    } catch (err) {
      clearErrors();
      append($("general-errors"), CCP.errorBox(err, "Cannot load Method '" + id + "'"));
      setMode("new");
    }
  }

  async function save(event) {
    event.preventDefault();
    const method = collect();
    const replace = state.mode === "edit" && !state.readOnly && method.id === state.loadedId;
    $("save").disabled = $("save-top").disabled = true;
    $("save-state").textContent = "Saving…";
    try {
      if (replace) {
        await CCP.api("PUT", "/processes/" + enc(method.id), { json: method });
      } else {
        await CCP.sendJSON("POST", "/processes", method);
      }
      clearErrors();
      await load(method.id);
      CCP.flash((replace ? "Saved '" : "Deployed '") + method.id + "' version " + method.version + ".", "ok",
        { href: "/ui/methods/" + enc(method.id) + "/execute", text: "Execute it" });
    } catch (err) {
      showErrors(err);
    } finally {
      $("save").disabled = $("save-top").disabled = false;
      $("save-state").textContent = "";
    }
  }

  async function remove() {
    const id = state.loadedId;
    try {
      await CCP.api("DELETE", "/processes/" + enc(id));
      state.original = collect();
      setMode("new");
      CCP.flash("Deleted '" + id + "'. The form still holds it: Save deploys it again.", "ok",
        { href: "/ui/methods", text: "All Methods" });
    } catch (err) {
      CCP.flashError(err, "Not deleted");
    }
  }

  function reset() {
    clearErrors();
    state.original = structuredClone(BLANK);
    state.readOnly = false;
    fill(BLANK);
    setMode("new");
    markClean();
  }

  async function init() {
    try {
      state.infrastructures = (await getJSON("/infrastructures")).infrastructures;
    } catch (err) {
      append($("general-errors"), CCP.errorBox(err, "Cannot load the infrastructures"));
    }
    const parts = CCP.pathParts();
    try {
      if (parts[0] === "methods" && parts[2] === "edit" && parts[1]) await load(parts[1]);
      else reset();
    } finally {
      $("editor-fields").disabled = false;  // the form is filled: typing can begin
    }
    $("editor").addEventListener("submit", save);
    $("editor").addEventListener("input", preview);
    $("editor").addEventListener("change", preview);
    $("clear").addEventListener("click", reset);
    $("add-input").addEventListener("click", () => {
      const row = inputRow("", { schema: { type: "string" }, minOccurs: 0, maxOccurs: 1 });
      append($("inputs"), row);
      row.querySelector(".in-id").focus();
      preview();
    });
    $("add-output").addEventListener("click", () => {
      const row = outputRow("", { schema: { type: "string" } });
      append($("outputs"), row);
      row.querySelector(".out-id").focus();
      preview();
    });
    $("add-stdout").addEventListener("click", () => addOutputShortcut("stdout"));
    $("add-stderr").addEventListener("click", () => addOutputShortcut("stderr"));
    $("add-zip").addEventListener("click", () => addOutputShortcut("output"));
  }

  document.addEventListener("DOMContentLoaded", init);
})();
