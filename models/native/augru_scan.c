/* DIEN's recurrent scan (AUGRU / GRU) forward and backward loops, for CPU tensors.
   Built by recplat.models.native_scan with the system C compiler on first use and
   loaded with ctypes; see that module for the layout and the flags. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define NAME(x) CAT(x, SUFFIX)

#define REAL float
#define EXP expf
#define SUFFIX f32
#include "augru_scan_body.h"
#undef REAL
#undef EXP
#undef SUFFIX

#define REAL double
#define EXP exp
#define SUFFIX f64
#include "augru_scan_body.h"
