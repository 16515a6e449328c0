"""The one-way architecture of docs/architecture.md, read from the source's imports.

Every `import` / `from ... import` of every module (including those under
`if TYPE_CHECKING:` and inside functions) is parsed with `ast`; each package may import
only the packages the table of docs/architecture.md allows, and nothing imports in a
circle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("adcommon", "cocoad", "baselines", "metrics", "leaderboard", "adbench")
ALLOWED = {
    "adcommon": set(),
    "cocoad": {"adcommon"},
    "baselines": {"adcommon", "cocoad"},
    "metrics": {"adcommon", "cocoad"},
    "leaderboard": {"adcommon", "cocoad", "metrics"},
    "adbench": {"adcommon", "cocoad", "baselines", "metrics", "leaderboard"},
}
TORCH_FREE = ("adcommon", "cocoad", "metrics", "leaderboard")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES
            for path in (ROOT / package).rglob("*.py")}


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_the_architecture_allows(package: str) -> None:
    wrong = []
    for name, path in _modules().items():
        if name.split(".")[0] != package:
            continue
        for imported in _imports(path):
            top = imported.split(".")[0]
            if top in PACKAGES and top != package and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not wrong, wrong


@pytest.mark.parametrize("package", TORCH_FREE)
def test_torch_free_packages_never_name_torch(package: str) -> None:
    named = [f"{path.relative_to(ROOT)}: {imported}"
             for path in (ROOT / package).rglob("*.py") for imported in _imports(path)
             if imported.split(".")[0] in ("torch", "torchvision")]
    assert not named, named


def test_no_import_circles_between_modules() -> None:
    modules = _modules()
    graph = {name: {imported for imported in _imports(path) if imported in modules
                    and imported != name} for name, path in modules.items()}
    # a package's __init__ re-exporting its own modules is not a circle of work
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, cycles
