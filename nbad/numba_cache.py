"""Where nbad's disk cache meets Numba's internals (DESIGN §8), in one place.

Numba has no public interface for where or how a dispatcher caches its machine
code, and its own cache files are pickles it unpickles unchecked. nbad's
kernel modules therefore compile *without* ``cache=True``; `attach` gives the
dispatcher Numba's FunctionCache (its key: signature, target, bytecode) with
the file layer replaced by `SignedCacheFile`, which nbad writes and reads:

    kernels/__pycache__/<numba's filename base>.<sha256(key)[:16]>.nbc
        b"NBADNBC1" + HMAC-SHA256(secret, file name + body) + body,
        body = Numba's pickle of (numba version, key, compiled payload)

The body is unpickled only after the HMAC checks, with the secret nbad keeps
in the cache directory (cache_trust.secret), so a file nbad did not write for
exactly that name (planted, swapped with another kernel's, truncated) is
rejected before a byte of it is unpickled; the key inside is compared too, so
a hash-prefix collision is a miss, not another signature's code. There is no
index file: each (kernel, key) is one file, written atomically, so racing
processes leave one good file.

Numba offers no public mechanism for this (``cache=True`` is all or nothing;
NUMBA_CACHE_LOCATOR_CLASSES only moves the files). The Numba privates used
(checked by `check_numba_internals`, whose test fails loudly when Numba
changes them): ``Dispatcher._cache`` (what Dispatcher.compile loads from and
saves to), ``Cache._cache_file / _cache_path / _load_overload /
_save_overload / _impl.filename_base``, ``Cache._index_key`` (through
_load_overload), ``numba.core.runtime.rtsys.initialize``. If any is
missing, `attach` raises and the kernel runs from memory: never from files
nbad did not check.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import pickle

from nbad import cache_trust

MAGIC = b"NBADNBC1"
_MAC = 32


class RejectedCacheFile(Exception):
    """A cache file that failed its check: it is never unpickled."""


class SignedCacheFile:
    """The file layer of one kernel's Numba cache (Numba's IndexDataCacheFile
    interface: save, load, flush)."""

    def __init__(self, cache_path, filename_base, secret):
        self._cache_path = cache_path
        self._filename_base = filename_base
        self._secret = secret
        self.files: set = set()  # the paths this process read or wrote (no directory listing)
        self.last = None         # the path of the last load

    def path(self, key) -> str:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        return os.path.join(self._cache_path, f"{self._filename_base}.{digest}.nbc")

    def paths(self) -> list:
        """This kernel's files that this process read or wrote and that still exist."""
        return [p for p in sorted(self.files) if os.path.exists(p)]

    def _mac(self, name, body):
        return hmac.new(self._secret, name.encode() + b"\0" + body, hashlib.sha256).digest()

    def save(self, key, data):
        from numba.core.serialize import dumps
        import numba

        path = self.path(key)
        body = dumps((numba.__version__, key, data))
        cache_trust.atomic_write(path, MAGIC + self._mac(os.path.basename(path), body) + body)
        self.files.add(path)

    def load(self, key):
        """The payload saved under `key`; None if there is none; raises
        RejectedCacheFile for a file that fails its check."""
        import numba

        path = self.last = self.path(key)
        data = cache_trust.read_own_file(path)
        if data is None:
            return None
        self.files.add(path)
        body = data[len(MAGIC) + _MAC:]
        if (not data.startswith(MAGIC)
                or not hmac.compare_digest(data[len(MAGIC):len(MAGIC) + _MAC],
                                           self._mac(os.path.basename(path), body))):
            raise RejectedCacheFile(f"{path} was not written by nbad for this kernel "
                                    "(signature check failed)")
        version, saved_key, payload = pickle.loads(body)
        if version != numba.__version__ or saved_key != key:
            return None
        return payload

    def flush(self):
        """Forget everything saved (Dispatcher.recompile calls this): delete the
        files this process knows."""
        for path in self.files:
            cache_trust.remove_own_file(path)
        self.files.clear()


def attach(dispatcher, cache_path, secret, on_reject):
    """Give `dispatcher` a disk cache in `cache_path` whose files are signed
    with `secret`. A file that fails its check (or cannot be read) calls
    on_reject(exception, [its path]) and the kernel compiles; a failed save
    calls on_reject(exception, []). Raises if Numba's internals are not what
    this module expects."""
    from numba.core.caching import FunctionCache

    cache = FunctionCache(dispatcher.py_func)
    signed = SignedCacheFile(cache_path, cache._impl.filename_base, secret)
    cache._cache_file = signed
    cache._cache_path = cache_path
    fast = cache._load_overload

    def load_overload(sig, target_context):
        # Numba's load_overload first refreshes the target context: ~0.5 s of
        # one-time set-up per process (installing every lowering registry) that
        # rebuilding cached machine code does not need; a real compile still
        # refreshes (numba's CompilerBase does).
        try:
            from numba.core.runtime import rtsys

            rtsys.initialize(target_context)
        except Exception:
            target_context.refresh()
        signed.last = None
        try:
            return fast(sig, target_context)
        except Exception as e:
            on_reject(e, [signed.last] if signed.last else [])
            return None

    def save_overload(sig, data):
        try:
            cache._save_overload(sig, data)
        except Exception as e:
            on_reject(e, [])

    cache.load_overload = load_overload
    cache.save_overload = save_overload
    dispatcher._cache = cache
    return signed


def check_numba_internals():
    """Raise AssertionError naming what changed if Numba no longer has the
    internals `attach` relies on (tests/test_cache_security.py calls this)."""
    import inspect

    from numba.core import caching, dispatcher, runtime

    problems = []
    compile_src = inspect.getsource(dispatcher.Dispatcher.compile)
    for call in ("self._cache.load_overload(", "self._cache.save_overload("):
        if call not in compile_src:
            problems.append(f"Dispatcher.compile no longer calls {call[:-1]}")
    for name in ("_load_overload", "_save_overload", "_index_key"):
        if not callable(getattr(caching.Cache, name, None)):
            problems.append(f"numba.core.caching.Cache.{name} is gone")
    init = inspect.getsource(caching.Cache.__init__)
    for attr in ("self._cache_file", "self._cache_path", "self._impl"):
        if attr not in init:
            problems.append(f"Cache.__init__ no longer sets {attr}")
    for name in ("_load_overload", "_save_overload"):
        method = getattr(caching.Cache, name, None)
        if method is not None and "self._cache_file" not in inspect.getsource(method):
            problems.append(f"Cache.{name} no longer goes through _cache_file")
    if not hasattr(caching.CacheImpl, "filename_base"):
        problems.append("CacheImpl.filename_base is gone")
    if not callable(getattr(getattr(runtime, "rtsys", None), "initialize", None)):
        problems.append("numba.core.runtime.rtsys.initialize is gone")
    if problems:
        raise AssertionError("nbad/numba_cache.py relies on Numba internals that changed: "
                             + "; ".join(problems))
