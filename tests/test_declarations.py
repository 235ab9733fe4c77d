"""Declarations: validation and normalisation, the committed JSON Schema, SQLite storage."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from pydantic import ValidationError

from edge.domain.declarations import (
    SCHEMA_PATH,
    Declaration,
    DeclarationIn,
    declaration_schema,
    error_message,
    schema_text,
)
from edge.domain.iso6346 import check_digit
from edge.storage.store import MIGRATIONS, Store

T0 = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)
GOOD = "MSKU1234565"  # check digit 5
GOOD2 = "CSQU3054383"


def body(**kw) -> dict:
    d = {"id": "NSW-2025-000123", "direction": "import", "plate": "29C-123.45", "containers": [GOOD],
         "lines": [{"hs_code": "3102.10", "description": "urea"}]}
    d.update(kw)
    return d


def errors_of(**kw) -> str:
    with pytest.raises(ValidationError) as e:
        DeclarationIn.model_validate(body(**kw))
    return error_message(e.value)


def test_worked_check_digits_from_domain_notes():
    assert check_digit("MWCU605978") == 4 and check_digit("CSQU305438") == 3
    assert check_digit("MSKU123456") == 5


def test_normalisation_of_plate_containers_codes():
    d = DeclarationIn.model_validate(body(
        plate=" 29c-123.45 ", containers=["msku 123456 5", "csqu-305438-3", GOOD],
        lines=[{"hs_code": "8542 31 00", "dangerous_goods_un": "UN 1203", "ecommerce": True}],
    ))
    assert d.plate == "29C12345"
    assert d.containers == [GOOD, GOOD2]  # separators removed, uppercased, duplicate dropped
    assert d.lines[0].hs_code == "85423100" and d.lines[0].hs_chapter == "85"
    assert d.lines[0].dangerous_goods_un == "1203" and d.lines[0].ecommerce is True


def test_two_line_and_chinese_plates_normalise():
    assert DeclarationIn.model_validate(body(plate="24C\n123.45")).plate == "24C12345"
    assert DeclarationIn.model_validate(body(plate="桂A·12345")).plate == "桂A12345"
    assert DeclarationIn.model_validate(body(plate="ＡＢ１２３")).plate == "AB123"  # full-width


def test_wrong_check_digit_is_refused_with_the_right_digit_named():
    msg = errors_of(containers=["MSKU1234566"])
    assert "containers" in msg and "check digit should be 5, not 6" in msg


@pytest.mark.parametrize(("kw", "needle"), [
    ({"containers": ["MSKU123456"]}, "not an ISO 6346 code"),
    ({"containers": ["MSKA1234565"]}, "not an ISO 6346 code"),  # category must be U/J/Z
    ({"lines": [{"hs_code": "31"}]}, "4-10 digits"),
    ({"lines": [{"hs_code": "31021012345"}]}, "4-10 digits"),
    ({"lines": [{"hs_code": 603}]}, "leading zeros"),
    ({"lines": [{"hs_code": "0603", "dangerous_goods_un": "12O3"}]}, "UN number"),
    ({"lines": []}, "at least one goods line"),
    ({"empty": True}, "declares no goods lines"),
    ({"plate": None, "containers": []}, "at least one of plate, vehicle_id, containers"),
    ({"plate": "-"}, "plate"),
    ({"id": "has space"}, "id"),
    ({"id": "x" * 65}, "id"),
    ({"direction": "inbound"}, "direction"),
    ({"vehicle_id": "IGV 07"}, "vehicle_id"),
    ({"gate": "Huu Nghi"}, "gate"),
    ({"received_at": "2025-03-04T00:00:00Z"}, "received_at: unknown field"),  # set by the gate only
    ({"colour": "red"}, "colour: unknown field"),
])
def test_invalid_declarations(kw, needle):
    assert needle in errors_of(**kw)


def test_empty_truck_and_vehicle_id_only():
    d = DeclarationIn.model_validate({"id": "IGV.1", "direction": "export", "vehicle_id": "IGV-07", "empty": True})
    assert d.lines == [] and d.vehicle_id == "IGV-07"
    assert Declaration.received(d, T0).vehicle_key == "IGV07"


def test_expected_at_without_zone_is_utc():
    d = DeclarationIn.model_validate(body(expected_at="2025-03-04T08:00:00"))
    assert d.expected_at == datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


def test_committed_schema_equals_the_model():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), "run: python -m edge.domain.declarations"
    schema = declaration_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    v.validate(body())
    assert not v.is_valid(body(extra=1))
    assert not v.is_valid({k: x for k, x in body().items() if k != "direction"})


# -- storage ------------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "gate.db")
    yield s
    s.close()


def decl(id: str = "NSW-1", received: datetime = T0, **kw) -> Declaration:
    return Declaration.received(DeclarationIn.model_validate(body(id=id, **kw)), received)


def test_save_get_roundtrip_and_received_at_default(store):
    d = decl()
    assert store.save_declaration(d) == d
    assert store.get_declaration("NSW-1") == d
    assert store.get_declaration("nope") is None
    unstamped = Declaration.model_validate(body(id="NSW-2"))
    saved = store.save_declaration(unstamped)
    assert saved.received_at is not None and store.get_declaration("NSW-2").received_at == saved.received_at


def test_resend_replaces_content_and_containers_but_keeps_the_match(store):
    store.save_declaration(decl(containers=[GOOD]))
    assert store.mark_declaration_matched("NSW-1", "p1")
    store.save_declaration(decl(containers=[GOOD2], plate="24C1234", received=T0 + timedelta(minutes=5)))
    got = store.get_declaration("NSW-1")
    assert got.containers == [GOOD2] and got.plate == "24C1234" and got.received_at == T0 + timedelta(minutes=5)
    assert got.matched_passage_id == "p1"
    assert store.count_declarations() == 1
    codes = store._conn().execute("SELECT code FROM declaration_containers").fetchall()
    assert codes == [(GOOD2,)]
    assert not store.mark_declaration_matched("unknown", "p2")


def test_list_filters_and_order(store):
    for i in range(5):
        store.save_declaration(decl(id=f"D{i}", received=T0 + timedelta(minutes=i), plate=f"29C1234{i}"))
    store.mark_declaration_matched("D1", "p1")
    assert [d.id for d in store.list_declarations()] == ["D4", "D3", "D2", "D1", "D0"]
    assert [d.id for d in store.list_declarations(unmatched_only=True)] == ["D4", "D3", "D2", "D0"]
    assert [d.id for d in store.list_declarations(since=T0 + timedelta(minutes=3))] == ["D4", "D3"]
    assert [d.id for d in store.list_declarations(limit=2, offset=1)] == ["D3", "D2"]
    assert [d.id for d in store.list_declarations(plate="29c-12342")] == ["D2"]
    assert store.count_declarations(unmatched_only=True, since=T0 + timedelta(minutes=1)) == 3


def test_candidates_are_recent_unmatched_plus_older_exact_keys(store):
    old = T0 - timedelta(days=3)
    store.save_declaration(decl(id="recent", received=T0, plate="29C11111", containers=[]))
    store.save_declaration(decl(id="recent-matched", received=T0, plate="29C22222", containers=[]))
    store.mark_declaration_matched("recent-matched", "p0")
    store.save_declaration(decl(id="old-plate", received=old, plate="29C12345", containers=[]))
    store.save_declaration(decl(id="old-box", received=old, plate=None, containers=[GOOD2]))
    store.save_declaration(decl(id="old-igv", received=old, plate=None, containers=[], vehicle_id="IGV-07"))
    store.save_declaration(decl(id="old-other", received=old, plate="29C99999", containers=[]))
    since = T0 - timedelta(hours=24)
    ids = lambda ds: sorted(d.id for d in ds)  # noqa: E731
    assert ids(store.declaration_candidates(since)) == ["recent"]
    assert ids(store.declaration_candidates(since, plate="29C-123.45", containers=[GOOD2], vehicle_id="igv07")) == [
        "old-box", "old-igv", "old-plate", "recent"]


def test_migration_upgrades_a_version_1_database(tmp_path):
    path = tmp_path / "gate.db"
    Store(path, migrations=MIGRATIONS[:1]).close()
    with Store(path) as s:
        assert s.schema_version == len(MIGRATIONS)
        s.save_declaration(decl())
        assert s.get_declaration("NSW-1") is not None
    conn = sqlite3.connect(path)
    body_json = json.loads(conn.execute("SELECT body FROM declarations").fetchone()[0])
    conn.close()
    assert body_json["plate"] == "29C12345" and "matched_passage_id" not in body_json


def test_docs_examples_are_valid():
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    api = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", (docs / "api.md").read_text(encoding="utf-8"), re.S)]
    examples = [b for b in api if "lines" in b]
    assert examples, "docs/api.md has no example declaration"
    for b in examples:
        d = DeclarationIn.model_validate(b)
        assert d.containers == [GOOD] and d.lines[1].dangerous_goods_un == "1005"
    mqtt_doc = (docs / "mqtt.md").read_text(encoding="utf-8")
    assert errors_of(containers=["MSKU1234566"]) in mqtt_doc  # the documented rejection is the real message
