"""Batching (vmap) rules of the shape and indexing primitives: each rule,
applied eagerly and traced, equals a loop over the examples of the primitive's
impl (test_util.check_batching), for every combination of batched and shared
operands, several parameter settings, 0-d examples, out-of-bounds indices and
integer and float dtypes."""
import itertools

import numpy as np
import pytest

from nbad.core.primitive import Primitive
from nbad.core.trace import trace_to_ir
from nbad.rules import indexing, shape as sp
from nbad.test_util import check_batching

N = 3  # batch size (some tests use 4)


def data(shape, dtype=np.float64):
    """An operand spec: random values of `shape` (after the batch axis, if batched)."""
    dtype = np.dtype(dtype)

    def make(rng, lead):
        full = tuple(lead) + tuple(shape)
        if dtype.kind == "b":
            return rng.random(full) < 0.5
        if dtype.kind in "iu":
            return rng.integers(0 if dtype.kind == "u" else -9, 10, full).astype(dtype)
        return rng.standard_normal(full).astype(dtype)

    return make


def idx(shape, lo, hi, dtype=np.int64):
    """An index operand spec: integers in [lo, hi)."""

    def make(rng, lead):
        return rng.integers(lo, hi, tuple(lead) + tuple(shape)).astype(dtype)

    return make


def flag_combos(n):
    """Every batched/shared assignment of n operands with at least one batched."""
    return [c for c in itertools.product((False, True), repeat=n) if any(c)]


def check_all(prim, specs, params, *, size=N, combos=None, seed=0):
    rng = np.random.default_rng(seed)
    for batched in combos or flag_combos(len(specs)):
        args = [make(rng, (size,) if b else ()) for make, b in zip(specs, batched)]
        check_batching(prim, args, batched, params)


def _module_primitives(module):
    return [v for v in vars(module).values() if isinstance(v, Primitive)]


@pytest.mark.parametrize("prim", sorted(set(_module_primitives(sp)) | set(_module_primitives(indexing)),
                                        key=str), ids=str)
def test_every_shape_and_indexing_primitive_has_a_vmap_rule(prim):
    assert prim.has_rule("vmap")


# -- views ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.bool_])
def test_broadcast_in_dim(dtype):
    for x_shape, shape, dims in [((3,), (2, 3), (1,)), ((3,), (3, 2), (0,)), ((1, 3), (4, 2, 3), (1, 2)),
                                 ((), (2, 3), ()), ((2, 1), (2, 5), (0, 1)), ((), (), ())]:
        check_all(sp.broadcast_in_dim_p, [data(x_shape, dtype)],
                  dict(shape=shape, broadcast_dimensions=dims))


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_reshape(dtype):
    for x_shape, new in [((2, 3), (3, 2)), ((2, 3), (6,)), ((2, 3), (1, 6, 1)), ((), (1, 1)),
                         ((1,), ()), ((2, 0), (0, 3))]:
        check_all(sp.reshape_p, [data(x_shape, dtype)], dict(new_sizes=new))


def test_transpose():
    for x_shape, perm in [((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (0, 1, 2)), ((2, 3), (1, 0)), ((), ())]:
        check_all(sp.transpose_p, [data(x_shape, np.int32)], dict(permutation=perm))
    check_all(sp.transpose_p, [data((2, 3, 4))], dict(permutation=(1, 2, 0)), size=4)


def test_squeeze_and_expand_dims():
    for dims in [(0,), (2,), (0, 2), ()]:
        check_all(sp.squeeze_p, [data((1, 3, 1))], dict(dimensions=dims))
    check_all(sp.squeeze_p, [data((1,), np.int64)], dict(dimensions=(0,)))
    for x_shape, dims in [((2, 3), (0,)), ((2, 3), (2,)), ((2, 3), (0, 3)), ((2, 3), (1, 2)),
                          ((), (0,)), ((), (0, 1))]:
        check_all(sp.expand_dims_p, [data(x_shape, np.int32)], dict(dimensions=dims))


def test_slice():
    for x_shape, start, limit, strides in [((5, 6), (1, 0), (4, 6), (1, 1)),
                                           ((5, 6), (0, 1), (5, 6), (2, 3)),
                                           ((5, 6), (2, 2), (2, 5), (1, 2)),
                                           ((7,), (6,), (7,), (4,)),
                                           ((), (), (), ())]:
        for dtype in (np.float64, np.uint8):
            check_all(sp.slice_p, [data(x_shape, dtype)],
                      dict(start_indices=start, limit_indices=limit, strides=strides))


def test_rev():
    for x_shape, dims in [((3, 4), (0,)), ((3, 4), (1,)), ((3, 4, 2), (0, 2)), ((3,), ()), ((), ())]:
        check_all(sp.rev_p, [data(x_shape, np.int32)], dict(dimensions=dims))


# -- data movement -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_])
def test_concatenate(dtype):
    check_all(sp.concatenate_p, [data((2, 3), dtype), data((4, 3), dtype)], dict(dimension=0))
    check_all(sp.concatenate_p, [data((2, 3), dtype), data((2, 1), dtype), data((2, 0), dtype)],
              dict(dimension=1))
    check_all(sp.concatenate_p, [data((5,), dtype)], dict(dimension=0))
    check_all(sp.concatenate_p, [data((2,), dtype), data((1,), dtype), data((3,), dtype)],
              dict(dimension=0), size=4)


@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_pad(dtype):
    for x_shape, config in [((4,), ((1, 2, 0),)),
                            ((4,), ((0, 0, 2),)),
                            ((3, 4), ((1, -1, 1), (-2, 3, 0))),
                            ((3, 4), ((0, 0, 0), (2, 0, 3))),
                            ((2, 0), ((1, 1, 0), (1, 2, 1))),
                            ((5,), ((-2, -3, 0),)),
                            ((), ())]:
        check_all(sp.pad_p, [data(x_shape, dtype), data((), dtype)], dict(padding_config=config))


def test_iota():
    params = dict(dtype=np.dtype(np.int32), shape=(2, 3), dimension=1)
    got = np.asarray(sp.iota_p.vmap(N, [], (), **params))
    expected = np.stack([sp.iota_p.impl(**params)] * N)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype
    ir = trace_to_ir(lambda: [sp.iota_p.vmap(N, [], (), **params)], [])
    assert ir.outputs[0].aval.shape == (N, 2, 3) and ir.outputs[0].aval.dtype == np.int32


def test_full():
    for fill_dtype, dtype, shape in [(np.float64, np.float64, (2, 3)), (np.int64, np.float32, (4,)),
                                     (np.float64, np.int32, ()), (np.int32, np.int32, (0, 2)),
                                     (np.float32, np.bool_, (2,))]:
        check_all(sp.full_p, [data((), fill_dtype)], dict(shape=shape, dtype=np.dtype(dtype)))


# -- gather, scatter_add, scatter ----------------------------------------------

# (operand shape, axes, index shape): indices range over [-3, size + 3), so
# negative and past-the-end indices are clamped (gather, oob="clip") or dropped.
GATHER_CASES = [
    ((5,), (0,), ()),
    ((5,), (0,), (4,)),
    ((4, 5, 6), (0,), (2,)),
    ((4, 5, 6), (1,), (2, 3)),
    ((4, 5, 6), (2,), ()),
    ((4, 5, 6), (0, 1), (3,)),
    ((4, 5, 6), (1, 2), (2, 2)),
    ((4, 5, 6), (0, 1, 2), (2,)),
    ((3, 4), (1,), (0,)),
]


def _index_specs(x_shape, axes, idx_shape, dtype=np.int64, slack=3):
    return [idx(idx_shape, -slack, x_shape[a] + slack, dtype) for a in axes]


def _gather_out_shape(x_shape, axes, idx_shape):
    return x_shape[:axes[0]] + idx_shape + x_shape[axes[-1] + 1:]


@pytest.mark.parametrize("x_shape, axes, idx_shape", GATHER_CASES)
def test_gather(x_shape, axes, idx_shape):
    for dtype in (np.float64, np.int32):
        check_all(sp.gather_p, [data(x_shape, dtype)] + _index_specs(x_shape, axes, idx_shape),
                  dict(axes=axes))


def test_gather_index_dtypes():
    specs = [data((4, 5, 6)), idx((2,), 0, 5, np.int32), idx((2,), 0, 6, np.uint8)]
    check_all(sp.gather_p, specs, dict(axes=(1, 2)), size=4)


@pytest.mark.parametrize("x_shape, axes, idx_shape", GATHER_CASES)
@pytest.mark.parametrize("oob", ["clip", "drop"])
def test_scatter_add(x_shape, axes, idx_shape, oob):
    u_shape = _gather_out_shape(x_shape, axes, idx_shape)
    for dtype in (np.float64, np.int64):
        # the narrow index range makes duplicate indices (summed) likely
        specs = [data(x_shape, dtype), data(u_shape, dtype)] + _index_specs(x_shape, axes, idx_shape)
        check_all(sp.scatter_add_p, specs, dict(axes=axes, oob=oob))


def test_scatter_add_duplicates():
    """Every update lands on one of two positions, many times over."""
    specs = [data((3, 4)), data((3, 6)), idx((6,), 1, 3)]
    check_all(sp.scatter_add_p, specs, dict(axes=(1,), oob="drop"), size=4)
    specs = [data((4, 5), np.int32), data((8,), np.int32), idx((8,), 0, 2), idx((8,), 3, 4)]
    check_all(sp.scatter_add_p, specs, dict(axes=(0, 1), oob="clip"))


@pytest.mark.parametrize("x_shape, axes, idx_shape", GATHER_CASES)
@pytest.mark.parametrize("combine", ["set", "mul", "min", "max"])
def test_scatter(x_shape, axes, idx_shape, combine):
    u_shape = _gather_out_shape(x_shape, axes, idx_shape)
    for oob, dtype in (("drop", np.float64), ("clip", np.int32)):
        specs = [data(x_shape, dtype), data(u_shape, dtype)] + _index_specs(x_shape, axes, idx_shape)
        check_all(sp.scatter_p, specs, dict(axes=axes, oob=oob, combine=combine))


@pytest.mark.parametrize("combine", ["set", "mul", "min", "max"])
def test_scatter_duplicates(combine):
    specs = [data((2, 5)), data((2, 7)), idx((7,), 0, 2)]
    check_all(sp.scatter_p, specs, dict(axes=(1,), oob="drop", combine=combine), size=4)


# -- dynamic_slice, dynamic_update_slice ----------------------------------------

# (operand shape, window sizes): starts range over [-3, size + 3) and are clamped.
WINDOW_CASES = [
    ((), ()),
    ((5,), (2,)),
    ((5,), (5,)),
    ((5,), (0,)),
    ((4, 5, 6), (2, 3, 1)),
    ((4, 5, 6), (4, 1, 6)),
    ((3, 4), (0, 2)),
]


def _start_specs(x_shape, dtype=np.int64):
    if np.dtype(dtype).kind == "u":
        return [idx((), 0, n + 4, dtype) for n in x_shape]
    return [idx((), -3, n + 4, dtype) for n in x_shape]


@pytest.mark.parametrize("x_shape, sizes", WINDOW_CASES)
def test_dynamic_slice(x_shape, sizes):
    for dtype, start_dtype in ((np.float64, np.int64), (np.int32, np.int32), (np.float32, np.uint8)):
        check_all(sp.dynamic_slice_p, [data(x_shape, dtype)] + _start_specs(x_shape, start_dtype),
                  dict(slice_sizes=sizes))


def test_dynamic_slice_mixed_start_dtypes():
    specs = [data((4, 5)), idx((), -200, 100, np.int8), idx((), 0, 2 ** 63, np.uint64)]
    check_all(sp.dynamic_slice_p, specs, dict(slice_sizes=(2, 3)), size=4)


@pytest.mark.parametrize("x_shape, sizes", WINDOW_CASES)
def test_dynamic_update_slice(x_shape, sizes):
    for dtype, start_dtype in ((np.float64, np.int64), (np.int32, np.int32), (np.float32, np.uint8)):
        specs = [data(x_shape, dtype), data(sizes, dtype)] + _start_specs(x_shape, start_dtype)
        check_all(sp.dynamic_update_slice_p, specs, {})


def test_dynamic_update_slice_mixed_start_dtypes():
    specs = [data((4, 5)), data((3, 2)), idx((), -128, 127, np.int8), idx((), 0, 2 ** 63, np.uint64)]
    check_all(sp.dynamic_update_slice_p, specs, {}, size=4)
