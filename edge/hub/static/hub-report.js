"use strict";
// The report page: the figures of GET /api/hub/report drawn as SVG bars (no chart library, no inline script).

const COLORS = ["#17467f", "#1d7a46", "#a15c00", "#6b3fa0", "#b3261e", "#2b8a9e", "#7a6a1d", "#5f6b7a"];

function bars(rows, width) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowH = 22;
  const g = svg("svg", { width, height: rows.length * rowH + 4, class: "bars", role: "img" });
  rows.forEach((r, i) => {
    const w = Math.round((width - 260) * r.value / max);
    g.append(svg("text", { x: 0, y: i * rowH + 15, text: r.label }),
      svg("rect", { x: 200, y: i * rowH + 4, width: Math.max(1, w), height: rowH - 8, fill: r.color || COLORS[0] }),
      svg("text", { x: 206 + w, y: i * rowH + 15, text: String(r.value) }));
  });
  return g;
}

function hourly(rep, width) {
  const lanes = [...new Set(rep.by_lane_hour.map((r) => `${r.gate}/${r.lane}`))];
  const hours = [...new Set(rep.by_lane_hour.map((r) => r.hour))].sort();
  const per = {};
  for (const r of rep.by_lane_hour) (per[r.hour] = per[r.hour] || {})[`${r.gate}/${r.lane}`] = r.vehicles;
  const totals = hours.map((hh) => Object.values(per[hh]).reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const H = 220; const bw = Math.max(2, Math.min(24, Math.floor((width - 40) / Math.max(1, hours.length))));
  const g = svg("svg", { width: Math.max(width, hours.length * bw + 40), height: H + 60, class: "bars", role: "img" });
  hours.forEach((hh, i) => {
    let y = H;
    lanes.forEach((ln, k) => {
      const v = per[hh][ln] || 0;
      if (!v) return;
      const bh = Math.round(H * v / max);
      y -= bh;
      g.append(svg("rect", { x: 30 + i * bw, y, width: bw - 1, height: bh, fill: COLORS[k % COLORS.length] },
        [svg("title", { text: `${hh} ${ln}: ${v}` })]));
    });
    if (i % Math.max(1, Math.ceil(80 / bw), Math.ceil(hours.length / 12)) === 0) g.append(svg("text", { x: 30 + i * bw, y: H + 14, class: "tick", text: hh.slice(5) }));
  });
  g.append(svg("text", { x: 0, y: 12, text: String(max) }));
  lanes.forEach((ln, k) => {
    g.append(svg("rect", { x: 30 + k * 130, y: H + 30, width: 12, height: 12, fill: COLORS[k % COLORS.length] }),
      svg("text", { x: 46 + k * 130, y: H + 41, text: ln }));
  });
  return g;
}

async function show() {
  const from = document.getElementById("r-from").value;
  const to = document.getElementById("r-to").value;
  const q = new URLSearchParams({ from, to });
  document.getElementById("csv").setAttribute("href", `/api/hub/report?${q}&format=csv`);
  const out = document.getElementById("report");
  let rep;
  try { rep = await api(`/api/hub/report?${q}`); } catch (e) { out.replaceChildren(el("p", { class: "error", text: e.message })); return; }
  const s = rep.status;
  const pct = (x) => (x === null ? "—" : `${(100 * x).toFixed(1)} %`);
  const width = Math.min(1100, document.body.clientWidth - 40);
  const t = rep.flag_to_decision_s;
  out.replaceChildren(
    el("h2", { text: `${rep.from} → ${rep.to} (${rep.timezone})` }),
    el("p", { text: `${h("passages")}: ${rep.passages} · ${h("clear")} ${s.clear} (${pct(s.clear_share)}) · ${h("flag")} ${s.flag} (${pct(s.flag_share)}) · ${h("redecided")} ${s.revised}` }),
    el("h3", { text: h("per_lane_hour") }), hourly(rep, width),
    el("h3", { text: h("per_lane") }), bars(rep.by_lane.map((r, k) => ({ label: `${r.gate}/${r.lane}`, value: r.vehicles, color: COLORS[k % COLORS.length] })), width),
    el("h3", { text: h("by_reason") }), bars(rep.flags_by_reason.map((r) => ({ label: reasonShort(r.reason), value: r.count, color: "#b3261e" })), width),
    el("h3", { text: h("to_decision") }),
    el("p", { text: `${t.decided} · ${h("p50")} ${t.p50 ?? "—"} s · ${h("p95")} ${t.p95 ?? "—"} s` }),
    el("h3", { text: h("by_inspector") }),
    el("table", { class: "hub-table" }, [
      el("thead", {}, [el("tr", {}, ["", "approve", "reject", "correct", "link", "total"].map((c) => el("th", { text: c })))]),
      el("tbody", {}, rep.decisions_by_inspector.map((r) => el("tr", {}, [r.user, r.approve, r.reject, r.correct, r.link, r.total].map((c) => el("td", { text: String(c) })))))]),
  );
}

document.addEventListener("DOMContentLoaded", () => {
  const today = new Date();
  const first = new Date(today.getFullYear(), today.getMonth(), 1);
  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  const p = new URLSearchParams(window.location.search);
  document.getElementById("r-from").value = p.get("from") || iso(first);
  document.getElementById("r-to").value = p.get("to") || iso(today);
  document.getElementById("range").addEventListener("submit", (e) => { e.preventDefault(); show(); });
  document.addEventListener("langchange", show);
  show();
});
