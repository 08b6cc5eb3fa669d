"""nbad.numpy: NumPy's API as compositions of nbad primitives (import as jnp)."""
from nbad.numpy._elementwise import *  # noqa: F401,F403
