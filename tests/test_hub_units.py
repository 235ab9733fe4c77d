"""Hub pieces that need no server: its config (documented in docs/hub.md, validated with key paths), the payload
round trip the hub re-decides on, and the schema of a re-decided event."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import make_passage
from test_config_docs import _keys

from edge.comms.payload import load_schema, passage_from_payload, passage_payload
from edge.config import ConfigError, parse_config
from edge.domain.types import LaneChecks
from edge.hub.config import HubConfig, parse_hub_config

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "hub.md").read_text(encoding="utf-8")


def test_the_hub_config_in_the_doc_is_valid_and_documents_every_key():
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
    hub = parse_hub_config(yaml.safe_load(blocks[0]), "docs/hub.md")
    assert hub.redecide.window_min == 30 and hub.gates["huu-nghi"].policy.permitted.for_direction("import") == [
        "electronics"]
    missing = [k for k in _keys(HubConfig) if k.rsplit(".", 1)[-1] not in DOC]
    assert not missing, f"document these hub keys in docs/hub.md: {missing}"
    box = yaml.safe_load(blocks[1])  # the box's side, merged into a minimal box config
    cfg = parse_config({**box, "lanes": [{"id": "in-1", "direction": "import"}],
                        "cameras": [{"name": "p", "source": "x.mp4", "role": "plate", "lane": "in-1"}]})
    assert cfg.hub is not None and cfg.hub.timeout_s == 1.5 and cfg.gate.box == "box-a"


def test_hub_config_errors_name_their_path():
    with pytest.raises(ConfigError) as e:
        parse_hub_config({"database": {"dsn": "postgresql://u:secret@db/x"}, "redecide": {"window": 3},
                          "report": {"timezone": "Mars/Olympus"}})
    msg = str(e.value)
    assert "database.dsn" in msg and "password" in msg
    assert "redecide.window: unknown key" in msg
    assert "report.timezone" in msg and "Mars/Olympus" in msg
    with pytest.raises(ConfigError, match="hub.url"):
        parse_config({"gate": {"id": "g"}, "lanes": [{"id": "l", "direction": "import"}],
                      "cameras": [{"name": "c", "source": "x", "role": "plate", "lane": "l"}],
                      "hub": {"url": "ftp://hub"}})


def test_smartgate_hub_refuses_a_bad_config(tmp_path):
    bad = tmp_path / "hub.yaml"
    bad.write_text("database: {dsn: x}\nnonsense: 1\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "edge.cli", "hub", "--config", str(bad)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "nonsense: unknown key" in out.stderr
    unreachable = tmp_path / "hub2.yaml"
    unreachable.write_text("database: {dsn: 'postgresql://nobody@127.0.0.1:1/x', connect_timeout_s: 1}\n"
                           "api: {enabled: false}\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "edge.cli", "hub", "--config", str(unreachable)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "cannot start the hub" in out.stderr


def test_payload_round_trip_is_what_the_hub_re_decides_on():
    p = make_passage(box="box-a", checks=LaneChecks(containers=True, cargo=False), vehicle_id="IGV-07")
    d = passage_payload(p, None)
    back = passage_from_payload(d)
    assert back.model_dump(exclude={"plate", "containers"}) == p.model_dump(exclude={"plate", "containers"})
    assert back.plate is not None and back.plate.text == p.plate.text and back.plate.raw == p.plate.raw
    assert [c.code for c in back.containers] == [c.code for c in p.containers]
    assert d["revision"] == 1 and d["revision_reason"] is None and d["box"] == "box-a"


def test_a_re_decided_event_validates_against_the_published_schema():
    v = jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker())
    d = passage_payload(make_passage(box="box-a", checks=LaneChecks(containers=True, cargo=True)), None)
    v.validate(d)
    v.validate({**d, "revision": 2, "revision_reason": "late declaration NSW-1 received 12 min after the passage"})
    with pytest.raises(jsonschema.ValidationError):
        v.validate({**d, "revision": 0})
    with pytest.raises(jsonschema.ValidationError):
        v.validate({**d, "checks": {"containers": True}})
