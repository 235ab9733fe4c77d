// Review page: queue of flagged passages, evidence side by side, decisions, audit trail, live updates (SSE).
// Every text from the server is put in the page with textContent (never innerHTML): no markup injection.
"use strict";

const S = { me: null, items: [], sel: -1, detail: null, decideAction: null, es: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

async function api(path, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.method && opts.method !== "GET" && S.me && S.me.csrf) headers["X-CSRF-Token"] = S.me.csrf;
  const r = await fetch(path, {
    method: opts.method || "GET", credentials: "same-origin", headers,
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
  if (r.status === 401) {
    window.location.assign("/review/login");
    throw new Error("not logged in");
  }
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const err = new Error((data && data.detail) || `HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return data;
}

function fmtTime(iso) {
  const d = new Date(iso);
  const lang = currentLang() === "zh" ? "zh-CN" : currentLang();
  return d.toLocaleString(lang, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function pct(x) { return `${Math.round((x || 0) * 100)} %`; }
function cargoName(cls) { return cls ? t(`c_${cls}`) : "—"; }
function canDecide() { return S.me && (S.me.role === "inspector" || S.me.role === "admin") && S.me.via === "session"; }

function toast(text, kind) {
  const box = $("toast");
  box.textContent = text;
  box.className = `toast ${kind || ""}`;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

// -- identity and filters ---------------------------------------------------------------------

async function loadMe() {
  S.me = await api("/api/review/me");
  $("gate-name").textContent = `${S.me.gate_name || S.me.gate_id}`;
  renderUser();
  const lane = $("f-lane");
  for (const l of S.me.lanes) lane.append(el("option", { value: l, text: l }));
  renderReasonOptions();
}

function renderUser() {
  $("user").textContent = `${S.me.user} · ${t(`role_${S.me.role}`)}`;
}

function renderReasonOptions() {
  const sel = $("f-reason");
  const keep = sel.value;
  while (sel.options.length > 1) sel.remove(1);
  for (const r of S.me.reasons) {
    const text = reasonText({ code: r.code, message_en: r.en, message_vi: r.vi });
    sel.append(el("option", { value: r.code, text: text.length > 60 ? `${text.slice(0, 58)}…` : text }));
  }
  sel.value = keep;
}

function filterParams() {
  const p = new URLSearchParams();
  if ($("f-lane").value) p.set("lane", $("f-lane").value);
  if ($("f-reason").value) p.set("reason", $("f-reason").value);
  if ($("f-since").value) p.set("since", new Date($("f-since").value).toISOString());
  p.set("status", $("f-status").value);
  p.set("limit", "200");
  return p;
}

// -- queue ------------------------------------------------------------------------------------

async function loadQueue(keepId) {
  const data = await api(`/api/review/queue?${filterParams()}`);
  S.items = data.items;
  $("q-count").textContent = data.total;
  renderQueue();
  const id = keepId !== undefined ? keepId : (S.detail && S.detail.summary.id);
  const idx = S.items.findIndex((it) => it.id === id);
  if (idx >= 0) markSelected(idx);
  else if (S.sel >= S.items.length) S.sel = S.items.length - 1;
}

function renderQueue() {
  const list = $("queue");
  list.replaceChildren();
  if (!S.items.length) {
    list.append(el("li", { class: "queue-empty", text: t("empty_queue") }));
    return;
  }
  S.items.forEach((it, i) => {
    const reasons = it.reasons.map((r) => el("span", { class: "chip", title: reasonText(r), text: reasonShort(r.code) }));
    const li = el("li", { class: "q-item", "data-id": it.id, tabIndex: -1 },
      el("div", { class: "q-top" },
        el("span", { class: "q-plate", text: it.plate || it.vehicle_id || t("no_read") }),
        el("span", { class: `badge rs-${it.review_status}`, text: t(`rs_${it.review_status}`) })),
      el("div", { class: "q-meta", text: `${it.lane} · ${t(it.direction)} · ${fmtTime(it.started_at)}` }),
      el("div", { class: "q-reasons" }, reasons));
    li.addEventListener("click", () => select(i));
    list.append(li);
  });
}

function markSelected(i) {
  S.sel = i;
  document.querySelectorAll(".q-item").forEach((li, j) => li.classList.toggle("selected", j === i));
  const li = document.querySelectorAll(".q-item")[i];
  if (li) li.scrollIntoView({ block: "nearest" });
}

async function select(i) {
  if (i < 0 || i >= S.items.length) return;
  markSelected(i);
  await loadDetail(S.items[i].id);
}

// -- passage view -----------------------------------------------------------------------------

async function loadDetail(id) {
  S.detail = await api(`/api/review/passages/${encodeURIComponent(id)}`);
  renderDetail();
}

function images(kinds) {
  const ev = S.detail.evidence.filter((e) => kinds.includes(e.kind));
  if (!ev.length) return [el("div", { class: "noimg", text: t("no_image") })];
  return ev.map((e) => el("figure", {},
    el("img", { src: e.url, alt: `${e.kind} ${e.camera}`, loading: "lazy" }),
    el("figcaption", { text: `${e.camera} · ${fmtTime(e.frame_time)}` })));
}

function correctedNote(r) {
  if (!r.corrected_by) return null;
  return el("div", { class: "corrected" },
    el("span", { text: `${t("was")}: ` }), el("s", { text: r.original || "—" }),
    el("span", { text: ` · ${t("corrected_by")} ${r.corrected_by}` }));
}

function renderDetail() {
  const d = S.detail;
  const p = d.passage;
  const rd = d.readings;
  $("empty-detail").hidden = true;
  $("passage").hidden = false;

  const plateShown = rd.plate.corrected_by ? rd.plate.value : (p.plate && (p.plate.display || p.plate.text));
  $("p-plate").textContent = plateShown || p.vehicle_id || t("no_read");
  $("p-meta").textContent = `${p.gate} · ${t("lane")} ${p.lane} · ${t(p.direction)} · ${fmtTime(p.started_at)}`;
  const rb = $("p-review");
  rb.className = `review-badge rs-${d.review.status}`;
  rb.textContent = t(`rs_${d.review.status}`) + (d.review.decided_by ? ` · ${t("decided_by")} ${d.review.decided_by}` : "");

  $("p-reasons").replaceChildren(...p.verdict.reasons.map((r) =>
    el("div", { class: "reason" }, el("span", { class: "reason-icon", text: "⚠" }), el("span", { text: reasonText(r) }))));

  // Plate
  const plateBox = $("ev-plate");
  plateBox.querySelector(".imgs").replaceChildren(...images(["plate"]));
  const plateRead = [];
  if (rd.plate.value) {
    plateRead.push(el("div", { class: `code${rd.plate.corrected_by ? " is-corrected" : ""}`, text: plateShown }));
    if (p.plate) plateRead.push(el("div", { class: "muted", text: `${p.plate.country || ""} · ${t("confidence")} ${pct(p.plate.confidence)}` }));
  } else {
    plateRead.push(el("div", { class: "code bad", text: t("no_read") }));
  }
  plateRead.push(correctedNote(rd.plate));
  plateBox.querySelector(".reading").replaceChildren(...plateRead.filter(Boolean));

  // Containers
  const cBox = $("ev-container");
  cBox.querySelector(".imgs").replaceChildren(...images(["container"]));
  const rows = rd.containers.map((c, i) => {
    const orig = p.containers[i];
    return el("div", { class: "container-row", "data-index": i },
      el("div", { class: "row-line" },
        el("span", { class: `code${c.corrected_by ? " is-corrected" : ""}`, "data-code": c.value, text: c.value || t("no_read") }),
        el("span", { class: `cd ${c.check_digit_ok ? "ok" : "bad"}`, text: c.check_digit_ok ? `✓ ${t("cd_ok")}` : `✗ ${t("cd_bad")}` })),
      orig ? el("div", { class: "muted", text: `${orig.size_type || ""} ${orig.size_type_text || ""} · ${t("confidence")} ${pct(orig.confidence)}` }) : null,
      correctedNote(c));
  });
  cBox.querySelector(".reading").replaceChildren(...(rows.length ? rows : [el("div", { class: "muted", text: "—" })]));

  // Cargo (with ADR panels, words on the cargo, overview)
  const gBox = $("ev-cargo");
  gBox.querySelector(".imgs").replaceChildren(...images(["cargo", "hazard", "overview"]));
  const cargoRead = [];
  if (rd.cargo.value) {
    cargoRead.push(el("div", { class: `code small${rd.cargo.corrected_by ? " is-corrected" : ""}`, text: cargoName(rd.cargo.value) }));
    if (p.cargo) {
      const bar = el("div", { class: "bar" }, el("div", { class: "fill" }));
      bar.firstChild.style.width = pct(p.cargo.confidence).replace(" ", "");
      cargoRead.push(el("div", { class: "muted", text: `${t("confidence")} ${pct(p.cargo.confidence)}` }), bar);
    }
  } else {
    cargoRead.push(el("div", { class: "code small bad", text: t("no_read") }));
  }
  cargoRead.push(correctedNote(rd.cargo));
  for (const h of p.hazards) cargoRead.push(el("div", { class: "hazard", text: `ADR ${h.hazard_id || "—"} / UN ${h.un_number || "—"}` }));
  for (const w of p.cargo_text) cargoRead.push(el("div", { class: "muted", text: `“${w.keyword}” → ${cargoName(w.commodity)}` }));
  gBox.querySelector(".reading").replaceChildren(...cargoRead.filter(Boolean));

  renderDeclaration();

  // Actions
  const pending = d.review.status === "pending";
  for (const id of ["btn-approve", "btn-reject", "btn-correct"]) $(id).disabled = !pending || !canDecide();
  $("action-note").textContent = !canDecide() ? t("viewer_only") : (!pending ? t("decided_already") : "");

  // Audit
  const tb = $("audit");
  tb.replaceChildren();
  if (!d.audit.length) tb.append(el("tr", {}, el("td", { colSpan: 5, class: "muted", text: t("no_audit") })));
  for (const a of d.audit) {
    let change;
    if (a.action === "correct") {
      const f = t(`f_${a.field}`) + (a.field === "container" ? ` ${a.index + 1}` : "");
      const show = (v) => (a.field === "cargo" ? cargoName(v) : v) || "—";
      change = el("span", {}, `${f}: `, el("s", { text: show(a.previous) }), " → ", el("b", { text: show(a.new) }));
    } else {
      change = el("span", { text: `${t("rs_pending")} → ${t(`rs_${a.new}`)}` });
    }
    tb.append(el("tr", { "data-action": a.action },
      el("td", { text: fmtTime(a.at) }), el("td", { text: `${a.user} (${t(`role_${a.role}`)})` }),
      el("td", {}, el("span", { class: `badge act-${a.action}`, text: t(`act_${a.action}`) })),
      el("td", {}, change), el("td", { class: "comment", text: a.comment })));
  }
}

function renderDeclaration() {
  const body = $("declaration").querySelector(".body");
  const decl = S.detail.declaration;
  if (!decl) {
    body.replaceChildren(el("div", { class: "muted", text: t("no_declaration") }));
    return;
  }
  const read = new Set(S.detail.readings.containers.map((c) => c.value));
  const dl = el("dl", {},
    el("dt", { text: t("decl_id") }), el("dd", { text: decl.id }),
    el("dt", { text: t("plate") }), el("dd", { text: decl.plate || decl.vehicle_id || "—" }),
    el("dt", { text: t("decl_containers") }),
    el("dd", {}, decl.containers.length ? decl.containers.map((c) =>
      el("span", { class: `chip ${read.has(c) ? "match" : "nomatch"}`, text: c })) : "—"),
    el("dt", { text: t("decl_goods") }),
    el("dd", {}, decl.empty ? t("decl_empty") : el("ul", {}, decl.lines.map((l) =>
      el("li", { text: `HS ${l.hs_code}${l.description ? ` — ${l.description}` : ""}${l.dangerous_goods_un ? ` (UN ${l.dangerous_goods_un})` : ""}` })))));
  body.replaceChildren(dl);
}

// -- decisions --------------------------------------------------------------------------------

function openDecide(action) {
  if (!S.detail || $(`btn-${action}`).disabled) return;
  S.decideAction = action;
  $("decide-title").textContent = t(`${action}_q`);
  $("decide-plate").textContent = $("p-plate").textContent;
  $("decide-comment").value = "";
  $("decide-error").textContent = "";
  $("decide-ok").className = `btn ${action}`;
  $("decide-ok").textContent = t(action);
  $("dlg-decide").showModal();
  $("decide-ok").focus();
}

async function submitDecide(ev) {
  ev.preventDefault();
  const id = S.detail.summary.id;
  try {
    S.detail = await api(`/api/review/passages/${encodeURIComponent(id)}/${S.decideAction}`, {
      method: "POST", body: { comment: $("decide-comment").value },
    });
    $("dlg-decide").close();
    toast(t("saved"), "ok");
    renderDetail();
    await loadQueue(id);
  } catch (e) {
    $("decide-error").textContent = e.message;
  }
}

function openCorrect() {
  if (!S.detail || $("btn-correct").disabled) return;
  const sel = $("c-field");
  sel.replaceChildren(el("option", { value: "plate", text: t("f_plate") }));
  const n = Math.max(S.detail.readings.containers.length, 1);
  for (let i = 0; i < n; i++) {
    const cur = S.detail.readings.containers[i];
    sel.append(el("option", { value: `container:${i}`, text: `${t("f_container")} ${i + 1}${cur && cur.value ? ` (${cur.value})` : ""}` }));
  }
  sel.append(el("option", { value: "cargo", text: t("f_cargo") }));
  const cargo = $("c-cargo");
  cargo.replaceChildren(...S.me.cargo_classes.map((c) => el("option", { value: c, text: cargoName(c) })));
  // Start on the reading most likely wrong: a container whose check digit fails, else the plate.
  const bad = S.detail.readings.containers.findIndex((c) => !c.check_digit_ok);
  sel.value = bad >= 0 ? `container:${bad}` : "plate";
  $("c-comment").value = "";
  $("c-error").textContent = "";
  onFieldChange();
  $("dlg-correct").showModal();
  $("c-value").focus();
  $("c-value").select();
}

function onFieldChange() {
  const [field, idx] = $("c-field").value.split(":");
  const rd = S.detail.readings;
  const isCargo = field === "cargo";
  $("c-value").hidden = isCargo;
  $("c-cargo").hidden = !isCargo;
  if (isCargo) $("c-cargo").value = rd.cargo.value || "unknown";
  else $("c-value").value = (field === "plate" ? rd.plate.value : (rd.containers[+idx] || {}).value) || "";
  $("c-hint").textContent = t(`hint_${field}`);
}

async function submitCorrect(ev) {
  ev.preventDefault();
  const [field, idx] = $("c-field").value.split(":");
  const comment = $("c-comment").value.trim();
  if (!comment) {
    $("c-error").textContent = t("comment_needed");
    $("c-comment").focus();
    return;
  }
  const body = { field, value: field === "cargo" ? $("c-cargo").value : $("c-value").value, comment };
  if (field === "container") body.index = +idx;
  const id = S.detail.summary.id;
  try {
    S.detail = await api(`/api/review/passages/${encodeURIComponent(id)}/correct`, { method: "POST", body });
    $("dlg-correct").close();
    toast(t("saved"), "ok");
    renderDetail();
  } catch (e) {
    $("c-error").textContent = e.message;
  }
}

// -- live updates -----------------------------------------------------------------------------

function connectEvents() {
  const es = new EventSource("/api/review/events");
  S.es = es;
  es.onopen = () => { $("live").dataset.state = "on"; };
  es.onerror = () => { $("live").dataset.state = "off"; };
  es.addEventListener("flag", (ev) => {
    const p = JSON.parse(ev.data);
    toast(`${t("new_flag")}: ${p.plate || p.vehicle_id || t("no_read")} (${p.lane})`, "warn");
    loadQueue();
  });
  es.addEventListener("decision", (ev) => {
    const dcs = JSON.parse(ev.data);
    loadQueue();
    if (S.detail && S.detail.summary.id === dcs.event_id) loadDetail(dcs.event_id);
  });
  es.addEventListener("resync", () => loadQueue());
}

// -- keyboard ---------------------------------------------------------------------------------

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (document.querySelector("dialog[open]")) return;  // dialogs handle Enter / Esc themselves
  const tag = (ev.target.tagName || "").toLowerCase();
  if (["input", "textarea", "select"].includes(tag)) {
    if (ev.key === "Escape") ev.target.blur();
    return;
  }
  const actions = {
    j: () => select(Math.min(S.sel + 1, S.items.length - 1)),
    k: () => select(Math.max(S.sel - 1, 0)),
    a: () => openDecide("approve"),
    r: () => openDecide("reject"),
    c: () => openCorrect(),
    "/": () => $("f-lane").focus(),
    "?": () => $("dlg-help").showModal(),
    l: () => nextLang(),
  };
  const fn = actions[ev.key];
  if (fn) {
    ev.preventDefault();
    fn();
  }
}

// -- start ------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  $("btn-approve").addEventListener("click", () => openDecide("approve"));
  $("btn-reject").addEventListener("click", () => openDecide("reject"));
  $("btn-correct").addEventListener("click", openCorrect);
  $("decide-form").addEventListener("submit", submitDecide);
  $("correct-form").addEventListener("submit", submitCorrect);
  $("c-field").addEventListener("change", onFieldChange);
  $("help-btn").addEventListener("click", () => $("dlg-help").showModal());
  document.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => b.closest("dialog").close()));
  for (const id of ["f-lane", "f-reason", "f-since", "f-status"]) $(id).addEventListener("change", () => loadQueue());
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("logout").addEventListener("click", async () => {
    try { await api("/api/review/logout", { method: "POST", body: {} }); } finally { window.location.assign("/review/login"); }
  });
  document.addEventListener("keydown", onKey);
  document.addEventListener("langchange", () => {
    renderUser();
    renderReasonOptions();
    renderQueue();
    markSelected(S.sel);
    if (S.detail) renderDetail();
  });
  await loadMe();
  await loadQueue();
  connectEvents();
  if (S.items.length) await select(0);
});
