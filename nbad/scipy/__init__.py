"""nbad.scipy: the parts of jax.scipy that nbad provides."""
from nbad.scipy import special  # noqa: F401
from nbad.scipy import stats  # noqa: F401
from nbad.scipy import linalg  # noqa: F401
