/* The packed BERT encoder's kernels (pipeline/embed.py:_PackedBert): attention of a whole
 * batch of sequences in one call, and the linear layers with what follows each of them.
 *
 * Why: on 20-token statements torch runs attention as one flash-kernel iteration per
 * (sequence, head), about 5 us each: 11 % of the encoder's time on one thread, and it hardly
 * gains from a second. Here one call does a whole batch of sequences, each (sequence, head)
 * from copies in L1/L2, 4 query rows at a time. The linear layers are products by weights
 * packed once, each with its bias and GELU, or its residual, bias and LayerNorm, done
 * before the rows leave the cache; a row's result never depends on the other rows.
 *
 * Loaded with ctypes. No entry point keeps state between calls (each allocates its own
 * buffers), so threads may call them at once: the engine runs one batch per thread.
 * Built for x86-64 with the instruction sets named per function (target attributes), so any
 * gcc/clang builds it; `temakarta_attend_f32_supported` says whether this CPU runs the
 * float32 kernels (AVX2 and FMA), `temakarta_bf16_supported` whether it also runs
 * temakarta_linear_bf16 (AVX-512 BF16). Elsewhere every entry point is a stub and Python
 * keeps torch.
 *
 * temakarta_attend_f32: fp32 rows in and out, the qkv product's bias added here (AVX2 and
 * FMA); temakarta_attend_f32x16 the same on 16 lanes, for the bf16 engine (AVX-512), on the
 * qkv product in head layout (temakarta_qkv_heads_bf16), q's bias already added.
 * temakarta_linear_f32: the float32 engine's linear layers (AVX2 and FMA).
 * temakarta_linear_bf16: the bf16 engine's, the same scheme with bf16 weights and each block
 * of rows rounded to bf16 as it is packed, fp32 sums; rows stay fp32 between the layers.
 */
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Whether this CPU runs the bf16 kernel: AVX-512 with its BF16 dot products. */
int temakarta_bf16_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
}

#define TK_TARGET_AVX2 __attribute__((target("avx2,fma")))

int temakarta_attend_f32_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* Cephes' expf polynomial, highest power first (for the 8- and the 16-lane exp) */
static const float tk_exp_c[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                  4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

/* exp(x) for x <= 0 (Cephes' expf: x = k ln2 + r, |r| <= ln2/2, ln2 in two parts): relative
 * error < 1.2e-7. Below -87.3 (and for -inf) it gives 2^-126, not 0: every weight that small
 * is negligible next to the largest, which is 1; masked columns are zeroed apart. */
TK_TARGET_AVX2 static inline __m256 tk_exp_neg8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.33654f));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(tk_exp_c[0]);
    for (int c = 1; c < 6; c++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(tk_exp_c[c]));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
    const __m256i bits = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

TK_TARGET_AVX2 static inline float tk_reduce8(__m256 v, int use_max) {
    __m128 a = _mm256_castps256_ps128(v), b = _mm256_extractf128_ps(v, 1);
    a = use_max ? _mm_max_ps(a, b) : _mm_add_ps(a, b);
    b = _mm_movehl_ps(a, a);
    a = use_max ? _mm_max_ps(a, b) : _mm_add_ps(a, b);
    b = _mm_shuffle_ps(a, a, 1);
    a = use_max ? _mm_max_ss(a, b) : _mm_add_ss(a, b);
    return _mm_cvtss_f32(a);
}

#define ROWS4 4 /* query rows per pass of the f32 kernel */

/* Scores of ROWS4 query rows (q: ROWS4 x dh) against key blocks b0 .. b0 + nb - 1 (nb <= 3;
 * 8 keys each, of kt: dh x stride) into p (ROWS4 x stride): each key vector loaded once
 * serves four rows and each broadcast query value nb blocks (8 rows x 1 block, a load per
 * FMA, ran 13 % slower). nb is a constant where it is inlined, so the loops unroll and the
 * up to 12 sums stay in registers. */
TK_TARGET_AVX2 static inline __attribute__((always_inline)) void tk_scores8(
    const float *q, int64_t dh, const float *kt, int64_t stride, int64_t b0, int nb, float *p) {
    __m256 acc[ROWS4][3];
    for (int r = 0; r < ROWS4; r++)
        for (int b = 0; b < nb; b++) acc[r][b] = _mm256_setzero_ps();
    for (int64_t c = 0; c < dh; c++) {
        __m256 key[3];
        for (int b = 0; b < nb; b++) key[b] = _mm256_loadu_ps(kt + c * stride + (b0 + b) * 8);
        for (int r = 0; r < ROWS4; r++) {
            const __m256 x = _mm256_broadcast_ss(q + r * dh + c);
            for (int b = 0; b < nb; b++) acc[r][b] = _mm256_fmadd_ps(x, key[b], acc[r][b]);
        }
    }
    for (int r = 0; r < ROWS4; r++)
        for (int b = 0; b < nb; b++) _mm256_store_ps(p + r * stride + (b0 + b) * 8, acc[r][b]);
}

/* Rows out[r] (r < rows, `ostride` floats apart), nv <= 2 vectors of 8 from 8k on: the sum
 * over j < n of p[r][j] * v[j][8k ..] (ROWS4 rows of weights, p: ROWS4 x stride; v: rows
 * `vstride` floats apart) times inv[r], plus vbias[8k ..]. The sums are local: as an
 * out-parameter they went to memory on every step. */
TK_TARGET_AVX2 static inline __attribute__((always_inline)) void tk_weighted8(
    const float *p, int64_t stride, const float *v, int64_t vstride, int64_t n, int nv,
    const __m256 *inv, const float *vbias, float *out, int64_t ostride, int64_t rows) {
    __m256 o[ROWS4][2];
    for (int r = 0; r < ROWS4; r++)
        for (int k = 0; k < nv; k++) o[r][k] = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; j++) {
        __m256 val[2];
        for (int k = 0; k < nv; k++) val[k] = _mm256_loadu_ps(v + j * vstride + k * 8);
        for (int r = 0; r < ROWS4; r++) {
            const __m256 w = _mm256_broadcast_ss(p + r * stride + j);
            for (int k = 0; k < nv; k++) o[r][k] = _mm256_fmadd_ps(w, val[k], o[r][k]);
        }
    }
    for (int k = 0; k < nv; k++) {
        const __m256 bias = _mm256_loadu_ps(vbias + k * 8);
        for (int r = 0; r < ROWS4 && r < rows; r++)
            _mm256_storeu_ps(out + r * ostride + k * 8, _mm256_fmadd_ps(o[r][k], inv[r], bias));
    }
}

/* Keys 0 .. 8 blocks8 - 1 of a sequence (n of them; `keys` its first key row, rows `width`
 * floats apart), plus their bias kb, transposed into kt_all: per head, dh rows of `stride`
 * floats, heads per_head floats apart. 8 x 8 at a time (a scalar copy was a quarter of the
 * kernel's time); the columns past n are zeros: masked, but never garbage. */
TK_TARGET_AVX2 static inline __attribute__((always_inline)) void tk_keys_t8(
    const float *keys, int64_t width, int64_t n, int64_t blocks8, int64_t d, int64_t dh,
    const float *kb, float *kt_all, int64_t per_head, int64_t stride) {
    const float zeros[8] __attribute__((aligned(32))) = {0};
    for (int64_t jb = 0; jb < blocks8; jb++) {
        const float *row[8];
        for (int r = 0; r < 8; r++)
            row[r] = jb * 8 + r < n ? keys + (jb * 8 + r) * width : NULL;
        for (int64_t at = 0; at < d; at += 8) {
            __m256 m[8], t[8];
            const __m256 key_bias = _mm256_loadu_ps(kb + at);
            for (int r = 0; r < 8; r++)
                m[r] = row[r] ? _mm256_add_ps(_mm256_loadu_ps(row[r] + at), key_bias)
                              : _mm256_load_ps(zeros);
            t[0] = _mm256_unpacklo_ps(m[0], m[1]); t[1] = _mm256_unpackhi_ps(m[0], m[1]);
            t[2] = _mm256_unpacklo_ps(m[2], m[3]); t[3] = _mm256_unpackhi_ps(m[2], m[3]);
            t[4] = _mm256_unpacklo_ps(m[4], m[5]); t[5] = _mm256_unpackhi_ps(m[4], m[5]);
            t[6] = _mm256_unpacklo_ps(m[6], m[7]); t[7] = _mm256_unpackhi_ps(m[6], m[7]);
            for (int k = 0; k < 2; k++) {
                m[4 * k] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
                m[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
                m[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
                m[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
            }
            /* m[k] now holds dims (k of 0..3 within each 128-bit half) of keys 0-3 | 4-7 */
            float *dst = kt_all + (at / dh) * per_head + (at % dh) * stride + jb * 8;
            for (int k = 0; k < 4; k++) {
                _mm256_storeu_ps(dst + k * stride,
                                 _mm256_permute2f128_ps(m[k], m[k + 4], 0x20));
                _mm256_storeu_ps(dst + (k + 4) * stride,
                                 _mm256_permute2f128_ps(m[k], m[k + 4], 0x31));
            }
        }
    }
}

/* A sequence's queries plus their bias and its values, per head (qa[h * seq_head + t * dh + c],
 * va alike), in one pass over its n rows (`width` floats apart): read where they were used, a
 * head's slice of row after row, the query loads alone took 30 % of the 16-lane kernel's
 * samples under perf. Rows n .. rows4 - 1 of qa repeat the last query (never stored). */
TK_TARGET_AVX2 static inline __attribute__((always_inline)) void tk_heads_qv(
    const float *rows, int64_t width, int64_t n, int64_t rows4, int64_t heads, int64_t dh,
    const float *qb, float *qa, float *va, int64_t seq_head) {
    const int64_t d = heads * dh;
    for (int64_t t = 0; t < rows4; t++) {
        const float *row = rows + (t < n ? t : n - 1) * width;
        for (int64_t at = 0; at < d; at += 8) {
            const int64_t to = (at / dh) * seq_head + t * dh + at % dh;
            _mm256_store_ps(qa + to,
                            _mm256_add_ps(_mm256_loadu_ps(row + at), _mm256_loadu_ps(qb + at)));
            if (t < n) _mm256_store_ps(va + to, _mm256_loadu_ps(row + 2 * d + at));
        }
    }
}

/* Share h of `heads` of the rows of sequence s + 1 (`width` floats each) into the cache, while
 * head h of sequence s runs; nothing after the last (the row-layout 16-lane kernel this served
 * too, a scratch loop: 52 -> 61-64 GFLOP/s). */
static inline void tk_prefetch_next(const float *qkv, int64_t width, const int64_t *starts,
                                    const int64_t *lengths, int64_t nseq, int64_t s, int64_t h,
                                    int64_t heads) {
    if (s + 1 >= nseq) return;
    const float *rows = qkv + starts[s + 1] * width;
    for (int64_t t = h * lengths[s + 1] / heads; t < (h + 1) * lengths[s + 1] / heads; t++)
        for (int64_t at = 0; at < width; at += 16) __builtin_prefetch(rows + t * width + at, 0, 3);
}

/* Softmax attention of every (sequence, head), fp32: qkv rows hold [q | k | v], each
 * `heads` x `dh` wide (q's weights and bias already scaled by 1/sqrt(dh)); out rows get the
 * heads' contexts side by side. Sequence s is rows [starts[s], starts[s] + lengths[s]). dh a
 * multiple of 8, <= 128; returns 0, or -1 (dh, no memory). `bias` (3 x heads x dh: q's,
 * k's, v's) is what the qkv product left out, added here: a broadcast copy of it into the
 * product's output cost a pass over memory. Per sequence, the keys (with their bias) are
 * transposed into a buffer and q (with its bias) and v are copied per head (`tk_heads_qv`);
 * v's bias is added to the output (the weights sum to 1). */
TK_TARGET_AVX2 int temakarta_attend_f32(const float *qkv, const float *bias, float *out,
                                        int64_t heads, int64_t dh, const int64_t *starts,
                                        const int64_t *lengths, int64_t nseq) {
    if (dh <= 0 || dh % 8 != 0 || dh > 128) return -1;
    const int64_t d = heads * dh, width = 3 * d, vecs = dh / 8;
    int64_t longest = 0;
    for (int64_t s = 0; s < nseq; s++) longest = lengths[s] > longest ? lengths[s] : longest;
    const int64_t cols = (longest + 7) / 8 * 8, per_head = dh * cols;
    const int64_t rows4 = (longest + ROWS4 - 1) / ROWS4 * ROWS4, seq_head = rows4 * dh;
    const size_t bytes =
        sizeof(float) * (size_t)(heads * per_head + ROWS4 * cols + 2 * heads * seq_head);
    float *buf = aligned_alloc(32, (bytes + 31) / 32 * 32);
    if (buf == NULL) return -1;
    float *kt_all = buf, *p = kt_all + heads * per_head, *qa = p + ROWS4 * cols;
    float *va = qa + heads * seq_head;
    const float *qb = bias, *kb = bias + d, *vb = bias + 2 * d;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t s = 0; s < nseq; s++) {
        const int64_t n = lengths[s], row0 = starts[s], blocks = (n + 7) / 8;
        const int64_t stride = blocks * 8;
        /* lanes of the last block that hold keys (all of them when n is a multiple of 8) */
        const __m256 tail = _mm256_castsi256_ps(
            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - (blocks - 1) * 8)), lane));
        tk_keys_t8(qkv + row0 * width + d, width, n, blocks, d, dh, kb, kt_all, per_head,
                   stride);
        tk_heads_qv(qkv + row0 * width, width, n, (n + ROWS4 - 1) / ROWS4 * ROWS4, heads, dh, qb,
                    qa, va, seq_head);
        for (int64_t h = 0; h < heads; h++) {
            tk_prefetch_next(qkv, width, starts, lengths, nseq, s, h, heads);
            const float *kt = kt_all + h * per_head, *v = va + h * seq_head;
            for (int64_t i = 0; i < n; i += ROWS4) {
                const float *qt = qa + h * seq_head + i * dh;
                int64_t b = 0;
                for (; b + 3 <= blocks; b += 3) tk_scores8(qt, dh, kt, stride, b, 3, p);
                if (blocks - b == 2) tk_scores8(qt, dh, kt, stride, b, 2, p);
                if (blocks - b == 1) tk_scores8(qt, dh, kt, stride, b, 1, p);
                /* the four rows side by side: each row's steps wait on the one before */
                __m256 top[ROWS4], m[ROWS4], total[ROWS4], inv[ROWS4];
                for (int r = 0; r < ROWS4; r++) top[r] = _mm256_set1_ps(-INFINITY);
                for (int64_t b = 0; b < blocks; b++)
                    for (int r = 0; r < ROWS4; r++) {
                        const __m256 x = _mm256_load_ps(p + r * stride + b * 8);
                        top[r] = _mm256_max_ps(
                            top[r], b == blocks - 1 ? _mm256_blendv_ps(top[r], x, tail) : x);
                    }
                for (int r = 0; r < ROWS4; r++) {
                    m[r] = _mm256_set1_ps(tk_reduce8(top[r], 1));
                    total[r] = _mm256_setzero_ps();
                }
                for (int64_t b = 0; b < blocks; b++)
                    for (int r = 0; r < ROWS4; r++) {
                        float *at = p + r * stride + b * 8;
                        __m256 e = tk_exp_neg8(_mm256_sub_ps(_mm256_load_ps(at), m[r]));
                        if (b == blocks - 1) e = _mm256_and_ps(e, tail);
                        _mm256_store_ps(at, e);
                        total[r] = _mm256_add_ps(total[r], e);
                    }
                for (int r = 0; r < ROWS4; r++)
                    inv[r] = _mm256_set1_ps(1.f / tk_reduce8(total[r], 0));
                for (int64_t c = 0; c < vecs; c += 2) {
                    const float *vc = v + c * 8, *bc = vb + h * dh + c * 8;
                    float *oc = out + (row0 + i) * d + h * dh + c * 8;
                    if (vecs - c >= 2)
                        tk_weighted8(p, stride, vc, dh, n, 2, inv, bc, oc, d, n - i);
                    else
                        tk_weighted8(p, stride, vc, dh, n, 1, inv, bc, oc, d, n - i);
                }
            }
        }
    }
    free(buf);
    return 0;
}

/* GELU (erf form) of 8 floats: x/2 (1 + erf(x/sqrt(2))), erf by a rational function (odd,
 * degree 13, over even, degree 8) of x/sqrt(2) clamped to [-4, 4], where float's erf is
 * already +-1: absolute error < 4e-7 against mpmath. 1.7x faster than torch's form
 * (Abramowitz-Stegun 7.1.26 with an exp and a division), about as accurate (test). */
/* erf's numerator and denominator in t = z^2, highest power first (one table for the 8- and
 * the 16-lane GELU) */
static const float tk_erf_p[7] = {-2.72614225801306e-10f, 2.77068142495902e-08f,
                                  -2.10102402082508e-06f, -5.69250639462346e-05f,
                                  -7.34990630326855e-04f, -2.95459980854025e-03f,
                                  -1.60960333262415e-02f};
static const float tk_erf_q[5] = {-1.45660718464996e-05f, -2.13374055278905e-04f,
                                  -1.68282697438203e-03f, -7.37332916720468e-03f,
                                  -1.42647390514189e-02f};

TK_TARGET_AVX2 static inline __m256 tk_gelu8(__m256 x) {
    const __m256 z = _mm256_max_ps(
        _mm256_min_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)),
                      _mm256_set1_ps(4.f)),
        _mm256_set1_ps(-4.f));
    const __m256 t = _mm256_mul_ps(z, z);
    __m256 p = _mm256_set1_ps(tk_erf_p[0]), q = _mm256_set1_ps(tk_erf_q[0]);
    for (int c = 1; c < 7; c++) p = _mm256_fmadd_ps(t, p, _mm256_set1_ps(tk_erf_p[c]));
    for (int c = 1; c < 5; c++) q = _mm256_fmadd_ps(t, q, _mm256_set1_ps(tk_erf_q[c]));
    const __m256 erf = _mm256_div_ps(_mm256_mul_ps(z, p), q);
    return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)),
                         _mm256_add_ps(_mm256_set1_ps(1.f), erf));
}

/* x <- LayerNorm(x) * gamma + beta in place (x: rows x cols floats, cols a multiple of 8;
 * mean, then variance about it, in fp32 as torch does), after the out and down products:
 * x already holds residual + product + bias, and sum[r][h] the sum of row r's vectors 8 c
 * with c % 2 == h, in order of c (tk_tile's epilogue added them as it stored them, the
 * order a pass over the row would take, and a pass fewer). ROWS4 rows go side by side: one
 * row's sums are chains of dependent adds, and four rows' chains overlap (1.7x faster on
 * 1825 x 384, the same bits: each row keeps its own order of additions). */
TK_TARGET_AVX2 static inline __attribute__((always_inline)) void tk_norm_rows(
    float *x, __m256 (*sum)[2], const float *gamma, const float *beta, int64_t cols,
    float eps, int nrows) {
    __m256 sq[ROWS4][2], m[ROWS4], rstd[ROWS4];
    for (int k = 0; k < nrows; k++) {
        sq[k][0] = sq[k][1] = _mm256_setzero_ps();
        m[k] = _mm256_set1_ps(tk_reduce8(_mm256_add_ps(sum[k][0], sum[k][1]), 0) / (float)cols);
    }
    for (int64_t c = 0; c < cols; c += 8)
        for (int k = 0; k < nrows; k++) {
            const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + k * cols + c), m[k]);
            sq[k][(c / 8) & 1] = _mm256_fmadd_ps(v, v, sq[k][(c / 8) & 1]);
        }
    for (int k = 0; k < nrows; k++) {
        const float var = tk_reduce8(_mm256_add_ps(sq[k][0], sq[k][1]), 0) / (float)cols;
        rstd[k] = _mm256_set1_ps(1.f / sqrtf(var + eps));
    }
    for (int64_t c = 0; c < cols; c += 8) {
        const __m256 g = _mm256_loadu_ps(gamma + c), be = _mm256_loadu_ps(beta + c);
        for (int k = 0; k < nrows; k++) {
            const __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + k * cols + c), m[k]),
                                           rstd[k]);
            _mm256_storeu_ps(x + k * cols + c, _mm256_fmadd_ps(v, g, be));
        }
    }
}

/* tk_norm_rows over rows i0 .. i1 - 1 of c (n columns; sums[0] those of row i0) */
TK_TARGET_AVX2 static inline __attribute__((always_inline)) void tk_norm_block(
    float *c, __m256 (*sums)[2], int64_t i0, int64_t i1, int64_t n, const float *gamma,
    const float *beta, float eps) {
    int64_t i = i0;
    for (; i + ROWS4 <= i1; i += ROWS4)
        tk_norm_rows(c + i * n, sums + (i - i0), gamma, beta, n, eps, ROWS4);
    for (; i < i1; i++) tk_norm_rows(c + i * n, sums + (i - i0), gamma, beta, n, eps, 1);
}

#define TK_MR 6  /* rows of a tile: 6 x 2 sums, two panel vectors and a broadcast in 15 ymm */
#define TK_NR 16 /* columns of a panel */
/* Rows of a block: packed into tiles once, then every panel passes them (96 x 384 floats,
 * 144 KB, stay in L2; the down product's 96 x 1536 not quite, but 24-48 rows for it, in
 * alternating scratch runs of the engine, were no faster). */
#define TK_MB 96

/* what a product does with its sums; TK_BIAS (sums + bias) only inside the bf16 kernel */
enum { TK_STORE = 0, TK_GELU = 1, TK_NORM = 2, TK_BIAS = 3 };

/* Rows of each head block in the qkv product's head layout: m rounded up to whole tiles (the
 * last tile's rows past m are computed, and land in padding rows). */
static inline int64_t tb_head_rows(int64_t m) { return (m + TK_MR - 1) / TK_MR * TK_MR; }

/* One tile: for rows r < TK_MR and columns q < TK_NR of the panel, s = the sum over p < k of
 * a[r][p] * panel[p][q] (the tile's rows of a interleaved: ap[p * TK_MR + r]; read as one
 * stream, not six, and the loop four steps at a time: about 10 % faster together in
 * alternating scratch runs of the engine's four products, the same bits), one FMA chain in
 * order of p, the same instructions for every row: a row's result never depends on the
 * other rows or on where it sits (OpenBLAS's kernels sum rows 6-11 of every 12 in another
 * order than rows 0-5, and the transposed product has a pattern of its own, so a text's
 * vector would depend on its batch). Then c[r][q] = s (TK_STORE), GELU(s + bias[q])
 * (TK_GELU) or (c[r][q] + s) + bias[q] (TK_NORM: the residual; its vectors also added to
 * sum[r], for the norm once the row is whole). `kind` is a constant where this is inlined. */
TK_TARGET_AVX2 static inline __attribute__((always_inline)) void tk_tile(
    const float *ap, const float *panel, int64_t k, float *const *c, int kind,
    const float *bias, __m256 (*sum)[2]) {
    __m256 s[TK_MR][2];
    for (int r = 0; r < TK_MR; r++) s[r][0] = s[r][1] = _mm256_setzero_ps();
    /* the residual is read at the end, and from memory the first time: fetched now, under
     * the FMAs; waiting for it cost the out and down products 5-9 % (alternating scratch runs) */
    if (kind == TK_NORM)
        for (int r = 0; r < TK_MR; r++) {
            __builtin_prefetch(c[r], 1, 3);
            __builtin_prefetch(c[r] + TK_NR - 1, 1, 3);
        }
#pragma GCC unroll 4
    for (int64_t p = 0; p < k; p++) {
        const __m256 b0 = _mm256_loadu_ps(panel + p * TK_NR);
        const __m256 b1 = _mm256_loadu_ps(panel + p * TK_NR + 8);
        for (int r = 0; r < TK_MR; r++) {
            const __m256 x = _mm256_broadcast_ss(ap + p * TK_MR + r);
            s[r][0] = _mm256_fmadd_ps(x, b0, s[r][0]);
            s[r][1] = _mm256_fmadd_ps(x, b1, s[r][1]);
        }
    }
    /* every row is stored (a missing one to a scratch row): a store per row that exists
     * kept the sums in memory, not in registers, and ran at a third of the speed */
    for (int r = 0; r < TK_MR; r++)
        for (int h = 0; h < 2; h++) {
            __m256 v = s[r][h];
            if (kind == TK_GELU) v = tk_gelu8(_mm256_add_ps(v, _mm256_loadu_ps(bias + 8 * h)));
            if (kind == TK_NORM) {
                v = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(c[r] + 8 * h), v),
                                  _mm256_loadu_ps(bias + 8 * h));
                sum[r][h] = _mm256_add_ps(sum[r][h], v);
            }
            _mm256_storeu_ps(c[r] + 8 * h, v);
        }
}

/* c (m x n) <- a (m x k) . w, float rows, w as `packed`: panels of TK_NR columns, panel j
 * holding w[p][16 j .. 16 j + 16) for p < k in turn ((n / 16, k, 16)); n a multiple of 16.
 * kind TK_STORE: the product; TK_GELU: GELU(product + bias); TK_NORM: LayerNorm(c + product +
 * bias) * gamma + beta, row by row (c holds the residual). Why not MKL or OpenBLAS: MKL ran
 * at about 80 % of OpenBLAS's rate on the AMD Zen 3 this was written on, and OpenBLAS's
 * result for a row depends on its place among the others (see tk_tile); here each product is
 * one pass, its bias, GELU or LayerNorm done while the block is in cache. Returns 0, or -1
 * (shapes, kind, no memory). */
TK_TARGET_AVX2 int temakarta_linear_f32(const float *a, const float *packed, float *c,
                                        int64_t m, int64_t k, int64_t n, int kind,
                                        const float *bias, const float *gamma,
                                        const float *beta, float eps) {
    if (m < 0 || k <= 0 || n <= 0 || n % TK_NR != 0 || kind < TK_STORE || kind > TK_NORM)
        return -1;
    /* the block's rows of a, tile by tile, interleaved (rows past m: zeros) */
    float *tiles = aligned_alloc(32, sizeof(float) * (size_t)(TK_MB * k));
    if (tiles == NULL) return -1;
    float sink[TK_NR] __attribute__((aligned(32))) = {0};
    __m256 sums[TK_MB][2]; /* TK_NORM: the block's row sums (tk_norm_rows) */
    for (int64_t i0 = 0; i0 < m; i0 += TK_MB) {
        const int64_t i1 = i0 + TK_MB < m ? i0 + TK_MB : m;
        if (kind == TK_NORM)
            for (int r = 0; r < TK_MB; r++) sums[r][0] = sums[r][1] = _mm256_setzero_ps();
        for (int64_t i = i0; i < i1; i += TK_MR) {
            float *tile = tiles + (i - i0) * k;
            for (int r = 0; r < TK_MR; r++) {
                if (i + r >= i1) {
                    for (int64_t p = 0; p < k; p++) tile[p * TK_MR + r] = 0.f;
                    continue;
                }
                const float *row = a + (i + r) * k;
                for (int64_t p = 0; p < k; p++) tile[p * TK_MR + r] = row[p];
            }
        }
        for (int64_t j = 0; j < n; j += TK_NR) {
            const float *panel = packed + j * k;
            for (int64_t i = i0; i < i1; i += TK_MR) {
                const float *tile = tiles + (i - i0) * k;
                float *cr[TK_MR];
                for (int r = 0; r < TK_MR; r++) cr[r] = i + r < i1 ? c + (i + r) * n + j : sink;
                if (kind == TK_STORE) tk_tile(tile, panel, k, cr, TK_STORE, bias, sums);
                else if (kind == TK_GELU) tk_tile(tile, panel, k, cr, TK_GELU, bias + j, sums);
                else tk_tile(tile, panel, k, cr, TK_NORM, bias + j, sums + (i - i0));
            }
        }
        if (kind == TK_NORM) /* the block's rows are whole now, and still in L2 */
            tk_norm_block(c, sums, i0, i1, n, gamma, beta, eps);
    }
    free(tiles);
    return 0;
}

/* The bf16 engine's linear layers: temakarta_linear_f32's scheme with AVX-512 BF16 dot
 * products (vdpbf16ps: 16 lanes, each the sum of two bf16 products added to an fp32 sum).
 * Rows stay fp32 between the layers and are rounded to bf16 (to nearest even) only as a block
 * is packed; weights are bf16, packed once in panels of TB_NR columns, pairs of inputs side by
 * side: panel j holds w[2 p + e][64 j + q] at ((j * k / 2 + p) * 64 + q) * 2 + e, i.e.
 * (n / 64, k / 2, 64, 2). A 6 x 64 tile keeps 24 sums in zmm registers: 24 independent
 * chains, enough for two dot products per cycle at their latency. Each of the model's
 * products alone on 2048 rows, with its epilogue (one thread, AMD Zen 5,
 * bench/bench_kernels.py): 319-455 GFLOP/s, against 270-444 for oneDNN's with torch's GELU or
 * LayerNorm after it; inside the engine oneDNN's out product with its residual ran at 240. */
#define TB_NR 64
#define TB_TARGET \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")))

/* tk_gelu8 on 16 lanes */
TB_TARGET static inline __m512 tk_gelu16(__m512 x) {
    const __m512 z = _mm512_max_ps(
        _mm512_min_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)),
                      _mm512_set1_ps(4.f)),
        _mm512_set1_ps(-4.f));
    const __m512 t = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(tk_erf_p[0]), q = _mm512_set1_ps(tk_erf_q[0]);
    for (int c = 1; c < 7; c++) p = _mm512_fmadd_ps(t, p, _mm512_set1_ps(tk_erf_p[c]));
    for (int c = 1; c < 5; c++) q = _mm512_fmadd_ps(t, q, _mm512_set1_ps(tk_erf_q[c]));
    const __m512 erf = _mm512_div_ps(_mm512_mul_ps(z, p), q);
    return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)),
                         _mm512_add_ps(_mm512_set1_ps(1.f), erf));
}

/* exp(x) for x <= 0: tk_exp_neg8 on 16 lanes */
TB_TARGET static inline __m512 tk_exp_neg16(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.33654f));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(tk_exp_c[0]);
    for (int c = 1; c < 6; c++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(tk_exp_c[c]));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
    const __m512i bits = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/* tk_scores8 on blocks of 16 keys */
TB_TARGET static inline __attribute__((always_inline)) void tk_scores16(
    const float *q, int64_t dh, const float *kt, int64_t stride, int64_t b0, int nb, float *p) {
    __m512 acc[ROWS4][3];
    for (int r = 0; r < ROWS4; r++)
        for (int b = 0; b < nb; b++) acc[r][b] = _mm512_setzero_ps();
    for (int64_t c = 0; c < dh; c++) {
        __m512 key[3];
        for (int b = 0; b < nb; b++) key[b] = _mm512_loadu_ps(kt + c * stride + (b0 + b) * 16);
        for (int r = 0; r < ROWS4; r++) {
            const __m512 x = _mm512_set1_ps(q[r * dh + c]);
            for (int b = 0; b < nb; b++) acc[r][b] = _mm512_fmadd_ps(x, key[b], acc[r][b]);
        }
    }
    for (int r = 0; r < ROWS4; r++)
        for (int b = 0; b < nb; b++) _mm512_store_ps(p + r * stride + (b0 + b) * 16, acc[r][b]);
}

/* tk_weighted8 on vectors of 16 */
TB_TARGET static inline __attribute__((always_inline)) void tk_weighted16(
    const float *p, int64_t stride, const float *v, int64_t vstride, int64_t n, int nv,
    const __m512 *inv, const float *vbias, float *out, int64_t ostride, int64_t rows) {
    __m512 o[ROWS4][2];
    for (int r = 0; r < ROWS4; r++)
        for (int k = 0; k < nv; k++) o[r][k] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j++) {
        __m512 val[2];
        for (int k = 0; k < nv; k++) val[k] = _mm512_loadu_ps(v + j * vstride + k * 16);
        for (int r = 0; r < ROWS4; r++) {
            const __m512 w = _mm512_set1_ps(p[r * stride + j]);
            for (int k = 0; k < nv; k++) o[r][k] = _mm512_fmadd_ps(w, val[k], o[r][k]);
        }
    }
    for (int k = 0; k < nv; k++) {
        const __m512 bias = _mm512_loadu_ps(vbias + k * 16);
        for (int r = 0; r < ROWS4 && r < rows; r++)
            _mm512_storeu_ps(out + r * ostride + k * 16, _mm512_fmadd_ps(o[r][k], inv[r], bias));
    }
}

/* temakarta_attend_f32's steps on 16 lanes (AVX-512, blocks of 16 keys), for the bf16 engine,
 * on the qkv product in head layout (temakarta_qkv_heads_bf16): hm holds 3 x heads blocks of
 * mp rows of dh floats, q's heads (their bias added), k's, v's; sequence s is rows
 * [starts[s], starts[s] + lengths[s]) of each block. Each (sequence, head) reads its q and v
 * where they lie and transposes its keys (with their bias) into a buffer; while it runs, the
 * next one's rows are prefetched. Why: the row layout's copies of q and v per sequence took a
 * third of the attention's time in the engine (one thread, AMD Zen 5); without them the qkv
 * product and attention together took 6-7 % less (the same bits). dh a multiple of 16, <= 128;
 * returns 0, or -1 (dh, no memory). */
TB_TARGET int temakarta_attend_f32x16(const float *hm, const float *bias, float *out,
                                      int64_t heads, int64_t dh, int64_t mp,
                                      const int64_t *starts, const int64_t *lengths,
                                      int64_t nseq) {
    if (dh <= 0 || dh % 16 != 0 || dh > 128) return -1;
    const int64_t d = heads * dh, vecs = dh / 16, block = mp * dh;
    int64_t longest = 0;
    for (int64_t s = 0; s < nseq; s++) longest = lengths[s] > longest ? lengths[s] : longest;
    const int64_t cols = (longest + 15) / 16 * 16;
    const size_t bytes = sizeof(float) * (size_t)(dh * cols + ROWS4 * cols);
    float *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (buf == NULL) return -1;
    float *kt = buf, *p = kt + dh * cols;
    const float *kb = bias + d, *vb = bias + 2 * d;
    for (int64_t s = 0; s < nseq; s++) {
        const int64_t n = lengths[s], row0 = starts[s], blocks = (n + 15) / 16;
        const int64_t stride = blocks * 16;
        const __mmask16 tail = (__mmask16)(n % 16 ? (1u << (n % 16)) - 1 : 0xFFFFu);
        for (int64_t h = 0; h < heads; h++) {
            const float *q = hm + h * block + row0 * dh, *k = hm + (heads + h) * block + row0 * dh;
            const float *v = hm + (2 * heads + h) * block + row0 * dh;
            const int64_t hn = h + 1 < heads ? h + 1 : 0, sn = h + 1 < heads ? s : s + 1;
            for (int part = 0; sn < nseq && part < 3; part++) { /* the next (sequence, head) */
                const float *next = hm + (part * heads + hn) * block + starts[sn] * dh;
                for (int64_t x = 0; x < lengths[sn] * dh; x += 16)
                    __builtin_prefetch(next + x, 0, 3);
            }
            tk_keys_t8(k, dh, n, stride / 8, dh, dh, kb + h * dh, kt, 0, stride);
            for (int64_t i = 0; i < n; i += ROWS4) { /* q's rows past n: read, never stored */
                const float *qt = q + i * dh;
                int64_t b = 0;
                for (; b + 3 <= blocks; b += 3) tk_scores16(qt, dh, kt, stride, b, 3, p);
                if (blocks - b == 2) tk_scores16(qt, dh, kt, stride, b, 2, p);
                if (blocks - b == 1) tk_scores16(qt, dh, kt, stride, b, 1, p);
                __m512 top[ROWS4], m[ROWS4], total[ROWS4], inv[ROWS4];
                for (int r = 0; r < ROWS4; r++) top[r] = _mm512_set1_ps(-INFINITY);
                for (int64_t b = 0; b < blocks; b++)
                    for (int r = 0; r < ROWS4; r++) {
                        const __m512 x = _mm512_load_ps(p + r * stride + b * 16);
                        top[r] = _mm512_mask_max_ps(top[r], b == blocks - 1 ? tail : 0xFFFF,
                                                    top[r], x);
                    }
                for (int r = 0; r < ROWS4; r++) {
                    m[r] = _mm512_set1_ps(_mm512_reduce_max_ps(top[r]));
                    total[r] = _mm512_setzero_ps();
                }
                for (int64_t b = 0; b < blocks; b++)
                    for (int r = 0; r < ROWS4; r++) {
                        float *at = p + r * stride + b * 16;
                        __m512 e = tk_exp_neg16(_mm512_sub_ps(_mm512_load_ps(at), m[r]));
                        if (b == blocks - 1) e = _mm512_maskz_mov_ps(tail, e);
                        _mm512_store_ps(at, e);
                        total[r] = _mm512_add_ps(total[r], e);
                    }
                for (int r = 0; r < ROWS4; r++)
                    inv[r] = _mm512_set1_ps(1.f / _mm512_reduce_add_ps(total[r]));
                for (int64_t c = 0; c < vecs; c += 2) {
                    const float *vc = v + c * 16, *bc = vb + h * dh + c * 16;
                    float *oc = out + (row0 + i) * d + h * dh + c * 16;
                    if (vecs - c >= 2)
                        tk_weighted16(p, stride, vc, dh, n, 2, inv, bc, oc, d, n - i);
                    else
                        tk_weighted16(p, stride, vc, dh, n, 1, inv, bc, oc, d, n - i);
                }
            }
        }
    }
    free(buf);
    return 0;
}

/* tk_tile for bf16: ap holds the tile's rows as bf16 pairs, interleaved (ap[p * TK_MR + r]
 * = a[r][2 p], a[r][2 p + 1]); kp = k / 2; vector h of row r (columns 16 h ..) goes to
 * c[r] + off[h]. The epilogues are tk_tile's, and TK_BIAS; for TK_NORM each
 * 16-lane sum is added to sum[r] as its two 8-lane halves, so tk_norm_rows sees the sums a
 * pass over the row in order would make. */
TB_TARGET static inline __attribute__((always_inline)) void tb_tile(
    const uint32_t *ap, const uint16_t *panel, int64_t kp, float *const *c, const int64_t *off,
    int kind, const float *bias, __m256 (*sum)[2]) {
    __m512 s[TK_MR][4];
    for (int r = 0; r < TK_MR; r++)
        for (int h = 0; h < 4; h++) s[r][h] = _mm512_setzero_ps();
    if (kind == TK_NORM)
        for (int r = 0; r < TK_MR; r++)
            for (int h = 0; h < 4; h++) __builtin_prefetch(c[r] + off[h], 1, 3);
#pragma GCC unroll 2
    for (int64_t p = 0; p < kp; p++) {
        const uint16_t *b = panel + p * TB_NR * 2;
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 32);
        const __m512bh b2 = (__m512bh)_mm512_loadu_si512(b + 64);
        const __m512bh b3 = (__m512bh)_mm512_loadu_si512(b + 96);
        for (int r = 0; r < TK_MR; r++) {
            const __m512bh x = (__m512bh)_mm512_set1_epi32((int)ap[p * TK_MR + r]);
            s[r][0] = _mm512_dpbf16_ps(s[r][0], x, b0);
            s[r][1] = _mm512_dpbf16_ps(s[r][1], x, b1);
            s[r][2] = _mm512_dpbf16_ps(s[r][2], x, b2);
            s[r][3] = _mm512_dpbf16_ps(s[r][3], x, b3);
        }
    }
    for (int r = 0; r < TK_MR; r++)
        for (int h = 0; h < 4; h++) {
            __m512 v = s[r][h];
            if (kind == TK_BIAS) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + 16 * h));
            if (kind == TK_GELU)
                v = tk_gelu16(_mm512_add_ps(v, _mm512_loadu_ps(bias + 16 * h)));
            if (kind == TK_NORM) {
                v = _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(c[r] + off[h]), v),
                                  _mm512_loadu_ps(bias + 16 * h));
                sum[r][0] = _mm256_add_ps(sum[r][0], _mm512_castps512_ps256(v));
                sum[r][1] = _mm256_add_ps(sum[r][1], _mm512_extractf32x8_ps(v, 1));
            }
            _mm512_storeu_ps(c[r] + off[h], v);
        }
}

/* Where tb_pack6 puts the pairs: lane l of output vector o (of three) is pair p = (16 o + l) / 6
 * of row (16 o + l) % 6, taken from rows 0-3 (two rows per source vector, eight pairs each) at
 * from_abcd[o][l], or, where ef[o] has bit l, from rows 4-5 at from_ef[o][l]. */
typedef struct {
    __m512i from_abcd[3], from_ef[3];
    __mmask16 ef[3];
} tb_places;

TB_TARGET static inline tb_places tb_places6(void) {
    _Static_assert(TK_MR == 6, "tb_pack6 packs tiles of six rows");
    tb_places places;
    for (int o = 0; o < 3; o++) {
        int32_t abcd[16], ef[16];
        places.ef[o] = 0;
        for (int l = 0; l < 16; l++) {
            const int p = (16 * o + l) / 6, r = (16 * o + l) % 6;
            abcd[l] = r < 4 ? (r / 2) * 16 + (r % 2) * 8 + p : 0;
            ef[l] = (r % 2) * 8 + p;
            if (r >= 4) places.ef[o] |= (__mmask16)(1u << l);
        }
        places.from_abcd[o] = _mm512_loadu_si512(abcd);
        places.from_ef[o] = _mm512_loadu_si512(ef);
    }
    return places;
}

/* Six whole rows of a (k floats each, `k` apart) into one tile of bf16 pairs, interleaved:
 * tile[p * 6 + r] = row r's inputs 2 p and 2 p + 1, rounded to nearest even
 * (_mm512_cvtneps_pbh). Eight pairs of each row at a time, placed by two permutes per 16
 * lanes: one scalar store per pair took 8 % of the products' time in the engine (perf,
 * one thread, AMD Zen 5); the down product (k = 1536) ran 5 % faster this way. */
TB_TARGET static inline __attribute__((always_inline)) void tb_pack6(const float *a, int64_t k,
                                                                    uint32_t *tile,
                                                                    const tb_places *places) {
    for (int64_t p = 0; p < k / 2; p += 8) {
        __m256i h[6];
        for (int r = 0; r < 6; r++)
            h[r] = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(a + r * k + 2 * p));
        const __m512i ab = _mm512_inserti64x4(_mm512_castsi256_si512(h[0]), h[1], 1);
        const __m512i cd = _mm512_inserti64x4(_mm512_castsi256_si512(h[2]), h[3], 1);
        const __m512i ef = _mm512_inserti64x4(_mm512_castsi256_si512(h[4]), h[5], 1);
        for (int o = 0; o < 3; o++) {
            const __m512i abcd = _mm512_permutex2var_epi32(ab, places->from_abcd[o], cd);
            _mm512_storeu_si512(tile + p * 6 + 16 * o,
                                _mm512_mask_permutexvar_epi32(abcd, places->ef[o],
                                                              places->from_ef[o], ef));
        }
    }
}

/* temakarta_linear_f32 with bf16 products: a (m x k) and c (m x n) fp32 rows, `packed` the
 * bf16 weights in panels of 64 columns (above); k a multiple of 16, n of 64. Returns 0, or
 * -1 (shapes, kind, no memory). */
TB_TARGET static inline __attribute__((always_inline)) int tb_linear(
    const float *a, const uint16_t *packed, float *c, int64_t m, int64_t k, int64_t n, int kind,
    const float *bias, const float *gamma, const float *beta, float eps, int64_t dh) {
    if (m < 0 || k <= 0 || k % 16 != 0 || n <= 0 || n % TB_NR != 0 || kind < TK_STORE ||
        kind > TK_NORM)
        return -1;
    const int64_t mp = tb_head_rows(m), d = n / 3;
    const int64_t kp = k / 2;
    uint32_t *tiles = aligned_alloc(64, sizeof(uint32_t) * (size_t)(TK_MB * kp));
    if (tiles == NULL) return -1;
    float sink[TB_NR] __attribute__((aligned(64))) = {0};
    __m256 sums[TK_MB][2];
    const tb_places places = tb_places6();
    for (int64_t i0 = 0; i0 < m; i0 += TK_MB) {
        const int64_t i1 = i0 + TK_MB < m ? i0 + TK_MB : m;
        if (kind == TK_NORM)
            for (int r = 0; r < TK_MB; r++) sums[r][0] = sums[r][1] = _mm256_setzero_ps();
        for (int64_t i = i0; i < i1; i += TK_MR) {
            uint32_t *tile = tiles + (i - i0) * kp;
            if (i + TK_MR <= i1) {
                tb_pack6(a + i * k, k, tile, &places);
                continue;
            }
            for (int r = 0; r < TK_MR; r++) { /* the last rows: the tile's others are zeros */
                if (i + r >= i1) {
                    for (int64_t p = 0; p < kp; p++) tile[p * TK_MR + r] = 0;
                    continue;
                }
                const float *row = a + (i + r) * k;
                for (int64_t p = 0; p < kp; p += 8) { /* 16 floats: 8 pairs */
                    uint32_t pairs[8] __attribute__((aligned(32)));
                    _mm256_store_si256((__m256i *)pairs,
                                       (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(row + 2 * p)));
                    for (int e = 0; e < 8; e++) tile[(p + e) * TK_MR + r] = pairs[e];
                }
            }
        }
        for (int64_t j = 0; j < n; j += TB_NR) {
            const uint16_t *panel = packed + j * k;
            int64_t off[4] = {0, 16, 32, 48}; /* where the panel's 4 vectors go from a row's */
            for (int h = 0; dh && h < 4; h++)
                off[h] = (j + 16 * h) / dh * mp * dh + (j + 16 * h) % dh;
            for (int64_t i = i0; i < i1; i += TK_MR) {
                const uint32_t *tile = tiles + (i - i0) * kp;
                float *cr[TK_MR];
                if (dh) { /* head layout: the tile's last rows are the blocks' padding rows */
                    for (int r = 0; r < TK_MR; r++) cr[r] = c + (i + r) * dh;
                    if (j < d) tb_tile(tile, panel, kp, cr, off, TK_BIAS, bias + j, sums);
                    else tb_tile(tile, panel, kp, cr, off, TK_STORE, bias, sums);
                    continue;
                }
                for (int r = 0; r < TK_MR; r++) cr[r] = i + r < i1 ? c + (i + r) * n + j : sink;
                if (kind == TK_STORE) tb_tile(tile, panel, kp, cr, off, TK_STORE, bias, sums);
                else if (kind == TK_GELU)
                    tb_tile(tile, panel, kp, cr, off, TK_GELU, bias + j, sums);
                else tb_tile(tile, panel, kp, cr, off, TK_NORM, bias + j, sums + (i - i0));
            }
        }
        if (kind == TK_NORM) tk_norm_block(c, sums, i0, i1, n, gamma, beta, eps);
    }
    free(tiles);
    return 0;
}

TB_TARGET int temakarta_linear_bf16(const float *a, const uint16_t *packed, float *c, int64_t m,
                                    int64_t k, int64_t n, int kind, const float *bias,
                                    const float *gamma, const float *beta, float eps) {
    return tb_linear(a, packed, c, m, k, n, kind, bias, gamma, beta, eps, 0);
}

/* The qkv product (n = 3 x heads x dh outputs) in head layout, for temakarta_attend_f32x16: c
 * holds 3 x heads blocks (q's heads, k's, v's) of tb_head_rows(m) rows of dh floats, q's bias
 * added (k's and v's are the attention's); dh a multiple of 16. Returns 0, or -1. */
TB_TARGET int temakarta_qkv_heads_bf16(const float *a, const uint16_t *packed, float *c, int64_t m,
                                       int64_t k, int64_t n, const float *bias, int64_t dh) {
    if (dh <= 0 || dh % 16 != 0 || n % 3 != 0 || (n / 3) % dh != 0) return -1;
    return tb_linear(a, packed, c, m, k, n, TK_STORE, bias, NULL, NULL, 0.f, dh);
}

#else /* not x86-64: Python keeps torch */

int temakarta_bf16_supported(void) { return 0; }
int temakarta_linear_bf16(const float *a, const uint16_t *packed, float *c, int64_t m, int64_t k,
                          int64_t n, int kind, const float *bias, const float *gamma,
                          const float *beta, float eps) {
    (void)a; (void)packed; (void)c; (void)m; (void)k; (void)n; (void)kind; (void)bias;
    (void)gamma; (void)beta; (void)eps;
    return -1;
}
int temakarta_attend_f32x16(const float *hm, const float *bias, float *out, int64_t heads,
                            int64_t dh, int64_t mp, const int64_t *starts,
                            const int64_t *lengths, int64_t nseq) {
    (void)hm; (void)bias; (void)out; (void)heads; (void)dh; (void)mp; (void)starts;
    (void)lengths; (void)nseq;
    return -1;
}
int temakarta_qkv_heads_bf16(const float *a, const uint16_t *packed, float *c, int64_t m,
                             int64_t k, int64_t n, const float *bias, int64_t dh) {
    (void)a; (void)packed; (void)c; (void)m; (void)k; (void)n; (void)bias; (void)dh;
    return -1;
}
int temakarta_attend_f32_supported(void) { return 0; }
int temakarta_attend_f32(const float *qkv, const float *bias, float *out, int64_t heads,
                         int64_t dh, const int64_t *starts, const int64_t *lengths,
                         int64_t nseq) {
    (void)qkv; (void)bias; (void)out; (void)heads; (void)dh; (void)starts; (void)lengths;
    (void)nseq;
    return -1;
}
int temakarta_linear_f32(const float *a, const float *packed, float *c, int64_t m, int64_t k,
                         int64_t n, int kind, const float *bias, const float *gamma,
                         const float *beta, float eps) {
    (void)a; (void)packed; (void)c; (void)m; (void)k; (void)n; (void)kind; (void)bias;
    (void)gamma; (void)beta; (void)eps;
    return -1;
}
#endif
