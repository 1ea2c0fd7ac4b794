//! Planning a multipart copy: part size within S3's limits (5 MiB to 5 GiB, at most 10,000
//! parts), byte ranges for UploadPartCopy.

/// S3's smallest part (all but the last).
pub const MIN_PART: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART: u64 = 5 * 1024 * 1024 * 1024;
/// S3's most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// S3's largest object (5 TiB).
pub const MAX_OBJECT: u64 = 5 * 1024 * 1024 * 1024 * 1024;

/// One part: its number and inclusive byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// 1-based part number.
    pub number: i32,
    /// First byte.
    pub first: u64,
    /// Last byte (inclusive).
    pub last: u64,
}

impl Part {
    /// `bytes=first-last`, the `x-amz-copy-source-range` value.
    pub fn range(&self) -> String {
        format!("bytes={}-{}", self.first, self.last)
    }
}

/// Why an object cannot be copied in parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("object of {size} bytes is larger than S3's 5 TiB limit")]
pub struct TooLarge {
    /// Its size.
    pub size: u64,
}

/// The parts for an object of `size` bytes, close to `preferred` bytes each.
pub fn plan(size: u64, preferred: u64) -> Result<Vec<Part>, TooLarge> {
    if size > MAX_OBJECT {
        return Err(TooLarge { size });
    }
    let at_least_for_count = size.div_ceil(MAX_PARTS);
    let part = preferred.max(at_least_for_count).clamp(MIN_PART, MAX_PART);
    let count = size.div_ceil(part);
    Ok((0..count)
        .map(|i| Part { number: i as i32 + 1, first: i * part, last: ((i + 1) * part).min(size).saturating_sub(1) })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(size: u64, preferred: u64) -> Vec<Part> {
        let parts = plan(size, preferred).unwrap();
        assert!(parts.len() as u64 <= MAX_PARTS);
        assert_eq!(parts[0].first, 0);
        assert_eq!(parts.last().unwrap().last, size - 1);
        for w in parts.windows(2) {
            assert_eq!(w[1].first, w[0].last + 1);
            let len = w[0].last - w[0].first + 1;
            assert!((MIN_PART..=MAX_PART).contains(&len), "part of {len} bytes");
        }
        parts
    }

    #[test]
    fn small_preferences_are_raised_to_the_minimum() {
        let parts = check(12 * 1024 * 1024, 1024);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].range(), "bytes=0-5242879");
    }

    #[test]
    fn huge_objects_stay_within_ten_thousand_parts() {
        let size = MAX_OBJECT;
        let parts = check(size, MIN_PART);
        assert!(parts.len() <= 10_000);
        assert!(plan(MAX_OBJECT + 1, MIN_PART).is_err());
    }

    #[test]
    fn sizes_around_part_boundaries() {
        for size in [MIN_PART + 1, 2 * MIN_PART, 2 * MIN_PART + 1, 6 * 1024 * 1024 * 1024] {
            check(size, 64 * 1024 * 1024);
        }
    }
}
