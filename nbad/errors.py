"""nbad's exceptions.

Each class derives from the builtin class JAX raises for the same mistake, so
code written to catch JAX's errors catches nbad's (DESIGN §1).
"""


class NbadError(Exception):
    """Base class of every nbad-specific error."""


class ConcretizationError(NbadError, TypeError):
    """A traced (abstract) value was used where Python needs a concrete one."""


class TracerArrayConversionError(NbadError, TypeError):
    """np.asarray / np.array was called on a traced value."""


class TracerIntegerConversionError(ConcretizationError):
    """int(), operator.index() or a shape argument got a traced value."""


class UnexpectedTracerError(NbadError, TypeError):
    """A tracer escaped the transformation that created it."""


class ShapeError(NbadError, ValueError, TypeError):
    """Operand shapes are incompatible (broadcasting, dot, concatenate ...).

    jax.numpy raises ValueError for these (jnp.add, matmul, stack, solve ...),
    jax.lax TypeError for the same mistakes one level down (lax.add,
    broadcast_in_dim): a ShapeError is both, so either `except` catches it."""


class NbadTypeError(NbadError, TypeError):
    """An argument of the wrong type or dtype reached an nbad API."""


class NbadValueError(NbadError, ValueError):
    """An argument has the right type but an invalid value."""


class NbadOverflowError(NbadError, OverflowError):
    """A Python int that no nbad integer type holds (beyond int64)."""


class NbadIndexError(NbadError, IndexError):
    """An index out of range or of an unsupported kind."""


class InvalidIndexError(NbadIndexError, TypeError):
    """An index of the wrong type (a float): NumPy raises IndexError, JAX TypeError."""


class NonStaticSliceError(ConcretizationError, IndexError):
    """A slice bound that is a traced value (JAX: IndexError)."""


class NbadZeroDivisionError(NbadError, ZeroDivisionError):
    """A zero step or divisor where NumPy and JAX raise ZeroDivisionError (arange)."""


class InPlaceUpdateError(NbadError, TypeError):
    """`x[i] = v` on an immutable nbad array or tracer."""


class NbadCompileError(NbadError, RuntimeError):
    """Numba rejected code that nbad generated: a bug in nbad, reported with context."""


class NbadNotImplementedError(NbadError, NotImplementedError):
    """A feature nbad does not have (yet); the message says what to use instead."""


class MissingRuleError(NbadError, NotImplementedError):
    """A primitive lacks the rule a transformation needs."""


def concretization_message(what: str, aval, fn_name: str | None = None) -> str:
    where = f" in {fn_name}" if fn_name else ""
    return (
        f"Abstract tracer value encountered where a concrete value is expected{where}: "
        f"{what} of a traced value with shape/dtype {aval}.\n"
        "Under nbad.jit, array values are abstract: only their shapes and dtypes are known "
        "while the function is traced, so Python control flow (if/while/bool/int/float) "
        "cannot depend on them. Possible fixes:\n"
        "  * mark the argument static: nbad.jit(f, static_argnums=...) or static_argnames=...;\n"
        "  * select values without branching: nbad.numpy.where(cond, a, b);\n"
        "  * use structured control flow: nbad.lax.cond / nbad.lax.switch / nbad.lax.while_loop / "
        "nbad.lax.fori_loop / nbad.lax.scan."
    )
