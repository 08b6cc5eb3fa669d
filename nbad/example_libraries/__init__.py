"""nbad.example_libraries: JAX's example libraries (optimizers) on nbad."""
from nbad.example_libraries import optimizers  # noqa: F401
