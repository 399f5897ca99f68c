//! A small seeded xorshift64* generator. GAME.md defines the bot policy with
//! it so two runs with the same seeds send the same inputs; the server's
//! simulation uses it too, so a room replays exactly from its seed.

/// xorshift64* (Vigna). Not for anything secret: session tokens use the OS
/// generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XorShift {
    state: u64,
}

impl XorShift {
    /// A generator for `seed`; seed 0 is remapped because xorshift's state
    /// must never be zero.
    #[must_use]
    pub fn new(seed: u64) -> XorShift {
        XorShift {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range_f64(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Uniform integer in `[0, n)`; 0 when `n` is 0.
    pub fn below(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift: unbiased enough for games, no division.
        ((u64::from(self.next_u64() as u32) * u64::from(n)) >> 32) as u32
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = XorShift::new(7);
        let mut b = XorShift::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(XorShift::new(1).next_u64(), XorShift::new(2).next_u64());
    }

    #[test]
    fn ranges_hold() {
        let mut r = XorShift::new(3);
        for _ in 0..10_000 {
            let v = r.range_f64(-3.0, 3.0);
            assert!((-3.0..3.0).contains(&v));
            assert!(r.below(9) < 9);
        }
        assert_eq!(r.below(0), 0);
    }
}
