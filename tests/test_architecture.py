"""The house's rules, checked: no import circle anywhere, and a pinned public API."""

from __future__ import annotations

import ast
from pathlib import Path

import compressiq
import compressiq.collect

SRC = Path(compressiq.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """Every compressiq module ``path`` imports, at the top or lazily inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names}
            out |= (subs & modules) or {node.module}
    return out & modules


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    return {name: imports(path, set(files)) - {name} for name, path in files.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle once, found by depth-first search (a back edge closes a circle)."""
    found: list[list[str]] = []
    state = dict.fromkeys(edges, "new")
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges[node]):
            if state[nxt] == "open":
                found.append([*path[path.index(nxt) :], nxt])
            elif state[nxt] == "new":
                visit(nxt)
        state[node] = "done"
        path.pop()

    for node in sorted(edges):
        if state[node] == "new":
            visit(node)
    return found


def test_the_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle() -> None:
    edges = graph()
    assert "compressiq.core.runner" in edges and "compressiq.core.scoring" in edges["compressiq.core.runner"]
    assert cycles(edges) == []


def test_the_public_api_is_pinned() -> None:
    assert compressiq.__all__ == [
        "Backend",
        "CompressiqError",
        "Corpus",
        "Document",
        "RunRow",
        "ScoreConfig",
        "Store",
        "Totals",
        "Window",
        "load_corpus",
        "paper_windows",
        "rolling_windows",
        "score",
    ]
    assert compressiq.collect.__all__ == ["SUBSETS", "CollectConfig", "collect"]
    for module in (compressiq, compressiq.collect):
        for name in module.__all__:
            assert getattr(module, name).__doc__, f"{module.__name__}.{name} has no docstring"


def test_every_public_definition_says_what_it_does() -> None:
    """A command module's ``register``/``run`` are described by the module's own docstring."""
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        command = path.parent.name == "cli" or path.name == "command.py"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            public = isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
            if public and not (command and node.name in {"register", "run"}) and not ast.get_docstring(node):
                missing.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert missing == []


def test_the_readme_tree_names_every_folder_and_module() -> None:
    """The layout section is the architecture document: each folder once, each top-level module once."""
    readme = (SRC.parents[1] / "README.md").read_text(encoding="utf-8")
    tree = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    folders = sorted(p.parent.relative_to(SRC).as_posix() for p in SRC.rglob("__init__.py") if p.parent != SRC)
    for folder in folders:
        assert f"{folder.rsplit('/', 1)[-1]}/ " in tree, f"{folder}/ is not in the README's layout"
    for core in ("core", "backends", "codec", "analysis"):
        for module in sorted((SRC / core).glob("*.py")):
            assert module.name == "__init__.py" or f"{module.name} " in tree, f"{core}/{module.name} is not described"
