"""The CPU backend as the pipeline sees it (nbad/compile/pipeline.py)."""
from __future__ import annotations

from nbad.backends.cpu import driver, lowering, threads
from nbad.compile.pipeline import Backend


def _build(plan, single_output: bool):
    return driver.build_program(plan, threads.num_threads(), single_output=single_output)


BACKEND = Backend("cpu", lower=lowering.lower, build=_build)
