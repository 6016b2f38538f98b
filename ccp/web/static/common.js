/* CCP web pages: shared helpers. Plain JavaScript, no build step, no dependencies.
 *
 * Rules every page follows:
 *  - all data comes from the JSON API with fetch() on this origin (CCP.api*);
 *  - every user-provided string enters the DOM as text (CCP.el / textContent), never as markup;
 *  - a token saved in the header field is sent as "Authorization: Bearer <token>" on every
 *    request, including downloads (which then go through fetch + a blob URL).
 */
"use strict";

const CCP = (() => {
  const TOKEN_KEY = "ccp.token";
  const STATUSES = ["created", "accepted", "running", "successful", "failed", "dismissed"];
  const ACTIVE = ["accepted", "running"];

  // --- token ------------------------------------------------------------------------------

  function token() {
    try {
      return localStorage.getItem(TOKEN_KEY) || "";
    } catch (_) {
      return "";
    }
  }

  function setToken(value) {
    try {
      if (value) localStorage.setItem(TOKEN_KEY, value);
      else localStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      /* storage disabled: the token lives for this page only */
    }
  }

  function authHeaders(extra) {
    const headers = new Headers(extra || {});
    const value = token();
    if (value) headers.set("Authorization", "Bearer " + value);
    return headers;
  }

  // --- API --------------------------------------------------------------------------------

  /** An error answer of the API: an OGC exception (type, title, status, detail, problems). */
  class ApiError extends Error {
    constructor(status, body, fallback) {
      const detail = body && typeof body === "object" ? body.detail || body.title : "";
      super(detail || fallback || "HTTP " + status);
      this.status = status;
      this.title = (body && body.title) || "Error " + status;
      this.problems = body && Array.isArray(body.problems) ? body.problems.map(String) : [];
      this.body = body;
    }
  }

  /** Links in API documents carry the server's public URL; ask this origin for the same path. */
  function apiPath(href) {
    const url = new URL(href, location.href);
    return url.pathname + url.search;
  }

  function enc(value) {
    return encodeURIComponent(value);
  }

  async function api(method, path, options) {
    const opts = options || {};
    const headers = authHeaders(opts.headers);
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers.set("Content-Type", "application/json");
    }
    let response;
    try {
      response = await fetch(apiPath(path), { method, headers, body, credentials: "same-origin" });
    } catch (err) {
      throw new ApiError(0, null, "the server cannot be reached: " + err.message);
    }
    if (!response.ok) {
      const text = await response.text();
      let parsed = null;
      try {
        parsed = JSON.parse(text);
      } catch (_) {
        /* not JSON */
      }
      throw new ApiError(response.status, parsed, text.slice(0, 300) || response.statusText);
    }
    return response;
  }

  async function getJSON(path) {
    return (await api("GET", path)).json();
  }

  async function getText(path) {
    return (await api("GET", path, { headers: { Accept: "text/plain, */*" } })).text();
  }

  async function sendJSON(method, path, data, headers) {
    const response = await api(method, path, { json: data, headers });
    const text = await response.text();
    return { response, data: text ? JSON.parse(text) : null };
  }

  // --- DOM --------------------------------------------------------------------------------

  /** el("a", {href: "/x", class: "button"}, "text", childNode...): children are text or nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") {
        node.addEventListener(key.slice(2), value);
      } else if (value === true) node.setAttribute(key, "");
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, String(value));
    }
    append(node, ...children);
    return node;
  }

  function append(node, ...children) {
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  /** Path segments after /ui/, decoded: /ui/methods/a%20b/edit -> ["methods", "a b", "edit"]. */
  function pathParts() {
    return location.pathname.replace(/^\/ui\/?/, "").split("/").filter(Boolean)
      .map((part) => decodeURIComponent(part));
  }

  function badge(status) {
    const known = STATUSES.includes(status) ? status : "unknown";
    return el("span", { class: "badge status-" + known, text: status || "unknown" });
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function fmtTime(value) {
    if (!value) return "—";
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      " " + pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  function fmtDuration(start, end) {
    if (!start) return "";
    const from = new Date(start).getTime();
    const to = end ? new Date(end).getTime() : Date.now();
    if (Number.isNaN(from) || Number.isNaN(to) || to < from) return "";
    let seconds = Math.round((to - from) / 1000);
    if (seconds < 60) return seconds + " s";
    const minutes = Math.floor(seconds / 60);
    seconds %= 60;
    if (minutes < 60) return minutes + " min " + seconds + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  /** A box describing an API error: its title, detail and every listed problem. */
  function errorBox(err, intro) {
    const box = el("div", { class: "error-box", role: "alert" });
    append(box, el("strong", { text: intro || (err.title || "Error") }));
    if (err.problems && err.problems.length > 1) {
      append(box, el("ul", {}, err.problems.map((p) => el("li", { text: p }))));
    } else if (err.message && err.message !== intro) {
      append(box, el("p", { text: err.message }));
    }
    return box;
  }

  let flashTimer = null;

  /** A message at the top of the page; `link` = {href, text} adds a link after it. */
  function flash(message, kind, link) {
    const box = document.getElementById("flash");
    if (!box) return;
    clear(box);
    box.className = "flash flash-" + (kind || "info");
    append(box, el("span", { text: message }));
    if (link) append(box, " ", el("a", { href: link.href, text: link.text, class: "flash-link" }));
    append(box, el("button", {
      type: "button", class: "flash-close", "aria-label": "Close", text: "×",
      onclick: () => { box.hidden = true; },
    }));
    box.hidden = false;
    clearTimeout(flashTimer);
    if (kind === "ok") flashTimer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  function flashError(err, intro) {
    const box = document.getElementById("flash");
    if (!box) return;
    clear(box);
    box.className = "flash flash-error";
    append(box, errorBox(err, intro));
    append(box, el("button", {
      type: "button", class: "flash-close", "aria-label": "Close", text: "×",
      onclick: () => { box.hidden = true; },
    }));
    box.hidden = false;
    clearTimeout(flashTimer);
  }

  // --- links that need the token ------------------------------------------------------------

  function filenameOf(response, fallback) {
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="?([^";]+)"?/.exec(disposition);
    return match ? match[1] : fallback;
  }

  /**
   * An anchor to an API resource. Without a token it is an ordinary link (a download when
   * `download` is given). With a token, a click fetches the resource with the Authorization
   * header and hands the browser a blob URL instead, since plain links cannot send headers.
   */
  function apiLink(href, text, options) {
    const opts = options || {};
    const anchor = el("a", {
      href: apiPath(href), text, class: opts.class, title: opts.title,
      download: opts.download === undefined ? undefined : opts.download || true,
      target: opts.download === undefined && opts.newTab ? "_blank" : undefined,
      rel: opts.newTab ? "noopener" : undefined,
    });
    anchor.addEventListener("click", async (event) => {
      if (!token()) return;
      event.preventDefault();
      try {
        const response = await api("GET", href, { headers: { Accept: "*/*" } });
        const blob = await response.blob();
        const url = URL.createObjectURL(blob);
        if (opts.download !== undefined) {
          const save = el("a", { href: url, download: filenameOf(response, opts.download || "download") });
          document.body.append(save);
          save.click();
          save.remove();
        } else {
          window.open(url, "_blank", "noopener");
        }
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      } catch (err) {
        flashError(err, "Download failed");
      }
    });
    return anchor;
  }

  /** A button that asks for a second click (no browser dialogs) before it acts. */
  function confirmButton(label, confirmLabel, action, options) {
    const opts = options || {};
    const button = el("button", { type: "button", class: opts.class || "danger", text: label });
    let armed = null;
    button.addEventListener("click", async () => {
      if (!armed) {
        button.textContent = confirmLabel;
        button.classList.add("armed");
        armed = setTimeout(() => {
          armed = null;
          button.textContent = label;
          button.classList.remove("armed");
        }, 5000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      button.classList.remove("armed");
      button.textContent = label;
      button.disabled = true;
      try {
        await action();
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  function anyArmed() {
    return document.querySelector("button.armed") !== null;
  }

  /** A button that disables itself while its async action runs. */
  function actionButton(label, action, options) {
    const opts = options || {};
    const button = el("button", { type: "button", class: opts.class || "", text: label, title: opts.title });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await action(button);
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  // --- Method helpers ---------------------------------------------------------------------

  function metadataTitles(method, role) {
    return (Array.isArray(method.metadata) ? method.metadata : [])
      .filter((m) => m && m.role === role)
      .map((m) => String(m.title || m.value || ""))
      .filter(Boolean);
  }

  function compatibleWith(method) {
    for (const link of Array.isArray(method.links) ? method.links : []) {
      if (link && link.rel === "compatibleWith") {
        return { id: String(link.href || "").replace(/\/+$/, "").split("/").pop(), title: link.title };
      }
    }
    return null;
  }

  function linkOf(document_, rel) {
    return (document_.links || []).find((l) => l && typeof l.rel === "string" &&
      (l.rel === rel || l.rel.endsWith("/" + rel)));
  }

  // --- header: token field, active nav item ---------------------------------------------------

  function initHeader() {
    const page = document.body.dataset.page;
    for (const link of document.querySelectorAll("[data-nav]")) {
      if (link.dataset.nav === page) link.classList.add("active");
    }
    const form = document.getElementById("token-form");
    const input = document.getElementById("token-input");
    const state = document.getElementById("token-state");
    if (!form) return;
    const show = () => {
      state.textContent = token() ? "token saved" : "";
      input.value = token();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      setToken(input.value.trim());
      show();
      flash(token() ? "Token saved in this browser; it is sent with every request." :
        "Token removed.", "ok");
      document.dispatchEvent(new CustomEvent("ccp:token"));
    });
    document.getElementById("token-clear").addEventListener("click", () => {
      setToken("");
      show();
      flash("Token removed.", "ok");
      document.dispatchEvent(new CustomEvent("ccp:token"));
    });
    show();
  }

  document.addEventListener("DOMContentLoaded", initHeader);

  return {
    STATUSES, ACTIVE, ApiError, api, apiPath, enc, getJSON, getText, sendJSON, token, setToken,
    el, append, clear, $, pathParts, badge, fmtTime, fmtDuration, errorBox, flash, flashError,
    apiLink, confirmButton, anyArmed, actionButton, metadataTitles, compatibleWith, linkOf,
  };
})();
