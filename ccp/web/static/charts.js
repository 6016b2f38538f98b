/* Small hand-written SVG charts for the CCP pages: line charts over time, stacked bars, bars
 * and a phase timeline. No library, no inline styles (colours are SVG attributes or CSS
 * classes), every label enters the DOM as text. */
"use strict";

const CCPCharts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  // one colour per replica / series, and one per lifecycle phase and job status
  const PALETTE = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#e67700", "#5c940d"];
  const PHASE_COLORS = {
    Launch: "#74c0fc", Stage: "#ffd43b", Deploy: "#b197fc", Execute: "#1f5fbf", Fetch: "#63e6be",
    Undeploy: "#ffa8a8", Destroy: "#adb5bd",
  };
  const STATUS_COLORS = {
    created: "#dee2e6", accepted: "#98a2b3", running: "#4c8bf5", successful: "#2b8a3e", failed: "#c92a2a", dismissed: "#e0a000",
  };

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.setAttribute("class", value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) if (child) node.append(child);
    return node;
  }

  function color(index) {
    return PALETTE[index % PALETTE.length];
  }

  // --- numbers --------------------------------------------------------------------------------

  function bytes(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let n = Number(value);
    let unit = 0;
    while (Math.abs(n) >= 1024 && unit < units.length - 1) {
      n /= 1024;
      unit += 1;
    }
    return (unit === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[unit];
  }

  function seconds(value) {
    if (value === null || value === undefined) return "—";
    const s = Number(value);
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
    const m = Math.floor(s / 60);
    return m + " min " + Math.round(s % 60) + " s";
  }

  function clock(ms) {
    const d = new Date(ms);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0") +
      ":" + String(d.getSeconds()).padStart(2, "0");
  }

  /** Round numbers for an axis from 0 to about `max`: [top, step]. */
  function niceScale(max, ticks) {
    const raw = Math.max(max, 1e-9) / (ticks || 4);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= raw) || 10 * power;
    return [Math.ceil(max / step) * step || step, step];
  }

  /** Round numbers of bytes (powers of 1024 times 1, 2, 5) for a memory axis. */
  function byteScale(max) {
    max = Math.max(max, 1024 * 1024);  // at least 1 MiB: no axis of fractions of a byte
    let unit = 1;
    while (max / unit >= 1024 && unit < Math.pow(1024, 4)) unit *= 1024;
    const [top, step] = niceScale(max / unit, 4);
    return [top * unit, step * unit];
  }

  // --- line chart over time --------------------------------------------------------------------

  /**
   * lineChart({series: [{name, points: [[ms, value]]}], from, to, yMax, yScale, format,
   *            guides: [{value, label}], width, height, label})
   * An SVG of lines over time; each series its own colour (series[i].color or the palette).
   */
  function lineChart(options) {
    const width = options.width || 560;
    const height = options.height || 190;
    const pad = { left: 64, right: 12, top: 12, bottom: 26 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const from = options.from;
    const to = Math.max(options.to, from + 1000);
    let peak = options.yMax || 0;
    for (const s of options.series) for (const [, v] of s.points) if (v !== null) peak = Math.max(peak, v);
    for (const g of options.guides || []) peak = Math.max(peak, g.value);
    const [top, step] = (options.yScale || niceScale)(peak || 1);
    const x = (t) => pad.left + ((t - from) / (to - from)) * plotW;
    const y = (v) => pad.top + plotH - (v / top) * plotH;
    const chart = svg("svg", {
      class: "chart", viewBox: "0 0 " + width + " " + height, width: "100%",
      role: "img", "aria-label": options.label || "chart", preserveAspectRatio: "xMidYMid meet",
    });
    chart.append(svg("rect", { x: pad.left, y: pad.top, width: plotW, height: plotH, class: "chart-plot" }));
    for (let v = 0; v <= top + step / 2; v += step) {
      chart.append(svg("line", { x1: pad.left, x2: pad.left + plotW, y1: y(v), y2: y(v), class: "chart-grid" }));
      chart.append(svg("text", { x: pad.left - 6, y: y(v) + 4, class: "chart-tick", "text-anchor": "end", text: options.format(v) }));
    }
    const span = to - from;
    const tickEvery = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].map((s) => s * 1000)
      .find((ms) => span / ms <= 6) || 7200000;
    for (let t = Math.ceil(from / tickEvery) * tickEvery; t <= to; t += tickEvery) {
      chart.append(svg("line", { x1: x(t), x2: x(t), y1: pad.top + plotH, y2: pad.top + plotH + 4, class: "chart-axis" }));
      chart.append(svg("text", { x: x(t), y: height - 8, class: "chart-tick", "text-anchor": "middle", text: clock(t) }));
    }
    for (const guide of options.guides || []) {
      chart.append(svg("line", { x1: pad.left, x2: pad.left + plotW, y1: y(guide.value), y2: y(guide.value), class: "chart-guide" }));
      chart.append(svg("text", { x: pad.left + plotW - 4, y: y(guide.value) - 4, class: "chart-tick", "text-anchor": "end", text: guide.label }));
    }
    options.series.forEach((s, index) => {
      const stroke = s.color || color(index);
      let d = "";
      let pen = false;
      for (const [t, v] of s.points) {
        if (v === null || v === undefined) {
          pen = false;
          continue;
        }
        d += (pen ? "L" : "M") + x(t).toFixed(1) + " " + y(v).toFixed(1) + " ";
        pen = true;
      }
      if (d) {
        chart.append(svg("path", { d, fill: "none", stroke, "stroke-width": 2, class: "chart-line", "data-series": s.name }));
      }
      const last = s.points.filter(([, v]) => v !== null && v !== undefined).pop();
      if (last) chart.append(svg("circle", { cx: x(last[0]), cy: y(last[1]), r: 3, fill: stroke }));
    });
    chart.append(svg("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: pad.top + plotH, class: "chart-axis" }));
    chart.append(svg("line", { x1: pad.left, x2: pad.left + plotW, y1: pad.top + plotH, y2: pad.top + plotH, class: "chart-axis" }));
    return chart;
  }

  /** A legend: a coloured swatch and a name per series. */
  function legend(series) {
    const list = document.createElement("ul");
    list.className = "chart-legend";
    series.forEach((s, index) => {
      const item = document.createElement("li");
      const swatch = svg("svg", { width: 12, height: 12, class: "swatch" },
        svg("rect", { width: 12, height: 12, rx: 2, fill: s.color || color(index) }));
      item.append(swatch, document.createTextNode(" " + s.name));
      list.append(item);
    });
    return list;
  }

  // --- bars ----------------------------------------------------------------------------------

  /**
   * stackedBars({categories: ["2026-11-01", ...], stacks: [{name, color, values: [..]}],
   *              width, height, label, formatCategory})
   */
  function stackedBars(options) {
    const width = options.width || 760;
    const height = options.height || 220;
    const pad = { left: 40, right: 10, top: 12, bottom: 30 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const n = options.categories.length;
    const totals = options.categories.map((_, i) => options.stacks.reduce((sum, s) => sum + (s.values[i] || 0), 0));
    const [top, step] = niceScale(Math.max(1, ...totals), 4);
    const band = plotW / Math.max(n, 1);
    const y = (v) => pad.top + plotH - (v / top) * plotH;
    const chart = svg("svg", {
      class: "chart", viewBox: "0 0 " + width + " " + height, width: "100%",
      role: "img", "aria-label": options.label || "bar chart",
    });
    for (let v = 0; v <= top + step / 2; v += step) {
      chart.append(svg("line", { x1: pad.left, x2: pad.left + plotW, y1: y(v), y2: y(v), class: "chart-grid" }));
      chart.append(svg("text", { x: pad.left - 6, y: y(v) + 4, class: "chart-tick", "text-anchor": "end", text: String(v) }));
    }
    options.categories.forEach((category, i) => {
      let base = 0;
      const x = pad.left + i * band + band * 0.15;
      for (const stack of options.stacks) {
        const value = stack.values[i] || 0;
        if (value > 0) {
          const rect = svg("rect", {
            x, width: band * 0.7, y: y(base + value), height: y(base) - y(base + value),
            fill: stack.color, class: "bar", "data-category": category, "data-stack": stack.name,
          }, svg("title", { text: category + ": " + value + " " + stack.name }));
          chart.append(rect);
        }
        base += value;
      }
      if (n <= 16 || i % Math.ceil(n / 16) === 0) {
        chart.append(svg("text", {
          x: x + band * 0.35, y: height - 10, class: "chart-tick", "text-anchor": "middle",
          text: options.formatCategory ? options.formatCategory(category) : category,
        }));
      }
    });
    chart.append(svg("line", { x1: pad.left, x2: pad.left + plotW, y1: pad.top + plotH, y2: pad.top + plotH, class: "chart-axis" }));
    return chart;
  }

  // --- phase timeline ----------------------------------------------------------------------------

  /**
   * timeline({phases: [{phase, started, finished, seconds}], replicas: [1, 2],
   *           busy: {replica: {phaseIndex: lastBusyMs}}, now, width})
   * One row per replica; a bar per phase from its start to its end (the phase still running
   * ends at `now`). Inside the phases that run scripts, the darker part is where the
   * replica's CPU was busy (from its samples); the lighter rest it waited for the others.
   */
  function timeline(options) {
    const width = options.width || 960;
    const rowH = 30;
    const pad = { left: 92, right: 14, top: 8, bottom: 26 };
    const replicas = options.replicas.length ? options.replicas : [1];
    const height = pad.top + rowH * replicas.length + pad.bottom;
    const spans = options.phases.map((p) => ({
      name: p.phase, from: Date.parse(p.started), to: p.finished ? Date.parse(p.finished) : options.now,
      open: !p.finished, seconds: p.seconds,
    }));
    const from = Math.min(...spans.map((s) => s.from));
    const to = Math.max(from + 100, ...spans.map((s) => s.to));
    const plotW = width - pad.left - pad.right;
    const x = (t) => pad.left + ((t - from) / (to - from)) * plotW;
    const chart = svg("svg", {
      class: "chart timeline", viewBox: "0 0 " + width + " " + height, width: "100%",
      role: "img", "aria-label": "phase timeline",
    });
    replicas.forEach((replica, row) => {
      const top = pad.top + row * rowH;
      chart.append(svg("text", { x: pad.left - 8, y: top + rowH / 2 + 4, class: "chart-tick", "text-anchor": "end", text: "replica " + replica }));
      spans.forEach((span, index) => {
        const left = x(span.from);
        const barW = Math.max(1.5, x(span.to) - left);
        const label = span.name + " " + seconds(span.seconds !== null && span.seconds !== undefined ? span.seconds : (span.to - span.from) / 1000) + (span.open ? " (running)" : "");
        const group = svg("g", { class: "phase-bar", "data-phase": span.name, "data-replica": replica });
        group.append(svg("rect", {
          x: left, y: top + 4, width: barW, height: rowH - 8, rx: 3,
          fill: PHASE_COLORS[span.name] || "#ced4da", class: "phase" + (span.open ? " open" : ""),
        }, svg("title", { text: label })));
        const busyUntil = ((options.busy || {})[replica] || {})[index];
        if (busyUntil !== undefined && busyUntil > span.from) {
          group.append(svg("rect", {
            x: left, y: top + rowH - 9, width: Math.max(1.5, Math.min(x(busyUntil), x(span.to)) - left), height: 4,
            class: "busy", "data-busy": span.name,
          }, svg("title", { text: "replica " + replica + " busy in " + span.name })));
        }
        if (barW > 60) {
          group.append(svg("text", { x: left + 5, y: top + rowH / 2 + 3, class: "phase-label", text: label }));
        }
        chart.append(group);
      });
    });
    const axisY = pad.top + rowH * replicas.length;
    chart.append(svg("line", { x1: pad.left, x2: pad.left + plotW, y1: axisY, y2: axisY, class: "chart-axis" }));
    const total = (to - from) / 1000;
    const [, step] = niceScale(total, 6);
    for (let t = 0; t <= total + 1e-9; t += step) {
      chart.append(svg("text", { x: x(from + t * 1000), y: axisY + 16, class: "chart-tick", "text-anchor": "middle", text: "+" + seconds(t) }));
    }
    return chart;
  }

  return {
    svg, color, bytes, seconds, clock, niceScale, byteScale, lineChart, legend, stackedBars,
    timeline, PALETTE, PHASE_COLORS, STATUS_COLORS,
  };
})();
