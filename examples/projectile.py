"""Aiming a projectile with quadratic drag by gradient descent on its launch velocity.

A ball leaves the origin with velocity (vx, vy) and flies for a fixed time
under gravity and air resistance proportional to the square of its speed:

    dv/dt = -g e_y - k |v| v,        dx/dt = v

integrated by semi-implicit (symplectic) Euler over 400 steps of dt, written
as one lax.scan. The loss is half the squared distance between where the ball
is at the end of the flight and the target; its gradient with respect to
(vx, vy) comes from nbad.jit(nbad.value_and_grad(loss)), i.e. reverse mode
through the whole integration (a forward native loop storing each step's
residuals, a backward native loop reading them). Drag makes the problem
nonlinear: there is no closed-form launch velocity, but gradient descent
finds it, the miss distance shrinking every few iterations.

    python examples/projectile.py [--steps N] [--iterations M] [--target X Y]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import nbad
import nbad.numpy as jnp
from nbad import lax

GRAVITY = 9.81   # m/s^2
DRAG = 0.02      # k in 1/m: the drag deceleration is k |v|^2
FLIGHT_TIME = 4.0  # s


def drag_step(state, dt):
    """One semi-implicit Euler step of (x, y, vx, vy): the velocity first, then
    the position with the new velocity."""
    x, y, vx, vy = state
    speed = jnp.sqrt(vx * vx + vy * vy)
    vx = vx - dt * DRAG * speed * vx
    vy = vy - dt * (GRAVITY + DRAG * speed * vy)
    return x + dt * vx, y + dt * vy, vx, vy


def fly(velocity, steps, dt):
    """The final (x, y) and the trajectory (steps x 2) of a ball launched from
    the origin at `velocity`."""
    def step(state, _):
        state = drag_step(state, dt)
        return state, jnp.stack([state[0], state[1]])

    start = (0.0, 0.0, velocity[0], velocity[1])
    (x, y, _, _), path = lax.scan(step, start, None, length=steps)
    return jnp.stack([x, y]), path


def miss_loss(velocity, target, steps=400):
    """Half the squared distance from the ball's final position to `target`."""
    final, _ = fly(velocity, steps, FLIGHT_TIME / steps)
    return 0.5 * jnp.sum((final - target) ** 2)


def miss_loss_python_loop(velocity, target, steps=400):
    """The loss with the flight written as a plain Python loop: inside jit, nbad
    rerolls the traced steps into one scan, so it compiles like miss_loss."""
    state = (0.0, 0.0, velocity[0], velocity[1])
    for _ in range(steps):
        state = drag_step(state, FLIGHT_TIME / steps)
    return 0.5 * ((state[0] - target[0]) ** 2 + (state[1] - target[1]) ** 2)


miss_loss_and_grad = nbad.jit(nbad.value_and_grad(miss_loss), static_argnums=2)


def fly_numpy(velocity, steps, dt):
    """The same integration as a NumPy loop (the reference of the tests)."""
    state = (0.0, 0.0, float(velocity[0]), float(velocity[1]))
    path = np.empty((steps, 2))
    for t in range(steps):
        x, y, vx, vy = state
        speed = np.sqrt(vx * vx + vy * vy)
        vx = vx - dt * DRAG * speed * vx
        vy = vy - dt * (GRAVITY + DRAG * speed * vy)
        state = (x + dt * vx, y + dt * vy, vx, vy)
        path[t] = state[:2]
    return np.array(state[:2]), path


def aim(target, steps=400, iterations=60, lr=0.08, velocity=(10.0, 10.0), report=None):
    """Gradient descent on the launch velocity; returns (velocity, miss distance)."""
    target = np.asarray(target, dtype=np.float64)
    velocity = np.asarray(velocity, dtype=np.float64)
    start = time.perf_counter()
    miss_loss_and_grad(velocity, target, steps)
    if report:
        print(f"{steps} steps: first call (trace, compile) {time.perf_counter() - start:.2f} s")
    for i in range(iterations):
        loss, grad = miss_loss_and_grad(velocity, target, steps)
        if report and (i % report == 0 or i == iterations - 1):
            print(f"iteration {i:3d}  loss {float(loss):10.3e}  miss {np.sqrt(2 * float(loss)):8.4f} m  "
                  f"v0 = ({velocity[0]:7.3f}, {velocity[1]:7.3f}) m/s")
        velocity = velocity - lr * np.asarray(grad)
    loss, _ = miss_loss_and_grad(velocity, target, steps)
    return velocity, float(np.sqrt(2 * float(loss)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--lr", type=float, default=0.08)
    parser.add_argument("--target", type=float, nargs=2, default=(40.0, 5.0), metavar=("X", "Y"))
    args = parser.parse_args(argv)
    print(f"target ({args.target[0]}, {args.target[1]}) m, flight time {FLIGHT_TIME} s, "
          f"drag k = {DRAG}/m")
    velocity, miss = aim(args.target, args.steps, args.iterations, args.lr,
                         report=max(1, args.iterations // 10))
    final, path = fly_numpy(velocity, args.steps, FLIGHT_TIME / args.steps)
    print(f"launch at ({velocity[0]:.3f}, {velocity[1]:.3f}) m/s: lands at ({final[0]:.3f}, {final[1]:.3f}), "
          f"miss {miss:.2e} m, apex {path[:, 1].max():.2f} m")
    target = np.asarray(args.target)
    start = time.perf_counter()
    for _ in range(100):
        miss_loss_and_grad(velocity, target, args.steps)
    print(f"value_and_grad of the {args.steps}-step flight: {(time.perf_counter() - start) * 1e4:.1f} us a call")
    return miss


if __name__ == "__main__":
    main()
