"""Large result buffers reused between calls of a program (driver.py), within
a budget.

A fresh multi-megabyte array costs a page fault per 4 KiB on first touch (SELU
on 10^7 values: 21 ms with huge pages, 51 ms without, 12 ms reusing a buffer),
so a program keeps the buffers of its large results and reuses one once the
caller has dropped it. A buffer is reused only when nothing else refers to it:
the Array returned, and any view of it, holds a reference to the buffer
(NumPy's base), so sys.getrefcount tells.

What is kept is bounded: at most KEEP buffers per result, PROGRAM_MAX_BYTES per
program (one jitted function at one signature) and PROCESS_MAX_BYTES in all;
over a bound, the buffer given back longest ago is let go first. Kept buffers
belong to their program: when the jitted function (and so the program) is
dropped, they are freed with it and leave the process's count.
"""
from __future__ import annotations

import itertools
import sys
import threading
import weakref
from collections import OrderedDict

import numpy as np

PROGRAM_MAX_BYTES = 256 << 20
PROCESS_MAX_BYTES = 512 << 20

_lock = threading.Lock()
# every kept buffer, given back longest ago first:
# (recycler serial, id(buffer)) -> (weakref to its Recycler, bytes, its ProgramBudget)
_kept: OrderedDict = OrderedDict()
_held = [0]                      # bytes in _kept
_dead: list = []                 # serials of Recyclers freed since the last purge
_serials = itertools.count()


class ProgramBudget:
    """The bytes one program's recyclers keep."""

    __slots__ = ("held",)

    def __init__(self):
        self.held = 0


def held_bytes() -> int:
    """Bytes of result buffers kept for reuse in this process."""
    with _lock:
        _purge()
        return _held[0]


def _purge():
    """Forget the buffers of recyclers freed since (their programs were dropped)."""
    if not _dead:
        return
    dead = set()
    while _dead:
        dead.add(_dead.pop())
    for key in [k for k in _kept if k[0] in dead]:
        _, nbytes, budget = _kept.pop(key)
        _held[0] -= nbytes
        budget.held -= nbytes


def _let_go(key):
    ref, nbytes, budget = _kept.pop(key)
    _held[0] -= nbytes
    budget.held -= nbytes
    recycler = ref()
    if recycler is not None:
        kept = recycler.kept
        for i in range(len(kept)):
            if id(kept[i]) == key[1]:
                del kept[i]
                break


class Recycler:
    """The kept buffers of one large result of a program."""

    __slots__ = ("shape", "dtype", "nbytes", "kept", "budget", "serial", "ref", "__weakref__")
    KEEP = 2

    def __init__(self, shape, dtype, budget: ProgramBudget):
        self.shape, self.dtype, self.kept, self.budget = shape, dtype, [], budget
        self.nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        self.serial = serial = next(_serials)
        # list.append is safe from a gc callback; the lock might be held then
        self.ref = weakref.ref(self, lambda _, serial=serial: _dead.append(serial))

    def take(self):
        with _lock:
            kept = self.kept
            for i in range(len(kept)):
                buf = kept[i]
                if sys.getrefcount(buf) == 3:  # the list, `buf` and the argument: free
                    del kept[i]
                    _, nbytes, budget = _kept.pop((self.serial, id(buf)))
                    _held[0] -= nbytes
                    budget.held -= nbytes
                    return buf
        return np.empty(self.shape, self.dtype)

    def give(self, buf):
        with _lock:
            _purge()
            self.kept.append(buf)
            _kept[(self.serial, id(buf))] = (self.ref, self.nbytes, self.budget)
            _held[0] += self.nbytes
            self.budget.held += self.nbytes
            if len(self.kept) > self.KEEP:
                _let_go((self.serial, id(self.kept[0])))
            if self.budget.held > PROGRAM_MAX_BYTES:
                for key in [k for k, v in _kept.items() if v[2] is self.budget]:
                    if self.budget.held <= PROGRAM_MAX_BYTES:
                        break
                    _let_go(key)
            while _held[0] > PROCESS_MAX_BYTES:
                _let_go(next(iter(_kept)))
