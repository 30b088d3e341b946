//! Time and randomness as ports, so every rule can be tested at its exact edge.

use std::{
    fmt,
    sync::Mutex,
    time::{Duration, Instant},
};

use time::{OffsetDateTime, UtcOffset};

use crate::Error;

/// A point in wall-clock time (UTC internally).
pub type Timestamp = OffsetDateTime;

/// Korea Standard Time, UTC+9, no daylight saving. Providers want their timestamps in KST whatever
/// the server's own time zone is.
pub const KST: UtcOffset = time::macros::offset!(+9);

/// The time source every rule is evaluated against.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync + fmt::Debug {
    /// Wall-clock now (for deadlines stored in sessions and compared across instances).
    fn now(&self) -> Timestamp;
    /// A monotonic reading (for local lifetimes such as cached tokens); never goes backwards.
    fn monotonic(&self) -> Duration;
}

/// The real clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic readings start at zero now.
    pub fn new() -> Self {
        Self { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        OffsetDateTime::now_utc()
    }
    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to: both readings advance together.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(Timestamp, Duration)>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self { state: Mutex::new((start, Duration::ZERO)) }
    }

    /// Moves both readings forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.0 += by;
        state.1 += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0
    }
    fn monotonic(&self) -> Duration {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1
    }
}

/// The randomness source for ids, nonces and keys.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Rng: Send + Sync + fmt::Debug {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), Error>;
}

/// The operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), Error> {
        getrandom::fill(dest).map_err(|_| Error::Unavailable {
            dependency: crate::Dependency::System,
            reason: "the operating system's random number generator failed".into(),
        })
    }
}

/// A deterministic generator for tests: a counter run through a fixed mixing function. Not random.
#[derive(Debug, Default)]
pub struct SequenceRng {
    counter: Mutex<u64>,
}

impl Rng for SequenceRng {
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), Error> {
        let mut counter = self.counter.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for chunk in dest.chunks_mut(8) {
            *counter += 1;
            // splitmix64
            let mut z = counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_both_readings_together() {
        let start = time::macros::datetime!(2026-01-01 00:00 UTC);
        let clock = ManualClock::new(start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), start + Duration::from_secs(90));
        assert_eq!(clock.monotonic(), Duration::from_secs(90));
    }

    #[test]
    fn kst_is_nine_hours_ahead() {
        let t = time::macros::datetime!(2026-01-01 15:00 UTC).to_offset(KST);
        assert_eq!((t.date().day(), t.hour()), (2, 0));
    }
}
