"""Runtime settings, read from the environment once at import and changeable at run time.

    nbad.config.update("num_threads", 1)     # like jax.config.update(...)
    nbad.config.num_threads                  # -> 1

Settings (environment variable -> name):

- ``NBAD_NUM_THREADS`` -> ``num_threads`` (int or None). Threads across which
  compiled programs split large loops (backends/cpu/threads.py); None means all
  cores. Read at each call of a program plan, so ``update`` takes effect at once.
- ``NBAD_DEBUG`` -> ``debug`` (int, default 0). 0: silent; 1: print the IR of
  each program jit compiles; 2: also the fusion decisions (why two groups were
  or were not fused); 3: also the generated Python source. Output goes to
  stderr through ``log(level, text)``.
- ``NBAD_CACHE`` -> ``cache`` (bool, default True). The disk cache of compiled
  kernels and program metadata (nbad/cache.py); ``NBAD_CACHE=0`` or
  ``update("cache", False)`` turns it off (kernels then compile in memory only).
- ``NBAD_CACHE_DIR`` -> ``cache_dir`` (str or None). Where the disk cache lives;
  None means the platform's user cache directory (``$XDG_CACHE_HOME/nbad``,
  ``~/.cache/nbad`` on Linux).
- ``NBAD_CACHE_MAX_BYTES`` -> ``cache_max_bytes`` (int, default 2 GiB; suffixes
  K, M, G accepted). Above it the least recently used entries are evicted.
- ``NBAD_TYPECHECK`` -> ``typecheck`` (bool, default False). Typecheck the IR
  after every compiler pass (core/typecheck.py); on in the test suite and
  whenever ``debug >= 1``.
- ``NBAD_PLATFORM`` -> ``platform`` ("cpu", default, or "cuda"). The backend of
  ``jit`` without ``backend=``/``device=`` and of ``devices()`` (nbad/backends/).

Set at import, not a setting: ``OMP_WAIT_POLICY=PASSIVE`` (unless already set).
nbad's own kernels do not use OpenMP (they are split by nbad's thread pool), but
user code running Numba ``prange`` next to nbad would spin-wait and slow down
20x as soon as another process is busy on a core (numba-facts.md §6).

``update("jax_enable_x64", ...)`` is accepted and ignored so JAX programs run
unchanged: nbad always follows NumPy's dtypes (float64 by default).
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["config", "update", "log"]

_IGNORED_JAX_FLAGS = frozenset({"jax_enable_x64", "jax_platform_name", "jax_platforms"})


def _parse_optional_int(name, raw):
    if raw is None or str(raw).strip() in ("", "0", "none", "None"):
        return None
    return _parse_positive_int(name, raw)


def _parse_positive_int(name, raw):
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"nbad config: {name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"nbad config: {name} must be a positive integer, got {raw!r}")
    return value


def _parse_debug(name, raw):
    if raw is None or str(raw).strip() == "":
        return 0
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"nbad config: {name} must be an integer 0-3, got {raw!r}") from None
    return max(0, min(value, 3))


def _parse_bool(name, raw, default=True):
    if raw is None or str(raw).strip() == "":
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"nbad config: {name} must be 0/1 (or true/false), got {raw!r}")


_BYTE_SUFFIXES = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
DEFAULT_CACHE_MAX_BYTES = 2 << 30


def _parse_bytes(name, raw):
    if raw is None or str(raw).strip() == "":
        return DEFAULT_CACHE_MAX_BYTES
    text = str(raw).strip().lower().removesuffix("ib").removesuffix("b")
    scale = 1
    if text and text[-1] in _BYTE_SUFFIXES:
        scale, text = _BYTE_SUFFIXES[text[-1]], text[:-1]
    try:
        value = int(float(text) * scale)
    except ValueError:
        raise ValueError(f"nbad config: {name} must be a size in bytes (e.g. 500M), got {raw!r}") from None
    if value < 1:
        raise ValueError(f"nbad config: {name} must be positive, got {raw!r}")
    return value


def _parse_path(name, raw):
    if raw is None or str(raw).strip() == "":
        return None
    return os.path.expanduser(str(raw))


# name -> (environment variable, parser)
_SETTINGS = {
    "num_threads": ("NBAD_NUM_THREADS", _parse_optional_int),
    "debug": ("NBAD_DEBUG", _parse_debug),
    "cache": ("NBAD_CACHE", _parse_bool),
    "cache_dir": ("NBAD_CACHE_DIR", _parse_path),
    "cache_max_bytes": ("NBAD_CACHE_MAX_BYTES", _parse_bytes),
    "typecheck": ("NBAD_TYPECHECK", lambda name, raw: _parse_bool(name, raw, default=False)),
    "platform": ("NBAD_PLATFORM", lambda name, raw: _parse_platform(name, raw)),
}


def _parse_platform(name, raw):
    """The default backend of jit and devices(): "cpu" (default) or "cuda" ("gpu")."""
    if raw is None or str(raw).strip() == "":
        return "cpu"
    text = str(raw).strip().lower()
    if text not in ("cpu", "cuda", "gpu"):
        raise ValueError(f"nbad config: {name} must be 'cpu' or 'cuda', got {raw!r}")
    return "cuda" if text == "gpu" else text


_ON_UPDATE: dict = {}  # setting -> functions called after it changes (nbad.api: "platform")


class Config:
    """nbad's settings. Read them as attributes; change them with ``update``."""

    def __init__(self):
        values = {}
        for name, (env, parse) in _SETTINGS.items():
            raw = os.environ.get(env)
            try:
                values[name] = parse(env, raw)
            except ValueError as e:
                # A bad environment variable must not make `import nbad` fail.
                print(f"nbad: ignoring {env}={raw!r}: {e}", file=sys.stderr)
                values[name] = parse(env, None)
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        key = name[5:] if name.startswith("nbad_") else name
        if key in values:
            return values[key]
        raise AttributeError(f"nbad.config has no setting {name!r}; settings: {sorted(values)}")

    def __setattr__(self, name, value):
        raise AttributeError(f"use nbad.config.update({name!r}, value) to change a setting")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._values))

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"nbad.config({items})"

    def values(self):
        """A copy of all settings as a dict."""
        return dict(self._values)

    def update(self, name, value):
        """Change a setting: ``update("num_threads", 2)``, ``update("debug", 1)``."""
        if name in _IGNORED_JAX_FLAGS:
            return
        key = name[5:] if name.startswith("nbad_") else name
        if key not in _SETTINGS:
            raise AttributeError(
                f"nbad.config.update: unknown setting {name!r}; settings: {sorted(_SETTINGS)}"
            )
        env, parse = _SETTINGS[key]
        self._values[key] = parse(key, value)
        for hook in _ON_UPDATE.get(key, ()):
            hook()

    def log(self, level, text):
        """Print ``text`` to stderr when ``debug >= level`` (1: IR, 2: fusion decisions, 3: source)."""
        if self._values["debug"] >= level:
            print(text, file=sys.stderr, flush=True)


config = Config()
update = config.update


log = config.log


def __getattr__(name):
    # `nbad.config.num_threads` works on the module as well as on the `config` object.
    return getattr(config, name)
