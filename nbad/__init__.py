"""nbad: a JAX-compatible array compiler on Numba.

    import nbad as jax            # JAX programs run by changing the imports
    import nbad.numpy as jnp

Public API (re-exports only; see DESIGN.md for the architecture).
"""
from nbad import config as _config_module
from nbad.config import config
from nbad.core.array import Array
from nbad import errors
from nbad import tree_util
from nbad import tree
from nbad.tree_util import tree_map, tree_flatten, tree_unflatten, tree_leaves, tree_structure
from nbad import numpy
from nbad import nn
from nbad import scipy
from nbad import lax
from nbad import debug
from nbad import random
from nbad.custom_derivatives import custom_jvp, custom_vjp
from nbad.api import ShapeDtypeStruct, eval_shape, jit, make_ir
from nbad.api_ad import grad, value_and_grad, vjp, jvp, linearize, jacfwd, jacrev, hessian
from nbad.api_vmap import vmap
from nbad.api_remat import checkpoint, remat

jacobian = jacrev  # JAX's alias
make_jaxpr = make_ir  # JAX's name: the printable IR of f at these arguments
from nbad.backends import (block_until_ready, default_backend, default_device, device_count, device_get,
                           device_put, devices, local_device_count, local_devices)

__version__ = "0.1.0"


__all__ = ["jit", "make_ir", "make_jaxpr", "eval_shape", "ShapeDtypeStruct", "tree", "vmap", "grad", "value_and_grad",
           "vjp", "jvp", "linearize", "jacfwd", "jacrev", "jacobian",
           "hessian", "config", "Array", "errors", "tree_util", "tree_map", "tree_flatten",
           "tree_unflatten", "tree_leaves", "tree_structure", "numpy", "nn", "scipy", "lax", "random", "custom_jvp",
           "custom_vjp", "device_get", "block_until_ready", "checkpoint", "remat", "debug", "devices", "local_devices",
           "device_count", "local_device_count", "device_put", "default_backend", "default_device"]
