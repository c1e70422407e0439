# Hearth's change to the ggml that whisper-rs-sys bundles, applied to its copy of the sources
# (in cargo's OUT_DIR) while CMake configures them: .cargo/config.toml sets
# CMAKE_PROJECT_INCLUDE to this file, and whisper-rs-sys passes every CMAKE_* variable on, so
# CMake runs it after each project() call. It edits only whisper-rs-sys's copy, never the
# crate in cargo's registry; it is idempotent, and stops the build when the text it replaces
# is not there (a newer whisper-rs-sys: check whether the change is still needed).
#
# The change: llamafile's tiled matrix kernels (tinyBLAS) decline a product whose inner
# dimension is not a multiple of their vector width (8 floats with AVX2), and ggml falls back
# to one dot product per output. The encoder's attention over the values has an inner
# dimension of 1,500 (Whisper's 30 s window, 1500 % 8 = 4), so about a sixth of a standard
# window note went to that fallback. The kernels now run the whole-vector part as before and
# add the last few products one by one. BENCHMARKS.md has the figures.

# Replaces the text in _hearth_old with _hearth_new in _hearth_src (CMake lists split at
# semicolons, C++ is full of them: one pair of variables at a time, always quoted).
macro(_hearth_replace step)
  string(FIND "${_hearth_src}" "${_hearth_old}" _hearth_at)
  if(_hearth_at EQUAL -1)
    message(FATAL_ERROR "patches/whisper.cpp/patch.cmake: step ${step} does not match ${_hearth_sgemm}")
  endif()
  string(REPLACE "${_hearth_old}" "${_hearth_new}" _hearth_src "${_hearth_src}")
endmacro()

set(_hearth_sgemm "${CMAKE_SOURCE_DIR}/ggml/src/ggml-cpu/llamafile/sgemm.cpp")
if(EXISTS "${_hearth_sgemm}")
  file(READ "${_hearth_sgemm}" _hearth_src)
  string(FIND "${_hearth_src}" "hearth: inner tail" _hearth_done)
  if(_hearth_done EQUAL -1)
    # 1: scalar values of one element of each input type, for the tail.
    set(_hearth_old [==[template <int KN, typename D, typename V, typename TA, typename TB, typename TC>
class tinyBLAS {]==])
    set(_hearth_new [==[// hearth: inner tail. One element as a float, for the products past the last whole vector.
static inline float tail_f32(float x) { return x; }
static inline float tail_f32(ggml_fp16_t x) { return GGML_CPU_FP16_TO_FP32(x); }
static inline float tail_f32(ggml_bf16_t x) { return GGML_BF16_TO_FP32(x); }

template <int KN, typename D, typename V, typename TA, typename TB, typename TC>
class tinyBLAS {]==])
    _hearth_replace(1)
    # 2: accept any inner dimension of at least one vector.
    set(_hearth_old [==[    bool matmul(int64_t m, int64_t n) {
        if (k % KN != 0)
            return false;]==])
    set(_hearth_new [==[    bool matmul(int64_t m, int64_t n) {
        if (k < KN)
            return false;]==])
    _hearth_replace(2)
    # 3: the whole vectors as before.
    set(_hearth_old [==[        D Cv[RN][RM] = {};
        for (int64_t l = 0; l < k; l += KN) {]==])
    set(_hearth_new [==[        D Cv[RN][RM] = {};
        const int64_t kv = k - k % KN;
        for (int64_t l = 0; l < kv; l += KN) {]==])
    _hearth_replace(3)
    # 4: then the tail, one by one.
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
    _hearth_replace(4)
    file(WRITE "${_hearth_sgemm}" "${_hearth_src}")
    message(STATUS "Hearth: tinyBLAS takes any inner dimension (patches/whisper.cpp)")
  endif()
endif()
