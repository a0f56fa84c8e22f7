//! One-shot gzip decompression with libdeflate, for objects that fit in memory.
//!
//! One of the crate's two `unsafe` modules (the other is `simd`): a thin wrapper over
//! `libdeflate_gzip_decompress_ex`, which (unlike the safe `libdeflater` API) reports how much
//! input a member used, so an object of several gzip members is recognised and left to the
//! streaming decoder instead of being silently cut after its first member.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// A libdeflate decompressor.
struct Decompressor(NonNull<libdeflate_decompressor>);

impl Decompressor {
    fn new() -> Option<Self> {
        // SAFETY: no preconditions; a null result (out of memory) is handled.
        NonNull::new(unsafe { libdeflate_alloc_decompressor() }).map(Decompressor)
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from libdeflate_alloc_decompressor and is freed once.
        unsafe { libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

/// Decompresses `input`, which must be exactly one gzip member, into `out` (sized from the
/// member's trailer). Returns `false` for damaged data, a size other than `out.len()`, or input
/// left over after the member (several members): the caller then streams the object instead.
pub fn decompress_single_member(input: &[u8], out: &mut [u8]) -> bool {
    let Some(d) = Decompressor::new() else {
        return false;
    };
    let mut used_in = 0usize;
    let mut used_out = 0usize;
    // SAFETY: the pointers and lengths describe live, non-overlapping slices that outlive the
    // call; libdeflate writes at most `out.len()` bytes and only through `out`.
    let result = unsafe {
        libdeflate_gzip_decompress_ex(
            d.0.as_ptr(),
            input.as_ptr().cast::<c_void>(),
            input.len(),
            out.as_mut_ptr().cast::<c_void>(),
            out.len(),
            &mut used_in,
            &mut used_out,
        )
    };
    result == libdeflate_result_LIBDEFLATE_SUCCESS
        && used_in == input.len()
        && used_out == out.len()
}
