//! LiteLLM's latency buckets (`LATENCY_BUCKETS` of its Prometheus integration), in milliseconds,
//! and percentile estimates from counts per bucket.

/// Upper bounds of the finite buckets in milliseconds (LiteLLM's, in seconds: 0.005, 0.00625,
/// 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0, 1.5, ... 10.0, 15.0, 20.0, 25.0, 30.0, 60.0, 120.0, 180.0,
/// 240.0, 300.0); one more bucket, `+Inf`, follows.
pub const BOUNDS_MS: [f64; 35] = [
    5.0, 6.25, 12.5, 25.0, 50.0, 100.0, 500.0, 1_000.0, 1_500.0, 2_000.0, 2_500.0, 3_000.0,
    3_500.0, 4_000.0, 4_500.0, 5_000.0, 5_500.0, 6_000.0, 6_500.0, 7_000.0, 7_500.0, 8_000.0,
    8_500.0, 9_000.0, 9_500.0, 10_000.0, 15_000.0, 20_000.0, 25_000.0, 30_000.0, 60_000.0,
    120_000.0, 180_000.0, 240_000.0, 300_000.0,
];

/// Buckets, `+Inf` included.
pub const BUCKETS: usize = BOUNDS_MS.len() + 1;

/// The bucket a value in milliseconds falls in (the first whose bound is at least the value).
pub fn bucket_of(ms: u64) -> usize {
    BOUNDS_MS
        .iter()
        .position(|b| ms as f64 <= *b)
        .unwrap_or(BOUNDS_MS.len())
}

/// The `q` quantile (0..1) of samples counted per bucket, linear within the bucket it falls in
/// (the `+Inf` bucket answers the last finite bound); `None` without samples.
pub fn quantile(counts: &[i64], q: f64) -> Option<f64> {
    let total: i64 = counts.iter().sum();
    if total <= 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0i64;
    for (i, &c) in counts.iter().enumerate() {
        if c > 0 && (seen + c) as f64 >= rank {
            let Some(&hi) = BOUNDS_MS.get(i) else {
                return BOUNDS_MS.last().copied();
            };
            let lo = if i == 0 { 0.0 } else { BOUNDS_MS[i - 1] };
            let within = ((rank - seen as f64) / c as f64).clamp(0.0, 1.0);
            return Some(lo + (hi - lo) * within);
        }
        seen += c;
    }
    BOUNDS_MS.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_quantiles() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(5), 0);
        assert_eq!(bucket_of(6), 1);
        assert_eq!(bucket_of(100), 5);
        assert_eq!(bucket_of(101), 6);
        assert_eq!(bucket_of(300_000), 34);
        assert_eq!(bucket_of(300_001), 35);
        let mut counts = [0i64; BUCKETS];
        counts[5] = 10; // ten samples in (50, 100]
        assert_eq!(quantile(&counts, 0.5), Some(75.0));
        assert_eq!(quantile(&counts, 1.0), Some(100.0));
        assert_eq!(quantile(&[0; BUCKETS], 0.5), None);
        counts[35] = 100;
        assert_eq!(quantile(&counts, 0.99), Some(300_000.0));
    }
}
