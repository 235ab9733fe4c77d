"""Machine-readable verdict reasons with the plain sentence an inspector reads (Vietnamese and English).

Codes are a stable contract (MQTT payloads, API, docs/policy.md): add codes, never rename them.
"""

from __future__ import annotations

from edge.domain.types import Reason

_CATALOG: dict[str, tuple[str, str]] = {
    # code: (English, Vietnamese)
    "plate_unread": (
        "The licence plate (or vehicle ID) could not be read.",
        "Không đọc được biển số xe (hoặc mã phương tiện).",
    ),
    "container_unread": (
        "A container was expected but its code could not be read.",
        "Có container nhưng không đọc được số hiệu container.",
    ),
    "container_check_digit_failed": (
        "A container code was read but its ISO 6346 check digit does not match.",
        "Đã đọc số container nhưng số kiểm tra ISO 6346 không khớp.",
    ),
    "container_not_declared": (
        "A container code was read that the declaration does not list.",
        "Số container đọc được không có trong tờ khai.",
    ),
    "cargo_unverified": (
        "The cargo could not be identified from the cameras.",
        "Không xác định được loại hàng hóa qua camera.",
    ),
    "cargo_not_permitted": (
        "The goods are not on this smart lane's permitted list for this direction; use the traditional lane.",
        "Hàng hóa không thuộc danh mục được phép qua làn thông minh theo chiều này; chuyển sang làn truyền thống.",
    ),
    "cargo_mismatch_declaration": (
        "What the cameras saw does not match the declared goods.",
        "Hàng hóa camera ghi nhận không khớp với hàng hóa khai báo.",
    ),
    "plate_mismatch_declaration": (
        "The plate read differs from the plate on the declaration it was matched to.",
        "Biển số đọc được khác với biển số trong tờ khai đã đối chiếu.",
    ),
    "no_declaration": (
        "No declaration was found for this vehicle.",
        "Không tìm thấy tờ khai cho phương tiện này.",
    ),
    "dangerous_goods_undeclared": (
        "A dangerous-goods mark was seen that the declaration does not list.",
        "Phát hiện dấu hiệu hàng nguy hiểm nhưng tờ khai không kê khai.",
    ),
    "direction_mismatch": (
        "The declaration is for the other direction (import/export) than this lane.",
        "Tờ khai ghi chiều (nhập/xuất) khác với chiều của làn này.",
    ),
    "low_confidence": (
        "A reading was made with low confidence.",
        "Kết quả nhận dạng có độ tin cậy thấp.",
    ),
    "customs_not_released": (
        "Customs has not released this declaration (red channel, or no release yet); use the traditional lane.",
        "Hải quan chưa thông quan tờ khai này (luồng đỏ hoặc chưa thông quan); chuyển sang làn truyền thống.",
    ),
    "vehicle_mismatch_declaration": (
        "The vehicle ID differs from the vehicle on the declaration it was matched to.",
        "Mã phương tiện khác với phương tiện trong tờ khai đã đối chiếu.",
    ),
}

# The dangerous-goods sentence names the UN number when the panel (or a drum label) gave one.
_DG_WITH_UN = (
    "A dangerous-goods mark with UN number {un} was seen that the declaration does not list.",
    "Phát hiện dấu hiệu hàng nguy hiểm số UN {un} nhưng tờ khai không kê khai.",
)


def reason(code: str, detail: str | tuple[str, str] | None = None, *, un: str | None = None) -> Reason:
    """Build a Reason; `detail` is appended to both sentences.

    `detail`: one language-neutral string (a container code, a confidence) or (English, Vietnamese).
    `un`: the UN number for `dangerous_goods_undeclared`, written into the sentence itself.
    """
    en, vi = _CATALOG[code]
    if un and code == "dangerous_goods_undeclared":
        en, vi = (s.format(un=un) for s in _DG_WITH_UN)
    if detail:
        d_en, d_vi = (detail, detail) if isinstance(detail, str) else detail
        en, vi = _with_detail(en, d_en), _with_detail(vi, d_vi)
    return Reason(code=code, message_en=en, message_vi=vi)


def _with_detail(sentence: str, detail: str) -> str:
    """"… not read." + "MSKU1234560" -> "… not read (MSKU1234560)."."""
    if sentence.endswith("."):
        return f"{sentence[:-1]} ({detail})."
    return f"{sentence} ({detail})"


def known_codes() -> list[str]:
    return list(_CATALOG)


def sentences(code: str) -> tuple[str, str]:
    """(English, Vietnamese) base sentence of a code, for documentation."""
    return _CATALOG[code]
