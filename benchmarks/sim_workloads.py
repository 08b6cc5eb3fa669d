"""The `simulations` table of benchmarks/run.py (issue 12): value_and_grad of
the PID-controlled bathtub's loss (examples/pid.py) at T = 100, 1000, 10000
steps, written as lax.scan, as lax.fori_loop and as a Python loop (rerolled
into a scan inside jit), vs JAX's lax.scan and autograd's Python loop (eager).
JAX's Python loop is left out: JAX unrolls it (9.8 s to compile at T = 100).
A last row does the same for the projectile with quadratic drag of
examples/projectile.py (400 steps, value_and_grad of the miss distance with
respect to the launch velocity): nbad's lax.scan and Python loop vs JAX's
lax.scan and autograd's Python loop.

nbad's figures come from a fresh process per row (NBAD_CACHE=0), so the scan
compile time is cold: tracing, Numba compiling every kernel and native loop
(the fori_loop and Python-loop versions follow in the same process and share
some kernels).
JAX runs in this process (it compiles every shape anew). The disturbance is
D[t] = 0.01 sin(0.37 t) for every peer, so the fori_loop version (which
computes it from t) has the same loss; every result is checked against JAX's
(rtol 1e-8).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from _common import fmt_ratio, fmt_time, markdown_table, record_error, time_call

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GAINS = np.array([0.1, 0.01, 0.0])
AREA, DRAIN, GRAVITY, H0 = 10.0, 0.1, 9.8, 1.0


def disturbance(steps):
    return 0.01 * np.sin(0.37 * np.arange(steps))


_NBAD_ROW = """
import json, sys, time
sys.path[:0] = [{root!r}, {root!r} + "/examples", {root!r} + "/benchmarks"]
import numpy as np
import nbad
from _common import time_call
from pid import pid_loss, pid_loss_fori, pid_loss_python_loop
steps, repeats = {steps}, {repeats}
D = 0.01 * np.sin(0.37 * np.arange(steps))
gains = np.array([0.1, 0.01, 0.0])
out = {{}}
for name, fn in (("scan", pid_loss), ("fori", pid_loss_fori), ("python", pid_loss_python_loop)):
    f = nbad.jit(nbad.value_and_grad(fn))
    start = time.perf_counter()
    value, grad = f(gains, D)
    first = time.perf_counter() - start
    steady = time_call(f, gains, D, repeats=repeats)
    out[name] = [first - steady, steady, float(value), [float(g) for g in grad]]
print(json.dumps(out))
"""


_NBAD_PROJECTILE_ROW = """
import json, sys, time
sys.path[:0] = [{root!r}, {root!r} + "/examples", {root!r} + "/benchmarks"]
import numpy as np
import nbad
from _common import time_call
from projectile import miss_loss, miss_loss_python_loop
steps, repeats = {steps}, {repeats}
velocity, target = np.array({velocity!r}), np.array({target!r})
out = {{}}
for name, fn in (("scan", miss_loss), ("python", miss_loss_python_loop)):
    f = nbad.jit(nbad.value_and_grad(fn), static_argnums=2)
    start = time.perf_counter()
    value, grad = f(velocity, target, steps)
    first = time.perf_counter() - start
    steady = time_call(f, velocity, target, steps, repeats=repeats)
    out[name] = [first - steady, steady, float(value), [float(g) for g in grad]]
print(json.dumps(out))
"""
PROJECTILE_STEPS, VELOCITY, TARGET = 400, [10.0, 10.0], [40.0, 5.0]
GRAVITY_PROJECTILE, DRAG, FLIGHT_TIME = 9.81, 0.02, 4.0


def _run_nbad(script):
    env = dict(os.environ, NBAD_CACHE="0")
    proc = subprocess.run([sys.executable, "-c", script],
                          capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _nbad_row(steps, repeats):
    return _run_nbad(_NBAD_ROW.format(root=_ROOT, steps=steps, repeats=repeats))


def _nbad_projectile_row(repeats):
    return _run_nbad(_NBAD_PROJECTILE_ROW.format(root=_ROOT, steps=PROJECTILE_STEPS, repeats=repeats,
                                                 velocity=VELOCITY, target=TARGET))


def _drag_step(state, dt, sqrt):
    x, y, vx, vy = state
    speed = sqrt(vx * vx + vy * vy)
    vx = vx - dt * DRAG * speed * vx
    vy = vy - dt * (GRAVITY_PROJECTILE + DRAG * speed * vy)
    return x + dt * vx, y + dt * vy, vx, vy


def _jax_projectile(jax, jnp):
    def loss(velocity, target):
        dt = FLIGHT_TIME / PROJECTILE_STEPS
        state = (0.0, 0.0, velocity[0], velocity[1])
        (x, y, _, _), _ = jax.lax.scan(lambda s, _: (_drag_step(s, dt, jnp.sqrt), None), state, None,
                                       length=PROJECTILE_STEPS)
        return 0.5 * ((x - target[0]) ** 2 + (y - target[1]) ** 2)

    return jax.jit(jax.value_and_grad(loss))


def _autograd_projectile():
    import autograd
    import autograd.numpy as anp

    def loss(velocity, target):
        state = (0.0, 0.0, velocity[0], velocity[1])
        for _ in range(PROJECTILE_STEPS):
            state = _drag_step(state, FLIGHT_TIME / PROJECTILE_STEPS, anp.sqrt)
        return 0.5 * ((state[0] - target[0]) ** 2 + (state[1] - target[1]) ** 2)

    return autograd.value_and_grad(loss)


def _peer_figures(jax, jax_vg, autograd_vg, args, repeats):
    """(JAX steady, JAX compile, JAX's value and gradient, autograd steady); None where a peer is missing."""
    jax_steady = jax_compile = want = ag_steady = None
    if jax_vg is not None:
        import time

        start = time.perf_counter()
        value, grad = jax.block_until_ready(jax_vg(*args))
        first = time.perf_counter() - start
        jax_steady = time_call(jax_vg, *args, repeats=repeats, sync=jax.block_until_ready)
        jax_compile = first - jax_steady
        want = [float(value)] + [float(g) for g in grad]
    if autograd_vg is not None:
        ag_steady = time_call(autograd_vg, *args, repeats=min(repeats, 3))
    return jax_steady, jax_compile, want, ag_steady


def _row(label, got, names, peers):
    """One table row of nbad's figures `got` (per way of writing the loop) and the peers'."""
    jax_steady, jax_compile, want, ag_steady = peers
    marks = []
    for name in names:
        mine = [got[name][2]] + got[name][3]
        if want is not None and not np.allclose(mine, want, rtol=1e-8, atol=1e-14):
            marks.append(f"{name} differs from JAX")

    def figure(name, index):
        return fmt_time(got[name][index]) if name in got else "-"

    row = [label, figure("scan", 1), figure("fori", 1), figure("python", 1), fmt_time(jax_steady),
           fmt_time(ag_steady), fmt_ratio(jax_steady, got["scan"][1]), figure("scan", 0), figure("fori", 0),
           figure("python", 0), fmt_time(jax_compile), "✗ " + "; ".join(marks) if marks else "✓"]
    return row, bool(marks)


def _jax_loss(jax, jnp):
    def loss(gains, D):
        kp, ki, kd = gains[0], gains[1], gains[2]

        def step(carry, d):
            h, integral, previous = carry
            error = H0 - h
            integral = integral + error
            u = kp * error + ki * integral + kd * (error - previous)
            outflow = DRAIN * jnp.sqrt(2.0 * GRAVITY * jnp.maximum(h, 0.0))
            return (h + (u + d - outflow) / AREA, integral, error), error * error

        _, squared = jax.lax.scan(step, (H0, 0.0, 0.0), D)
        return jnp.mean(squared)

    return jax.jit(jax.value_and_grad(loss))


def _autograd_loss():
    import autograd
    import autograd.numpy as anp

    def loss(gains, D):
        kp, ki, kd = gains[0], gains[1], gains[2]
        h, integral, previous, total = H0, 0.0, 0.0, 0.0
        for d in D:
            error = H0 - h
            integral = integral + error
            u = kp * error + ki * integral + kd * (error - previous)
            h = h + (u + d - DRAIN * anp.sqrt(2.0 * GRAVITY * anp.maximum(h, 0.0))) / AREA
            previous, total = error, total + error * error
        return total / len(D)

    return autograd.value_and_grad(loss)


def simulations_table(quick, repeats, errors):
    """Print the table; True if a result disagreed with JAX's."""
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jax_vg, jax_projectile = _jax_loss(jax, jnp), _jax_projectile(jax, jnp)
    except ImportError:
        jax = jax_vg = jax_projectile = None
    try:
        autograd_vg, autograd_projectile = _autograd_loss(), _autograd_projectile()
    except ImportError:
        autograd_vg = autograd_projectile = None
    rows, failed = [], False
    for steps in ((100, 1000) if quick else (100, 1000, 10000)):
        print(f"running simulations T={steps} ...", file=sys.stderr, flush=True)
        D = disturbance(steps)
        peers = _peer_figures(jax, jax_vg, autograd_vg if steps <= 1000 else None, (GAINS, D), repeats)
        try:
            got = _nbad_row(steps, repeats)
        except Exception as e:  # noqa: BLE001 - the table goes on
            record_error(errors, f"simulations T={steps}", e)
            continue
        row, differs = _row(f"PID loss, T = {steps}", got, ("scan", "fori", "python"), peers)
        rows.append(row)
        failed |= differs
    print(f"running simulations projectile T={PROJECTILE_STEPS} ...", file=sys.stderr, flush=True)
    peers = _peer_figures(jax, jax_projectile, autograd_projectile, (np.array(VELOCITY), np.array(TARGET)),
                          repeats)
    try:
        row, differs = _row(f"projectile, T = {PROJECTILE_STEPS}", _nbad_projectile_row(repeats),
                            ("scan", "python"), peers)
        rows.append(row)
        failed |= differs
    except Exception as e:  # noqa: BLE001 - the table goes on
        record_error(errors, f"simulations projectile T={PROJECTILE_STEPS}", e)
    header = ["value_and_grad of", "nbad scan", "nbad fori_loop", "nbad Python loop",
              "JAX scan", "autograd (Python loop)", "JAX/nbad scan", "nbad scan compile (cold)",
              "nbad fori compile (cold)", "nbad Python loop compile (cold)", "JAX compile", "= JAX"]
    print(markdown_table(header, rows))
    return failed
