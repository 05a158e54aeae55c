"""The layout: the course's five steps at the top of tlkeras import nothing from the study, and no import cycles."""

import ast
import pathlib
import subprocess
import sys

import pytest

# Backend-independent: make test runs these on its first backend only.
pytestmark = pytest.mark.any_backend

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tlkeras"
COURSE = ("data", "models", "objectives", "pretraining", "transfer", "training", "saving", "plots", "checks")


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(module_level_only=True):
    """`{module: {tlkeras modules it imports}}`, read from the source (imports inside functions too, if asked)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name, tree = _module_name(path), ast.parse(path.read_text())
        nodes = tree.body if module_level_only else list(ast.walk(tree))
        targets = set()
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tlkeras"):
                targets.add(node.module)
                targets |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names if alias.name.startswith("tlkeras")}
        graph[name] = targets
    return {name: {t for t in targets if t in graph and t != name} for name, targets in graph.items()}


def test_course_modules_import_nothing_from_the_study():
    code = "import sys, tlkeras; " + "; ".join(f"import tlkeras.{m}" for m in COURSE)
    code += "; print(sorted(m for m in sys.modules if m.startswith(('tlkeras.study', 'tlkeras.scaling'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_course_sources_name_no_study_module():
    graph = import_graph(module_level_only=False)
    for module in ["tlkeras", *(f"tlkeras.{m}" for m in COURSE)]:
        assert not {t for t in graph[module] if t.startswith("tlkeras.study")}, module


def test_no_import_cycles():
    graph = import_graph()
    state = {}

    def visit(node, path):
        state[node] = "open"
        for target in graph[node]:
            assert state.get(target) != "open", f"import cycle: {' -> '.join([*path, target])}"
            if target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_the_cycle_check_sees_a_cycle(monkeypatch):
    """The check above can fail: a made-up graph with a cycle is refused."""

    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: {"a": {"b"}, "b": {"a"}})
    with pytest.raises(AssertionError, match="import cycle: a -> b -> a"):
        test_no_import_cycles()
