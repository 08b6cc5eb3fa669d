"""Three bodies on the figure-eight orbit, integrated with forces = -grad(potential).

Three equal masses (G = m = 1) attract each other by Newtonian gravity,

    U(q) = - sum_{i<j} m_i m_j / |q_i - q_j|,

and are started on the periodic figure-eight choreography found by Moore and
proved by Chenciner and Montgomery (initial conditions of Simo): the bodies
chase each other along one figure eight and are back where they started after
one period, T = 6.32591398. The force on the bodies is never written by hand:
it is -nbad.grad(U), traced once into the loop body. The integrator is
velocity Verlet (kick, drift, kick), one lax.fori_loop inside nbad.jit, so the
compile time does not depend on the number of steps. Verlet is symplectic: the
total energy E = sum |p_i|^2 / 2 m_i + U(q) is not conserved exactly but its
error stays bounded, of order dt^2, instead of drifting.

The script integrates one period with several step sizes and prints the
energy drift (relative to |E0|) and how far the bodies end from where they
started (it falls as dt^2 until the 8 digits of the initial conditions limit
it), with the compile and run times. The step count is static (a new count
compiles again, as fast); a static fori_loop runs as a scan.

    python examples/nbody.py [--steps N ...]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import nbad
import nbad.numpy as jnp
from nbad import lax

PERIOD = 6.32591398
MASSES = np.ones(3)
POSITIONS = np.array([[-0.97000436, 0.24308753], [0.97000436, -0.24308753], [0.0, 0.0]])
_V3 = np.array([-0.93240737, -0.86473146])
VELOCITIES = np.array([-_V3 / 2, -_V3 / 2, _V3])


def potential(q, masses):
    """Gravitational energy of bodies at q (n x 2). The diagonal pairs (a body with
    itself) get distance 1 and weight 0, so neither the energy nor its gradient
    sees a division by zero."""
    n = q.shape[0]
    eye = jnp.eye(n)
    diff = q[:, None, :] - q[None, :, :]
    distance = jnp.sqrt(jnp.sum(diff * diff, axis=-1) + eye)
    pair_mass = masses[:, None] * masses[None, :] * (1.0 - eye)
    return -0.5 * jnp.sum(pair_mass / distance)


def energy(q, p, masses):
    return jnp.sum(p * p / (2.0 * masses[:, None])) + potential(q, masses)


def force(q, masses):
    return -nbad.grad(potential)(q, masses)


def verlet(q, p, masses, dt, steps):
    """`steps` velocity-Verlet steps of size dt from positions q and momenta p."""
    def step(_, state):
        q, p, f = state
        p_half = p + 0.5 * dt * f
        q = q + dt * p_half / masses[:, None]
        f = force(q, masses)
        return q, p_half + 0.5 * dt * f, f

    q, p, _ = lax.fori_loop(0, steps, step, (q, p, force(q, masses)))
    return q, p


simulate = nbad.jit(verlet, static_argnums=4)


def force_numpy(q, masses):
    """The analytic gravitational force, the reference of the tests."""
    diff = q[:, None, :] - q[None, :, :]
    r2 = np.sum(diff * diff, axis=-1) + np.eye(len(q))
    weight = masses[:, None] * masses[None, :] * (1.0 - np.eye(len(q))) / r2 ** 1.5
    return -np.sum(weight[:, :, None] * diff, axis=1)


def verlet_numpy(q, p, masses, dt, steps):
    f = force_numpy(q, masses)
    for _ in range(steps):
        p_half = p + 0.5 * dt * f
        q = q + dt * p_half / masses[:, None]
        f = force_numpy(q, masses)
        p = p_half + 0.5 * dt * f
    return q, p


def one_period(steps):
    """(energy drift relative to |E0|, distance from the start, seconds of the first
    call, seconds of a steady call) for one period in `steps` steps."""
    p0 = MASSES[:, None] * VELOCITIES
    dt = PERIOD / steps
    start = time.perf_counter()
    q, p = simulate(POSITIONS, p0, MASSES, dt, steps)
    first = time.perf_counter() - start
    start = time.perf_counter()
    q, p = simulate(POSITIONS, p0, MASSES, dt, steps)
    steady = time.perf_counter() - start
    e0 = float(energy(POSITIONS, p0, MASSES))
    drift = abs(float(energy(q, p, MASSES)) - e0) / abs(e0)
    return drift, float(np.max(np.abs(np.asarray(q) - POSITIONS))), first, steady


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 10000, 100000])
    args = parser.parse_args(argv)
    print(f"figure-eight three-body orbit, one period T = {PERIOD}, E0 = "
          f"{float(energy(POSITIONS, MASSES[:, None] * VELOCITIES, MASSES)):.8f}")
    results = []
    for steps in args.steps:
        drift, miss, first, steady = one_period(steps)
        results.append((drift, miss))
        print(f"{steps:7d} steps (dt {PERIOD / steps:.1e}): energy drift {drift:.2e}, back at the start to "
              f"{miss:.2e}; first call {first:.2f} s, then {steady * 1e3:.2f} ms")
    return results


if __name__ == "__main__":
    main()
