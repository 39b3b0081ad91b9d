//! How many automatic starts one loop iteration may make during a large start-up.
//!
//! Between two batches of spawns the loop answers its clients, so the batch size is what a
//! `supervisorctl status` waits for during a start-up of thousands of programs. A fixed count
//! is wrong on both sides: the cost of a spawn ranges from under 1 ms to several (an AUTO log
//! file to create first, a slow filesystem, a loaded machine). The pacer measures what spawns
//! cost and sizes the next batch to take about [`BATCH_TIME`], within bounds: at least
//! [`MIN_BATCH`] (every iteration walks all processes once, so tiny batches would make a
//! start-up cost O(n²)) and at most the caller's maximum.
//!
//! Plain logic: the loop passes in the durations it measured.

use std::time::Duration;

/// What one batch of spawns should take: a client waits about two or three of them.
pub const BATCH_TIME: Duration = Duration::from_millis(20);

/// The smallest batch, whatever spawns cost.
pub const MIN_BATCH: usize = 16;

/// The estimate before anything was measured.
const FIRST_GUESS: Duration = Duration::from_millis(1);

#[derive(Debug, Clone)]
pub struct SpawnPacer {
    max: usize,
    per_spawn: Duration,
}

impl SpawnPacer {
    /// A pacer whose batches never exceed `max` (never below [`MIN_BATCH`] either).
    pub fn new(max: usize) -> Self {
        SpawnPacer {
            max: max.max(MIN_BATCH),
            per_spawn: FIRST_GUESS,
        }
    }

    /// The size of the next batch.
    pub fn budget(&self) -> usize {
        let per = self.per_spawn.as_nanos().max(1);
        let by_time = usize::try_from(BATCH_TIME.as_nanos() / per).unwrap_or(usize::MAX);
        by_time.clamp(MIN_BATCH, self.max)
    }

    /// `spawns` starts took `took` in all. A moving average (3/4 old, 1/4 new); batches of
    /// fewer than 4 spawns say too little and are ignored.
    pub fn record(&mut self, spawns: usize, took: Duration) {
        let Ok(n) = u32::try_from(spawns) else {
            return;
        };
        if n < 4 {
            return;
        }
        let per = took / n;
        self.per_spawn = (self.per_spawn * 3 + per) / 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn the_first_batch_follows_the_first_guess_within_the_maximum() {
        assert_eq!(SpawnPacer::new(1000).budget(), 20);
        assert_eq!(SpawnPacer::new(18).budget(), 18);
        // The maximum never goes below the minimum.
        assert_eq!(SpawnPacer::new(3).budget(), MIN_BATCH);
    }

    #[test]
    fn slow_spawns_make_smaller_batches_but_never_below_the_minimum() {
        let mut p = SpawnPacer::new(1000);
        for _ in 0..20 {
            p.record(16, ms(16 * 5));
        }
        assert_eq!(p.budget(), MIN_BATCH);
    }

    #[test]
    fn fast_spawns_make_larger_batches_up_to_the_maximum() {
        let mut p = SpawnPacer::new(60);
        for _ in 0..20 {
            p.record(20, Duration::from_micros(20 * 400));
        }
        assert!((48..=50).contains(&p.budget()), "{}", p.budget());
        for _ in 0..20 {
            p.record(50, Duration::from_micros(50 * 100));
        }
        assert_eq!(p.budget(), 60);
    }

    #[test]
    fn the_average_moves_a_quarter_of_the_way() {
        let mut p = SpawnPacer::new(1000);
        // 0.5 ms each: (1 * 3 + 0.5) / 4 = 0.875 ms, 20 / 0.875 = 22.9.
        p.record(10, ms(5));
        assert_eq!(p.budget(), 22);
        // Too few to say anything.
        p.record(2, ms(1000));
        assert_eq!(p.budget(), 22);
    }
}
