use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A sliding-window error budget used by the circuit breaker.
#[derive(Debug)]
pub struct ErrorWindow {
    window: Duration,
    events: VecDeque<(Instant, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

impl ErrorWindow {
    pub fn new(window: Duration) -> Self {
        Self { window, events: VecDeque::new() }
    }

    pub fn record(&mut self, now: Instant, ok: bool) {
        self.events.push_back((now, ok));
        while let Some(&(t, _)) = self.events.front() {
            if now.duration_since(t) > self.window {
                self.events.pop_front();
            } else {
                break;
            }
        }
    }

    pub fn failure_ratio(&self) -> f64 {
        if self.events.is_empty() {
            return 0.0;
        }
        let failures = self.events.iter().filter(|(_, ok)| !ok).count();
        failures as f64 / self.events.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_counts_only_recent_events() {
        let mut w = ErrorWindow::new(Duration::from_secs(10));
        let t0 = Instant::now();
        w.record(t0, false);
        w.record(t0 + Duration::from_secs(11), true);
        assert_eq!(w.failure_ratio(), 0.0);
    }
}
