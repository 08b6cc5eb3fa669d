"""The CUDA backend: the same plans as numba-cuda kernels and a host launcher
(program.py); backend.py is what the compile pipeline uses. numba.cuda is
imported only when a CUDA program is built or run."""
