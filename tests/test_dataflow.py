"""The dataflow executor (threads.run_graph) and the region planner
(backends/cpu/dataflow.py). Whole programs run as dataflow regions are tested
against NumPy in test_jit.py (test_independent_steps_run_as_a_dataflow_graph)."""
import random
import threading
import time

import pytest

import nbad
from nbad.backends.cpu import dataflow, threads


def _graph(preds):
    succs = [[] for _ in preds]
    for k, ps in enumerate(preds):
        for p in ps:
            succs[p].append(k)
    return (tuple(len(p) for p in preds), tuple(tuple(s) for s in succs),
            tuple(k for k, p in enumerate(preds) if not p))


@pytest.mark.parametrize("num_threads", [1, 2, 4])
def test_tasks_run_once_after_their_predecessors(num_threads):
    rnd = random.Random(num_threads)
    n = 60
    preds = [sorted(rnd.sample(range(k), min(k, rnd.randint(0, 3)))) for k in range(n)]
    nbad.config.update("num_threads", num_threads)
    try:
        for _ in range(5):
            done, lock, errors = [], threading.Lock(), []

            def task(k):
                def run():
                    with lock:
                        if any(p not in done for p in preds[k]):
                            errors.append(k)
                    time.sleep(rnd.random() * 1e-4)
                    with lock:
                        done.append(k)
                return run

            threads.run_graph(tuple(task(k) for k in range(n)), _graph(preds))
            assert not errors
            assert sorted(done) == list(range(n))
    finally:
        nbad.config.update("num_threads", None)


def test_ready_tasks_run_highest_index_first():
    order = []
    nbad.config.update("num_threads", 1)
    try:
        threads.run_graph(tuple((lambda k=k: order.append(k)) for k in range(5)),
                          _graph([[], [], [], [0], []]))
    finally:
        nbad.config.update("num_threads", None)
    assert order == [4, 2, 1, 0, 3]


@pytest.mark.parametrize("num_threads", [1, 2])
def test_a_failing_task_stops_the_graph_and_its_error_is_raised(num_threads):
    ran = []

    def boom():
        raise ValueError("task failed")

    tasks = (lambda: ran.append(0), boom, lambda: ran.append(2))
    nbad.config.update("num_threads", num_threads)
    try:
        with pytest.raises(ValueError, match="task failed"):
            threads.run_graph(tasks, _graph([[], [0], [1]]))
    finally:
        nbad.config.update("num_threads", None)
    assert 2 not in ran  # its predecessor failed


class _Step:
    """A stand-in plan step: reads and writes value ids."""

    def __init__(self, reads, writes):
        self.inputs, self.outputs = reads, writes


def _nodes(spec, monkeypatch):
    class V:
        def __init__(self, i):
            self.id = i

    monkeypatch.setattr(dataflow, "step_inputs", lambda s: [V(i) for i in s.inputs])
    monkeypatch.setattr(dataflow, "step_outputs", lambda s: [V(i) for i in s.outputs])
    steps = [_Step(r, w) for r, w, _ in spec]
    costs = {id(s): c for s, (_, _, c) in zip(steps, spec)}
    return dataflow.build_nodes(steps, lambda s: costs[id(s)], lambda s: True)


def test_independent_products_run_whole_and_a_lone_one_is_split(monkeypatch):
    # g -> (A = g W^T, B = h^T g) side by side; A -> C -> D run while B's thread is free
    nodes = _nodes([((0,), (1,), 3.0), ((0,), (2,), 3.0), ((1,), (3,), 0.3), ((3,), (4,), 1.0)],
                   monkeypatch)
    assert [n.preds for n in nodes] == [set(), set(), {0}, {2}]
    dataflow.plan_region(nodes, 2, lambda node: 2)
    assert [n.parts for n in nodes] == [1, 1, 2, 2]
    assert nodes[0].rank > nodes[1].rank  # the long chain starts first


def test_region_starts_at_a_product_another_product_does_not_need(monkeypatch):
    monkeypatch.setattr(dataflow, "step_inputs", lambda s: [type("V", (), {"id": i}) for i in s.inputs])
    monkeypatch.setattr(dataflow, "step_outputs", lambda s: [type("V", (), {"id": i}) for i in s.outputs])
    big = {"P", "Q", "R"}
    steps = [_Step((0,), (1,)), _Step((1,), (2,)), _Step((1,), (3,)), _Step((3,), (4,))]
    names = ["P", "Q", "k", "R"]
    is_big = {id(s): n in big for s, n in zip(steps, names)}
    # Q does not read P's result... it does (1): no region at P
    assert dataflow.region_end(steps, 0, lambda s: True, lambda s: is_big[id(s)]) is None
    # from Q: R reads k, which reads P only, so R is independent of Q
    assert dataflow.region_end(steps, 1, lambda s: True, lambda s: is_big[id(s)]) == 4
    # a step that cannot be a task ends the region
    stop = steps[2]
    assert dataflow.region_end(steps, 1, lambda s: s is not stop, lambda s: is_big[id(s)]) is None
