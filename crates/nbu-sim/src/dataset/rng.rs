//! Deterministic draws: splitmix64 streams keyed by `(seed, index, salt)`.
//!
//! Only integer arithmetic and exactly rounded float operations are used, so a dataset is the
//! same on every platform (no `ln`/`exp`, whose results depend on the math library).

/// The golden-ratio increment of splitmix64.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finalizer: a cheap, well-mixing bijection of `u64`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stream of pseudo-random draws, a pure function of its key.
#[derive(Debug, Clone)]
pub(crate) struct Draws {
    state: u64,
}

impl Draws {
    /// The stream of item `index` of the dataset `seed`; `salt` separates independent streams
    /// of the same item (core facts, rendering details, ...).
    pub(crate) fn new(seed: u64, index: u64, salt: u64) -> Self {
        let key = mix(seed.wrapping_add(GOLDEN)) ^ mix(index.wrapping_add(salt.rotate_left(32)));
        Draws { state: mix(key) }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// A uniform value in `[0, n)`; 0 when `n` is 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform value in `[lo, hi]` (`lo` when `hi < lo`).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// A uniform value in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (values outside `[0, 1]` are clamped, NaN is 0).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A value of a weighted table; `None` only for an empty or all-zero table.
    pub(crate) fn pick<T: Copy>(&mut self, table: &[(T, u32)]) -> Option<T> {
        let total: u64 = table.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut draw = self.below(total);
        for (value, weight) in table {
            let weight = u64::from(*weight);
            if draw < weight {
                return Some(*value);
            }
            draw -= weight;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_pure_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Draws::new(1, 2, 3), |d, _| Some(d.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Draws::new(1, 2, 3), |d, _| Some(d.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(
            Draws::new(1, 2, 3).next_u64(),
            Draws::new(1, 3, 3).next_u64()
        );
        assert_ne!(
            Draws::new(1, 2, 3).next_u64(),
            Draws::new(2, 2, 3).next_u64()
        );
        assert_ne!(
            Draws::new(1, 2, 3).next_u64(),
            Draws::new(1, 2, 4).next_u64()
        );
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut d = Draws::new(7, 7, 7);
        for _ in 0..10_000 {
            assert!(d.below(10) < 10);
            let r = d.range(5, 9);
            assert!((5..=9).contains(&r));
            let u = d.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(d.below(0), 0);
        assert_eq!(d.range(9, 5), 9);
        assert_eq!(d.pick::<u8>(&[]), None);
        assert_eq!(d.pick(&[(1u8, 0), (2, 5)]), Some(2));
    }
}
