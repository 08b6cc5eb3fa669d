"""The simulations of examples/ (issue 12): each core function against a NumPy
reference of the same physics, its gradients against finite differences, and
each script's main() run with small sizes."""
import os
import sys

import numpy as np

import nbad
from nbad.test_util import check_grads

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import nbody  # noqa: E402
import pid  # noqa: E402
import projectile  # noqa: E402


# --- projectile with quadratic drag ---------------------------------------------------------------

_fly = nbad.jit(projectile.fly, static_argnums=(1, 2))


def test_projectile_flight_equals_numpy_loop():
    velocity = np.array([18.0, 29.0])
    final, path = _fly(velocity, 400, 0.01)
    want_final, want_path = projectile.fly_numpy(velocity, 400, 0.01)
    np.testing.assert_allclose(np.asarray(path), want_path, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(final), want_final, rtol=1e-12, atol=1e-12)
    # drag at work: the ball lands short of the vacuum parabola's x = vx t
    assert want_final[0] < 18.0 * 4.0 - 1.0


def test_projectile_gradient_matches_finite_differences():
    target = np.array([40.0, 5.0])
    check_grads(lambda v: projectile.miss_loss(v, target, 40), (np.array([15.0, 20.0]),), order=2)


def test_projectile_jitted_gradient_matches_central_differences_of_numpy_loop():
    velocity, target = np.array([16.0, 26.0]), np.array([40.0, 5.0])
    _, grad = projectile.miss_loss_and_grad(velocity, target, 400)

    def loss_numpy(v):
        final, _ = projectile.fly_numpy(v, 400, projectile.FLIGHT_TIME / 400)
        return 0.5 * np.sum((final - target) ** 2)

    h = 1e-6
    want = [(loss_numpy(velocity + h * e) - loss_numpy(velocity - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-6)


def test_projectile_python_loop_is_rerolled_and_equals_the_scan():
    velocity, target = np.array([16.0, 26.0]), np.array([40.0, 5.0])
    loop = nbad.jit(nbad.value_and_grad(projectile.miss_loss_python_loop), static_argnums=2)
    ir = str(loop.lower(velocity, target, 400).ir)
    assert "= scan " in ir and len(ir.splitlines()) < 400
    value, grad = loop(velocity, target, 400)
    want_value, want_grad = projectile.miss_loss_and_grad(velocity, target, 400)
    np.testing.assert_allclose(float(value), float(want_value), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(want_grad), rtol=1e-10)


def test_projectile_main_hits_the_target(capsys):
    miss = projectile.main(["--iterations", "40"])
    out = capsys.readouterr().out
    misses = [float(line.split("miss")[1].split()[0]) for line in out.splitlines() if line.startswith("iteration")]
    assert len(misses) >= 5 and all(b < a for a, b in zip(misses, misses[1:]))
    assert miss < 0.05


# --- three bodies, forces = -grad(potential) ----------------------------------------------------

def test_nbody_force_is_minus_grad_potential():
    q = nbody.POSITIONS + 0.1 * np.random.default_rng(0).standard_normal((3, 2))
    masses = np.array([1.0, 2.0, 0.5])
    np.testing.assert_allclose(np.asarray(nbody.force(q, masses)), nbody.force_numpy(q, masses),
                               rtol=1e-13, atol=1e-13)
    check_grads(lambda q: nbody.potential(q, masses), (q,), order=2)


def test_nbody_verlet_equals_numpy_loop_and_conserves_energy():
    p0 = nbody.MASSES[:, None] * nbody.VELOCITIES
    dt = nbody.PERIOD / 1000
    q, p = nbody.simulate(nbody.POSITIONS, p0, nbody.MASSES, dt, 1000)
    want_q, want_p = nbody.verlet_numpy(nbody.POSITIONS, p0, nbody.MASSES, dt, 1000)
    np.testing.assert_allclose(np.asarray(q), want_q, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(np.asarray(p), want_p, rtol=1e-11, atol=1e-11)
    e0 = float(nbody.energy(nbody.POSITIONS, p0, nbody.MASSES))
    assert abs(float(nbody.energy(q, p, nbody.MASSES)) - e0) < 1e-7 * abs(e0)
    # one period of the figure eight brings the bodies back to their start
    assert np.max(np.abs(np.asarray(q) - nbody.POSITIONS)) < 1e-3


def test_nbody_main_error_falls_with_the_step(capsys):
    (drift_coarse, miss_coarse), (drift_fine, miss_fine) = nbody.main(["--steps", "500", "1000"])
    assert "energy drift" in capsys.readouterr().out
    assert drift_fine < drift_coarse < 1e-6
    assert miss_fine < miss_coarse / 3  # second order: halving dt quarters the error


# --- PID-controlled bathtub ---------------------------------------------------------------------

def _pid_loss_numpy(gains, D):
    kp, ki, kd = gains
    h, integral, previous, total = pid.H0, 0.0, 0.0, 0.0
    for d in D:
        error = pid.H0 - h
        integral = integral + error
        u = kp * error + ki * integral + kd * (error - previous)
        h = h + (u + d - pid.DRAIN * np.sqrt(2.0 * pid.GRAVITY * max(h, 0.0))) / pid.AREA
        previous, total = error, total + error * error
    return total / len(D)


_pid_value_and_grad = nbad.jit(nbad.value_and_grad(pid.pid_loss))


def test_pid_loss_equals_numpy_loop_and_gradient_matches():
    gains, D = np.array([0.3, 0.02, 0.1]), pid.disturbance(200)
    value, grad = _pid_value_and_grad(gains, D)
    assert abs(float(value) - _pid_loss_numpy(gains, D)) <= 1e-12 * abs(float(value))
    h = 1e-6
    want = [(_pid_loss_numpy(gains + h * e, D) - _pid_loss_numpy(gains - h * e, D)) / (2 * h)
            for e in np.eye(3)]
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-5, atol=1e-10)


def test_pid_main_loss_falls(capsys):
    pid.main(["--steps", "100", "--epochs", "11"])
    losses = [float(line.split("loss")[1].split()[0]) for line in capsys.readouterr().out.splitlines()
              if line.startswith("epoch")]
    assert len(losses) == 3 and losses[-1] < losses[0]
