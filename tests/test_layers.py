"""The package is built in layers: no module imports from a layer above its own, no cycles.

Bottom to top (see ``dlcv_utils/__init__.py``)::

    validation -> runtime -> ops -> datasets -> metrics -> proposals -> models -> toolbox
    -> engine -> viz -> course

Every ``import`` counts, including the ones inside functions: a lazy import still couples the
modules. The tests parse the source; nothing is imported.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dlcv_utils"
LAYERS = [
    "validation",
    "runtime",
    "ops",
    "datasets",
    "metrics",
    "proposals",
    "models",
    "toolbox",
    "engine",
    "viz",
    "course",
]
# thin aliases kept at the top level for the public import paths
ALIASES = {"boxes": "ops", "nms": "ops"}
# modules allowed over the size limit, and why
LARGE = {"dlcv_utils.metrics.coco": "pycocotools' COCOeval semantics, kept in one module"}
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """Index of ``module``'s layer; the package's own ``__init__`` sits below everything."""
    parts = module.split(".")
    if len(parts) == 1:
        return -1
    top = ALIASES.get(parts[1], parts[1])
    if top not in LAYERS:
        raise AssertionError(
            f"{module} is in no layer: put it in one of {LAYERS} (or add the layer to "
            "tests/test_layers.py and to the list in dlcv_utils/__init__.py)"
        )
    return LAYERS.index(top)


def imports_of(path: Path) -> set[str]:
    """The ``dlcv_utils`` modules that ``path`` imports (anywhere in the file)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("dlcv_utils"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("dlcv_utils"):
                continue
            for alias in node.names:  # "from pkg import module" imports the module
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES or m.rpartition(".")[0] in MODULES}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def test_every_module_is_in_a_layer():
    for name in MODULES:
        layer_of(name)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_upwards(module):
    upward = [m for m in GRAPH[module] if layer_of(m) > layer_of(module)]
    assert not upward, (
        f"{module} (layer {LAYERS[layer_of(module)]!r}) imports from a higher layer: "
        + ", ".join(f"{m} ({LAYERS[layer_of(m)]!r})" for m in sorted(upward))
        + ". Move the shared code down, or the importing code up."
    )


def test_no_import_cycles():
    # ``__init__`` re-exports point from a package to its own modules; they are not cycles
    edges = {
        m: {t for t in targets if not (MODULES[m].name == "__init__.py" and t.startswith(m + "."))}
        for m, targets in GRAPH.items()
    }
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt in edges and state.get(nxt) is None:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if state.get(node) is None:
            visit(node)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    if module in LARGE:
        return
    assert lines <= MAX_LINES, (
        f"{module} has {lines} lines (limit {MAX_LINES}): split it by topic into a subpackage"
    )


def test_the_layer_test_sees_real_imports():
    # guards against a parser that silently finds nothing
    assert "dlcv_utils.ops.boxes" in GRAPH["dlcv_utils.ops.nms"]
    assert "dlcv_utils.engine.evaluation" in GRAPH["dlcv_utils.engine.loop"]
    assert layer_of("dlcv_utils.course.recipes") > layer_of("dlcv_utils.engine.loop")


def private_imports(path: Path) -> list[str]:
    """``module._name`` imported by ``path`` from another module that is not itself private."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlcv_utils"):
            if node.module.rpartition(".")[2].startswith("_"):
                continue  # a package-internal helper module (e.g. exercises._common)
            found += [
                f"{node.module}.{a.name}"
                for a in node.names
                if a.name.startswith("_") and f"{node.module}.{a.name}" not in MODULES
            ]
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_private_names_of_another(module):
    private = private_imports(MODULES[module])
    assert not private, (
        f"{module} imports private names {private}: make them public where they live (with a "
        "docstring), or move the shared check into dlcv_utils/validation.py"
    )


# the public import paths of lesson 01 stay: thin aliases of their new homes
PUBLIC_ALIASES = {
    "dlcv_utils.boxes": (
        "dlcv_utils.ops.boxes",
        {
            "BOX_FORMATS",
            "box_area",
            "box_convert",
            "box_inter_union",
            "box_iou",
            "generalized_box_iou",
        },
    ),
    "dlcv_utils.nms": ("dlcv_utils.ops.nms", {"batched_nms", "nms", "soft_nms"}),
}


@pytest.mark.parametrize("alias", sorted(PUBLIC_ALIASES))
def test_public_aliases_keep_their_names(alias):
    import importlib

    home, names = PUBLIC_ALIASES[alias]
    old, new = importlib.import_module(alias), importlib.import_module(home)
    assert set(old.__all__) == names
    for name in names:
        assert getattr(old, name) is getattr(new, name), f"{alias}.{name} is not {home}.{name}"
