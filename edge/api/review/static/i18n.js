// Page texts in Vietnamese (default), English and Chinese. Reason sentences come from the server
// (message_vi / message_en); Chinese reason sentences are kept here by reason code.
"use strict";

const I18N = {
  vi: {
    title: "Duyệt phương tiện bị cảnh báo", live: "Trực tiếp", logout: "Đăng xuất",
    lane: "Làn", all_lanes: "Tất cả làn", reason: "Lý do", all_reasons: "Tất cả lý do", since: "Từ",
    status: "Trạng thái", st_pending: "Chờ xử lý", st_decided: "Đã quyết định", st_all: "Tất cả",
    queue: "Hàng chờ", pick: "Chọn một phương tiện trong hàng chờ (phím j / k).", empty_queue: "Không có phương tiện nào chờ xử lý.",
    plate: "Biển số", containers: "Container", cargo: "Hàng hóa", declaration: "Tờ khai",
    approve: "Cho qua", reject: "Chuyển kiểm tra thủ công", correct: "Sửa kết quả đọc",
    audit: "Nhật ký quyết định", when: "Thời gian", who: "Người thực hiện", action: "Hành động", change: "Thay đổi",
    comment: "Ghi chú", optional: "(không bắt buộc)", required: "(bắt buộc)", cancel: "Hủy", confirm: "Xác nhận",
    save: "Lưu", close: "Đóng", field: "Mục", new_value: "Giá trị đúng", shortcuts: "Phím tắt",
    k_nav: "Phương tiện tiếp theo / trước đó", k_approve: "Cho qua (xác nhận bằng Enter)",
    k_reject: "Chuyển kiểm tra thủ công", k_correct: "Sửa biển số, số container hoặc loại hàng",
    k_filter: "Lọc hàng chờ", k_lang: "Đổi ngôn ngữ", k_help: "Bảng phím tắt này", k_esc: "Đóng hộp thoại",
    import: "Nhập khẩu", export: "Xuất khẩu", confidence: "độ tin cậy",
    cd_ok: "Số kiểm tra ISO 6346 đúng", cd_bad: "Số kiểm tra ISO 6346 sai", no_read: "Không đọc được",
    no_image: "Không có ảnh", no_declaration: "Không có tờ khai khớp với phương tiện này.",
    decl_id: "Số tờ khai", decl_containers: "Container khai báo", decl_goods: "Hàng hóa khai báo", decl_empty: "Xe rỗng",
    rs_pending: "Chờ xử lý", rs_approved: "Đã cho qua", rs_rejected: "Đã chuyển kiểm tra",
    act_approve: "Cho qua", act_reject: "Chuyển kiểm tra", act_correct: "Sửa",
    corrected_by: "đã sửa bởi", was: "máy đọc", decided_by: "bởi",
    f_plate: "Biển số", f_container: "Container", f_cargo: "Loại hàng",
    comment_needed: "Bắt buộc nhập ghi chú khi sửa.", viewer_only: "Tài khoản chỉ có quyền xem.",
    decided_already: "Đã có quyết định cho phương tiện này.", no_audit: "Chưa có quyết định nào.",
    approve_q: "Cho xe qua?", reject_q: "Chuyển xe sang kiểm tra thủ công?",
    hint_plate: "Ví dụ: 29C-123.45 hoặc 桂A12345", hint_container: "4 chữ cái + 7 chữ số, số kiểm tra phải đúng (VD: MSKU1234565)",
    hint_cargo: "Chọn loại hàng đúng", new_flag: "Phương tiện mới bị cảnh báo", saved: "Đã lưu quyết định",
    login_title: "Đăng nhập cán bộ kiểm tra", username: "Tên đăng nhập", password: "Mật khẩu", login: "Đăng nhập",
    bad_login: "Sai tên đăng nhập hoặc mật khẩu.", too_many: "Đăng nhập sai quá nhiều lần. Thử lại sau {s} giây.",
    error: "Lỗi", role_viewer: "xem", role_inspector: "kiểm tra viên", role_admin: "quản trị",
    c_fertilizer: "Phân bón", c_coke_coal: "Than cốc / than", c_chemicals: "Hóa chất", c_agricultural: "Nông sản",
    c_electronics: "Linh kiện điện tử", c_closed: "Thùng kín (không nhìn thấy hàng)", c_empty: "Xe rỗng",
    c_unknown: "Không xác định",
  },
  en: {
    title: "Review flagged vehicles", live: "Live", logout: "Log out",
    lane: "Lane", all_lanes: "All lanes", reason: "Reason", all_reasons: "All reasons", since: "Since",
    status: "Status", st_pending: "Pending", st_decided: "Decided", st_all: "All",
    queue: "Queue", pick: "Pick a vehicle from the queue (keys j / k).", empty_queue: "Nothing waiting for review.",
    plate: "Plate", containers: "Containers", cargo: "Cargo", declaration: "Declaration",
    approve: "Clear", reject: "Send to inspection", correct: "Correct a reading",
    audit: "Decision audit trail", when: "Time", who: "By", action: "Action", change: "Change",
    comment: "Comment", optional: "(optional)", required: "(required)", cancel: "Cancel", confirm: "Confirm",
    save: "Save", close: "Close", field: "Field", new_value: "Correct value", shortcuts: "Keyboard shortcuts",
    k_nav: "Next / previous vehicle", k_approve: "Clear (confirm with Enter)", k_reject: "Send to traditional inspection",
    k_correct: "Correct plate, container code or cargo class", k_filter: "Filter the queue", k_lang: "Switch language",
    k_help: "This help", k_esc: "Close a dialog",
    import: "Import", export: "Export", confidence: "confidence",
    cd_ok: "ISO 6346 check digit holds", cd_bad: "ISO 6346 check digit fails", no_read: "No read",
    no_image: "No image", no_declaration: "No declaration matched this vehicle.",
    decl_id: "Declaration", decl_containers: "Declared containers", decl_goods: "Declared goods", decl_empty: "Empty truck",
    rs_pending: "Pending", rs_approved: "Cleared", rs_rejected: "Sent to inspection",
    act_approve: "Cleared", act_reject: "Sent to inspection", act_correct: "Corrected",
    corrected_by: "corrected by", was: "machine read", decided_by: "by",
    f_plate: "Plate", f_container: "Container", f_cargo: "Cargo class",
    comment_needed: "A correction needs a comment.", viewer_only: "This account can only view.",
    decided_already: "This vehicle has been decided.", no_audit: "No decisions yet.",
    approve_q: "Clear this vehicle?", reject_q: "Send this vehicle to traditional inspection?",
    hint_plate: "e.g. 29C-123.45 or 桂A12345", hint_container: "4 letters + 7 digits; the check digit must hold (e.g. MSKU1234565)",
    hint_cargo: "Pick the right cargo class", new_flag: "New flagged vehicle", saved: "Decision saved",
    login_title: "Inspector sign-in", username: "User name", password: "Password", login: "Log in",
    bad_login: "Wrong user name or password.", too_many: "Too many failed logins. Try again in {s} s.",
    error: "Error", role_viewer: "viewer", role_inspector: "inspector", role_admin: "admin",
    c_fertilizer: "Fertilizer", c_coke_coal: "Coke / coal", c_chemicals: "Chemicals", c_agricultural: "Agricultural",
    c_electronics: "Electronic components", c_closed: "Closed (cargo not visible)", c_empty: "Empty", c_unknown: "Unknown",
  },
  zh: {
    title: "审核被标记车辆", live: "实时", logout: "退出",
    lane: "车道", all_lanes: "全部车道", reason: "原因", all_reasons: "全部原因", since: "起始时间",
    status: "状态", st_pending: "待处理", st_decided: "已决定", st_all: "全部",
    queue: "待审队列", pick: "从队列中选择车辆（按 j / k）。", empty_queue: "没有待审车辆。",
    plate: "车牌", containers: "集装箱", cargo: "货物", declaration: "报关单",
    approve: "放行", reject: "转人工查验", correct: "更正识别结果",
    audit: "决定审计记录", when: "时间", who: "操作人", action: "操作", change: "变更", comment: "备注",
    optional: "（可选）", required: "（必填）", cancel: "取消", confirm: "确认", save: "保存", close: "关闭",
    field: "项目", new_value: "正确值", shortcuts: "快捷键",
    k_nav: "下一辆 / 上一辆", k_approve: "放行（按 Enter 确认）", k_reject: "转人工查验",
    k_correct: "更正车牌、箱号或货物类别", k_filter: "筛选队列", k_lang: "切换语言", k_help: "本帮助", k_esc: "关闭对话框",
    import: "进口", export: "出口", confidence: "置信度",
    cd_ok: "ISO 6346 校验位正确", cd_bad: "ISO 6346 校验位错误", no_read: "未识别",
    no_image: "无图像", no_declaration: "没有与此车辆匹配的报关单。",
    decl_id: "报关单号", decl_containers: "申报集装箱", decl_goods: "申报货物", decl_empty: "空车",
    rs_pending: "待处理", rs_approved: "已放行", rs_rejected: "已转查验",
    act_approve: "放行", act_reject: "转查验", act_correct: "更正",
    corrected_by: "更正人", was: "机器识别", decided_by: "操作人",
    f_plate: "车牌", f_container: "集装箱", f_cargo: "货物类别",
    comment_needed: "更正必须填写备注。", viewer_only: "此账号只能查看。",
    decided_already: "此车辆已有决定。", no_audit: "尚无决定。",
    approve_q: "放行此车辆？", reject_q: "将此车辆转人工查验？",
    hint_plate: "例如 29C-123.45 或 桂A12345", hint_container: "4 个字母 + 7 位数字，校验位须正确（如 MSKU1234565）",
    hint_cargo: "选择正确的货物类别", new_flag: "新的被标记车辆", saved: "决定已保存",
    login_title: "查验人员登录", username: "用户名", password: "密码", login: "登录",
    bad_login: "用户名或密码错误。", too_many: "登录失败次数过多，请 {s} 秒后再试。",
    error: "错误", role_viewer: "查看", role_inspector: "查验员", role_admin: "管理员",
    c_fertilizer: "化肥", c_coke_coal: "焦炭 / 煤", c_chemicals: "化工品", c_agricultural: "农产品",
    c_electronics: "电子元件", c_closed: "封闭（看不到货物）", c_empty: "空车", c_unknown: "未知",
  },
};

const REASONS_ZH = {
  plate_unread: "无法识别车牌（或车辆编号）。",
  container_unread: "有集装箱但无法识别箱号。",
  container_check_digit_failed: "已识别箱号，但 ISO 6346 校验位不符。",
  container_not_declared: "识别到的箱号不在报关单中。",
  cargo_unverified: "摄像头无法确定货物类别。",
  cargo_not_permitted: "货物不在本智能通道该方向的允许清单内；请走传统通道。",
  cargo_mismatch_declaration: "摄像头所见货物与申报货物不符。",
  no_declaration: "未找到该车辆的报关单。",
  dangerous_goods_undeclared: "发现危险品标志，但报关单未申报。",
  direction_mismatch: "报关单的进出口方向与本车道不符。",
  low_confidence: "识别结果置信度低。",
  plate_mismatch_declaration: "识别的车牌与所匹配报关单上的车牌不符。",
  customs_not_released: "海关尚未放行该报关单（红色通道或尚未放行）；请走传统通道。",
  vehicle_mismatch_declaration: "车辆编号与所匹配报关单上的车辆不符。",
};

// Short labels for the queue's chips.
const REASON_SHORT = {
  vi: {
    plate_unread: "Không đọc được biển số", container_unread: "Không đọc được số container",
    container_check_digit_failed: "Sai số kiểm tra container", container_not_declared: "Container không có trong tờ khai",
    cargo_unverified: "Chưa xác định hàng", cargo_not_permitted: "Hàng không được phép",
    cargo_mismatch_declaration: "Hàng không khớp tờ khai", no_declaration: "Không có tờ khai",
    dangerous_goods_undeclared: "Hàng nguy hiểm chưa khai", direction_mismatch: "Sai chiều nhập/xuất",
    low_confidence: "Độ tin cậy thấp", plate_mismatch_declaration: "Biển số khác tờ khai",
    customs_not_released: "Chưa thông quan", vehicle_mismatch_declaration: "Mã phương tiện khác tờ khai",
  },
  en: {
    plate_unread: "Plate unread", container_unread: "Container unread",
    container_check_digit_failed: "Check digit failed", container_not_declared: "Container not declared",
    cargo_unverified: "Cargo unverified", cargo_not_permitted: "Goods not permitted",
    cargo_mismatch_declaration: "Cargo ≠ declaration", no_declaration: "No declaration",
    dangerous_goods_undeclared: "Undeclared dangerous goods", direction_mismatch: "Wrong direction",
    low_confidence: "Low confidence", plate_mismatch_declaration: "Plate ≠ declaration",
    customs_not_released: "Not released by customs", vehicle_mismatch_declaration: "Vehicle ID ≠ declaration",
  },
  zh: {
    plate_unread: "车牌未识别", container_unread: "箱号未识别", container_check_digit_failed: "箱号校验位错误",
    container_not_declared: "集装箱未申报", cargo_unverified: "货物未确认", cargo_not_permitted: "货物不允许",
    cargo_mismatch_declaration: "货物与申报不符", no_declaration: "无报关单", dangerous_goods_undeclared: "未申报危险品",
    direction_mismatch: "方向不符", low_confidence: "置信度低", plate_mismatch_declaration: "车牌与申报不符",
    customs_not_released: "海关未放行", vehicle_mismatch_declaration: "车辆编号与申报不符",
  },
};

function reasonShort(code) {
  return (REASON_SHORT[currentLang()] || {})[code] || code.replace(/_/g, " ");
}

const LANGS = ["vi", "en", "zh"];

function currentLang() {
  const l = localStorage.getItem("sg_lang");
  return LANGS.includes(l) ? l : "vi";
}

function t(key, vars) {
  const lang = currentLang();
  let s = (I18N[lang] && I18N[lang][key]) || I18N.vi[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}

// A verdict reason in the page language; the detail in parentheses (a container code, a UN number)
// is carried over to the Chinese sentence from the English one.
function reasonText(r) {
  const lang = currentLang();
  if (lang === "vi") return r.message_vi;
  if (lang === "en") return r.message_en;
  const base = REASONS_ZH[r.code];
  if (!base) return r.message_en;
  const m = /\(([^()]*)\)\.?$/.exec(r.message_en || "");
  return m ? `${base.replace(/。$/, "")}（${m[1]}）。` : base;
}

function applyI18n(root) {
  const lang = currentLang();
  document.documentElement.lang = lang === "zh" ? "zh-CN" : lang;
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("button.lang").forEach((b) => b.classList.toggle("active", b.dataset.lang === lang));
}

function setLang(lang) {
  localStorage.setItem("sg_lang", lang);
  applyI18n();
  document.dispatchEvent(new CustomEvent("langchange"));
}

function nextLang() {
  setLang(LANGS[(LANGS.indexOf(currentLang()) + 1) % LANGS.length]);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.lang").forEach((b) => b.addEventListener("click", () => setLang(b.dataset.lang)));
  applyI18n();
});
