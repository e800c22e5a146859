//! Where a JSON container ends: the bracket matching [`skim`](super::skim) needs for `d`,
//! 64 bytes at a time. It does not validate (that is serde's job when `d` is parsed); it
//! counts brackets outside strings, exactly as a byte-at-a-time scan would.
//!
//! Per block it builds bit masks of quotes, backslashes and brackets (AVX2 where the CPU has
//! it, SSE2 otherwise on x86-64, a plain loop elsewhere), turns the quotes into an
//! inside-a-string mask with a prefix XOR, and only looks at brackets one by one in the
//! block where the depth may reach zero. A block with a backslash, or right after one, is
//! walked bit by bit over its quotes, backslashes and brackets instead.

/// The state of a scan between bytes.
struct State {
    depth: usize,
    in_string: bool,
    /// The previous byte was a backslash inside a string.
    escape: bool,
}

impl State {
    /// Steps over one byte; `true` when it closed the outermost container.
    #[inline(always)]
    fn step(&mut self, c: u8) -> bool {
        if self.escape {
            self.escape = false;
        } else if self.in_string {
            match c {
                b'\\' => self.escape = true,
                b'"' => self.in_string = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    return self.depth == 0;
                }
                _ => {}
            }
        }
        false
    }
}

/// The bytes of one 64-byte block that are quotes, backslashes, openers and closers.
struct Masks {
    quotes: u64,
    backslashes: u64,
    opens: u64,
    closes: u64,
}

/// The masks of one 64-byte block, lane by lane, for any vector width: SSE2 and AVX2
/// differ only in their intrinsics. `[` and `]` differ from `{` and `}` only in bit 5, so
/// one comparison after folding that bit finds both.
#[cfg(target_arch = "x86_64")]
macro_rules! lane_masks {
    ($block:expr, $width:literal, $vector:ty, $lane_bits:ty,
     $load:ident, $splat:ident, $or:ident, $eq:ident, $movemask:ident) => {{
        let (mut quotes, mut backslashes, mut opens, mut closes) = (0u64, 0u64, 0u64, 0u64);
        let quote = $splat(b'"' as i8);
        let backslash = $splat(b'\\' as i8);
        let fold = $splat(0x20);
        let open = $splat(b'{' as i8);
        let close = $splat(b'}' as i8);
        for (n, lane) in $block.chunks_exact($width).enumerate() {
            // Each load reads the `$width` bytes of `lane`, unaligned.
            let v = $load(lane.as_ptr().cast());
            let folded = $or(v, fold);
            let bits = |m: $vector| u64::from($movemask(m) as $lane_bits) << ($width * n);
            quotes |= bits($eq(v, quote));
            backslashes |= bits($eq(v, backslash));
            opens |= bits($eq(folded, open));
            closes |= bits($eq(folded, close));
        }
        Masks {
            quotes,
            backslashes,
            opens,
            closes,
        }
    }};
}

/// The masks from four 16-byte lanes (SSE2 is part of every x86-64 CPU).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn masks(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::*;
    // SAFETY: this is compiled only where SSE2 is enabled (all of x86-64), and each load
    // reads 16 bytes of `block`.
    unsafe {
        lane_masks!(
            block,
            16,
            __m128i,
            u16,
            _mm_loadu_si128,
            _mm_set1_epi8,
            _mm_or_si128,
            _mm_cmpeq_epi8,
            _mm_movemask_epi8
        )
    }
}

/// The same masks from two 32-byte lanes.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn masks_avx2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::*;
    // SAFETY: the caller promises AVX2, and each load reads 32 bytes of `block`.
    unsafe {
        lane_masks!(
            block,
            32,
            __m256i,
            u32,
            _mm256_loadu_si256,
            _mm256_set1_epi8,
            _mm256_or_si256,
            _mm256_cmpeq_epi8,
            _mm256_movemask_epi8
        )
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn masks(block: &[u8; 64]) -> Masks {
    scalar_masks(block)
}

#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn scalar_masks(block: &[u8; 64]) -> Masks {
    let mut m = Masks {
        quotes: 0,
        backslashes: 0,
        opens: 0,
        closes: 0,
    };
    for (i, &c) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match c {
            b'"' => m.quotes |= bit,
            b'\\' => m.backslashes |= bit,
            b'{' | b'[' => m.opens |= bit,
            b'}' | b']' => m.closes |= bit,
            _ => {}
        }
    }
    m
}

/// Bit i is the XOR of bits 0..=i: set from an opening quote up to (not including) its
/// closing quote.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// End (exclusive) of the object or array that opens at `b[i]` (`{` or `[`), or `None`
/// if the input ends first.
pub(super) fn container_end(b: &[u8], i: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("bmi1")
    {
        // SAFETY: the CPU has the features, checked just above.
        return unsafe { container_end_avx2(b, i) };
    }
    scan(b, i, masks)
}

/// [`container_end`] compiled for AVX2 (and hardware popcount and trailing-zero count).
///
/// # Safety
/// The CPU must have AVX2, POPCNT and BMI1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1")]
unsafe fn container_end_avx2(b: &[u8], i: usize) -> Option<usize> {
    // SAFETY: this function only runs on CPUs with AVX2.
    scan(b, i, |block| unsafe { masks_avx2(block) })
}

#[inline(always)]
fn scan(b: &[u8], i: usize, masks: impl Fn(&[u8; 64]) -> Masks) -> Option<usize> {
    debug_assert!(matches!(b.get(i), Some(b'{' | b'[')));
    let mut state = State {
        depth: 1,
        in_string: false,
        escape: false,
    };
    let mut j = i + 1;
    while let Some(block) = b.get(j..j + 64) {
        let block: &[u8; 64] = block.try_into().expect("64 bytes");
        if let Some(k) = state.block(block, masks(block)) {
            return Some(j + k + 1);
        }
        j += 64;
    }
    if j < b.len() {
        // The tail, padded with spaces, which change nothing.
        let mut last = [b' '; 64];
        last[..b.len() - j].copy_from_slice(&b[j..]);
        if let Some(k) = state.block(&last, masks(&last)) {
            return Some(j + k + 1);
        }
    }
    None
}

impl State {
    /// Steps over one 64-byte block; the index of the byte that closed the outermost
    /// container, if one did.
    #[inline(always)]
    fn block(&mut self, block: &[u8; 64], m: Masks) -> Option<usize> {
        if m.backslashes == 0 && !self.escape {
            // No escapes: every quote opens or closes a string.
            let carried = if self.in_string { u64::MAX } else { 0 };
            let strings = prefix_xor(m.quotes) ^ carried;
            self.in_string = strings >> 63 == 1;
            let opens = m.opens & !strings;
            let closes = m.closes & !strings;
            if (closes.count_ones() as usize) < self.depth {
                // The depth cannot reach zero inside this block.
                self.depth += opens.count_ones() as usize;
                self.depth -= closes.count_ones() as usize;
                return None;
            }
            let mut brackets = opens | closes;
            while brackets != 0 {
                let k = brackets.trailing_zeros() as usize;
                brackets &= brackets - 1;
                if opens >> k & 1 == 1 {
                    self.depth += 1;
                } else {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some(k);
                    }
                }
            }
            return None;
        }
        // Escapes: visit the bytes that matter one by one, in order; the others change
        // nothing (an escaped one is skipped whatever it is).
        let mut bits = m.quotes | m.backslashes | m.opens | m.closes;
        if self.escape {
            self.escape = false;
            bits &= !1;
        }
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if self.in_string && block[k] == b'\\' {
                if k == 63 {
                    self.escape = true;
                } else {
                    bits &= !(1 << (k + 1));
                }
            } else if self.step(block[k]) {
                return Some(k);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time scan this replaced.
    fn reference(b: &[u8], i: usize) -> Option<usize> {
        fn string(b: &[u8], i: usize) -> Option<usize> {
            let mut j = i + 1;
            loop {
                match *b.get(j)? {
                    b'"' => return Some(j + 1),
                    b'\\' => j += 2,
                    _ => j += 1,
                }
            }
        }
        let (mut depth, mut j) = (0usize, i);
        loop {
            match *b.get(j)? {
                b'"' => {
                    j = string(b, j)?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
                _ => {}
            }
            j += 1;
        }
    }

    /// Random JSON-ish text: nested containers, strings holding brackets, quotes and
    /// backslashes, and some noise.
    fn value(rng: &mut fastrand::Rng, out: &mut Vec<u8>, depth: usize) {
        match rng.usize(..if depth > 6 { 2 } else { 5 }) {
            0 => {
                out.push(b'"');
                for _ in 0..rng.usize(..90) {
                    match rng.usize(..12) {
                        0 => out.extend_from_slice(b"\\\""),
                        1 => out.extend_from_slice(b"\\\\"),
                        2 => out.push(*rng.choice(b"{}[]").unwrap()),
                        _ => out.push(rng.alphanumeric() as u8),
                    }
                }
                out.push(b'"');
            }
            1 => out.extend_from_slice(rng.u32(..).to_string().as_bytes()),
            kind => {
                let (open, close) = if kind == 2 {
                    (b'[', b']')
                } else {
                    (b'{', b'}')
                };
                out.push(open);
                for n in 0..rng.usize(..6) {
                    if n > 0 {
                        out.push(b',');
                    }
                    value(rng, out, depth + 1);
                }
                out.push(close);
            }
        }
    }

    #[test]
    fn matches_the_byte_at_a_time_scan() {
        let mut rng = fastrand::Rng::with_seed(0x5CA7);
        let mut checked = 0;
        while checked < 20_000 {
            let mut text = vec![b'{'];
            value(&mut rng, &mut text, 0);
            text.push(b'}');
            // Damage some: cut short, or a byte changed, so unbalanced input is covered too.
            match rng.usize(..4) {
                0 => text.truncate(rng.usize(1..=text.len())),
                1 => {
                    let at = rng.usize(1..text.len());
                    text[at] = *rng.choice(b"{}[]\"\\a").unwrap();
                }
                _ => {}
            }
            let expected = reference(&text, 0);
            let shown = String::from_utf8_lossy(&text);
            assert_eq!(container_end(&text, 0), expected, "{shown}");
            // The portable path too, where the wide one ran above.
            assert_eq!(scan(&text, 0, masks), expected, "{shown}");
            checked += 1;
        }
    }

    #[test]
    fn block_masks_match_the_scalar_masks() {
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..10_000 {
            let mut block = [0u8; 64];
            for byte in &mut block {
                *byte = *rng.choice(b"{}[]\"\\az\x5b\x7b\x02\xdb\xfd").unwrap();
            }
            let slow = scalar_masks(&block);
            let slow = (slow.quotes, slow.backslashes, slow.opens, slow.closes);
            let fast = masks(&block);
            assert_eq!(
                (fast.quotes, fast.backslashes, fast.opens, fast.closes),
                slow
            );
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                let wide = unsafe { masks_avx2(&block) };
                assert_eq!(
                    (wide.quotes, wide.backslashes, wide.opens, wide.closes),
                    slow
                );
            }
        }
    }
}
