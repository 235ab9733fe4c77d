"""The gate's decision table (docs/policy.md): every reason reachable, clear paths per gate and direction."""

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import yaml

from edge.config import PolicyConfig
from edge.decision.policy import LaneExpectations, PassageFacts, PolicyRules, decide
from edge.domain import commodities as cm
from edge.domain.reasons import known_codes, reason
from edge.domain.types import CargoRead, ContainerRead, HazardRead, PlateRead, TextEvidence


@dataclass
class Line:
    hs_code: str
    dangerous_goods_un: str | None = None
    ecommerce: bool = False


@dataclass
class Decl:
    direction: str = "import"
    plate: str | None = None
    lines: list[Line] = field(default_factory=lambda: [Line("310210")])
    containers: list[str] = field(default_factory=list)
    vehicle_id: str | None = None
    channel: str | None = None
    released_at: object = None


LAO_CAI = PolicyRules.from_config()  # the defaults are Lào Cai's lists
HUU_NGHI = PolicyRules.from_config(PolicyConfig.model_validate(
    {"permitted": {"import": ["electronics"], "export": ["fruit", "electronics"]}}))
PLATE = PlateRead(text="24C12345", display="24C-123.45", country="VN", format="vn_truck", confidence=0.93)
BOX = ContainerRead(code="MSKU1234565", check_digit_ok=True, confidence=0.9)
FULL = LaneExpectations(containers=True, cargo=True)


def facts(**kw) -> PassageFacts:
    base = dict(direction="import", expect=FULL, plate=PLATE, containers=[BOX],
                cargo=CargoRead(cls="fertilizer", confidence=0.9))
    base.update(kw)
    return PassageFacts(**base)


def codes(v) -> list[str]:
    return [r.code for r in v.reasons]


GOOD = Decl(containers=["MSKU1234565"])

# (name, facts, declaration, rules, expected reason codes — exactly)
TABLE = [
    ("all checks pass", facts(), GOOD, LAO_CAI, []),
    ("no plate, no id", facts(plate=None), GOOD, LAO_CAI, ["plate_unread"]),
    ("plate no-read", facts(plate=PlateRead(reason="grammar_mismatch")), GOOD, LAO_CAI, ["plate_unread"]),
    ("weak plate", facts(plate=PLATE.model_copy(update={"confidence": 0.2})), GOOD, LAO_CAI, ["low_confidence"]),
    ("declared container not read", facts(containers=[]), GOOD, LAO_CAI, ["container_unread"]),
    ("flatbed, nothing declared, none read", facts(containers=[]), Decl(), LAO_CAI, []),
    ("boxed-in cargo, no declaration, none read", facts(containers=[], cargo=CargoRead(cls="closed", confidence=0.9)),
     None, LAO_CAI, ["container_unread", "cargo_unverified", "no_declaration"]),
    ("one of two declared read", facts(), replace(GOOD, containers=["MSKU1234565", "CSQU3054383"]), LAO_CAI,
     ["container_unread"]),
    ("bad check digit", facts(containers=[BOX.model_copy(update={"code": "MSKU1234560", "check_digit_ok": False})]),
     Decl(), LAO_CAI, ["container_check_digit_failed"]),
    ("container not declared", facts(containers=[BOX.model_copy(update={"code": "CSQU3054383"})]), GOOD, LAO_CAI,
     ["container_not_declared"]),  # a different box, not an unread one
    ("no cargo read", facts(cargo=None), GOOD, LAO_CAI, ["cargo_unverified"]),
    ("cargo unknown", facts(cargo=CargoRead(cls="unknown", confidence=0.9)), GOOD, LAO_CAI, ["cargo_unverified"]),
    ("weak cargo", facts(cargo=CargoRead(cls="fertilizer", confidence=0.3)), GOOD, LAO_CAI, ["low_confidence"]),
    ("no declaration", facts(), None, LAO_CAI, ["no_declaration"]),
    ("matched by container, plate says another truck", facts(), replace(GOOD, plate="24C12346"), LAO_CAI,
     ["plate_mismatch_declaration"]),
    ("declared plate equals the read", facts(), replace(GOOD, plate="24C12345"), LAO_CAI, []),
    ("declared for export", facts(), replace(GOOD, direction="export"), LAO_CAI, ["direction_mismatch"]),
    ("seen coke, declared fertilizer", facts(cargo=CargoRead(cls="coke_coal", confidence=0.9)), GOOD, LAO_CAI,
     ["cargo_mismatch_declaration"]),
    ("declared petroleum coke 2713", facts(cargo=CargoRead(cls="coke_coal", confidence=0.9)),
     replace(GOOD, lines=[Line("271311")]), LAO_CAI, ["cargo_not_permitted", "cargo_mismatch_declaration"]),
    ("fertilizer into Hữu Nghị", facts(), GOOD, HUU_NGHI, ["cargo_not_permitted"]),
    ("seen fertilizer, declared chips, Hữu Nghị", facts(), replace(GOOD, lines=[Line("854231")]), HUU_NGHI,
     ["cargo_not_permitted", "cargo_mismatch_declaration"]),
    ("panel 30/1202 undeclared", facts(hazards=[HazardRead(hazard_id="30", un_number="1202", confidence=0.9)]),
     GOOD, LAO_CAI, ["dangerous_goods_undeclared"]),
    ("red channel", facts(), replace(GOOD, channel="red"), LAO_CAI, ["customs_not_released"]),
    ("AI-IGV matched by container to another IGV's manifest", facts(plate=None, vehicle_id="IGV-08"),
     replace(GOOD, vehicle_id="IGV-07"), LAO_CAI, ["vehicle_mismatch_declaration"]),
]


@pytest.mark.parametrize(("name", "f", "decl", "rules", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_decision_table(name, f, decl, rules, expected):
    v = decide(f, decl, rules)
    assert sorted(codes(v)) == sorted(expected)
    assert v.status == ("clear" if not expected else "flag")
    for r in v.reasons:
        assert r.message_en and r.message_vi and r.message_en != r.message_vi


def test_every_reason_is_reachable():
    reached = {c for *_, expected in TABLE for c in expected}
    assert reached == set(known_codes())


def test_every_code_has_both_sentences():
    for code in known_codes():
        r = reason(code)
        assert r.message_en.endswith(".") and r.message_vi.endswith(".")
        assert r.message_en != r.message_vi


# -- clear paths per gate and direction ------------------------------------------------------------

CLEAR_PATHS = [
    # gate rules, lane direction, classifier class, declared lines
    ("lao-cai", LAO_CAI, "import", "fertilizer", [Line("3102.10")]),
    ("lao-cai", LAO_CAI, "import", "coke_coal", [Line("270400")]),
    ("lao-cai", LAO_CAI, "import", "chemicals", [Line("280700", dangerous_goods_un="1830")]),
    ("lao-cai", LAO_CAI, "import", "electronics", [Line("854231")]),
    ("lao-cai", LAO_CAI, "import", "electronics", [Line("950300", ecommerce=True)]),
    ("lao-cai", LAO_CAI, "import", "agricultural", [Line("081090")]),
    ("lao-cai", LAO_CAI, "export", "agricultural", [Line("071410")]),  # cassava
    ("lao-cai", LAO_CAI, "export", "electronics", [Line("854140")]),
    ("huu-nghi", HUU_NGHI, "export", "agricultural", [Line("081090")]),  # dragon fruit
    ("huu-nghi", HUU_NGHI, "export", "electronics", [Line("854232")]),
    ("huu-nghi", HUU_NGHI, "import", "electronics", [Line("854239")]),
]


@pytest.mark.parametrize(("gate", "rules", "direction", "cls", "lines"), CLEAR_PATHS)
def test_permitted_goods_clear(gate, rules, direction, cls, lines):
    hazards = [HazardRead(hazard_id="80", un_number="1830", confidence=0.9)] if cls == "chemicals" else []
    f = facts(direction=direction, cargo=CargoRead(cls=cls, confidence=0.8), hazards=hazards)
    v = decide(f, Decl(direction=direction, lines=lines, containers=["MSKU1234565"]), rules)
    assert v.status == "clear", (gate, codes(v))


@pytest.mark.parametrize(("rules", "direction", "cls", "hs"), [
    (HUU_NGHI, "export", "agricultural", "100630"),  # rice: Hữu Nghị exports fruit only
    (HUU_NGHI, "import", "agricultural", "081090"),  # fruit is not an import there
    (LAO_CAI, "export", "fertilizer", "310210"),  # fertilizer is an import at Lào Cai
    (LAO_CAI, "import", "chemicals", "390110"),  # plastics (39) are chemicals only when configured
])
def test_goods_off_the_list_are_not_permitted(rules, direction, cls, hs):
    f = facts(direction=direction, cargo=CargoRead(cls=cls, confidence=0.9))
    v = decide(f, Decl(direction=direction, lines=[Line(hs)], containers=["MSKU1234565"]), rules)
    assert "cargo_not_permitted" in codes(v)


def test_extra_chemical_chapters_from_config():
    rules = PolicyRules.from_config(PolicyConfig(extra_chemical_chapters=[39]))
    f = facts(cargo=CargoRead(cls="chemicals", confidence=0.9))
    assert decide(f, Decl(lines=[Line("390110")], containers=["MSKU1234565"]), rules).status == "clear"


def test_lane_without_container_or_cargo_cameras_does_not_flag_for_them():
    f = facts(expect=LaneExpectations(containers=False, cargo=False), containers=[], cargo=None)
    assert decide(f, Decl(), LAO_CAI).status == "clear"


def test_vehicle_id_stands_in_for_a_plate():
    v = decide(facts(plate=None, vehicle_id="IGV-0042"), replace(GOOD, vehicle_id="igv0042"), LAO_CAI)
    assert v.status == "clear"
    # ... but only for the vehicle the declaration names: a manifest matched by container alone does not vouch
    # for an id it does not carry (issue #20).
    v = decide(facts(plate=None, vehicle_id="IGV-0042"), GOOD, LAO_CAI)
    assert codes(v) == ["vehicle_mismatch_declaration"]


def test_declaration_can_be_waived_in_config():
    rules = PolicyRules.from_config(PolicyConfig(require_declaration=False))
    assert decide(facts(), None, rules).status == "clear"
    # ... but the permitted list still applies to what the camera saw.
    v = decide(facts(cargo=CargoRead(cls="fertilizer", confidence=0.9)), None,
               replace(rules, permitted_import=frozenset({"electronics"})))
    assert codes(v) == ["cargo_not_permitted"]


# -- closed and empty ------------------------------------------------------------------------------

def test_closed_cargo_trusts_the_declaration_by_default():
    f = facts(cargo=CargoRead(cls="closed", confidence=0.9))
    assert decide(f, GOOD, LAO_CAI).status == "clear"
    # The declared goods must still be on the list.
    v = decide(f, replace(GOOD, lines=[Line("100630")]), HUU_NGHI)
    assert "cargo_not_permitted" in codes(v)


def test_closed_cargo_flagged_when_configured_or_undeclared():
    f = facts(cargo=CargoRead(cls="closed", confidence=0.9))
    strict = PolicyRules.from_config(PolicyConfig(closed_cargo="flag"))
    assert codes(decide(f, GOOD, strict)) == ["cargo_unverified"]
    waived = PolicyRules.from_config(PolicyConfig(require_declaration=False))
    assert codes(decide(f, None, waived)) == ["cargo_unverified"]


def test_empty_truck_clears_only_when_declared_empty():
    f = facts(cargo=CargoRead(cls="empty", confidence=0.9))
    assert decide(f, replace(GOOD, lines=[]), LAO_CAI).status == "clear"
    assert codes(decide(f, GOOD, LAO_CAI)) == ["cargo_mismatch_declaration"]
    loaded = facts(cargo=CargoRead(cls="fertilizer", confidence=0.9))
    assert codes(decide(loaded, replace(GOOD, lines=[]), LAO_CAI)) == ["cargo_mismatch_declaration"]


# -- dangerous goods -------------------------------------------------------------------------------

def test_declared_un_number_clears_the_panel_and_undeclared_names_it():
    f = facts(cargo=CargoRead(cls="chemicals", confidence=0.9),
              hazards=[HazardRead(hazard_id="80", un_number="1830", hazard_class="8", confidence=0.95)])
    declared = replace(GOOD, lines=[Line("280700", dangerous_goods_un="1830")])
    assert decide(f, declared, LAO_CAI).status == "clear"
    other = replace(GOOD, lines=[Line("280700", dangerous_goods_un="1789")])
    v = decide(f, other, LAO_CAI)
    assert codes(v) == ["dangerous_goods_undeclared"]
    assert "UN number 1830" in v.reasons[0].message_en and "số UN 1830" in v.reasons[0].message_vi
    assert "hazard id 80" in v.reasons[0].message_en


def test_blank_panel_needs_some_declared_dangerous_goods():
    f = facts(cargo=CargoRead(cls="chemicals", confidence=0.9), hazards=[HazardRead(confidence=0.8)])
    v = decide(f, replace(GOOD, lines=[Line("280700")]), LAO_CAI)
    assert codes(v) == ["dangerous_goods_undeclared"]
    assert "without numbers" in v.reasons[0].message_en
    ok = replace(GOOD, lines=[Line("280700", dangerous_goods_un="1830")])
    assert decide(f, ok, LAO_CAI).status == "clear"


def test_printed_un_number_is_a_dangerous_goods_mark():
    f = facts(cargo=CargoRead(cls="chemicals", confidence=0.9),
              cargo_text=[TextEvidence(keyword="UN1830", commodity="chemicals", confidence=0.9)])
    assert codes(decide(f, replace(GOOD, lines=[Line("280700")]), LAO_CAI)) == ["dangerous_goods_undeclared"]


def test_same_panel_seen_twice_is_one_reason():
    h = HazardRead(hazard_id="33", un_number="1203", confidence=0.9)
    assert codes(decide(facts(hazards=[h, h]), GOOD, LAO_CAI)) == ["dangerous_goods_undeclared"]


# -- printed keywords ------------------------------------------------------------------------------

UREA = TextEvidence(keyword="UREA", commodity="fertilizer", confidence=0.9)


def test_keyword_confirms_a_weak_classifier_read():
    weak = facts(cargo=CargoRead(cls="fertilizer", confidence=0.35))
    assert codes(decide(weak, GOOD, LAO_CAI)) == ["low_confidence"]
    assert decide(replace(weak, cargo_text=[UREA]), GOOD, LAO_CAI).status == "clear"


def test_keyword_that_contradicts_the_declaration_flags():
    f = facts(cargo=CargoRead(cls="electronics", confidence=0.9), cargo_text=[UREA])
    v = decide(f, replace(GOOD, lines=[Line("854231")]), LAO_CAI)
    assert codes(v) == ["cargo_mismatch_declaration"] and "UREA" in v.reasons[0].message_en


def test_keyword_alone_never_clears():
    f = facts(cargo=None, cargo_text=[UREA])
    assert codes(decide(f, GOOD, LAO_CAI)) == ["cargo_unverified"]
    f = facts(cargo=CargoRead(cls="unknown", confidence=0.0), cargo_text=[UREA])
    assert decide(f, GOOD, LAO_CAI).status == "flag"


def test_keyword_contradicting_the_camera_without_declaration():
    rules = PolicyRules.from_config(PolicyConfig(require_declaration=False))
    f = facts(cargo=CargoRead(cls="electronics", confidence=0.9), cargo_text=[UREA])
    assert codes(decide(f, None, rules)) == ["cargo_unverified"]


# -- vocabulary ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("hs", "commodity"), [
    ("310210", "fertilizer"), ("3105.20", "fertilizer"), ("270400", "coke"), ("271311", None), ("270810", None),
    ("270112", "coal"), ("280700", "chemicals"), ("290511", "chemicals"), ("380891", "chemicals"),
    ("390110", None), ("081090", "fruit"), ("100630", "agricultural"), ("0603", "agricultural"),
    ("071410", "agricultural"), ("1404", "agricultural"), ("854231", "electronics"), ("15", None), ("", None),
])
def test_commodity_of_hs(hs, commodity):
    assert cm.commodity_of_hs(hs) == commodity


def test_real_declaration_model_fits_the_protocol():
    decl_mod = pytest.importorskip("edge.domain.declarations")
    d = decl_mod.Declaration.model_validate({
        "id": "NSW-1", "direction": "import", "plate": "24C-123.45", "containers": ["MSKU 123456 5"],
        "lines": [{"hs_code": "2807.00", "dangerous_goods_un": "UN 1830"}],
    })
    f = facts(cargo=CargoRead(cls="chemicals", confidence=0.9),
              hazards=[HazardRead(hazard_id="80", un_number="1830", confidence=0.9)])
    assert decide(f, d, LAO_CAI).status == "clear"


# -- docs/policy.md stays true ---------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[1] / "docs" / "policy.md"


def test_doc_snippets_are_valid_config_and_name_every_reason():
    text = DOC.read_text(encoding="utf-8")
    snippets = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(snippets) == 2
    lao_cai, huu_nghi = (PolicyConfig.model_validate(yaml.safe_load(s)["policy"]) for s in snippets)
    assert lao_cai == PolicyConfig()  # the documented defaults are the real defaults
    assert huu_nghi.permitted.for_direction("import") == ["electronics"]
    for code in known_codes():
        assert f"`{code}`" in text, code


def test_config_rejects_unknown_commodities_with_their_path():
    from edge.config import ConfigError, parse_config

    base = {"gate": {"id": "lao-cai"}, "lanes": [{"id": "in1", "direction": "import"}],
            "cameras": [{"name": "front", "source": "clip.mp4", "role": "plate", "lane": "in1"}]}
    assert parse_config(base).policy == PolicyConfig()
    bad = {**base, "policy": {"permitted": {"import": ["fertilizer", "cement"], "exports": []},
                              "closed_cargo": "trust", "extra_chemical_chapters": [31]}}
    with pytest.raises(ConfigError) as e:
        parse_config(bad)
    msg = str(e.value)
    assert "policy.permitted.import.1" in msg and "unknown commodity 'cement'" in msg
    assert "policy.permitted.exports: unknown key" in msg
    assert "policy.closed_cargo" in msg and "policy.extra_chemical_chapters" in msg
