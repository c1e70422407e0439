//! The matrix kernels Hearth changes in whisper-rs-sys's copy of ggml
//! (`patches/whisper.cpp/patch.cmake`), checked against plain reference sums through ggml's
//! own graph API, on odd shapes and thread counts the encoder never uses: f32 products with a
//! small inner dimension (the encoder's attention scores, done by outer products on x86-64),
//! products whose inner dimension is not a multiple of the vector width (the values, in f32
//! and f16), and the softmax whose row maximum is vectorized.
//!
//! The voice tests check the same kernels end to end (a transcript comes out right); these say
//! which kernel is wrong when one is. ggml is C: the calls below are FFI, hence `unsafe`.

use whisper_rs_sys as ggml;

/// A ggml context that owns its tensors' memory, freed on drop.
struct Context(*mut ggml::ggml_context);

impl Context {
    fn new() -> Self {
        let params = ggml::ggml_init_params {
            mem_size: 256 << 20,
            mem_buffer: std::ptr::null_mut(),
            no_alloc: false,
        };
        // SAFETY: ggml allocates and owns the buffer; null on failure, checked.
        let ctx = unsafe { ggml::ggml_init(params) };
        assert!(!ctx.is_null(), "ggml_init failed");
        Context(ctx)
    }

    /// A contiguous f32 tensor of shape `ne` (ggml's order: the first is the row length).
    fn tensor(&self, ne: [i64; 3], values: &[f32]) -> *mut ggml::ggml_tensor {
        assert_eq!(values.len() as i64, ne[0] * ne[1] * ne[2]);
        // SAFETY: the context was created with memory for its tensors; the copy stays within
        // the tensor's ne0 * ne1 * ne2 floats.
        unsafe {
            let t = ggml::ggml_new_tensor_3d(
                self.0,
                ggml::ggml_type_GGML_TYPE_F32,
                ne[0],
                ne[1],
                ne[2],
            );
            assert!(!t.is_null(), "ggml_new_tensor_3d failed");
            std::ptr::copy_nonoverlapping(values.as_ptr(), (*t).data as *mut f32, values.len());
            t
        }
    }

    /// Computes `out` with `threads` threads and reads it back (contiguous f32, ggml's order).
    fn compute(&self, out: *mut ggml::ggml_tensor, threads: i32) -> Vec<f32> {
        // SAFETY: `out` was built in this context; ggml writes its result into `out`'s data,
        // which holds ne0 * ne1 * ne2 * ne3 contiguous floats (checked before reading).
        unsafe {
            let graph = ggml::ggml_new_graph(self.0);
            ggml::ggml_build_forward_expand(graph, out);
            let status = ggml::ggml_graph_compute_with_ctx(self.0, graph, threads);
            assert_eq!(status, ggml::ggml_status_GGML_STATUS_SUCCESS);
            let t = &*out;
            assert_eq!(t.type_, ggml::ggml_type_GGML_TYPE_F32);
            assert_eq!(t.nb[0], 4);
            assert_eq!(t.nb[1], 4 * t.ne[0] as usize, "result is not contiguous");
            let n = (t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3]) as usize;
            std::slice::from_raw_parts(t.data as *const f32, n).to_vec()
        }
    }

    fn mul_mat(
        &self,
        a: *mut ggml::ggml_tensor,
        b: *mut ggml::ggml_tensor,
    ) -> *mut ggml::ggml_tensor {
        // SAFETY: both tensors belong to this context.
        unsafe { ggml::ggml_mul_mat(self.0, a, b) }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: created by ggml_init, freed once.
        unsafe { ggml::ggml_free(self.0) }
    }
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n).map(|_| rng.f32() * 2.0 - 1.0).collect()
}

/// What ggml_mul_mat(a, b) means: out[h][j][i] = sum_l a[h / (hb / ha)][i][l] * b[h][j][l],
/// with a of shape [k, m, ha] and b of shape [k, n, hb], in f64.
fn reference(a: &[f32], b: &[f32], k: usize, m: usize, n: usize, ha: usize, hb: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n * hb];
    for h in 0..hb {
        let ah = h / (hb / ha);
        for j in 0..n {
            for i in 0..m {
                out[(h * n + j) * m + i] = (0..k)
                    .map(|l| a[(ah * m + i) * k + l] as f64 * b[(h * n + j) * k + l] as f64)
                    .sum();
            }
        }
    }
    out
}

fn assert_close(got: &[f32], want: &[f64], tolerance: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let error = (*g as f64 - w).abs();
        assert!(
            error <= tolerance * (1.0 + w.abs()),
            "{what}: element {i} is {g}, the reference {w} (error {error})"
        );
    }
}

#[test]
fn f32_products_with_a_small_inner_dimension_match_the_reference() {
    // (k, m, n, heads of a, heads of b): the encoder's own shape (64 by 1,500 keys) cut down,
    // rows of a that are not a multiple of 16, rows of b not a multiple of 6, one inner
    // element, the largest inner dimension the outer products take (128) and one past it,
    // and a broadcast over heads.
    let shapes = [
        (64, 1500, 24, 2, 2),
        (64, 100, 90, 2, 2),
        (5, 17, 19, 1, 1),
        (1, 16, 16, 1, 1),
        (128, 33, 40, 1, 3),
        (129, 20, 17, 1, 1),
        (64, 16, 31, 3, 6),
    ];
    for (s, &(k, m, n, ha, hb)) in shapes.iter().enumerate() {
        let av = values(k * m * ha, 2 * s as u64);
        let bv = values(k * n * hb, 2 * s as u64 + 1);
        let want = reference(&av, &bv, k, m, n, ha, hb);
        for threads in [1, 2, 3] {
            let ctx = Context::new();
            let a = ctx.tensor([k as i64, m as i64, ha as i64], &av);
            let b = ctx.tensor([k as i64, n as i64, hb as i64], &bv);
            let got = ctx.compute(ctx.mul_mat(a, b), threads);
            assert_close(
                &got,
                &want,
                1e-5,
                &format!("k {k}, m {m}, n {n}, heads {ha}/{hb}, {threads} threads"),
            );
        }
    }
}

#[test]
fn attention_scores_from_a_permuted_view_match_the_reference() {
    // As the encoder asks for them: keys and queries as views of [head width * heads, frames]
    // tensors permuted to [head width, frames, heads] (rows far apart, not contiguous).
    let (d, heads, frames) = (64usize, 3usize, 50usize);
    let kv = values(d * heads * frames, 7);
    let qv = values(d * heads * frames, 8);
    // Per head, [frames][d] copies of both for the reference.
    let per_head = |v: &[f32]| -> Vec<f32> {
        let mut out = Vec::with_capacity(v.len());
        for h in 0..heads {
            for f in 0..frames {
                out.extend_from_slice(&v[f * d * heads + h * d..][..d]);
            }
        }
        out
    };
    let want = reference(
        &per_head(&kv),
        &per_head(&qv),
        d,
        frames,
        frames,
        heads,
        heads,
    );
    let ctx = Context::new();
    let k = ctx.tensor([(d * heads) as i64, frames as i64, 1], &kv);
    let q = ctx.tensor([(d * heads) as i64, frames as i64, 1], &qv);
    // SAFETY: views of tensors in this context, as whisper.cpp builds them.
    let (k, q) = unsafe {
        let k = ggml::ggml_reshape_3d(ctx.0, k, d as i64, heads as i64, frames as i64);
        let q = ggml::ggml_reshape_3d(ctx.0, q, d as i64, heads as i64, frames as i64);
        (
            ggml::ggml_permute(ctx.0, k, 0, 2, 1, 3),
            ggml::ggml_permute(ctx.0, q, 0, 2, 1, 3),
        )
    };
    let got = ctx.compute(ctx.mul_mat(k, q), 2);
    assert_close(&got, &want, 1e-5, "permuted keys and queries");
}

#[test]
fn products_whose_inner_dimension_is_not_a_multiple_of_the_vector_width_match() {
    // The values product over 1,500 frames (1500 % 8 = 4), a few others, in f32 and with a in
    // f16 (then b is rounded to f16 too, so the tolerance is f16's).
    for (s, &(k, m, n)) in [
        (1500usize, 64usize, 12usize),
        (1501, 8, 6),
        (9, 12, 7),
        (8, 4, 3),
    ]
    .iter()
    .enumerate()
    {
        let av = values(k * m, 20 + s as u64);
        let bv = values(k * n, 40 + s as u64);
        let want = reference(&av, &bv, k, m, n, 1, 1);
        for threads in [1, 2] {
            let ctx = Context::new();
            let a = ctx.tensor([k as i64, m as i64, 1], &av);
            let b = ctx.tensor([k as i64, n as i64, 1], &bv);
            let got = ctx.compute(ctx.mul_mat(a, b), threads);
            assert_close(
                &got,
                &want,
                1e-4,
                &format!("f32, k {k}, m {m}, n {n}, {threads} threads"),
            );
            // SAFETY: a belongs to this context.
            let a16 = unsafe { ggml::ggml_cast(ctx.0, a, ggml::ggml_type_GGML_TYPE_F16) };
            let got = ctx.compute(ctx.mul_mat(a16, b), threads);
            let tolerance = 4e-3 * (k as f64).sqrt();
            assert_close(
                &got,
                &want,
                tolerance,
                &format!("f16, k {k}, m {m}, n {n}, {threads} threads"),
            );
        }
    }
}

#[test]
fn softmax_rows_match_the_reference_wherever_their_maximum_is() {
    // Row lengths around the 16 floats the maximum takes at a time, and the encoder's 1,500;
    // the largest value first, in the vector part, in the tail and last. A softmax gives the
    // same result for any value it subtracts unless exp overflows, so the largest value is
    // 200 above the rest: a maximum that missed it would overflow (and fail) here.
    for len in [1usize, 7, 16, 17, 31, 33, 1500] {
        for place in [0, len / 2, len.saturating_sub(3), len - 1] {
            for peak in [None, Some(200.0f32)] {
                let mut row: Vec<f32> = values(len, (len * 7 + place) as u64)
                    .iter()
                    .map(|v| v * 4.0)
                    .collect();
                if let Some(peak) = peak {
                    row[place] = peak;
                }
                let scale = 0.5f64;
                let max = row
                    .iter()
                    .map(|&v| v as f64 * scale)
                    .fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = row.iter().map(|&v| (v as f64 * scale - max).exp()).sum();
                let want: Vec<f64> = row
                    .iter()
                    .map(|&v| (v as f64 * scale - max).exp() / sum)
                    .collect();
                let ctx = Context::new();
                let x = ctx.tensor([len as i64, 1, 1], &row);
                // SAFETY: x belongs to this context; no mask.
                let out = unsafe {
                    ggml::ggml_soft_max_ext(ctx.0, x, std::ptr::null_mut(), scale as f32, 0.0)
                };
                let got = ctx.compute(out, 2);
                assert_close(
                    &got,
                    &want,
                    1e-5,
                    &format!("softmax of {len}, maximum {peak:?} at {place}"),
                );
            }
        }
    }
}
