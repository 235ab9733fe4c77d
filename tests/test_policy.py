from edge.domain import CargoRead, ContainerRead, PlateRead
from edge.policy import LaneExpectations, decide
from edge.reasons import known_codes

FULL = LaneExpectations(containers=True, cargo=True)
PLATE = PlateRead(text="24C12345", display="24C-123.45", country="VN", format="vn_truck", confidence=0.93)
BOX = ContainerRead(code="MSKU1234565", check_digit_ok=True, confidence=0.9)
CARGO = CargoRead(cls="fertilizer", confidence=0.9)


def codes(v):
    return [r.code for r in v.reasons]


def test_clear_needs_every_check_to_pass():
    v = decide(PLATE, None, [BOX], CARGO, FULL)
    assert v.status == "clear" and v.reasons == []


def test_every_reason_is_reachable_and_has_both_languages():
    seen = set()
    seen |= set(codes(decide(None, None, [], None, FULL)))
    seen |= set(codes(decide(PLATE.model_copy(update={"confidence": 0.2}), None, [BOX], CARGO, FULL)))
    seen |= set(codes(decide(PLATE, None, [BOX.model_copy(update={"check_digit_ok": False})], CARGO, FULL)))
    assert seen == set(known_codes())
    for r in decide(None, None, [], None, FULL).reasons:
        assert r.message_en and r.message_vi and r.message_en != r.message_vi


def test_vehicle_id_stands_in_for_a_plate():
    v = decide(None, "IGV-0042", [BOX], CARGO, FULL)
    assert "plate_unread" not in codes(v)


def test_lane_without_container_or_cargo_cameras_does_not_flag_for_them():
    v = decide(PLATE, None, [], None, LaneExpectations(containers=False, cargo=False))
    assert v.status == "clear"


def test_failed_check_digit_names_the_code():
    v = decide(PLATE, None, [BOX.model_copy(update={"code": "MSKU1234560", "check_digit_ok": False})], CARGO, FULL)
    assert v.status == "flag"
    assert "MSKU1234560" in v.reasons[0].message_en
