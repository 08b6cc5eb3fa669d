"""The `nbad` command line, run as a user runs it: in a subprocess."""
import os
import re
import subprocess
import sys

import pytest

from nbad import cli


def run_nbad(*args, timeout=600):
    env = dict(os.environ, NBAD_NUM_THREADS=os.environ.get("NBAD_NUM_THREADS", "1"))
    return subprocess.run([sys.executable, "-m", "nbad", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_info():
    proc = run_nbad("info")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ["nbad", "python", "numba", "llvmlite", "numpy", "scipy", "cpu count",
                 "nbad threads", "nbad num_threads", "numba cache dir", "cuda"]:
        assert any(line.startswith(name + " ") for line in out.splitlines()), (name, out)
    import numba
    import numpy

    assert numba.__version__ in out and numpy.__version__ in out
    assert "nbad num_threads   1" in out


def test_help_and_no_command():
    proc = run_nbad("--help")
    assert proc.returncode == 0
    assert "info" in proc.stdout and "demo" in proc.stdout and "cache" in proc.stdout
    proc = run_nbad()
    assert proc.returncode == 2 and "COMMAND" in proc.stdout


def test_unknown_command_fails():
    proc = run_nbad("frobnicate")
    assert proc.returncode != 0
    assert "invalid choice" in proc.stderr


def test_parser_in_process():
    args = cli.build_parser().parse_args(["demo", "--quick"])
    assert args.quick and args.func is cli.cmd_demo


def test_demo_quick():
    proc = run_nbad("demo", "--quick")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "func @" in out  # the IR
    assert "SELU" in out and "softmax" in out and "per-example gradients" in out
    assert "= map " in out  # vmap(grad(f)): one map equation holding the backward pass
    assert "speed-up vs NumPy" in out
    assert "all results equal NumPy's" in out
    assert "= scan " in out  # the Python loop inside jit, rerolled
    verdicts = re.findall(r"^\s*equals NumPy[^\n]*?\s(yes|NO)\s", out, flags=re.M)
    assert verdicts == ["yes", "yes", "yes", "yes"], out
    assert "projectile" in out and "central differences: yes" in out
    misses = [float(m) for m in re.findall(r"^\s*iteration\s+\d+\s+miss\s+(\S+) m", out, flags=re.M)]
    assert len(misses) == 5 and all(b < a for a, b in zip(misses, misses[1:])), out


@pytest.mark.parametrize("name", ["info", "demo", "cache"])
def test_subcommand_help(name):
    proc = run_nbad(name, "--help")
    assert proc.returncode == 0 and f"usage: nbad {name}" in proc.stdout


def test_cache_parser_in_process(capsys):
    parser = cli.build_parser()
    for sub, func in [("list", cli.cmd_cache_list), ("stats", cli.cmd_cache_stats),
                      ("dir", cli.cmd_cache_dir), ("clear", cli.cmd_cache_clear)]:
        assert parser.parse_args(["cache", sub]).func is func
    args = parser.parse_args(["cache", "show", "ab12"])
    assert args.func is cli.cmd_cache_show and args.key == "ab12"
    args = parser.parse_args(["cache", "clear", "--older-than", "7", "--function", "f"])
    assert args.older_than == 7.0 and args.function == "f"
    args = parser.parse_args(["cache", "list", "--sort", "hits"])
    assert args.sort == "hits"
    with pytest.raises(SystemExit):
        parser.parse_args(["cache", "list", "--sort", "nonsense"])
    capsys.readouterr()


def test_info_reports_cache_settings():
    proc = run_nbad("info")
    assert proc.returncode == 0, proc.stderr
    assert "nbad cache dir" in proc.stdout and os.environ["NBAD_CACHE_DIR"] in proc.stdout


def test_info_lists_the_blas_libraries_and_their_thread_counts():
    import threadpoolctl

    lines = dict(cli.info_lines())
    text = "\n".join(f"{k}  {v}" for k, v in cli.info_lines())
    assert "1 while nbad splits products across its threads" in lines["blas threads"]
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        libs = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        limited = "\n".join(f"{k}  {v}" for k, v in cli.info_lines())
    assert libs and all(i["filepath"] in text for i in libs)  # NumPy's and SciPy's OpenBLAS
    for i in libs:
        assert f"{i['version']} ({i['threading_layer']}, 1 thread outside nbad's calls) {i['filepath']}" \
            in limited
