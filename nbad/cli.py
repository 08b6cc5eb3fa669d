"""The ``nbad`` command line: ``nbad info``, ``nbad demo``.

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
    from nbad.codegen import threads

    return f"{threads.num_threads()} (nbad's pool over nogil Numba kernels)"


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
        ("nbad debug", f"{config.debug} (NBAD_DEBUG)"),
        ("nbad cache dir", f"{config.cache_dir or 'platform default'} (NBAD_CACHE_DIR)"),
        ("numba cache dir", f"{cache_env or 'next to the source (default)'} (NUMBA_CACHE_DIR)"),
        ("numba disable jit", str(bool(numba.config.DISABLE_JIT))),
        ("cuda", _cuda_info()),
    ]


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
