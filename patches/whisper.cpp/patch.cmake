# Hearth's changes to the whisper.cpp and ggml that whisper-rs-sys bundles, applied to its copy
# of the sources (in cargo's OUT_DIR) while CMake configures them: .cargo/config.toml sets
# CMAKE_PROJECT_INCLUDE to this file, and whisper-rs-sys passes every CMAKE_* variable on, so
# CMake runs it after each project() call. It edits only whisper-rs-sys's copy, never the
# crate in cargo's registry; each change is idempotent (a marker says it is done), and the
# build stops when the text a change replaces is not there (a newer whisper-rs-sys: check
# whether the change is still needed). BENCHMARKS.md has the figures for each.
#
# 1. llamafile's tiled matrix kernels (tinyBLAS) decline a product whose inner dimension is
#    not a multiple of their vector width (8 floats with AVX2), and ggml falls back to one dot
#    product per output. The encoder's attention over the values has an inner dimension of
#    1,500 (Whisper's 30 s window, 1500 % 8 = 4). The kernels now run the whole-vector part as
#    before and add the last few products one by one.
# 2. The encoder's attention in 32-bit floats, its scores by outer products. Scoring 1,500
#    queries against 1,500 keys has an inner dimension of only 64 (one head's width): the
#    tiles and dot products spend as much time summing each vector's lanes and converting
#    f16 as multiplying. With keys and values kept in f32 (whisper.cpp casts them to f16), a
#    small-inner-dimension f32 product is done by outer products instead (16 keys against 6
#    queries at a time, no horizontal sums), and the weighted sum over the values by the f32
#    tiles. x86-64 with AVX2 and FMA only; elsewhere ggml's own f32 paths run.
# 3. The softmax over each row of scores starts with the row's maximum, which ggml finds one
#    float at a time (a compiler may not reorder a floating-point max); with AVX, 16 at a time.

# Replaces the text in _hearth_old with _hearth_new in _hearth_src (CMake lists split at
# semicolons, C++ is full of them: one pair of variables at a time, always quoted).
macro(_hearth_replace step)
  string(FIND "${_hearth_src}" "${_hearth_old}" _hearth_at)
  if(_hearth_at EQUAL -1)
    message(FATAL_ERROR "patches/whisper.cpp/patch.cmake: step ${step} does not match ${_hearth_file}")
  endif()
  string(REPLACE "${_hearth_old}" "${_hearth_new}" _hearth_src "${_hearth_src}")
endmacro()

set(_hearth_file "${CMAKE_SOURCE_DIR}/ggml/src/ggml-cpu/llamafile/sgemm.cpp")
if(EXISTS "${_hearth_file}")
  file(READ "${_hearth_file}" _hearth_src)
  string(FIND "${_hearth_src}" "hearth: inner tail" _hearth_done)
  if(_hearth_done EQUAL -1)
    # 1.1: scalar values of one element of each input type, for the tail.
    set(_hearth_old [==[template <int KN, typename D, typename V, typename TA, typename TB, typename TC>
class tinyBLAS {]==])
    set(_hearth_new [==[// hearth: inner tail. One element as a float, for the products past the last whole vector.
static inline float tail_f32(float x) { return x; }
static inline float tail_f32(ggml_fp16_t x) { return GGML_CPU_FP16_TO_FP32(x); }
static inline float tail_f32(ggml_bf16_t x) { return GGML_BF16_TO_FP32(x); }

template <int KN, typename D, typename V, typename TA, typename TB, typename TC>
class tinyBLAS {]==])
    _hearth_replace(1.1)
    # 1.2: accept any inner dimension of at least one vector.
    set(_hearth_old [==[    bool matmul(int64_t m, int64_t n) {
        if (k % KN != 0)
            return false;]==])
    set(_hearth_new [==[    bool matmul(int64_t m, int64_t n) {
        if (k < KN)
            return false;]==])
    _hearth_replace(1.2)
    # 1.3: the whole vectors as before.
    set(_hearth_old [==[        D Cv[RN][RM] = {};
        for (int64_t l = 0; l < k; l += KN) {]==])
    set(_hearth_new [==[        D Cv[RN][RM] = {};
        const int64_t kv = k - k % KN;
        for (int64_t l = 0; l < kv; l += KN) {]==])
    _hearth_replace(1.3)
    # 1.4: then the tail, one by one.
    set(_hearth_old [==[        for (int64_t j = 0; j < RN; ++j)
            for (int64_t i = 0; i < RM; ++i)
                C[ldc * (jj + j) + (ii + i)] = hsum(Cv[j][i]);
    }

    template <int RM, int RN, int BM>
    NOINLINE void gemm(int64_t m, int64_t n, int64_t BN) {
        GGML_ASSERT(m % (RM * BM) == 0);]==])
    set(_hearth_new [==[        for (int64_t j = 0; j < RN; ++j)
            for (int64_t i = 0; i < RM; ++i) {
                float tail = 0.0f;
                for (int64_t l = kv; l < k; ++l)
                    tail += tail_f32(A[lda * (ii + i) + l]) * tail_f32(B[ldb * (jj + j) + l]);
                C[ldc * (jj + j) + (ii + i)] = hsum(Cv[j][i]) + tail;
            }
    }

    template <int RM, int RN, int BM>
    NOINLINE void gemm(int64_t m, int64_t n, int64_t BN) {
        GGML_ASSERT(m % (RM * BM) == 0);]==])
    _hearth_replace(1.4)
    file(WRITE "${_hearth_file}" "${_hearth_src}")
    message(STATUS "Hearth: 1. tinyBLAS takes any inner dimension (patches/whisper.cpp)")
  endif()
endif()

# 2a: the small-inner-dimension product, in ggml's CPU matrix product.
set(_hearth_file "${CMAKE_SOURCE_DIR}/ggml/src/ggml-cpu/ggml-cpu.c")
if(EXISTS "${_hearth_file}")
  file(READ "${_hearth_file}" _hearth_src)
  string(FIND "${_hearth_src}" "hearth: small inner dimension" _hearth_done)
  if(_hearth_done EQUAL -1)
    set(_hearth_old [==[void ggml_compute_forward_mul_mat(
        const struct ggml_compute_params * params,
              struct ggml_tensor * dst) {]==])
    set(_hearth_new [==[// hearth: small inner dimension. C[n][m] = sum_l A[m][l] * B[n][l] for f32 A, B and C
// when the inner dimension is small (the encoder's attention scores: 64), by outer products:
// 16 rows of A packed as columns, 6 rows of B broadcast, 12 accumulators, no horizontal sums.
#if defined(__AVX2__) && defined(__FMA__)
#define HEARTH_SK 1
static void hearth_sk_block(int64_t k, const float * Ap, const char * B, int64_t ldb_bytes, int64_t n,
                            char * C, int64_t ldc_bytes, int64_t mw) {
    int64_t r = 0;
    for (; r + 6 <= n; r += 6) {
        __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
        __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
        __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
        __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
        __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
        __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
        const float * b0 = (const float *)(B + (r + 0) * ldb_bytes);
        const float * b1 = (const float *)(B + (r + 1) * ldb_bytes);
        const float * b2 = (const float *)(B + (r + 2) * ldb_bytes);
        const float * b3 = (const float *)(B + (r + 3) * ldb_bytes);
        const float * b4 = (const float *)(B + (r + 4) * ldb_bytes);
        const float * b5 = (const float *)(B + (r + 5) * ldb_bytes);
        for (int64_t l = 0; l < k; ++l) {
            const __m256 a0 = _mm256_loadu_ps(Ap + 16 * l);
            const __m256 a1 = _mm256_loadu_ps(Ap + 16 * l + 8);
            __m256 b;
            b = _mm256_broadcast_ss(b0 + l); c00 = _mm256_fmadd_ps(a0, b, c00); c01 = _mm256_fmadd_ps(a1, b, c01);
            b = _mm256_broadcast_ss(b1 + l); c10 = _mm256_fmadd_ps(a0, b, c10); c11 = _mm256_fmadd_ps(a1, b, c11);
            b = _mm256_broadcast_ss(b2 + l); c20 = _mm256_fmadd_ps(a0, b, c20); c21 = _mm256_fmadd_ps(a1, b, c21);
            b = _mm256_broadcast_ss(b3 + l); c30 = _mm256_fmadd_ps(a0, b, c30); c31 = _mm256_fmadd_ps(a1, b, c31);
            b = _mm256_broadcast_ss(b4 + l); c40 = _mm256_fmadd_ps(a0, b, c40); c41 = _mm256_fmadd_ps(a1, b, c41);
            b = _mm256_broadcast_ss(b5 + l); c50 = _mm256_fmadd_ps(a0, b, c50); c51 = _mm256_fmadd_ps(a1, b, c51);
        }
        __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
        for (int i = 0; i < 6; ++i) {
            float * c = (float *)(C + (r + i) * ldc_bytes);
            if (mw == 16) {
                _mm256_storeu_ps(c, acc[i][0]);
                _mm256_storeu_ps(c + 8, acc[i][1]);
            } else {
                float t[16];
                _mm256_storeu_ps(t, acc[i][0]);
                _mm256_storeu_ps(t + 8, acc[i][1]);
                memcpy(c, t, mw * sizeof(float));
            }
        }
    }
    for (; r < n; ++r) {
        __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
        const float * b0 = (const float *)(B + r * ldb_bytes);
        for (int64_t l = 0; l < k; ++l) {
            const __m256 b = _mm256_broadcast_ss(b0 + l);
            c0 = _mm256_fmadd_ps(_mm256_loadu_ps(Ap + 16 * l), b, c0);
            c1 = _mm256_fmadd_ps(_mm256_loadu_ps(Ap + 16 * l + 8), b, c1);
        }
        float t[16];
        _mm256_storeu_ps(t, c0);
        _mm256_storeu_ps(t + 8, c1);
        memcpy(C + r * ldc_bytes, t, mw * sizeof(float));
    }
}

// One slice: A is m x k (rows lda_bytes apart), B is n x k (ldb_bytes), C is n x m (ldc_bytes).
// Each thread takes one run of blocks of 16 rows of A (one run, so that no two threads write
// next to each other in C but at the runs' ends).
static void hearth_sk_slice(int64_t m, int64_t n, int64_t k,
                            const char * A, int64_t lda_bytes, const char * B, int64_t ldb_bytes,
                            char * C, int64_t ldc_bytes, int ith, int nth) {
    float Ap[16 * 128];
    const int64_t blocks = (m + 15) / 16;
    const int64_t end = blocks * (ith + 1) / nth;
    for (int64_t bi = blocks * ith / nth; bi < end; ++bi) {
        const int64_t m0 = bi * 16;
        const int64_t mw = m - m0 < 16 ? m - m0 : 16;
        for (int64_t i = 0; i < 16; ++i) {
            if (i < mw) {
                const float * a = (const float *)(A + (m0 + i) * lda_bytes);
                for (int64_t l = 0; l < k; ++l) Ap[16 * l + i] = a[l];
            } else {
                for (int64_t l = 0; l < k; ++l) Ap[16 * l + i] = 0.0f;
            }
        }
        hearth_sk_block(k, Ap, B, ldb_bytes, n, C + m0 * (int64_t)sizeof(float), ldc_bytes, mw);
    }
}
#endif

void ggml_compute_forward_mul_mat(
        const struct ggml_compute_params * params,
              struct ggml_tensor * dst) {]==])
    _hearth_replace(2.1)
    set(_hearth_old [==[    // nb01 >= nb00 - src0 is not transposed
    //   compute by src0 rows

    // TODO: extract to "extra_op"]==])
    set(_hearth_new [==[    // nb01 >= nb00 - src0 is not transposed
    //   compute by src0 rows

#ifdef HEARTH_SK
    if (src0->type == GGML_TYPE_F32 && src1->type == GGML_TYPE_F32 && dst->type == GGML_TYPE_F32 &&
        ne00 <= 128 && ne01 >= 16 && ne11 >= 16 && ne12 % ne02 == 0 && ne13 % ne03 == 0) {
        for (int64_t i13 = 0; i13 < ne13; i13++) {
            for (int64_t i12 = 0; i12 < ne12; i12++) {
                hearth_sk_slice(ne01, ne11, ne00,
                                (const char *) src0->data + (i12 / (ne12 / ne02)) * nb02 + (i13 / (ne13 / ne03)) * nb03, nb01,
                                (const char *) src1->data + i12 * nb12 + i13 * nb13, nb11,
                                (char *) dst->data + i12 * nb2 + i13 * nb3, nb1,
                                ith, nth);
            }
        }
        return;
    }
#endif

    // TODO: extract to "extra_op"]==])
    _hearth_replace(2.2)
    file(WRITE "${_hearth_file}" "${_hearth_src}")
    message(STATUS "Hearth: 2a. f32 products with a small inner dimension by outer products (patches/whisper.cpp)")
  endif()
endif()

# 2b: the encoder keeps keys and values in f32 for its attention (whisper.cpp casts them to
# its intermediate type, f16), so the scores take the product above and the values the f32
# tiles. The queries stay a view: contiguous ones would send the scores to the tiles.
set(_hearth_file "${CMAKE_SOURCE_DIR}/src/whisper.cpp")
if(EXISTS "${_hearth_file}")
  file(READ "${_hearth_file}" _hearth_src)
  string(FIND "${_hearth_src}" "hearth: encoder attention in f32" _hearth_done)
  if(_hearth_done EQUAL -1)
    set(_hearth_old [==[                struct ggml_tensor * K =
                    ggml_permute(ctx0,
                            ggml_cast(ctx0,
                                ggml_reshape_3d(ctx0, Kcur, n_state_head, n_head, n_ctx),
                                wctx.itype),
                            0, 2, 1, 3);]==])
    set(_hearth_new [==[                // hearth: encoder attention in f32 (patches/whisper.cpp)
                struct ggml_tensor * K =
                    ggml_permute(ctx0,
                            ggml_reshape_3d(ctx0, Kcur, n_state_head, n_head, n_ctx),
                            0, 2, 1, 3);]==])
    _hearth_replace(2.3)
    set(_hearth_old [==[                                1, 2, 0, 3),
                            wctx.itype);

                struct ggml_tensor * KQV = ggml_mul_mat(ctx0, V, KQ_soft_max);]==])
    set(_hearth_new [==[                                1, 2, 0, 3),
                            GGML_TYPE_F32);

                struct ggml_tensor * KQV = ggml_mul_mat(ctx0, V, KQ_soft_max);]==])
    _hearth_replace(2.4)
    file(WRITE "${_hearth_file}" "${_hearth_src}")
    message(STATUS "Hearth: 2b. the encoder's attention in f32 (patches/whisper.cpp)")
  endif()
endif()

# 3: the row maximum of the softmax, 16 floats at a time with AVX (the same result for any
# row without NaN; a NaN row is not a softmax whisper.cpp can use either way).
set(_hearth_file "${CMAKE_SOURCE_DIR}/ggml/src/ggml-cpu/vec.h")
if(EXISTS "${_hearth_file}")
  file(READ "${_hearth_file}" _hearth_src)
  string(FIND "${_hearth_src}" "hearth: vectorized max" _hearth_done)
  if(_hearth_done EQUAL -1)
    set(_hearth_old [==[inline static void ggml_vec_max_f32(const int n, float * s, const float * x) {
#ifndef GGML_USE_ACCELERATE
    float max = -INFINITY;
    for (int i = 0; i < n; ++i) {
        max = MAX(max, x[i]);
    }
    *s = max;]==])
    set(_hearth_new [==[inline static void ggml_vec_max_f32(const int n, float * s, const float * x) {
#ifndef GGML_USE_ACCELERATE
    // hearth: vectorized max (patches/whisper.cpp)
    float max = -INFINITY;
    int i = 0;
#if defined(__AVX__)
    __m256 m0 = _mm256_set1_ps(-INFINITY);
    __m256 m1 = m0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_max_ps(m0, m1));
    for (int j = 0; j < 8; ++j) {
        max = MAX(max, lanes[j]);
    }
#endif
    for (; i < n; ++i) {
        max = MAX(max, x[i]);
    }
    *s = max;]==])
    _hearth_replace(3)
    file(WRITE "${_hearth_file}" "${_hearth_src}")
    message(STATUS "Hearth: 3. the softmax's row maximum vectorized (patches/whisper.cpp)")
  endif()
endif()
