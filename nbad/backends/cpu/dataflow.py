"""Dataflow regions: the steps of a program that do not depend on each other
run side by side, each as soon as its inputs are ready.

A backward pass is not a chain. An MLP layer's backward computes g @ W^T and
h^T @ g from the same g; the weight gradient of the first layer, the bias
gradients and the parameter updates hang off different branches. Run in
program order, with each step split across the threads, two things are lost:
a product split by rows packs its right operand once per part, and steps that
run on one thread (column reductions such as bias gradients, small updates)
leave the other cores idle. XLA's thunk executor runs its programs as a
dataflow graph for the same reasons. (An MLP step, 64-256-256-10 on a batch of
1024, with its backward pass as a region: 7-13% faster than in program order,
measured interleaved, 5 runs.)

A region is a run of consecutive plan steps that the driver can run as tasks
(kernels, views, matrix products written into pooled buffers), starting at a
large matrix product that a later large product of the run does not depend on.
Its steps become a task graph, which threads.run_graph runs on nbad's threads:
each task starts when its predecessors are done, on whichever thread is free,
highest *rank* (the estimated time from its start to the end of the region)
first. A step is cut into parts (row blocks of a kernel's loop; row or
contraction blocks of a product) only where a simulation of that schedule, with
estimated costs, leaves threads idle while it runs: two independent products
then run whole, one per thread, and a lone product is shared.

This module only plans; driver.py builds the tasks and emits their code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from nbad.compile.fusion import step_inputs, step_outputs

# Split a step when, over its estimated run, the other threads would be idle
# for at least this fraction of their time.
SPLIT_IF_IDLE = 0.5


@dataclass
class Node:
    """One plan step of a region."""

    step: object
    cost: float                  # estimated seconds on one thread
    splittable: bool             # can run as several parts
    preds: set = field(default_factory=set)   # indices of the nodes it reads
    parts: int = 1               # decided by plan_region
    rank: float = 0.0


def region_end(steps, start: int, is_task, is_large_product) -> int | None:
    """The end (exclusive) of the region starting at steps[start], or None.

    The region is the run of steps from `start` for which is_task holds; there
    is one if steps[start] is a large product and a later large product of the
    run does not depend on it."""
    if not is_large_product(steps[start]):
        return None
    end = start
    while end < len(steps) and is_task(steps[end]):
        end += 1
    reach = {v.id for v in step_outputs(steps[start])}  # values computed from steps[start]
    independent = False
    for step in steps[start + 1:end]:
        if any(v.id in reach for v in step_inputs(step)):
            reach.update(v.id for v in step_outputs(step))
        elif is_large_product(step):
            independent = True
    return end if independent else None


def build_nodes(steps, cost, splittable) -> list[Node]:
    """One node per step (in order), with the nodes whose results it reads."""
    nodes: list[Node] = []
    producer: dict[int, int] = {}  # value id -> node index
    for step in steps:
        node = Node(step, cost(step), splittable(step))
        node.preds = {producer[v.id] for v in step_inputs(step) if v.id in producer}
        for v in step_outputs(step):
            producer[v.id] = len(nodes)
        nodes.append(node)
    return nodes


def _ranks(nodes: list[Node]):
    succs = [[] for _ in nodes]
    for j, node in enumerate(nodes):
        for p in node.preds:
            succs[p].append(j)
    for j in range(len(nodes) - 1, -1, -1):  # nodes are in a topological order
        nodes[j].rank = nodes[j].cost / nodes[j].parts + max((nodes[s].rank for s in succs[j]),
                                                             default=0.0)


def _simulate(nodes: list[Node], num_threads: int) -> list[tuple[float, float]]:
    """(start, end) of each node when list-scheduled whole on num_threads threads."""
    done_at: dict[int, float] = {}
    free = [0.0] * num_threads
    times = [None] * len(nodes)
    pending = set(range(len(nodes)))
    while pending:
        t = min(free)
        ready = [j for j in pending if all(p in done_at and done_at[p] <= t for p in nodes[j].preds)]
        if not ready:  # nothing ready yet: jump to the next completion
            free[free.index(t)] = min(e for e in done_at.values() if e > t)
            continue
        j = max(ready, key=lambda j: (nodes[j].rank, -j))
        thread = free.index(t)
        times[j] = (t, t + nodes[j].cost)
        done_at[j] = free[thread] = t + nodes[j].cost
        pending.discard(j)
    return times


def plan_region(nodes: list[Node], num_threads: int, parts_of) -> None:
    """Decide each node's parts (parts_of(node) for those that are split)."""
    _ranks(nodes)
    times = _simulate(nodes, num_threads)
    for j, node in enumerate(nodes):
        start, end = times[j]
        if not node.splittable or end <= start:
            continue
        busy = sum(max(0.0, min(end, e) - max(start, s)) for k, (s, e) in enumerate(times) if k != j)
        idle = (num_threads - 1) * (end - start) - busy
        if idle >= SPLIT_IF_IDLE * (num_threads - 1) * (end - start):
            node.parts = parts_of(node)
    _ranks(nodes)
