"""The AUGRU scan's two loops in C, compiled on first use, for CPU tensors.

On CPU a recurrent step is a few hundred multiply-adds per row, so the
TorchScript loops in `augru` spend most of their time dispatching ~15 small
kernels per step, forward and backward. Here each loop is one C call over
raw buffers: same layout, same equations, same saved tensors.

The source (`native/augru_scan.c`, shipped as package data) is compiled with
the system C compiler (`cc`, or `$CC`) into a cache folder
(`$RECPLAT_NATIVE_CACHE`, default `~/.cache/recplat/native`), under a name
keyed by the source, the flags and this CPU's features, and loaded with
ctypes: no torch headers, no build step at install time. The path is chosen
once per process (`choose`, or the first `load`): where no compiler works, or
with `RECPLAT_NATIVE_SCAN=0`, the choice is None and callers keep the
TorchScript loops (also the path for GPU tensors).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import shutil
import subprocess
import sysconfig
import tempfile
import threading
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

# The C source ships beside this module as package data (two files: the loops are
# written once in the header and included for float and for double).
SOURCE_DIR = Path(__file__).with_name("native")
SOURCE_FILES = ("augru_scan.c", "augru_scan_body.h")
# -ffast-math lets the compiler call glibc's vector EXP; it is given to the
# compile step only: linking a shared library with it (GCC < 13) would add
# crtfastmath, which flushes denormals to zero for the whole process.
_COMPILE = ["-O3", "-march=native", "-ffast-math", "-fopenmp-simd", "-fPIC", "-std=c99"]

_lock = threading.Lock()
# This process's choice, made once (`choose`, or the first `load`): {"library": CDLL | None}.
_chosen: dict[str, ctypes.CDLL | None] = {}


def _source() -> str:
    return "".join((SOURCE_DIR / name).read_text() for name in SOURCE_FILES)


def _cpu_features() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: the key still names the platform
        return ""
    return next((line for line in info.splitlines() if line.startswith(("flags", "Features"))), "")


def _compile(target: Path, compiler: str | None) -> bool:
    if compiler is None:
        log.info("no C compiler found; DIEN's scan keeps its TorchScript loops")
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        obj, built = Path(tmp) / "scan.o", Path(tmp) / target.name
        source = SOURCE_DIR / SOURCE_FILES[0]
        for command in (
            [compiler, *_COMPILE, f"-I{SOURCE_DIR}", "-c", str(source), "-o", str(obj)],
            [compiler, "-shared", str(obj), "-o", str(built), "-lm"],
        ):
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
            if done.returncode != 0:
                log.warning("building the native scan failed; using TorchScript:\n%s", done.stderr)
                return False
        os.replace(built, target)  # atomic: concurrent workers never load half a file
    return True


@functools.cache
def _library_name() -> str:
    # -march=native: the name includes this CPU's features, so a cache folder
    # shared by different machines never hands one a library it cannot run.
    recipe = _source() + " ".join(_COMPILE) + _cpu_features()
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    return f"scan-{sysconfig.get_platform()}-{digest}.so"


def default_cache_dir() -> Path:
    """`$RECPLAT_NATIVE_CACHE`, else `~/.cache/recplat/native`."""
    root = os.environ.get("RECPLAT_NATIVE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "recplat" / "native"


def choose(
    *, enabled: bool = True, cache_dir: Path | None = None, compiler: str | None = None
) -> ctypes.CDLL | None:
    """Choose this process's scan path now: the C loops (built on first use) or None
    (TorchScript). Later `load()` calls return this choice without looking again.

    Args:
        enabled: False keeps the TorchScript loops.
        cache_dir: Where the built library lives (default: `default_cache_dir()`).
        compiler: The C compiler (default: `$CC`, else `cc` or `gcc` on PATH).
    """
    with _lock:
        library: ctypes.CDLL | None = None
        if enabled:
            target = (cache_dir or default_cache_dir()) / _library_name()
            compiler = compiler or os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
            try:
                if target.exists() or _compile(target, compiler):
                    library = ctypes.CDLL(str(target))
            except (OSError, subprocess.SubprocessError) as error:  # unwritable cache, hung cc
                log.warning("native scan unavailable (%s); using TorchScript", error)
        _chosen["library"] = library
        return library


def load() -> ctypes.CDLL | None:
    """The chosen scan library (None: TorchScript). The first call chooses from the
    environment (`RECPLAT_NATIVE_SCAN=0` switches the C loops off); every later one,
    e.g. each DIEN forward, is a dict lookup."""
    try:
        return _chosen["library"]
    except KeyError:
        return choose(enabled=os.environ.get("RECPLAT_NATIVE_SCAN", "1") != "0")


def reset() -> None:
    """Forget the choice: the next `load()` chooses again (tests)."""
    _chosen.clear()


def _ptr(tensor: torch.Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(tensor.data_ptr())


def supports(tensor: torch.Tensor) -> bool:
    """Whether the C loops can run on `tensor` (CPU, float32 or float64)."""
    return tensor.device.type == "cpu" and tensor.dtype in (torch.float32, torch.float64)


def _suffix(tensor: torch.Tensor) -> str:
    return "f32" if tensor.dtype == torch.float32 else "f64"


def _call(function: Any, arguments: list[torch.Tensor | ctypes.c_int64]) -> None:
    """Call a C loop: tensors go as pointers to their (contiguous) data."""
    for value in arguments:
        if isinstance(value, torch.Tensor) and not value.is_contiguous():
            raise ValueError("the native scan reads raw buffers: tensors must be contiguous")
    function(*(_ptr(v) if isinstance(v, torch.Tensor) else v for v in arguments))


class NativeScan(torch.autograd.Function):
    """The recurrence as one autograd node whose two loops are C calls.

    Batch-major (no sorting or transposes): xp (B, T, 3H) projected inputs,
    att (B, T) attention (ones for a plain GRU), lengths (B,) real steps per
    row. Returns the states after every step (B, T, H), zero past each length.
    """

    @staticmethod
    def forward(  # noqa: PLR0917
        ctx: Any,
        xp: torch.Tensor,
        att: torch.Tensor,
        weight_hh: torch.Tensor,
        bias_hh: torch.Tensor,
        lengths: torch.Tensor,
        library: ctypes.CDLL,
    ) -> torch.Tensor:
        B, T, H3 = xp.shape
        H = H3 // 3
        xp, att = xp.contiguous(), att.to(xp.dtype).contiguous()
        lengths = lengths.to(torch.int64).contiguous()
        whh_t = weight_hh.detach().t().contiguous()  # (H, 3H): the inner loop runs along 3H
        states, gates, candidates, gh_new = (xp.new_empty(B, T, n * H) for n in (1, 2, 1, 1))
        sizes = [ctypes.c_int64(n) for n in (B, T, H)]
        _call(
            getattr(library, f"scan_forward_{_suffix(xp)}"),
            [xp, att, lengths, states, gates, candidates, gh_new, *sizes, whh_t, bias_hh.detach()],
        )
        ctx.library = library
        ctx.save_for_backward(att, weight_hh, lengths, states, gates, candidates, gh_new)
        return states

    @staticmethod
    def backward(
        ctx: Any, grad_states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, None, None]:
        att, weight_hh, lengths, states, gates, candidates, gh_new = ctx.saved_tensors
        B, T, H = states.shape
        grad_states = grad_states.to(states.dtype).contiguous()
        grad_xp, grad_att = states.new_empty(B, T, 3 * H), states.new_empty(B, T)
        grad_weight, grad_bias = states.new_zeros(3 * H, H), states.new_zeros(3 * H)
        sizes = [ctypes.c_int64(n) for n in (B, T, H)]
        inputs = [grad_states, att, lengths, states, gates, candidates, gh_new]
        _call(
            getattr(ctx.library, f"scan_backward_{_suffix(states)}"),
            [*inputs, grad_xp, grad_att, *sizes, weight_hh.detach(), grad_weight, grad_bias],
        )
        return grad_xp, grad_att, grad_weight, grad_bias, None, None
