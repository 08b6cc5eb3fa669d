"""Placeholder: nbad's vectorisable math library (being written).

Each function is a numba-jittable scalar function of float32 or float64.
"""
import numpy as np
from numba import njit

exp = njit(lambda x: np.exp(x))
expm1 = njit(lambda x: np.expm1(x))
log = njit(lambda x: np.log(x))
log1p = njit(lambda x: np.log1p(x))
tanh = njit(lambda x: np.tanh(x))
logistic = njit(lambda x: 1.0 / (1.0 + np.exp(-x)))
sin = njit(lambda x: np.sin(x))
cos = njit(lambda x: np.cos(x))
erf = njit(lambda x: np.float64(0))
