// The session dashboard: one EventSource, every panel redrawn from the state it accumulates.
"use strict";

const state = { snapshot: null, equity: [], trades: [], fills: [], retrain: null };
window.SCALPER_FILL_LATENCIES_MS = [];
const pageOpened = Date.now();
const $ = (id) => document.getElementById(id);
const fmt = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x)) ? "—" : Number(x).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const pct = (x, d = 2) => (x === null || x === undefined) ? "—" : fmt(100 * x, d) + " %";
const utc = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
const signClass = (x) => x > 0 ? "up" : (x < 0 ? "down" : "");
const text = (el, value) => { el.textContent = value; return el; };
function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else if (typeof c === "object" && c !== null) { td.textContent = c.text; if (c.cls) td.className = c.cls; } else td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}
function facts(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) { dl.appendChild(text(document.createElement("dt"), k)); dl.appendChild(text(document.createElement("dd"), v)); }
}

function renderRisk(s) {
  const st = s.status, r = s.risk;
  text($("session"), st.session);
  text($("venue"), s.venue);
  const stateTag = $("state");
  const flags = [s.running === false ? "STOPPED (from its store)" : null, st.paused ? "PAUSED" : null, st.killSwitch ? "KILL SWITCH" : null, st.modelExpired ? "MODEL EXPIRED" : null].filter(Boolean);
  text(stateTag, flags.length ? flags.join(" · ") : "trading");
  stateTag.className = "tag" + (flags.length ? " bad" : "");
  text($("equity"), fmt(st.equity) + " USDT");
  const pnl = $("pnl-today"); text(pnl, fmt(r.pnlToday) + " USDT"); pnl.className = "value " + signClass(r.pnlToday);
  const lossUsed = r.dayStartEquity > 0 ? Math.max(0, -r.pnlToday) / r.dayStartEquity : 0;
  text($("daily-limit"), "loss " + pct(lossUsed) + " of the " + pct(r.dailyLossLimit, 1) + " daily limit");
  text($("drawdown"), pct(r.drawdown));
  $("drawdown-bar").style.width = Math.min(100, 100 * r.drawdown / r.maxDrawdown) + "%";
  text($("drawdown-limit"), "kill switch at " + pct(r.maxDrawdown, 1) + " from the peak " + fmt(r.equityPeak));
  text($("trade-counts"), r.tradesLastHour + " / " + r.tradesToday);
  text($("trade-limits"), "limits " + r.maxTradesPerHour + " an hour, " + r.maxTradesPerDay + " a day; " + st.trades + " closed in all");
  const ks = $("kill-switch"); text(ks, st.killSwitch ? "ON" : "off"); ks.className = "value " + (st.killSwitch ? "down" : "");
}

function renderScanner(s) {
  const heat = $("heatmap");
  heat.replaceChildren();
  const scores = s.pairs.map((p) => p.score).filter((x) => x !== null && x !== undefined);
  const lo = Math.min(...scores, 0), hi = Math.max(...scores, 1e-9);
  for (const p of s.pairs) {
    const cell = document.createElement("div");
    const t = p.score === null || p.score === undefined ? 0.5 : (p.score - lo) / ((hi - lo) || 1);
    cell.className = "cell" + (p.candidate ? " candidate" : "");
    cell.style.background = `hsl(${210 - 210 * t}, 55%, ${22 + 18 * t}%)`;
    const notes = [...(p.alerts ?? []), ...(p.refusal ? ["not a candidate: " + p.refusal] : [])];
    cell.title = notes.length ? p.symbol + ": " + notes.join("; ") : p.symbol;
    cell.dataset.symbol = p.symbol;
    cell.appendChild(text(document.createElement("span"), p.symbol.replace(/USDT$/, "")));
    const sub = document.createElement("small");
    const badges = (p.alerts ?? []).map((a) => ({ VOLUME_SPIKE: "VOL", MOMENTUM: "MOM", BREAKOUT: "BRK" })[a] ?? a).join(" ");
    sub.textContent = (p.score !== null && p.score !== undefined ? fmt(p.score, 2) : (p.probability !== null && p.probability !== undefined ? "p " + fmt(p.probability, 3) : "")) + (badges ? " · " + badges : "");
    if (p.alerts && p.alerts.length) cell.classList.add("alerted");
    cell.appendChild(sub);
    heat.appendChild(cell);
  }
  const body = $("candidates").tBodies[0];
  body.replaceChildren();
  for (const c of s.status.candidates) {
    const bar = document.createElement("div"); bar.className = "bar";
    const fill = document.createElement("div"); fill.className = "fill"; fill.style.width = (100 * (c.probability ?? 0)) + "%";
    const mark = document.createElement("div"); mark.className = "mark"; mark.style.left = (100 * c.threshold) + "%";
    bar.append(fill, mark);
    bar.title = "p " + fmt(c.probability, 3) + " vs threshold " + fmt(c.threshold, 3);
    body.appendChild(row([c.symbol + (c.inTrainingSet ? "" : " *"), bar]));
  }
}

function renderPositions(s) {
  const body = $("positions").tBodies[0];
  body.replaceChildren();
  for (const p of s.status.positions) {
    const prog = document.createElement("div"); prog.className = "progress";
    const inner = document.createElement("div"); inner.style.width = Math.min(100, 100 * p.secondsInTrade / p.timeoutSeconds) + "%";
    prog.appendChild(inner); prog.title = Math.round(p.secondsInTrade) + " s of " + Math.round(p.timeoutSeconds) + " s";
    body.appendChild(row([p.symbol, fmt(p.entryPrice, 4), fmt(p.mark, 4), { text: fmt(p.unrealisedUSDT), cls: signClass(p.unrealisedUSDT) }, prog, fmt(p.stopLoss, 4), fmt(p.takeProfit, 4)]));
  }
}

function renderModel(s) {
  const m = s.model;
  facts($("model-facts"), [
    ["Name", m.name],
    ["Age", m.ageDays === null || m.ageDays === undefined ? "—" : fmt(m.ageDays, 1) + " days" + (m.maxAgeDays > 0 ? " of " + fmt(m.maxAgeDays, 0) : "") + (m.expired ? " — EXPIRED" : "")],
    ["Live ECE", (m.liveECE === null || m.liveECE === undefined ? "—" : fmt(m.liveECE, 4)) + " over " + m.liveRealised + " realised predictions"],
    ["Most drifted feature", m.driftFeature ? m.driftFeature + " (PSI " + fmt(m.driftPSI, 3) + ")" : "—"],
    ["Last retrain", state.retrain ?? "none recorded"],
  ]);
  renderReliability($("reliability"), m.reliability);
}

// Reliability: predicted vs realised per bin, the diagonal, and each bin's count.
function renderReliability(svg, bins) {
  const W = 320, H = 220, L = 40, B = 30, T = 20, R = 16;
  const x = (v) => L + v * (W - L - R), y = (v) => H - B - v * (H - B - T);
  let out = "";
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    out += `<line x1="${x(0)}" x2="${x(1)}" y1="${y(v)}" y2="${y(v)}" stroke="#2a3441"/><text x="${L - 4}" y="${y(v) + 4}" fill="#8a96a3" font-size="10" text-anchor="end">${v.toFixed(1)}</text>`;
    out += `<line y1="${y(0)}" y2="${y(1)}" x1="${x(v)}" x2="${x(v)}" stroke="#2a3441"/><text x="${x(v)}" y="${H - B + 12}" fill="#8a96a3" font-size="10" text-anchor="middle">${v.toFixed(1)}</text>`;
  }
  out += `<text x="${(L + W - R) / 2}" y="${H - 4}" fill="#8a96a3" font-size="10" text-anchor="middle">predicted probability</text>`;
  out += `<text x="10" y="${(T + H - B) / 2}" fill="#8a96a3" font-size="10" text-anchor="middle" transform="rotate(-90 10 ${(T + H - B) / 2})">realised rate</text>`;
  out += `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#8a96a3" stroke-dasharray="4 3"/>`;
  for (const b of bins) {
    if (!b.count) continue;
    out += `<circle cx="${x(b.meanPredicted)}" cy="${y(b.realisedRate)}" r="${3 + Math.min(6, Math.log10(b.count + 1) * 2)}" fill="#4c9aff" fill-opacity="0.8"><title>${b.count} predictions in [${b.lower.toFixed(1)}, ${b.upper.toFixed(1)})</title></circle>`;
    out += `<text x="${x(b.meanPredicted)}" y="${y(b.realisedRate) - 8}" fill="#d7dee6" font-size="9" text-anchor="middle">${b.count}</text>`;
  }
  svg.innerHTML = out;
}

function renderFeed(s) {
  const f = s.feed;
  facts($("feed-facts"), [
    ["Frames", f.frames.toLocaleString()], ["Closed bars", f.closedBars.toLocaleString()], ["Malformed frames", f.malformed],
    ["Connections / reconnects", f.connections + " / " + f.reconnects], ["Rejected requests", f.rejectedRequests],
    ["Trades / book frames", f.trades.toLocaleString() + " / " + f.books.toLocaleString()],
    ["Missed / late bars", f.missedBars + " / " + f.lateBars],
    ["Request weight used (this minute)", f.requestWeight === null || f.requestWeight === undefined ? "— (not reported yet)" : f.requestWeight.toLocaleString()],
    ["Orders ended", Object.entries(s.orders ?? {}).map(([k, v]) => k + " " + v).join(", ") || "none yet"],
    ["Lag of the last bar", f.lagMs === null || f.lagMs === undefined ? "— (lock-step or none yet)" : fmt(f.lagMs, 0) + " ms"],
    ["Minutes decided", s.status.minutes.toLocaleString()],
  ]);
  const l = s.latency;
  text($("latency"), "decision latency over the last " + Math.min(l.decisions, 1000) + " streamed decisions: p50 " + fmt(l.p50Us, 0) + " µs, p99 " + fmt(l.p99Us, 0) + " µs; " + s.fills + " fills, " + s.signals + " signals");
}

function renderFills() {
  const body = $("fills").tBodies[0];
  body.replaceChildren();
  for (const f of state.fills.slice(-200).reverse()) {
    const x = f.fill;
    const tr = row([utc(x.time), x.symbol, x.side ?? "—", x.leg ?? "—", fmt(x.price, 6), fmt(x.quantity, 4), { text: fmt(f.slippageBps, 1), cls: signClass(-(f.slippageBps ?? 0)) }, f.delayMs === null || f.delayMs === undefined ? "—" : fmt(f.delayMs / 1000, 1) + " s"]);
    tr.className = "fill-row"; tr.dataset.order = x.clientOrderID;
    body.appendChild(tr);
  }
}

function renderTrades() {
  const filter = $("trade-filter").value.trim().toUpperCase();
  const body = $("trades").tBodies[0];
  body.replaceChildren();
  const shown = state.trades.filter((t) => !filter || t.symbol.includes(filter) || t.exitReason.includes(filter)).slice(-300).reverse();
  for (const t of shown) body.appendChild(row([utc(t.entryTime), utc(t.exitTime), t.symbol, fmt(t.entryPrice, 6), fmt(t.exitPrice, 6), { text: fmt(t.pnlUSDT, 4), cls: signClass(t.pnlUSDT) }, { text: fmt(t.pnlPct, 3), cls: signClass(t.pnlPct) }, t.exitReason, fmt(t.probability, 3)]));
}

// Equity on top, drawdown below, one time axis; ticks and grid on both, trades marked.
function renderEquity() {
  const canvas = $("equity-chart"), g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 70, R = 12, T = 10, B = 26, gap = 16, split = Math.round((H - B - T) * 0.7) + T;
  g.clearRect(0, 0, W, H);
  g.font = "11px system-ui"; g.fillStyle = "#8a96a3"; g.strokeStyle = "#2a3441";
  const pts = state.equity, bench = state.benchmark ?? [];
  if (pts.length < 2) { g.fillText("waiting for the first minutes…", L, T + 20); return; }
  const t0 = pts[0].time, t1 = pts[pts.length - 1].time;
  let lo = Infinity, hi = -Infinity, peak = -Infinity, maxDD = 0;
  const dd = pts.map((p) => { peak = Math.max(peak, p.equity); const d = 1 - p.equity / peak; maxDD = Math.max(maxDD, d); lo = Math.min(lo, p.equity); hi = Math.max(hi, p.equity); return d; });
  for (const b of bench) { lo = Math.min(lo, b.equity); hi = Math.max(hi, b.equity); }
  if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
  const pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
  const x = (t) => L + (t - t0) / Math.max(1, t1 - t0) * (W - L - R);
  const y = (v) => T + (hi - v) / (hi - lo) * (split - T - 8);
  const yd = (d) => split + gap + d / Math.max(maxDD, 1e-6) * (H - B - split - gap);
  // Grid and value ticks.
  g.textAlign = "right";
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * i / 4, yy = y(v);
    g.beginPath(); g.moveTo(L, yy); g.lineTo(W - R, yy); g.stroke(); g.fillText(fmt(v, 2), L - 6, yy + 4);
  }
  for (let i = 0; i <= 2; i++) {
    const d = maxDD * i / 2, yy = yd(d);
    g.beginPath(); g.moveTo(L, yy); g.lineTo(W - R, yy); g.stroke(); g.fillText("-" + fmt(100 * d, 2) + "%", L - 6, yy + 4);
  }
  for (let i = 0; i <= 5; i++) {
    g.textAlign = i === 0 ? "left" : (i === 5 ? "right" : "center");
    const t = t0 + (t1 - t0) * i / 5, xx = x(t);
    g.beginPath(); g.moveTo(xx, T); g.lineTo(xx, H - B); g.stroke();
    g.fillText(new Date(t).toISOString().slice(5, 16).replace("T", " "), xx, H - B + 14);
  }
  // Buy and hold beside it.
  if (bench.length > 1) {
    g.strokeStyle = "#8a96a3"; g.lineWidth = 1; g.setLineDash([4, 3]); g.beginPath();
    bench.forEach((p, i) => (i ? g.lineTo(x(p.time), y(p.equity)) : g.moveTo(x(p.time), y(p.equity)))); g.stroke(); g.setLineDash([]);
  }
  // Equity line.
  g.strokeStyle = "#4c9aff"; g.lineWidth = 1.5; g.beginPath();
  pts.forEach((p, i) => (i ? g.lineTo(x(p.time), y(p.equity)) : g.moveTo(x(p.time), y(p.equity)))); g.stroke();
  // Drawdown area.
  g.fillStyle = "rgba(229, 83, 75, 0.45)"; g.beginPath(); g.moveTo(x(t0), yd(0));
  pts.forEach((p, i) => g.lineTo(x(p.time), yd(dd[i]))); g.lineTo(x(t1), yd(0)); g.closePath(); g.fill();
  // Trades at their exits: green wins, red losses.
  for (const t of state.trades) {
    if (t.exitTime < t0) continue;
    const i = Math.min(pts.length - 1, Math.max(0, pts.findIndex((p) => p.time >= t.exitTime)));
    g.fillStyle = t.pnlUSDT >= 0 ? "#2fb67c" : "#e5534b";
    g.beginPath(); g.arc(x(t.exitTime), y(pts[i].equity), 3, 0, 2 * Math.PI); g.fill();
  }
  g.textAlign = "left"; g.fillStyle = "#8a96a3"; g.lineWidth = 1;
  g.fillText(bench.length > 1 ? "equity (USDT) — strategy (blue), buy and hold (dashed)" : "equity (USDT)", L + 6, T + 12); g.fillText("drawdown", L + 6, split + gap + 12);
}

function render() {
  const s = state.snapshot;
  if (!s) return;
  renderRisk(s); renderScanner(s); renderPositions(s); renderModel(s); renderFeed(s); renderFills(); renderTrades(); renderEquity();
}

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("update", (e) => {
    const u = JSON.parse(e.data);
    state.snapshot = u.snapshot; state.retrain = u.retrain ?? null;
    state.equity.push(...u.equity); state.trades.push(...u.trades); state.fills.push(...u.fills);
    if (state.equity.length > 100000) state.equity.splice(0, state.equity.length - 100000);
    text($("connection"), "live · updated " + new Date().toISOString().slice(11, 19) + " UTC");
    render();
    // How long each new fill took from the session's commit to the screen (the next frame after
    // it is in the DOM): `make bench` reads these (dashboard.fill_to_dom_ms).
    if (u.fills.length) {
      requestAnimationFrame(() => {
        const shown = Date.now();
        // Fills committed before the page opened came with its history: not a latency.
        for (const f of u.fills) if (f.committedAt >= pageOpened) window.SCALPER_FILL_LATENCIES_MS.push(shown - f.committedAt);
      });
    }
  });
  source.onerror = () => text($("connection"), "disconnected — retrying");
}

// A backtest's report.html: the same charts and tables, from the data written into the page.
function renderReport(r) {
  state.equity = r.equity; state.benchmark = r.buyAndHold; state.trades = r.trades;
  text($("session"), "Backtest " + r.id);
  text($("venue"), r.model + " on " + r.symbols.join(", ") + ", " + r.from + " … " + r.to);
  const facts = $("report-metrics");
  facts.replaceChildren();
  for (const [k, v] of r.metrics) { facts.appendChild(text(document.createElement("dt"), k)); facts.appendChild(text(document.createElement("dd"), v)); }
  renderEquity(); renderTrades(); renderReliability($("reliability"), r.reliability);
  const counted = r.reliability.reduce((n, b) => n + b.count, 0);
  text($("reliability-note"), counted.toLocaleString() + " scored bars of the window, each against its label by the model's rule");
  $("trade-filter").addEventListener("input", renderTrades);
}

if (window.SCALPER_REPORT) {
  renderReport(window.SCALPER_REPORT);
} else {
  startDashboard();
}

function startDashboard() {
for (const button of document.querySelectorAll("button[data-control]")) {
  button.addEventListener("click", async () => {
    const token = $("token").value;
    sessionStorage.setItem("scalper-token", token);
    const response = await fetch("/api/control/" + button.dataset.control, { method: "POST", headers: token ? { Authorization: "Bearer " + token } : {} });
    const body = await response.json().catch(() => ({}));
    text($("control-result"), response.ok ? button.dataset.control + " requested (" + body.request + ")" : "refused: " + (body.error ?? response.status));
  });
}
$("token").value = sessionStorage.getItem("scalper-token") ?? "";
$("trade-filter").addEventListener("input", renderTrades);
connect();
}
