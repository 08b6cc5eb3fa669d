"""Test-session settings, applied before nbad is imported.

- NBAD_NUM_THREADS=1 unless set: tests check results, not speed, and one thread
  keeps a test run on a shared or busy machine fast and its timings stable.
- NBAD_TYPECHECK=1 unless set: the IR is typechecked after every compiler pass.
- NBAD_CACHE_DIR: a fresh temporary directory per test process (removed at the
  end), so the suite runs with nbad's disk cache on without writing into the
  user's cache; NBAD_TEST_CACHE_DIR=PATH reuses PATH instead (kept). Subprocesses
  the tests start inherit it.
- Hypothesis profiles: "ci" (the default) is reproducible (derandomized, no
  deadline: the first call of a jitted function compiles) with a modest number
  of examples; "dev" explores more. Choose with HYPOTHESIS_PROFILE=dev.
- Markers: `slow` (long-running; deselect with -m "not slow") and `cuda`
  (needs a GPU or NUMBA_ENABLE_CUDASIM=1).
"""
import os
import shutil
import tempfile

os.environ.setdefault("NBAD_NUM_THREADS", "1")
os.environ.setdefault("NBAD_TYPECHECK", "1")
_SESSION_CACHE_DIR = None
if os.environ.get("NBAD_TEST_CACHE_DIR"):
    os.environ["NBAD_CACHE_DIR"] = os.environ["NBAD_TEST_CACHE_DIR"]
else:
    _SESSION_CACHE_DIR = os.environ["NBAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="nbad-test-cache-")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is in the `test` extra; tests that need it import it themselves
    settings = None

if settings is not None:
    settings.register_profile(
        "ci",
        deadline=None,
        max_examples=50,
        derandomize=True,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "dev",
        deadline=None,
        max_examples=300,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long-running test (deselect with -m 'not slow')")
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU or NUMBA_ENABLE_CUDASIM=1")


def pytest_unconfigure(config):
    if _SESSION_CACHE_DIR is not None:
        shutil.rmtree(_SESSION_CACHE_DIR, ignore_errors=True)
