"""The package's structure, read from its source: imports run one way, no hidden global state."""

import ast
import os

PACKAGE = "keras_nasnet"
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), PACKAGE)


def package_modules() -> dict:
    """Returns {module name: path} of every module of the package."""
    modules = {}
    for directory, _, names in os.walk(ROOT):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            parts = os.path.relpath(path, os.path.dirname(ROOT))[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: str, modules: dict) -> set:
    """Returns the package modules `module` imports anywhere in its source (lazy imports too)."""
    is_package = path.endswith("__init__.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            # `from P import name`: name is a submodule of P, or something P defines.
            targets = [
                f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != module:
                found.add(target)
    return found


def import_graph() -> dict:
    modules = package_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict):
    """Returns one import cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_is_read_from_the_source():
    graph = import_graph()
    # Spot checks that the reader sees relative, lazy and "from . import" imports.
    assert "keras_nasnet.search.spaces.nasnet_cells" in graph["keras_nasnet.search.oracles.nasnet"]
    assert "keras_nasnet.compat" in graph["keras_nasnet.search.oracles.base"]
    reporting = "keras_nasnet.search.reporting"
    assert f"{reporting}.report" in graph[f"{reporting}.monitors"]  # lazy
    assert "keras_nasnet.search.pipeline" in graph["keras_nasnet.cli.search"]  # lazy
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_oracle_imports_neither_its_monitors_nor_the_reports():
    graph = import_graph()
    for name in ("base", "nasnet", "any_space"):
        oracle = graph[f"keras_nasnet.search.oracles.{name}"]
        assert not oracle & {f"keras_nasnet.search.reporting.{m}" for m in ("monitors", "report")}


def test_no_module_changes_the_process_umask():
    # os.umask can only be read by setting it: a race with every thread that creates a file.
    for name, path in package_modules().items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "umask"
        ]
        assert not calls, f"{name} uses os.umask (line {calls[0].lineno})"


def test_the_search_package_is_laid_out_by_role():
    modules = package_modules()
    roles = ("spaces", "proposers", "oracles", "evaluators", "enas", "distributed", "reporting")
    for role in roles:
        assert f"keras_nasnet.search.{role}" in modules, role
    # Only drivers and shared helpers stay at the top of the search package.
    top = {
        m.rsplit(".", 1)[1]
        for m in modules
        if m.count(".") == 2 and m.startswith(PACKAGE + ".search.")
    }
    drivers = {"pipeline", "network_search", "run"}
    assert top == set(roles) | drivers | {"clock", "lock", "moved", "state"}
    assert "keras_nasnet.compare" in modules  # comparison is not part of search
    graph = import_graph()
    search = {m for m in modules if m.startswith("keras_nasnet.search")}
    assert not any(target.startswith("keras_nasnet.compare") for m in search for target in graph[m])


def test_every_moved_module_path_still_imports_as_the_same_module():
    import importlib

    from keras_nasnet.search.moved import MOVED

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
