//! Matrix products on strided views of f32 slices, through the gemm crate that
//! candle's own matmul uses. Strides let a kernel multiply one head's columns of
//! a (B·L, 3D) buffer, or a transpose, in place: no copies, no graph nodes.

use std::mem::MaybeUninit;

/// A (rows, cols) matrix inside `data`: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> Mat<'a> {
    /// Row-major (rows, cols) with `stride` elements from one row to the next.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize, stride: usize) -> Self {
        let m = Self {
            data,
            rows,
            cols,
            rs: stride,
            cs: 1,
        };
        assert!(
            rows == 0 || cols == 0 || (rows - 1) * stride + cols <= data.len(),
            "gemm: a ({rows}, {cols}) view with row stride {stride} overruns {} elements",
            data.len()
        );
        m
    }

    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

/// dst = a · b (or dst += a · b with `accumulate`), dst row-major with row
/// stride `dst_rs`. `threads` > 1 splits the product across rayon's pool; the
/// kernels that already run one product per task pass 1.
pub fn matmul(dst: &mut [f32], dst_rs: usize, a: Mat, b: Mat, accumulate: bool, threads: usize) {
    // SAFETY: `dst` is initialised, so reading it when accumulating is sound.
    unsafe {
        product(
            dst.as_mut_ptr(),
            dst.len(),
            dst_rs,
            a,
            b,
            accumulate,
            threads,
        )
    }
}

/// dst = a · b into slots not yet written: the output of a kernel that would
/// otherwise zero-fill a buffer only to overwrite it. Every element of the
/// (a.rows, b.cols) result is written; nothing in `dst` is read.
pub fn matmul_into(dst: &mut [MaybeUninit<f32>], dst_rs: usize, a: Mat, b: Mat, threads: usize) {
    // SAFETY: without `accumulate` the gemm crate sets its alpha to 0 and then
    // only writes dst (every path: microkernels, gemv, k = 0), so the slots'
    // contents are never read.
    unsafe {
        product(
            dst.as_mut_ptr().cast(),
            dst.len(),
            dst_rs,
            a,
            b,
            false,
            threads,
        )
    }
}

/// The product into `dst_len` floats at `dst`.
///
/// # Safety
/// `dst` is valid for writes of `dst_len` floats, aliases neither input, and
/// with `accumulate` its elements are initialised.
unsafe fn product(
    dst: *mut f32,
    dst_len: usize,
    dst_rs: usize,
    a: Mat,
    b: Mat,
    accumulate: bool,
    threads: usize,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert_eq!(k, b.rows, "gemm: inner dimensions differ");
    assert!(
        m == 0 || n == 0 || (m - 1) * dst_rs + n <= dst_len,
        "gemm: a ({m}, {n}) result with row stride {dst_rs} overruns {dst_len} elements"
    );
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above and in `Mat::rows` keep every index that the
    // strides reach inside its slice; the caller vouches for `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_views_and_transposes_multiply_like_the_textbook() {
        // a: rows 0..2 of a (2, 3) block inside a wider (2, 5) buffer.
        let buf: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let a = Mat::rows(&buf[1..], 2, 3, 5); // [[1, 2, 3], [6, 7, 8]]
        let b = Mat::rows(&buf, 2, 3, 5).t(); // [[0, 5], [1, 6], [2, 7]]
        let mut dst = vec![1f32; 4];
        matmul(&mut dst, 2, a, b, false, 1);
        assert_eq!(dst, vec![8.0, 38.0, 23.0, 128.0]);
        matmul(&mut dst, 2, a, b, true, 2);
        assert_eq!(dst, vec![16.0, 76.0, 46.0, 256.0]);
    }

    /// Slots full of NaN stand for memory never written: had the product read
    /// them at all (0 · NaN is NaN), the result would not be exact.
    #[test]
    fn a_product_into_unwritten_slots_never_reads_them() {
        let buf: Vec<f32> = (0..40).map(|v| v as f32 - 7.0).collect();
        for (m, k, n) in [(3, 4, 5), (1, 4, 5), (3, 4, 1), (4, 6, 4), (2, 0, 3)] {
            let (a, b) = (Mat::rows(&buf, m, k, k), Mat::rows(&buf[1..], k, n, n));
            let mut want = vec![0f32; m * n];
            matmul(&mut want, n, a, b, false, 1);
            let mut slots = vec![MaybeUninit::new(f32::NAN); m * n];
            matmul_into(&mut slots, n, a, b, 2);
            // SAFETY: `slots` was initialised (with NaN) when it was made.
            let got: Vec<f32> = slots.iter().map(|s| unsafe { s.assume_init() }).collect();
            assert_eq!(got, want, "({m}, {k}) · ({k}, {n})");
        }
    }

    #[test]
    #[should_panic(expected = "overruns")]
    fn a_view_past_the_end_is_refused() {
        Mat::rows(&[0.0; 5], 2, 3, 3);
    }
}
