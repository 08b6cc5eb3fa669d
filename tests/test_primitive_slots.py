"""Every primitive's rule slots are declared on nbad.core.primitive and filled
with rules of the right kind: no half-added primitive, no misspelt slot."""
import pytest

import nbad  # noqa: F401  (registers every primitive)
import nbad.random  # noqa: F401
import nbad.scipy.special  # noqa: F401
from nbad.core.primitive import ALL_PRIMITIVES, OPTIONAL_SLOTS, RULE_SLOTS, Primitive
from nbad.errors import MissingRuleError


def test_every_primitive_has_its_required_rules():
    # every primitive evaluates and batches; a fused kernel computes an elementwise
    # primitive by its codegen template and a reduction by its reducer
    for name, prim in ALL_PRIMITIVES.items():
        for slot in ("abstract_eval", "impl", "vmap"):
            assert prim.has_rule(slot), f"{name} has no {slot} rule"
        if prim.kind == "elementwise":
            assert prim.has_rule("codegen"), f"{name} (elementwise) has no codegen rule"
        assert (prim.reducer is not None) == (prim.kind == "reduce"), name


def test_optional_slots_hold_their_absent_value_or_a_rule():
    for name, prim in ALL_PRIMITIVES.items():
        for slot, absent in OPTIONAL_SLOTS.items():
            value = getattr(prim, slot)
            if value is absent:
                continue
            if slot == "accepts_zero_cotangents":
                assert value is True, f"{name}.{slot} is {value!r}"
            elif slot == "reducer":
                assert isinstance(value.name, str), f"{name}.{slot} is {value!r}"
            else:
                assert callable(value), f"{name}.{slot} is {value!r}"


def test_primitives_holding_sub_programs_prune_and_take_zero_cotangents():
    # a loop or cond primitive: the pipeline plans its sub-IRs, DCE drops its unused
    # results, and its vjp accepts None for the cotangents of results nothing reads
    holders = [p for p in ALL_PRIMITIVES.values() if p.sub_programs is not None]
    assert {p.name for p in holders} == {"scan", "while", "cond"}
    for prim in holders:
        assert prim.accepts_zero_cotangents, prim.name


def test_a_misspelt_slot_is_an_error_and_a_missing_rule_names_the_primitive():
    prim = Primitive("slot_test_only")
    try:
        with pytest.raises(AttributeError, match="has no slot 'jpv'"):
            prim.jpv = lambda *a: a
        with pytest.raises(MissingRuleError, match="'slot_test_only' has no vjp rule"):
            prim.vjp()
        assert set(RULE_SLOTS) <= set(dir(prim))
    finally:
        del ALL_PRIMITIVES["slot_test_only"]
