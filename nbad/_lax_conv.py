"""lax.conv_general_dilated (and lax.conv, conv_with_general_padding) as a
composition: pad, gather the windows, contract with the kernel.

With lhs (N, C, *spatial) and rhs (O, I, *window) in canonical order:

  1. lax.pad gives every spatial dim its (low, high) padding, and lhs_dilation
     as interior padding (a transposed convolution's zeros);
  2. per spatial dim, a take with the constant index table
     o * stride + k * rhs_dilation (outputs x window) turns the dim into
     (output, window) — the im2col patches, as views and gathers;
  3. one einsum contracts the channels and the window positions with the
     kernel, per feature group.

Every step is an nbad operation, so derivatives (the transposed convolutions)
and vmap come from the pieces' rules. Patches cost memory N*C*prod(out*window).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from nbad.errors import NbadValueError, ShapeError
from nbad.numpy._core import aval_of

ConvDimensionNumbers = namedtuple("ConvDimensionNumbers", ["lhs_spec", "rhs_spec", "out_spec"])

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers):
    """ConvDimensionNumbers of (None | ConvDimensionNumbers | (lhs, rhs, out) strings)."""
    nd = len(lhs_shape)
    if dimension_numbers is None:
        canonical = tuple(range(nd))
        return ConvDimensionNumbers(canonical, canonical, canonical)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return dimension_numbers
    lhs, rhs, out = dimension_numbers
    if isinstance(lhs, str):
        # spatial dims are matched by letter, in the order the rhs string lists them
        spatial = [ch for ch in rhs if ch not in "OI"]
        for text in (lhs, out):
            if sorted(ch for ch in text if ch not in "NC") != sorted(spatial):
                raise NbadValueError(f"conv: dimension_numbers {dimension_numbers!r} name different "
                                     "spatial dimensions")

        def spec(text, first, second):
            return (text.index(first), text.index(second), *[text.index(ch) for ch in spatial])

        return ConvDimensionNumbers(spec(lhs, "N", "C"), spec(rhs, "O", "I"), spec(out, "N", "C"))
    return ConvDimensionNumbers(tuple(lhs), tuple(rhs), tuple(out))


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """(low, high) per spatial dim for 'SAME', 'SAME_LOWER' or 'VALID'."""
    padding = padding.upper()
    if padding == "VALID":
        return [(0, 0)] * len(in_shape)
    if padding not in ("SAME", "SAME_LOWER"):
        raise NbadValueError(f"conv: unknown padding {padding!r}; use 'SAME', 'SAME_LOWER', 'VALID' "
                             "or a sequence of (low, high) pairs")
    pads = []
    for size, window, stride in zip(in_shape, window_shape, window_strides):
        out = -(-size // stride)
        total = max((out - 1) * stride + window - size, 0)
        low = total // 2 if padding == "SAME" else total - total // 2
        pads.append((low, total - low))
    return pads


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                         precision=None, preferred_element_type=None):
    import nbad.numpy as jnp
    from nbad._lax_ops import _operands, pad
    from nbad.numpy._indexing import take

    lhs, rhs = _operands("conv_general_dilated", lhs, rhs, elementwise=False)
    if batch_group_count != 1:
        raise NbadValueError("conv_general_dilated: batch_group_count other than 1 is not supported by nbad")
    lhs_shape, rhs_shape = aval_of(lhs).shape, aval_of(rhs).shape
    if len(lhs_shape) != len(rhs_shape) or len(lhs_shape) < 3:
        raise ShapeError(f"conv_general_dilated: lhs and rhs need the same rank >= 3, got shapes "
                         f"{lhs_shape} and {rhs_shape}")
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    lhs = jnp.transpose(lhs, dn.lhs_spec)                    # (N, C, *spatial)
    rhs = jnp.transpose(rhs, dn.rhs_spec)                    # (O, I, *window)
    n, c, *spatial = aval_of(lhs).shape
    o, i, *window = aval_of(rhs).shape
    nsp = len(spatial)
    strides = tuple(window_strides)
    lhs_dil = (1,) * nsp if lhs_dilation is None else tuple(lhs_dilation)
    rhs_dil = (1,) * nsp if rhs_dilation is None else tuple(rhs_dilation)
    if not len(strides) == len(lhs_dil) == len(rhs_dil) == nsp:
        raise ShapeError(f"conv_general_dilated: window_strides, lhs_dilation and rhs_dilation need "
                         f"{nsp} entries (one per spatial dimension)")
    groups = int(feature_group_count)
    if c != i * groups or o % groups:
        raise ShapeError(f"conv_general_dilated: lhs has {c} features and rhs {i} input features per "
                         f"group with feature_group_count={groups}; need {i} * {groups} == {c} and "
                         f"{o} output features divisible by {groups}")
    dilated_in = [(s - 1) * d + 1 if s else 0 for s, d in zip(spatial, lhs_dil)]
    dilated_window = [(w - 1) * d + 1 for w, d in zip(window, rhs_dil)]
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dil):
            raise NbadValueError("conv_general_dilated: string padding is not implemented for "
                                 "transposed convolution (lhs_dilation); give the (low, high) "
                                 "padding of each spatial dimension, as JAX requires")
        pads = padtype_to_pads(dilated_in, dilated_window, strides, padding)
    else:
        pads = [tuple(int(v) for v in p) for p in padding]
    config = [(0, 0, 0), (0, 0, 0)] + [(lo, hi, d - 1) for (lo, hi), d in zip(pads, lhs_dil)]
    zero = np.zeros((), aval_of(lhs).dtype)
    x = pad(lhs, zero, config) if any(any(v) for v in config) else lhs
    out_sizes = []
    axis = 2
    for d in range(nsp):
        size = aval_of(x).shape[axis]
        out = max((size - dilated_window[d]) // strides[d] + 1, 0)
        out_sizes.append(out)
        index = np.arange(out)[:, None] * strides[d] + np.arange(window[d])[None, :] * rhs_dil[d]
        x = take(x, index, axis=axis)                        # (..., out_d, window_d, ...)
        axis += 2
    # x: (N, C, out_1, w_1, ..., out_k, w_k); contract C (per group) and the w's with rhs.
    x = jnp.reshape(x, (n, groups, i) + aval_of(x).shape[2:])
    kernel = jnp.reshape(rhs, (groups, o // groups, i) + tuple(window))
    outs = [_LETTERS[2 * d + 5] for d in range(nsp)]
    wins = [_LETTERS[2 * d + 6] for d in range(nsp)]
    lhs_sub = "abc" + "".join(a + b for a, b in zip(outs, wins))
    rhs_sub = "bdc" + "".join(wins)
    result = jnp.einsum(f"{lhs_sub},{rhs_sub}->abd{''.join(outs)}", x, kernel)
    result = jnp.reshape(result, (n, o) + tuple(out_sizes))
    result = jnp.transpose(result, tuple(int(k) for k in np.argsort(dn.out_spec)))
    if preferred_element_type is not None:
        result = result.astype(np.dtype(preferred_element_type))
    return result


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """conv_general_dilated with NCHW/OIHW layouts and no dilation."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                precision=precision, preferred_element_type=preferred_element_type)
