"""Elementwise nbad.numpy functions (NumPy signatures and dtype rules)."""
from nbad.numpy._core import elementwise_call
from nbad.rules import elementwise as ew

__all__ = ["add", "multiply", "exp"]


def add(x1, x2, /):
    return elementwise_call(ew.add_p, "add", x1, x2)


def multiply(x1, x2, /):
    return elementwise_call(ew.mul_p, "multiply", x1, x2)


def exp(x, /):
    return elementwise_call(ew.exp_p, "exp", x, to_inexact=True)
