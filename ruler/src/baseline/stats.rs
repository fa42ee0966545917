//! Per-bucket statistics of an interface's traffic: mean, standard deviation, min, max,
//! median, MAD, sample count and a confidence in 0..1 that grows with samples (none below
//! [`MIN_SAMPLES`]). Computed with statrs.

use statrs::statistics::{Data, Median, Statistics};

/// Below this many samples a bucket has no confidence at all.
pub const MIN_SAMPLES: usize = 7;

/// Samples at which confidence reaches about 0.86 (two weeks of hourly buckets at 5 minutes
/// give 24).
const CONFIDENCE_SCALE: f64 = 8.0;

/// Statistics of one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketStats {
    pub mean: f64,
    pub std_dev: f64,
    pub min: f64,
    pub max: f64,
    pub median: f64,
    /// Median absolute deviation from the median (unscaled).
    pub mad: f64,
    pub samples: usize,
    pub confidence: f64,
}

/// Confidence from a sample count: 0 below [`MIN_SAMPLES`], then rising towards 1.
pub fn confidence(samples: usize) -> f64 {
    if samples < MIN_SAMPLES {
        return 0.0;
    }
    let extra = (samples + 1 - MIN_SAMPLES) as f64;
    1.0 - (-extra / CONFIDENCE_SCALE).exp()
}

/// Statistics of `values` (non-finite ones ignored); `None` when nothing is left.
pub fn compute(values: &[f64]) -> Option<BucketStats> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let mean = v.iter().mean();
    let std_dev = if v.len() > 1 { v.iter().std_dev() } else { 0.0 };
    let min = Statistics::min(v.iter());
    let max = Statistics::max(v.iter());
    let median = Data::new(v.clone()).median();
    let deviations: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
    let mad = Data::new(deviations).median();
    Some(BucketStats {
        mean,
        std_dev,
        min,
        max,
        median,
        mad,
        samples: v.len(),
        confidence: confidence(v.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_known_sample() {
        let s = compute(&[1.0, 2.0, 3.0, 4.0, 100.0, f64::NAN]).unwrap();
        assert_eq!(s.samples, 5);
        assert_eq!((s.min, s.max, s.median), (1.0, 100.0, 3.0));
        assert!((s.mean - 22.0).abs() < 1e-9);
        // Deviations from 3: 2 1 0 1 97 -> median 1.
        assert_eq!(s.mad, 1.0);
        // Sample standard deviation.
        assert!((s.std_dev - 43.6177).abs() < 1e-3, "{}", s.std_dev);
        assert_eq!(s.confidence, 0.0, "five samples carry no confidence");
    }

    #[test]
    fn confidence_grows_with_samples() {
        assert_eq!(confidence(6), 0.0);
        let c: Vec<f64> = [7, 12, 24, 48].iter().map(|&n| confidence(n)).collect();
        assert!(c.windows(2).all(|w| w[0] < w[1]), "{c:?}");
        assert!(c[0] > 0.0 && c[3] < 1.0);
        assert!(
            c[2] >= 0.7,
            "two weeks of 5-minute samples pass the default minimum"
        );
    }

    #[test]
    fn empty_and_single() {
        assert!(compute(&[]).is_none());
        assert_eq!(compute(&[5.0]).unwrap().std_dev, 0.0);
    }
}
