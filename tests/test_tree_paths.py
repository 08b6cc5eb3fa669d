"""nbad.tree, key paths (tree_util.*_with_path, keystr) and make_jaxpr, against JAX."""
import collections

import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad import tree_util as tu

jax = pytest.importorskip("jax")
from jax import tree_util as jtu  # noqa: E402

Point = collections.namedtuple("Point", "a b")


@tu.register_pytree_node_class
class Box:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def tree_flatten(self):
        return (self.x, self.y), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


def sample_tree():
    return {"x": [1, (2, 3)], "y": Point(4, None), "z": collections.OrderedDict(q=5, p=6)}


def test_paths_print_as_jax():
    got, treedef = tu.tree_flatten_with_path(sample_tree())
    want, jtreedef = jtu.tree_flatten_with_path(sample_tree())
    assert [(repr(p), tu.keystr(p), v) for p, v in got] == [(repr(p), jtu.keystr(p), v) for p, v in want]
    assert [tu.keystr(p, simple=True, separator="/") for p, _ in got] == \
        [jtu.keystr(p, simple=True, separator="/") for p, _ in want]
    assert treedef == tu.tree_structure(sample_tree())
    assert str(tu.GetAttrKey("a")) == ".a" and repr(tu.DictKey("k")) == "DictKey(key='k')"


def test_custom_node_paths_are_flat_indices():
    got = tu.tree_leaves_with_path([Box(1, 2)])
    assert [(tu.keystr(p), v) for p, v in got] == [("[0][<flat index 0>]", 1), ("[0][<flat index 1>]", 2)]


def test_map_with_path_and_is_leaf():
    tree = sample_tree()
    got = tu.tree_map_with_path(lambda p, x, y: (tu.keystr(p), x + y), tree, tree)
    want = jtu.tree_map_with_path(lambda p, x, y: (jtu.keystr(p), x + y), tree, tree)
    assert got == want
    leaves, treedef = tu.tree_flatten_with_path(tree, is_leaf=lambda p, x: len(p) == 1,
                                                is_leaf_takes_path=True)
    assert [tu.keystr(p) for p, _ in leaves] == ["['x']", "['y']", "['z']"]
    assert treedef.unflatten([v for _, v in leaves]) == tree


def test_tree_module():
    tree = {"a": [1.0, 2.0], "b": (3.0,)}
    assert nbad.tree.leaves(tree) == jax.tree.leaves(tree)
    assert nbad.tree.map(lambda x, y: x * y, tree, tree) == jax.tree.map(lambda x, y: x * y, tree, tree)
    leaves, treedef = nbad.tree.flatten(tree)
    assert nbad.tree.unflatten(treedef, leaves) == tree
    assert nbad.tree.reduce(lambda a, b: a + b, tree, 10.0) == 16.0
    assert nbad.tree.all([True, (1, 2)]) and not nbad.tree.all([True, 0])
    assert str(nbad.tree.structure(tree)) == str(tu.tree_structure(tree))
    outer, inner = nbad.tree.structure([0, 0]), nbad.tree.structure((0, 0, 0))
    nested = [(1, 2, 3), (4, 5, 6)]
    assert nbad.tree.transpose(outer, inner, nested) == \
        jax.tree.transpose(jax.tree.structure([0, 0]), jax.tree.structure((0, 0, 0)), nested)
    assert nbad.tree.transpose(outer, None, nested) == ([1, 4], [2, 5], [3, 6])
    assert [tu.keystr(p) for p, _ in nbad.tree.leaves_with_path(tree)] == ["['a'][0]", "['a'][1]", "['b'][0]"]


def test_make_jaxpr_prints_the_ir():
    ir = nbad.make_jaxpr(lambda x: jnp.sum(jnp.sin(x) * 2))(np.ones(3))
    text = str(ir)
    assert "sin" in text and "reduce_sum" in text and text == str(nbad.make_ir(lambda x: jnp.sum(jnp.sin(x) * 2))(np.ones(3)))
