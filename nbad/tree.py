"""nbad.tree (jax.tree): the pytree functions of nbad.tree_util under short names."""
from nbad.tree_util import (  # noqa: F401
    tree_all as all, tree_flatten as flatten, tree_flatten_with_path as flatten_with_path,  # noqa: A004
    tree_leaves as leaves, tree_leaves_with_path as leaves_with_path, tree_map as map,  # noqa: A004
    tree_map_with_path as map_with_path, tree_reduce as reduce, tree_structure as structure,
    tree_transpose as transpose, tree_unflatten as unflatten)

__all__ = ["all", "flatten", "flatten_with_path", "leaves", "leaves_with_path", "map",
           "map_with_path", "reduce", "structure", "transpose", "unflatten"]
