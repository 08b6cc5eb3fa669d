"""Primitives: named operations with a fixed set of rule slots.

A primitive is one object and all of its rules sit on it (DESIGN §4), so a new
op is added in one place, in its family's file under nbad/rules/:

    exp_p = Primitive("exp")
    exp_p.abstract_eval = ...   # avals -> aval(s); raises shape/dtype errors
    exp_p.impl = ...            # NumPy reference implementation (eager + oracle)
    exp_p.jvp = ...             # forward-mode rule, written with nbad ops
    exp_p.vjp = ...             # reverse-mode rule, written with nbad ops
    exp_p.codegen = ...         # its scalar expression in a fused kernel (compile/expr.py)

The derivative-rule convention and its family helpers are in rules/_ad.py.

Array operands are passed positionally; static parameters as hashable
keywords, so an equation can be printed and used as part of a cache key.
The rule slots are fixed: a missing rule raises MissingRuleError naming the
primitive and the transformation, and tests walk `ALL_PRIMITIVES` to check
that none is half-added. OPTIONAL_SLOTS are the rules only some primitives
have (DCE of unused loop results, in-place updates, sub-programs, ...), each
declared here with its "absent" value; setting any other attribute on a
primitive is an error, so a misspelt slot cannot be silently ignored.
"""
from __future__ import annotations

from nbad.errors import MissingRuleError

ALL_PRIMITIVES: dict[str, "Primitive"] = {}

RULE_SLOTS = ("abstract_eval", "impl", "jvp", "vjp", "vmap", "codegen")

# Slots only some primitives fill, with the value meaning "not this one":
OPTIONAL_SLOTS = {
    # (eq, used output flags) -> a smaller equation or None: DCE of unused results (map, scan, cond)
    "prune": None,
    # (a, b) -> whether equation b computes a prefix of equation a: CSE of loops (scan)
    "extends": None,
    # a vjp that may get None for a result's cotangent instead of zeros (map, scan, cond, while)
    "accepts_zero_cotangents": False,
    # reductions: the combining operation ("sum", "max", ...; rules/reduce.py)
    "reducer": None,
    # (out, operand, *rest, **params) writing into `out`: an update the CPU driver
    # runs in place into a buffer nothing else reads (backends/cpu/inplace.py)
    "impl_in_place": None,
    # params -> [(sub-IR, positions of its loop-invariant inputs or None), ...]: the
    # sub-IRs a backend runs as programs of their own (loop bodies, cond branches),
    # planned before emission by compile/pipeline.py
    "sub_programs": None,
}


def _missing(prim_name: str, slot: str):
    def rule(*args, **kwargs):
        raise MissingRuleError(f"primitive '{prim_name}' has no {slot} rule")

    rule.missing = True
    return rule


_ATTRIBUTES = frozenset(("name", "kind", "multiple_results", "nondiff") + RULE_SLOTS + tuple(OPTIONAL_SLOTS))


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
        for slot, absent in OPTIONAL_SLOTS.items():
            setattr(self, slot, absent)
        ALL_PRIMITIVES[name] = self

    def __setattr__(self, name, value):
        if name not in _ATTRIBUTES:
            raise AttributeError(f"primitive {self.name!r} has no slot {name!r} "
                                 f"(slots: {', '.join(RULE_SLOTS + tuple(OPTIONAL_SLOTS))})")
        object.__setattr__(self, name, value)

    def has_rule(self, slot: str) -> bool:
        return not getattr(getattr(self, slot), "missing", False)

    def bind(self, *args, **params):
        from nbad.core.trace import bind

        return bind(self, *args, **params)

    def __repr__(self):
        return f"Primitive({self.name})"

    def __str__(self):
        return self.name
