"""The disk cache's destructive operations and its crash cases (issue 14): nbad
deletes only its own files, and neither a run nor `nbad cache` crashes on a
cache in a strange state (a directory where a file belongs, malformed
meta.json fields, paths that point outside the cache)."""
import json
import os
import shutil

import pytest
from cache_harness import _entry_files, _metas, populated, run_script, warm  # noqa: F401 (fixtures)

from nbad import cache, cli
from nbad.config import config


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


# -- only nbad's files are deleted -------------------------------------------------------

def _plant_user_files(d, outside):
    """A user's files where NBAD_CACHE_DIR points at a project folder."""
    (d / "programs" / "my_thesis").mkdir(parents=True)
    (d / "programs" / "my_thesis" / "ch1.tex").write_text("\\chapter{One}")
    key_dir = next(p for p in (d / "programs").iterdir() if p.name != "my_thesis")
    (key_dir / "notes.txt").write_text("mine")
    (d / "kernels" / "README.md").write_text("mine")
    (d / "kernels" / "__pycache__" / "other.nbc").write_bytes(b"mine")
    (d / "ch1.tex").write_text("mine")
    outside.write_text("mine")
    os.symlink(outside, d / "kernels" / ("k_" + "0" * 64 + ".py"))
    return [d / "programs" / "my_thesis" / "ch1.tex", key_dir / "notes.txt",
            d / "kernels" / "README.md", d / "kernels" / "__pycache__" / "other.nbc",
            d / "ch1.tex", d / "kernels" / ("k_" + "0" * 64 + ".py"), outside]


@pytest.mark.parametrize("how", ["clear", "older-than", "function", "evict"])
def test_only_nbads_files_are_deleted(warm, use_dir, capsys, tmp_path, how):
    use_dir(warm)
    files = _entry_files(warm)
    mine = _plant_user_files(warm, tmp_path / "outside.txt")
    if how == "evict":
        cache.evict(0)
    else:
        argv = {"clear": [], "older-than": ["--older-than", "0"], "function": ["--function", "selu"]}
        rc, out, _ = _cli(capsys, "cache", "clear", *argv[how])
        assert rc == 0 and "removed 1 program(s), 1 kernel(s)" in out, out
    assert not any(os.path.exists(p) for p in files.values())
    for p in mine:
        assert os.path.lexists(p), p
    st = cache.stats()
    assert st["programs"] == st["kernels"] == st["bytes"] == 0
    foreign = {os.path.relpath(p, warm) for p, _ in st["foreign"]}
    assert foreign == {os.path.relpath(p, warm) for p in mine[1:6]} | {"programs/my_thesis"}
    rc, out, _ = _cli(capsys, "cache", "stats")
    assert rc == 0 and "not nbad's          6 path(s)" in out and "programs/my_thesis" in out


def test_next_run_after_clearing_around_user_files(warm, tmp_path):
    mine = _plant_user_files(warm, tmp_path / "outside.txt")
    cache.clear(root=str(warm))
    r = run_script(warm)
    assert r["ok"] and r["misses"] == 1 and r["warnings"] == [], r
    assert all(os.path.lexists(p) for p in mine)


# -- a directory where a file belongs --------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_in_place_of_a_file_does_not_hang(warm, use_dir, capsys):
    use_dir(warm)
    files = _entry_files(warm)
    for path in (files["nbc"], files["meta"]):
        os.unlink(path)
        os.mkfifo(path)
    r = run_script(warm)
    assert r["ok"] and r["misses"] == 1 and len(r["warnings"]) == 2, r
    rc, out, _ = _cli(capsys, "cache", "list")
    assert rc == 0 and "selu" in out  # both replaced by nbad's files


@pytest.mark.parametrize("which", ["nbc", "nbi", "module"])
def test_directory_in_place_of_a_file_does_not_crash(warm, which):
    files = _entry_files(warm)
    path = {"nbc": files["nbc"], "module": files["module"],
            "nbi": files["nbc"].rsplit(".", 2)[0] + ".nbi"}[which]
    if os.path.exists(path):
        os.unlink(path)
    os.mkdir(path)
    os.mkdir(os.path.join(path, "inside"))
    r = run_script(warm)
    assert r["ok"], r
    if which == "nbi":  # nothing reads a Numba index file
        assert r["hits"] == 1 and r["warnings"] == [], r
    else:  # per process: the entry is unusable (and, for machine code, cannot be written)
        assert 1 <= len(r["warnings"]) <= 2, r
    assert os.path.isdir(os.path.join(path, "inside"))  # not nbad's to delete


# -- malformed meta.json ---------------------------------------------------------------------

def _malformed(key, outside):
    return {"format": 1, "key": key, "function": 5, "module": ["m"], "avals": "float64[3]",
            "target": None, "hits": "many", "misses": -1, "size_bytes": 1e300,
            "compile_seconds": "slow", "last_hit_seconds": float("nan"), "created": 1e300,
            "last_used": -5, "versions": [1, 2], "ir": {"x": 1}, "driver": 3,
            "kernels": ["../../" + os.path.basename(outside)]}  # kernels/../../secret.py


@pytest.mark.parametrize("body", ["malformed", "list", "number", "deep", "bad-utf8"])
def test_cli_survives_malformed_meta(warm, use_dir, capsys, tmp_path, body):
    use_dir(warm)
    outside = tmp_path / "secret"
    (tmp_path / "secret.py").write_text("TOP SECRET")
    meta_path = _entry_files(warm)["meta"]
    key = os.path.basename(os.path.dirname(meta_path))
    data = {"malformed": json.dumps(_malformed(key, outside)).encode(), "list": b"[1, 2]",
            "number": b"1e999", "deep": b"[" * 100000 + b"]" * 100000,
            "bad-utf8": b'{"function": "\xff"}'}[body]
    with open(meta_path, "wb") as f:
        f.write(data)
    for sort in cli._SORT_KEYS:
        rc, out, _ = _cli(capsys, "cache", "list", "--sort", sort)
        assert rc == 0 and key[:12] in out
    if body == "malformed":  # every field listed but the key is malformed: shown as "?"
        row = next(line for line in out.splitlines() if line.startswith(key[:12]))
        assert row.split()[1:] == ["?"] * 7
    rc, out, _ = _cli(capsys, "cache", "show", key[:8])
    assert rc == 0 and key in out and "TOP SECRET" not in out
    if body == "malformed":
        assert "malformed meta.json fields" in out and "kernels" in out
    else:
        assert "unreadable" in out
    rc, out, _ = _cli(capsys, "cache", "stats")
    assert rc == 0 and "programs            1" in out
    rc, out, _ = _cli(capsys, "cache", "clear", "--function", "selu")
    assert rc == 0 and "removed 0 program(s)" in out  # its function name is unreadable
    rc, out, _ = _cli(capsys, "cache", "clear", "--older-than", "1")
    assert rc == 0  # last_used unreadable: its mtime (now) counts, so it stays
    assert os.path.exists(meta_path)
    rc, out, _ = _cli(capsys, "cache", "clear")
    assert rc == 0 and "removed 1 program(s), 1 kernel(s)" in out


def test_malformed_meta_is_rebuilt_by_the_next_run(warm, tmp_path):
    meta_path = _entry_files(warm)["meta"]
    key = os.path.basename(os.path.dirname(meta_path))
    with open(meta_path, "w") as f:
        json.dump(_malformed(key, tmp_path / "secret"), f)
    r = run_script(warm)
    assert r["ok"] and r["hits"] == 1 and len(r["warnings"]) == 1, r
    assert "malformed fields" in r["warnings"][0]
    (meta,) = _metas(warm)
    assert meta["function"] == "selu" and meta["hits"] == 0 and meta["kernels"] == r["disk"]


def test_show_reads_kernels_only_inside_the_cache(tmp_path, use_dir, capsys):
    d = use_dir(tmp_path / "c")
    (tmp_path / "evil.py").write_text("TOP SECRET")
    key = "ab" * 32
    os.makedirs(d / "programs" / key)
    (d / "programs" / key / "meta.json").write_text(json.dumps(
        {"format": 1, "key": key, "function": "f", "avals": [], "hits": 0,
         "kernels": ["../../evil", "k_" + "1" * 64]}))
    rc, out, _ = _cli(capsys, "cache", "show", "ab")
    assert rc == 0 and "TOP SECRET" not in out and "malformed meta.json fields" in out
    assert cache.kernel_source("../../evil") is None
    shutil.rmtree(d)
