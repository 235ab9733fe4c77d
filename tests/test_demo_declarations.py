"""`smartgate run --demo` loads the demo manifests and re-arms them on every run (same trucks each time)."""

import json
from pathlib import Path
from types import SimpleNamespace

from edge.daemon import DEMO_CONFIG, _demo_declarations
from edge.storage.store import Store

DEMO_DECLARATIONS = DEMO_CONFIG.parent / "declarations.json"


def test_demo_manifests_are_loaded_once_and_rearmed_after_a_run(tmp_path: Path, capsys) -> None:
    daemon = SimpleNamespace(store=Store(tmp_path / "demo.db"))
    ids = [d["id"] for d in json.loads(DEMO_DECLARATIONS.read_text(encoding="utf-8"))["declarations"]]
    _demo_declarations(daemon, DEMO_DECLARATIONS)
    assert f"{len(ids)} declaration(s) loaded, 0 re-armed" in capsys.readouterr().out
    assert daemon.store.count_declarations(unmatched_only=True) == len(ids)
    # a demo run matched two of them to its passages
    for i, decl_id in enumerate(ids[:2]):
        assert daemon.store.mark_declaration_matched(decl_id, f"passage-{i}")
    assert daemon.store.count_declarations(unmatched_only=True) == len(ids) - 2
    # the next run replays the same trucks: their manifests are available again, nothing is duplicated
    _demo_declarations(daemon, DEMO_DECLARATIONS)
    assert "0 declaration(s) loaded, 2 re-armed" in capsys.readouterr().out
    assert daemon.store.count_declarations(unmatched_only=True) == len(ids)
    assert daemon.store.count_declarations() == len(ids)
    # nothing to do on a third start before any match: quiet
    _demo_declarations(daemon, DEMO_DECLARATIONS)
    assert capsys.readouterr().out == ""
