"""The disk cache's entries (DESIGN §8): nbad's naming scheme, the only files
it ever deletes, and the metadata `nbad cache` shows, validated field by field.

A file is nbad's when its path fits the scheme (NAMES below) and it is a
regular file of the user's. Anything else under the cache directory (a user's
`programs/my_thesis/ch1.tex` when NBAD_CACHE_DIR points at a project folder, a
symlink, another user's file) is never deleted: eviction and `nbad cache
clear` skip it and `nbad cache stats` reports it. A program directory is
removed only once nbad's files in it are gone and it is empty.

This module reads files only and does not import numba: the CLI uses it.
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from typing import NamedTuple

from nbad import cache_trust

_HEX64 = r"[0-9a-f]{64}"
_TEMP = r"\.\w+\.tmp"  # cache_trust.atomic_write's temp files
NAMES = {
    "root": re.compile(rf"kernels|programs|{re.escape(cache_trust.SECRET_NAME)}({_TEMP})?"),
    "kernels": re.compile(rf"(k_{_HEX64})\.py({_TEMP})?|__pycache__"),
    # nbad's signed files (numba_cache.py), and Numba's own index/data files and
    # their temp files as older nbad versions let Numba write them
    "numba": re.compile(rf"(k_{_HEX64})\.[\w.\-]+\.(nbi|nbc)({_TEMP}|\.tmp\.[0-9a-f]+)?"),
    "programs": re.compile(_HEX64),
    "program": re.compile(rf"meta\.json({_TEMP})?"),
}
KERNEL_NAME = re.compile(rf"k_{_HEX64}")


class Entry(NamedTuple):
    used: float      # last use (mtime)
    size: int        # bytes of nbad's files
    name: str        # program key or kernel module name
    paths: list      # nbad's files of the entry
    directory: str   # a program's directory (removed once empty); "" for a kernel


class Scan(NamedTuple):
    programs: list
    kernels: list
    foreign: list    # paths under the cache that are not nbad's, outermost only


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _own_file(path):
    """os.lstat of `path` if it is a regular file of the user's, else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return None
    return st


def _is_dir(path):
    return os.path.isdir(path) and not os.path.islink(path)


def scan(root) -> Scan:
    programs, kernels, foreign = [], [], []

    def sort_out(directory, scheme, on_own):
        for n in _listdir(directory):
            path = os.path.join(directory, n)
            m = NAMES[scheme].fullmatch(n)
            if m is None or not on_own(path, m):
                foreign.append(path)

    def root_item(path, m):
        if m.group(0) in ("kernels", "programs"):
            return _is_dir(path)
        return _own_file(path) is not None

    sort_out(root, "root", root_item)
    groups: dict = {}  # kernel name -> [module mtime, latest other mtime, bytes, paths]

    def add_to_kernel(path, m, is_module):
        st = _own_file(path)
        if st is None:
            return False
        g = groups.setdefault(m.group(1), [None, 0.0, 0, []])
        if is_module:  # a kernel's last use is its module's mtime (touched on each load)
            g[0] = st.st_mtime
        else:
            g[1] = max(g[1], st.st_mtime)
        g[2] += st.st_size
        g[3].append(path)
        return True

    def kernel_item(path, m):
        if m.group(0) == "__pycache__":
            return _is_dir(path)
        return add_to_kernel(path, m, m.group(2) is None)

    kdir = os.path.join(root, "kernels")
    if _is_dir(kdir):
        sort_out(kdir, "kernels", kernel_item)
        pyc = os.path.join(kdir, "__pycache__")
        if _is_dir(pyc):
            sort_out(pyc, "numba", lambda path, m: add_to_kernel(path, m, False))
    kernels = [Entry(g[1] if g[0] is None else g[0], g[2], stem, g[3], "")
               for stem, g in sorted(groups.items())]

    def program_item(path, m):
        if not _is_dir(path):
            return False
        size, used, own = 0, 0.0, []
        for n in _listdir(path):
            p = os.path.join(path, n)
            st = _own_file(p) if NAMES["program"].fullmatch(n) else None
            if st is None:
                foreign.append(p)
                continue
            own.append(p)
            size += st.st_size
            used = max(used, st.st_mtime)
        if own:  # (a directory holding only what is not nbad's is not a program)
            programs.append(Entry(used, size, m.group(0), own, path))
        return True

    pdir = os.path.join(root, "programs")
    if _is_dir(pdir):
        sort_out(pdir, "programs", program_item)
    return Scan(programs, kernels, foreign)


def delete(entry: Entry) -> int:
    """Delete nbad's files of `entry` (and its directory if that leaves it
    empty); the bytes freed."""
    freed = sum(cache_trust.remove_own_file(p) for p in entry.paths)
    if entry.directory:
        try:
            os.rmdir(entry.directory)
        except OSError:  # not empty: something that is not nbad's is in it
            pass
    return freed


def tree_bytes(path) -> int:
    """Bytes under `path` (symlinks not followed)."""
    if not _is_dir(path):
        try:
            return os.lstat(path).st_size
        except OSError:
            return 0
    total = 0
    for top, dirs, files in os.walk(path):
        for n in files:
            try:
                total += os.lstat(os.path.join(top, n)).st_size
            except OSError:
                pass
    return total


# -- meta.json, field by field ------------------------------------------------------------

_MAX_TIME = 253402300799.0  # 9999-12-31: what time.localtime can show


def _text(v):
    return v if isinstance(v, str) else None


def _count(v):
    return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2 ** 63 else None


def _number(limit):
    def check(v):
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
                and 0 <= v <= limit:
            return float(v)
        return None
    return check


def _texts(v):
    return v if isinstance(v, list) and all(isinstance(x, str) for x in v) else None


def _kernel_names(v):
    return v if isinstance(v, list) and all(isinstance(x, str) and KERNEL_NAME.fullmatch(x)
                                            for x in v) else None


def _versions(v):
    if isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, (str, int, float))
                                   and not isinstance(x, bool) for k, x in v.items()):
        return {k: str(x) for k, x in v.items()}
    return None


FIELDS = {
    "format": _count, "key": _text, "function": _text, "module": _text, "target": _text,
    "ir": _text, "driver": _text, "avals": _texts, "kernels": _kernel_names,
    "versions": _versions, "hits": _count, "misses": _count, "size_bytes": _count,
    "compile_seconds": _number(1e7), "last_hit_seconds": _number(1e7),
    "created": _number(_MAX_TIME), "last_used": _number(_MAX_TIME),
}


def clean_meta(raw):
    """The fields of a parsed meta.json that have the right type and range
    (unknown fields dropped); the names of the rejected ones under "invalid".
    None if `raw` is not a JSON object."""
    if not isinstance(raw, dict):
        return None
    meta, invalid = {}, []
    for name, check in FIELDS.items():
        if name not in raw:
            continue
        value = check(raw[name])
        if value is None:
            invalid.append(name)
        else:
            meta[name] = value
    meta["invalid"] = invalid
    return meta


def read_meta(path):
    """clean_meta of the meta.json at `path`; None if it is missing,
    unreadable or not nbad's."""
    try:
        data = cache_trust.read_own_file(path)
        return None if data is None else clean_meta(json.loads(data.decode()))
    except Exception:
        return None


# -- what the CLI shows and does ---------------------------------------------------------

def list_programs(root) -> list:
    """The validated meta.json of every program (an unreadable one as
    {"key": ..., "broken": True}), with its "key" and "dir"."""
    out = []
    for e in scan(root).programs:
        meta = read_meta(os.path.join(e.directory, "meta.json")) or {"broken": True}
        meta["key"], meta["dir"] = e.name, e.directory
        out.append(meta)
    return out


class CacheKeyError(LookupError):
    pass


def resolve(prefix, root) -> dict:
    """The program whose key starts with `prefix` (like git short hashes)."""
    prefix = prefix.strip().lower()
    if not prefix:
        raise CacheKeyError("empty key")
    matches = [m for m in list_programs(root) if m["key"].startswith(prefix)]
    if not matches:
        raise CacheKeyError(f"no cache entry with key prefix {prefix!r}")
    if len(matches) > 1:
        listed = ", ".join(f"{m['key'][:12]} ({m.get('function', '?')})" for m in matches[:10])
        raise CacheKeyError(f"key prefix {prefix!r} is ambiguous: {len(matches)} entries match: "
                            f"{listed}{', ...' if len(matches) > 10 else ''}; give more characters")
    return matches[0]


def kernel_source(name, root):
    """The text of kernel module `name` (a validated name only: no path leaves
    the cache), or None."""
    if not isinstance(name, str) or not KERNEL_NAME.fullmatch(name):
        return None
    try:
        data = cache_trust.read_own_file(os.path.join(root, "kernels", name + ".py"))
        return None if data is None else data.decode("utf-8", "replace")
    except (OSError, cache_trust.UntrustedFile):
        return None


def stats(root, max_bytes) -> dict:
    s = scan(root)
    metas = [m for m in list_programs(root) if not m.get("broken")]
    hits = sum(m.get("hits", 0) for m in metas)
    misses = sum(m.get("misses", 0) for m in metas)
    saved = sum(m.get("hits", 0) * max(m.get("compile_seconds", 0.0)
                                       - m.get("last_hit_seconds", 0.0), 0.0) for m in metas)
    foreign = [(p, tree_bytes(p)) for p in s.foreign]
    return {"dir": os.path.abspath(root), "programs": len(s.programs), "kernels": len(s.kernels),
            "bytes": sum(e.size for e in s.programs + s.kernels),
            "hits": hits, "misses": misses,
            "hit_rate": hits / (hits + misses) if hits + misses else None,
            "compile_seconds_saved": saved, "max_bytes": max_bytes,
            "foreign": foreign, "malformed": sum(1 for m in metas if m["invalid"])}


def total_bytes(root) -> int:
    s = scan(root)
    return sum(e.size for e in s.programs + s.kernels)


def evict(limit, root, target) -> tuple:
    """Delete least recently used programs and kernels until at most `target`
    bytes remain, when over `limit`: (bytes left, names deleted)."""
    s = scan(root)
    items = sorted(s.programs + s.kernels, key=lambda e: e.used)
    total = sum(e.size for e in items)
    removed = []
    if total <= limit:
        return total, removed
    for e in items:
        if total <= target:
            break
        delete(e)
        removed.append(e.name)
        total -= e.size
    return total, removed


def matches_function(meta, name):
    fn, mod = meta.get("function", ""), meta.get("module", "")
    return name in (fn, f"{mod}.{fn}") or fn.endswith("." + name) or fn.split(".<locals>.")[-1] == name


def clear(root, older_than_days=None, function=None) -> tuple:
    """Delete programs (and kernels no remaining program uses) last used more than
    `older_than_days` ago and/or of `function`; all of nbad's files without
    filters. ({"programs", "kernels", "bytes"}, names deleted)."""
    s = scan(root)
    freed, removed = 0, []
    if older_than_days is None and function is None:
        for e in s.programs + s.kernels:
            freed += delete(e)
            removed.append(e.name)
        return {"programs": len(s.programs), "kernels": len(s.kernels), "bytes": freed}, removed
    cutoff = None if older_than_days is None else time.time() - float(older_than_days) * 86400
    removed_p, kept_kernels, dropped_kernels = 0, set(), set()
    for e in s.programs:
        meta = read_meta(os.path.join(e.directory, "meta.json")) or {"broken": True}
        last = meta.get("last_used", e.used)
        old = cutoff is None or last < cutoff
        fn_ok = function is None or (not meta.get("broken") and matches_function(meta, function))
        if old and fn_ok:
            freed += delete(e)
            removed_p += 1
            removed.append(e.name)
            dropped_kernels.update(meta.get("kernels", []))
        else:
            kept_kernels.update(meta.get("kernels", []))
    removed_k = 0
    for e in s.kernels:
        unused = e.name not in kept_kernels
        drop = (e.name in dropped_kernels and unused) if function is not None \
            else unused and e.used < cutoff
        if drop:
            freed += delete(e)
            removed.append(e.name)
            removed_k += 1
    return {"programs": removed_p, "kernels": removed_k, "bytes": freed}, removed
