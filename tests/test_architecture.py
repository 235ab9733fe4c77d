"""The layout rules of docs/architecture.md, checked on the source (issue 16).

Imports flow one way: domain ← readers ← lane ← decision ← storage ← comms ← api ← wiring (daemon, cli,
config, sinks, hub). A module may import its own layer and the layers below it, never one above; no two modules
import each other, directly or round a loop; the runtime never imports the developer tools. Imports inside
`if TYPE_CHECKING:` are annotations only and do not count. Each rule failing here names the modules involved.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNTIME_PACKAGES = ("edge", "cameras", "calibration")
TOOLS_ROOT = REPO / "tools"

# Layer of a module: the longest matching prefix wins. Lower numbers may be imported by higher ones.
LAYERS: dict[str, int] = {
    "edge": 0,  # edge/__init__.py: the version only
    "edge.domain": 0,
    "edge.metrics": 0,  # the Prometheus instruments: a leaf, imports nothing of ours
    "cameras": 1,
    "calibration": 2,
    "edge.readers": 3,
    "edge.lane": 4,
    "edge.decision": 5,
    "edge.storage": 6,
    "edge.comms": 7,
    "edge.api": 8,
    "edge.config": 9,
    "edge.sinks": 9,
    "edge.hub": 9,  # the gate hub is a daemon of its own: wiring
    "edge.daemon": 9,
    "edge.cli": 9,
    "calibration.cli": 9,  # `smartgate calibrate`: wiring (loads the config, opens cameras)
    "smartgate_tools": 10,
    "data_samples": 10,  # the sample-footage generator: tools and tests only
    "models": 0,  # model files and their manifests: data
}
MAX_EDGE_TOP_MODULES = 8
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
LONG_REASON = "# long:"  # a module or function over the limits says why on its first line or the line above


def _module_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for top in RUNTIME_PACKAGES:
        for p in sorted((REPO / top).rglob("*.py")):
            rel = p.relative_to(REPO).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = p
    for p in sorted((TOOLS_ROOT / "smartgate_tools").rglob("*.py")):
        rel = p.relative_to(TOOLS_ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = p
    return out


MODULES = _module_files()


def _layer(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return None if best is None else best[1]


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path) -> set[str]:
    """Our modules that `module` imports at run time (module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + [base]).strip(".")
                for a in child.names:
                    sub = f"{base}.{a.name}"
                    found.add(sub if sub in MODULES else base)
            visit(child)

    visit(tree)
    return {m for m in found if m.split(".")[0] in {*RUNTIME_PACKAGES, "smartgate_tools", "data_samples", "models"}}


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if _layer(m) is None] == []


def test_imports_never_go_up_a_layer() -> None:
    upward = []
    for mod, targets in GRAPH.items():
        for t in targets:
            lt, lm = _layer(t), _layer(mod)
            if lt is not None and lm is not None and lt > lm:
                upward.append(f"{mod} (layer {lm}) imports {t} (layer {lt})")
    assert upward == [], "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    # Tarjan's strongly connected components over our own modules; a component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in GRAPH or w == v:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            strong(v)
    assert cycles == []


def test_the_runtime_never_imports_the_tools() -> None:
    bad = [f"{m} imports {t}" for m, ts in GRAPH.items() if m.split(".")[0] in RUNTIME_PACKAGES
           for t in ts if t.split(".")[0] in {"smartgate_tools", "data_samples"}]
    assert bad == []


def test_the_runtime_wheel_holds_no_tools() -> None:
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = cfg["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not any(pat.startswith(("smartgate_tools", "tools")) for pat in include)
    assert not (REPO / "smartgate_tools").is_dir() or (REPO / "smartgate_tools").is_symlink()
    assert (TOOLS_ROOT / "pyproject.toml").is_file()


def test_edge_top_level_stays_small() -> None:
    top = sorted(p.name for p in (REPO / "edge").glob("*.py"))
    assert len(top) <= MAX_EDGE_TOP_MODULES, top


def test_version_is_written_once() -> None:
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in cfg["project"] and "version" in cfg["project"]["dynamic"]
    assert cfg["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "edge.__version__"}


def _has_reason(lines: list[str], lineno: int) -> bool:
    """A `# long: why` comment on the definition line, the line above it, or the module's first lines."""
    near = lines[max(0, lineno - 2): lineno]
    return any(LONG_REASON in line for line in near)


@pytest.mark.parametrize("top", ["edge", "cameras", "calibration"])
def test_modules_and_functions_stay_short_or_say_why(top: str) -> None:
    too_long = []
    for mod, path in MODULES.items():
        if mod.split(".")[0] != top:
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        if len(lines) > MAX_MODULE_LINES and not any(LONG_REASON in line for line in lines[:30]):
            too_long.append(f"{mod}: {len(lines)} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                if n > MAX_FUNCTION_LINES and not _has_reason(lines, first):
                    too_long.append(f"{mod}.{node.name}: {n} lines")
    assert too_long == [], "\n".join(too_long)


def test_a_box_without_the_tools_says_which_install_brings_them() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['smartgate_tools'] = None\n"
            "from edge.cli import main\n"
            "sys.exit(main(['bench', '--samples', 'x']))")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "developer tool" in r.stderr and "pip install -e tools/" in r.stderr
    # The runtime commands still work without them.
    code_ok = "import sys; sys.modules['smartgate_tools'] = None\nfrom edge.cli import main\nmain(['--help'])"
    r = subprocess.run([sys.executable, "-c", code_ok], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "run" in r.stdout


def test_every_tool_command_has_a_handler() -> None:
    tools_cli = pytest.importorskip("smartgate_tools.cli")
    import importlib

    from edge.cli import TOOL_COMMANDS

    assert set(tools_cli.HANDLERS) == set(TOOL_COMMANDS)
    for module, function in tools_cli.HANDLERS.values():
        assert callable(getattr(importlib.import_module(module), function))
