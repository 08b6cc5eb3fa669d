"""The IR typechecker (core/typecheck.py): it rejects what a broken pass makes,
accepts what tracing and every pass make (the suite runs with NBAD_TYPECHECK=1,
so every compiled program is checked after each pass), and names the pass."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.config import config
from nbad.core.avals import ShapedArray
from nbad.core.ir import IR, Equation, Literal, Var
from nbad.core.typecheck import IRTypeError, ir_pass, typecheck
from nbad.rules.elementwise import add_p
from nbad.rules.elementwise_math import sin_p

F3 = ShapedArray((3,), np.float64)


def _ir(equations, inputs, outputs):
    return IR(inputs, equations, outputs, name="t")


def test_suite_runs_with_the_typechecker_on():
    assert config.typecheck


def test_traced_and_transformed_irs_typecheck():
    def f(x, y):
        return jnp.sum(jnp.sin(x) * y + 1.0) / x.shape[0]

    x = np.arange(3.0)
    for g, args in [(f, (x, x)), (nbad.grad(f), (x, x)),
                    (nbad.vmap(nbad.grad(f), in_axes=(0, None)), (np.ones((2, 3)), x))]:
        typecheck(nbad.make_ir(g)(*args))


def test_wrong_result_aval_is_named():
    x, y = Var(F3), Var(ShapedArray((4,), np.float64))
    with pytest.raises(IRTypeError, match=r"equation 0 \(sin\) has results \(f64\[4\]\) but its inputs give \(f64\[3\]\)"):
        typecheck(_ir([Equation(sin_p, [x], [y], {})], [x], [y]))


def test_use_before_definition_and_double_definition():
    x, y, z = Var(F3), Var(F3), Var(F3)
    with pytest.raises(IRTypeError, match="reads .* before it is defined"):
        typecheck(_ir([Equation(add_p, [x, z], [y], {}), Equation(sin_p, [x], [z], {})], [x], [y]))
    with pytest.raises(IRTypeError, match="defined twice"):
        typecheck(_ir([Equation(sin_p, [x], [x], {})], [x], [x]))
    with pytest.raises(IRTypeError, match="never defined"):
        typecheck(_ir([], [x], [y]))


def test_rejection_by_abstract_eval_is_reported():
    x, y, z = Var(F3), Var(ShapedArray((4,), np.float64)), Var(F3)
    with pytest.raises(IRTypeError, match=r"equation 0 \(add\) is rejected by its abstract_eval"):
        typecheck(_ir([Equation(add_p, [x, y], [z], {})], [x, y], [z]))


def test_literals_and_sub_irs_are_checked():
    x, y = Var(F3), Var(F3)
    typecheck(_ir([Equation(add_p, [x, Literal(1.0)], [y], {})], [x], [y]))
    bx, by = Var(F3), Var(ShapedArray((4,), np.float64))
    broken_body = _ir([Equation(sin_p, [bx], [by], {})], [bx], [by])
    a, b = Var(F3), Var(F3)
    holder = Equation(add_p, [a, a], [b], {"body": broken_body})
    with pytest.raises(IRTypeError, match=r"IR @t: equation 0 \(sin\)"):
        typecheck(_ir([holder], [a], [b]))


def test_ir_pass_names_the_pass_that_broke_the_ir():
    @ir_pass
    def bad_pass(ir):
        return _ir([], ir.inputs, [Var(F3)])

    x = Var(F3)
    with pytest.raises(IRTypeError, match="after test_ir_pass_names_the_pass_that_broke_the_ir.<locals>.bad_pass"):
        bad_pass(_ir([], [x], [x]))
