//! Byte classes of 64-byte blocks as bitmasks (bit `i` for byte `i`), for the two hot scanners:
//! JSON structure (CloudTrail) and column separators (flow logs).
//!
//! A scanner is written once, generic over [`Classes`], and run through [`with_best`], which
//! picks the implementation once per call from what the processor offers: AVX-512BW or AVX2
//! (each with PCLMULQDQ) where the processor and the OS support them, else SSE2 on x86_64 (part
//! of its baseline), else portable
//! word-at-a-time arithmetic. All of them give the same bits for every input (the tests compare
//! them byte by byte). The vector loads, the call into the AVX-512 build of a scanner and the
//! text view of bytes checked to be ASCII ([`ascii_str`]) are this module's only `unsafe` code.
#![allow(unsafe_code)]

/// Bytes per block.
pub(crate) const BLOCK: usize = 64;

/// The JSON-relevant bytes of one block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct JsonClasses {
    /// `"`.
    pub quote: u64,
    /// `\\`.
    pub backslash: u64,
    /// `{` or `[`.
    pub open: u64,
    /// `}` or `]`.
    pub close: u64,
    /// `:`.
    pub colon: u64,
    /// `e`, `d` and `s`: the last letters of the CloudTrail keys the scan looks for.
    pub key_tail: u64,
}

/// One way of classifying the bytes of a block.
pub(crate) trait Classes: Copy {
    /// The JSON classes of `block`.
    fn json(self, block: &[u8; BLOCK]) -> JsonClasses;
    /// The bytes of `block` that are at most 0x20 (space, tab, CR, LF and other controls).
    fn separators(self, block: &[u8; BLOCK]) -> u64;
    /// The `\n` bytes of `block`: never inside a JSON string, so one there shows a record
    /// broken at its line. Apart from [`Classes::json`], for the scans that need it only.
    fn newlines(self, block: &[u8; BLOCK]) -> u64;
    /// [`prefix_xor`], with a carry-less multiplication where there is one.
    #[inline(always)]
    fn prefix_xor(self, bits: u64) -> u64 {
        prefix_xor(bits)
    }
}

/// A scan to run with the best [`Classes`] for this processor.
pub(crate) trait Scanner {
    /// What the scan returns.
    type Output;
    /// Runs the scan. Implementations should be `#[inline(always)]`, so that the AVX-512 build
    /// inlines the classification into the scan's loop.
    fn run<C: Classes>(self, classes: C) -> Self::Output;
}

/// Runs `scanner` with the best classes this processor supports.
#[inline]
pub(crate) fn with_best<S: Scanner>(scanner: S) -> S::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
        {
            // SAFETY: the processor and the OS support AVX-512F, AVX-512BW and PCLMULQDQ (just
            // checked).
            return unsafe { avx512::run(scanner) };
        }
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
        {
            // SAFETY: the processor and the OS support AVX2 and PCLMULQDQ (just checked).
            return unsafe { avx2::run(scanner) };
        }
        scanner.run(sse2::Sse2)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        scanner.run(portable::Portable)
    }
}

/// `bytes` as text when every byte is ASCII, which is how log lines come: a check of 32 bytes
/// at a time (the compiler keeps the OR in vector registers), several times faster on such
/// lines than full UTF-8 validation. `None` when a byte is not ASCII; the caller then
/// validates the line as UTF-8 to say where it breaks.
#[inline]
pub(crate) fn ascii_str(bytes: &[u8]) -> Option<&str> {
    let (chunks, tail) = bytes.as_chunks::<32>();
    let mut high = tail.iter().fold(0u8, |acc, b| acc | b);
    for chunk in chunks {
        high |= chunk.iter().fold(0u8, |acc, b| acc | b);
    }
    // SAFETY: every byte is below 0x80, and ASCII text is valid UTF-8.
    (high < 0x80).then(|| unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// Bit `i` set when an odd number of bits at or below `i` are set: with quote bits in, the
/// bytes inside strings come out set (opening quote included, closing quote not).
#[inline(always)]
pub(crate) fn prefix_xor(mut bits: u64) -> u64 {
    bits ^= bits << 1;
    bits ^= bits << 2;
    bits ^= bits << 4;
    bits ^= bits << 8;
    bits ^= bits << 16;
    bits ^= bits << 32;
    bits
}

/// The bytes escaped by a backslash: the byte after each run of backslashes of odd length.
/// `carry` says whether the previous block's last byte was an unescaped backslash of such a run
/// (so this block's first byte is escaped), and is updated for the next block.
#[inline(always)]
pub(crate) fn escaped(backslash: u64, carry: &mut bool) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    if backslash == 0 && !*carry {
        return 0;
    }
    let first = u64::from(*carry);
    // A backslash that is itself escaped starts no escape.
    let backslash = backslash & !first;
    let follows_backslash = (backslash << 1) | first;
    // Runs that start on an odd bit; adding the run bits carries one past the run's end.
    let odd_starts = backslash & !EVEN & !follows_backslash;
    let (even_run_ends, overflow) = odd_starts.overflowing_add(backslash);
    *carry = overflow;
    // A byte after a run is escaped when the run's length is odd: the run started on an even
    // bit and ends on an odd one, or the other way round.
    let invert = even_run_ends << 1;
    (EVEN ^ invert) & follows_backslash
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    use super::{Classes, JsonClasses, BLOCK};

    /// SSE2, which every x86_64 processor has.
    #[derive(Clone, Copy)]
    pub(super) struct Sse2;

    impl Classes for Sse2 {
        #[inline(always)]
        fn json(self, block: &[u8; BLOCK]) -> JsonClasses {
            // SAFETY: SSE2 is part of the x86_64 baseline, so it is always present.
            unsafe { json_classes(block) }
        }

        #[inline(always)]
        fn separators(self, block: &[u8; BLOCK]) -> u64 {
            // SAFETY: as above.
            unsafe { separators(block) }
        }

        #[inline(always)]
        fn newlines(self, block: &[u8; BLOCK]) -> u64 {
            // SAFETY: as above.
            unsafe { newlines(block) }
        }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn newlines(block: &[u8; BLOCK]) -> u64 {
        let mut out = 0;
        for (k, lane) in lanes(block).into_iter().enumerate() {
            out |= bits(_mm_cmpeq_epi8(lane, _mm_set1_epi8(b'\n' as i8)), k);
        }
        out
    }

    /// The four 16-byte lanes of `block`.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn lanes(block: &[u8; BLOCK]) -> [__m128i; 4] {
        // SAFETY: each load reads 16 bytes at offsets 0, 16, 32 and 48 of a 64-byte array;
        // `loadu` has no alignment requirement.
        std::array::from_fn(|k| unsafe { _mm_loadu_si128(block.as_ptr().add(16 * k).cast()) })
    }

    /// The 16 high bits of `lane` as bits `16 * k ..` of a mask.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn bits(lane: __m128i, k: usize) -> u64 {
        u64::from(_mm_movemask_epi8(lane) as u16) << (16 * k)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn json_classes(block: &[u8; BLOCK]) -> JsonClasses {
        let mut out = JsonClasses::default();
        for (k, lane) in lanes(block).into_iter().enumerate() {
            // `{` 0x7B and `[` 0x5B differ only in bit 0x20, as do `}` 0x7D and `]` 0x5D.
            let folded = _mm_or_si128(lane, _mm_set1_epi8(0x20));
            out.quote |= bits(_mm_cmpeq_epi8(lane, _mm_set1_epi8(b'"' as i8)), k);
            out.backslash |= bits(_mm_cmpeq_epi8(lane, _mm_set1_epi8(b'\\' as i8)), k);
            out.open |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8)), k);
            out.close |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8)), k);
            out.colon |= bits(_mm_cmpeq_epi8(lane, _mm_set1_epi8(b':' as i8)), k);
            let e = _mm_cmpeq_epi8(lane, _mm_set1_epi8(b'e' as i8));
            let d = _mm_cmpeq_epi8(lane, _mm_set1_epi8(b'd' as i8));
            let s = _mm_cmpeq_epi8(lane, _mm_set1_epi8(b's' as i8));
            out.key_tail |= bits(_mm_or_si128(_mm_or_si128(e, d), s), k);
        }
        out
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn separators(block: &[u8; BLOCK]) -> u64 {
        let mut out = 0;
        for (k, lane) in lanes(block).into_iter().enumerate() {
            // Unsigned `min(b, 0x20) == b` exactly when `b <= 0x20`.
            let low = _mm_cmpeq_epi8(_mm_min_epu8(lane, _mm_set1_epi8(0x20)), lane);
            out |= bits(low, k);
        }
        out
    }
}

/// Declares, inside a tier's module, the tier's token type, its `run` (the entry point compiled
/// for the tier's features) and its [`Classes`] over the module's `json_classes`, `separators`
/// and `prefix_xor`. Only `run` makes a token, so holding one proves the features were checked.
#[cfg(target_arch = "x86_64")]
macro_rules! vector_tier {
    ($(#[$doc:meta])* $tier:ident, $features:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        struct $tier {
            _checked: (),
        }

        /// Runs `scanner` compiled for this tier.
        ///
        /// # Safety
        /// The processor and the OS must support every feature the tier enables.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn run<S: Scanner>(scanner: S) -> S::Output {
            scanner.run($tier { _checked: () })
        }

        impl Classes for $tier {
            #[inline(always)]
            fn json(self, block: &[u8; BLOCK]) -> JsonClasses {
                // SAFETY: a token exists only inside `run`, whose caller checked the processor.
                unsafe { json_classes(block) }
            }

            #[inline(always)]
            fn separators(self, block: &[u8; BLOCK]) -> u64 {
                // SAFETY: as above.
                unsafe { separators(block) }
            }

            #[inline(always)]
            fn newlines(self, block: &[u8; BLOCK]) -> u64 {
                // SAFETY: as above.
                unsafe { newlines(block) }
            }

            #[inline(always)]
            fn prefix_xor(self, bits: u64) -> u64 {
                // SAFETY: as above.
                unsafe { prefix_xor(bits) }
            }
        }
    };
}

/// The carry-less multiplication shared by the AVX-512 and AVX2 builds.
#[cfg(target_arch = "x86_64")]
mod clmul {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set1_epi8, _mm_set_epi64x,
    };

    /// [`super::prefix_xor`]: multiplying by all ones without carries XORs every bit into all
    /// the bits above it.
    #[inline]
    #[target_feature(enable = "pclmulqdq")]
    pub(super) fn prefix_xor(bits: u64) -> u64 {
        let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, bits as i64), _mm_set1_epi8(-1), 0);
        _mm_cvtsi128_si64(product) as u64
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512i, _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask, _mm512_loadu_si512,
        _mm512_or_si512, _mm512_set1_epi8,
    };

    use super::clmul::prefix_xor;
    use super::{Classes, JsonClasses, Scanner, BLOCK};

    vector_tier!(
        /// AVX-512BW: a whole block per instruction, compared straight into a mask.
        Avx512,
        "avx512f,avx512bw,pclmulqdq"
    );

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load(block: &[u8; BLOCK]) -> __m512i {
        // SAFETY: reads the 64 bytes of `block`; `loadu` has no alignment requirement.
        unsafe { _mm512_loadu_si512(block.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn json_classes(block: &[u8; BLOCK]) -> JsonClasses {
        let v = load(block);
        let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        JsonClasses {
            quote: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'"' as i8)),
            backslash: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\\' as i8)),
            open: _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'{' as i8)),
            close: _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'}' as i8)),
            colon: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b':' as i8)),
            key_tail: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'e' as i8))
                | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'd' as i8))
                | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b's' as i8)),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn newlines(block: &[u8; BLOCK]) -> u64 {
        _mm512_cmpeq_epi8_mask(load(block), _mm512_set1_epi8(b'\n' as i8))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn separators(block: &[u8; BLOCK]) -> u64 {
        _mm512_cmple_epu8_mask(load(block), _mm512_set1_epi8(0x20))
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };

    use super::clmul::prefix_xor;
    use super::{Classes, JsonClasses, Scanner, BLOCK};

    vector_tier!(
        /// AVX2: a block in two 32-byte lanes.
        Avx2,
        "avx2,pclmulqdq"
    );

    /// The two 32-byte lanes of `block`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lanes(block: &[u8; BLOCK]) -> [__m256i; 2] {
        // SAFETY: the loads read 32 bytes at offsets 0 and 32 of a 64-byte array; `loadu` has
        // no alignment requirement.
        std::array::from_fn(|k| unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k).cast()) })
    }

    /// The 32 high bits of `lane` as bits `32 * k ..` of a mask.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn bits(lane: __m256i, k: usize) -> u64 {
        u64::from(_mm256_movemask_epi8(lane) as u32) << (32 * k)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn json_classes(block: &[u8; BLOCK]) -> JsonClasses {
        let mut out = JsonClasses::default();
        for (k, lane) in lanes(block).into_iter().enumerate() {
            let eq = |byte: u8| _mm256_cmpeq_epi8(lane, _mm256_set1_epi8(byte as i8));
            let folded = _mm256_or_si256(lane, _mm256_set1_epi8(0x20));
            out.quote |= bits(eq(b'"'), k);
            out.backslash |= bits(eq(b'\\'), k);
            out.open |= bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'{' as i8)), k);
            out.close |= bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'}' as i8)), k);
            out.colon |= bits(eq(b':'), k);
            let tail = _mm256_or_si256(_mm256_or_si256(eq(b'e'), eq(b'd')), eq(b's'));
            out.key_tail |= bits(tail, k);
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn newlines(block: &[u8; BLOCK]) -> u64 {
        let mut out = 0;
        for (k, lane) in lanes(block).into_iter().enumerate() {
            out |= bits(_mm256_cmpeq_epi8(lane, _mm256_set1_epi8(b'\n' as i8)), k);
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn separators(block: &[u8; BLOCK]) -> u64 {
        let mut out = 0;
        for (k, lane) in lanes(block).into_iter().enumerate() {
            let low = _mm256_cmpeq_epi8(_mm256_min_epu8(lane, _mm256_set1_epi8(0x20)), lane);
            out |= bits(low, k);
        }
        out
    }

    /// The classes of `block`, for the tests, when the processor has AVX2.
    #[cfg(test)]
    pub(super) fn classify_for_tests(block: &[u8; BLOCK]) -> Option<(JsonClasses, u64, u64)> {
        struct Classify<'a>(&'a [u8; BLOCK]);
        impl Scanner for Classify<'_> {
            type Output = (JsonClasses, u64, u64);
            fn run<C: Classes>(self, classes: C) -> Self::Output {
                let block = self.0;
                (
                    classes.json(block),
                    classes.separators(block),
                    classes.newlines(block),
                )
            }
        }
        let supported = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("pclmulqdq");
        // SAFETY: the features were just checked.
        supported.then(|| unsafe { run(Classify(block)) })
    }
}

/// Word-at-a-time versions, for other architectures and as the reference in tests.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
mod portable {
    use super::{Classes, JsonClasses, BLOCK};

    /// Plain 64-bit arithmetic, for any processor.
    #[derive(Clone, Copy)]
    pub(super) struct Portable;

    impl Classes for Portable {
        fn json(self, block: &[u8; BLOCK]) -> JsonClasses {
            json_classes(block)
        }

        fn separators(self, block: &[u8; BLOCK]) -> u64 {
            separators(block)
        }

        fn newlines(self, block: &[u8; BLOCK]) -> u64 {
            words(block).fold(0, |acc, (i, word)| {
                acc | gather(equal(word, b'\n')) << (8 * i)
            })
        }
    }

    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;

    /// The high bit of every byte of `word` equal to `byte`. Exact: `(x & 0x7F) + 0x7F`
    /// reaches 0x80 exactly when `x & 0x7F != 0` and never carries into the next byte.
    fn equal(word: u64, byte: u8) -> u64 {
        let x = word ^ (ONES * u64::from(byte));
        !(((x & (0x7F * ONES)) + 0x7F * ONES) | x) & HIGH
    }

    /// The high bit of every byte of `word` that is at most 0x20.
    fn low(word: u64) -> u64 {
        !((word & (0x7F * ONES)) + 0x5F * ONES) & !word & HIGH
    }

    /// One bit per byte from the high bits (bit `i` for byte `i`).
    fn gather(bits: u64) -> u64 {
        ((bits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
    }

    fn words(block: &[u8; BLOCK]) -> impl Iterator<Item = (usize, u64)> + '_ {
        block
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
            .enumerate()
    }

    fn json_classes(block: &[u8; BLOCK]) -> JsonClasses {
        let mut out = JsonClasses::default();
        for (i, word) in words(block) {
            let folded = word | (0x20 * ONES);
            out.quote |= gather(equal(word, b'"')) << (8 * i);
            out.backslash |= gather(equal(word, b'\\')) << (8 * i);
            out.open |= gather(equal(folded, b'{')) << (8 * i);
            out.close |= gather(equal(folded, b'}')) << (8 * i);
            out.colon |= gather(equal(word, b':')) << (8 * i);
            let tail = equal(word, b'e') | equal(word, b'd') | equal(word, b's');
            out.key_tail |= gather(tail) << (8 * i);
        }
        out
    }

    fn separators(block: &[u8; BLOCK]) -> u64 {
        words(block).fold(0, |acc, (i, word)| acc | gather(low(word)) << (8 * i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classes of a block, by the implementation [`with_best`] picks.
    struct Classify<'a>(&'a [u8; BLOCK]);

    impl Scanner for Classify<'_> {
        type Output = (JsonClasses, u64, u64);

        fn run<C: Classes>(self, classes: C) -> Self::Output {
            let block = self.0;
            (
                classes.json(block),
                classes.separators(block),
                classes.newlines(block),
            )
        }
    }

    /// What [`Classes`] gives for a block: its JSON classes, separators and line breaks.
    type Classified = (JsonClasses, u64, u64);

    /// The classes of `block` by every implementation this processor can run.
    fn all_implementations(block: &[u8; BLOCK]) -> Vec<(&'static str, Classified)> {
        let p = portable::Portable;
        let mut out = vec![(
            "portable",
            (p.json(block), p.separators(block), p.newlines(block)),
        )];
        #[cfg(target_arch = "x86_64")]
        {
            let s = sse2::Sse2;
            out.push((
                "sse2",
                (s.json(block), s.separators(block), s.newlines(block)),
            ));
            if let Some(classes) = avx2::classify_for_tests(block) {
                out.push(("avx2", classes));
            }
        }
        out.push(("best", with_best(Classify(block))));
        out
    }

    /// The classes of `block`, one byte at a time.
    fn reference(block: &[u8; BLOCK]) -> Classified {
        let mut classes = JsonClasses::default();
        let (mut seps, mut newlines) = (0, 0);
        for (i, &b) in block.iter().enumerate() {
            let bit = 1u64 << i;
            match b {
                b'"' => classes.quote |= bit,
                b'\\' => classes.backslash |= bit,
                b'{' | b'[' => classes.open |= bit,
                b'}' | b']' => classes.close |= bit,
                b':' => classes.colon |= bit,
                b'e' | b'd' | b's' => classes.key_tail |= bit,
                b'\n' => newlines |= bit,
                _ => {}
            }
            if b <= 0x20 {
                seps |= bit;
            }
        }
        (classes, seps, newlines)
    }

    #[test]
    fn every_byte_value_in_every_position() {
        for shift in 0..BLOCK {
            for value in 0..=255u8 {
                let mut block = [b'a'; BLOCK];
                block[shift] = value;
                block[(shift + 17) % BLOCK] = value.wrapping_add(0x80);
                let expected = reference(&block);
                for (name, classified) in all_implementations(&block) {
                    assert_eq!(classified, expected, "{name}: {value:#x} at {shift}");
                }
            }
        }
    }

    /// Which bytes of `text` are escaped, one byte at a time.
    fn escaped_reference(text: &[u8]) -> Vec<bool> {
        let mut out = vec![false; text.len()];
        let mut i = 0;
        while i < text.len() {
            if text[i] == b'\\' && i + 1 < text.len() {
                out[i + 1] = true;
                i += 2;
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn escapes_across_blocks() {
        // Runs of backslashes of every length up to 70, ending at every offset of two blocks.
        for run in 1..70 {
            for end in run..2 * BLOCK - 1 {
                let mut text = vec![b'x'; 2 * BLOCK];
                text[end - run..end].fill(b'\\');
                let expected = escaped_reference(&text);
                let mut carry = false;
                let mut got = Vec::new();
                for block in text.chunks_exact(BLOCK) {
                    let block: &[u8; BLOCK] = block.try_into().unwrap_or(&[0; BLOCK]);
                    let bits = escaped(reference(block).0.backslash, &mut carry);
                    got.extend((0..BLOCK).map(|i| bits >> i & 1 == 1));
                }
                assert_eq!(got, expected, "run {run} ending at {end}");
            }
        }
    }

    /// [`Classes::prefix_xor`] of the implementation [`with_best`] picks.
    struct PrefixXor(u64);

    impl Scanner for PrefixXor {
        type Output = u64;

        fn run<C: Classes>(self, classes: C) -> u64 {
            classes.prefix_xor(self.0)
        }
    }

    #[test]
    fn ascii_str_rejects_any_high_byte() {
        for len in 0..=100 {
            let text = "a".repeat(len);
            assert_eq!(ascii_str(text.as_bytes()), Some(text.as_str()));
            for at in 0..len {
                for high in [0x80u8, 0xC3, 0xFF] {
                    let mut bytes = text.clone().into_bytes();
                    bytes[at] = high;
                    assert_eq!(ascii_str(&bytes), None, "len {len}, byte {high:#x} at {at}");
                }
            }
        }
    }

    #[test]
    fn every_prefix_xor_agrees() {
        let mut rng = crate::testing::Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..10_000 {
            let state = rng.next();
            let naive = (0..64).fold(0u64, |acc, i| {
                let parity = (state & (u64::MAX >> (63 - i))).count_ones() & 1;
                acc | u64::from(parity) << i
            });
            assert_eq!(prefix_xor(state), naive, "{state:#x}");
            assert_eq!(with_best(PrefixXor(state)), naive, "{state:#x}");
        }
    }

    #[test]
    fn prefix_xor_marks_string_interiors() {
        let mut block = [b' '; BLOCK];
        let text = br#"{"a":"b c","d":1}"#;
        block[..text.len()].copy_from_slice(text);
        let inside = prefix_xor(reference(&block).0.quote);
        let marked: String = (0..18)
            .map(|i| if inside >> i & 1 == 1 { 's' } else { '.' })
            .collect();
        assert_eq!(marked, ".ss..ssss..ss.....");
    }
}
