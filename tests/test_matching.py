"""Matching passages to declarations: exact keys, supported one-character tolerance, refusals, ambiguity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge.decision.matching import PLATE_TOLERANT_CONF, explain_match, match_declaration
from edge.domain.declarations import Declaration, DeclarationIn
from edge.domain.types import ContainerRead, PlateRead

T0 = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)
GOOD = "MSKU1234565"
GOOD2 = "CSQU3054383"
BAD = "MSKU1234566"  # GOOD with a wrong check digit: what the reader reports when one character is off


def decl(id: str, plate: str | None = None, containers: list[str] | None = None, vehicle_id: str | None = None,
         direction: str = "import", received: datetime = T0, gate: str | None = None) -> Declaration:
    din = DeclarationIn(id=id, direction=direction, plate=plate, containers=containers or [], vehicle_id=vehicle_id,
                        gate=gate, lines=[{"hs_code": "310210"}])
    return Declaration.received(din, received)


def pr(text: str, conf: float = 0.95, raw: str | None = None) -> PlateRead:
    return PlateRead(text=text, country="VN", format="vn_truck", confidence=conf, raw=raw or text)


def cr(code: str, ok: bool = True, corrected: bool = False) -> ContainerRead:
    return ContainerRead(code=code, check_digit_ok=ok, corrected=corrected)


def m(plate=None, containers=(), candidates=(), vehicle_id=None, direction="import", **kw):
    return match_declaration(plate, vehicle_id, list(containers), list(candidates), direction, now=T0, **kw)


# -- exact ---------------------------------------------------------------------------------------------

def test_exact_plate():
    r = m(pr("29C12345"), candidates=[decl("A", "29C-123.45"), decl("B", "29C12346")])
    assert r is not None and r.declaration.id == "A" and r.matched_by == "plate" and r.exact


def test_exact_vehicle_id_ignores_case_and_separators():
    r = m(None, vehicle_id="igv07", candidates=[decl("A", vehicle_id="IGV-07"), decl("B", vehicle_id="IGV-08")])
    assert r is not None and r.declaration.id == "A" and r.matched_by == "vehicle_id" and r.exact


def test_exact_container_with_unread_plate():
    r = m(PlateRead(reason="no_text"), [cr(GOOD2)], [decl("A", "29C11111", [GOOD]), decl("B", None, [GOOD2])])
    assert r is not None and r.declaration.id == "B" and r.matched_by == "container" and r.exact


def test_more_agreeing_reads_win_two_trips_of_one_truck():
    a, b = decl("trip-1", "29C12345", [GOOD]), decl("trip-2", "29C12345", [GOOD2])
    r = m(pr("29C12345"), [cr(GOOD2)], [a, b])
    assert r is not None and r.declaration.id == "trip-2" and r.keys == ("plate", "container")


def test_direction_gate_and_already_matched_are_skipped():
    other_dir = decl("exp", "29C12345", direction="export")
    other_gate = decl("lc", "29C12345", gate="lao-cai")
    used = decl("used", "29C12345").model_copy(update={"matched_passage_id": "p1"})
    assert m(pr("29C12345"), candidates=[other_dir, other_gate, used], gate="huu-nghi") is None
    r = m(pr("29C12345"), candidates=[other_dir, other_gate, used, decl("ok", "29C12345", gate="huu-nghi")],
          gate="huu-nghi")
    assert r is not None and r.declaration.id == "ok"


# -- one character tolerated, when supported -----------------------------------------------------------

def test_container_failed_check_digit_one_off_matches():
    r = m(None, [cr(BAD, ok=False)], [decl("A", None, [GOOD]), decl("B", None, [GOOD2])])
    assert r is not None and r.declaration.id == "A" and r.matched_by == "container" and not r.exact
    assert "check digit failed" in r.note


def test_container_corrected_read_one_off_matches():
    # a letter substitution can keep the check digit valid: CSKU1234565 and MSKU1234565 both verify
    r = m(None, [cr("CSKU1234565", ok=True, corrected=True)], [decl("A", None, [GOOD])])
    assert r is not None and not r.exact and "reader corrected it" in r.note
    # the same read, not corrected by the reader: a verified code is taken as read -> refused
    assert m(None, [cr("CSKU1234565", ok=True)], [decl("A", None, [GOOD])]) is None


def test_plate_one_off_with_a_weak_read():
    # VN two-letter series "29CB1234" and one-letter "29C81234" are both valid plates: B/8 at position 4
    declared = decl("A", "29CB1234")
    r = m(pr("29C81234", conf=0.6), candidates=[declared])
    assert r is not None and r.matched_by == "plate" and not r.exact and "8/B at position 4" in r.note
    # same difference, confident read that the grammar did not touch: refused
    assert m(pr("29C81234", conf=PLATE_TOLERANT_CONF), candidates=[declared]) is None


def test_plate_one_off_where_the_grammar_changed_the_character():
    # CN serials never hold O: the grammar turned the read O into 0. Declared D (0/O/D confusion) -> tolerated
    r = m(pr("云A10345", conf=0.99, raw="云A1O345"), candidates=[decl("A", "云A1D345")])
    assert r is not None and not r.exact and "grammar changed it" in r.note
    # confident read, grammar untouched: refused
    assert m(pr("云A10345", conf=0.99), candidates=[decl("A", "云A1D345")]) is None


@pytest.mark.parametrize(("read", "declared"), [
    ("29C12345", "29C12346"),  # 5/6: not a confusion pair
    ("29C1234", "29C12345"),  # length differs
    ("29C12355", "29C12346"),  # two positions
])
def test_plate_refusals(read, declared):
    assert m(pr(read, conf=0.3), candidates=[decl("A", declared)]) is None


def test_plate_tolerance_needs_a_valid_declared_plate():
    # declared "ABCDE1" is no VN/CN plate as written: a one-off read is not enough
    assert m(pr("ABCDEI", conf=0.3), candidates=[decl("A", "ABCDE1")]) is None


def test_container_refusals():
    # verified read that differs from the declared code: never tolerated
    assert m(None, [cr("MSKU1134566")], [decl("A", None, [GOOD])]) is None
    # failed read two positions away
    assert m(None, [cr("MSKU1234466", ok=False)], [decl("A", None, [GOOD])]) is None
    # vehicle ids are never matched approximately
    assert m(None, vehicle_id="IGV-08", candidates=[decl("A", vehicle_id="IGV-07")]) is None


# -- ranking and ambiguity -----------------------------------------------------------------------------

def test_exact_beats_tolerant():
    r = m(pr("29C12345", conf=0.5), [cr(BAD, ok=False)], [decl("tol", None, [GOOD]), decl("ex", "29C12345")])
    assert r is not None and r.declaration.id == "ex"


def test_two_equal_fits_are_ambiguous_and_not_matched():
    out = explain_match(pr("29C12345"), None, [], [decl("A", "29C12345"), decl("B", "29C12345")], "import", now=T0)
    assert out.result is None and out.ambiguous == ("A", "B") and "ambiguous" in out.note
    # plate says A, container says B: conflict -> no match
    out = explain_match(pr("29C12345"), None, [cr(GOOD2)], [decl("A", "29C12345"), decl("B", None, [GOOD2])],
                        "import", now=T0)
    assert out.result is None and set(out.ambiguous) == {"A", "B"}
    # one failed read, one character from the codes of two declarations
    out = explain_match(None, None, [cr(BAD, ok=False)],
                        [decl("A", None, [GOOD]), decl("B", None, ["MSKU1134566"])], "import", now=T0)
    assert out.result is None and set(out.ambiguous) == {"A", "B"}


def test_recent_declaration_preferred_over_old_one():
    old, new = decl("old", "29C12345", received=T0 - timedelta(days=3)), decl("new", "29C12345", received=T0)
    r = m(pr("29C12345"), candidates=[old, new], window_h=24)
    assert r is not None and r.declaration.id == "new"
    # only an old one fits: still matched, with a note
    r = m(pr("29C12345"), candidates=[old], window_h=24)
    assert r is not None and r.declaration.id == "old" and "24 h" in r.note
    # both old: ambiguous
    old2 = decl("old2", "29C12345", received=T0 - timedelta(days=2))
    assert m(pr("29C12345"), candidates=[old, old2], window_h=24) is None


def test_no_candidates_note():
    out = explain_match(pr("29C12345"), None, [cr(GOOD)], [decl("A", "30A11111")], "import", now=T0)
    assert out.result is None and "no import declaration fits" in out.note and "1 candidate" in out.note


def test_with_the_store(tmp_path):
    """What the daemon does: candidates from SQLite, match, claim the declaration once."""
    from edge.storage.store import Store

    with Store(tmp_path / "gate.db") as store:
        store.save_declaration(decl("old", "29C12345", [GOOD], received=T0 - timedelta(days=5)))
        store.save_declaration(decl("near", "29C55555", [GOOD2], received=T0 - timedelta(hours=1)))
        since = T0 - timedelta(hours=24)
        # the failed read one character off the recent declaration's container: found among recent ones
        cands = store.declaration_candidates(since, plate="30A99999", containers=["CSQU3054384"])
        r = m(pr("30A99999"), [cr("CSQU3054384", ok=False)], cands)
        assert r is not None and r.declaration.id == "near" and not r.exact
        # exact plate of an old declaration: found through the exact-key lookup, noted as old
        cands = store.declaration_candidates(since, plate="29C12345")
        r = m(pr("29C12345"), candidates=cands)
        assert r is not None and r.declaration.id == "old" and "24 h" in r.note
        assert store.mark_declaration_matched("old", "p1", only_if_unmatched=True)
        assert not store.mark_declaration_matched("old", "p2", only_if_unmatched=True)
        assert store.get_declaration("old").matched_passage_id == "p1"
        assert m(pr("29C12345"), candidates=store.declaration_candidates(since, plate="29C12345")) is None
