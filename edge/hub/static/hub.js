"use strict";
// The hub's queue: every box's passages, filters, search, a passage's revisions, approve / reject / link.

const PAGE = 50;
let offset = 0;
let selected = null;
let ME = null;

function filters() {
  const v = (id) => document.getElementById(id).value.trim();
  const p = new URLSearchParams();
  for (const [k, id] of [["gate", "f-gate"], ["lane", "f-lane"], ["box", "f-box"], ["status", "f-status"],
    ["review", "f-review"], ["reason", "f-reason"], ["q", "f-q"]]) if (v(id)) p.set(k, v(id));
  if (v("f-since")) p.set("since", new Date(`${v("f-since")}T00:00:00`).toISOString());
  if (v("f-until")) {
    const d = new Date(`${v("f-until")}T00:00:00`); d.setDate(d.getDate() + 1); p.set("until", d.toISOString());
  }
  if (document.getElementById("f-revised").checked) p.set("revised", "true");
  p.set("limit", PAGE); p.set("offset", offset);
  return p;
}

function chip(code) { return el("span", { class: "chip", text: reasonShort(code), title: code }); }

async function load() {
  const data = await api(`/api/hub/passages?${filters()}`);
  const body = document.getElementById("rows");
  body.replaceChildren();
  for (const it of data.items) {
    const tr = el("tr", { class: it.event_id === selected ? "sel" : "", onclick: () => open(it.event_id) }, [
      el("td", { text: localTime(it.started_at) }),
      el("td", { text: `${it.gate}/${it.lane}${it.box ? ` · ${it.box}` : ""}` }),
      el("td", { text: it.plate_display || it.plate || it.vehicle_id || "—" }),
      el("td", { text: it.containers.join(" ") || "—" }),
      el("td", {}, [el("span", { class: `badge ${it.status}`, text: h(it.status) }),
        it.revision > 1 ? el("span", { class: "rev", text: ` ${h("revision")} ${it.revision}`, title: it.revision_reason }) : null]),
      el("td", {}, it.reasons.map(chip)),
      el("td", { text: h(it.review_status) }),
    ]);
    body.append(tr);
  }
  const total = data.total_capped ? "10000+" : data.total;
  document.getElementById("count").textContent = h("found", { n: total ?? data.items.length });
  document.getElementById("page").textContent = ` ${offset + 1}–${offset + data.items.length} `;
}

function kv(label, value) { return el("div", { class: "kv" }, [el("span", { class: "muted", text: label }), el("span", { text: value ?? "—" })]); }

async function open(id) {
  selected = id;
  const d = await api(`/api/hub/passages/${encodeURIComponent(id)}`);
  const p = d.passage;
  const box = document.getElementById("detail");
  const reasons = el("ul", { class: "reasons" }, p.verdict.reasons.map((r) => el("li", { text: reasonText(r) })));
  const revs = el("ol", { class: "revs" }, d.revisions.map((r) => el("li", {}, [
    el("span", { class: `badge ${r.status}`, text: h(r.status) }),
    el("span", { text: ` ${localTime(r.at)} · ${r.actor} · ${r.declaration_id || h("none")}` }),
    r.reason ? el("div", { class: "muted", text: r.reason }) : null])));
  const decl = d.declaration ? el("div", {}, [
    kv(h("declaration"), d.declaration.id), kv("plate", d.declaration.plate), kv("vehicle_id", d.declaration.vehicle_id),
    kv(h("containers"), (d.declaration.containers || []).join(" ")),
    kv(h("channel"), d.declaration.channel), kv(h("released"), localTime(d.declaration.released_at)),
    kv("HS", (d.declaration.lines || []).map((l) => l.hs_code).join(" "))]) : el("p", { class: "muted", text: h("none") });
  const decisions = el("ul", { class: "decisions" }, d.decisions.map((x) => el("li", {
    text: `${localTime(x.at)} · ${x.user} (${x.role}, ${x.source}) · ${x.action}${x.new ? ` → ${x.new}` : ""}${x.comment ? ` — ${x.comment}` : ""}` })));
  const comment = el("input", { id: "comment", maxlength: "2000", placeholder: h("comment") });
  const declId = el("input", { id: "decl-id", maxlength: "64", placeholder: h("link_id") });
  const msg = el("p", { class: "error", role: "alert" });
  const act = async (path, body) => {
    msg.textContent = "";
    try { await api(path, { method: "POST", body }); await open(id); await load(); } catch (e) { msg.textContent = e.message; }
  };
  const canDecide = ME && ME.role !== "viewer" && d.review.status === "pending";
  box.replaceChildren(
    el("h2", { text: `${p.plate?.display || p.plate?.text || p.vehicle_id || "—"} · ${p.gate}/${p.lane}` }),
    kv(h("time"), localTime(p.started_at)), kv(h("box"), p.box),
    kv(h("verdict"), `${h(p.verdict.status)} (${h("revision")} ${p.revision || 1})`),
    kv(h("review"), `${h(d.review.status)}${d.review.decided_by ? ` · ${d.review.decided_by}` : ""}`),
    kv(h("containers"), (p.containers || []).map((c) => `${c.code}${c.check_digit_ok ? "" : " ✗"}`).join(" ")),
    kv("cargo", p.cargo ? `${p.cargo.class} ${p.cargo.confidence}` : null),
    reasons,
    el("h3", { text: h("revisions") }), revs,
    el("h3", { text: h("declaration") }), decl,
    el("h3", { text: h("decisions") }), decisions,
    ME && ME.role !== "viewer" ? el("div", { class: "actions" }, [
      comment,
      canDecide ? el("button", { class: "btn approve", text: h("approve"), onclick: () => act(`/api/hub/passages/${id}/approve`, { comment: comment.value }) }) : null,
      canDecide ? el("button", { class: "btn reject", text: h("reject"), onclick: () => act(`/api/hub/passages/${id}/reject`, { comment: comment.value }) }) : null,
      !p.declaration_id ? el("span", {}, [declId, el("button", { class: "btn", text: h("link"),
        onclick: () => act(`/api/hub/passages/${id}/link`, { declaration_id: declId.value.trim(), comment: comment.value }) })]) : null,
    ]) : null,
    msg,
  );
}

function fill(select, values) {
  for (const v of [...new Set(values)].filter(Boolean).sort()) select.append(el("option", { value: v, text: v }));
}

document.addEventListener("DOMContentLoaded", async () => {
  ME = await api("/api/hub/me");
  CSRF = ME.csrf;
  document.getElementById("user").textContent = `${ME.user} (${ME.role})`;
  document.getElementById("hub-name").textContent = ME.name || ME.hub;
  fill(document.getElementById("f-gate"), ME.lanes.map((l) => l.gate));
  fill(document.getElementById("f-lane"), ME.lanes.map((l) => l.lane));
  fill(document.getElementById("f-box"), ME.lanes.map((l) => l.box));
  const rs = document.getElementById("f-reason");
  for (const r of ME.reasons) rs.append(el("option", { value: r.code, text: reasonShort(r.code) }));
  document.getElementById("filters").addEventListener("submit", (e) => { e.preventDefault(); offset = 0; load(); });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  document.getElementById("next").addEventListener("click", () => { offset += PAGE; load(); });
  document.getElementById("logout").addEventListener("click", async () => {
    await api("/api/hub/logout", { method: "POST" }).catch(() => {}); window.location.assign("/hub/login");
  });
  document.addEventListener("langchange", () => { load(); if (selected) open(selected); });
  load();
});
