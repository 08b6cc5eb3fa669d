"""The disk cache of compiled kernels and program metadata (DESIGN §8).

Layout under ``cache_dir()`` (``$NBAD_CACHE_DIR``, default the platform's user
cache directory, e.g. ``~/.cache/nbad``; every directory created 0700):

    kernels/k_<sha256>.py         one generated kernel module; its name is the
                                  sha256 of its text, and the text starts with
                                  the key material (nbad, numba, llvmlite,
                                  numpy, Python versions, CPU name, a hash of
                                  the CPU features and of nbad's mathlib)
    kernels/__pycache__/k_<sha256>.kernel-<line>.pyXY.nbi / .<n>.nbc
                                  Numba's own cache of that module (the kernel is
                                  decorated ``njit(cache=True)``), written next
                                  to it: NUMBA_CACHE_DIR must stay unset
    programs/<key>/meta.json      one jitted function at one signature: function
                                  qualname and module, argument avals, target,
                                  IR text, generated driver, the kernels it
                                  uses, compile seconds, created, last used,
                                  hits, misses, size in bytes

Kernels are compiled per type and shared by every program (codegen/cpu.py), so
they are the unit of Numba's cache; the program's driver is planned per shape
in milliseconds on every run and is recorded here only for inspection
(``nbad cache show``). A fresh process calling an already compiled function
re-traces it (ms), finds each kernel module on disk and Numba loads the
machine code instead of compiling (``dispatcher.stats.cache_hits``).

Safety: files are written to a temp file and ``os.replace``d; a module is read,
its sha256 checked against its name, and the *checked bytes* are compiled and
executed (a tampered or truncated module is never imported: it is deleted and
rewritten); Numba's index/data files that fail to load (Numba only tolerates a
missing file: garbage raises UnpicklingError, EOFError, UnicodeDecodeError)
are deleted and the kernel recompiled; a corrupt or foreign meta.json is
rewritten. Each such problem is reported once per file and process as an
``NbadCacheWarning``; none of them fails the user's call. Two processes
compiling the same kernel both compile and both write identical files
atomically (numba-facts §3): one good entry remains. With more than
``config.cache_max_bytes`` on disk, the least recently used programs and
kernels are deleted (a kernel's last use is its module's mtime, touched on each
load; a program's is its meta.json's).

This module does not import numba at import time: the ``nbad cache`` CLI reads
only files.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import types
import warnings

from nbad.config import config

__all__ = ["NbadCacheWarning", "enabled", "cache_dir", "kernel_dispatcher", "first_call",
           "list_programs", "resolve", "stats", "clear", "total_bytes", "evict"]

FORMAT = 1                  # meta.json format; another value is rebuilt
TARGET = "cpu"
_EVICT_TO = 0.8             # eviction deletes down to this fraction of the limit


class NbadCacheWarning(UserWarning):
    """A disk-cache entry was unusable (corrupt, truncated, tampered, foreign) or
    could not be written; nbad ignored it and recompiled."""


# -- settings and paths -----------------------------------------------------------

def enabled() -> bool:
    return bool(config.cache) and os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0")


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


def _makedirs(path):
    """Create `path` (and missing parents) private to the user: 0700."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        _makedirs(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # mkdir's mode is masked by the umask


_warned: set = set()


def _warn(key, message):
    """Warn once per (problem, file) and process."""
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(message, NbadCacheWarning, stacklevel=3)


def _atomic_write(path, data: bytes):
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _remove(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


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
        from nbad.codegen import mathlib, mathlib_f32, mathlib_random

        h = hashlib.sha256()
        for mod in (mathlib, mathlib_f32, mathlib_random):
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
    generated source, and the njit(cache=True) decoration."""
    return ("# nbad kernel module, generated: its file name is the sha256 of this text.\n"
            f"# key: {_key_line()}\n"
            "import numba as _numba\n"
            + module_source
            + f"\n\nkernel = _numba.njit({flags}, cache=True)(kernel)\n")


def _numba_files(kdir, name):
    pyc = os.path.join(kdir, "__pycache__")
    try:
        names = os.listdir(pyc)
    except FileNotFoundError:
        return []
    return [os.path.join(pyc, n) for n in names
            if n.startswith(name + ".") and (n.endswith(".nbi") or n.endswith(".nbc"))]


def _remove_kernel(kdir, name):
    removed = 0
    for path in [os.path.join(kdir, name + ".py")] + _numba_files(kdir, name):
        try:
            removed += os.path.getsize(path)
            os.unlink(path)
        except OSError:
            pass
    return removed


_loaded: dict = {}  # kernel name -> dispatcher loaded from disk in this process


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
    if os.environ.get("NUMBA_CACHE_DIR"):
        _warn("NUMBA_CACHE_DIR", "nbad: NUMBA_CACHE_DIR is set, so Numba keeps the machine code of "
              "nbad's cached kernels there, keyed by the absolute cache path (moving the nbad cache "
              "then misses); unset it to keep them next to the kernel modules")
    text = kernel_module_text(module_source, flags).encode()
    digest = hashlib.sha256(text).hexdigest()
    name = f"k_{digest}"
    if name in _loaded:
        return _loaded[name], name
    kdir = _kernels_dir()
    _makedirs(os.path.join(kdir, "__pycache__"))  # before Numba makes it with its default mode
    path = os.path.join(kdir, name + ".py")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = None
    if data is not None and hashlib.sha256(data).hexdigest() != digest:
        _warn(("module", path), f"nbad: cached kernel module {path} does not match its hash "
              "(corrupt, truncated or modified): not imported; deleted and rebuilt")
        _remove_kernel(kdir, name)
        data = None
    if data is None:
        _atomic_write(path, text)
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
    _guard_numba_cache(d, kdir, name)
    _loaded[name] = d
    return d, name


def _guard_numba_cache(d, kdir, name):
    """Numba tolerates a missing cache file but raises on a corrupt one: wrap this
    dispatcher's cache so a load failure deletes the files and recompiles, and a
    save failure only warns."""
    cache = getattr(d, "_cache", None)
    load, save = getattr(cache, "load_overload", None), getattr(cache, "save_overload", None)
    if load is None or save is None:
        return

    fast = getattr(cache, "_load_overload", None)

    def load_overload(sig, target_context):
        if fast is not None:
            # Numba's load_overload first refreshes the target context: ~0.5 s of
            # one-time set-up per process (importing and installing every lowering
            # registry) that rebuilding cached machine code does not need; a real
            # compile still refreshes (numba's CompilerBase does). Any failure here
            # falls back to the full path.
            try:
                from numba.core.runtime import rtsys

                rtsys.initialize(target_context)  # the part of refresh() loaded code needs
                return fast(sig, target_context)
            except Exception:
                pass
        try:
            return load(sig, target_context)
        except Exception as e:
            files = _numba_files(kdir, name)
            _warn(("numba", kdir, name), f"nbad: Numba's cache files of kernel {name} are unreadable "
                  f"({type(e).__name__}: {e}); deleted {len(files)} file(s), recompiling")
            for path in files:
                _remove(path)
            return None

    def save_overload(sig, data):
        try:
            save(sig, data)
        except Exception as e:
            _warn(("save", kdir, name), f"nbad: could not save kernel {name} to the disk cache "
                  f"({type(e).__name__}: {e})")

    cache.load_overload = load_overload
    cache.save_overload = save_overload


def _loaded_numba_files(kdir, name):
    """Numba's files of a kernel loaded in this process, found without listing
    the (large) __pycache__ directory: the index and its numbered data files."""
    cache_file = getattr(getattr(_loaded.get(name), "_cache", None), "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    pattern = getattr(cache_file, "_data_name_pattern", None)
    if index is None or pattern is None:
        return _numba_files(kdir, name)
    paths = [index] if os.path.exists(index) else []
    for number in range(1, 64):
        path = os.path.join(os.path.dirname(index), pattern.format(number=number))
        if not os.path.exists(path):
            break
        paths.append(path)
    return paths


def _kernel_disk_size(kdir, name):
    total = 0
    for path in [os.path.join(kdir, name + ".py")] + _loaded_numba_files(kdir, name):
        try:
            total += os.path.getsize(path)
        except OSError:
            pass
    return total


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


def _record_program(fun, avals, compiled, kernels, seconds, compiled_now):
    ir_text = str(compiled.ir)
    qualname = getattr(fun, "__qualname__", getattr(fun, "__name__", repr(fun)))
    module = getattr(fun, "__module__", None) or ""
    aval_texts = [_aval_text(a) for a in avals]
    key = hashlib.sha256(json.dumps(
        {"module": module, "function": qualname, "avals": aval_texts, "target": TARGET,
         "ir": ir_text, "key": key_material()}, sort_keys=True).encode()).hexdigest()
    pdir = os.path.join(_programs_dir(), key)
    _makedirs(pdir)
    path = os.path.join(pdir, "meta.json")
    now = time.time()
    meta = None
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raw = None
    if raw is not None:
        try:
            meta = json.loads(raw.decode())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("key") != key:
                raise ValueError("format or key mismatch")
            int(meta["hits"]), float(meta["compile_seconds"])
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
            meta["misses"] = int(meta.get("misses", 0)) + 1
            meta["compile_seconds"] = round(seconds, 6)
        else:
            meta["hits"] = int(meta["hits"]) + 1
            meta["last_hit_seconds"] = round(seconds, 6)
        meta["last_used"] = now
        meta["kernels"] = names
    kernel_bytes = sum(_kernel_disk_size(kdir, n) for n in names)
    meta["size_bytes"] = 0
    body = json.dumps(meta, indent=1).encode()
    meta["size_bytes"] = len(body) + kernel_bytes
    body = json.dumps(meta, indent=1).encode()
    _atomic_write(path, body)
    grown = len(body) - old_size
    if compiled_now:  # Numba wrote its files for the kernels it compiled
        grown += sum(_numba_size(kdir, n) for n in names)
    _grow(grown)


def _numba_size(kdir, name):
    total = 0
    for path in _loaded_numba_files(kdir, name):
        try:
            total += os.path.getsize(path)
        except OSError:
            pass
    return total


# -- size limit ------------------------------------------------------------------------------

_total = None  # this process's estimate of the bytes on disk


def _grow(nbytes):
    global _total
    if _total is None:
        _total = total_bytes()
    else:
        _total += nbytes
    if _total > config.cache_max_bytes:
        _total = evict(config.cache_max_bytes)


def _scan(root=None):
    """(programs, kernels): lists of (last used, bytes, name, paths)."""
    root = root or cache_dir()
    programs, kernels = [], []
    pdir = _programs_dir(root)
    for name in _listdir(pdir):
        entry = os.path.join(pdir, name)
        paths = [os.path.join(entry, n) for n in _listdir(entry)]
        size, used = 0, 0.0
        for p in paths:
            try:
                st = os.stat(p)
            except OSError:
                continue
            size += st.st_size
            used = max(used, st.st_mtime)
        programs.append((used, size, name, [entry]))
    kdir = _kernels_dir(root)
    groups: dict = {}
    for n in _listdir(kdir):
        if n.startswith("k_") and n.endswith(".py"):
            groups.setdefault(n[:-3], [0.0, 0, []])
    for n in _listdir(os.path.join(kdir, "__pycache__")):
        stem = n.split(".", 1)[0]
        groups.setdefault(stem, [0.0, 0, []])[2].append(os.path.join(kdir, "__pycache__", n))
    for stem, g in groups.items():
        module = os.path.join(kdir, stem + ".py")
        for p in [module] + g[2]:
            try:
                st = os.stat(p)
            except OSError:
                continue
            g[1] += st.st_size
            if p == module or not os.path.exists(module):
                g[0] = max(g[0], st.st_mtime)
        kernels.append((g[0], g[1], stem, [module] + g[2]))
    return programs, kernels


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def total_bytes(root=None) -> int:
    programs, kernels = _scan(root)
    return sum(s for _, s, _, _ in programs) + sum(s for _, s, _, _ in kernels)


def _delete(paths):
    for p in paths:
        if os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            _remove(p)


def evict(limit, root=None) -> int:
    """Delete least recently used programs and kernels until at most
    ``_EVICT_TO * limit`` bytes remain (when over ``limit``); returns the bytes left."""
    programs, kernels = _scan(root)
    items = sorted(programs + kernels, key=lambda t: t[0])
    total = sum(s for _, s, _, _ in items)
    if total <= limit:
        return total
    target = int(limit * _EVICT_TO)
    for used, size, name, paths in items:
        if total <= target:
            break
        _delete(paths)
        _loaded.pop(name, None)
        total -= size
    return total


# -- inspection (the CLI; no numba import) -------------------------------------------------

def _read_meta(entry_dir):
    try:
        with open(os.path.join(entry_dir, "meta.json"), "rb") as f:
            meta = json.loads(f.read().decode())
        return meta if isinstance(meta, dict) else None
    except Exception:
        return None


def list_programs(root=None) -> list:
    """meta.json of every program (unreadable ones as {"key": ..., "broken": True})."""
    pdir = _programs_dir(root)
    out = []
    for name in _listdir(pdir):
        meta = _read_meta(os.path.join(pdir, name))
        if meta is None:
            meta = {"key": name, "broken": True}
        meta["key"] = name
        meta["dir"] = os.path.join(pdir, name)
        out.append(meta)
    return out


class CacheKeyError(LookupError):
    pass


def resolve(prefix, root=None) -> dict:
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


def kernel_source(name, root=None):
    try:
        with open(os.path.join(_kernels_dir(root), name + ".py"), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def stats(root=None) -> dict:
    programs, kernels = _scan(root)
    metas = list_programs(root)
    hits = sum(int(m.get("hits", 0)) for m in metas if not m.get("broken"))
    misses = sum(int(m.get("misses", 0)) for m in metas if not m.get("broken"))
    saved = sum(int(m.get("hits", 0)) * max(float(m.get("compile_seconds", 0.0))
                                            - float(m.get("last_hit_seconds", 0.0)), 0.0)
                for m in metas if not m.get("broken"))
    return {"dir": os.path.abspath(root or cache_dir()), "programs": len(programs),
            "kernels": len(kernels),
            "bytes": sum(s for _, s, _, _ in programs) + sum(s for _, s, _, _ in kernels),
            "hits": hits, "misses": misses,
            "hit_rate": hits / (hits + misses) if hits + misses else None,
            "compile_seconds_saved": saved,
            "max_bytes": config.cache_max_bytes}


def _matches_function(meta, name):
    fn, mod = meta.get("function", ""), meta.get("module", "")
    return name in (fn, f"{mod}.{fn}") or fn.endswith("." + name) or fn.split(".<locals>.")[-1] == name


def clear(older_than_days=None, function=None, root=None) -> dict:
    """Delete programs (and kernels no remaining program uses) last used more than
    `older_than_days` ago and/or of `function`; everything without filters."""
    root = os.path.abspath(root or cache_dir())
    programs, kernels = _scan(root)
    before = sum(s for _, s, _, _ in programs) + sum(s for _, s, _, _ in kernels)
    if older_than_days is None and function is None:
        for sub in ("programs", "kernels"):
            shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
        _loaded.clear()
        return {"programs": len(programs), "kernels": len(kernels), "bytes": before}
    cutoff = None if older_than_days is None else time.time() - float(older_than_days) * 86400
    metas = {m["key"]: m for m in list_programs(root)}
    removed_p, kept_kernels, dropped_kernels = 0, set(), set()
    for used, size, name, paths in programs:
        meta = metas.get(name, {})
        last = float(meta.get("last_used", used)) if not meta.get("broken") else used
        old = cutoff is None or last < cutoff
        fn_ok = function is None or (not meta.get("broken") and _matches_function(meta, function))
        if old and fn_ok:
            _delete(paths)
            removed_p += 1
            dropped_kernels.update(meta.get("kernels", []))
        else:
            kept_kernels.update(meta.get("kernels", []))
    removed_k = 0
    for used, size, name, paths in kernels:
        unused = name not in kept_kernels
        if function is not None:
            drop = name in dropped_kernels and unused
        else:
            drop = unused and used < cutoff
        if drop:
            _delete(paths)
            _loaded.pop(name, None)
            removed_k += 1
    return {"programs": removed_p, "kernels": removed_k, "bytes": before - total_bytes(root)}
