"""The ``nbad`` command line: ``nbad info``, ``nbad demo``, ``nbad cache ...``.

``nbad cache list | show KEY | stats | clear [--older-than DAYS] [--function
NAME] | dir`` inspects the disk cache (nbad/cache.py) from its files alone: it
imports neither numba nor nbad's compiler.

Each subcommand is a function ``cmd_<name>(args) -> exit status`` registered in
``build_parser``; adding one (e.g. ``nbad cache ...``) is a new ``add_parser``
call and a new function.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys


def _version(module_name):
    try:
        module = __import__(module_name)
    except Exception as e:  # a broken install must not break `nbad info`
        return f"not importable ({type(e).__name__}: {e})"
    return getattr(module, "__version__", "unknown")


def _threading_info():
    """How nbad runs large loops: its own thread pool over nogil kernels."""
    from nbad.backends.cpu import threads

    return f"{threads.num_threads()} (nbad's pool over nogil Numba kernels)"


def _blas_lines():
    """The BLAS libraries nbad's calls reach (threadpoolctl's view), and what nbad
    does with their thread counts (backends/cpu/blas.py)."""
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (SciPy's BLAS: what Numba's np.dot calls)

        from nbad.backends.cpu import blas

        found = blas.info()
    except Exception as e:  # a broken install must not break `nbad info`
        return [("blas", f"unavailable ({type(e).__name__}: {e})")]
    env = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in
                    ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"))
    lines = [("blas threads", "set by nbad during its calls, the caller's count restored after: "
                              "1 while nbad splits products across its threads, nbad's thread count "
                              f"for products called whole (whatever {env} say)")]
    for lib in found:
        lines.append((f"blas {lib.get('internal_api', '?')}",
                      f"{lib.get('version')} ({lib.get('threading_layer', '?')}, "
                      f"{lib.get('num_threads')} thread{'' if lib.get('num_threads') == 1 else 's'} outside "
                      f"nbad's calls) {lib.get('filepath')}"))
    return lines or [("blas", "no BLAS library loaded")]


def _cuda_info():
    try:
        from numba import cuda
    except Exception as e:
        return f"unavailable (numba.cuda not importable: {type(e).__name__}: {e})"
    try:
        if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
            return "simulator (NUMBA_ENABLE_CUDASIM=1)"
        if not cuda.is_available():
            return "no GPU or driver found"
        names = []
        for gpu in cuda.gpus:
            with gpu:
                names.append(cuda.get_current_device().name)
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        return "available: " + ", ".join(names)
    except Exception as e:
        return f"unavailable ({type(e).__name__}: {e})"


def info_lines():
    """``(name, value)`` pairs describing this installation."""
    import numba

    import nbad
    from nbad.config import config

    nbad_threads = _threading_info()
    cache_env = os.environ.get("NUMBA_CACHE_DIR")
    return [
        ("nbad", f"{nbad.__version__} ({os.path.dirname(nbad.__file__)})"),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
        ("numba", _version("numba")),
        ("llvmlite", _version("llvmlite")),
        ("numpy", _version("numpy")),
        ("scipy", _version("scipy")),
        ("numba-cuda", _numba_cuda_version()),
        ("cpu count", str(os.cpu_count())),
        ("nbad threads", nbad_threads),
        ("nbad num_threads", f"{config.num_threads} (NBAD_NUM_THREADS={os.environ.get('NBAD_NUM_THREADS', 'unset')})"),
        ("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "unset")),
        *_blas_lines(),
        ("nbad debug", f"{config.debug} (NBAD_DEBUG)"),
        ("nbad cache dir", f"{_cache_dir()} ({'on' if config.cache else 'off'}: NBAD_CACHE; "
                           f"NBAD_CACHE_DIR{'' if config.cache_dir else ' unset: platform default'}; "
                           f"limit {_fmt_bytes(config.cache_max_bytes)}: NBAD_CACHE_MAX_BYTES)"),
        ("numba cache dir", f"{cache_env or 'next to the source (default)'} (NUMBA_CACHE_DIR)"),
        ("numba disable jit", str(bool(numba.config.DISABLE_JIT))),
        ("cuda", _cuda_info()),
    ]


def _cache_dir():
    from nbad import cache

    return cache.cache_dir()


def _numba_cuda_version():
    try:
        from importlib.metadata import version

        return version("numba-cuda")
    except Exception:
        return "not installed"


def cmd_info(args):
    lines = info_lines()
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"{name:<{width}}  {value}")
    return 0


def cmd_demo(args):
    from nbad import demo

    return demo.main(quick=args.quick)


# -- nbad cache ---------------------------------------------------------------------

def _fmt_bytes(n):
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _fmt_seconds(s):
    if s is None:
        return "-"
    s = float(s)
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def _fmt_when(t):
    if not t:
        return "-"
    import time

    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(t)))
    except (OverflowError, OSError, ValueError):  # (meta.json's fields are validated)
        return "-"


def _table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines)


# on meta.json validated field by field (cache_entries.clean_meta): a field is
# there with its type, or missing
_SORT_KEYS = {
    "last-used": (lambda m: m.get("last_used", 0.0), True),
    "created": (lambda m: m.get("created", 0.0), True),
    "size": (lambda m: m.get("size_bytes", 0), True),
    "compile": (lambda m: m.get("compile_seconds", 0.0), True),
    "hits": (lambda m: m.get("hits", 0), True),
    "function": (lambda m: m.get("function", ""), False),
    "key": (lambda m: m["key"], False),
}


def cmd_cache_dir(args):
    from nbad import cache

    print(cache.cache_dir())
    return 0


def cmd_cache_list(args):
    from nbad import cache

    metas = cache.list_programs()
    if not metas:
        print(f"cache is empty ({cache.cache_dir()})")
        return 0
    key, reverse = _SORT_KEYS[args.sort]
    metas.sort(key=lambda m: (not m.get("broken"), key(m)) if not m.get("broken") else (False, 0),
               reverse=reverse)
    rows = []
    for m in metas:
        if m.get("broken"):
            rows.append([m["key"][:12], "(unreadable meta.json)", "-", "-", "-", "-", "-", "-"])
            continue
        rows.append(_malformed_as_unknown(m, [
            ("key", m["key"][:12]), ("function", m.get("function", "?")),
            ("avals", " ".join(m.get("avals", [])) or "()"), ("target", m.get("target", "?")),
            ("size_bytes", _fmt_bytes(m.get("size_bytes", 0))),
            ("compile_seconds", _fmt_seconds(m.get("compile_seconds"))),
            ("hits", m.get("hits", 0)), ("last_used", _fmt_when(m.get("last_used")))]))
    print(_table(["KEY", "FUNCTION", "ARGUMENTS", "TARGET", "SIZE", "COMPILE", "HITS", "LAST USED"],
                 rows))
    print(f"\n{len(metas)} program(s) in {cache.cache_dir()}")
    return 0


def _malformed_as_unknown(meta, fields):
    """The values of (meta.json field, shown value) pairs, "?" for a malformed field."""
    return ["?" if name in meta["invalid"] else value for name, value in fields]


def cmd_cache_show(args):
    from nbad import cache

    try:
        m = cache.resolve(args.key)
    except cache.CacheKeyError as e:
        print(f"nbad cache show: {e}", file=sys.stderr)
        return 1
    if m.get("broken"):
        print(f"key       {m['key']}\n(meta.json unreadable: it will be rebuilt on next use)")
        return 0
    if m["invalid"]:
        print(f"(malformed meta.json fields, not shown: {', '.join(m['invalid'])}; the entry is "
              "rebuilt on next use)\n")
    fields = [("key", "key", m["key"]),
              ("function", "function", f"{m.get('module', '')}.{m.get('function', '')}"),
              ("arguments", "avals", " ".join(m.get("avals", [])) or "()"),
              ("target", "target", m.get("target")),
              ("size", "size_bytes", _fmt_bytes(m.get("size_bytes"))),
              ("compile time", "compile_seconds", _fmt_seconds(m.get("compile_seconds"))),
              ("hits", "hits", m.get("hits", 0)), ("misses", "misses", m.get("misses", 0)),
              ("created", "created", _fmt_when(m.get("created"))),
              ("last used", "last_used", _fmt_when(m.get("last_used"))),
              ("versions", "versions",
               " ".join(f"{k}={v}" for k, v in (m.get("versions") or {}).items())),
              ("kernels", "kernels", ", ".join(k[:18] for k in m.get("kernels", [])) or "-"),
              ("directory", "dir", m.get("dir"))]
    values = _malformed_as_unknown(m, [(name, value) for _, name, value in fields])
    width = max(len(label) for label, _, _ in fields)
    for (label, _, _), v in zip(fields, values):
        print(f"{label:<{width}}  {v}")
    print("\n# IR\n" + str(m.get("ir", "")).rstrip())
    print("\n# driver (generated Python)\n" + str(m.get("driver", "")).rstrip())
    for name in m.get("kernels", []):
        src = cache.kernel_source(name)
        print(f"\n# kernel {name}\n" + (src.rstrip() if src is not None else "(evicted)"))
    return 0


def cmd_cache_stats(args):
    from nbad import cache

    st = cache.stats()
    rate = "-" if st["hit_rate"] is None else f"{100 * st['hit_rate']:.1f}%"
    foreign = st["foreign"]
    lines = [("directory", st["dir"]),
             ("trusted", "yes" if st["trust"] is None else f"NO: {st['trust']} (cache off)"),
             ("programs", st["programs"]), ("kernels", st["kernels"]),
             ("size", f"{_fmt_bytes(st['bytes'])} ({st['bytes']} bytes; limit "
                      f"{_fmt_bytes(st['max_bytes'])}, NBAD_CACHE_MAX_BYTES)"),
             ("hits", st["hits"]), ("misses", st["misses"]), ("hit rate", rate),
             ("compile time saved", _fmt_seconds(st["compile_seconds_saved"])),
             ("malformed entries", st["malformed"]),
             ("not nbad's", f"{len(foreign)} path(s), "
                            f"{_fmt_bytes(sum(b for _, b in foreign))} (never deleted by nbad)")]
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k:<{width}}  {v}")
    for path, nbytes in foreign[:20]:
        print(f"  {os.path.relpath(path, st['dir'])}  ({_fmt_bytes(nbytes)})")
    if len(foreign) > 20:
        print(f"  ... and {len(foreign) - 20} more")
    return 0


def cmd_cache_clear(args):
    from nbad import cache

    if args.older_than is not None and args.older_than < 0:
        print("nbad cache clear: --older-than must be >= 0", file=sys.stderr)
        return 2
    r = cache.clear(older_than_days=args.older_than, function=args.function)
    print(f"removed {r['programs']} program(s), {r['kernels']} kernel(s), "
          f"{_fmt_bytes(r['bytes'])} from {cache.cache_dir()}")
    return 0


def _add_cache_parser(sub):
    p = sub.add_parser("cache", help="inspect and manage the disk cache of compiled code",
                       description="Inspect and manage nbad's disk cache ($NBAD_CACHE_DIR): compiled "
                                   "kernels and, per jitted function and signature, its metadata.")
    csub = p.add_subparsers(dest="cache_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    q = csub.add_parser("list", help="a table of the cached programs",
                        description="One row per jitted function and signature.")
    q.add_argument("--sort", choices=sorted(_SORT_KEYS), default="last-used",
                   help="sort column (default: last-used, newest first)")
    q.set_defaults(func=cmd_cache_list)
    q = csub.add_parser("show", help="IR, generated sources and metadata of one entry",
                        description="Show one entry; KEY may be any unambiguous prefix.")
    q.add_argument("key", metavar="KEY")
    q.set_defaults(func=cmd_cache_show)
    q = csub.add_parser("stats", help="entries, bytes, hit rate, compile time saved")
    q.set_defaults(func=cmd_cache_stats)
    q = csub.add_parser("clear", help="delete entries (all, or filtered)",
                        description="Delete cache entries: all of them, or those last used more than "
                                    "DAYS ago and/or of one function (kernels no remaining entry uses "
                                    "go with them).")
    q.add_argument("--older-than", type=float, metavar="DAYS")
    q.add_argument("--function", metavar="NAME", help="qualname, module.qualname or plain name")
    q.set_defaults(func=cmd_cache_clear)
    q = csub.add_parser("dir", help="print the cache directory")
    q.set_defaults(func=cmd_cache_dir)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nbad",
        description="nbad: a JAX-compatible array compiler on Numba.",
        epilog="Run `nbad COMMAND --help` for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="versions, threading layer, CPU count, CUDA availability",
                       description="Print versions of nbad and its dependencies, Numba's threading "
                                   "layer and thread counts, cache settings and CUDA availability.")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="jit on real workloads, side by side with NumPy",
                       description="Show what nbad.jit does: the IR of a small function, the "
                                   "generated source, compile time, and steady-state time against "
                                   "NumPy on SELU and a row softmax; checks results equal NumPy's.")
    p.add_argument("--quick", action="store_true", help="small sizes, few repeats (a few seconds)")
    p.set_defaults(func=cmd_demo)
    _add_cache_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
