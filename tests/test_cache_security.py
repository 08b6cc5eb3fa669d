"""Cache security (issue 14): foreign code never runs from the disk cache, a
swapped or planted machine-code file never produces a result, and a cache
directory another user can write is refused. Each case runs a fresh process
on a cache prepared as an attacker (or an accident) would leave it."""
import glob
import os
import pickle
import shutil
import stat
import subprocess
import sys

import pytest
from cache_harness import (_entry_files, _env, populated, run_script, two_kernels, warm,  # noqa: F401
                           warm2)

from nbad import cache, cache_trust, numba_cache

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


class _Exploit:
    """Unpickling this writes `marker`: what a planted cache file would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('foreign code ran')",))


def _exploit(marker) -> bytes:
    return pickle.dumps(_Exploit(marker))


def _nbc_files(d):
    return sorted(glob.glob(os.path.join(d, "kernels", "__pycache__", "*.nbc")))


def test_planted_pickles_never_run(warm2, tmp_path):
    """Every file of the kernel's machine-code cache replaced by an exploit: as
    nbad's signed format with a forged signature, as a bare pickle, and as the
    index file Numba's own cache=True would unpickle first."""
    marker = tmp_path / "marker"
    first, second = _nbc_files(warm2)
    with open(first, "wb") as f:
        f.write(numba_cache.MAGIC + b"\0" * 32 + _exploit(marker))
    with open(second, "wb") as f:
        f.write(_exploit(marker))
    for nbc in (first, second):  # Numba's index name for the kernel: <base>.nbi
        with open(nbc.rsplit(".", 2)[0] + ".nbi", "wb") as f:
            f.write(pickle.dumps("0.68.1") + _exploit(marker))
    r = run_script(warm2, "poly,cube")
    assert not marker.exists()
    assert r["ok"] and r["misses"] == 2, r
    assert len(r["warnings"]) == 2 and all("not loaded, deleted, recompiling" in w
                                           for w in r["warnings"]), r["warnings"]
    r = run_script(warm2, "poly,cube")  # rebuilt: the next process loads both, silently
    assert not marker.exists()
    assert r["ok"] and r["hits"] == 2 and r["misses"] == 0 and r["warnings"] == [], r


def test_swapped_machine_code_gives_right_results(warm2, two_kernels):
    first, second = _nbc_files(warm2)
    a, b = open(first, "rb").read(), open(second, "rb").read()
    open(first, "wb").write(b)
    open(second, "wb").write(a)
    r = run_script(warm2, "poly,cube")
    assert r["ok"] and r["results"] == two_kernels[1]["results"] and r["misses"] == 2, r


def test_copy_of_own_file_under_a_new_name_is_rejected(warm2, two_kernels):
    """The signature binds a file to its name: kernel A's genuine file copied
    over kernel B's is B's code no more."""
    first, second = _nbc_files(warm2)
    shutil.copyfile(first, second)
    r = run_script(warm2, "poly,cube")
    assert r["ok"] and r["results"] == two_kernels[1]["results"] and r["misses"] == 1, r


def test_numba_internals_are_what_numba_cache_expects():
    numba_cache.check_numba_internals()


def test_numba_internals_check_fails_loudly(monkeypatch):
    from numba.core import caching

    monkeypatch.delattr(caching.Cache, "_load_overload")
    with pytest.raises(AssertionError, match="Cache._load_overload is gone"):
        numba_cache.check_numba_internals()


# -- the trust model -------------------------------------------------------------------------

def _modes(d):
    return {str(p.relative_to(d)): stat.S_IMODE(os.lstat(p).st_mode) for p in d.rglob("*")}


def _run_with_umask(umask, *args):
    old = os.umask(umask)  # the child process inherits it
    try:
        return run_script(*args)
    finally:
        os.umask(old)


def _all_private(d):
    for name, mode in _modes(d).items():
        assert mode == (0o700 if (d / name).is_dir() else 0o600), (name, oct(mode))


def test_own_world_writable_directory_is_tightened(warm):
    """A cache directory of the user's left 0777 with 0666 files (umask 000):
    nbad makes it 0700/0600 and uses it."""
    os.chmod(warm, 0o777)
    for p in warm.rglob("*"):
        os.chmod(p, 0o777 if p.is_dir() else 0o666)
    r = _run_with_umask(0, warm)
    assert r["ok"] and r["hits"] == 1 and r["warnings"] == [], r
    assert stat.S_IMODE(os.stat(warm).st_mode) == 0o700
    _all_private(warm)


def test_new_files_are_private_under_umask_000(tmp_path):
    d = tmp_path / "cache"
    r = _run_with_umask(0, d, "poly")
    assert r["ok"] and r["warnings"] == [] and r["disk"] != [None]
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    _all_private(d)


@pytest.mark.skipif(not ROOT_USER, reason="making a directory of another user needs root")
@pytest.mark.parametrize("owned_by_other", ["root", "kernels/__pycache__"])
def test_directory_of_another_user_is_refused(warm, tmp_path, owned_by_other):
    """A shared 0777 directory another user made (NBAD_CACHE_DIR=/tmp/nbad-cache)
    and planted a pickle in: one warning, cache off, the pickle never loaded."""
    marker = tmp_path / "marker"
    nbc = _entry_files(warm)["nbc"]
    with open(nbc, "wb") as f:
        f.write(_exploit(marker))
    target = warm if owned_by_other == "root" else warm / owned_by_other
    os.chmod(target, 0o777)
    os.chown(target, 12345, 12345)
    before = _modes(warm)
    r = run_script(warm)
    assert not marker.exists()
    assert r["ok"] and r["disk"] == [None] and r["hits"] == 0, r
    assert len(r["warnings"]) == 1 and "owned by uid 12345" in r["warnings"][0], r["warnings"]
    assert "not using the disk cache" in r["warnings"][0]
    assert _modes(warm) == before  # nothing written, nothing fixed in a directory not ours
    assert "owned by uid 12345" in cache.stats(str(warm))["trust"]  # `nbad cache stats` says so


def test_world_writable_parent_is_refused(tmp_path):
    parent = tmp_path / "shared"
    parent.mkdir()
    os.chmod(parent, 0o777)  # no sticky bit: anyone could swap the cache directory
    r = run_script(parent / "cache")
    assert r["ok"] and r["disk"] == [None], r
    assert len(r["warnings"]) == 1 and "writable by everyone" in r["warnings"][0]
    os.chmod(parent, 0o1777)  # /tmp-like: fine
    assert cache_trust.check_root(str(parent / "cache2"), ("kernels",)) is None


@pytest.mark.skipif(not ROOT_USER, reason="making a file of another user needs root")
def test_file_of_another_user_is_not_read(warm, tmp_path):
    nbc = _entry_files(warm)["nbc"]
    os.chown(nbc, 12345, 12345)
    r = run_script(warm)
    assert r["ok"] and r["misses"] == 1 and len(r["warnings"]) == 1, r
    assert "owned by uid 12345" in r["warnings"][0]


def test_symlinked_machine_code_is_not_followed(warm, tmp_path):
    nbc = _entry_files(warm)["nbc"]
    elsewhere = tmp_path / "elsewhere.nbc"
    shutil.move(nbc, elsewhere)
    os.symlink(elsewhere, nbc)
    r = run_script(warm)
    assert r["ok"] and r["misses"] == 1 and len(r["warnings"]) == 1, r
    assert elsewhere.exists()  # the link's target is not nbad's to delete


def test_check_root_reports_without_creating(tmp_path):
    assert cache_trust.check_root(str(tmp_path / "none"), ("kernels",), create=False) is None
    assert not (tmp_path / "none").exists()
    (tmp_path / "f").write_text("x")
    assert "not a directory" in cache_trust.check_root(str(tmp_path / "f"), ())


def test_machine_code_stays_in_the_checked_cache_with_numba_cache_dir_set(tmp_path):
    """NUMBA_CACHE_DIR would send Numba's own files elsewhere: nbad keeps the
    machine code of its kernels in its cache, where it checks it."""
    d, numba_dir = tmp_path / "cache", tmp_path / "numba"
    r = run_script(d, NUMBA_CACHE_DIR=str(numba_dir))
    assert r["ok"] and r["misses"] == 1 and r["warnings"] == [], r
    _entry_files(d)
    r = run_script(d, NUMBA_CACHE_DIR=str(numba_dir))
    assert r["ok"] and r["hits"] == 1 and r["warnings"] == [], r
    assert not [p for p in numba_dir.rglob("*") if p.is_file()]


def test_cache_removed_while_running_is_recreated_private(tmp_path):
    script = ("import shutil, sys, warnings, numpy as np, nbad, nbad.numpy as jnp\n"
              "warnings.simplefilter('error', nbad.cache.NbadCacheWarning)\n"
              "nbad.jit(jnp.sin)(np.ones(3))\n"
              "shutil.rmtree(sys.argv[1])\n"
              "assert np.allclose(nbad.jit(jnp.cos)(np.ones(3)), np.cos(1.0))\n")
    d = tmp_path / "cache"
    proc = subprocess.run([sys.executable, "-c", script, str(d)], capture_output=True, text=True,
                          timeout=300, env=_env(d))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(glob.glob(os.path.join(d, "kernels", "k_*.py"))) == 1
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


def test_recompile_replaces_the_saved_machine_code(tmp_path, monkeypatch):
    """Dispatcher.recompile flushes the cache: the kernel compiles afresh
    instead of loading what it saved."""
    from nbad.config import config

    monkeypatch.setitem(config._values, "cache_dir", str(tmp_path / "cache"))
    d, name = cache.kernel_dispatcher("def kernel(x):\n    return x + 1\n", "nogil=True")
    assert d(1) == 2
    (path,) = cache._signed[name].paths()
    d.recompile()
    assert d(2) == 3 and sum(d.stats.cache_misses.values()) == 2  # compiled, not loaded
    assert sum(d.stats.cache_hits.values()) == 0 and os.path.exists(path)  # and saved again
