"""Pytrees, as in ``jax.tree_util``: nested containers whose leaves are arrays.

Nodes: tuple, list, dict (children in sorted-key order), None (a node with no
children), namedtuple, OrderedDict and defaultdict (insertion order), and any
type registered with ``register_pytree_node``. Everything else is a leaf.

A structure is a ``PyTreeDef``, built over a *spec*: a nested tuple that is
cheap to hash and compare, so a treedef can be part of jit's cache key.

    spec := None                                   a leaf
          | (node_type, aux_data, (spec, ...))     a node and its children

jit flattens its arguments on every call, so ``tree_flatten`` has a fast path
for a flat tuple/list of leaves (no recursion, an interned treedef) and
classifies each Python type once (``_kind_of``), not each object.
"""
from __future__ import annotations

import collections
import functools

__all__ = [
    "PyTreeDef", "tree_flatten", "tree_unflatten", "tree_leaves", "tree_structure",
    "tree_map", "tree_all", "tree_reduce", "tree_transpose", "register_pytree_node",
    "register_pytree_node_class", "treedef_is_leaf", "all_leaves",
]

_NoneType = type(None)

# Node kinds. A type maps to one of these in `_kinds` once it has been seen.
_LEAF, _SEQ, _DICT, _NONE, _NAMEDTUPLE, _ORDERED, _DEFAULTDICT, _CUSTOM = range(8)

# type -> kind; filled lazily by `_classify`, so a leaf type costs one dict hit.
_kinds: dict = {tuple: _SEQ, list: _SEQ, dict: _DICT, _NoneType: _NONE,
                collections.OrderedDict: _ORDERED, collections.defaultdict: _DEFAULTDICT}
# type -> (flatten(x) -> (children, aux), unflatten(aux, children) -> x)
_custom: dict = {}
# Types known to be leaves: the flat fast path tests membership in this set.
_leaf_types: set = set()


def _classify(t):
    if t in _custom:
        kind = _CUSTOM
    elif issubclass(t, tuple) and hasattr(t, "_fields"):
        kind = _NAMEDTUPLE
    else:
        kind = _LEAF
        _leaf_types.add(t)
    _kinds[t] = kind
    return kind


def _kind_of(t):
    kind = _kinds.get(t)
    return _classify(t) if kind is None else kind


def register_pytree_node(nodetype, flatten_func, unflatten_func):
    """Make ``nodetype`` a pytree node.

    ``flatten_func(x) -> (children, aux_data)``; ``unflatten_func(aux_data, children) -> x``.
    ``aux_data`` must be hashable and comparable: it is part of the tree structure.
    """
    if nodetype in _custom or _kinds.get(nodetype, _LEAF) not in (_LEAF, _NAMEDTUPLE):
        raise ValueError(f"register_pytree_node: {nodetype.__qualname__} is already a pytree node type")
    _custom[nodetype] = (flatten_func, unflatten_func)
    _kinds[nodetype] = _CUSTOM
    _leaf_types.discard(nodetype)


def register_pytree_node_class(cls):
    """Class decorator: ``cls.tree_flatten(self) -> (children, aux)`` and
    ``cls.tree_unflatten(aux, children)`` (a classmethod) define the node."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def _sorted_keys(d):
    try:
        return tuple(sorted(d))
    except TypeError:
        raise ValueError(
            f"pytree dict keys must be sortable (nbad sorts them, as JAX does); got keys {list(d)!r}"
        ) from None


def _flatten(x, leaves, is_leaf):
    """Append x's leaves to `leaves`; return x's spec."""
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return None
    t = type(x)
    kind = _kinds.get(t)
    if kind is None:
        kind = _classify(t)
    if kind == _LEAF:
        leaves.append(x)
        return None
    if kind == _SEQ or kind == _NAMEDTUPLE:
        return (t, None, _flatten_children(x, leaves, is_leaf))
    if kind == _DICT:
        keys = _sorted_keys(x)
        return (t, keys, _flatten_children([x[k] for k in keys], leaves, is_leaf))
    if kind == _NONE:
        return _NONE_SPEC
    if kind == _ORDERED:
        keys = tuple(x)
        return (t, keys, _flatten_children([x[k] for k in keys], leaves, is_leaf))
    if kind == _DEFAULTDICT:
        keys = _sorted_keys(x)
        return (t, (x.default_factory, keys), _flatten_children([x[k] for k in keys], leaves, is_leaf))
    children, aux = _custom[t][0](x)
    return (t, aux, _flatten_children(children, leaves, is_leaf))


def _flatten_children(children, leaves, is_leaf):
    """The specs of `children`, their leaves appended.

    Leaf children, and tuple/list children made only of leaves (a `[W, b]` layer),
    are handled inline: a Python call per node is the main cost of flattening.
    """
    if is_leaf is not None:
        return tuple([_flatten(c, leaves, is_leaf) for c in children])
    leaf_types = _leaf_types
    for c in children:
        if type(c) not in leaf_types:
            break
    else:
        leaves.extend(children)
        n = len(children)
        return _LEAF_SPECS[n] if n < _N_LEAF_SPECS else (None,) * n
    specs = []
    for c in children:
        tc = type(c)
        if tc in leaf_types:
            leaves.append(c)
            specs.append(None)
            continue
        if tc is list or tc is tuple:
            for g in c:
                if type(g) not in leaf_types:
                    break
            else:
                leaves.extend(c)
                n = len(c)
                specs.append((tc, None, _LEAF_SPECS[n] if n < _N_LEAF_SPECS else (None,) * n))
                continue
        elif tc is dict and not c:  # jit flattens (args, kwargs); kwargs is usually empty
            specs.append(_EMPTY_DICT_SPEC)
            continue
        specs.append(_flatten(c, leaves, None))
    return tuple(specs)


# Interned child specs of nodes whose children are all leaves, so equal structures share them.
_N_LEAF_SPECS = 64
_LEAF_SPECS = tuple((None,) * n for n in range(_N_LEAF_SPECS))
_NONE_SPEC = (_NoneType, None, ())
_EMPTY_DICT_SPEC = (dict, (), ())
_flat_defs: dict = {}  # (tuple|list, n) -> interned PyTreeDef of n leaves


def _flat_def(t, n):
    treedef = _flat_defs.get((t, n))
    if treedef is None:
        treedef = _flat_defs[(t, n)] = PyTreeDef((t, None, (None,) * n), n)
    return treedef


def tree_flatten(tree, is_leaf=None):
    """``(leaves, treedef)``: the leaves in order (dicts by sorted key) and the structure."""
    t = type(tree)
    if (t is tuple or t is list) and is_leaf is None:
        leaves = []
        specs = _flatten_children(tree, leaves, None)
        n = len(leaves)
        if n < _N_LEAF_SPECS and specs is _LEAF_SPECS[n]:
            return leaves, _flat_def(t, n)
        return leaves, PyTreeDef((t, None, specs), n)
    leaves = []
    spec = _flatten(tree, leaves, is_leaf)
    return leaves, PyTreeDef(spec, len(leaves))


def tree_leaves(tree, is_leaf=None):
    leaves = []
    _flatten(tree, leaves, is_leaf)
    return leaves


def tree_structure(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[1]


def tree_unflatten(treedef, leaves):
    """Rebuild a tree of structure ``treedef`` from ``leaves``."""
    return treedef.unflatten(leaves)


def _unflatten(spec, leaves, pos):
    """(the tree of `spec` built from leaves[pos:], the position after its leaves)."""
    if spec is None:
        return leaves[pos], pos + 1
    t, aux, children = spec
    n = len(children)
    if n < _N_LEAF_SPECS and children is _LEAF_SPECS[n]:
        values = leaves[pos:pos + n]
        pos += n
    else:
        values = []
        for c in children:
            if c is None:
                values.append(leaves[pos])
                pos += 1
            else:
                v, pos = _unflatten(c, leaves, pos)
                values.append(v)
    kind = _kinds[t]
    if kind == _SEQ:
        return (values if t is list else tuple(values)), pos
    if kind == _DICT:
        return dict(zip(aux, values)), pos
    if kind == _NONE:
        return None, pos
    if kind == _NAMEDTUPLE:
        return t(*values), pos
    if kind == _ORDERED:
        return collections.OrderedDict(zip(aux, values)), pos
    if kind == _DEFAULTDICT:
        return collections.defaultdict(aux[0], zip(aux[1], values)), pos
    return _custom[t][1](aux, values), pos


def _count_leaves(spec):
    if spec is None:
        return 1
    return sum(_count_leaves(c) for c in spec[2])


def _shape_of_spec(spec):
    """The spec without its aux data: a hash for trees whose aux data is unhashable."""
    if spec is None:
        return None
    return (spec[0], tuple(_shape_of_spec(c) for c in spec[2]))


class PyTreeDef:
    """The structure of a pytree: hashable, comparable, and able to rebuild a tree."""

    __slots__ = ("_spec", "num_leaves", "_hash", "_flat_tuple")

    def __init__(self, spec, num_leaves=None):
        self._spec = spec
        self.num_leaves = _count_leaves(spec) if num_leaves is None else num_leaves
        self._hash = None
        self._flat_tuple = None  # is this a tuple of leaves? decided on first unflatten

    def __eq__(self, other):
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return self._spec == other._spec

    def __hash__(self):
        h = self._hash
        if h is None:
            try:
                h = hash(self._spec)
            except TypeError:  # unhashable aux data (a dict, as JAX allows): equality decides
                h = hash(_shape_of_spec(self._spec))
            self._hash = h
        return h

    @property
    def num_nodes(self):
        def count(spec):
            return 1 if spec is None else 1 + sum(count(c) for c in spec[2])

        return count(self._spec)

    def unflatten(self, leaves):
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            few = "few" if len(leaves) < self.num_leaves else "many"
            raise ValueError(
                f"Too {few} leaves for PyTreeDef; expected {self.num_leaves}, got {len(leaves)}"
                f" (structure {self})"
            )
        spec = self._spec
        flat_tuple = self._flat_tuple
        if flat_tuple is None:
            flat_tuple = self._flat_tuple = spec is not None and spec[0] is tuple and _is_flat(spec)
        if flat_tuple:
            return tuple(leaves)
        return _unflatten(spec, leaves, 0)[0]

    def children(self):
        """The treedefs of this node's children (a leaf has none)."""
        if self._spec is None:
            return []
        return [PyTreeDef(c) for c in self._spec[2]]

    def flatten_up_to(self, tree):
        """The subtrees of ``tree`` at the positions of this structure's leaves.

        ``tree`` must have this structure as a prefix; otherwise ValueError names both.
        """
        out = []
        _flatten_up_to(self._spec, tree, out, self, tree, "")
        return out

    def __repr__(self):
        return f"PyTreeDef({_spec_str(self._spec)})"

    def __reduce__(self):
        return (PyTreeDef, (self._spec, self.num_leaves))


def _is_flat(spec):
    for c in spec[2]:
        if c is not None:
            return False
    return True


def _spec_str(spec):
    if spec is None:
        return "*"
    t, aux, children = spec
    kind = _kinds[t]
    parts = [_spec_str(c) for c in children]
    if kind == _SEQ and t is tuple:
        return "(" + parts[0] + ",)" if len(parts) == 1 else "(" + ", ".join(parts) + ")"
    if kind == _SEQ:
        return "[" + ", ".join(parts) + "]"
    if kind == _DICT:
        return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(aux, parts)) + "}"
    if kind == _NONE:
        return "None"
    if kind == _NAMEDTUPLE:
        return f"CustomNode(namedtuple[{t.__name__}], [{', '.join(parts)}])"
    if kind == _DEFAULTDICT:
        aux = (aux[0], aux[1])
    return f"CustomNode({t.__name__}[{aux}], [{', '.join(parts)}])"


def _node_parts(x, kind, t):
    """(aux, children) of a node object x of known kind, in flatten order."""
    if kind == _SEQ or kind == _NAMEDTUPLE:
        return None, list(x)
    if kind == _DICT:
        keys = _sorted_keys(x)
        return keys, [x[k] for k in keys]
    if kind == _NONE:
        return None, []
    if kind == _ORDERED:
        keys = tuple(x)
        return keys, [x[k] for k in keys]
    if kind == _DEFAULTDICT:
        keys = _sorted_keys(x)
        return (x.default_factory, keys), [x[k] for k in keys]
    children, aux = _custom[t][0](x)
    return aux, list(children)


def _flatten_up_to(spec, x, out, treedef, whole, path):
    if spec is None:
        out.append(x)
        return
    t, aux, children = spec
    where = f" at {path}" if path else ""

    def mismatch(what):
        return ValueError(
            f"pytree structure mismatch{where}: {what}.\n"
            f"  expected structure: {treedef}\n"
            f"  got structure:      {tree_structure(whole)}"
        )

    xt = type(x)
    if xt is not t:
        raise mismatch(f"expected a {t.__name__}, got a {xt.__name__}")
    x_aux, x_children = _node_parts(x, _kinds[t], t)
    if len(x_children) != len(children):
        raise mismatch(f"{t.__name__} of length {len(children)} vs length {len(x_children)}")
    if x_aux != aux:
        raise mismatch(f"{t.__name__} metadata {aux!r} vs {x_aux!r}")
    keys = aux if isinstance(aux, tuple) and len(aux) == len(children) else range(len(children))
    for key, c, xc in zip(keys, children, x_children):
        _flatten_up_to(c, xc, out, treedef, whole, f"{path}[{key!r}]")


def tree_map(f, tree, *rest, is_leaf=None):
    """``f`` applied leaf by leaf; ``rest`` trees must have ``tree``'s structure as a prefix."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    others = []
    for i, r in enumerate(rest, start=1):
        try:
            others.append(treedef.flatten_up_to(r))
        except ValueError as e:
            raise ValueError(f"tree_map: tree argument {i} does not match the first tree's structure: {e}") from None
    return treedef.unflatten([f(*xs) for xs in zip(leaves, *others)])


def tree_all(tree, is_leaf=None):
    return all(tree_leaves(tree, is_leaf))


_MISSING = object()


def tree_reduce(function, tree, initializer=_MISSING, is_leaf=None):
    if initializer is _MISSING:
        return functools.reduce(function, tree_leaves(tree, is_leaf))
    return functools.reduce(function, tree_leaves(tree, is_leaf), initializer)


def tree_transpose(outer_treedef, inner_treedef, pytree_to_transpose):
    """An outer tree of inner trees as an inner tree of outer trees (inner_treedef None:
    the structure of the first inner tree)."""
    inners = outer_treedef.flatten_up_to(pytree_to_transpose)
    if inner_treedef is None:
        inner_treedef = tree_structure(inners[0])
    columns = zip(*[inner_treedef.flatten_up_to(inner) for inner in inners])
    return inner_treedef.unflatten([outer_treedef.unflatten(list(c)) for c in columns])


def treedef_is_leaf(treedef):
    return treedef._spec is None


def all_leaves(iterable, is_leaf=None):
    """True if every element of ``iterable`` is a leaf."""
    if is_leaf is None:
        return all(_kind_of(type(x)) == _LEAF for x in iterable)
    return all(is_leaf(x) or _kind_of(type(x)) == _LEAF for x in iterable)


# Key paths (JAX's *_with_path functions and key types) live in their own module.
from nbad._tree_paths import (  # noqa: E402
    DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey, keystr, tree_flatten_with_path,
    tree_leaves_with_path, tree_map_with_path)

__all__ += ["DictKey", "FlattenedIndexKey", "GetAttrKey", "SequenceKey", "keystr",
            "tree_flatten_with_path", "tree_leaves_with_path", "tree_map_with_path"]
