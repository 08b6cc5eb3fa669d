"""nbad.numpy: NumPy's API as compositions of nbad primitives (import as jnp).

Outside any transformation each function runs eagerly and returns NumPy's
result as an nbad Array; under jit/grad/vmap it records primitives.
"""
from nbad.numpy._elementwise import *  # noqa: F401,F403
from nbad.numpy._creation import *  # noqa: F401,F403
from nbad.numpy._shape import *  # noqa: F401,F403
from nbad.numpy._reductions import *  # noqa: F401,F403
from nbad.numpy._indexing import *  # noqa: F401,F403
from nbad.numpy._linalg import *  # noqa: F401,F403
from nbad.numpy._sorting import *  # noqa: F401,F403
from nbad.numpy import linalg  # noqa: F401
from nbad.numpy import _methods  # noqa: F401  (installs operators on Tracer and Array)
from nbad.numpy._numeric import *  # noqa: F401,F403,E402
from nbad.numpy._setops import *  # noqa: F401,F403,E402
from nbad.numpy._types import ndarray  # noqa: F401,E402
from nbad.numpy._functional import *  # noqa: F401,F403,E402
from nbad.numpy._indices import *  # noqa: F401,F403,E402
from nbad.numpy._quantiles import *  # noqa: F401,F403,E402
