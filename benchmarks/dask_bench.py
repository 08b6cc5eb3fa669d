"""The `dask` table of benchmarks/run.py (`--only dask`): nbad.dask.sweep of a
PID controller's value_and_grad (examples/pid.py) over a grid of gains, on a distributed
LocalCluster of 1 and of 2 worker processes (one thread each), against the
same points as one local jit(vmap) call.

Each sweep is timed after a warm-up sweep (the workers have compiled), so the
times are the steady state of a parameter study. "scaling" is the 1-worker
time over the 2-worker time (2 at best on 2 free cores); "overhead per task"
is (1-worker sweep time - local time) / number of tasks: what Dask adds per
task (scheduling, shipping the points and results, a worker's dispatch).
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

from _common import fmt_ratio, fmt_time, markdown_table

STEPS = 1000
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import pid  # noqa: E402  (examples/pid.py: the bathtub's PID loss as one lax.scan)

DISTURBANCE = pid.disturbance(STEPS)


def pid_point(kp, ki, kd):
    import nbad
    import nbad.numpy as jnp

    return nbad.value_and_grad(pid.pid_loss)(jnp.stack([kp, ki, kd]), DISTURBANCE)


def _median_time(fn, repeats):
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def dask_table(quick, repeats, errors):
    import cloudpickle
    import distributed

    import nbad
    import nbad.dask as nd

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cloudpickle.register_pickle_by_value(pid)  # workers need not find examples/
    n = 16 if quick else 32
    grids = (np.linspace(0.5, 2.0, n), np.linspace(0.0, 0.5, n), np.linspace(0.0, 0.2, 4))
    batch = 256
    points = n * n * 4
    tasks = -(-points // batch)
    P = np.stack([p.ravel() for p in np.meshgrid(*grids, indexing="ij")], axis=1)
    local = nbad.jit(nbad.vmap(nbad.value_and_grad(pid.pid_loss), in_axes=(0, None)))
    want = local(P, DISTURBANCE)
    t_local = _median_time(lambda: local(P, DISTURBANCE), repeats)
    env = {"NBAD_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
           "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "")}
    times = {}
    for workers in (1, 2):
        try:
            with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                          dashboard_address=None, env=env, silence_logs=40) as cluster, \
                    distributed.Client(cluster):
                value, grads = nd.sweep(pid_point, *grids, batch_size=batch)  # warm-up: workers compile
                if not (np.array_equal(value.ravel(), want[0]) and np.array_equal(grads.reshape(-1, 3), want[1])):
                    errors.append(f"dask sweep on {workers} workers differs from the local jit(vmap)")
                times[workers] = _median_time(lambda: nd.sweep(pid_point, *grids, batch_size=batch), repeats)
        except Exception as ex:  # noqa: BLE001 - the table goes on
            errors.append(f"dask sweep on {workers} workers: {type(ex).__name__}: {ex}")
    t1, t2 = times.get(1), times.get(2)
    overhead = (t1 - t_local) / tasks if t1 is not None else None
    rows = [[f"pid_sweep_{points}x{STEPS}", fmt_time(t_local), fmt_time(t1), fmt_time(t2),
             fmt_ratio(t1, t2), fmt_time(overhead), str(tasks)]]
    header = ["dask", "local jit(vmap)", "sweep, 1 worker", "sweep, 2 workers", "scaling 1→2",
              "overhead per task", "tasks"]
    print(markdown_table(header, rows))
    print(f"\nnbad.dask.sweep of value_and_grad(PID loss, a {STEPS}-step lax.scan) over a {n}x{n}x4 grid of gains, "
          f"{batch} points per task, on a distributed.LocalCluster (processes, 1 thread each), medians of "
          f"{repeats} sweeps after a warm-up sweep; local: the same points in one jit(vmap) call.")
    return False
