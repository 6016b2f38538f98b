/* /ui/methods/<id>/execute: a form generated from the Method's input schemas, the code stubs,
 * and a link that reopens the form with the same inputs (?inputs=<urlencoded JSON>). */
"use strict";

(() => {
  const { el, append, clear, enc, getJSON } = CCP;
  const CONTROL = ["ccpmaxtime", "ccpreplicas"];
  const LANG_FILES = { python: "py", r: "R", julia: "jl", ipynb: "ipynb" };
  const $ = (id) => document.getElementById(id);
  const fields = []; // {id, spec, schema, kind, node, error}
  let method = null;
  let currentLang = "python";

  function fieldKind(spec, schema) {
    const many = spec.maxOccurs === "unbounded" || Number(spec.maxOccurs) > 1;
    if (Array.isArray(schema.enum) && !many) return "enum";
    if (schema.type === "array" || schema.type === "object" || many) return "json";
    if (schema.type === "boolean") return "boolean";
    if (schema.type === "integer" || schema.type === "number") return "number";
    return "string";
  }

  function control(field) {
    const { id, schema, kind } = field;
    const has = Object.prototype.hasOwnProperty.call(schema, "default");
    const common = { id: "in-" + id, name: id, disabled: Boolean(schema.readOnly) };
    if (kind === "boolean") {
      return el("input", { ...common, type: "checkbox", checked: has && schema.default === true });
    }
    if (kind === "enum") {
      const select = el("select", common);
      const required = (field.spec.minOccurs ?? 1) >= 1;
      if (!has || !required) append(select, el("option", { value: "", text: has ? "(default)" : "—" }));
      schema.enum.forEach((value, index) => append(select, el("option", {
        value: String(index), text: String(value), selected: has && value === schema.default })));
      return select;
    }
    if (kind === "json") {
      return el("textarea", { ...common, class: "code", rows: "3", spellcheck: "false",
        placeholder: "JSON, e.g. [1, 2]",
        text: has ? JSON.stringify(schema.default) : undefined });
    }
    if (kind === "number") {
      return el("input", { ...common, type: "number", step: schema.type === "integer" ? "1" : "any",
        min: schema.minimum !== undefined ? String(schema.minimum) : undefined,
        max: schema.maximum !== undefined ? String(schema.maximum) : undefined,
        value: has ? String(schema.default) : undefined });
    }
    return el("input", { ...common, type: "text", spellcheck: "false",
      maxlength: schema.maxLength !== undefined ? String(schema.maxLength) : undefined,
      value: has ? String(schema.default) : undefined });
  }

  function describe(field) {
    const { schema, spec } = field;
    const facts = [schema.type || "string"];
    if (schema.format) facts.push(schema.format);
    if (schema.minimum !== undefined) facts.push("≥ " + schema.minimum);
    if (schema.maximum !== undefined) facts.push("≤ " + schema.maximum);
    if (schema.maxLength !== undefined) facts.push("max " + schema.maxLength + " chars");
    if ((spec.minOccurs ?? 1) >= 1 && !Object.prototype.hasOwnProperty.call(schema, "default")) facts.push("required");
    if (schema.readOnly) facts.push("fixed by the author");
    return facts.join(" · ");
  }

  function build() {
    const main = clear($("fields"));
    const advanced = clear($("control-fields"));
    for (const [id, spec] of Object.entries(method.inputs || {})) {
      const schema = (spec && typeof spec.schema === "object" && spec.schema) || {};
      const field = { id, spec: spec || {}, schema, kind: fieldKind(spec || {}, schema) };
      field.node = control(field);
      field.error = el("p", { class: "field-error" });
      const label = el("label", { for: "in-" + id }, el("span", { text: spec.title || id }), " ",
        el("code", { class: "muted small", text: id }));
      const wrap = el("div", { class: "field" + (field.kind === "boolean" ? " check" : ""), dataset: { input: id } },
        field.kind === "boolean" ? el("div", { class: "check-row" }, field.node, label) : label,
        field.kind === "boolean" ? null : field.node,
        spec.description ? el("p", { class: "hint", text: spec.description }) : null,
        el("p", { class: "hint facts", text: describe(field) }),
        field.error);
      field.wrap = wrap;
      fields.push(field);
      append(CONTROL.includes(id) ? advanced : main, wrap);
    }
    if (!advanced.children.length) $("advanced").hidden = true;
  }

  /** The values of the form: {inputs, problems}. Disabled (read-only) and empty fields are left
   * out, so the server applies the defaults. */
  function values() {
    const inputs = {};
    const problems = {};
    for (const field of fields) {
      const { id, node, kind, schema } = field;
      if (node.disabled) continue;
      if (kind === "boolean") {
        inputs[id] = node.checked;
      } else if (kind === "enum") {
        if (node.value !== "") inputs[id] = schema.enum[Number(node.value)];
      } else if (kind === "json") {
        if (node.value.trim() === "") continue;
        try {
          inputs[id] = JSON.parse(node.value);
        } catch (err) {
          problems[id] = "not valid JSON: " + err.message;
        }
      } else if (kind === "number") {
        if (node.value.trim() === "") {
          if (node.validity && node.validity.badInput) problems[id] = "not a number";
          continue;
        }
        inputs[id] = Number(node.value);
      } else if (node.value !== "") {
        inputs[id] = node.value;
      }
    }
    return { inputs, problems };
  }

  function setValue(field, value) {
    const { node, kind, schema } = field;
    if (node.disabled) return;
    if (kind === "boolean") node.checked = value === true;
    else if (kind === "enum") {
      const index = schema.enum.findIndex((v) => v === value);
      if (index >= 0) node.value = String(index);
    } else if (kind === "json") node.value = JSON.stringify(value);
    else node.value = value === null || value === undefined ? "" : String(value);
  }

  function prefill() {
    const raw = new URLSearchParams(location.search).get("inputs");
    if (!raw) return;
    let given;
    try {
      given = JSON.parse(raw);
    } catch (err) {
      append($("general-errors"), CCP.errorBox({ title: "Bad link", message: "?inputs= is not JSON: " + err.message }));
      return;
    }
    if (!given || typeof given !== "object" || Array.isArray(given)) return;
    const unknown = [];
    for (const [id, value] of Object.entries(given)) {
      const field = fields.find((f) => f.id === id);
      if (field) setValue(field, value);
      else unknown.push(id);
    }
    if (unknown.length) {
      CCP.flash("The link names inputs this Method does not have: " + unknown.join(", "), "info");
    }
    if (fields.some((f) => CONTROL.includes(f.id) && Object.prototype.hasOwnProperty.call(given, f.id))) {
      $("advanced").open = true;
    }
  }

  function updateShare() {
    const { inputs } = values();
    const url = location.origin + location.pathname + "?inputs=" + encodeURIComponent(JSON.stringify(inputs));
    $("share-link").value = url;
    $("open-link").href = url;
  }

  function clearErrors() {
    for (const field of fields) {
      field.error.textContent = "";
      field.wrap.classList.remove("has-error");
    }
    clear($("general-errors"));
  }

  function fieldError(id, message) {
    const field = fields.find((f) => f.id === id);
    if (!field) return false;
    field.error.textContent = message;
    field.wrap.classList.add("has-error");
    if (CONTROL.includes(id)) $("advanced").open = true;
    return true;
  }

  async function execute(event) {
    event.preventDefault();
    clearErrors();
    const result = clear($("exec-result"));
    const { inputs, problems } = values();
    if (Object.keys(problems).length) {
      for (const [id, message] of Object.entries(problems)) fieldError(id, message);
      return;
    }
    $("execute").disabled = true;
    $("exec-state").textContent = "Submitting…";
    try {
      // respond-async: the job at once (a Method that can run synchronously would hold the request)
      const { data } = await CCP.sendJSON("POST", "/processes/" + enc(method.id) + "/execution", { inputs },
        { Prefer: "respond-async" });
      append(result, el("div", { class: "success-box" },
        el("span", {}, "Execution ", el("code", { text: data.jobID }), " is ", CCP.badge(data.status), ". "),
        el("a", { id: "job-link", class: "button primary small", href: "/ui/executions/" + enc(data.jobID),
          text: "Follow the Execution →" })));
    } catch (err) {
      const match = /'(\w+)'/.exec(err.message);
      if (!(match && fieldError(match[1], err.message))) {
        append($("general-errors"), CCP.errorBox(err, "Not executed: " + err.title));
      }
    } finally {
      $("execute").disabled = false;
      $("exec-state").textContent = "";
    }
  }

  async function showCode(lang) {
    currentLang = lang;
    for (const tab of document.querySelectorAll("#code-tabs [data-lang]")) {
      const active = tab.dataset.lang === lang;
      tab.classList.toggle("active", active);
      tab.setAttribute("aria-selected", String(active));
    }
    const code = $("code");
    const errorSlot = clear($("code-error"));
    const actions = clear($("code-actions"));
    code.textContent = "Loading…";
    const path = "/processes/" + enc(method.id) + "/code/" + lang;
    try {
      const text = await CCP.getText(path);
      if (currentLang !== lang) return;
      code.textContent = lang === "ipynb" ? prettyJSON(text) : text;
      append(actions,
        CCP.apiLink(path, "Download stub", { class: "button small", download: method.id + "." + LANG_FILES[lang] }),
        el("button", { type: "button", class: "small ghost", text: "Copy", onclick: () => copy(code.textContent) }));
    } catch (err) {
      if (currentLang !== lang) return;
      code.textContent = "";
      append(errorSlot, CCP.errorBox(err, "No " + lang + " stub (" + err.status + ")"));
    }
  }

  function prettyJSON(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 1);
    } catch (_) {
      return text;
    }
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      CCP.flash("Copied.", "ok");
    } catch (_) {
      CCP.flash("Copying is not allowed here: select the text and copy it.", "info");
    }
  }

  async function init() {
    const parts = CCP.pathParts();
    const id = parts[1];
    $("edit-link").href = "/ui/methods/" + enc(id) + "/edit";
    try {
      method = await getJSON("/processes/" + enc(id));
    } catch (err) {
      append($("general-errors"), CCP.errorBox(err, "Cannot load Method '" + id + "'"));
      $("execute").disabled = true;
      return;
    }
    document.title = "Execute " + method.title + " · CCP";
    $("method-title").textContent = "Execute: " + (method.title || method.id);
    const infra = CCP.compatibleWith(method);
    $("method-sub").textContent = method.id + " · version " + method.version +
      (infra ? " · runs on " + (infra.title || infra.id) : "");
    $("method-description").textContent = method.description || "";
    if (!method.executable) {
      append($("general-errors"), CCP.errorBox({ title: "Not executable",
        message: "This Method's infrastructure is not configured on this server." }));
    }
    build();
    prefill();
    updateShare();
    $("exec-form").addEventListener("submit", execute);
    $("exec-form").addEventListener("input", updateShare);
    $("exec-form").addEventListener("change", updateShare);
    $("copy-link").addEventListener("click", () => copy($("share-link").value));
    for (const tab of document.querySelectorAll("#code-tabs [data-lang]")) {
      tab.addEventListener("click", () => showCode(tab.dataset.lang));
    }
    showCode("python");
  }

  document.addEventListener("DOMContentLoaded", init);
})();
