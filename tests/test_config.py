import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import ConfigError, load_config, parse_config

BASE = {
    "gate": {"id": "lao-cai", "name": "Lào Cai"},
    "lanes": [{"id": "in1", "direction": "import"}],
    "cameras": [{"name": "front", "source": "clip.mp4", "role": "plate", "lane": "in1"}],
}


def test_minimal_config_gets_defaults():
    cfg = parse_config(BASE)
    assert cfg.api.bind == "127.0.0.1" and cfg.api.port == 8080
    assert cfg.storage.database.endswith(".db")
    assert cfg.mqtt is None


def test_unknown_key_is_reported_with_its_path():
    bad = {**BASE, "cameras": [{**BASE["cameras"][0], "rol": "plate"}]}
    with pytest.raises(ConfigError) as e:
        parse_config(bad)
    assert "cameras.0.rol: unknown key" in str(e.value)


def test_nested_unknown_key_and_bad_enum_all_listed():
    bad = {**BASE, "mqtt": {"url": "mqtt://x:1", "tls": True}, "lanes": [{"id": "in1", "direction": "north"}]}
    with pytest.raises(ConfigError) as e:
        parse_config(bad)
    msg = str(e.value)
    assert "mqtt.tls: unknown key" in msg
    assert "lanes.0.direction" in msg


def test_camera_on_unknown_lane_is_rejected():
    bad = {**BASE, "cameras": [{**BASE["cameras"][0], "lane": "out9"}]}
    with pytest.raises(ConfigError, match="unknown lane 'out9'"):
        parse_config(bad)


def test_mqtt_url_scheme_and_secrets_from_env(monkeypatch):
    with pytest.raises(ConfigError, match="mqtt.url"):
        parse_config({**BASE, "mqtt": {"url": "tcp://x:1"}})
    cfg = parse_config({**BASE, "mqtt": {"url": "mqtts://b:8883", "username_env": "U", "password_env": "P"}})
    monkeypatch.setenv("U", "gate")
    monkeypatch.setenv("P", "s3cret")
    assert cfg.mqtt is not None and cfg.mqtt.credentials() == ("gate", "s3cret")


def test_relative_sources_resolve_against_the_config_folder(tmp_path: Path):
    f = tmp_path / "gate.yaml"
    f.write_text("gate: {id: g}\nlanes: [{id: l, direction: export}]\n"
                 "cameras: [{name: c, source: clips/a.mp4, role: plate, lane: l},"
                 " {name: r, source: 'rtsp://10.0.0.5/s', role: container, lane: l}]\n")
    cfg = load_config(f)
    assert cfg.cameras[0].source == str(tmp_path / "clips" / "a.mp4")
    assert cfg.cameras[1].source == "rtsp://10.0.0.5/s"


def test_not_yaml_and_not_a_mapping(tmp_path: Path):
    f = tmp_path / "x.yaml"
    f.write_text("gate: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(f)
    f.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_config_check_cli(tmp_path: Path):
    f = tmp_path / "bad.yaml"
    f.write_text("gate: {id: g, colour: red}\nlanes: [{id: l, direction: import}]\n"
                 "cameras: [{name: c, source: a.mp4, role: plate, lane: l}]\n")
    r = subprocess.run([sys.executable, "-m", "edge.cli", "config", "check", str(f)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "gate.colour: unknown key" in r.stderr
    f.write_text("gate: {id: g}\nlanes: [{id: l, direction: import}]\n"
                 "cameras: [{name: c, source: a.mp4, role: plate, lane: l}]\n")
    r = subprocess.run([sys.executable, "-m", "edge.cli", "config", "check", str(f)], capture_output=True, text=True)
    assert r.returncode == 0 and "OK" in r.stdout
