//! How every fault kind fires: the first fault of its list that matches a request and has
//! times left fires, and uses up one of them (a fault without `times` fires on every match).
//! S3's, DynamoDB's, the rule target's and the function's faults are lists of this kind.

use std::sync::Mutex;

/// A fault that fires a set number of times, or always.
pub trait Counted: Clone {
    /// How many more times it fires (`None`: always).
    fn times(&mut self) -> &mut Option<u32>;
}

/// A list of faults, used up as they fire.
#[derive(Debug)]
pub struct Countdown<F>(Mutex<Vec<F>>);

impl<F> Default for Countdown<F> {
    fn default() -> Self {
        Self(Mutex::new(Vec::new()))
    }
}

impl<F: Counted> Countdown<F> {
    /// These faults, in order.
    pub fn new(faults: Vec<F>) -> Self {
        Self(Mutex::new(faults))
    }

    /// The first fault that `matches` and has times left, as it was before this firing (one
    /// of its times used up).
    pub fn fire(&self, matches: impl Fn(&F) -> bool) -> Option<F> {
        let mut faults = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let i = faults.iter_mut().position(|f| *f.times() != Some(0) && matches(f))?;
        let f = &mut faults[i];
        if let Some(t) = f.times() {
            *t -= 1;
        }
        Some(f.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct F(&'static str, Option<u32>);

    impl Counted for F {
        fn times(&mut self) -> &mut Option<u32> {
            &mut self.1
        }
    }

    #[test]
    fn the_first_match_with_times_left_fires_and_counts_down() {
        let c = Countdown::new(vec![F("a", Some(2)), F("a", None), F("b", Some(1))]);
        let fired: Vec<_> = (0..4).map(|_| c.fire(|f| f.0 == "a").map(|f| f.1)).collect();
        // Two of the first (2 -> 1 -> 0), then the second, which never runs out.
        assert_eq!(fired, [Some(Some(1)), Some(Some(0)), Some(None), Some(None)]);
        assert_eq!(c.fire(|f| f.0 == "b"), Some(F("b", Some(0))));
        assert_eq!(c.fire(|f| f.0 == "b"), None);
        assert_eq!(c.fire(|f| f.0 == "c"), None);
    }
}
