//! What the segment charts draw: per day, each kept value's peak and the
//! dimension's summed and coincident peaks; for one day, each value's
//! per-minute curve beside the day's own.

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::domain::calendar::date_of;
use crate::domain::dimension::{Dimension, label};
use crate::store::segments::{SegmentDayRow, SegmentFiguresRow};

/// One day of one dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentDay {
    pub day: NaiveDate,
    pub summed: u64,
    pub coincident: u64,
    /// Each kept value's label and `peak_users`, highest first.
    pub values: Vec<(String, u64)>,
}

/// The days of one dimension, in day order.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentHistory {
    pub dimension: Dimension,
    pub days: Vec<SegmentDay>,
}

impl SegmentHistory {
    /// From stored rows (`values` by day, as `store::segments::values`
    /// reads them).
    pub fn from_rows(
        dimension: Dimension,
        days: &[SegmentDayRow],
        values: &[SegmentFiguresRow],
    ) -> Self {
        Self {
            dimension,
            days: days
                .iter()
                .map(|day| SegmentDay {
                    day: date_of(day.day),
                    summed: day.summed_peak,
                    coincident: day.coincident_peak.into(),
                    values: values
                        .iter()
                        .filter(|v| v.day == day.day)
                        .map(|v| (label(&v.value).to_owned(), u64::from(v.peak_users)))
                        .collect(),
                })
                .collect(),
        }
    }

    /// The `n` values with the highest peak on any day, highest first
    /// (ties by label).
    pub fn top_values(&self, n: usize) -> Vec<String> {
        let mut best: Vec<(String, u64)> = Vec::new();
        for (value, peak) in self.days.iter().flat_map(|d| d.values.iter()) {
            match best.iter_mut().find(|(v, _)| v == value) {
                Some((_, top)) => *top = (*top).max(*peak),
                None => best.push((value.clone(), *peak)),
            }
        }
        best.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        best.into_iter().take(n).map(|(v, _)| v).collect()
    }
}

impl SegmentDay {
    /// A value's peak (0 when it was not kept that day).
    pub fn peak(&self, value: &str) -> u64 {
        self.values
            .iter()
            .find(|(v, _)| v == value)
            .map_or(0, |(_, p)| *p)
    }
}

/// One day's per-minute users in total and per value.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentCurves {
    pub dimension: Dimension,
    pub day: NaiveDate,
    pub zone: Tz,
    /// Epoch seconds of the day's first minute.
    pub day_start: i64,
    /// The day's own per-minute maxima of `C_user` (the coincident total).
    pub total: Vec<u64>,
    /// The top values' per-minute maxima, highest peak first.
    pub values: Vec<(String, Vec<u64>)>,
}
