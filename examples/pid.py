"""PID tuning by gradient descent through a 1000-step simulation (lax.scan).

The plant is the bathtub of the PID-control lecture in seed 000 (the IT3105
course project): a tub of cross-section A drains through a hole of
cross-section C, so water leaves at Q = C * sqrt(2 g H); the controller adds
U, a disturbance D[t] adds or removes a little more, and the height changes
by (U + D - Q) / A per step. The controller keeps the height at its start H0:

    E = H0 - H,   U = kp * E + ki * sum(E) + kd * (E - E_previous)

The loss is the mean squared error over T steps; kp, ki, kd are tuned by
gradient descent on it, with nbad.jit(nbad.value_and_grad(loss)). The
simulation is one lax.scan: one native loop, compiled in the same time
whatever T is.

    python examples/pid.py [--steps T] [--epochs M]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import nbad
import nbad.numpy as jnp
from nbad import lax

AREA, DRAIN, GRAVITY, H0 = 10.0, 0.1, 9.8, 1.0


def disturbance(steps: int, seed: int = 0) -> np.ndarray:
    """D[t]: uniform noise in [-0.01, 0.01], as in the course's plant."""
    return np.random.default_rng(seed).uniform(-0.01, 0.01, steps)


def plant_step(h, u, d):
    """The bathtub's next height."""
    outflow = DRAIN * jnp.sqrt(2.0 * GRAVITY * jnp.maximum(h, 0.0))
    return h + (u + d - outflow) / AREA


def pid_loss(gains, D):
    """Mean squared height error of the PID-controlled tub over len(D) steps (lax.scan)."""
    kp, ki, kd = gains[0], gains[1], gains[2]

    def step(carry, d):
        h, integral, previous = carry
        error = H0 - h
        integral = integral + error
        u = kp * error + ki * integral + kd * (error - previous)
        return (plant_step(h, u, d), integral, error), error * error

    _, squared = lax.scan(step, (H0, 0.0, 0.0), D)
    return jnp.mean(squared)


def pid_loss_fori(gains, D):
    """The loss as a lax.fori_loop whose carry accumulates the squared errors, for
    the disturbance D[t] = 0.01 sin(0.37 t), computed from the step number t.
    (Benchmarks compare it with pid_loss of that D. Reading D[t] at the traced
    step t works too, as a native loop, but its gradient is slower than the
    scan's: each backward step adds a one-hot cotangent of all of D.)"""
    kp, ki, kd = gains[0], gains[1], gains[2]
    steps = D.shape[0]

    def step(t, carry):
        h, integral, previous, total = carry
        d = 0.01 * jnp.sin(0.37 * t)
        error = H0 - h
        integral = integral + error
        u = kp * error + ki * integral + kd * (error - previous)
        return plant_step(h, u, d), integral, error, total + error * error

    return lax.fori_loop(0, steps, step, (H0, 0.0, 0.0, 0.0))[3] / steps


def pid_loss_python_loop(gains, D):
    """The loss written as a plain Python loop: inside jit, nbad rerolls the traced
    steps into one scan (D[t] becomes its xs), so it compiles like pid_loss."""
    kp, ki, kd = gains[0], gains[1], gains[2]
    h, integral, previous, total = H0, 0.0, 0.0, 0.0
    for t in range(D.shape[0]):
        error = H0 - h
        integral = integral + error
        u = kp * error + ki * integral + kd * (error - previous)
        h = plant_step(h, u, D[t])
        previous, total = error, total + error * error
    return total / D.shape[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args(argv)
    D = disturbance(args.steps)
    gains = np.array([0.1, 0.01, 0.0])
    loss_and_grad = nbad.jit(nbad.value_and_grad(pid_loss))
    start = time.perf_counter()
    loss, grad = loss_and_grad(gains, D)
    print(f"T = {args.steps} steps: first call (trace, compile) {time.perf_counter() - start:.2f} s")
    for epoch in range(args.epochs):
        loss, grad = loss_and_grad(gains, D)
        if epoch % 5 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch:3d}  loss {float(loss):.6f}  kp {gains[0]:.4f}  ki {gains[1]:.4f}  "
                  f"kd {gains[2]:.4f}")
        gains = gains - args.lr * np.asarray(grad)
    start = time.perf_counter()
    for _ in range(100):
        loss_and_grad(gains, D)
    print(f"value_and_grad of the {args.steps}-step simulation: "
          f"{(time.perf_counter() - start) * 1e4:.1f} us a call")


if __name__ == "__main__":
    main()
