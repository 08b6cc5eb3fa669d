"""nbad.tree_util against jax.tree_util's behaviour (JAX is the oracle when installed)."""
import collections
import pickle

import numpy as np
import pytest

from nbad import tree_util as tu

try:
    import jax.tree_util as jtu
except ImportError:  # the `bench` extra; without it the JAX comparisons are skipped
    jtu = None

needs_jax = pytest.mark.skipif(jtu is None, reason="jax not installed")

Point = collections.namedtuple("Point", ["x", "y"])
A = np.arange(3.0)

TREES = [
    1,
    None,
    A,
    (),
    [],
    {},
    (1,),
    (1, 2, 3),
    (A, A, A),
    [1, [2, 3]],
    (1, [2, 3]),
    [[A, A], [A, A], [A, A]],
    {"b": 1, "a": (2, None)},
    {"w": [A, {"z": 3, "y": None}], "b": ()},
    [None, 1, None],
    (None,),
    Point(1, [2, 3]),
    [Point(A, None)],
    collections.OrderedDict([("z", 1), ("a", 2)]),
    collections.defaultdict(list, {"b": 1, "a": [2]}),
    ((((1,),),),),
    [(), [], {}, None],
]


@pytest.mark.parametrize("tree", TREES, ids=repr)
def test_flatten_round_trip(tree):
    leaves, treedef = tu.tree_flatten(tree)
    rebuilt = tu.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(tree)
    assert tu.tree_structure(rebuilt) == treedef
    assert [id(x) for x in tu.tree_leaves(rebuilt)] == [id(x) for x in leaves]
    assert treedef.num_leaves == len(leaves)


@needs_jax
@pytest.mark.parametrize("tree", TREES, ids=repr)
def test_matches_jax(tree):
    leaves, treedef = tu.tree_flatten(tree)
    jleaves, jtreedef = jtu.tree_flatten(tree)
    assert [id(x) for x in leaves] == [id(x) for x in jleaves]
    assert repr(treedef) == repr(jtreedef)
    assert treedef.num_leaves == jtreedef.num_leaves
    assert treedef.num_nodes == jtreedef.num_nodes
    assert repr(tu.tree_unflatten(treedef, leaves)) == repr(jtu.tree_unflatten(jtreedef, jleaves))


def test_dict_keys_sorted_and_unflatten_sorted():
    leaves, treedef = tu.tree_flatten({"b": 1, "a": 2, "c": 3})
    assert leaves == [2, 1, 3]
    assert list(tu.tree_unflatten(treedef, leaves)) == ["a", "b", "c"]
    assert tu.tree_structure({"b": 1, "a": 2}) == tu.tree_structure({"a": 0, "b": 0})


def test_ordered_dict_keeps_insertion_order():
    leaves, _ = tu.tree_flatten(collections.OrderedDict([("z", 1), ("a", 2)]))
    assert leaves == [1, 2]


def test_unsortable_dict_keys_raise():
    with pytest.raises(ValueError, match="sortable"):
        tu.tree_flatten({1: 2, "a": 3})


def test_none_is_an_empty_node():
    assert tu.tree_leaves([None, 1, None]) == [1]
    assert tu.tree_map(lambda x: x + 1, [None, 1]) == [None, 2]
    assert tu.tree_structure(None).num_leaves == 0
    assert tu.tree_structure(None) != tu.tree_structure(1)
    assert tu.tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]


def test_structure_equality_and_hash():
    s1 = tu.tree_structure((A, [A, A]))
    s2 = tu.tree_structure((1, [2.0, "x"]))
    assert s1 == s2 and hash(s1) == hash(s2)
    assert s1 != tu.tree_structure((A, (A, A)))
    assert tu.tree_structure([1]) != tu.tree_structure((1,))
    assert tu.tree_structure({"a": 1}) != tu.tree_structure({"b": 1})
    assert tu.tree_structure(Point(1, 2)) != tu.tree_structure((1, 2))
    assert len({s1, s2, tu.tree_structure((1, 2))}) == 2
    assert s1 != "PyTreeDef((*, [*, *]))"


def test_flat_and_general_paths_agree():
    flat = tu.tree_structure((1, 2))
    general = tu.tree_structure((1, 2), is_leaf=lambda x: False)
    assert flat == general and hash(flat) == hash(general)
    nested = tu.tree_structure([[A, A], [A, A]])
    assert nested == tu.tree_structure([[1, 2], [3, 4]], is_leaf=lambda x: False)


def test_treedef_methods():
    treedef = tu.tree_structure((1, [2, 3]))
    assert repr(treedef) == "PyTreeDef((*, [*, *]))"
    assert treedef.num_leaves == 3 and treedef.num_nodes == 5
    assert treedef.unflatten("abc") == ("a", ["b", "c"])
    assert [repr(c) for c in treedef.children()] == ["PyTreeDef(*)", "PyTreeDef([*, *])"]
    assert tu.treedef_is_leaf(tu.tree_structure(1))
    assert not tu.treedef_is_leaf(treedef)
    assert treedef.flatten_up_to((A, [{"k": 1}, None])) == [A, {"k": 1}, None]
    assert pickle.loads(pickle.dumps(treedef)) == treedef


def test_unflatten_wrong_leaf_count():
    treedef = tu.tree_structure((1, 2))
    with pytest.raises(ValueError, match="Too few leaves for PyTreeDef; expected 2, got 1"):
        treedef.unflatten([1])
    with pytest.raises(ValueError, match="Too many leaves"):
        treedef.unflatten([1, 2, 3])


def test_tree_map_multiple_trees_prefix():
    out = tu.tree_map(lambda a, b: (a, b), [1, 2], [(3, 4), {"x": 5}])
    assert out == [(1, (3, 4)), (2, {"x": 5})]
    assert tu.tree_map(lambda a, b: a + b, {"a": 1, "b": 2}, {"b": 20, "a": 10}) == {"a": 11, "b": 22}


@pytest.mark.parametrize(
    "tree, other, what",
    [
        ((1, 2), (1, 2, 3), "length"),
        ({"a": 1}, {"b": 1}, "metadata"),
        ([None], [1], "expected a NoneType, got a int"),
        ([1], (1,), "expected a list, got a tuple"),
        ([1, (2, 3)], [1, [2, 3]], "at \\[1\\]"),
    ],
)
def test_tree_map_mismatch_names_both_structures(tree, other, what):
    with pytest.raises(ValueError, match=what) as info:
        tu.tree_map(lambda a, b: a, tree, other)
    message = str(info.value)
    assert repr(tu.tree_structure(tree)) in message
    assert repr(tu.tree_structure(other)) in message
    if jtu is not None:
        with pytest.raises(ValueError):
            jtu.tree_map(lambda a, b: a, tree, other)


def test_is_leaf():
    tree = [(1, 2), (3, 4)]
    assert tu.tree_leaves(tree, is_leaf=lambda x: isinstance(x, tuple)) == [(1, 2), (3, 4)]
    out = tu.tree_map(lambda t: t[0], tree, is_leaf=lambda x: isinstance(x, tuple))
    assert out == [1, 3]


def test_tree_all_and_reduce():
    assert tu.tree_all([1, (True, {"a": 2})])
    assert not tu.tree_all([1, (0,)])
    assert tu.tree_reduce(lambda a, b: a + b, [1, (2, {"a": 3})]) == 6
    assert tu.tree_reduce(lambda a, b: a + b, [], 10) == 10
    with pytest.raises(TypeError):
        tu.tree_reduce(lambda a, b: a + b, [])


class Pair:
    def __init__(self, a, b, name="p"):
        self.a, self.b, self.name = a, b, name


tu.register_pytree_node(Pair, lambda p: ((p.a, p.b), p.name), lambda name, ch: Pair(*ch, name=name))


@tu.register_pytree_node_class
class Scaled:
    def __init__(self, value, scale):
        self.value, self.scale = value, scale

    def tree_flatten(self):
        return (self.value,), self.scale

    @classmethod
    def tree_unflatten(cls, scale, children):
        return cls(children[0], scale)


def test_custom_nodes():
    leaves, treedef = tu.tree_flatten(Pair(1, [2, 3], name="n"))
    assert leaves == [1, 2, 3]
    assert repr(treedef) == "PyTreeDef(CustomNode(Pair[n], [*, [*, *]]))"
    p = tu.tree_unflatten(treedef, [10, 20, 30])
    assert isinstance(p, Pair) and (p.a, p.b, p.name) == (10, [20, 30], "n")
    assert treedef != tu.tree_structure(Pair(1, [2, 3], name="other"))

    s = tu.tree_map(lambda x: x * 2, Scaled(A, 3.0))
    assert isinstance(s, Scaled) and s.scale == 3.0
    np.testing.assert_array_equal(s.value, A * 2)
    with pytest.raises(ValueError, match="already a pytree node"):
        tu.register_pytree_node(list, lambda x: (x, None), lambda a, c: c)


def test_subclasses_of_containers_are_leaves():
    class MyList(list):
        pass

    assert tu.tree_leaves([MyList([1, 2])]) == [MyList([1, 2])]


def test_all_leaves():
    assert tu.all_leaves([1, A, "x"])
    assert not tu.all_leaves([1, (2,)])
    assert not tu.all_leaves([None])
