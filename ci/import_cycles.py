"""List the import cycles among nbad's modules.

    python ci/import_cycles.py          # the cycles, one strongly connected group per paragraph
    python ci/import_cycles.py --check  # exit 1 if a group is not among KNOWN_GROUPS below

Both module-level and function-local imports count (a function-local import
hides a cycle; it does not remove it): each edge is printed with the line
that makes it and whether it is local. A group is a strongly connected set of
modules; within one, every module reaches every other through imports.

tests/test_import_cycles.py runs --check, so a change that adds a new cycle,
or joins two groups, fails CI. KNOWN_GROUPS records the cycles the code has
today so they can only shrink: remove a group when its cycle is gone.
"""
from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "nbad"

# The groups this checkout has, as sorted module tuples (see the docstring). Session 5 began
# with four (13, 23, 2 and 2 modules: api/codegen, core/numpy/rules, rules.map/transforms.vmap,
# mathlib); its features joined the first three through function-local imports from the lower
# layers upward (numpy._functional -> api_vmap for vectorize, numpy._numeric and scipy.special ->
# custom_derivatives, random -> api and lax). Session 8 (issue 11: the compile pipeline and
# backends/cpu/) took the backends out of the big group and ended driver <-> loops and the
# mathlib circle; what is left is core/numpy/rules/api (rules' derivative rules are written in
# nbad.numpy) and tree_util/_tree_paths.
KNOWN_GROUPS: list[tuple[str, ...]] = [
    ("nbad", "nbad._lax_control", "nbad._lax_conv", "nbad._lax_ops", "nbad._lax_slicing",
     "nbad.api", "nbad.api_ad", "nbad.api_loops", "nbad.api_remat", "nbad.api_vmap",
     "nbad.backends", "nbad.backends.cuda.array", "nbad.cache", "nbad.compile.fusion",
     "nbad.compile.passes", "nbad.compile.pipeline", "nbad.core.array", "nbad.core.primitive",
     "nbad.core.trace", "nbad.custom_derivatives", "nbad.debug", "nbad.lax", "nbad.nn",
     "nbad.numpy", "nbad.numpy._at", "nbad.numpy._core", "nbad.numpy._creation",
     "nbad.numpy._elementwise", "nbad.numpy._functional", "nbad.numpy._indexing",
     "nbad.numpy._indices", "nbad.numpy._linalg", "nbad.numpy._methods", "nbad.numpy._numeric",
     "nbad.numpy._quantiles", "nbad.numpy._reductions", "nbad.numpy._setops",
     "nbad.numpy._shape", "nbad.numpy._sorting", "nbad.numpy._types", "nbad.numpy.linalg",
     "nbad.random", "nbad.random._erf_inv", "nbad.random._gamma", "nbad.random._keys",
     "nbad.random._poisson", "nbad.random._samplers", "nbad.random._threefry", "nbad.rules._ad",
     "nbad.rules._batching", "nbad.rules._family", "nbad.rules.checkpoint", "nbad.rules.cond",
     "nbad.rules.control", "nbad.rules.elementwise", "nbad.rules.elementwise_math",
     "nbad.rules.indexing", "nbad.rules.linalg", "nbad.rules.linalg_decomp",
     "nbad.rules.linalg_lu", "nbad.rules.map", "nbad.rules.random", "nbad.rules.reduce",
     "nbad.rules.scan", "nbad.rules.shape", "nbad.rules.sort", "nbad.rules.special",
     "nbad.rules.while_loop", "nbad.scipy", "nbad.scipy.linalg", "nbad.scipy.special",
     "nbad.scipy.stats", "nbad.scipy.stats._common", "nbad.scipy.stats.bernoulli",
     "nbad.scipy.stats.beta", "nbad.scipy.stats.binom", "nbad.scipy.stats.cauchy",
     "nbad.scipy.stats.expon", "nbad.scipy.stats.gamma", "nbad.scipy.stats.laplace",
     "nbad.scipy.stats.logistic", "nbad.scipy.stats.multivariate_normal",
     "nbad.scipy.stats.norm", "nbad.scipy.stats.poisson", "nbad.scipy.stats.t",
     "nbad.scipy.stats.uniform", "nbad.transforms.ad", "nbad.transforms.reroll",
     "nbad.transforms.simplify", "nbad.transforms.vmap"),
    ("nbad._tree_paths", "nbad.tree_util"),
]


def module_names(root=ROOT) -> dict[str, pathlib.Path]:
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: pathlib.Path, modules) -> list[tuple[str, int, bool]]:
    """(imported nbad module, line, is_local) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    local_lines = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for inner in ast.walk(fn):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    local_lines.add(id(inner))
    edges = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            # `from nbad.x import y` imports nbad.x.y when y is a module, else nbad.x
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for target in targets:
            # `import nbad.a.b` runs nbad.a.b; the nearest known module is the edge's end
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module and target.startswith(PACKAGE):
                edges.append((target, node.lineno, id(node) in local_lines))
    return edges


def import_graph(root=ROOT):
    modules = module_names(root)
    graph = {m: {} for m in modules}
    for m, path in modules.items():
        for target, line, local in imports_of(m, path, modules):
            graph[m].setdefault(target, (line, local))
    return graph


def strongly_connected_groups(graph) -> list[tuple[str, ...]]:
    """Tarjan's algorithm, iteratively; the groups of two or more modules, sorted."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(tuple(sorted(group)))
    return sorted(groups)


def describe(graph, group) -> str:
    members = set(group)
    lines = [f"{len(group)} modules: {' '.join(group)}"]
    for m in group:
        for target, (line, local) in sorted(graph[m].items()):
            if target in members:
                lines.append(f"  {m} -> {target}  (line {line}{', function-local' if local else ''})")
    return "\n".join(lines)


def main(argv) -> int:
    graph = import_graph()
    groups = strongly_connected_groups(graph)
    for group in groups:
        print(describe(graph, group), end="\n\n")
    print(f"{len(groups)} import cycle group(s) among {len(graph)} modules")
    if "--check" in argv:
        new = [g for g in groups if g not in KNOWN_GROUPS]
        if new:
            print("not in KNOWN_GROUPS (a new or grown cycle):\n" + "\n".join(" ".join(g) for g in new))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
