"""Backend-neutral compilation: from a traced IR to a plan a backend emits.

    pipeline.py   the stages, in order, and the Backend interface
    passes.py     the IR rewrites backends choose from before fusion
    fusion.py     the plan: fused kernels, library steps, views
    expr.py       the scalar-expression contract of codegen templates
"""
