//! File sizes drawn from a profile's distribution, deterministically: the `n`-th file of a run
//! has the same size whichever shard uploads it, so shards add up to the unsharded run.

use super::profile::SizeDistribution;

/// A 64-bit mix of `seed` and `n` (SplitMix64's finaliser): independent draws per file without
/// shared RNG state across sessions or shards.
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in (0, 1].
fn unit(seed: u64, n: u64) -> f64 {
    ((mix(seed, n) >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

impl SizeDistribution {
    /// The size of file `n` of a run seeded `seed`.
    pub fn size_of(&self, seed: u64, n: u64) -> u64 {
        match self {
            SizeDistribution::Fixed(b) => b.0,
            SizeDistribution::Uniform { uniform: [lo, hi] } => lo.0 + (unit(seed, n) * (hi.0 - lo.0) as f64) as u64,
            SizeDistribution::LogNormal { log_normal, max } => {
                // Box-Muller; redrawn (with the next draw numbers) above `max`.
                for attempt in 0..64u64 {
                    let k = n.wrapping_mul(128).wrapping_add(attempt * 2);
                    let (u1, u2) = (unit(seed, k), unit(seed, k + 1));
                    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                    let size = (log_normal.median.0 as f64 * (log_normal.sigma * z).exp()).round() as u64;
                    if max.is_none_or(|m| size <= m.0) {
                        return size;
                    }
                }
                max.map_or(log_normal.median.0, |m| m.0)
            }
            SizeDistribution::Weighted { weighted } => {
                let total: u64 = weighted.iter().map(|(_, w)| *w as u64).sum();
                let mut pick = (unit(seed, n) * total as f64).ceil() as u64;
                for (size, w) in weighted {
                    if pick <= *w as u64 {
                        return size.0;
                    }
                    pick -= *w as u64;
                }
                weighted.last().map_or(0, |(s, _)| s.0)
            }
        }
    }

    /// The mean size, for planning and quota warnings.
    pub fn mean(&self) -> f64 {
        match self {
            SizeDistribution::Fixed(b) => b.0 as f64,
            SizeDistribution::Uniform { uniform: [lo, hi] } => (lo.0 + hi.0) as f64 / 2.0,
            SizeDistribution::LogNormal { log_normal, .. } => {
                log_normal.median.0 as f64 * (log_normal.sigma * log_normal.sigma / 2.0).exp()
            }
            SizeDistribution::Weighted { weighted } => {
                let total: f64 = weighted.iter().map(|(_, w)| *w as f64).sum();
                weighted.iter().map(|(s, w)| s.0 as f64 * *w as f64).sum::<f64>() / total
            }
        }
    }

    /// The largest size it can draw (`None`: unbounded).
    pub fn largest(&self) -> Option<u64> {
        match self {
            SizeDistribution::Fixed(b) => Some(b.0),
            SizeDistribution::Uniform { uniform: [_, hi] } => Some(hi.0),
            SizeDistribution::LogNormal { max, .. } => max.map(|m| m.0),
            SizeDistribution::Weighted { weighted } => weighted.iter().map(|(s, _)| s.0).max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::profile::LogNormal;
    use super::super::quantity::Bytes;
    use super::*;

    #[test]
    fn draws_follow_their_distribution_and_repeat() {
        let d = SizeDistribution::Uniform { uniform: [Bytes(100), Bytes(200)] };
        let sizes: Vec<u64> = (0..10_000).map(|n| d.size_of(7, n)).collect();
        assert!(sizes.iter().all(|s| (100..=200).contains(s)));
        let mean = sizes.iter().sum::<u64>() as f64 / sizes.len() as f64;
        assert!((mean - 150.0).abs() < 2.0, "{mean}");
        assert_eq!(d.size_of(7, 42), d.size_of(7, 42));

        let w = SizeDistribution::Weighted { weighted: vec![(Bytes(1), 3), (Bytes(1000), 1)] };
        let big = (0..10_000).filter(|n| w.size_of(1, *n) == 1000).count();
        assert!((2300..2700).contains(&big), "{big}");

        let ln = SizeDistribution::LogNormal {
            log_normal: LogNormal { median: Bytes(1000), sigma: 1.0 },
            max: Some(Bytes(20_000)),
        };
        let mut s: Vec<u64> = (0..10_001).map(|n| ln.size_of(3, n)).collect();
        s.sort();
        assert!((900..1100).contains(&s[5000]), "median {}", s[5000]);
        assert!(*s.last().unwrap() <= 20_000);
    }
}
