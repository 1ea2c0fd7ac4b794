//! What a profile asks for over time, as pure functions: the target number of sessions (closed
//! model) or the arrival time of every file (open model), the run's length, its reporting
//! interval, and which part of it a shard does.

use std::time::Duration;

use super::profile::{Model, Profile, Stage};

/// A value over time, linear between stage ends, from 0 at the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    /// (end of segment, value at its end, value at its start).
    segments: Vec<(Duration, f64, f64)>,
    /// The last value holds forever (a constant run bounded by iterations).
    unbounded: bool,
}

impl Ramp {
    /// `value` for `length` (forever when `None`).
    pub fn constant(value: f64, length: Option<Duration>) -> Self {
        Ramp { segments: vec![(length.unwrap_or(Duration::MAX), value, value)], unbounded: length.is_none() }
    }

    /// k6-style stages: each ramps from the previous target (0 first) to its own.
    pub fn stages(stages: &[Stage]) -> Self {
        let mut t = Duration::ZERO;
        let mut prev = 0.0;
        let segments = stages
            .iter()
            .map(|s| {
                t += s.duration.0;
                let seg = (t, s.target, prev);
                prev = s.target;
                seg
            })
            .collect();
        Ramp { segments, unbounded: false }
    }

    /// The value at `t` (0 after the end).
    pub fn at(&self, t: Duration) -> f64 {
        let mut start = Duration::ZERO;
        for &(end, to, from) in &self.segments {
            if t < end {
                if end == Duration::MAX {
                    return to;
                }
                let f = (t - start).as_secs_f64() / (end - start).as_secs_f64();
                return from + (to - from) * f;
            }
            start = end;
        }
        0.0
    }

    /// How long it lasts (`None`: until the iterations run out).
    pub fn length(&self) -> Option<Duration> {
        if self.unbounded { None } else { self.segments.last().map(|s| s.0) }
    }

    /// The time at which the integral of the ramp reaches `count` (the `count`-th arrival of an
    /// open model whose rate is this ramp), or `None` if it never does.
    pub fn time_of(&self, count: f64) -> Option<Duration> {
        let mut start = Duration::ZERO;
        let mut done = 0.0;
        for &(end, to, from) in &self.segments {
            let c = count - done;
            if end == Duration::MAX {
                return (from > 0.0).then(|| start + Duration::from_secs_f64(c / from));
            }
            let span = (end - start).as_secs_f64();
            let area = (from + to) / 2.0 * span;
            // Strictly inside: the arrival at the very end belongs to no stage (10 s at 20/s is
            // 200 files, not 201).
            if c < area {
                let slope = (to - from) / span;
                let x = if slope.abs() < 1e-12 {
                    if from <= 0.0 {
                        return None;
                    }
                    c / from
                } else {
                    // from*x + slope*x^2/2 = c
                    let a = slope / 2.0;
                    (-from + (from * from + 4.0 * a * c).max(0.0).sqrt()) / (2.0 * a)
                };
                return Some(start + Duration::from_secs_f64(x.clamp(0.0, span)));
            }
            done += area;
            start = end;
        }
        None
    }
}

/// A part of a run: shard `index` of `count` (`--shard I/N`, 0-based as Kubernetes' completion
/// index is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// Which one.
    pub index: u32,
    /// Of how many.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("--shard {s:?}: expected I/N with 0 <= I < N (the first of three is 0/3)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether global item `n` (a file of the open model, a session slot) is this shard's.
    pub fn owns(&self, n: u64) -> bool {
        n % self.count as u64 == self.index as u64
    }

    /// This shard's part of `total` (iterations): the remainder goes to the first shards.
    pub fn share(&self, total: u64) -> u64 {
        let n = self.count as u64;
        total / n + u64::from((self.index as u64) < total % n)
    }

    /// How many of the global session slots `0..global` are this shard's.
    pub fn slots_below(&self, global: u32) -> u32 {
        (global / self.count) + u32::from(self.index < global % self.count)
    }

    /// The global number of this shard's `k`-th session slot.
    pub fn slot(&self, k: u32) -> u32 {
        self.index + k * self.count
    }
}

/// What a profile asks for, over time.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Sessions (closed) or files per second (open) over time.
    pub ramp: Ramp,
    /// Which model.
    pub model: Model,
    /// Iterations for this shard (closed: session iterations; open and replay: files).
    pub iterations: Option<u64>,
    /// Reporting interval (intervals start at multiples of it since the epoch, so shards line up).
    pub interval: Duration,
}

impl Plan {
    /// The plan of `profile` for `shard`.
    pub fn of(profile: &Profile, shard: Shard) -> Plan {
        let length = profile.duration.map(|d| d.0);
        let ramp = match (&profile.closed, &profile.open, &profile.replay) {
            (Some(c), _, _) => match c.sessions {
                Some(n) => Ramp::constant(n as f64, length),
                None => Ramp::stages(&c.stages),
            },
            (_, Some(o), _) => match o.rate {
                Some(r) => Ramp::constant(r, length),
                None => Ramp::stages(&o.stages),
            },
            (_, _, Some(r)) => {
                let end = r
                    .sessions
                    .iter()
                    .map(|s| s.start.0 + s.files.last().map_or(Duration::ZERO, |f| f.at.0))
                    .max()
                    .unwrap_or_default();
                Ramp::constant(r.sessions.len() as f64, Some(end.max(Duration::from_millis(1))))
            }
            _ => Ramp::constant(0.0, Some(Duration::ZERO)),
        };
        let iterations = match profile.model() {
            // Open model: files are numbered globally, so the bound stays global.
            Model::Open => profile.iterations,
            _ => profile.iterations.map(|n| shard.share(n)),
        };
        Plan { interval: interval_for(ramp.length()), ramp, model: profile.model(), iterations }
    }
}

/// A reporting interval that keeps a run to about 600 intervals.
pub fn interval_for(length: Option<Duration>) -> Duration {
    let secs = length.map_or(0, |l| l.as_secs());
    let pick = [1, 2, 5, 10, 30, 60].into_iter().find(|s| secs / s <= 600).unwrap_or(60);
    Duration::from_secs(pick)
}

#[cfg(test)]
mod tests {
    use super::super::quantity::Span;
    use super::*;

    fn stage(secs: u64, target: f64) -> Stage {
        Stage { duration: Span(Duration::from_secs(secs)), target }
    }

    #[test]
    fn stages_ramp_like_k6() {
        let r = Ramp::stages(&[stage(10, 10.0), stage(20, 10.0), stage(10, 0.0)]);
        assert_eq!(r.at(Duration::from_secs(5)), 5.0);
        assert_eq!(r.at(Duration::from_secs(15)), 10.0);
        assert_eq!(r.at(Duration::from_secs(35)), 5.0);
        assert_eq!(r.at(Duration::from_secs(41)), 0.0);
        assert_eq!(r.length(), Some(Duration::from_secs(40)));
    }

    #[test]
    fn arrivals_integrate_the_rate() {
        let constant = Ramp::constant(4.0, Some(Duration::from_secs(10)));
        assert_eq!(constant.time_of(2.0), Some(Duration::from_millis(500)));
        assert_eq!(constant.time_of(39.0), Some(Duration::from_millis(9750)));
        assert_eq!(constant.time_of(40.0), None);
        // 0 -> 10/s over 10 s: 50 files, the 25th at sqrt(50) s.
        let ramp = Ramp::stages(&[stage(10, 10.0)]);
        let t = ramp.time_of(25.0).unwrap().as_secs_f64();
        assert!((t - 50f64.sqrt()).abs() < 1e-6, "{t}");
        assert_eq!(ramp.time_of(51.0), None);
        let forever = Ramp::constant(2.0, None);
        assert_eq!(forever.time_of(10.0), Some(Duration::from_secs(5)));
    }

    #[test]
    fn shards_split_disjointly_and_add_up() {
        let shards: Vec<Shard> = (0..3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        assert_eq!(shards.iter().map(|s| s.share(10)).collect::<Vec<_>>(), vec![4, 3, 3]);
        assert_eq!(shards.iter().map(|s| s.slots_below(7)).sum::<u32>(), 7);
        for n in 0..30u64 {
            assert_eq!(shards.iter().filter(|s| s.owns(n)).count(), 1);
        }
        assert_eq!(shards[2].slot(1), 5);
        assert!("3/3".parse::<Shard>().is_err() && "1-3".parse::<Shard>().is_err());
    }

    #[test]
    fn intervals_keep_runs_to_about_600() {
        assert_eq!(interval_for(Some(Duration::from_secs(60))), Duration::from_secs(1));
        assert_eq!(interval_for(Some(Duration::from_secs(3600))), Duration::from_secs(10));
        assert_eq!(interval_for(None), Duration::from_secs(1));
    }
}
