"""Large buffers a program keeps between calls (driver.py), within a budget.

A fresh multi-megabyte array costs a page fault per 4 KiB on first touch (SELU
on 10^7 values: 21 ms with huge pages, 51 ms without, 12 ms reusing a buffer),
so a program keeps
- the buffers of its large results (`Recycler`), and reuses one once the caller
  has dropped it: nothing else refers to it then (the Array returned, and any
  view of it, holds a reference to the buffer, NumPy's base), which
  sys.getrefcount tells;
- its sets of intermediate buffers (`PoolKeeper`), one per concurrent call.

What is kept is bounded: at most Recycler.KEEP buffers per result,
PROGRAM_MAX_BYTES of results per program (one jitted function at one
signature) and PROCESS_MAX_BYTES of both in all. Over a bound, what was given
back longest ago is let go first, but never what the call that just ended gave
back (the next call of a program larger than the bound still reuses its
buffers). Kept buffers belong to their program: when the jitted function, and
so the program, is dropped they are freed with it (by reference counting: the
driver holds no cycle, driver.build_program) and leave the count.
"""
from __future__ import annotations

import itertools
import sys
import threading
import weakref
from collections import OrderedDict

import numpy as np

RECYCLE_MIN_BYTES = 1 << 20  # results this large reuse a buffer the caller has dropped
PROGRAM_MAX_BYTES = 256 << 20
PROCESS_MAX_BYTES = 512 << 20

_lock = threading.Lock()
# everything kept, given back longest ago first:
# (keeper serial, id(item)) -> (weakref to its keeper, bytes, its ProgramBudget or None)
_kept: OrderedDict = OrderedDict()
_held = [0]                      # bytes in _kept
_dead: list = []                 # serials of keepers freed since the last purge
_serials = itertools.count()


class ProgramBudget:
    """The bytes of results one program keeps."""

    __slots__ = ("held",)

    def __init__(self):
        self.held = 0


def held_bytes() -> int:
    """Bytes of buffers kept for reuse in this process."""
    with _lock:
        _purge()
        return _held[0]


def _purge():
    """Forget what keepers freed since then (their programs were dropped) kept."""
    if not _dead:
        return
    dead = set()
    while _dead:
        dead.add(_dead.pop())
    for key in [k for k in _kept if k[0] in dead]:
        _forget(key)


def _forget(key):
    ref, nbytes, budget = _kept.pop(key)
    _held[0] -= nbytes
    if budget is not None:
        budget.held -= nbytes
    return ref


def _let_go(key):
    keeper = _forget(key)()
    if keeper is not None:
        kept = keeper.kept
        for i in range(len(kept)):
            if id(kept[i]) == key[1]:
                del kept[i]
                break


class _Keeper:
    __slots__ = ("kept", "budget", "serial", "ref", "__weakref__")

    def __init__(self, budget):
        self.kept, self.budget = [], budget
        self.serial = serial = next(_serials)
        # list.append is safe from a gc callback; the lock might be held then
        self.ref = weakref.ref(self, lambda _, serial=serial: _dead.append(serial))

    def _keep(self, item, nbytes):
        """Keep `item` (under _lock), then enforce the bounds."""
        _purge()
        self.kept.append(item)
        newest = (self.serial, id(item))
        _kept[newest] = (self.ref, nbytes, self.budget)
        _held[0] += nbytes
        budget = self.budget
        if budget is not None:
            budget.held += nbytes
        if budget is not None and budget.held > PROGRAM_MAX_BYTES:
            for key in [k for k, v in _kept.items() if v[2] is budget and k != newest]:
                if budget.held <= PROGRAM_MAX_BYTES:
                    break
                _let_go(key)
        if _held[0] > PROCESS_MAX_BYTES:
            for key in [k for k in _kept if k != newest]:
                if _held[0] <= PROCESS_MAX_BYTES:
                    break
                _let_go(key)


class Recycler(_Keeper):
    """The kept buffers of one large result of a program."""

    __slots__ = ("shape", "dtype", "nbytes")
    KEEP = 2

    def __init__(self, shape, dtype, budget: ProgramBudget):
        super().__init__(budget)
        self.shape, self.dtype = shape, dtype
        self.nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize

    def take(self):
        with _lock:
            kept = self.kept
            for i in range(len(kept)):
                buf = kept[i]
                if sys.getrefcount(buf) == 3:  # the list, `buf` and the argument: free
                    del kept[i]
                    _forget((self.serial, id(buf)))
                    return buf
        return np.empty(self.shape, self.dtype)

    def give(self, buf):
        with _lock:
            self._keep(buf, self.nbytes)
            if len(self.kept) > self.KEEP:
                _let_go((self.serial, id(self.kept[0])))


class PoolKeeper(_Keeper):
    """The kept sets of intermediate buffers of one program: a call takes one
    (None: it allocates its own) and gives it back when it returns."""

    __slots__ = ()

    def __init__(self):
        super().__init__(None)

    def take(self):
        with _lock:
            if not self.kept:
                return None
            pool = self.kept.pop()
            _forget((self.serial, id(pool)))
            return pool

    def give(self, pool):
        with _lock:
            self._keep(pool, sum(b.nbytes for b in pool))
