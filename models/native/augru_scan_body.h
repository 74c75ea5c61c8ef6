/* The AUGRU / GRU scan loops, written once for REAL in {float, double}.
   Included twice by augru_scan.c; REAL, EXP and NAME(x) (x_f32 or x_f64) come from there. */

/* Inputs are clamped so EXP never overflows: the file is built with -ffast-math
   (vectorised EXP), which assumes finite values. sigmoid(+-40) is 1 or 0 in float. */
static inline REAL NAME(clamp)(REAL z) {
    return z < (REAL)-40 ? (REAL)-40 : (z > (REAL)40 ? (REAL)40 : z);
}
static inline REAL NAME(sig)(REAL z) { return (REAL)1 / ((REAL)1 + EXP(-NAME(clamp)(z))); }

/* Forward recurrence, batch-major: xp (B,T,3H) projected inputs, att (B,T),
   lengths (B,), whh_t the transposed recurrent weight (H,3H). Rows are
   independent, so each runs its own steps. Outputs need no initialising:
   states past a row's length are zeroed here, the rest is never read there. */
void NAME(scan_forward)(const REAL *xp, const REAL *att, const int64_t *lengths,
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
            for (int64_t j = 0; j < 2 * H; j++) g[j] = NAME(sig)(x[j] + gh[j]);
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) {
                REAL z = x[2 * H + j] + g[j] * gh[2 * H + j];
                c[j] = (REAL)1 - (REAL)2 / (EXP((REAL)2 * NAME(clamp)(z)) + (REAL)1);  /* tanh */
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
void NAME(scan_backward)(const REAL *grad_states, const REAL *att, const int64_t *lengths,
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
