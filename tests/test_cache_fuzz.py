"""A fuzz test of the disk cache (issue 14): between two runs (fresh processes),
random corruption, truncation, swapping, replacement and removal of the
cache's files; the second run gives the first run's exact results every time,
and no planted pickle ever runs. Few examples: each one is a subprocess."""
import glob
import os
import pickle
import shutil
import tempfile

import pytest
from cache_harness import run_script, two_kernels  # noqa: F401 (fixture)

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('foreign code ran')",))


def _cache_files(d):
    """nbad's files, in a fixed order: kernel modules, machine code, program records."""
    return (sorted(glob.glob(os.path.join(d, "kernels", "k_*.py")))
            + sorted(glob.glob(os.path.join(d, "kernels", "__pycache__", "*.nbc")))
            + sorted(glob.glob(os.path.join(d, "programs", "*", "meta.json"))))


OPS = ["flip", "truncate", "swap", "replace-random", "replace-pickle", "replace-other",
       "delete", "append"]

operation = st.tuples(st.sampled_from(OPS), st.integers(0, 5), st.integers(0, 5),
                      st.integers(0, 2 ** 32 - 1))


def _apply(files, op, i, j, seed, marker):
    path, other = files[i % len(files)], files[j % len(files)]
    if not os.path.exists(path):
        return
    data = open(path, "rb").read()
    if op == "flip":
        k = seed % max(len(data), 1)
        data = data[:k] + bytes([data[k] ^ (1 << (seed % 8))]) + data[k + 1:] if data else b"x"
    elif op == "truncate":
        data = data[:seed % max(len(data), 1)]
    elif op == "swap" and os.path.exists(other):
        theirs = open(other, "rb").read()
        with open(other, "wb") as f:
            f.write(data)
        data = theirs
    elif op == "replace-random":
        data = seed.to_bytes(4, "little") * (1 + seed % 64)
    elif op == "replace-pickle":
        data = pickle.dumps(_Exploit(marker))
        if path.endswith(".nbc"):  # nbad's header and a forged signature, then the pickle
            data = b"NBADNBC1" + seed.to_bytes(4, "little") * 8 + data
    elif op == "replace-other" and os.path.exists(other):
        data = open(other, "rb").read()
    elif op == "delete":
        os.unlink(path)
        return
    elif op == "append":
        data = data + b"\0trailing"
    with open(path, "wb") as f:
        f.write(data)


@settings(max_examples=3, deadline=None)
@given(ops=st.lists(operation, min_size=1, max_size=3))
@example(ops=[("swap", 2, 3, 0)])  # the two kernels' machine code exchanged
@example(ops=[("replace-pickle", 2, 0, 7), ("replace-other", 3, 0, 0), ("swap", 0, 1, 0)])
def test_damaged_cache_gives_the_same_results(two_kernels, ops):  # noqa: F811
    populated, first = two_kernels
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "cache")
        shutil.copytree(populated, d)
        marker = os.path.join(tmp, "marker")
        files = _cache_files(d)
        assert len(files) == 6
        for op, i, j, seed in ops:
            _apply(files, op, i, j, seed, marker)
        r = run_script(d, "poly,cube")
        assert not os.path.exists(marker)
        assert r["ok"] and r["results"] == first["results"], (ops, r)
