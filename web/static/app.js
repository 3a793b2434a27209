// parvis admin UI: small progressive enhancements over server-rendered
// pages (live tables, the chart, the config editor). No framework.
"use strict";

const csrf = () => (document.querySelector('meta[name="csrf"]') || {}).content || "";

// The page's language and its texts (the `js.*` keys of the server's
// catalogue, embedded by the layout).
const LANG = document.documentElement.lang || "en";
const TEXTS = (() => {
  try { return JSON.parse((document.getElementById("i18n") || {}).textContent || "{}"); }
  catch (e) { return {}; }
})();
function t(key, args) {
  const v = TEXTS["js." + key];
  let s = v === undefined ? key : v;
  for (const [k, v] of Object.entries(args || {})) s = s.split("{" + k + "}").join(String(v));
  return s;
}
// The checker's message templates in the page's language (config page,
// French only): the API's `code` and `params` rendered with them; the
// API's English `message` otherwise. Key paths and values are the API's.
const MSG = (() => {
  try { return JSON.parse((document.getElementById("i18n-msg") || {}).textContent || "{}"); }
  catch (e) { return {}; }
})();
function msg(code, params, english) {
  const tpl = MSG[code];
  if (!tpl) return english;
  return tpl.replace(/\{([a-z_0-9]+)\}/g, (all, name) => {
    const v = (params || {})[name];
    if (v === undefined || v === null) return all;
    const one = x => typeof x === "string" ? x : msg(x.code, x.params, all);
    return Array.isArray(v) ? v.map(one).join("\u202f; ") : one(v);
  });
}
const num = (n, digits) => new Intl.NumberFormat(LANG,
  { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 }).format(n);

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch("/api/v1" + path, opts);
  if (resp.status === 401) { location.href = "/login"; throw new Error(t("not_logged_in")); }
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new Error((data && data.error) || resp.statusText);
  return data;
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// As the server writes them (src/admin/i18n/format.rs): "1,234.5 MiB" / "1 234,5 Mio".
function human(n) {
  const u = t("units").split(" ");
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return num(n, i ? 1 : 0) + "\u00a0" + u[i];
}

function age(ms) {
  const s = Math.floor(ms / 1000);
  const [us, um, uh] = [t("unit_s"), t("unit_m"), t("unit_h")];
  if (s < 60) return s + us;
  if (s < 3600) return Math.floor(s / 60) + um + " " + (s % 60) + us;
  return Math.floor(s / 3600) + uh + " " + Math.floor(s / 60) % 60 + um;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// ---- dashboard chart ------------------------------------------------------
function drawChart(svg, series) {
  const NS = "http://www.w3.org/2000/svg";
  // Match the drawn width so text is not stretched.
  const W = Math.max(200, Math.round(svg.getBoundingClientRect().width) || 800), H = 200, P = 24;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const pts = series.points || [];
  for (let i = 1; i < 4; i++) {
    const g = document.createElementNS(NS, "line");
    g.setAttribute("x1", 0); g.setAttribute("x2", W);
    g.setAttribute("y1", (H / 4) * i); g.setAttribute("y2", (H / 4) * i);
    g.setAttribute("stroke", "#e6ebf1"); svg.appendChild(g);
  }
  if (pts.length < 2) {
    const msg = document.createElementNS(NS, "text");
    msg.setAttribute("x", W / 2); msg.setAttribute("y", H / 2); msg.setAttribute("text-anchor", "middle");
    msg.setAttribute("fill", "#6b7785"); msg.textContent = t("collecting"); svg.appendChild(msg);
    return;
  }
  const line = (key, color) => {
    const max = Math.max(1, ...pts.map(p => p[key]));
    const d = pts.map((p, i) => {
      const x = (i / (pts.length - 1)) * W;
      const y = H - P - (p[key] / max) * (H - 2 * P);
      return (i ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
    }).join(" ");
    const path = document.createElementNS(NS, "path");
    path.setAttribute("d", d); path.setAttribute("fill", "none");
    path.setAttribute("stroke", color); path.setAttribute("stroke-width", "2");
    path.setAttribute("vector-effect", "non-scaling-stroke");
    svg.appendChild(path);
    return max;
  };
  const label = (text, x, anchor, color) => {
    const lbl = document.createElementNS(NS, "text");
    lbl.setAttribute("x", x); lbl.setAttribute("y", 16); lbl.setAttribute("text-anchor", anchor);
    lbl.setAttribute("font-size", "12"); lbl.setAttribute("fill", color); lbl.textContent = text;
    svg.appendChild(lbl);
  };
  const maxRate = line("conn_rate", "#2a7fd4");
  const maxActive = line("active", "#1f8a5b");
  label(t("max_rate", { n: num(maxRate, 1) }), 6, "start", "#2a7fd4");
  label(t("max_active", { n: num(maxActive) }), W - 6, "end", "#1f8a5b");
  const span = document.getElementById("chart-span");
  if (span) span.textContent = spanText(pts[pts.length - 1].time - pts[0].time);
  const last = pts[pts.length - 1];
  const now = document.getElementById("chart-now");
  if (now) now.textContent = t("now", { rate: num(last.conn_rate, 1), active: num(last.active) });
}

// "last 40 s" under a minute, "last 3 min" after: never "last 0 min".
function spanText(secs) {
  const s = Math.max(0, Math.round(secs));
  const m = Math.round(s / 60);
  if (s < 60) return s === 1 ? t("span_one_s") : t("span_s", { n: s });
  return m === 1 ? t("span_one_min") : t("span_min", { n: m });
}

function initDashboard() {
  const svg = document.getElementById("chart");
  if (!svg) return;
  const tick = () => api("GET", "/series").then(s => drawChart(svg, s)).catch(() => {});
  tick();
  setInterval(tick, 5000);
}

// ---- live connections -----------------------------------------------------
function initConnections() {
  const table = document.getElementById("conns");
  const filter = document.getElementById("conn-filter");
  if (!table) return;
  let last = [];
  const render = () => {
    const q = (filter.value || "").trim().toLowerCase();
    const rows = last.filter(c => !q || [c.client, c.listener, c.host, c.backend, c.server]
      .some(v => v && String(v).toLowerCase().includes(q)));
    const tbody = table.querySelector("tbody");
    tbody.innerHTML = "";
    if (!rows.length) {
      const tr = el("tr", { class: "empty" });
      tr.appendChild(el("td", { colspan: 7 }, q ? t("no_match") : t("no_conns")));
      tbody.appendChild(tr);
    }
    for (const c of rows) {
      const tr = el("tr", { "data-id": c.id });
      [c.client, c.listener, c.host || "", c.backend || "", c.server || "", age(c.age_ms),
       "→ " + human(c.bytes_in) + " · ← " + human(c.bytes_out)].forEach(v => tr.appendChild(el("td", {}, v)));
      tbody.appendChild(tr);
    }
    document.getElementById("conn-count").textContent = q
      ? t("of", { shown: rows.length, all: last.length }) : String(rows.length);
  };
  const tick = () => api("GET", "/connections").then(list => {
    last = list;
    render();
    document.getElementById("conn-updated").textContent = t("updated", { time: new Date().toLocaleTimeString(LANG) });
  }).catch(() => {});
  filter.addEventListener("input", render);
  tick();
  setInterval(tick, 2000);
}

// ---- configuration --------------------------------------------------------
function showDiff(pre, text) {
  pre.classList.remove("hidden");
  if (!text) { pre.textContent = t("no_diff"); return; }
  pre.innerHTML = text.split("\n").map(l => {
    const cls = l.startsWith("@@") ? "hunk" : l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : "";
    return cls ? '<span class="' + cls + '">' + escapeHtml(l) + "</span>" : escapeHtml(l);
  }).join("\n");
}

function message(kind, text) {
  const box = document.getElementById("result");
  box.innerHTML = "";
  box.appendChild(el("div", { class: "alert " + kind, id: "result-message" }, text));
}

function initConfig() {
  const ed = document.getElementById("editor");
  if (!ed) return;
  const gutter = document.getElementById("gutter");
  const problemsEl = document.getElementById("problems");
  const status = document.getElementById("check-status");
  let errLines = new Set();
  const paintGutter = () => {
    const n = ed.value.split("\n").length;
    let html = "";
    for (let i = 1; i <= n; i++) html += (errLines.has(i) ? '<span class="err">' + i + "</span>" : i) + "\n";
    gutter.innerHTML = html;
    gutter.scrollTop = ed.scrollTop;
  };
  const check = () => api("POST", "/check", { config: ed.value }).then(r => {
    errLines = new Set(r.problems.filter(p => p.line).map(p => p.line));
    problemsEl.innerHTML = "";
    // The key paths (listener[0].bind) are the same in both languages.
    if (r.problems.length && t("checker_note")) problemsEl.appendChild(el("li", { class: "note" }, t("checker_note")));
    for (const p of r.problems) {
      const li = el("li", { "data-line": p.line || "", class: "problem" },
        (p.line ? t("line", { n: p.line }) : "") + (p.path ? p.path + t("colon") : "") + msg(p.code, p.params, p.message));
      li.addEventListener("click", () => goToLine(ed, p.line));
      problemsEl.appendChild(li);
    }
    status.className = "badge " + (r.ok ? "ok" : "bad");
    status.textContent = r.ok ? t("valid") : t("problems", { n: r.problems.length });
    paintGutter();
    return r.ok;
  }).catch(e => { status.className = "badge bad"; status.textContent = t("error", { reason: e.message }); return false; });
  let timer = null;
  ed.addEventListener("input", () => { paintGutter(); clearTimeout(timer); timer = setTimeout(check, 400); });
  ed.addEventListener("scroll", () => { gutter.scrollTop = ed.scrollTop; });
  paintGutter();
  check();

  document.getElementById("diff-btn").addEventListener("click", () =>
    api("POST", "/diff", { config: ed.value }).then(r => showDiff(document.getElementById("diff"), r.diff))
      .catch(e => message("bad", t("error", { reason: e.message }))));

  document.getElementById("apply-btn").addEventListener("click", async () => {
    if (!(await check())) { message("bad", t("fix_first")); return; }
    const secs = parseInt(document.getElementById("confirm-within").value, 10);
    const req = { config: ed.value, comment: document.getElementById("comment").value,
      confirm_within_secs: secs > 0 ? secs : null, force: false };
    try {
      const o = await api("POST", "/apply", req);
      message("ok", t("applied", { v: o.version }) +
        (o.changes.length ? " " + t("changes", { list: o.changes.join("; ") }) : ""));
      if (o.pending_deadline_secs) startPending(o.version, o.pending_deadline_secs);
      else setTimeout(() => location.reload(), 1500);
    } catch (e) { message("bad", t("apply_refused", { reason: e.message })); }
  });

  document.getElementById("confirm-btn").addEventListener("click", () =>
    api("POST", "/confirm").then(o => {
      stopPending(); message("ok", t("confirmed", { v: o.version }));
      setTimeout(() => location.reload(), 1500);
    }).catch(e => message("bad", t("error", { reason: e.message }))));
  document.getElementById("rollback-now").addEventListener("click", () =>
    api("POST", "/rollback", {}).then(o => {
      stopPending(); message("ok", t("rolled_back", { v: o.version }));
      setTimeout(() => location.reload(), 1500);
    }).catch(e => message("bad", t("error", { reason: e.message }))));

  document.querySelectorAll("[data-diff]").forEach(b => b.addEventListener("click", () =>
    api("GET", "/history/" + b.dataset.diff + "/diff")
      .then(r => showDiff(document.getElementById("history-diff"), r.diff))
      .catch(e => message("bad", t("error", { reason: e.message })))));
  document.querySelectorAll("[data-rollback]").forEach(b => b.addEventListener("click", () => {
    if (!window.confirm(t("rollback_ask", { v: b.dataset.rollback }))) return;
    api("POST", "/rollback", { version: parseInt(b.dataset.rollback, 10) })
      .then(o => { message("ok", t("version_running", { v: o.version })); setTimeout(() => location.reload(), 1500); })
      .catch(e => message("bad", t("error", { reason: e.message })));
  }));

  const p = document.getElementById("pending");
  if (p.dataset.version) startPending(p.dataset.version, parseInt(p.dataset.deadline, 10));
}

function goToLine(ed, line) {
  if (!line) return;
  const lines = ed.value.split("\n");
  const start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
  ed.focus();
  ed.setSelectionRange(start, start + (lines[line - 1] || "").length);
  ed.scrollTop = Math.max(0, (line - 5) * 18);
}

let pendingTimer = null;
function startPending(version, secs) {
  const box = document.getElementById("pending");
  document.getElementById("pending-version").textContent = version;
  const cd = document.getElementById("countdown");
  let left = secs;
  cd.textContent = left;
  box.classList.remove("hidden");
  clearInterval(pendingTimer);
  pendingTimer = setInterval(() => {
    left -= 1;
    cd.textContent = Math.max(0, left);
    if (left <= 0) { stopPending(); message("warn", t("not_confirmed")); setTimeout(() => location.reload(), 2500); }
  }, 1000);
}
function stopPending() {
  clearInterval(pendingTimer);
  document.getElementById("pending").classList.add("hidden");
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "dashboard") initDashboard();
  if (page === "connections") initConnections();
  if (page === "config") initConfig();
});
