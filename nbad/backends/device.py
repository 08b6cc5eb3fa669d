"""A device of a platform (nbad.devices() returns these)."""
from __future__ import annotations


class Device:
    """One device: `platform` ("cpu" or "cuda") and `id`."""

    __slots__ = ("platform", "id")

    def __init__(self, platform: str, id: int = 0):
        self.platform = platform
        self.id = id

    process_index = 0  # one process, as JAX numbers them

    @property
    def device_kind(self) -> str:
        if self.platform == "cpu":
            return "cpu"
        from nbad.backends.cuda import runtime

        if runtime.simulated():
            return "CUDA simulator"
        return runtime.require_device().get_current_device().name.decode()

    def __eq__(self, other):
        return isinstance(other, Device) and (self.platform, self.id) == (other.platform, other.id)

    def __hash__(self):
        return hash((self.platform, self.id))

    def __repr__(self):
        return f"CpuDevice(id={self.id})" if self.platform == "cpu" else f"CudaDevice(id={self.id})"
