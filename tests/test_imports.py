"""The package's modules import each other without cycles, counting imports inside functions too
(a lazy import hides a cycle from Python, not from whoever has to change the code)."""
from __future__ import annotations

import ast
import pathlib

import edgepack

PACKAGE = pathlib.Path(edgepack.__file__).parent


def module_names(root: pathlib.Path = PACKAGE) -> dict:
    """{dotted name inside the package ("cli", "formats", "formats.pte"): source file}."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and all(part.isidentifier() for part in parts):
            names[".".join(parts)] = path
    return names


def import_graph(root: pathlib.Path = PACKAGE) -> dict:
    """{module: {modules of the package it imports anywhere in its source}}; relative imports of
    any level and absolute `edgepack.` imports are resolved, `from .pkg import mod` included."""
    modules = module_names(root)
    graph = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                    target = base + (node.module.split(".") if node.module else [])
                elif (node.module or "").startswith("edgepack."):
                    target = node.module.split(".")[1:]
                else:
                    continue
                targets.append(".".join(target))
                targets += [".".join(target + [alias.name]) for alias in node.names]
            elif isinstance(node, ast.Import):
                targets += [a.name.split(".", 1)[1] for a in node.names if a.name.startswith("edgepack.")]
            deps.update(t for t in targets if t in modules and t != name and t != "")
        graph[name] = deps
    return graph
def find_cycle(graph: dict):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycles():
    graph = import_graph()
    assert {"compat", "inspect", "export", "sources", "models"} <= set(graph)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
