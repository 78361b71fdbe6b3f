//! Repeated failures of something outside the server (a witness, the mail
//! server), logged when they start, now and then while they last (each
//! time after twice as long, up to an hour), and when they end; not once
//! a try, which for a witness that is down was 86,000 lines a day.

use std::time::{Duration, Instant};

/// The first reminder comes this long after the start; each later one
/// after twice the gap before, up to [`LONGEST_GAP`].
const FIRST_GAP: Duration = Duration::from_secs(60);
const LONGEST_GAP: Duration = Duration::from_secs(3600);

/// What one outside service has been doing lately.
#[derive(Debug)]
pub struct Outage {
    what: String,
    now: Option<Current>,
}

#[derive(Debug)]
struct Current {
    since: Instant,
    failures: u64,
    next_line: Instant,
    gap: Duration,
}

/// What a failure or a success has to say, if anything.
#[derive(Debug, PartialEq, Eq)]
pub enum Said {
    Started,
    StillFailing { failures: u64 },
    Ended { failures: u64 },
    Nothing,
}

impl Outage {
    pub fn new(what: impl Into<String>) -> Self {
        Outage {
            what: what.into(),
            now: None,
        }
    }

    /// A try failed, for `why` (already escaped for the log).
    pub fn failed(&mut self, why: &str) -> Said {
        self.failed_at(Instant::now(), why)
    }

    /// A try worked.
    pub fn worked(&mut self) -> Said {
        self.worked_at(Instant::now())
    }

    fn failed_at(&mut self, at: Instant, why: &str) -> Said {
        let what = &self.what;
        match &mut self.now {
            None => {
                self.now = Some(Current {
                    since: at,
                    failures: 1,
                    next_line: at + FIRST_GAP,
                    gap: FIRST_GAP,
                });
                tracing::warn!(
                    outage = %what,
                    "{what} is failing: {why} (trying again; the next line about it in {} s unless it recovers)",
                    FIRST_GAP.as_secs()
                );
                Said::Started
            }
            Some(c) => {
                c.failures += 1;
                if at < c.next_line {
                    return Said::Nothing;
                }
                c.gap = (c.gap * 2).min(LONGEST_GAP);
                c.next_line = at + c.gap;
                let minutes = at.duration_since(c.since).as_secs() / 60;
                tracing::warn!(
                    outage = %what,
                    failures = c.failures,
                    "{what} is still failing after {minutes} min and {} tries: {why}",
                    c.failures
                );
                Said::StillFailing {
                    failures: c.failures,
                }
            }
        }
    }

    fn worked_at(&mut self, at: Instant) -> Said {
        match self.now.take() {
            None => Said::Nothing,
            Some(c) => {
                let what = &self.what;
                let seconds = at.duration_since(c.since).as_secs();
                tracing::info!(
                    outage = %what,
                    failures = c.failures,
                    "{what} works again, after {} failed tries over {seconds} s",
                    c.failures
                );
                Said::Ended {
                    failures: c.failures,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Failures at these seconds after the start, then a success at the
    /// last: what each said.
    fn check(failures_at: &[u64], worked_at: u64, expect: &[Said]) {
        let t0 = Instant::now();
        let mut o = Outage::new("the witness w");
        let mut said: Vec<Said> = failures_at
            .iter()
            .map(|s| o.failed_at(t0 + Duration::from_secs(*s), "down"))
            .filter(|s| *s != Said::Nothing)
            .collect();
        said.push(o.worked_at(t0 + Duration::from_secs(worked_at)));
        assert_eq!(said, expect);
    }

    #[test]
    fn a_line_when_it_starts_now_and_then_and_when_it_ends() {
        use Said::*;
        check(&[], 0, &[Nothing]);
        check(&[0], 1, &[Started, Ended { failures: 1 }]);
        check(&[0, 1, 2, 59], 60, &[Started, Ended { failures: 4 }]);
        check(
            &[0, 60, 61, 179, 180],
            200,
            &[
                Started,
                StillFailing { failures: 2 },
                StillFailing { failures: 5 },
                Ended { failures: 5 },
            ],
        );
        // A day of tries every second: a few dozen lines, not 86,400.
        let every_second: Vec<u64> = (0..86_400).collect();
        let t0 = Instant::now();
        let mut o = Outage::new("w");
        let lines = every_second
            .iter()
            .filter(|s| o.failed_at(t0 + Duration::from_secs(**s), "down") != Said::Nothing)
            .count();
        assert!((20..40).contains(&lines), "{lines}");
    }
}
