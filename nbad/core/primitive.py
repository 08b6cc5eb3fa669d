"""Primitives: named operations with a fixed set of rule slots.

A primitive is one object and all of its rules sit on it (DESIGN §4), so a new
op is added in one place, in its family's file under nbad/rules/:

    exp_p = Primitive("exp")
    exp_p.abstract_eval = ...   # avals -> aval(s); raises shape/dtype errors
    exp_p.impl = ...            # NumPy reference implementation (eager + oracle)
    exp_p.jvp = ...             # forward-mode rule, written with nbad ops
    exp_p.vjp = ...             # reverse-mode rule, written with nbad ops
    exp_p.codegen = ...         # how the CPU backend emits it (see codegen/)

The derivative-rule convention and its family helpers are in rules/_ad.py.

Array operands are passed positionally; static parameters as hashable
keywords, so an equation can be printed and used as part of a cache key.
The rule slots are fixed: a missing rule raises MissingRuleError naming the
primitive and the transformation, and tests walk `ALL_PRIMITIVES` to check
that none is half-added.
"""
from __future__ import annotations

from nbad.errors import MissingRuleError

ALL_PRIMITIVES: dict[str, "Primitive"] = {}

RULE_SLOTS = ("abstract_eval", "impl", "jvp", "vjp", "vmap", "codegen")


def _missing(prim_name: str, slot: str):
    def rule(*args, **kwargs):
        raise MissingRuleError(f"primitive '{prim_name}' has no {slot} rule")

    rule.missing = True
    return rule


class Primitive:
    """A named operation; see the module docstring for its rule slots.

    `kind` tells the fuser how the primitive may be grouped:
      "elementwise"  - same-shape operands (scalars broadcast), one scalar
                       expression per element (`codegen` is a template);
      "reduce"       - reduces `axes` of one operand (fused with its producers);
      "view"         - reshapes/reorders/broadcasts without computing
                       (a zero-copy view of a materialised buffer);
      "library"      - run by its `impl` (NumPy/BLAS) between kernels;
      "call"         - a call of a function with custom derivative rules
                       (its body is inlined before fusion);
      "loop"         - holds a body IR run per example (map); lowered into
                       batched equations before fusion.
    """

    def __init__(self, name: str, *, kind: str = "library", multiple_results: bool = False):
        if name in ALL_PRIMITIVES:
            raise ValueError(f"primitive {name!r} is defined twice")
        self.name = name
        self.kind = kind
        self.multiple_results = multiple_results
        self.nondiff = False  # True: zero derivative (comparisons, argmax, iota, ...)
        for slot in RULE_SLOTS:
            setattr(self, slot, _missing(name, slot))
        ALL_PRIMITIVES[name] = self

    def has_rule(self, slot: str) -> bool:
        return not getattr(getattr(self, slot), "missing", False)

    def bind(self, *args, **params):
        from nbad.core.trace import bind

        return bind(self, *args, **params)

    def __repr__(self):
        return f"Primitive({self.name})"

    def __str__(self):
        return self.name
