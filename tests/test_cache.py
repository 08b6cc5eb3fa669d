"""The disk cache (nbad/cache.py) and `nbad cache`: fresh-process behaviour in
subprocesses, each test with its own NBAD_CACHE_DIR under tmp_path."""
import glob
import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest
from cache_harness import SCRIPT, _entry_files, _env, _metas, populated, run_script, warm  # noqa: F401 (fixtures)

from nbad import cache, cache_trust, cli
from nbad.config import config

def test_second_process_hits(warm):
    r = run_script(warm)
    assert r["ok"] and r["hits"] == 1 and r["misses"] == 0 and r["warnings"] == []
    (meta,) = _metas(warm)
    assert meta["hits"] == 1 and meta["misses"] == 1 and meta["function"] == "selu"
    assert meta["avals"] == ["float64[101]"] and meta["target"] == "cpu"
    assert meta["kernels"] == r["disk"] and meta["compile_seconds"] > 0
    st = cache.stats(str(warm))
    assert st["programs"] == 1 and st["kernels"] == 1 and st["hit_rate"] == 0.5


@pytest.mark.parametrize("which, how", [("module", "garbage"), ("nbc", "garbage"),
                                        ("meta", "garbage"), ("nbc", "truncated")])
def test_corrupt_file_is_rebuilt_with_one_warning(warm, which, how):
    path = _entry_files(warm)[which]
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(b"\x80\x04garbage\xff{" * 7 if how == "garbage" else data[:len(data) // 2])
    r = run_script(warm)
    assert r["ok"], r
    assert len(r["warnings"]) == 1, r["warnings"]
    if which == "nbc":
        assert r["misses"] == 1  # recompiled
    if which == "module":  # rewritten; its machine code, signed for this very module, still loads
        assert r["hits"] == 1
    if how == "truncated":
        return
    # ... and the rebuilt entry is good: the next process hits, silently.
    r = run_script(warm)
    assert r["ok"] and r["hits"] == 1 and r["misses"] == 0 and r["warnings"] == [], r
    _entry_files(warm)


def test_tampered_module_is_not_imported(warm, tmp_path):
    path = _entry_files(warm)["module"]
    marker = tmp_path / "imported"
    text = open(path).read()
    with open(path, "w") as f:
        f.write(f"open({str(marker)!r}, 'w').write('tampered')\n" + text)
    r = run_script(warm)
    assert r["ok"] and len(r["warnings"]) == 1 and "does not match its hash" in r["warnings"][0]
    assert not marker.exists()
    data = open(path, "rb").read()
    assert "k_" + hashlib.sha256(data).hexdigest() == os.path.basename(path)[:-3]


def test_two_processes_racing_on_one_key(tmp_path):
    d = tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, "selu"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(d)) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        r = json.loads(out.strip().splitlines()[-1])
        assert r["ok"] and r["warnings"] == []
    _entry_files(d)  # exactly one module, machine-code file and meta.json
    r = run_script(d)
    assert r["ok"] and r["hits"] == 1 and r["misses"] == 0 and r["warnings"] == []
    assert not glob.glob(os.path.join(d, "**", "*.tmp*"), recursive=True)


def test_eviction_under_a_small_limit(tmp_path):
    d = tmp_path / "cache"
    run_script(d, "selu")
    one = cache.total_bytes(str(d))
    limit = int(2.5 * one)
    r = run_script(d, "poly,softmax,cube", NBAD_CACHE_MAX_BYTES=str(limit))
    assert r["ok"] and r["warnings"] == []
    assert cache.total_bytes(str(d)) <= limit
    left = {m["function"] for m in _metas(d)}
    assert "cube" in left and "selu" not in left  # least recently used goes first
    cube = [m for m in _metas(d) if m["function"] == "cube"][0]
    assert all(os.path.exists(os.path.join(d, "kernels", k + ".py")) for k in cube["kernels"])


def test_cache_off_writes_nothing(tmp_path):
    d = tmp_path / "cache"
    r = run_script(d, NBAD_CACHE="0")
    assert r["ok"] and r["disk"] == [None] and r["warnings"] == []
    assert not d.exists()


def test_new_cache_dir_is_private(tmp_path, monkeypatch):
    d = tmp_path / "a" / "b"
    monkeypatch.setattr(os, "umask", os.umask)  # restore whatever we change
    old = os.umask(0o022)
    try:
        cache_trust.makedirs_private(str(d / "kernels"))
    finally:
        os.umask(old)
    for p in (tmp_path / "a", d, d / "kernels"):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o700, p
    r = run_script(tmp_path / "fresh")
    assert r["ok"]
    for p in [tmp_path / "fresh"] + [p for p in (tmp_path / "fresh").rglob("*") if p.is_dir()]:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o700, p


# -- the CLI, in process on a populated and an empty cache, and once as a user runs it --

@pytest.fixture
def use_dir(monkeypatch):
    def use(d):
        monkeypatch.setitem(config._values, "cache_dir", str(d))
        return d
    return use


def _cli(capsys, *argv):
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_on_populated_cache(warm, use_dir, capsys):
    use_dir(warm)
    (meta,) = _metas(warm)
    key = meta["key"]
    rc, out, _ = _cli(capsys, "cache", "dir")
    assert rc == 0 and out.strip() == str(warm)
    rc, out, _ = _cli(capsys, "cache", "list", "--sort", "size")
    assert rc == 0 and key[:12] in out and "selu" in out and "float64[101]" in out and "cpu" in out
    for col in ("KEY", "FUNCTION", "ARGUMENTS", "TARGET", "SIZE", "COMPILE", "HITS", "LAST USED"):
        assert col in out
    rc, out, _ = _cli(capsys, "cache", "show", key[:6])
    assert rc == 0 and key in out and "# IR" in out and "func @selu" in out
    assert "def program(" in out and "def kernel(" in out and "kernel = _numba.njit(" in out
    rc, out, _ = _cli(capsys, "cache", "stats")
    assert rc == 0 and "programs            1" in out and "hit rate" in out
    assert "compile time saved" in out
    rc, out, _ = _cli(capsys, "cache", "clear", "--older-than", "1")
    assert rc == 0 and "removed 0 program(s), 0 kernel(s)" in out
    rc, out, _ = _cli(capsys, "cache", "clear", "--function", "not_there")
    assert rc == 0 and "removed 0 program(s)" in out
    rc, out, _ = _cli(capsys, "cache", "clear", "--function", "selu")
    assert rc == 0 and "removed 1 program(s), 1 kernel(s)" in out
    assert cache.total_bytes(str(warm)) == 0


def test_cli_on_empty_cache(tmp_path, use_dir, capsys):
    d = use_dir(tmp_path / "nothing")
    rc, out, _ = _cli(capsys, "cache", "list")
    assert rc == 0 and "cache is empty" in out
    rc, out, err = _cli(capsys, "cache", "show", "abc")
    assert rc == 1 and "no cache entry" in err
    rc, out, _ = _cli(capsys, "cache", "stats")
    assert rc == 0 and "programs            0" in out and "hit rate            -" in out
    rc, out, _ = _cli(capsys, "cache", "clear")
    assert rc == 0 and "removed 0 program(s)" in out
    rc, out, _ = _cli(capsys, "cache", "dir")
    assert rc == 0 and out.strip() == str(d)


def test_cli_key_prefixes_resolve_like_git(tmp_path, use_dir, capsys):
    d = use_dir(tmp_path / "c")
    for key in ("ab12" + "0" * 60, "ab34" + "0" * 60):
        os.makedirs(d / "programs" / key)
        (d / "programs" / key / "meta.json").write_text(json.dumps(
            {"format": cache.FORMAT, "key": key, "function": "f", "avals": [], "hits": 0}))
    rc, out, err = _cli(capsys, "cache", "show", "ab")
    assert rc == 1 and "ambiguous" in err and "ab1200000000" in err and "ab3400000000" in err
    rc, out, err = _cli(capsys, "cache", "show", "AB3")
    assert rc == 0 and "ab34" + "0" * 60 in out
    (d / "programs" / ("ab12" + "0" * 60) / "meta.json").write_text("{broken")
    rc, out, _ = _cli(capsys, "cache", "list")
    assert rc == 0 and "unreadable" in out


def test_cli_subprocess(warm):
    proc = subprocess.run([sys.executable, "-m", "nbad", "cache", "list"], capture_output=True,
                          text=True, timeout=120, env=_env(warm))
    assert proc.returncode == 0 and "selu" in proc.stdout, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "nbad", "cache"], capture_output=True,
                          text=True, timeout=120, env=_env(warm))
    assert proc.returncode == 2 and "list" in proc.stdout
