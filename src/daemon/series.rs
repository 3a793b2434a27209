//! [`SeriesRecorder`]: keeps the dashboard chart's samples (connection rate
//! and active connections) in a ring, for the daemon to fill every few
//! seconds and return from [`Control::series`]. Pure (time is passed in).
//!
//! [`Control::series`]: crate::api::Control::series

use std::collections::VecDeque;

use crate::api::{SeriesPoint, SeriesView};

/// A ring of samples computed from a running total of accepted
/// connections and the number open.
#[derive(Debug, Clone)]
pub struct SeriesRecorder {
    interval_secs: u64,
    capacity: usize,
    last: Option<(u64, u64)>,
    points: VecDeque<SeriesPoint>,
}

impl SeriesRecorder {
    /// Samples every `interval_secs`, keeping `capacity` of them
    /// (`new(5, 120)`: ten minutes).
    pub fn new(interval_secs: u64, capacity: usize) -> Self {
        SeriesRecorder {
            interval_secs: interval_secs.max(1),
            capacity: capacity.max(2),
            last: None,
            points: VecDeque::new(),
        }
    }

    /// Seconds between samples, for the daemon's timer.
    pub fn interval_secs(&self) -> u64 {
        self.interval_secs
    }

    /// Records one sample at `now` (Unix seconds) from the total of
    /// connections accepted since start and those open now. The first call
    /// only sets the baseline.
    pub fn record(&mut self, now: u64, total: u64, active: u64) {
        if let Some((t0, total0)) = self.last {
            let secs = now.saturating_sub(t0).max(1);
            let rate = total.saturating_sub(total0) as f64 / secs as f64;
            if self.points.len() == self.capacity {
                self.points.pop_front();
            }
            self.points.push_back(SeriesPoint {
                time: now,
                conn_rate: rate,
                active,
            });
        }
        self.last = Some((now, total));
    }

    /// The samples, oldest first.
    pub fn view(&self) -> SeriesView {
        SeriesView {
            interval_secs: self.interval_secs,
            points: self.points.iter().copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_per_second_and_the_ring_is_bounded() {
        let mut r = SeriesRecorder::new(5, 3);
        r.record(100, 0, 0);
        assert!(r.view().points.is_empty(), "the first call is the baseline");
        r.record(105, 50, 7);
        r.record(110, 50, 2);
        r.record(115, 80, 4);
        r.record(120, 85, 1);
        let v = r.view();
        assert_eq!(v.points.len(), 3);
        assert_eq!(v.points[0].time, 110);
        assert_eq!(v.points[0].conn_rate, 0.0);
        assert_eq!(v.points[1].conn_rate, 6.0);
        assert_eq!(v.points[2].active, 1);
        // A counter reset (daemon restart inside) never goes negative.
        r.record(125, 10, 0);
        assert_eq!(r.view().points[2].conn_rate, 0.0);
    }
}
