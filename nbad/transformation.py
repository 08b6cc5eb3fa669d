"""Transformed functions that pickle as their recipe.

`nbad.grad(f)`, `nbad.vmap(f, in_axes=...)`, `nbad.jit(f)` and the other
transformations pickle as (the transformation, f, its arguments) — never with
the closures and caches that hold compiled programs. So cloudpickle (what
Dask uses to ship tasks) and plain pickle send `jit(vmap(grad(f)))` to another
process by reference to `f` plus its static configuration, and the receiving
process compiles on first use or loads the kernels from its disk cache.

Each transformed object carries an id (given when it is first pickled). A
process that unpickles the same id again gets the object it rebuilt the first
time, with its compiled programs: a Dask worker running the hundredth task of
a sweep does not trace or plan the program again. A new `jit(f)` on the sending
side is a new id, so it is rebuilt (and traced) anew, as it would be locally.
"""
from __future__ import annotations

import collections
import functools
import threading
import uuid

_MAX_REBUILT = 256  # recipes kept per process, least recently used dropped first
_rebuilt: collections.OrderedDict = collections.OrderedDict()
_lock = threading.Lock()


def recipe_id(obj) -> str:
    """The id `obj` pickles with (made on first use)."""
    uid = obj.__dict__.get("_recipe_id")
    if uid is None:
        uid = obj.__dict__["_recipe_id"] = uuid.uuid4().hex
    return uid


def rebuild(uid, factory, args, kwargs):
    """Unpickle a recipe: the object this process already rebuilt for `uid`, or a new one."""
    with _lock:
        obj = _rebuilt.get(uid)
        if obj is not None:
            _rebuilt.move_to_end(uid)
            return obj
    obj = factory(*args, **kwargs)
    obj.__dict__["_recipe_id"] = uid  # pickled again from here, it keeps its id
    with _lock:
        obj = _rebuilt.setdefault(uid, obj)
        while len(_rebuilt) > _MAX_REBUILT:
            _rebuilt.popitem(last=False)
    return obj


class Transformation:
    """A callable made by `factory(*args, **kwargs)`; see the module docstring."""

    def __init__(self, impl, factory, args, kwargs):
        # The wrapped function's name and doc; not its __dict__ (a jitted function's caches).
        functools.update_wrapper(self, impl, updated=())
        self._impl = impl
        self._recipe = (factory, args, kwargs)

    def __call__(self, *args, **kwargs):
        return self._impl(*args, **kwargs)

    def __reduce__(self):
        return (rebuild, (recipe_id(self),) + self._recipe)

    def __dask_tokenize__(self):
        return ("nbad.Transformation", recipe_id(self))

    def __repr__(self):
        factory, args, _ = self._recipe
        inner = getattr(args[0], "__name__", repr(args[0])) if args else ""
        return f"<nbad.{factory.__name__} of {inner}>"


def pickled_as_recipe(factory):
    """Decorate a transformation `factory(fun, ...) -> closure` so that its
    results are Transformations (picklable by recipe)."""

    @functools.wraps(factory)
    def make(*args, **kwargs):
        return Transformation(factory(*args, **kwargs), make, args, kwargs)

    return make
