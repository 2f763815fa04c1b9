/* Attention of the packed BERT encoder (pipeline/embed.py:_PackedBert) in one call.
 *
 * Why: on 20-token statements torch runs attention as one flash-kernel iteration per
 * (sequence, head), about 5 us each: 11 % of the encoder's time on one thread, and it hardly
 * gains from a second. Here one call does a whole batch of sequences, each (sequence, head)
 * from fp32 copies in L1/L2, 4 query rows at a time.
 *
 * Loaded with ctypes; temakarta_attend_parallel splits it over torch's own OpenMP threads.
 * Built for x86-64 with the instruction sets named per function (target attributes), so any
 * gcc/clang builds it; `temakarta_attend_supported` says whether this CPU runs the bf16 kernel
 * (it needs avx512_bf16, which the bf16 engine needs anyway), `temakarta_attend_f32_supported`
 * the float32 one (AVX2 and FMA). Elsewhere every entry point is a stub and Python keeps torch.
 *
 * Numbers: bf16 in, bf16 out (round to nearest even), fp32 inside. A sequence's result never
 * depends on the other sequences of the call or on how the call is split across threads.
 *
 * temakarta_attend_f32 is the same for the float32 engine, with AVX2 and FMA (8 lanes): fp32
 * in and out, for CPUs without bf16 (`temakarta_attend_f32_supported`).
 */
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TILE 4 /* query rows per pass */
#define TK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

int temakarta_attend_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
}

TK_TARGET static inline __m512 tk_load_bf16(const uint16_t *p) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

TK_TARGET static inline void tk_store_bf16(uint16_t *p, __m512 v) {
    _mm256_storeu_si256((__m256i *)p, (__m256i)_mm512_cvtneps_pbh(v));
}

/* exp(x) for x <= 0 (and -inf -> 0): 2^k * 2^f, f in [0, 1); relative error < 2e-7. */
TK_TARGET static inline __m512 tk_exp_neg(__m512 x) {
    __m512 t = _mm512_max_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.4426950408889634f)),
                             _mm512_set1_ps(-150.f));
    __m512 k = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, k);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
    return _mm512_scalef_ps(p, k);
}

/* Softmax attention of every (sequence, head): qkv rows hold [q | k | v], each `heads` x `dh`
 * wide (q already scaled by 1/sqrt(dh)); out rows get the heads' contexts side by side.
 * Sequence s is rows [starts[s], starts[s] + lengths[s]). dh is a multiple of 16, <= 128.
 * Returns 0, or -1 when out of memory or dh is not supported. */
TK_TARGET int temakarta_attend(const uint16_t *qkv, uint16_t *out, int64_t heads, int64_t dh,
                               const int64_t *starts, const int64_t *lengths, int64_t nseq) {
    if (dh <= 0 || dh % 16 != 0 || dh > 128) return -1;
    const int64_t d = heads * dh, width = 3 * d, vecs = dh / 16;
    int64_t longest = 0;
    for (int64_t s = 0; s < nseq; s++) longest = lengths[s] > longest ? lengths[s] : longest;
    const int64_t cols = (longest + 15) / 16 * 16;
    /* Per head: kt, the keys transposed (dh x cols); v and q (longest x dh). p: weights of
     * TILE query rows. A sequence is converted to fp32 in one pass over its rows first, as
     * reading one head's 64 bytes from each row stalled on the cache a third of the time. */
    const int64_t per_head = dh * cols;
    float *buf = aligned_alloc(64, sizeof(float) * (size_t)(3 * heads * per_head + TILE * cols));
    if (buf == NULL) return -1;
    float *kt_all = buf, *v_all = kt_all + heads * per_head, *q_all = v_all + heads * per_head;
    float *p = q_all + heads * per_head;
    for (int64_t s = 0; s < nseq; s++) {
        const int64_t n = lengths[s], row0 = starts[s], blocks = (n + 15) / 16;
        const int64_t stride = blocks * 16; /* kt's and p's row stride for this sequence */
        const __mmask16 tail = (__mmask16)(n % 16 ? (1u << (n % 16)) - 1 : 0xFFFF);
        for (int64_t j = 0; j < n; j++) {
            const uint16_t *src = qkv + (row0 + j) * width;
            for (int64_t h = 0; h < heads; h++) {
                float *q = q_all + h * per_head, *v = v_all + h * per_head;
                float *kt = kt_all + h * per_head;
                for (int64_t c = 0; c < vecs; c++) {
                    const int64_t at = h * dh + c * 16;
                    _mm512_store_ps(q + j * dh + c * 16, tk_load_bf16(src + at));
                    _mm512_store_ps(v + j * dh + c * 16, tk_load_bf16(src + 2 * d + at));
                    float key[16] __attribute__((aligned(64)));
                    _mm512_store_ps(key, tk_load_bf16(src + d + at));
                    for (int e = 0; e < 16; e++) kt[(c * 16 + e) * stride + j] = key[e];
                }
            }
        }
        for (int64_t h = 0; h < heads; h++) /* padding columns: masked, but never garbage */
            for (int64_t c = 0; c < dh; c++)
                for (int64_t j = n; j < stride; j++) kt_all[h * per_head + c * stride + j] = 0.f;
        for (int64_t h = 0; h < heads; h++) {
            const float *q = q_all + h * per_head, *v = v_all + h * per_head;
            const float *kt = kt_all + h * per_head;
            /* TILE query rows at a time: independent FMA chains hide the FMA latency; a tile
             * past the last row repeats that row and does not store it. */
            for (int64_t i = 0; i < n; i += TILE) {
                const float *qr[TILE];
                for (int r = 0; r < TILE; r++) qr[r] = q + (i + r < n ? i + r : n - 1) * dh;
                __m512 top[TILE];
                for (int r = 0; r < TILE; r++) top[r] = _mm512_set1_ps(-INFINITY);
                for (int64_t b = 0; b < blocks; b++) {
                    __m512 acc[TILE];
                    for (int r = 0; r < TILE; r++) acc[r] = _mm512_setzero_ps();
                    for (int64_t c = 0; c < dh; c++) {
                        const __m512 key = _mm512_loadu_ps(kt + c * stride + b * 16);
                        for (int r = 0; r < TILE; r++)
                            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(qr[r][c]), key, acc[r]);
                    }
                    const __mmask16 live = b == blocks - 1 ? tail : (__mmask16)0xFFFF;
                    for (int r = 0; r < TILE; r++) {
                        _mm512_store_ps(p + r * stride + b * 16, acc[r]);
                        top[r] = _mm512_mask_max_ps(top[r], live, top[r], acc[r]);
                    }
                }
                __m512 inv[TILE];
                for (int r = 0; r < TILE; r++) {
                    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(top[r]));
                    __m512 total = _mm512_setzero_ps();
                    for (int64_t b = 0; b < blocks; b++) {
                        float *pb = p + r * stride + b * 16;
                        __m512 e = tk_exp_neg(_mm512_sub_ps(_mm512_load_ps(pb), m));
                        if (b == blocks - 1) e = _mm512_maskz_mov_ps(tail, e);
                        _mm512_store_ps(pb, e);
                        total = _mm512_add_ps(total, e);
                    }
                    inv[r] = _mm512_set1_ps(1.f / _mm512_reduce_add_ps(total));
                }
                for (int64_t c = 0; c < vecs; c++) {
                    __m512 o[TILE];
                    for (int r = 0; r < TILE; r++) o[r] = _mm512_setzero_ps();
                    for (int64_t j = 0; j < n; j++) {
                        const __m512 val = _mm512_load_ps(v + j * dh + c * 16);
                        for (int r = 0; r < TILE; r++)
                            o[r] = _mm512_fmadd_ps(_mm512_set1_ps(p[r * stride + j]), val, o[r]);
                    }
                    for (int r = 0; r < TILE && i + r < n; r++)
                        tk_store_bf16(out + (row0 + i + r) * d + h * dh + c * 16,
                                      _mm512_mul_ps(o[r], inv[r]));
                }
            }
        }
    }
    free(buf);
    return 0;
}

#define TK_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TILE8 8 /* query rows per pass of the f32 kernel: 8 FMA chains cover the latency */

int temakarta_attend_f32_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* exp(x) for x <= 0, as tk_exp_neg; below 2^-126 it gives 2^-126 * p(f), not 0 (every
 * weight that small is negligible next to the largest, which is 1; masked columns are 0). */
TK_TARGET_AVX2 static inline __m256 tk_exp_neg8(__m256 x) {
    __m256 t = _mm256_max_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.4426950408889634f)),
                             _mm256_set1_ps(-126.f));
    __m256 k = _mm256_floor_ps(t);
    __m256 f = _mm256_sub_ps(t, k);
    __m256 p = _mm256_set1_ps(1.5403530393381606e-4f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3333558146428443e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6181291076284772e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5504108664821580e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022650695910071e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314718055994531e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k),
                                                      _mm256_set1_epi32(127)), 23);
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

/* temakarta_attend in float32 (qkv and out are float rows, same layout); dh a multiple of 8,
 * <= 128. q and v are read in place; the keys are transposed per sequence into a buffer. */
TK_TARGET_AVX2 int temakarta_attend_f32(const float *qkv, float *out, int64_t heads, int64_t dh,
                                        const int64_t *starts, const int64_t *lengths,
                                        int64_t nseq) {
    if (dh <= 0 || dh % 8 != 0 || dh > 128) return -1;
    const int64_t d = heads * dh, width = 3 * d, vecs = dh / 8;
    int64_t longest = 0;
    for (int64_t s = 0; s < nseq; s++) longest = lengths[s] > longest ? lengths[s] : longest;
    const int64_t cols = (longest + 7) / 8 * 8, per_head = dh * cols;
    float *buf = aligned_alloc(32, sizeof(float) * (size_t)(heads * per_head + TILE8 * cols));
    if (buf == NULL) return -1;
    float *kt_all = buf, *p = kt_all + heads * per_head;
    const float zeros[8] __attribute__((aligned(32))) = {0};
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t s = 0; s < nseq; s++) {
        const int64_t n = lengths[s], row0 = starts[s], blocks = (n + 7) / 8;
        const int64_t stride = blocks * 8;
        /* lanes of the last block that hold keys (all of them when n is a multiple of 8) */
        const __m256 tail = _mm256_castsi256_ps(
            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - (blocks - 1) * 8)), lane));
        /* Keys transposed 8 x 8 at a time (a scalar copy was a quarter of the kernel's time);
         * the padding columns are zeros: masked, but never garbage. */
        for (int64_t jb = 0; jb < blocks; jb++) {
            const float *row[8];
            for (int r = 0; r < 8; r++)
                row[r] = jb * 8 + r < n ? qkv + (row0 + jb * 8 + r) * width + d : NULL;
            for (int64_t at = 0; at < d; at += 8) {
                __m256 m[8], t[8];
                for (int r = 0; r < 8; r++) m[r] = _mm256_loadu_ps(row[r] ? row[r] + at : zeros);
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
        for (int64_t h = 0; h < heads; h++) {
            const float *kt = kt_all + h * per_head;
            const float *v = qkv + row0 * width + 2 * d + h * dh;
            for (int64_t i = 0; i < n; i += TILE8) {
                const float *qr[TILE8];
                for (int r = 0; r < TILE8; r++)
                    qr[r] = qkv + (row0 + (i + r < n ? i + r : n - 1)) * width + h * dh;
                __m256 top[TILE8];
                for (int r = 0; r < TILE8; r++) top[r] = _mm256_set1_ps(-INFINITY);
                for (int64_t b = 0; b < blocks; b++) {
                    __m256 acc[TILE8];
                    for (int r = 0; r < TILE8; r++) acc[r] = _mm256_setzero_ps();
                    for (int64_t c = 0; c < dh; c++) {
                        const __m256 key = _mm256_loadu_ps(kt + c * stride + b * 8);
                        for (int r = 0; r < TILE8; r++)
                            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(qr[r][c]), key, acc[r]);
                    }
                    for (int r = 0; r < TILE8; r++) {
                        _mm256_store_ps(p + r * stride + b * 8, acc[r]);
                        const __m256 live = b == blocks - 1
                                                ? _mm256_blendv_ps(top[r], acc[r], tail)
                                                : acc[r];
                        top[r] = _mm256_max_ps(top[r], live);
                    }
                }
                __m256 inv[TILE8];
                for (int r = 0; r < TILE8; r++) {
                    const __m256 m = _mm256_set1_ps(tk_reduce8(top[r], 1));
                    __m256 total = _mm256_setzero_ps();
                    for (int64_t b = 0; b < blocks; b++) {
                        float *pb = p + r * stride + b * 8;
                        __m256 e = tk_exp_neg8(_mm256_sub_ps(_mm256_load_ps(pb), m));
                        if (b == blocks - 1) e = _mm256_and_ps(e, tail);
                        _mm256_store_ps(pb, e);
                        total = _mm256_add_ps(total, e);
                    }
                    inv[r] = _mm256_set1_ps(1.f / tk_reduce8(total, 0));
                }
                for (int64_t c = 0; c < vecs; c++) {
                    __m256 o[TILE8];
                    for (int r = 0; r < TILE8; r++) o[r] = _mm256_setzero_ps();
                    for (int64_t j = 0; j < n; j++) {
                        const __m256 val = _mm256_loadu_ps(v + j * width + c * 8);
                        for (int r = 0; r < TILE8; r++)
                            o[r] = _mm256_fmadd_ps(_mm256_set1_ps(p[r * stride + j]), val, o[r]);
                    }
                    for (int r = 0; r < TILE8 && i + r < n; r++)
                        _mm256_storeu_ps(out + (row0 + i + r) * d + h * dh + c * 8,
                                         _mm256_mul_ps(o[r], inv[r]));
                }
            }
        }
    }
    free(buf);
    return 0;
}

/* temakarta_attend over `threads` OpenMP threads of the caller's own runtime (torch's libgomp:
 * its `GOMP_parallel` and `omp_get_thread_num`/`omp_get_num_threads`, passed in by address),
 * so the work goes to the threads torch already keeps, not to new ones that would compete with
 * them. Part t is sequences [cuts[t], cuts[t + 1]); a thread the runtime did not grant leaves
 * its part to the others. Returns 0, or -1 when any part failed. */
typedef void (*tk_gomp_parallel)(void (*)(void *), void *, unsigned, unsigned);
typedef int (*tk_omp_int)(void);
struct tk_job {
    const void *qkv;
    void *out;
    int64_t f32, heads, dh, parts;
    const int64_t *starts, *lengths, *cuts;
    tk_omp_int thread_num, num_threads;
    int failed;
};

static void tk_job_part(void *arg) {
    struct tk_job *job = arg;
    for (int64_t t = job->thread_num(); t < job->parts; t += job->num_threads()) {
        const int64_t a = job->cuts[t], b = job->cuts[t + 1];
        if (b <= a) continue;
        const int code =
            job->f32 ? temakarta_attend_f32(job->qkv, job->out, job->heads, job->dh,
                                            job->starts + a, job->lengths + a, b - a)
                     : temakarta_attend(job->qkv, job->out, job->heads, job->dh, job->starts + a,
                                        job->lengths + a, b - a);
        if (code != 0) __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
    }
}

int temakarta_attend_parallel(void *gomp_parallel, void *thread_num, void *num_threads,
                              int64_t parts, const int64_t *cuts, int64_t f32, const void *qkv,
                              void *out, int64_t heads, int64_t dh, const int64_t *starts,
                              const int64_t *lengths) {
    struct tk_job job = {qkv, out, f32, heads, dh, parts, starts, lengths, cuts,
                         (tk_omp_int)thread_num, (tk_omp_int)num_threads, 0};
    ((tk_gomp_parallel)gomp_parallel)(tk_job_part, &job, (unsigned)parts, 0);
    return job.failed ? -1 : 0;
}

#else /* not x86-64: Python keeps torch */

int temakarta_attend_supported(void) { return 0; }
int temakarta_attend(const uint16_t *qkv, uint16_t *out, int64_t heads, int64_t dh,
                     const int64_t *starts, const int64_t *lengths, int64_t nseq) {
    (void)qkv; (void)out; (void)heads; (void)dh; (void)starts; (void)lengths; (void)nseq;
    return -1;
}
int temakarta_attend_f32_supported(void) { return 0; }
int temakarta_attend_f32(const float *qkv, float *out, int64_t heads, int64_t dh,
                         const int64_t *starts, const int64_t *lengths, int64_t nseq) {
    (void)qkv; (void)out; (void)heads; (void)dh; (void)starts; (void)lengths; (void)nseq;
    return -1;
}
int temakarta_attend_parallel(void *gomp_parallel, void *thread_num, void *num_threads,
                              int64_t parts, const int64_t *cuts, int64_t f32, const void *qkv,
                              void *out, int64_t heads, int64_t dh, const int64_t *starts,
                              const int64_t *lengths) {
    (void)gomp_parallel; (void)thread_num; (void)num_threads; (void)parts; (void)cuts;
    (void)f32; (void)qkv; (void)out; (void)heads; (void)dh; (void)starts; (void)lengths;
    return -1;
}

#endif
