"use strict";
// Shared by the hub's queue and report pages: strings (VI/EN/ZH), fetch with the session's CSRF token,
// element builder (text only: server text never goes through innerHTML).

const HUB_I18N = {
  vi: {
    report: "Báo cáo", queue: "Hàng đợi", logout: "Đăng xuất", gate: "Cửa khẩu", lane: "Làn", box: "Hộp",
    verdict: "Kết luận", review: "Xử lý", reason: "Lý do", search: "Tìm (biển số, container, tờ khai)",
    from: "Từ ngày", to: "Đến ngày", revised: "Đã quyết định lại", apply: "Lọc", time: "Thời gian",
    vehicle: "Phương tiện", containers: "Container", flag: "Cảnh báo", clear: "Thông qua", all: "Tất cả",
    pending: "Chờ xử lý", decided: "Đã xử lý", approved: "Đã duyệt", rejected: "Đã từ chối",
    pick: "Chọn một lượt xe.", found: "{n} lượt xe", revisions: "Các lần quyết định",
    declaration: "Tờ khai", none: "Không có", decisions: "Nhật ký xử lý", approve: "Duyệt", reject: "Từ chối",
    link: "Gắn tờ khai", link_id: "Số tờ khai", comment: "Ghi chú (bắt buộc khi gắn tờ khai)",
    show: "Xem", csv: "CSV", passages: "Lượt xe", share: "Tỷ lệ", per_lane_hour: "Xe mỗi làn mỗi giờ",
    per_lane: "Xe mỗi làn", by_reason: "Cảnh báo theo lý do", to_decision: "Từ cảnh báo đến quyết định",
    by_inspector: "Quyết định theo cán bộ", p50: "trung vị", p95: "p95", redecided: "quyết định lại",
    revision: "lần", channel: "Luồng", released: "Thông quan",
  },
  en: {
    report: "Report", queue: "Queue", logout: "Log out", gate: "Gate", lane: "Lane", box: "Box",
    verdict: "Verdict", review: "Review", reason: "Reason", search: "Search (plate, container, declaration)",
    from: "From", to: "To", revised: "Re-decided", apply: "Apply", time: "Time", vehicle: "Vehicle",
    containers: "Containers", flag: "Flag", clear: "Clear", all: "All", pending: "Pending", decided: "Decided",
    approved: "Approved", rejected: "Rejected", pick: "Pick a passage.", found: "{n} passage(s)",
    revisions: "Revisions", declaration: "Declaration", none: "None", decisions: "Decisions",
    approve: "Approve", reject: "Reject", link: "Link a declaration", link_id: "Declaration id",
    comment: "Comment (required to link)", show: "Show", csv: "CSV", passages: "Passages", share: "Share",
    per_lane_hour: "Vehicles per lane per hour", per_lane: "Vehicles per lane", by_reason: "Flags by reason",
    to_decision: "Flag → decision time", by_inspector: "Decisions per inspector", p50: "median", p95: "p95",
    redecided: "re-decided", revision: "rev.", channel: "Channel", released: "Released",
  },
  zh: {
    report: "报表", queue: "队列", logout: "退出", gate: "口岸", lane: "车道", box: "设备", verdict: "结论",
    review: "处理", reason: "原因", search: "搜索（车牌、箱号、报关单）", from: "起", to: "止",
    revised: "已重新判定", apply: "筛选", time: "时间", vehicle: "车辆", containers: "集装箱", flag: "标记",
    clear: "放行", all: "全部", pending: "待处理", decided: "已处理", approved: "已批准", rejected: "已拒绝",
    pick: "请选择一条通行记录。", found: "{n} 条", revisions: "判定记录", declaration: "报关单", none: "无",
    decisions: "处理记录", approve: "批准", reject: "拒绝", link: "关联报关单", link_id: "报关单号",
    comment: "备注（关联时必填）", show: "查看", csv: "CSV", passages: "通行", share: "比例",
    per_lane_hour: "每车道每小时车辆", per_lane: "每车道车辆", by_reason: "按原因的标记",
    to_decision: "标记到处理的时间", by_inspector: "各查验员的处理", p50: "中位数", p95: "p95",
    redecided: "重新判定", revision: "次", channel: "通道", released: "放行",
  },
};

function h(key, vars) {
  let s = (HUB_I18N[currentLang()] || HUB_I18N.vi)[key] || HUB_I18N.en[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}

function applyHub() {
  document.querySelectorAll("[data-h]").forEach((e) => { e.textContent = h(e.dataset.h); });
}
document.addEventListener("DOMContentLoaded", applyHub);
document.addEventListener("langchange", applyHub);

let CSRF = null;

async function api(path, opts) {
  const o = Object.assign({ credentials: "same-origin", headers: {} }, opts || {});
  if (o.body && typeof o.body !== "string") {
    o.headers["Content-Type"] = "application/json";
    o.body = JSON.stringify(o.body);
  }
  if (o.method && o.method !== "GET" && CSRF) o.headers["X-CSRF-Token"] = CSRF;
  const r = await fetch(path, o);
  if (r.status === 401) { window.location.assign("/hub/login"); throw new Error("logged out"); }
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error((data && data.detail) || `${r.status}`);
  return data;
}

function el(tag, attrs, children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children || []) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function svg(tag, attrs, children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children || []) e.append(c);
  return e;
}

function localTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}
