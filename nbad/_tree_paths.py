"""Key paths of pytree leaves, as ``jax.tree_util``'s ``*_with_path`` functions.

A leaf's path is a tuple of keys, one per node on the way down: ``DictKey``
for dict-like nodes, ``SequenceKey`` for tuples and lists, ``GetAttrKey`` for
namedtuple fields and ``FlattenedIndexKey`` for registered custom nodes (their
children's positions). They print, and ``keystr`` joins them, as JAX does:
``['x'][1].a``.
"""
from __future__ import annotations

from typing import NamedTuple


class DictKey(NamedTuple):
    key: object

    def __str__(self):
        return f"[{self.key!r}]"


class SequenceKey(NamedTuple):
    idx: int

    def __str__(self):
        return f"[{self.idx!r}]"


class GetAttrKey(NamedTuple):
    name: str

    def __str__(self):
        return f".{self.name}"


class FlattenedIndexKey(NamedTuple):
    key: int

    def __str__(self):
        return f"[<flat index {self.key}>]"


def _simple(key) -> str:
    return str(key[0])


def keystr(keys, *, simple: bool = False, separator: str = "") -> str:
    """A key path as text: ``['x'][0]`` (simple=True: the bare keys, ``x/0`` with separator='/')."""
    return separator.join(_simple(k) if simple else str(k) for k in keys)


def _child_keys(x, kind, t):
    """(the keys of node x's children, the children), in flatten order."""
    from nbad import tree_util as tu

    aux, children = tu._node_parts(x, kind, t)
    if kind in (tu._DICT, tu._ORDERED):
        return [DictKey(k) for k in aux], children
    if kind == tu._DEFAULTDICT:
        return [DictKey(k) for k in aux[1]], children
    if kind == tu._NAMEDTUPLE:
        return [GetAttrKey(f) for f in t._fields], children
    if kind == tu._SEQ:
        return [SequenceKey(i) for i in range(len(children))], children
    return [FlattenedIndexKey(i) for i in range(len(children))], children


def _walk(x, path, out, is_leaf, is_leaf_takes_path):
    from nbad import tree_util as tu

    if is_leaf is not None and (is_leaf(path, x) if is_leaf_takes_path else is_leaf(x)):
        out.append((path, x))
        return
    t = type(x)
    kind = tu._kind_of(t)
    if kind == tu._LEAF:
        out.append((path, x))
        return
    if kind == tu._NONE:
        return
    keys, children = _child_keys(x, kind, t)
    for key, child in zip(keys, children):
        _walk(child, path + (key,), out, is_leaf, is_leaf_takes_path)


def tree_leaves_with_path(tree, is_leaf=None, is_leaf_takes_path=False):
    """``[(key_path, leaf), ...]`` in ``tree_leaves`` order."""
    out = []
    _walk(tree, (), out, is_leaf, is_leaf_takes_path)
    return out


def tree_flatten_with_path(tree, is_leaf=None, is_leaf_takes_path=False):
    """``([(key_path, leaf), ...], treedef)``."""
    from nbad import tree_util as tu

    if is_leaf is None or not is_leaf_takes_path:
        return tree_leaves_with_path(tree, is_leaf), tu.tree_structure(tree, is_leaf)
    # tree_structure visits the nodes in the order _walk does: replay its decisions.
    decisions = []

    def recording_is_leaf(path, x):
        decisions.append(bool(is_leaf(path, x)))
        return decisions[-1]

    with_paths = tree_leaves_with_path(tree, recording_is_leaf, True)
    replay = iter(decisions)
    return with_paths, tu.tree_structure(tree, lambda x: next(replay))


def tree_map_with_path(f, tree, *rest, is_leaf=None, is_leaf_takes_path=False):
    """``f(key_path, leaf, *other_leaves)`` leaf by leaf, as ``tree_map``."""
    with_paths, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    others = [treedef.flatten_up_to(r) for r in rest]
    return treedef.unflatten([f(path, leaf, *xs) for (path, leaf), *xs in zip(with_paths, *others)])
