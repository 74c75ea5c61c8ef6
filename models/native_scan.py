"""The AUGRU scan's two loops in C, compiled on first use, for CPU tensors.

On CPU a recurrent step is a few hundred multiply-adds per row, so the
TorchScript loops in `augru` spend most of their time dispatching ~15 small
kernels per step, forward and backward. Here each loop is one C call over
raw buffers: same layout, same equations, same saved tensors.

The source is compiled with the system C compiler (`cc`, or `$CC`) into a
cache folder (`$RECPLAT_NATIVE_CACHE`, default `~/.cache/recplat/native`),
under a name keyed by the source, the flags and this CPU's features, and
loaded with ctypes: no torch headers, no build step at install time. Where no compiler works, or
`RECPLAT_NATIVE_SCAN=0`, `load()` returns None and callers keep the
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

# One body for float and double: REAL and SUF are substituted below.
_BODY = r"""
/* Inputs are clamped so EXP never overflows: the file is built with -ffast-math
   (vectorised EXP), which assumes finite values. sigmoid(+-40) is 1 or 0 in float. */
static inline REAL clamp_SUF(REAL z) {
    return z < (REAL)-40 ? (REAL)-40 : (z > (REAL)40 ? (REAL)40 : z);
}
static inline REAL sig_SUF(REAL z) { return (REAL)1 / ((REAL)1 + EXP(-clamp_SUF(z))); }

/* Forward recurrence, batch-major: xp (B,T,3H) projected inputs, att (B,T),
   lengths (B,), whh_t the transposed recurrent weight (H,3H). Rows are
   independent, so each runs its own steps. Outputs need no initialising:
   states past a row's length are zeroed here, the rest is never read there. */
void scan_forward_SUF(const REAL *xp, const REAL *att, const int64_t *lengths,
                      REAL *states, REAL *gates, REAL *cand, REAL *ghn,
                      int64_t B, int64_t T, int64_t H, const REAL *whh_t, const REAL *bhh) {
    int64_t H3 = 3 * H;
    REAL gh[H3];
    for (int64_t i = 0; i < B; i++) {
        memset(states + (i * T + lengths[i]) * H, 0, (T - lengths[i]) * H * sizeof(REAL));
        for (int64_t t = 0; t < lengths[i]; t++) {
            int64_t at = i * T + t;
            const REAL *prev = t ? states + (at - 1) * H : 0;
            const REAL *x = xp + at * H3;
            for (int64_t j = 0; j < H3; j++) gh[j] = bhh[j];
            if (prev) { /* gh += whh @ prev, four columns at a time (short chains) */
                int64_t k = 0;
                for (; k + 3 < H; k += 4) {
                    const REAL *w = whh_t + k * H3;
                    REAL p0 = prev[k], p1 = prev[k + 1], p2 = prev[k + 2], p3 = prev[k + 3];
                    #pragma omp simd
                    for (int64_t j = 0; j < H3; j++)
                        gh[j] += (w[j] * p0 + w[H3 + j] * p1)
                               + (w[2 * H3 + j] * p2 + w[3 * H3 + j] * p3);
                }
                for (; k < H; k++)
                    for (int64_t j = 0; j < H3; j++) gh[j] += whh_t[k * H3 + j] * prev[k];
            }
            REAL a = att[at];
            REAL *g = gates + at * 2 * H;
            REAL *c = cand + at * H;
            REAL *gn = ghn + at * H;
            REAL *h = states + at * H;
            #pragma omp simd
            for (int64_t j = 0; j < 2 * H; j++) g[j] = sig_SUF(x[j] + gh[j]);
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) {
                REAL z = x[2 * H + j] + g[j] * gh[2 * H + j];
                c[j] = (REAL)1 - (REAL)2 / (EXP((REAL)2 * clamp_SUF(z)) + (REAL)1);  /* tanh */
                gn[j] = gh[2 * H + j];
                REAL hp = prev ? prev[j] : (REAL)0;
                h[j] = hp + g[H + j] * a * (c[j] - hp);
            }
        }
    }
}

/* Backpropagation through time for scan_forward (same layout); whh is (3H,H).
   Fills grad_xp (B,T,3H) and grad_att (B,T), zero past each length, and adds
   the recurrent weight's and bias's gradients into grad_w (3H,H) and grad_b
   (3H), which start at zero. The hidden path's gradient d_gh equals grad_xp
   but for the candidate block (d_n * reset). */
void scan_backward_SUF(const REAL *grad_states, const REAL *att, const int64_t *lengths,
                       const REAL *states, const REAL *gates, const REAL *cand, const REAL *ghn,
                       REAL *grad_xp, REAL *grad_att,
                       int64_t B, int64_t T, int64_t H, const REAL *whh,
                       REAL *grad_w, REAL *grad_b) {
    int64_t H3 = 3 * H;
    REAL carry[H], g[H], dg[H3];
    for (int64_t i = 0; i < B; i++) {
        int64_t n = lengths[i];
        memset(grad_xp + (i * T + n) * H3, 0, (T - n) * H3 * sizeof(REAL));
        memset(grad_att + i * T + n, 0, (T - n) * sizeof(REAL));
        for (int64_t k = 0; k < H; k++) carry[k] = 0;
        for (int64_t t = n - 1; t >= 0; t--) {
            int64_t at = i * T + t;
            const REAL *prev = t ? states + (at - 1) * H : 0;
            const REAL *r = gates + at * 2 * H;
            const REAL *u = r + H;
            const REAL *c = cand + at * H;
            const REAL *gn = ghn + at * H;
            const REAL *gs = grad_states + at * H;
            REAL a = att[at];
            REAL *dx = grad_xp + at * H3;
            REAL ga = 0;
            #pragma omp simd reduction(+:ga)
            for (int64_t j = 0; j < H; j++) {
                REAL hp = prev ? prev[j] : (REAL)0;
                REAL gj = carry[j] + gs[j];
                REAL diff = c[j] - hp;
                REAL upd = u[j] * a;
                ga += gj * u[j] * diff;
                REAL dn = gj * upd * ((REAL)1 - c[j] * c[j]);
                REAL dr = dn * gn[j] * r[j] * ((REAL)1 - r[j]);
                REAL du = gj * diff * upd * ((REAL)1 - u[j]);
                dx[j] = dr;
                dx[H + j] = du;
                dx[2 * H + j] = dn;
                dg[j] = dr;
                dg[H + j] = du;
                dg[2 * H + j] = dn * r[j];
                g[j] = gj * ((REAL)1 - upd);
            }
            grad_att[at] = ga;
            for (int64_t j = 0; j < H3; j++) grad_b[j] += dg[j];
            /* carry = g * (1 - update) + dg @ whh, four rows of whh at a time so
               the additions into carry form a short dependency chain. */
            for (int64_t k = 0; k < H; k++) carry[k] = g[k];
            int64_t j = 0;
            for (; j + 3 < H3; j += 4) {
                const REAL *w = whh + j * H;
                REAL d0 = dg[j], d1 = dg[j + 1], d2 = dg[j + 2], d3 = dg[j + 3];
                #pragma omp simd
                for (int64_t k = 0; k < H; k++)
                    carry[k] += (d0 * w[k] + d1 * w[H + k])
                                + (d2 * w[2 * H + k] + d3 * w[3 * H + k]);
            }
            for (; j < H3; j++)
                for (int64_t k = 0; k < H; k++) carry[k] += dg[j] * whh[j * H + k];
            /* grad_w += outer(dg, state before the step) */
            if (prev)
                for (int64_t j2 = 0; j2 < H3; j2++) {
                    REAL d = dg[j2];
                    REAL *gw = grad_w + j2 * H;
                    #pragma omp simd
                    for (int64_t k = 0; k < H; k++) gw[k] += d * prev[k];
                }
        }
    }
}
"""

_SOURCE = "#include <math.h>\n#include <stdint.h>\n#include <string.h>\n" + "".join(
    _BODY.replace("REAL", real).replace("SUF", suffix).replace("EXP", exp)
    for real, suffix, exp in (("float", "f32", "expf"), ("double", "f64", "exp"))
)
# -ffast-math lets the compiler call glibc's vector EXP; it is given to the
# compile step only: linking a shared library with it (GCC < 13) would add
# crtfastmath, which flushes denormals to zero for the whole process.
_COMPILE = ["-O3", "-march=native", "-ffast-math", "-fopenmp-simd", "-fPIC", "-std=c99"]

_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL | None] = {}


def _cache_dir() -> Path:
    root = os.environ.get("RECPLAT_NATIVE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "recplat" / "native"


def _cpu_features() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: the key still names the platform
        return ""
    return next((line for line in info.splitlines() if line.startswith(("flags", "Features"))), "")


def _compile(target: Path) -> bool:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        log.info("no C compiler found; DIEN's scan keeps its TorchScript loops")
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        source = Path(tmp) / "scan.c"
        source.write_text(_SOURCE)
        obj, built = Path(tmp) / "scan.o", Path(tmp) / target.name
        for command in (
            [compiler, *_COMPILE, "-c", str(source), "-o", str(obj)],
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
    recipe = _SOURCE + " ".join(_COMPILE) + _cpu_features()
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    return f"scan-{sysconfig.get_platform()}-{digest}.so"


def load() -> ctypes.CDLL | None:
    """The compiled scan library, building it on first use; None where unavailable."""
    if os.environ.get("RECPLAT_NATIVE_SCAN", "1") == "0":
        return None
    key = os.environ.get("RECPLAT_NATIVE_CACHE", "")  # the folder decides which file loads
    if key in _loaded:  # the hot path: every DIEN forward asks
        return _loaded[key]
    with _lock:
        if key in _loaded:
            return _loaded[key]
        target = _cache_dir() / _library_name()
        library: ctypes.CDLL | None = None
        try:
            if target.exists() or _compile(target):
                library = ctypes.CDLL(str(target))
        except (OSError, subprocess.SubprocessError) as error:  # unwritable cache, hung compiler
            log.warning("native scan unavailable (%s); using TorchScript", error)
        _loaded[key] = library
        return library


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
