"""Loop rerolling: a Python loop traced inside jit becomes one `scan` equation.

Tracing runs a Python loop, so `for _ in range(250): w = w - lr * grad(loss)(w)`
reaches the IR as 250 copies of the step, one after another. Compiled as
they are, each copy is its own kernels and library calls, dispatched from
Python one by one, and the program takes seconds to compile. This pass finds
such a repetition and folds it back into a `scan` (rules/scan.py) whose body
is one iteration; backends/cpu/loops.py runs it as a native loop.

What counts as a repetition: equations [s, s + N*P) are N copies of the same
P equations, each copy reading only
  - values defined before the copies start (program inputs, earlier
    equations): loop invariants;
  - values of its own copy;
  - values of the copy just before it, at the same places in every copy:
    the carry (the first copy reads the carry's initial values instead);
  - literals: equal in every copy, they stay literals of the body; a literal
    that changes from copy to copy (np.sin(0.1 * t) computed in Python each
    step) becomes a scan xs, the array of its values in every copy, added to
    the program's constants (its constvars);
and nothing after the copies reads a value of any copy but the last. The
search compares equations by primitive, parameters, result types and
literal types (`_opcode`), for every period P at once with NumPy, then
checks the data flow of the longest repetition found (`_match`).

It runs on the traced IR before simplify (whose CSE would share equations
between copies), after dead code is removed (a backward pass's unused
cotangents read every forward copy). Equations computing constants from
literals alone are moved to the front first and computed once, so that every
copy reads the same one; the body recomputes them, to fold them into its
kernels. A stretch whose copies do not all qualify is shortened, or shifted
past an early copy whose values are read later.

The body is simplified, its invariant equations are hoisted in front of the
loop, and repetitions inside it (nested Python loops) are rerolled in turn.
A body of elementwise equations only is left unrolled when the unrolled
stretch is short: fused, its copies are one pass over memory instead of a
kernel per iteration.
"""
from __future__ import annotations

import numpy as np

from nbad.core.ir import IR, Equation, Literal, Var, print_ir
from nbad.rules.scan import scan_p
from nbad.rules.shape import broadcast_in_dim_p, reshape_p, slice_p, transpose_p
from nbad.transforms.simplify import _atom_key, simplify
from nbad.core.typecheck import ir_pass

MIN_TRIPS = 3           # fewer copies stay straight-line
MAX_PERIOD = 2000       # longer bodies are not looked for (the search is O(len * period))
FUSED_UNROLL_MAX = 400  # elementwise-only repetitions up to this many equations stay unrolled
MAX_ATTEMPTS = 8        # candidates checked per search before giving up


@ir_pass
def reroll(ir: IR) -> IR:
    """`ir` with its repetitions folded into loops (the same IR if there are none)."""
    if len(ir.equations) < 2 * MIN_TRIPS:
        return ir
    equations, outputs = _constants_first(ir)
    changed = False
    new_consts: list = []  # (constvar, array) of the per-step literals turned into xs
    while True:
        rerolled = _reroll_once(equations, outputs, new_consts)
        if rerolled is None:
            break
        equations, changed = rerolled, True
    if not changed:
        return ir
    return IR(ir.inputs, equations, outputs, ir.constvars + [v for v, _ in new_consts],
              ir.consts + [c for _, c in new_consts], name=ir.name)


def _constants_first(ir: IR):
    """(equations, outputs) with the equations that compute constants (from
    literals only: a mean's 1/n broadcast) moved to the front, each computed once.
    Every copy of a loop body then reads the same constant, not its own: a
    backward pass reading the forward copies' constants would otherwise read a
    different value in every copy."""
    subst: dict[int, Var] = {}
    seen: dict = {}
    ir_texts: dict = {}
    const_ids: set = set()
    constants, rest = [], []
    for eq in ir.equations:
        ins = [subst.get(a.id, a) if isinstance(a, Var) else a for a in eq.inputs]
        eq = Equation(eq.primitive, ins, eq.outputs, eq.params)
        if not all(isinstance(a, Literal) or a.id in const_ids for a in ins):
            rest.append(eq)
            continue
        key = (_opcode(eq, ir_texts), tuple(a.id for a in ins if isinstance(a, Var)))
        if key in seen:
            for old, new in zip(eq.outputs, seen[key].outputs):
                subst[old.id] = new
            continue
        seen[key] = eq
        const_ids.update(v.id for v in eq.outputs)
        constants.append(eq)
    outputs = [subst.get(a.id, a) if isinstance(a, Var) else a for a in ir.outputs]
    return constants + rest, outputs


# -- finding candidates ------------------------------------------------------------------

def _param_key(value, ir_texts: dict):
    if isinstance(value, IR):
        text = ir_texts.get(id(value))
        if text is None:
            text = ir_texts[id(value)] = print_ir(value)
        return ("ir", text)
    if isinstance(value, (tuple, list)):
        return tuple(_param_key(v, ir_texts) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _param_key(v, ir_texts)) for k, v in value.items()))
    if isinstance(value, float):
        return ("float", repr(value))  # -0.0 is not 0.0
    if isinstance(value, np.ndarray) or (callable(value) and not isinstance(value, type)):
        return ("object", id(value))  # equal only if it is the same object
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return value


def _opcode(eq: Equation, ir_texts: dict, windows: bool = False):
    """What must be equal in every copy. With `windows`, a slice is keyed by its size
    and strides, not its position: a window that moves each step (D[t]) can become a
    per-step slice of the scan's xs (_moving_windows checks that it moves evenly);
    and a literal by its type only: one that changes each step becomes an xs too."""
    if windows:
        literals = tuple(None if isinstance(a, Var) else ("literal", a.aval.dtype.str, a.aval.weak_type)
                         for a in eq.inputs)
    else:
        literals = tuple(None if isinstance(a, Var) else _atom_key(a) for a in eq.inputs)  # by bit pattern
    if windows and eq.primitive is slice_p:
        p = eq.params
        params = ("window", tuple(b - a for a, b in zip(p["start_indices"], p["limit_indices"])),
                  tuple(p["strides"]))
    else:
        params = _param_key(eq.params, ir_texts)
    return (eq.primitive.name, params, tuple((v.aval.shape, v.aval.dtype.str) for v in eq.outputs),
            literals)


def _candidates(codes: np.ndarray):
    """(saving, period, start, trips) of the longest repetition for each period,
    best first. A run of codes[j] == codes[j + P] for j in [s, s + L) means
    [s, s + L + P) repeats with period P."""
    m = len(codes)
    found = []
    for period in range(1, min(MAX_PERIOD, m // MIN_TRIPS) + 1):
        same = np.concatenate(([False], codes[:-period] == codes[period:], [False]))
        edges = np.flatnonzero(same[1:] != same[:-1])
        if not len(edges):
            continue
        starts, ends = edges[::2], edges[1::2]
        best = int(np.argmax(ends - starts))
        run = int(ends[best] - starts[best])
        trips = (run + period) // period
        if trips >= MIN_TRIPS:
            found.append(((trips - 1) * period, period, int(starts[best]), trips))
    found.sort(key=lambda c: (-c[0], c[1]))
    return found


def _reroll_once(equations: list, outputs: list, new_consts: list):
    ir_texts: dict = {}
    table: dict = {}
    codes = np.array([table.setdefault(_opcode(eq, ir_texts, windows=True), len(table)) for eq in equations],
                     dtype=np.int64)
    producer = {}
    for j, eq in enumerate(equations):
        for k, v in enumerate(eq.outputs):
            producer[v.id] = (j, k)
    last_use = {}
    for j, eq in enumerate(equations):
        for a in eq.inputs:
            if isinstance(a, Var):
                last_use[a.id] = j
    for a in outputs:
        if isinstance(a, Var):
            last_use[a.id] = len(equations)
    for _, period, start, trips in _candidates(codes)[:MAX_ATTEMPTS]:
        loop = _match(equations, start, period, trips, producer, last_use, new_consts)
        if loop is not None:
            start, trips, loop_eqs = loop
            return equations[:start] + loop_eqs + equations[start + trips * period:]
    return None


# -- checking one candidate --------------------------------------------------------------

def _describe(equations, j, begin, period, start, producer):
    """How equation j (of the copy starting at `begin`) reads its operands, or None
    if it reads a value older than the previous copy."""
    out = []
    for a in equations[j].inputs:
        if isinstance(a, Literal):
            out.append(None)  # equal in every copy: part of the opcode
            continue
        where = producer.get(a.id)
        if where is None or where[0] < start:
            out.append(("outer", a.id))
        elif where[0] >= begin:
            out.append(("cur", where[0] - begin, where[1]))
        elif where[0] >= begin - period:
            out.append(("prev", where[0] - begin + period, where[1]))
        else:
            return None
    return out


def _match(equations, start, period, trips, producer, last_use, new_consts):
    """(start, trips, [equations replacing the copies]) for the repetition found at
    `start`, shortened or shifted until its data flow is a loop's; None if none is."""
    while trips >= MIN_TRIPS:
        copies = [[_describe(equations, start + c * period + o, start + c * period, period, start,
                             producer) for o in range(period)] for c in range(trips)]
        template = copies[1]
        if any(d is None for d in template):
            return None
        # iteration 0 reads the carries' initial values where the others read the previous copy
        init: dict = {}
        first_ok = True
        for o in range(period):
            for mine, theirs in zip(copies[0][o] or (), template[o]):
                if theirs is not None and theirs[0] == "prev":
                    if mine is None or mine[0] != "outer" or init.setdefault(theirs[1:], mine[1]) != mine[1]:
                        first_ok = False
                elif mine != theirs:
                    first_ok = False
            if copies[0][o] is None:
                first_ok = False
        if not first_ok:
            start, trips = start + period, trips - 1
            continue
        same = 2
        while same < trips and copies[same] == template:
            same += 1
        trips = same
        # only the last copy's values may be read after the loop: if an earlier copy's
        # are, the loop ends with that copy, or starts after it if too few copies precede it
        end = start + trips * period
        escaping = next((c for c in range(trips - 1)
                         if any(last_use.get(v.id, -1) >= end for eq in
                                equations[start + c * period:start + (c + 1) * period]
                                for v in eq.outputs)), None)
        if escaping is not None:
            if escaping + 1 >= MIN_TRIPS:
                trips = escaping + 1
            else:
                start, trips = start + (escaping + 1) * period, trips - escaping - 1
            continue  # check the new stretch
        if trips < MIN_TRIPS:
            return None
        if trips < len(copies):
            continue  # re-check the shortened stretch (the carry reads are unchanged)
        built = _build(equations, start, period, trips, template, init, last_use, new_consts)
        if built is None:
            return None
        return start, trips, built
    return None


def _moving_windows(equations, start, period, trips, template):
    """{position in the body: (start indices in the first copy, axis, stride)} of the
    slices of a loop invariant whose start moves by a constant stride along one axis
    each copy, one element wide there (D[t], X[:, 2 * t]); None if a slice moves
    otherwise (a window x[t:t + 3], or unevenly): the copies are then no loop."""
    moving = {}
    for o in range(period):
        eq = equations[start + period + o]
        if eq.primitive is not slice_p:
            continue
        starts = [tuple(equations[start + c * period + o].params["start_indices"]) for c in range(trips)]
        if len(set(starts)) == 1:
            continue
        step = [b - a for a, b in zip(starts[0], starts[1])]
        axes = [k for k, d in enumerate(step) if d]
        p = eq.params
        if (len(axes) != 1 or step[axes[0]] < 0 or template[o][0] is None or template[o][0][0] != "outer"
                or p["limit_indices"][axes[0]] - p["start_indices"][axes[0]] != 1
                or any(st != 1 for st in p["strides"])
                or any(starts[c] != tuple(a + c * d for a, d in zip(starts[0], step)) for c in range(trips))):
            return None
        moving[o] = (starts[0], axes[0], step[axes[0]])
    return moving


def _stacked_windows(x, first_start, axis, stride, trips, window_shape, equations):
    """The moving window's values of every step, stacked along a new leading axis:
    a strided slice of x, its axis moved to the front. Appends its equations."""
    limit = [a + n for a, n in zip(first_start, window_shape)]
    limit[axis] = first_start[axis] + (trips - 1) * stride + 1
    strides = [1] * len(window_shape)
    strides[axis] = stride
    shape = list(window_shape)
    shape[axis] = trips
    sliced = Var(x.aval.update(shape=tuple(shape), weak_type=False))
    equations.append(Equation(slice_p, [x], [sliced], {"start_indices": tuple(first_start),
                                                      "limit_indices": tuple(limit),
                                                      "strides": tuple(strides)}))
    if axis == 0:
        return sliced
    perm = (axis,) + tuple(k for k in range(len(shape)) if k != axis)
    moved = Var(sliced.aval.update(shape=tuple(shape[k] for k in perm)))
    equations.append(Equation(transpose_p, [sliced], [moved], {"permutation": perm}))
    return moved


def _varying_literals(equations, start, period, trips):
    """{(position in the body, operand): array of its value in every copy} of the
    literal operands whose value changes from copy to copy."""
    varying = {}
    for o in range(period):
        for i, a in enumerate(equations[start + o].inputs):
            if isinstance(a, Var):
                continue
            lits = [equations[start + c * period + o].inputs[i] for c in range(trips)]
            if len({_atom_key(lit) for lit in lits}) > 1:
                varying[(o, i)] = np.array([lit.value for lit in lits], dtype=a.aval.dtype)
    return varying


def _build(equations, start, period, trips, template, init, last_use, new_consts):
    """The equations that replace the copies: hoisted invariants, then the loop.
    Appends to `new_consts` the (constvar, array) of the per-step literals it reads."""
    end = start + trips * period
    first = equations[start:start + period]
    last = equations[end - period:end]
    moving = _moving_windows(equations, start, period, trips, template)
    if moving is None:
        return None
    outer_vars = {}
    for eq in first:
        for a in eq.inputs:
            if isinstance(a, Var):
                outer_vars.setdefault(a.id, a)
    carried = sorted({d[1:] for desc in template for d in desc if d is not None and d[0] == "prev"})
    invariant_ids = []
    for desc in template:
        for d in desc:
            if d is not None and d[0] == "outer" and d[1] not in invariant_ids:
                invariant_ids.append(d[1])
    extras = [(o, k) for o, eq in enumerate(last) for k, v in enumerate(eq.outputs)
              if last_use.get(v.id, -1) >= end and (o, k) not in carried]
    # the body: one copy, reading the carry and the invariants as inputs; constants
    # (computed from literals alone) are recomputed in it, to fold into its kernels
    body_eqs = []
    constants = _clone_constants(equations[:start], invariant_ids, body_eqs)
    invariant_ids = [i for i in invariant_ids if i not in constants]
    carry_in = [Var(first[o].outputs[k].aval) for o, k in carried]
    inv_in = [Var(outer_vars[i].aval) for i in invariant_ids]
    env = {("prev",) + ok: v for ok, v in zip(carried, carry_in)}
    env.update({("outer", i): v for i, v in zip(invariant_ids, inv_in)})
    env.update({("outer", i): v for i, v in constants.items()})
    templ_eqs = equations[start + period:start + 2 * period]
    xs_eqs, xs_outer, x_in = [], [], []  # a moving window is the scan's per-step slice of an xs
    loop_consts = []  # and so is a literal that changes each step, of a new constant array
    for (o, i), values in _varying_literals(equations, start, period, trips).items():
        lit_aval = templ_eqs[o].inputs[i].aval
        loop_consts.append((Var(lit_aval.update(shape=(trips,), weak_type=False)), values))
        xs_outer.append(loop_consts[-1][0])
        x_in.append(Var(lit_aval))
        env[("literal", o, i)] = x_in[-1]
    for o, (eq, desc) in enumerate(zip(templ_eqs, template)):
        ins = [env.get(("literal", o, i), a) if d is None else env[d]
               for i, (a, d) in enumerate(zip(eq.inputs, desc))]
        outs = [Var(v.aval) for v in eq.outputs]
        for k, v in enumerate(outs):
            env[("cur", o, k)] = v
        if o in moving:
            first_start, axis, stride = moving[o]
            window = tuple(eq.outputs[0].aval.shape)
            xs_outer.append(_stacked_windows(outer_vars[desc[0][1]], first_start, axis, stride, trips,
                                             window, xs_eqs))
            x_in.append(Var(eq.outputs[0].aval.update(shape=window[:axis] + window[axis + 1:])))
            body_eqs.append(Equation(reshape_p, [x_in[-1]], outs, {"new_sizes": window}))
            continue
        body_eqs.append(Equation(eq.primitive, ins, outs, eq.params))
    body_outs = [env[("cur",) + ok] for ok in carried + extras]
    inits = [outer_vars[init[ok]] for ok in carried]
    for a, v in zip(inits, carry_in):
        if a.aval != v.aval:
            return None  # e.g. a weakly typed initial value: leave the copies unrolled
    # the values read after the loop of its last iteration are carries the body does
    # not read, started at zero
    zero_eqs, extra_in = [], []
    for o, k in extras:
        aval = last[o].outputs[k].aval
        extra_in.append(Var(aval))
        if aval.shape:
            zero = Var(aval)
            zero_eqs.append(Equation(broadcast_in_dim_p, [Literal(0, aval.update(shape=()))], [zero],
                                     {"shape": tuple(aval.shape), "broadcast_dimensions": ()}))
            inits.append(zero)
        else:
            inits.append(Literal(0, aval))
    carry_in += extra_in
    carried = carried + extras
    body = simplify(IR(carry_in + inv_in + x_in, body_eqs, body_outs, name="loop_body"))
    x_ids = {v.id for v in x_in}
    if (all(eq.primitive.kind == "elementwise" or (eq.primitive is reshape_p and eq.inputs[0].id in x_ids)
            for eq in body.equations)
            and trips * len(body.equations) <= FUSED_UNROLL_MAX):
        return None  # cheaper unrolled: the copies fuse into one pass
    (outer_eqs, invariants), body = _hoist_invariants(body, len(carried), inv_in,
                                                      [outer_vars[i] for i in invariant_ids], len(x_in))
    body = reroll(body)  # nested Python loops
    if body.constvars:  # their per-step literals: arrays the outer loop passes in, invariant
        num_in = len(carried) + len(invariants)
        inner = [Var(v.aval) for v in body.constvars]
        loop_consts += list(zip(inner, body.consts))
        invariants = invariants + inner
        body = IR(body.inputs[:num_in] + body.constvars + body.inputs[num_in:], body.equations, body.outputs,
                  name=body.name)
    new_consts += loop_consts
    loop_outs = [last[o].outputs[k] for o, k in carried]
    loop_eq = Equation(scan_p, inits + invariants + xs_outer, loop_outs,
                       {"body": body, "length": trips, "num_carry": len(carried), "num_xs": len(x_in),
                        "reverse": False})
    return zero_eqs + xs_eqs + outer_eqs + [loop_eq]


def _clone_constants(before: list, ids: list, into: list) -> dict:
    """{id: fresh var} for the vars among `ids` computed from literals alone by the
    equations `before`, with copies of those equations appended to `into`."""
    producer = {v.id: eq for eq in before for v in eq.outputs}
    clones: dict = {}

    def clone(var_id):
        if var_id in clones:
            return clones[var_id]
        eq = producer.get(var_id)
        if eq is None or eq.primitive.multiple_results:
            return None
        ins = []
        for a in eq.inputs:
            if isinstance(a, Var):
                a = clone(a.id)
                if a is None:
                    return None
            ins.append(a)
        out = Var(eq.outputs[0].aval)
        into.append(Equation(eq.primitive, ins, [out], eq.params))
        clones[var_id] = out
        return out

    return {i: clones[i] for i in ids if clone(i) is not None}


def _cheap_to_repeat(eq: Equation) -> bool:
    """Constants and broadcasts: inside the loop they are scalars the kernels read
    (codegen folds them); hoisted they would be arrays to stream on every iteration."""
    return eq.primitive.name == "broadcast_in_dim" or not any(isinstance(a, Var) for a in eq.inputs)


def _hoist_invariants(body: IR, num_carry: int, inv_in: list, inv_outer: list, num_xs: int = 0):
    """Move the body's equations that read no carry (nor xs slice) in front of the loop.

    Returns ((outer equations, loop invariant operands), body); the body's
    inputs are the carries, then one input per invariant operand, then the xs slices."""
    xs_in = body.inputs[len(body.inputs) - num_xs:] if num_xs else []
    varying = {v.id for v in body.inputs[:num_carry]} | {v.id for v in xs_in}
    outer_of = {v.id: a for v, a in zip(inv_in, inv_outer)}
    local: set = set()  # invariants the body still computes itself
    hoisted, kept = [], []
    for eq in body.equations:
        if any(isinstance(a, Var) and a.id in varying for a in eq.inputs):
            varying.update(v.id for v in eq.outputs)
            kept.append(eq)
            continue
        outs = [Var(v.aval) for v in eq.outputs]
        ins = [outer_of.get(a.id, a) if isinstance(a, Var) else a for a in eq.inputs]
        hoisted.append(Equation(eq.primitive, ins, outs, eq.params))  # dropped later if unread
        for v, new in zip(eq.outputs, outs):
            outer_of[v.id] = new
        if _cheap_to_repeat(eq):
            kept.append(eq)
            local.update(v.id for v in eq.outputs)
    # the invariant operands the remaining body reads (inputs or hoisted results)
    read = []
    for a in [a for eq in kept for a in eq.inputs] + list(body.outputs):
        if isinstance(a, Var) and a.id not in varying and a.id not in local and a.id not in read:
            read.append(a.id)
    aval_of = {v.id: v.aval for v in body.inputs[num_carry:]}
    aval_of.update({v.id: v.aval for eq in body.equations for v in eq.outputs})
    new_inputs = [Var(aval_of[i]) for i in read]
    rename = dict(zip(read, new_inputs))

    def sub(a):
        return rename.get(a.id, a) if isinstance(a, Var) else a

    kept = [Equation(eq.primitive, [sub(a) for a in eq.inputs], eq.outputs, eq.params) for eq in kept]
    new_body = IR(body.inputs[:num_carry] + new_inputs + list(xs_in), kept, [sub(a) for a in body.outputs],
                  name=body.name)
    return (hoisted, [outer_of[i] for i in read]), new_body
