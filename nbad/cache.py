"""The disk cache of compiled kernels and program metadata (DESIGN §8).

Layout under ``cache_dir()`` (``$NBAD_CACHE_DIR``, default the platform's user
cache directory, e.g. ``~/.cache/nbad``; directories 0700, files 0600):

    cache.key                     the key nbad signs Numba's machine code with
    kernels/k_<sha256>.py         one generated kernel module; its name is the
                                  sha256 of its text, and the text starts with
                                  the key material (nbad, numba, llvmlite,
                                  numpy, Python versions, CPU name, a hash of
                                  the CPU features and of nbad's mathlib)
    kernels/__pycache__/k_<sha256>.kernel-<line>.pyXY.<key hash>.nbc
                                  the kernel's compiled machine code (Numba's
                                  payload), signed: numba_cache.py
    programs/<key>/meta.json      one jitted function at one signature: function
                                  qualname and module, argument avals, target,
                                  IR text, generated driver, the kernels it
                                  uses, compile seconds, created, last used,
                                  hits, misses, size in bytes

Kernels are compiled per type and shared by every program (backends/cpu/kernels.py), so
they are the unit of the machine-code cache; the program's driver is planned
per shape in milliseconds on every run and is recorded here only for
inspection (``nbad cache show``). A fresh process calling an already compiled
function re-traces it (ms), finds each kernel module on disk and loads the
machine code instead of compiling (``dispatcher.stats.cache_hits``).

Trust (cache_trust.py): the directory is used only if the user owns it and
nobody else can write it; else one warning and the cache is off for the process.
Safety: files are written to a temp file and ``os.replace``d; a module is read,
its sha256 checked against its name, and the *checked bytes* are compiled and
executed (a tampered or truncated module is never imported: it is deleted and
rewritten); a machine-code file is unpickled only once its signature proves
nbad wrote it for that kernel and signature (numba_cache.py), else it is
deleted and the kernel recompiled; a corrupt, foreign or malformed meta.json is
rewritten. Each such problem is reported once per file and process as an
``NbadCacheWarning``; none of them fails the user's call. Two processes
compiling the same kernel both compile and both write complete files
atomically: one good entry remains. With more than ``config.cache_max_bytes``
on disk, the least recently used programs and kernels are deleted (a kernel's
last use is its module's mtime, touched on each load; a program's is its
meta.json's); only files of nbad's naming scheme are ever deleted
(cache_entries.py).

This module does not import numba at import time: the ``nbad cache`` CLI reads
only files.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import types
import warnings

from nbad import cache_entries, cache_trust
from nbad.cache_entries import CacheKeyError
from nbad.config import config

__all__ = ["NbadCacheWarning", "CacheKeyError", "enabled", "cache_dir", "kernel_dispatcher",
           "first_call", "list_programs", "resolve", "stats", "clear", "total_bytes", "evict",
           "kernel_source"]

FORMAT = 1                  # meta.json format; another value is rebuilt
TARGET = "cpu"
_EVICT_TO = 0.8             # eviction deletes down to this fraction of the limit
SUBDIRS = ("kernels", os.path.join("kernels", "__pycache__"), "programs")


class NbadCacheWarning(UserWarning):
    """A disk-cache entry was unusable (corrupt, truncated, tampered, foreign) or
    could not be written, or the cache directory cannot be trusted; nbad ignored
    it and compiled."""


# -- settings, paths and trust ---------------------------------------------------------

def enabled() -> bool:
    """Whether the disk cache is on: configured, Numba's JIT on, and the cache
    directory trusted (checked once per process: cache_trust.py)."""
    if not config.cache or os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        return False
    return _trusted(cache_dir())


_trust: dict = {}  # cache directory -> why it cannot be trusted, or None


def _trusted(root) -> bool:
    if root not in _trust:
        reason = cache_trust.check_root(root, SUBDIRS)
        _trust[root] = reason
        if reason is not None:
            _warn(("untrusted", root), f"nbad: not using the disk cache {root}: {reason}. nbad "
                  "uses only a cache directory that you own and nobody else can write (whoever "
                  "can write it can run code as you); compiling in memory for this process. Use a "
                  "directory of your own (NBAD_CACHE_DIR) or fix its owner and mode (chmod 700)")
    return _trust[root] is None


def _recheck(root, subdir):
    """If `subdir` of the cache is gone (removed while this process ran), check
    the whole directory again before recreating it."""
    if not os.path.isdir(subdir):
        reason = cache_trust.check_root(root, SUBDIRS)
        if reason is not None:
            raise cache_trust.UntrustedFile(reason)


def default_dir() -> str:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "nbad", "Cache")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/nbad")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "nbad")


def cache_dir() -> str:
    return os.path.abspath(config.cache_dir or default_dir())


def _kernels_dir(root=None):
    return os.path.join(root or cache_dir(), "kernels")


def _programs_dir(root=None):
    return os.path.join(root or cache_dir(), "programs")


_warned: set = set()


def _warn(key, message):
    """Warn once per (problem, file) and process."""
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(message, NbadCacheWarning, stacklevel=3)


# -- key material -------------------------------------------------------------------

_KEY = None


def key_material() -> dict:
    """Everything a compiled kernel depends on besides its source."""
    global _KEY
    if _KEY is None:
        import platform

        import llvmlite
        import llvmlite.binding as ll
        import numba
        import numpy

        import nbad
        from nbad.backends.cpu import mathlib, mathlib_f32, mathlib_f64, mathlib_random

        h = hashlib.sha256()
        for mod in (mathlib, mathlib_f64, mathlib_f32, mathlib_random):
            with open(mod.__file__, "rb") as f:
                h.update(f.read())
        try:
            features = ll.get_host_cpu_features().flatten()
        except Exception:  # some platforms cannot report them
            features = ""
        _KEY = {
            "nbad": nbad.__version__, "numba": numba.__version__, "llvmlite": llvmlite.__version__,
            "numpy": numpy.__version__, "python": platform.python_version(),
            "cpu": ll.get_host_cpu_name(),
            "cpu_features": hashlib.sha256(features.encode()).hexdigest()[:16],
            "mathlib": h.hexdigest()[:16],
        }
    return _KEY


def _key_line() -> str:
    return " ".join(f"{k}={v}" for k, v in key_material().items())


# -- kernels --------------------------------------------------------------------------

def kernel_module_text(module_source: str, flags: str) -> str:
    """The text of a kernel's cache module: header with the key material, the
    generated source, and the njit decoration (its machine-code cache is
    attached by numba_cache.attach, not by Numba's cache=True)."""
    return ("# nbad kernel module, generated: its file name is the sha256 of this text.\n"
            f"# key: {_key_line()}\n"
            "import numba as _numba\n"
            + module_source
            + f"\n\nkernel = _numba.njit({flags})(kernel)\n")


_loaded: dict = {}  # kernel name -> dispatcher loaded from disk in this process
_signed: dict = {}  # kernel name -> its numba_cache.SignedCacheFile
_secrets: dict = {}  # cache directory -> its signing key


def kernel_dispatcher(module_source: str, flags: str):
    """The Numba dispatcher of a kernel, through the disk cache: (dispatcher,
    name), or None when the cache cannot be used (then the caller compiles in
    memory). Never raises."""
    try:
        return _kernel_dispatcher(module_source, flags)
    except Exception as e:  # an unusable cache must never break a user's program
        _warn(("kernel", type(e).__name__), f"nbad: disk cache unusable, compiling in memory "
              f"({type(e).__name__}: {e})")
        return None


def _kernel_dispatcher(module_source, flags):
    text = kernel_module_text(module_source, flags).encode()
    digest = hashlib.sha256(text).hexdigest()
    name = f"k_{digest}"
    if name in _loaded:
        return _loaded[name], name
    root = cache_dir()
    kdir = _kernels_dir(root)
    pycache = os.path.join(kdir, "__pycache__")
    _recheck(root, pycache)
    path = os.path.join(kdir, name + ".py")
    try:
        data = cache_trust.read_own_file(path)
    except cache_trust.UntrustedFile as e:
        _warn(("module", path), f"nbad: cached kernel module {path} is not nbad's ({e}): not "
              "imported; compiling in memory")
        return None
    if data is not None and hashlib.sha256(data).hexdigest() != digest:
        _warn(("module", path), f"nbad: cached kernel module {path} does not match its hash "
              "(corrupt, truncated or modified): not imported; deleted and rebuilt")
        cache_trust.remove_own_file(path)
        data = None
    if data is None:
        cache_trust.atomic_write(path, text)
        _grow(len(text))
        data = text
    else:
        try:
            os.utime(path)  # its last use, for eviction
        except OSError:
            pass
    # Execute the checked bytes, not whatever the file holds by now.
    modname = f"nbad_kernel_cache_{name}"
    module = types.ModuleType(modname)
    module.__file__ = path
    sys.modules[modname] = module  # Numba's cached environments re-import the module by name
    exec(compile(data, path, "exec"), module.__dict__)
    d = module.kernel
    _attach_machine_code_cache(d, root, pycache, name)
    _loaded[name] = d
    return d, name


def _attach_machine_code_cache(d, root, pycache, name):
    from nbad import numba_cache

    def on_reject(error, paths):
        if not paths:  # a failed save
            _warn(("save", name), f"nbad: could not save kernel {name} to the disk cache "
                  f"({type(error).__name__}: {error})")
            return
        for p in paths:
            cache_trust.remove_own_file(p)
        _warn(("numba", name), f"nbad: the machine code of kernel {name} in the disk cache is "
              f"unusable ({type(error).__name__}: {error}); not loaded, deleted, recompiling")

    try:
        if root not in _secrets:
            _secrets[root] = cache_trust.secret(root)
        _signed[name] = numba_cache.attach(d, pycache, _secrets[root], on_reject)
    except Exception as e:  # the kernel still runs, compiled in this process
        _warn(("attach", type(e).__name__), "nbad: cannot keep compiled kernels on disk "
              f"({type(e).__name__}: {e}); compiling in memory")


def _kernel_disk_size(kdir, name):
    paths = [os.path.join(kdir, name + ".py")]
    signed = _signed.get(name)
    if signed is not None:
        paths += signed.paths()
    return sum(_size(p) for p in paths)


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# -- programs -----------------------------------------------------------------------------

def _aval_text(a):
    shape = getattr(a, "shape", ())
    dtype = getattr(a, "dtype", None)
    return f"{getattr(dtype, 'name', dtype)}[{','.join(map(str, shape))}]"


def _misses(dispatchers):
    return sum(sum(d.stats.cache_misses.values()) for d in dispatchers)


def first_call(fun, avals, compiled, arrays):
    """The first call of a newly compiled program; with the disk cache on, also
    records (or updates) the program's meta.json. Returns the call's result."""
    if not enabled():
        return compiled(*arrays)
    kernels = getattr(compiled.program, "kernels", [])
    dispatchers = [d for d in (k._dispatchers.get("nogil") for k in kernels) if d is not None]
    try:
        before = _misses(dispatchers)
    except Exception:
        before = None
    start = time.perf_counter()
    out = compiled(*arrays)
    seconds = compiled.compile_seconds + time.perf_counter() - start
    try:
        compiled_now = True if before is None else _misses(dispatchers) > before
        _record_program(fun, avals, compiled, kernels, seconds, compiled_now)
    except Exception as e:
        _warn(("record", type(e).__name__), f"nbad: could not record a program in the disk cache "
              f"({type(e).__name__}: {e})")
    return out


_REQUIRED = ("function", "module", "avals", "target", "versions", "ir", "kernels", "hits",
             "misses", "compile_seconds", "created", "last_used")


def _record_program(fun, avals, compiled, kernels, seconds, compiled_now):
    ir_text = str(compiled.ir)
    qualname = getattr(fun, "__qualname__", getattr(fun, "__name__", repr(fun)))
    module = getattr(fun, "__module__", None) or ""
    aval_texts = [_aval_text(a) for a in avals]
    key = hashlib.sha256(json.dumps(
        {"module": module, "function": qualname, "avals": aval_texts, "target": TARGET,
         "ir": ir_text, "key": key_material()}, sort_keys=True).encode()).hexdigest()
    _recheck(cache_dir(), _programs_dir())
    pdir = os.path.join(_programs_dir(), key)
    cache_trust.private_dir(pdir)
    path = os.path.join(pdir, "meta.json")
    now = time.time()
    meta = None
    try:
        raw = cache_trust.read_own_file(path)
    except cache_trust.UntrustedFile as e:
        _warn(("meta", path), f"nbad: cache metadata {path} is not nbad's ({e}); replaced")
        raw = None
    if raw is not None:
        try:
            meta = cache_entries.clean_meta(json.loads(raw.decode()))
            if meta is None or meta.get("format") != FORMAT or meta.get("key") != key:
                raise ValueError("format or key mismatch")
            missing = [f for f in _REQUIRED if f not in meta]
            if meta["invalid"] or missing:
                raise ValueError(f"malformed fields: {', '.join(meta['invalid'] + missing)}")
            del meta["invalid"]
        except Exception as e:
            _warn(("meta", path), f"nbad: cache metadata {path} is unreadable ({type(e).__name__}: "
                  f"{e}); rebuilt")
            meta = None
    kdir = _kernels_dir()
    names = []
    for k in kernels:
        n = getattr(k, "disk_name", None)
        if n and n not in names:
            names.append(n)
    old_size = len(raw) if raw is not None else 0
    if meta is None:
        meta = {"format": FORMAT, "key": key, "function": qualname, "module": module,
                "avals": aval_texts, "target": TARGET, "versions": key_material(), "ir": ir_text,
                "driver": getattr(compiled.program, "source", ""), "kernels": names,
                "compile_seconds": round(seconds, 6), "created": now, "last_used": now,
                "hits": 0, "misses": 1}
    else:
        if compiled_now:
            meta["misses"] += 1
            meta["compile_seconds"] = round(seconds, 6)
        else:
            meta["hits"] += 1
            meta["last_hit_seconds"] = round(seconds, 6)
        meta["last_used"] = now
        meta["kernels"] = names
    kernel_bytes = sum(_kernel_disk_size(kdir, n) for n in names)
    meta["size_bytes"] = 0
    body = json.dumps(meta, indent=1).encode()
    meta["size_bytes"] = len(body) + kernel_bytes
    body = json.dumps(meta, indent=1).encode()
    cache_trust.atomic_write(path, body)
    grown = len(body) - old_size
    if compiled_now:  # the machine code of the kernels it compiled was written
        grown += sum(_kernel_disk_size(kdir, n) for n in names)
    _grow(grown)



# -- size limit and the entries on disk (cache_entries.py) -------------------------------

_total = None  # this process's estimate of the bytes on disk


def _grow(nbytes):
    global _total
    if _total is None:
        _total = total_bytes()
    else:
        _total += nbytes
    if _total > config.cache_max_bytes:
        _total = evict(config.cache_max_bytes)


def _forget(names):
    for n in names:
        _loaded.pop(n, None)
        _signed.pop(n, None)


def total_bytes(root=None) -> int:
    return cache_entries.total_bytes(root or cache_dir())


def evict(limit, root=None) -> int:
    """Delete least recently used programs and kernels (only nbad's files) until
    at most ``_EVICT_TO * limit`` bytes remain (when over ``limit``); returns
    the bytes left."""
    left, removed = cache_entries.evict(limit, root or cache_dir(), int(limit * _EVICT_TO))
    _forget(removed)
    return left


def clear(older_than_days=None, function=None, root=None) -> dict:
    """Delete programs (and kernels no remaining program uses) last used more than
    `older_than_days` ago and/or of `function`; all of nbad's files without
    filters. Files that are not nbad's are left alone (``stats()["foreign"]``)."""
    result, removed = cache_entries.clear(os.path.abspath(root or cache_dir()), older_than_days,
                                          function)
    _forget(removed)
    return result


def list_programs(root=None) -> list:
    """meta.json of every program, validated field by field (cache_entries.clean_meta);
    unreadable ones as {"key": ..., "broken": True}."""
    return cache_entries.list_programs(root or cache_dir())


def resolve(prefix, root=None) -> dict:
    """The program whose key starts with `prefix` (like git short hashes)."""
    return cache_entries.resolve(prefix, root or cache_dir())


def kernel_source(name, root=None):
    return cache_entries.kernel_source(name, root or cache_dir())


def stats(root=None) -> dict:
    """Counts, bytes, hits and the paths under the cache that are not nbad's
    ("foreign": (path, bytes) pairs, never deleted); "trust": why the directory
    cannot be trusted, or None."""
    root = os.path.abspath(root or cache_dir())
    out = cache_entries.stats(root, config.cache_max_bytes)
    out["trust"] = cache_trust.check_root(root, SUBDIRS, create=False)
    return out
