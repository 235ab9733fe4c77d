"""Machine-readable verdict reasons with the plain sentence an inspector reads (Vietnamese and English)."""

from __future__ import annotations

from edge.domain import Reason

_CATALOG: dict[str, tuple[str, str]] = {
    # code: (English, Vietnamese)
    "plate_unread": (
        "The licence plate could not be read.",
        "Không đọc được biển số xe.",
    ),
    "container_unread": (
        "A container was seen but its code could not be read.",
        "Thấy container nhưng không đọc được số hiệu container.",
    ),
    "container_check_digit_failed": (
        "A container code was read but its ISO 6346 check digit does not match.",
        "Đã đọc số container nhưng số kiểm tra ISO 6346 không khớp.",
    ),
    "cargo_unverified": (
        "The cargo could not be classified from the cameras.",
        "Không xác định được loại hàng hóa qua camera.",
    ),
    "low_confidence": (
        "A reading was made with low confidence.",
        "Kết quả nhận dạng có độ tin cậy thấp.",
    ),
}


def reason(code: str, detail: str | None = None) -> Reason:
    """Build a Reason; `detail` (e.g. the code that failed) is appended to both sentences."""
    en, vi = _CATALOG[code]
    if detail:
        en, vi = f"{en} ({detail})", f"{vi} ({detail})"
    return Reason(code=code, message_en=en, message_vi=vi)


def known_codes() -> list[str]:
    return list(_CATALOG)
