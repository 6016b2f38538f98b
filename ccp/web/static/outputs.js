/* /ui/executions/<id>: the files the Execution made (inside its output.zip), with sizes, a
 * download each, and previews: text, CSV as a table, images, GeoJSON on a map (Leaflet,
 * vendored, on a plain background: no tile server), JSON as text.
 *
 * Output files are user data and hostile: text goes into the page as text (never markup);
 * HTML, SVG and XML are shown as their source and never rendered; images are shown from
 * data: URLs of the bytes fetched (an image cannot run code); GeoJSON properties become
 * text nodes in tooltips. */
"use strict";

(() => {
  const { el, append, clear, enc, getJSON } = CCP;
  const C = CCPCharts;
  const $ = (id) => document.getElementById(id);
  const LIMITS = { text: 1024 * 1024, table: 2 * 1024 * 1024, image: 10 * 1024 * 1024, map: 20 * 1024 * 1024 };
  const TABLE_ROWS = 500;
  const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"];
  const TEXT_TYPES = ["application/json", "application/yaml", "application/x-ipynb+json", "application/xml",
    "image/svg+xml", "application/javascript", "application/x-sh"];
  const RENDERABLE = ["text/html", "image/svg+xml", "application/xhtml+xml", "application/xml", "text/xml"];
  let jobId = null;
  let loadedFor = null;
  let map = null;

  function kindOf(file) {
    const type = file.mediaType || "";
    const name = file.name.toLowerCase();
    if (IMAGE_TYPES.includes(type)) return "image";
    if (type === "application/geo+json" || name.endsWith(".geojson")) return "map";
    if (type === "text/csv" || type === "text/tab-separated-values") return "table";
    if (type.startsWith("text/") || TEXT_TYPES.includes(type)) return "text";
    return null;
  }

  async function load() {
    const panel = $("outputs-panel");
    const list = clear($("outputs-list"));
    panel.hidden = false;
    let listing;
    try {
      listing = await getJSON("/jobs/" + enc(jobId) + "/outputs?limit=1000");
    } catch (err) {
      append(list, el("p", { class: "muted", text: err.status === 404 ? "This Execution left no output files." : err.message }));
      return;
    }
    append(clear($("outputs-count")), listing.numberMatched + " files · " + C.bytes(listing.totalBytes));
    if (!listing.files.length) {
      append(list, el("p", { class: "muted", text: "output.zip is empty." }));
      return;
    }
    const rows = listing.files.map((file) => {
      const kind = kindOf(file);
      const preview = kind
        ? el("button", { type: "button", class: "small", text: "Preview", dataset: { preview: file.name }, onclick: () => show(file, kind) })
        : el("span", { class: "muted small", text: "no preview" });
      return el("tr", { dataset: { file: file.name } },
        el("td", {}, el("code", { class: "file-name", text: file.name })),
        el("td", { class: "muted small", text: file.mediaType }),
        el("td", { class: "num", text: C.bytes(file.size) }),
        el("td", {}, preview, " ", CCP.apiLink(file.href, "Download", { class: "button small ghost", download: file.name.split("/").pop() })));
    });
    append(list, el("div", { class: "table-wrap" }, el("table", { class: "grid-table outputs-table" },
      el("thead", {}, el("tr", {}, el("th", { text: "File" }), el("th", { text: "Type" }), el("th", { class: "num", text: "Size" }), el("th", { text: "" }))),
      el("tbody", {}, rows))));
    const first = listing.files.find((file) => kindOf(file));
    if (first) show(first, kindOf(first));
  }

  async function show(file, kind) {
    const box = clear($("output-preview"));
    if (map) {
      map.remove();
      map = null;
    }
    for (const row of document.querySelectorAll("tr[data-file]")) row.classList.toggle("selected", row.dataset.file === file.name);
    append(box, el("h3", {}, el("code", { text: file.name }), " ", el("span", { class: "muted small", text: file.mediaType + " · " + C.bytes(file.size) })));
    if (file.size > LIMITS[kind]) {
      append(box, el("p", { class: "muted", text: "Too large to preview here (" + C.bytes(file.size) + "); download it instead." }));
      return;
    }
    let response;
    try {
      response = await CCP.api("GET", file.href, { headers: { Accept: "*/*" } });
    } catch (err) {
      append(box, CCP.errorBox(err, "Cannot load " + file.name));
      return;
    }
    box.dataset.kind = kind;
    if (kind === "image") return showImage(box, await response.blob(), file);
    const text = await response.text();
    if (kind === "table") return showTable(box, text, file);
    if (kind === "map") return showMap(box, text);
    if (RENDERABLE.includes(file.mediaType)) {
      append(box, el("p", { class: "notice small", text: "Shown as text: files that could run code in a browser are never rendered." }));
    }
    append(box, el("pre", { class: "code-block preview-text", text: prettyJSON(text, file) }));
  }

  function prettyJSON(text, file) {
    if (file.mediaType !== "application/json") return text;
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (_) {
      return text;
    }
  }

  function showImage(box, blob, file) {
    // as a data: URL of the bytes: the page's policy lets images come only from here or data:
    const reader = new FileReader();
    reader.onload = () => {
      append(box, el("div", { class: "preview-image" }, el("img", { src: reader.result, alt: file.name })));
    };
    reader.readAsDataURL(new Blob([blob], { type: file.mediaType }));
  }

  /** RFC 4180 CSV (quotes, doubled quotes, newlines inside quotes); TSV by tabs. */
  function parseDelimited(text, delimiter) {
    const rows = [];
    let row = [];
    let field = "";
    let quoted = false;
    for (let i = 0; i < text.length && rows.length <= TABLE_ROWS; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') {
          field += '"';
          i++;
        } else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"' && field === "") quoted = true;
      else if (c === delimiter) {
        row.push(field);
        field = "";
      } else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field);
        rows.push(row);
        row = [];
        field = "";
      } else field += c;
    }
    if (field !== "" || row.length) {
      row.push(field);
      rows.push(row);
    }
    return rows;
  }

  function showTable(box, text, file) {
    const rows = parseDelimited(text, file.mediaType === "text/tab-separated-values" ? "\t" : ",");
    if (!rows.length) {
      append(box, el("p", { class: "muted", text: "(empty)" }));
      return;
    }
    const [head, ...body] = rows;
    append(box, el("div", { class: "table-wrap preview-table" }, el("table", { class: "grid-table" },
      el("thead", {}, el("tr", {}, head.map((cell) => el("th", { text: cell })))),
      el("tbody", {}, body.slice(0, TABLE_ROWS).map((cells) => el("tr", {}, cells.map((cell) => el("td", { text: cell }))))))));
    if (body.length >= TABLE_ROWS) append(box, el("p", { class: "muted small", text: "The first " + TABLE_ROWS + " rows." }));
  }

  function showMap(box, text) {
    let data;
    try {
      data = JSON.parse(text);
    } catch (err) {
      append(box, el("p", { class: "error-box", text: "Not valid JSON: " + err.message }));
      return;
    }
    if (typeof L === "undefined") {
      append(box, el("p", { class: "error-box", text: "The map library is not installed (scripts/vendor-web.sh)." }));
      append(box, el("pre", { class: "code-block preview-text", text: JSON.stringify(data, null, 2) }));
      return;
    }
    const mapBox = el("div", { id: "output-map", class: "preview-map" });
    const where = el("p", { id: "map-coordinates", class: "muted small mono", text: "lon —, lat —" });
    append(box, mapBox, where);
    map = L.map(mapBox, { attributionControl: false, zoomSnap: 0.25 });
    let layer;
    try {
      layer = L.geoJSON(data, {
        style: () => ({ color: C.PALETTE[0], weight: 2, fillOpacity: 0.2 }),
        pointToLayer: (_feature, latlng) => L.circleMarker(latlng, { radius: 6, color: C.PALETTE[1], weight: 1.5, fillOpacity: 0.75 }),
        onEachFeature: (feature, featureLayer) => featureLayer.bindTooltip(describe(feature)),
      });
    } catch (err) {
      append(box, el("p", { class: "error-box", text: "Not GeoJSON: " + err.message }));
      return;
    }
    layer.addTo(map);
    const bounds = layer.getBounds();
    if (!bounds.isValid()) {
      map.setView([0, 0], 1);
      append(box, el("p", { class: "muted", text: "No features with coordinates." }));
      return;
    }
    map.fitBounds(bounds.pad(0.2), { maxZoom: 12 });
    const grid = L.layerGroup().addTo(map);
    graticule(grid);
    map.on("moveend", () => graticule(grid));
    map.on("mousemove", (event) => {
      where.textContent = "lon " + event.latlng.lng.toFixed(5) + ", lat " + event.latlng.lat.toFixed(5);
    });
    append(box, el("p", { class: "muted small", id: "map-summary",
      text: layer.getLayers().length + " features · west " + bounds.getWest().toFixed(4) + ", south " + bounds.getSouth().toFixed(4) +
        ", east " + bounds.getEast().toFixed(4) + ", north " + bounds.getNorth().toFixed(4) + " (WGS 84)" }));
  }

  /** A tooltip of a feature's properties, as text nodes. */
  function describe(feature) {
    const node = el("div", { class: "feature-tip" });
    const properties = feature && feature.properties && typeof feature.properties === "object" ? feature.properties : {};
    const entries = Object.entries(properties).slice(0, 12);
    if (!entries.length) append(node, (feature.geometry && feature.geometry.type) || "feature");
    for (const [key, value] of entries) {
      append(node, el("div", {}, el("strong", { text: key + ": " }), typeof value === "object" ? JSON.stringify(value) : String(value)));
    }
    return node;
  }

  /** Lines of longitude and latitude with their degrees: the map's only background, drawn
   * anew for what is in view after every move or zoom. */
  function graticule(group) {
    group.clearLayers();
    const view = map.getBounds();
    const [, step] = C.niceScale(Math.max(view.getEast() - view.getWest(), view.getNorth() - view.getSouth()), 6);
    const decimals = step < 1 ? Math.min(6, Math.ceil(-Math.log10(step) + 0.01)) : 0;
    const label = (text) => L.divIcon({ className: "graticule-label", html: el("span", { text }), iconSize: null });
    const south = Math.max(-90, view.getSouth() - step);
    const north = Math.min(90, view.getNorth() + step);
    const west = view.getWest() - step;
    const east = view.getEast() + step;
    const inset = (view.getNorth() - view.getSouth()) * 0.02;
    for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
      L.polyline([[south, lon], [north, lon]], { className: "graticule", interactive: false }).addTo(group);
      L.marker([view.getSouth() + inset, lon], { icon: label(lon.toFixed(decimals) + "°"), interactive: false, keyboard: false }).addTo(group);
    }
    for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
      L.polyline([[lat, west], [lat, east]], { className: "graticule", interactive: false }).addTo(group);
      L.marker([lat, view.getWest()], { icon: label(lat.toFixed(decimals) + "°"), interactive: false, keyboard: false }).addTo(group);
    }
  }

  document.addEventListener("ccp:job-status", (event) => {
    const status = event.detail && event.detail.status;
    if (["successful", "failed", "dismissed"].includes(status) && loadedFor !== status) {
      jobId = jobId || CCP.pathParts()[1];
      loadedFor = status;
      load();
    }
  });
  document.addEventListener("DOMContentLoaded", () => {
    jobId = CCP.pathParts()[1];
  });
  document.addEventListener("ccp:token", () => { loadedFor = null; });
})();
