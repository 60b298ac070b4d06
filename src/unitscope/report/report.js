/* unitscope report renderer: draws the figures whose data the page carries; computes nothing.
 * Sections: data decoding, colors, painters (canvas and SVG), charts, pictures, timeline,
 * export, start-up. No network: everything the page needs is inline. */
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("us-data").textContent);
  const FONT = "11px system-ui, sans-serif";
  const SERIES = ["#1f5fa8", "#d9711c", "#2e8b57", "#b8336a", "#6a4fb3", "#8a6d1d", "#1b9aaa", "#555"];
  const CLASSES = ["#f59322", "#0877bd", "#2e8b57", "#b8336a", "#6a4fb3", "#8a6d1d", "#1b9aaa",
    "#d62728", "#7f7f7f", "#bcbd22"];

  // ---- data decoding -----------------------------------------------------------------------
  function b64bytes(text) {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  function undelta(bytes, width) {
    for (let start = 0; start < bytes.length; start += width) {
      for (let i = start + 1; i < start + width; i++) bytes[i] = (bytes[i] + bytes[i - 1]) & 255;
    }
  }
  async function decodeArray(d) {
    let bytes = b64bytes(d.b64);
    if (d.z) bytes = await inflate(bytes);
    if (d.delta) undelta(bytes, d.shape[d.shape.length - 1]);
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const Typed = d.$a === "u8" ? Uint8Array : d.$a === "i32" ? Int32Array : Float32Array;
    return nd(new Typed(buf), d.shape);
  }
  function nd(data, shape) {
    return { data: data, shape: shape };
  }
  /** The sub-array at leading indices idx (a view, no copy). */
  function sub(a, ...idx) {
    let offset = 0;
    let size = a.data.length;
    for (let k = 0; k < idx.length; k++) {
      size /= a.shape[k];
      offset += idx[k] * size;
    }
    return nd(a.data.subarray(offset, offset + size), a.shape.slice(idx.length));
  }
  function list(a) {
    return a && a.data ? Array.from(a.data) : a || [];
  }
  async function decodeAll(obj) {
    if (Array.isArray(obj)) return Promise.all(obj.map(decodeAll));
    if (obj && typeof obj === "object") {
      if (obj.$a) return decodeArray(obj);
      const out = {};
      for (const key of Object.keys(obj)) out[key] = await decodeAll(obj[key]);
      return out;
    }
    return obj;
  }

  // ---- colors -----------------------------------------------------------------------------
  function mix(a, b, t) {
    return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
  }
  function ramp(stops) {
    const lut = new Uint8ClampedArray(256 * 3);
    for (let q = 0; q < 256; q++) {
      const x = (q / 255) * (stops.length - 1);
      const i = Math.min(Math.floor(x), stops.length - 2);
      const c = mix(stops[i], stops[i + 1], x - i);
      lut.set(c, q * 3);
    }
    return lut;
  }
  const LUT = {
    diverging: ramp([[245, 147, 34], [255, 255, 255], [8, 119, 189]]),
    sequential: ramp([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]),
    gray: ramp([[0, 0, 0], [255, 255, 255]]),
  };
  function lutColor(name, q) {
    const l = LUT[name] || LUT.gray;
    const i = Math.max(0, Math.min(255, Math.round(q))) * 3;
    return "rgb(" + l[i] + "," + l[i + 1] + "," + l[i + 2] + ")";
  }
  function hexRgb(hex) {
    return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }
  /** Paint uint8 codes (rows x cols, first row = bottom when flip) into ImageData. */
  function paintCodes(ctx, codes, rows, cols, cmap, flip) {
    const img = ctx.createImageData(cols, rows);
    const lut = LUT[cmap] || LUT.gray;
    for (let r = 0; r < rows; r++) {
      const src = flip ? rows - 1 - r : r;
      for (let c = 0; c < cols; c++) {
        const q = codes[src * cols + c] * 3;
        const o = (r * cols + c) * 4;
        img.data[o] = lut[q];
        img.data[o + 1] = lut[q + 1];
        img.data[o + 2] = lut[q + 2];
        img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }
  function paintClasses(ctx, conf, labels, rows, cols) {
    const img = ctx.createImageData(cols, rows);
    const rgb = CLASSES.map(hexRgb);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = (rows - 1 - r) * cols + c;
        const px = mix([255, 255, 255], rgb[labels[i] % rgb.length], 0.25 + 0.6 * (conf[i] / 255));
        img.data.set([px[0], px[1], px[2], 255], (r * cols + c) * 4);
      }
    }
    ctx.putImageData(img, 0, 0);
  }
  function offscreen(w, h) {
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    return c;
  }

  // ---- painters: one drawing vocabulary, a canvas and an SVG backend ---------------------------
  function escapeXml(s) {
    return String(s).replace(/[&<>"']/g, (ch) => "&#" + ch.charCodeAt(0) + ";");
  }
  class CanvasPainter {
    constructor(canvas, w, h) {
      const ratio = window.devicePixelRatio || 1;
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
      canvas.style.width = w + "px";
      canvas.style.height = h + "px";
      this.ctx = canvas.getContext("2d");
      this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      this.ctx.fillStyle = "#fff";
      this.ctx.fillRect(0, 0, w, h);
    }
    rect(x, y, w, h, fill) {
      this.ctx.fillStyle = fill;
      this.ctx.fillRect(x, y, w, h);
    }
    line(x1, y1, x2, y2, stroke, width, dash) {
      this.path([[x1, y1], [x2, y2]], stroke, width || 1, 1, dash);
    }
    path(pts, stroke, width, alpha, dash) {
      const c = this.ctx;
      c.save();
      c.globalAlpha = alpha === undefined ? 1 : alpha;
      c.strokeStyle = stroke;
      c.lineWidth = width;
      c.setLineDash(dash ? [4, 3] : []);
      c.beginPath();
      pts.forEach((p, i) => (i ? c.lineTo(p[0], p[1]) : c.moveTo(p[0], p[1])));
      c.stroke();
      c.restore();
    }
    area(pts, fill, alpha) {
      const c = this.ctx;
      c.save();
      c.globalAlpha = alpha;
      c.fillStyle = fill;
      c.beginPath();
      pts.forEach((p, i) => (i ? c.lineTo(p[0], p[1]) : c.moveTo(p[0], p[1])));
      c.closePath();
      c.fill();
      c.restore();
    }
    image(canvas, x, y, w, h) {
      this.ctx.imageSmoothingEnabled = false;
      this.ctx.drawImage(canvas, x, y, w, h);
    }
    text(x, y, s, o) {
      const c = this.ctx;
      o = o || {};
      c.save();
      c.font = o.bold ? "bold " + FONT : FONT;
      c.fillStyle = o.color || "#222";
      c.textAlign = o.anchor || "left";
      c.textBaseline = o.baseline || "alphabetic";
      c.translate(x, y);
      if (o.rotate) c.rotate(o.rotate);
      c.fillText(String(s), 0, 0);
      c.restore();
    }
  }
  class SvgPainter {
    constructor(w, h) {
      this.w = w;
      this.h = h;
      this.parts = ['<rect x="0" y="0" width="' + w + '" height="' + h + '" fill="#fff"/>'];
    }
    rect(x, y, w, h, fill) {
      this.parts.push('<rect x="' + x + '" y="' + y + '" width="' + w + '" height="' + h +
        '" fill="' + fill + '"/>');
    }
    line(x1, y1, x2, y2, stroke, width, dash) {
      this.path([[x1, y1], [x2, y2]], stroke, width || 1, 1, dash);
    }
    path(pts, stroke, width, alpha, dash) {
      const d = pts.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
      this.parts.push('<polyline fill="none" points="' + d + '" stroke="' + stroke +
        '" stroke-width="' + width + '" stroke-opacity="' + (alpha === undefined ? 1 : alpha) +
        '"' + (dash ? ' stroke-dasharray="4 3"' : "") + "/>");
    }
    area(pts, fill, alpha) {
      const d = pts.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
      this.parts.push('<polygon points="' + d + '" fill="' + fill + '" fill-opacity="' + alpha + '"/>');
    }
    image(canvas, x, y, w, h) {
      this.parts.push('<image x="' + x + '" y="' + y + '" width="' + w + '" height="' + h +
        '" preserveAspectRatio="none" image-rendering="pixelated" href="' +
        canvas.toDataURL("image/png") + '"/>');
    }
    text(x, y, s, o) {
      o = o || {};
      const anchor = { left: "start", center: "middle", right: "end" }[o.anchor || "left"];
      const base = { middle: "middle", top: "hanging" }[o.baseline] || "auto";
      const rot = o.rotate ? ' transform="rotate(' + (o.rotate * 180) / Math.PI + " " + x + " " + y + ')"' : "";
      this.parts.push('<text x="' + x + '" y="' + y + '" font-family="sans-serif" font-size="11"' +
        (o.bold ? ' font-weight="bold"' : "") + ' fill="' + (o.color || "#222") + '" text-anchor="' +
        anchor + '" dominant-baseline="' + base + '"' + rot + ">" + escapeXml(s) + "</text>");
    }
    /** Standalone SVG text: the HTML parser gives the element its namespace, the serializer
     * writes it out, so this file never spells a namespace address itself. */
    serialize() {
      const holder = document.createElement("div");
      holder.innerHTML = '<svg width="' + this.w + '" height="' + this.h + '" viewBox="0 0 ' +
        this.w + " " + this.h + '">' + this.parts.join("") + "</svg>";
      return new XMLSerializer().serializeToString(holder.firstElementChild);
    }
  }

  // ---- axes ---------------------------------------------------------------------------------
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }
  function label(v) {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1).replace(".0e", "e");
    return String(+v.toPrecision(4));
  }
  function scale(kind, lo, hi, a, b) {
    const f = kind === "log1p" ? (v) => Math.log1p(Math.max(v, 0)) : kind === "log" ? Math.log10 : (v) => v;
    const flo = f(lo);
    const span = f(hi) - flo || 1;
    const s = (v) => a + ((f(v) - flo) / span) * (b - a);
    s.ticks = () => {
      if (kind === "linear") return niceTicks(lo, hi, 5);
      const out = kind === "log1p" ? [0] : [];
      const mults = kind === "log" && hi / lo < 30 ? [1, 2, 5] : [1];
      const first = kind === "log1p" ? 0 : Math.floor(Math.log10(Math.max(lo, 1e-300)));
      const every = Math.max(1, Math.ceil((Math.log10(hi) - first) / 7));
      for (let p = first; Math.pow(10, p) <= hi; p += every) {
        for (const m of mults) {
          const v = +(m * Math.pow(10, p)).toPrecision(6);
          if (v >= lo && v <= hi && (kind === "log" || p >= 0)) out.push(v);
        }
      }
      return out.length >= 2 ? out : niceTicks(lo, hi, 4).filter((v) => v > 0);
    };
    return s;
  }
  function extent(values) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!Number.isFinite(lo)) return [0, 1];
    if (lo === hi) return [lo - 0.5, hi + 0.5];
    return [lo, hi];
  }
  function axes(p, box, xs, ys, xLabel, yLabel) {
    p.line(box.x0, box.y1, box.x1, box.y1, "#888");
    p.line(box.x0, box.y0, box.x0, box.y1, "#888");
    for (const t of xs.ticks()) {
      const x = xs(t);
      if (x < box.x0 - 0.5 || x > box.x1 + 0.5) continue;
      p.line(x, box.y1, x, box.y1 + 4, "#888");
      p.text(x, box.y1 + 15, label(t), { anchor: "center" });
    }
    for (const t of ys.ticks()) {
      const y = ys(t);
      if (y < box.y0 - 0.5 || y > box.y1 + 0.5) continue;
      p.line(box.x0 - 4, y, box.x0, y, "#888");
      p.line(box.x0, y, box.x1, y, "#eee");
      p.text(box.x0 - 6, y, label(t), { anchor: "right", baseline: "middle" });
    }
    if (xLabel) p.text((box.x0 + box.x1) / 2, box.y1 + 30, xLabel, { anchor: "center" });
    if (yLabel) p.text(12, (box.y0 + box.y1) / 2, yLabel, { anchor: "center", rotate: -Math.PI / 2 });
  }
  function legend(p, names, x, y) {
    names.forEach((name, i) => {
      p.rect(x, y - 8, 10, 10, SERIES[i % SERIES.length]);
      p.text(x + 14, y, name);
      x += 24 + 7 * String(name).length;
    });
  }


  // ---- tooltip ------------------------------------------------------------------------------
  const tip = document.createElement("div");
  tip.className = "tip";
  tip.hidden = true;
  document.body.appendChild(tip);
  function showTip(ev, lines) {
    tip.textContent = "";
    lines.forEach((line) => {
      const row = document.createElement("div");
      row.textContent = line;
      tip.appendChild(row);
    });
    tip.hidden = false;
    const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    tip.style.left = x + "px";
    tip.style.top = ev.clientY + 14 + "px";
  }
  function hideTip() {
    tip.hidden = true;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function bodyWidth(fig) {
    return Math.max(320, Math.min(fig.body.clientWidth || 800, 1100));
  }
  function indexAt(steps, step) {
    let k = 0;
    for (let i = 0; i < steps.length; i++) if (steps[i] <= step) k = i;
    return k;
  }

  // ---- lines --------------------------------------------------------------------------------
  function segments(x, y, xs, ys, logY) {
    const out = [];
    let cur = [];
    for (let i = 0; i < x.length; i++) {
      const ok = Number.isFinite(y[i]) && (!logY || y[i] > 0);
      if (ok) cur.push([xs(x[i]), ys(y[i])]);
      else if (cur.length) { out.push(cur); cur = []; }
    }
    if (cur.length) out.push(cur);
    return out;
  }
  function lineValues(d) {
    const vals = [];
    const add = (a) => { for (let i = 0; i < a.data.length; i++) vals.push(a.data[i]); };
    d.series.forEach((s) => {
      ["mean", "lo", "hi", "members"].forEach((k) => s[k] && add(s[k]));
    });
    d.baselines.forEach((b) => vals.push(b.y));
    return d.y_scale === "log" ? vals.filter((v) => v > 0) : vals;
  }
  function drawLines(p, d, w, h, step) {
    const box = { x0: 60, x1: w - 16, y0: 30, y1: h - 42 };
    const x = list(d.x);
    const [xlo, xhi] = extent(x);
    const [ylo, yhi] = extent(lineValues(d));
    const xs = scale(d.x_scale, xlo, xhi, box.x0, box.x1);
    const ys = scale(d.y_scale, ylo, yhi, box.y1, box.y0);
    const logY = d.y_scale === "log";
    axes(p, box, xs, ys, d.x_label, d.y_label);
    d.series.forEach((s, i) => {
      const color = SERIES[i % SERIES.length];
      if (s.lo && s.hi) {
        const lo = segments(x, list(s.lo), xs, ys, logY);
        const hi = segments(x, list(s.hi), xs, ys, logY);
        lo.forEach((seg, k) => hi[k] && seg.length === hi[k].length &&
          p.area(hi[k].concat(seg.slice().reverse()), color, 0.16));
      }
      if (s.members) {
        for (let m = 0; m < s.members.shape[0]; m++) {
          segments(x, list(sub(s.members, m)), xs, ys, logY).forEach((seg) => p.path(seg, color, 1, 0.35));
        }
      }
      segments(x, list(s.mean), xs, ys, logY).forEach((seg) => p.path(seg, color, 2.2, 1));
    });
    d.baselines.forEach((b) => {
      if (logY && b.y <= 0) return;
      p.line(box.x0, ys(b.y), box.x1, ys(b.y), "#777", 1, true);
      p.text(box.x1 - 2, ys(b.y) - 4, b.name, { anchor: "right", color: "#555" });
    });
    if (d.cursor && step !== null && step !== undefined && step >= xlo && step <= xhi) {
      p.line(xs(step), box.y0, xs(step), box.y1, "#c0392b", 1.5);
      const right = xs(step) > box.x1 - 70;
      p.text(xs(step) + (right ? -4 : 4), box.y0 + 10, "step " + step, { color: "#c0392b", anchor: right ? "right" : "left" });
    }
    legend(p, d.series.map((s) => s.name), box.x0, 16);
    return { box: box, xs: xs };
  }
  function linesTip(d, geo, ev, canvas) {
    const r = canvas.getBoundingClientRect();
    const px = ev.clientX - r.left;
    const x = list(d.x);
    let best = 0;
    x.forEach((v, i) => { if (Math.abs(geo.xs(v) - px) < Math.abs(geo.xs(x[best]) - px)) best = i; });
    const lines = [(d.x_label || "x") + " " + label(x[best])];
    d.series.forEach((s) => {
      let text = s.name + ": " + label(s.mean.data[best]);
      if (s.lo && s.hi) text += " (" + label(s.lo.data[best]) + " – " + label(s.hi.data[best]) + ")";
      lines.push(text);
    });
    return lines;
  }

  // ---- histogram ----------------------------------------------------------------------------
  function drawHistogram(p, d, w, h) {
    const box = { x0: 60, x1: w - 16, y0: 30, y1: h - 42 };
    const edges = list(d.edges);
    const counts = d.series.map((s) => list(s.counts));
    const peak = Math.max(0, ...counts.map((c) => Math.max(...c)));
    const top = peak > 0 ? peak : 1; // counts, or shares of each sample (density)
    const xs = scale("linear", edges[0], edges[edges.length - 1], box.x0, box.x1);
    const ys = scale("linear", 0, top * 1.05, box.y1, box.y0);
    axes(p, box, xs, ys, d.x_label, d.y_label);
    counts.forEach((c, i) => {
      const color = SERIES[i % SERIES.length];
      const pts = [[xs(edges[0]), ys(0)]];
      c.forEach((n, b) => { pts.push([xs(edges[b]), ys(n)], [xs(edges[b + 1]), ys(n)]); });
      pts.push([xs(edges[edges.length - 1]), ys(0)]);
      p.area(pts, color, 0.25);
      p.path(pts, color, 1.5, 1);
    });
    d.markers.forEach((m, i) => {
      if (!(m.x >= edges[0] && m.x <= edges[edges.length - 1])) return;
      p.line(xs(m.x), box.y0, xs(m.x), box.y1, "#333", 1, true);
      const text = m.name + " " + label(m.x);
      const right = xs(m.x) + 3 + 6.2 * text.length > box.x1; // 11px sans: ~6.2px a character
      p.text(xs(m.x) + (right ? -3 : 3), box.y0 + 12 + 13 * i, text, { color: "#333", anchor: right ? "right" : "left" });
    });
    legend(p, d.series.map((s) => s.name), box.x0, 16);
    return { box: box, xs: xs, edges: edges, counts: counts };
  }
  function histTip(d, geo, ev, canvas) {
    const r = canvas.getBoundingClientRect();
    const px = ev.clientX - r.left;
    const b = geo.edges.findIndex((e, i) => i < geo.edges.length - 1 && px < geo.xs(geo.edges[i + 1]));
    if (b < 0) return null;
    const lines = ["[" + label(geo.edges[b]) + ", " + label(geo.edges[b + 1]) + ")"];
    d.series.forEach((s, i) => lines.push(s.name + ": " + label(geo.counts[i][b])));
    return lines;
  }

  // ---- heatmap ------------------------------------------------------------------------------
  function heatLayout(d, avail) {
    const shape = d.values.shape;
    const P = shape.length === 3 ? shape[0] : 1;
    const R = shape[shape.length - 2];
    const C = shape[shape.length - 1];
    const longest = (labels) => Math.max(0, ...(labels || []).map((s) => String(s).length));
    let cell = Math.max(2, Math.min(48, Math.floor(Math.min(360 / C, 360 / R))));
    const showRows = d.row_labels && R <= 48;
    const showCols = d.col_labels && C <= 48;
    const left = showRows ? Math.min(200, 14 + 6.5 * longest(d.row_labels)) : 34;
    const fit = Math.floor(((avail - left - 70) / Math.min(P, 4) - 16) / C);
    cell = Math.max(2, Math.min(cell, fit));
    const top = d.panel_titles ? 22 : 8;
    const bottom = showCols ? Math.min(200, 14 + 6.5 * longest(d.col_labels)) + (d.x_label ? 16 : 0) : 30;
    const pw = C * cell + 16;
    const perRow = Math.max(1, Math.min(P, Math.floor((avail - left - 70) / pw)));
    const rows = Math.ceil(P / perRow);
    const ph = top + R * cell + bottom;
    return { P, R, C, cell, showRows, showCols, left, top, bottom, pw, ph, perRow,
      w: left + perRow * pw + 70, h: rows * ph + 10 };
  }
  /** Large matrices are drawn as one image, a pixel per cell. */
  function heatImage(d, v, R, C) {
    const off = offscreen(C, R);
    const ctx = off.getContext("2d");
    const img = ctx.createImageData(C, R);
    const lut = LUT[d.cmap];
    const span = d.vmax - d.vmin;
    for (let i = 0; i < R * C; i++) {
      const ok = Number.isFinite(v[i]);
      const q = ok ? Math.max(0, Math.min(255, Math.round(((v[i] - d.vmin) / span) * 255))) * 3 : 0;
      img.data.set(ok ? [lut[q], lut[q + 1], lut[q + 2], 255] : [221, 221, 221, 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
    return off;
  }
  function drawHeatmap(p, d, avail) {
    const L = heatLayout(d, avail);
    const span = d.vmax - d.vmin;
    for (let k = 0; k < L.P; k++) {
      const ox = L.left + (k % L.perRow) * L.pw;
      const oy = Math.floor(k / L.perRow) * L.ph + L.top;
      const v = d.values.shape.length === 3 ? sub(d.values, k).data : d.values.data;
      if (d.panel_titles) p.text(ox, oy - 6, d.panel_titles[k], { bold: true });
      if (L.R * L.C > 2500) {
        p.image(heatImage(d, v, L.R, L.C), ox, oy, L.C * L.cell, L.R * L.cell);
      }
      for (let r = 0; r < L.R && L.R * L.C <= 2500; r++) {
        for (let c = 0; c < L.C; c++) {
          const x = v[r * L.C + c];
          const fill = Number.isFinite(x) ? lutColor(d.cmap, ((x - d.vmin) / span) * 255) : "#ddd";
          p.rect(ox + c * L.cell, oy + r * L.cell, L.cell + 0.5, L.cell + 0.5, fill);
          if (L.cell >= 34 && Number.isFinite(x)) {
            const q = (x - d.vmin) / span;
            p.text(ox + (c + 0.5) * L.cell, oy + (r + 0.5) * L.cell, label(+x.toPrecision(2)),
              { anchor: "center", baseline: "middle", color: (d.cmap === "sequential" ? q < 0.6 : Math.abs(q - 0.5) > 0.36) ? "#fff" : "#222" });
          }
        }
      }
      if (L.showRows && k % L.perRow === 0) {
        d.row_labels.forEach((s, r) => p.text(ox - 4, oy + (r + 0.5) * L.cell, s,
          { anchor: "right", baseline: "middle" }));
      }
      if (L.showCols) {
        d.col_labels.forEach((s, c) => p.text(ox + (c + 0.5) * L.cell, oy + L.R * L.cell + 6, s,
          { anchor: "right", baseline: "middle", rotate: -Math.PI / 2 }));
      }
      if (d.x_label) p.text(ox + (L.C * L.cell) / 2, oy + L.R * L.cell + L.bottom - 8, d.x_label, { anchor: "center" });
    }
    if (d.y_label) p.text(10, L.top + (L.R * L.cell) / 2, d.y_label, { anchor: "center", rotate: -Math.PI / 2 });
    const bx = L.w - 56;
    const bh = Math.min(160, L.R * L.cell);
    for (let i = 0; i < 64; i++) p.rect(bx, L.top + bh - ((i + 1) * bh) / 64, 12, bh / 64 + 0.5, lutColor(d.cmap, (i / 63) * 255));
    p.text(bx + 16, L.top + 8, label(d.vmax));
    p.text(bx + 16, L.top + bh, label(d.vmin));
    return L;
  }
  function heatTip(d, L, ev, canvas) {
    const r = canvas.getBoundingClientRect();
    const px = ev.clientX - r.left - L.left;
    const py = ev.clientY - r.top;
    const k = Math.floor(py / L.ph) * L.perRow + Math.floor(px / L.pw);
    const c = Math.floor((px % L.pw) / L.cell);
    const row = Math.floor((py % L.ph - L.top) / L.cell);
    if (px < 0 || k >= L.P || c < 0 || c >= L.C || row < 0 || row >= L.R) return null;
    const v = (d.values.shape.length === 3 ? sub(d.values, k) : d.values).data[row * L.C + c];
    const name = (d.row_labels ? d.row_labels[row] : "row " + row) + " × " + (d.col_labels ? d.col_labels[c] : "col " + c);
    return [(d.panel_titles ? d.panel_titles[k] + ": " : "") + name, "value " + label(v)];
  }

  // ---- timeline: one slider moves every figure that has steps --------------------------------
  const TL = (function () {
    const steps = DATA.timeline || [];
    const slider = document.getElementById("tl-slider");
    const stepText = document.getElementById("tl-step");
    const play = document.getElementById("tl-play");
    const subs = [];
    let i = steps.length - 1;
    let timer = null;
    function set(k) {
      i = Math.max(0, Math.min(steps.length - 1, k));
      if (slider) slider.value = String(i);
      if (stepText) stepText.textContent = "step " + steps[i] + "  (" + (i + 1) + " of " + steps.length + ")";
      subs.forEach((f) => f());
    }
    function toggle() {
      if (timer) {
        clearInterval(timer);
        timer = null;
        play.textContent = "\u25B6";
        return;
      }
      if (i >= steps.length - 1) set(0);
      play.textContent = "\u275A\u275A";
      timer = setInterval(() => (i >= steps.length - 1 ? toggle() : set(i + 1)), 350);
    }
    if (slider) slider.addEventListener("input", () => set(Number(slider.value)));
    if (play) play.addEventListener("click", toggle);
    document.addEventListener("keydown", (ev) => {
      const tag = (ev.target && ev.target.tagName ? ev.target.tagName : "").toLowerCase();
      if (ev.key === "Escape") closeDetail();
      if (!steps.length || tag === "input" || tag === "select" || tag === "textarea") return;
      if (ev.key === "ArrowRight") set(i + 1);
      else if (ev.key === "ArrowLeft") set(i - 1);
      else if (ev.key === " " && tag !== "button") toggle();
      else return;
      ev.preventDefault();
    });
    return { step: () => (steps.length ? steps[i] : null), subscribe: (f) => subs.push(f), set: set,
      index: () => i };
  })();

  // ---- charts as figures --------------------------------------------------------------------
  function chartFigure(fig, size, draw, tipFn) {
    const canvas = el("canvas");
    fig.body.appendChild(canvas);
    let geo = null;
    fig.render = () => {
      const [w, h] = size(bodyWidth(fig));
      geo = draw(new CanvasPainter(canvas, w, h), w, h, TL.step());
    };
    fig.svg = () => {
      const [w, h] = size(bodyWidth(fig));
      const p = new SvgPainter(w, h);
      draw(p, w, h, TL.step());
      return p.serialize();
    };
    fig.png = () => canvas;
    fig.resize = true;
    canvas.addEventListener("mousemove", (ev) => {
      const lines = geo && tipFn(fig.data, geo, ev, canvas);
      if (lines) showTip(ev, lines);
      else hideTip();
    });
    canvas.addEventListener("mouseleave", hideTip);
    if (fig.data.cursor) fig.onStep = fig.render;
  }
  const BUILD = {
    lines: (fig) => chartFigure(fig, (w) => [Math.min(w, 760), 280],
      (p, w, h, step) => drawLines(p, fig.data, w, h, step), linesTip),
    histogram: (fig) => chartFigure(fig, (w) => [Math.min(w, 640), 260],
      (p, w, h) => drawHistogram(p, fig.data, w, h), histTip),
    heatmap: (fig) => chartFigure(fig, (w) => { const L = heatLayout(fig.data, w); return [L.w, L.h]; },
      (p, w) => drawHeatmap(p, fig.data, w), heatTip),
    image_grid: imageGridFigure,
    unit_grid: unitGridFigure,
    table: tableFigure,
  };

  // ---- image grids --------------------------------------------------------------------------
  function paintRgb(ctx, img, H, W) {
    const out = ctx.createImageData(W, H);
    for (let i = 0; i < H * W; i++) {
      out.data.set([img[i], img[H * W + i], img[2 * H * W + i], 255], i * 4);
    }
    ctx.putImageData(out, 0, 0);
  }
  function imageGridFigure(fig) {
    const d = fig.data;
    const timed = !!d.steps;
    const shape = d.images.shape;
    const lead = timed ? 2 : 1;
    const N = shape[lead - 1];
    const rgb = shape.length === lead + 3;
    const H = shape[shape.length - 2];
    const W = shape[shape.length - 1];
    const z = Math.max(1, Math.min(16, Math.floor(64 / Math.max(H, W))));
    const gap = 6;
    const labelH = d.labels ? 14 : 0;
    const left = d.row_labels ? 96 : 0;
    const cols = Math.min(d.cols, N);
    const rows = Math.ceil(N / cols);
    const w = left + cols * (W * z + gap);
    const h = rows * (H * z + gap + labelH) + (timed ? 18 : 2);
    const canvas = el("canvas");
    fig.body.appendChild(canvas);
    const cell = (i) => [left + (i % cols) * (W * z + gap), (timed ? 18 : 2) + Math.floor(i / cols) * (H * z + gap + labelH)];
    let t = 0;
    fig.render = () => {
      t = timed ? indexAt(list(d.steps), TL.step()) : 0;
      const p = new CanvasPainter(canvas, w, h);
      p.ctx.imageSmoothingEnabled = false;
      if (timed) p.text(left, 12, "step " + d.steps.data[t], { bold: true });
      const off = offscreen(W, H);
      const octx = off.getContext("2d");
      for (let i = 0; i < N; i++) {
        const img = (timed ? sub(d.images, t, i) : sub(d.images, i)).data;
        if (rgb) paintRgb(octx, img, H, W);
        else paintCodes(octx, img, H, W, typeof d.cmap === "string" ? d.cmap : d.cmap[i], false);
        const [x, y] = cell(i);
        p.ctx.drawImage(off, x, y, W * z, H * z);
        p.ctx.strokeStyle = "#b8c2cc";
        p.ctx.lineWidth = 1;
        p.ctx.strokeRect(x - 0.5, y - 0.5, W * z + 1, H * z + 1);
        if (d.labels) p.text(x, y + H * z + 11, String(d.labels[i]).slice(0, Math.max(4, Math.floor((W * z) / 6))));
      }
      if (d.row_labels) {
        d.row_labels.forEach((s, r) => p.text(left - 6, cell(r * cols)[1] + (H * z) / 2, s, { anchor: "right", baseline: "middle" }));
      }
    };
    if (timed) fig.onStep = fig.render;
    fig.png = () => canvas;
    canvas.addEventListener("mousemove", (ev) => {
      const r = canvas.getBoundingClientRect();
      const px = ev.clientX - r.left - left;
      const py = ev.clientY - r.top - (timed ? 18 : 2);
      const i = Math.floor(py / (H * z + gap + labelH)) * cols + Math.floor(px / (W * z + gap));
      if (px < 0 || py < 0 || i >= N) return hideTip();
      const lo = timed ? sub(d.lo, t).data[i] : d.lo.data[i];
      const hi = timed ? sub(d.hi, t).data[i] : d.hi.data[i];
      showTip(ev, [d.labels ? d.labels[i] : "image " + i, "values " + label(lo) + " to " + label(hi)]);
    });
    canvas.addEventListener("mouseleave", hideTip);
  }

  // ---- tables -------------------------------------------------------------------------------
  function tableFigure(fig) {
    fig.csv = () => Array.from(fig.body.querySelectorAll("tr")).map((tr) =>
      Array.from(tr.children).map((td) => '"' + td.textContent.replace(/"/g, '""') + '"').join(",")).join("\n");
  }

  // ---- unit grids (Playground style) ----------------------------------------------------------
  function drawPlane(canvas, d, t, size, unit) {
    const R = d.values.shape[2];
    const off = offscreen(R, R);
    const octx = off.getContext("2d");
    if (unit === null) {
      const dec = d.decision;
      if (dec.mode === "classes") paintClasses(octx, sub(dec.values, t).data, sub(dec.labels, t).data, R, R);
      else paintCodes(octx, sub(dec.values, t).data, R, R, "diverging", true);
    } else {
      paintCodes(octx, sub(d.values, t, unit).data, R, R, "diverging", true);
    }
    const p = new CanvasPainter(canvas, size, size);
    p.ctx.imageSmoothingEnabled = true;
    p.ctx.drawImage(off, 0, 0, size, size);
    if (!d.points) return;
    const [x0, x1, y0, y1] = d.extent;
    const xy = d.points.xy.data;
    const lab = d.points.label.data;
    for (let i = 0; i < lab.length; i++) {
      p.ctx.beginPath();
      p.ctx.arc(((xy[2 * i] - x0) / (x1 - x0)) * size, size - ((xy[2 * i + 1] - y0) / (y1 - y0)) * size, 2.6, 0, 2 * Math.PI);
      p.ctx.fillStyle = CLASSES[Math.max(0, lab[i]) % CLASSES.length];
      p.ctx.strokeStyle = "#fff";
      p.ctx.fill();
      p.ctx.stroke();
    }
  }
  function groupColors(d) {
    if (!d.groups) return null;
    const groups = list(d.groups);
    const count = {};
    groups.forEach((g) => (count[g] = (count[g] || 0) + 1));
    return groups.map((g) => (count[g] > 1 ? SERIES[g % SERIES.length] : "transparent"));
  }
  function unitLines(d, u, t) {
    const lines = [d.unit_labels[u] + (d.layer ? " of " + d.layer : "") + ", step " + d.steps.data[t]];
    lines.push("output range \u00B1" + label(sub(d.scale, t).data[u]));
    Object.keys(d.measures).forEach((name) => lines.push(name + ": " + label(sub(d.measures[name], t).data[u])));
    if (d.sibling) lines.push("most similar sibling: " + d.unit_labels[sub(d.sibling, t).data[u]]);
    return lines;
  }
  function unitGridFigure(fig) {
    const d = fig.data;
    const [T, U, R] = d.values.shape;
    const steps = list(d.steps);
    const wrap = el("div", "ug");
    fig.body.appendChild(wrap);
    let decCanvas = null;
    if (d.decision) {
      const side = el("div", "ug-side");
      side.appendChild(el("div", "ug-cap", "network output"));
      decCanvas = el("canvas", "ug-decision");
      side.appendChild(decCanvas);
      side.appendChild(el("div", "ug-note", d.decision.mode === "diverging"
        ? "orange below 0, blue above; the white band is the decision boundary"
        : "color: predicted class; paler: less confident"));
      wrap.appendChild(side);
    }
    const main = el("div", "ug-main");
    wrap.appendChild(main);
    const controls = el("div", "ug-controls");
    const order = el("select");
    Object.keys(d.orders).forEach((name) => {
      const o = el("option", null, "order: " + name);
      o.value = name;
      order.appendChild(o);
    });
    const size = el("input");
    size.type = "range";
    size.min = "24";
    size.max = "160";
    size.value = String(U > 64 ? 40 : U > 32 ? 52 : U > 12 ? 68 : 96);
    size.setAttribute("aria-label", "panel size");
    const stepNote = el("span", "ug-step");
    controls.append(order, el("span", null, "panel size"), size, stepNote);
    main.appendChild(controls);
    const grid = el("div", "ug-units");
    main.appendChild(grid);
    const colors = groupColors(d);
    const panels = [];
    for (let u = 0; u < U; u++) {
      const box = el("div", "unit");
      const c = el("canvas");
      c.width = R;
      c.height = R;
      box.append(c, el("span", "ulabel", d.unit_labels[u]));
      if (colors) box.style.borderTopColor = colors[u];
      grid.appendChild(box);
      panels.push({ box: box, canvas: c, ctx: c.getContext("2d") });
    }
    let t = T - 1;
    let selected = null;
    const applyOrder = () => list(d.orders[order.value]).forEach((u) => grid.appendChild(panels[u].box));
    const applySize = () => panels.forEach((p) => (p.canvas.style.width = p.canvas.style.height = size.value + "px"));
    fig.render = () => {
      t = indexAt(steps, TL.step());
      stepNote.textContent = "step " + steps[t];
      for (let u = 0; u < U; u++) paintCodes(panels[u].ctx, sub(d.values, t, u).data, R, R, "diverging", true);
      if (decCanvas) drawPlane(decCanvas, d, t, 200, null);
      if (selected !== null && detailOwner === fig) showDetail(fig, selected, t);
    };
    fig.onStep = fig.render;
    order.addEventListener("change", applyOrder);
    size.addEventListener("input", applySize);
    applySize();
    panels.forEach((p, u) => {
      p.box.addEventListener("mouseenter", (ev) => {
        showTip(ev, unitLines(d, u, t));
        if (d.sibling) panels[sub(d.sibling, t).data[u]].box.classList.add("sib");
      });
      p.box.addEventListener("mousemove", (ev) => showTip(ev, unitLines(d, u, t)));
      p.box.addEventListener("mouseleave", () => {
        hideTip();
        panels.forEach((q) => q.box.classList.remove("sib"));
      });
      p.box.addEventListener("click", () => {
        selected = u;
        panels.forEach((q, k) => q.box.classList.toggle("sel", k === u));
        showDetail(fig, u, t);
      });
    });
    fig.png = () => composeUnits(fig, panels, decCanvas, d, t, Number(size.value));
    fig.select = (u) => panels[u].box.click();
  }
  function composeUnits(fig, panels, decCanvas, d, t, s) {
    const order = Array.from(fig.body.querySelectorAll(".unit")).map((b) => panels.findIndex((p) => p.box === b));
    const side = decCanvas ? 220 : 0;
    const cols = Math.max(1, Math.floor((1000 - side) / (s + 6)));
    const rows = Math.ceil(order.length / cols);
    const w = side + cols * (s + 6) + 10;
    const h = Math.max(rows * (s + 20) + 30, decCanvas ? 250 : 0);
    const canvas = offscreen(w, h);
    const p = new CanvasPainter(canvas, w, h);
    p.text(8, 16, (d.layer || fig.id) + ", step " + d.steps.data[t], { bold: true });
    if (decCanvas) p.ctx.drawImage(decCanvas, 8, 28, 200, 200);
    order.forEach((u, k) => {
      const x = side + (k % cols) * (s + 6);
      const y = 28 + Math.floor(k / cols) * (s + 20);
      p.ctx.drawImage(panels[u].canvas, x, y, s, s);
      p.text(x, y + s + 12, d.unit_labels[u]);
    });
    return canvas;
  }

  // ---- the enlarged unit --------------------------------------------------------------------
  const detail = document.getElementById("detail");
  let detailOwner = null;
  function closeDetail() {
    if (!detail) return;
    detail.hidden = true;
    detailOwner = null;
    document.querySelectorAll(".unit.sel").forEach((b) => b.classList.remove("sel"));
  }
  function drawBars(canvas, labels, values, w) {
    const n = values.length;
    const rowH = n > 32 ? 4 : 15;
    const left = rowH > 4 ? 72 : 8;
    const h = n * rowH + 8;
    const p = new CanvasPainter(canvas, w, h);
    const m = Math.max(1e-12, ...Array.from(values, Math.abs));
    const half = (w - left - 56) / 2;
    const mid = left + half;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      const y = 4 + i * rowH;
      p.rect(Math.min(mid, mid + (v / m) * half), y + 1, Math.abs(v / m) * half, rowH - 2, v >= 0 ? "#0877bd" : "#f59322");
      if (rowH > 4) {
        p.text(left - 4, y + rowH / 2, labels[i], { anchor: "right", baseline: "middle" });
        p.text(w - 50, y + rowH / 2, label(v), { baseline: "middle" });
      }
    }
    p.line(mid, 0, mid, h, "#999");
  }
  function showDetail(fig, u, t) {
    const d = fig.data;
    detailOwner = fig;
    detail.hidden = false;
    detail.textContent = "";
    const head = el("div", "d-head");
    head.appendChild(el("b", null, d.unit_labels[u] + (d.layer ? " \u00B7 " + d.layer : "") + " \u00B7 step " + d.steps.data[t]));
    const close = el("button", "d-close", "\u00D7");
    close.type = "button";
    close.title = "close (Esc)";
    close.addEventListener("click", closeDetail);
    head.appendChild(close);
    detail.appendChild(head);
    const big = el("canvas");
    detail.appendChild(big);
    drawPlane(big, d, t, 260, u);
    const lines = unitLines(d, u, t).slice(1);
    const ul = el("ul", "d-measures");
    lines.forEach((line) => ul.appendChild(el("li", null, line)));
    detail.appendChild(ul);
    if (d.sibling) {
      const s = sub(d.sibling, t).data[u];
      const go = el("button", "d-go", "show " + d.unit_labels[s]);
      go.type = "button";
      go.addEventListener("click", () => fig.select(s));
      detail.appendChild(go);
    }
    [["incoming", "incoming weights (and bias)"], ["outgoing", "outgoing weights"]].forEach(([key, title]) => {
      if (!d[key]) return;
      detail.appendChild(el("div", "d-title", title));
      const c = el("canvas");
      detail.appendChild(c);
      drawBars(c, d[key + "_labels"], sub(d[key], t, u).data, 300);
    });
  }

  // ---- export -------------------------------------------------------------------------------
  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = el("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 2000);
  }
  function tool(fig, text, title, action) {
    const b = el("button", "tool", text);
    b.type = "button";
    b.title = title;
    b.addEventListener("click", action);
    fig.el.querySelector(".tools").appendChild(b);
  }
  function addTools(fig) {
    if (fig.png) tool(fig, "PNG", "download as PNG", () => fig.png().toBlob((b) => download(b, fig.id + ".png")));
    if (fig.svg) tool(fig, "SVG", "download as SVG", () => download(new Blob([fig.svg()], { type: "image/svg+xml" }), fig.id + ".svg"));
    if (fig.csv) tool(fig, "CSV", "download as CSV", () => download(new Blob([fig.csv()], { type: "text/csv" }), fig.id + ".csv"));
  }

  // ---- start-up -----------------------------------------------------------------------------
  async function main() {
    const figs = await decodeAll(DATA.figures);
    const all = [];
    document.querySelectorAll("figure.fig").forEach((node) => {
      const id = node.dataset.fig;
      const fig = { id: id, el: node, body: node.querySelector(".fig-body"), data: figs[id] ? figs[id].data : null };
      try {
        BUILD[node.dataset.kind](fig);
        addTools(fig);
        if (fig.onStep) TL.subscribe(fig.onStep);
        all.push(fig);
      } catch (err) {
        console.error("figure " + id + " could not be drawn: " + err);
        fig.body.appendChild(el("p", "warn", "This figure could not be drawn: " + err.message));
      }
    });
    all.forEach((f) => f.render && !f.onStep && f.render());
    TL.set(TL.index());
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => all.forEach((f) => f.resize && f.render()), 150);
    });
    document.body.dataset.ready = "1";
  }
  main().catch((err) => {
    console.error("unitscope report: " + err);
    document.body.dataset.ready = "error";
  });
})();
