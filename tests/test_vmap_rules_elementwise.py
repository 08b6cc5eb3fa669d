"""Batching (vmap) rules of the elementwise primitives and the reductions
(reduce_*, argmax/argmin, cumulative scans), checked against a loop over the
examples, eagerly and traced (nbad.test_util.check_batching); and a check that
every primitive that should have a vmap rule has one.

Elementwise operands are enumerated in every combination of four modes:
batched with per-example shape (3,), batched with per-example scalars,
shared with shape (3,), shared scalar (at least one operand batched)."""
import itertools
import zlib

import numpy as np
import pytest

from nbad.core.avals import ShapedArray
from nbad.core.primitive import ALL_PRIMITIVES
from nbad.rules import indexing, shape
from nbad.rules.reduce import (argmax_p, argmin_p, cummax_p, cummin_p, cumprod_p, cumsum_p,
                               reduce_and_p, reduce_max_p, reduce_min_p, reduce_or_p,
                               reduce_prod_p, reduce_sum_p)
from nbad.test_util import check_batching

B = 4
N = 3
PROBE_DTYPES = [np.dtype(t) for t in (np.float64, np.int64, np.bool_, np.complex128)]
SPECIAL = {"select", "convert_element_type", "integer_pow", "threefry2x32"}

ELEMENTWISE = sorted(name for name, p in ALL_PRIMITIVES.items() if p.kind == "elementwise")

# value ranges (low, high) for floats, per primitive and operand, where the
# default (-0.9, 0.9) leaves the function's domain
POSITIVE = (0.1, 2.0)
FLOAT_RANGE = {
    ("log", 0): POSITIVE, ("log2", 0): POSITIVE, ("log10", 0): POSITIVE,
    ("sqrt", 0): POSITIVE, ("rsqrt", 0): POSITIVE, ("pow", 0): POSITIVE,
    ("acosh", 0): (1.1, 3.0),
}
# integer ranges [low, high] per primitive and operand
INT_RANGE = {
    ("shift_left", 1): (0, 5), ("shift_right", 1): (0, 5),
    ("pow", 0): (-3, 3), ("pow", 1): (0, 3),
}
NONZERO_INT = {("floordiv", 1), ("rem", 1)}


def _values(name, i, dtype, shp, rng):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shp) < 0.5
    if dtype.kind in "iu":
        if (name, i) in NONZERO_INT:
            return rng.choice(np.array([-3, -2, -1, 1, 2, 3]), size=shp).astype(dtype)
        lo, hi = INT_RANGE.get((name, i), (-5, 5))
        return rng.integers(lo, hi + 1, size=shp).astype(dtype)
    lo, hi = FLOAT_RANGE.get((name, i), (-0.9, 0.9))
    x = rng.uniform(lo, hi, size=shp)
    if dtype.kind == "c":
        x = x + 1j * rng.uniform(lo, hi, size=shp)
    return np.asarray(x, dtype=dtype)


def _nargs_and_dtypes(prim):
    """The operand count and the probe dtypes the primitive accepts."""
    for nargs in (1, 2, 3):
        ok = []
        for dt in PROBE_DTYPES:
            try:
                prim.abstract_eval(*[ShapedArray((N,), dt)] * nargs)
            except Exception:  # wrong arity or dtype
                continue
            ok.append(dt)
        if ok:
            return nargs, ok
    raise AssertionError(f"no valid operands found for {prim.name}")


# modes: (batched, per-example scalar)
MODES = {"B": (True, False), "b": (True, True), "S": (False, False), "s": (False, True)}


def _mode_combos(nargs):
    return ["".join(c) for c in itertools.product(MODES, repeat=nargs)
            if any(MODES[m][0] for m in c)]


def _operands(name, dtypes, combo, rng):
    args, flags = [], []
    for i, (dt, m) in enumerate(zip(dtypes, combo)):
        batched, scalar = MODES[m]
        shp = ((B,) if batched else ()) + (() if scalar else (N,))
        args.append(_values(name, i, dt, shp, rng))
        flags.append(batched)
    return args, tuple(flags)


def _elementwise_cases():
    cases = []
    for name in ELEMENTWISE:
        if name in SPECIAL:
            continue
        prim = ALL_PRIMITIVES[name]
        nargs, dtypes = _nargs_and_dtypes(prim)
        for dt in dtypes:
            for combo in _mode_combos(nargs):
                cases.append(pytest.param(name, (dt,) * nargs, combo, {},
                                          id=f"{name}-{dt.name}-{combo}"))
    for dt in PROBE_DTYPES:
        for combo in _mode_combos(3):
            cases.append(pytest.param("select", (np.dtype(bool), dt, dt), combo, {},
                                      id=f"select-{dt.name}-{combo}"))
    for dt in PROBE_DTYPES:
        ys = (0, 1, 2, 3) + ((-1, -2) if dt.kind in "fc" else ())
        if dt.kind == "b":
            continue
        for y in ys:
            for combo in ("B", "b"):
                cases.append(pytest.param("integer_pow", (dt,), combo, {"y": y},
                                          id=f"integer_pow-{dt.name}-y{y}-{combo}"))
    for output in ("word0", "xor", "concat"):  # uint32 words only
        for combo in ("BsBS", "ssSB", "bbsB"):
            cases.append(pytest.param("threefry2x32", (np.dtype(np.uint32),) * 4, combo,
                                      {"output": output}, id=f"threefry2x32-{output}-{combo}"))
    targets = [np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64, np.uint8,
                                     np.bool_, np.complex64, np.complex128)]
    for dt in PROBE_DTYPES:
        for new in targets:
            for combo in ("B", "b"):
                cases.append(pytest.param("convert_element_type", (dt,), combo,
                                          {"new_dtype": new},
                                          id=f"convert-{dt.name}-to-{new.name}-{combo}"))
    return cases


@pytest.mark.parametrize("name,dtypes,combo,params", _elementwise_cases())
def test_elementwise_vmap(name, dtypes, combo, params):
    rng = np.random.default_rng(zlib.crc32(f"{name}-{combo}".encode()))
    args, flags = _operands(name, dtypes, combo, rng)
    check_batching(ALL_PRIMITIVES[name], args, flags, params, rtol=1e-13)


def test_every_elementwise_primitive_is_tested():
    tested = {c.values[0] for c in _elementwise_cases()}
    assert tested == set(ELEMENTWISE)


def test_convert_element_type_keeps_per_example_scalars():
    """A batch of scalars converted stays (B,): no broadcast to a common shape."""
    prim = ALL_PRIMITIVES["convert_element_type"]
    out = prim.vmap(B, [np.arange(B, dtype=np.int64)], (True,), new_dtype=np.dtype(np.float32))
    assert np.shape(out) == (B,) and np.asarray(out).dtype == np.float32


# -- reductions ---------------------------------------------------------------------
SHAPE = (2, 3, 4)
AXES = [(), (0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2)]
REDUCTIONS = [reduce_sum_p, reduce_prod_p, reduce_max_p, reduce_min_p, reduce_and_p, reduce_or_p]
SCANS = [cumsum_p, cumprod_p, cummax_p, cummin_p]


def _accepted(prim, **params):
    out = []
    for dt in PROBE_DTYPES:
        try:
            prim.abstract_eval(ShapedArray(SHAPE, dt), **params)
        except Exception:
            continue
        out.append(dt)
    assert out, prim.name
    return out


def _reduce_operand(dt, rng, with_nan):
    x = _values("reduce", 0, dt, (B,) + SHAPE, rng)
    if dt.kind in "iu":  # small values: ties, and no overflow in products
        x = rng.integers(-2, 3, size=(B,) + SHAPE).astype(dt)
    if with_nan and dt.kind in "fc":
        x[1, 0, 1, 2] = np.nan
    return x


def _reduction_cases():
    for prim in REDUCTIONS:
        for dt in _accepted(prim, axes=(0,)):
            for axes in AXES:
                for with_nan in (False, True) if dt.kind == "f" else (False,):
                    yield pytest.param(prim, dt, {"axes": axes}, with_nan,
                                       id=f"{prim.name}-{dt.name}-{axes}-nan{int(with_nan)}")
    for prim in (argmax_p, argmin_p):
        for dt in _accepted(prim, axes=(0,), index_dtype=np.dtype(np.int64)):
            for axis in range(len(SHAPE)):
                for index_dtype in (np.dtype(np.int64), np.dtype(np.int32)):
                    for with_nan in (False, True) if dt.kind == "f" else (False,):
                        yield pytest.param(prim, dt, {"axes": (axis,), "index_dtype": index_dtype},
                                           with_nan,
                                           id=f"{prim.name}-{dt.name}-{axis}-{index_dtype.name}"
                                              f"-nan{int(with_nan)}")
    for prim in SCANS:
        for dt in _accepted(prim, axis=0, reverse=False):
            for axis in range(len(SHAPE)):
                for reverse in (False, True):
                    for with_nan in (False, True) if dt.kind == "f" else (False,):
                        yield pytest.param(prim, dt, {"axis": axis, "reverse": reverse}, with_nan,
                                           id=f"{prim.name}-{dt.name}-{axis}-rev{int(reverse)}"
                                              f"-nan{int(with_nan)}")


@pytest.mark.parametrize("prim,dtype,params,with_nan", list(_reduction_cases()))
def test_reduction_vmap(prim, dtype, params, with_nan):
    rng = np.random.default_rng(7)
    x = _reduce_operand(dtype, rng, with_nan)
    check_batching(prim, [x], (True,), params, rtol=1e-12)


@pytest.mark.parametrize("prim", REDUCTIONS + [argmax_p, argmin_p] + SCANS, ids=lambda p: p.name)
def test_reduction_vmap_of_vector(prim):
    """Per-example vectors (a (B, n) operand), the reduced axis shifted to 1."""
    x = np.random.default_rng(8).integers(-3, 4, size=(B, 5))
    x = x > 0 if prim in (reduce_and_p, reduce_or_p) else x.astype(np.float64)
    if prim in SCANS:
        params = {"axis": 0, "reverse": False}
    elif prim in (argmax_p, argmin_p):
        params = {"axes": (0,), "index_dtype": np.dtype(np.int64)}
    else:
        params = {"axes": (0,)}
    check_batching(prim, [x], (True,), params)


# -- coverage -----------------------------------------------------------------------
def _module_primitives(module):
    from nbad.core.primitive import Primitive

    return {v.name for v in vars(module).values() if isinstance(v, Primitive)}


def test_every_primitive_has_a_vmap_rule():
    exempt = (_module_primitives(shape) | _module_primitives(indexing)
              | {"custom_jvp_call", "custom_vjp_call", "map"})
    missing = sorted(name for name, p in ALL_PRIMITIVES.items()
                     if name not in exempt and not p.has_rule("vmap"))
    assert not missing, f"primitives without a vmap rule: {missing}"
