//! `highwater simulate`: realistic presence and session events from a
//! scenario, deterministic for a seed.
//!
//! Day by day: the day's population is calibrated so that its exact
//! `peak_users` is the scenario's target times the scale ([`calibrate`]);
//! then every user-day is generated again from its own random stream
//! ([`sessions`]) and written as NDJSON lines ([`event_lines`]). Events
//! chosen to arrive late, and second copies of duplicated ones, are held
//! back until the next day's events are out.

mod behaviour;
mod calibrate;
pub(crate) mod client;
pub mod deliver;
pub(crate) mod event_lines;
pub(crate) mod model;
pub(crate) mod organisations;
pub(crate) mod peak_tree;
pub(crate) mod population;
pub mod scenario;
pub(crate) mod sessions;

use anyhow::ensure;
use bytes::Bytes;
use chrono::NaiveDate;
use indicatif::ProgressBar;

use crate::domain::calendar::is_weekend;
use crate::domain::day_window::DayWindow;
use calibrate::calibrate;
use client::Batch;
use event_lines::{DeliveryRates, Outputs, QuotedNames, UserDayLines};
use model::BehaviourModel;
use population::Population;
use scenario::Scenario;
use sessions::DayPlan;

/// Events per batch unless told otherwise.
pub const DEFAULT_BATCH_EVENTS: usize = 5_000;

pub struct Simulation {
    pub scenario: Scenario,
    pub scale: f64,
    pub seed: u64,
    population: Population,
    weekday: (BehaviourModel, QuotedNames),
    weekend: (BehaviourModel, QuotedNames),
}

/// What was simulated for one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySummary {
    pub day: NaiveDate,
    /// The scenario's peak times the scale.
    pub target: u64,
    /// `peak_users` of the generated events, as highwater must find it
    /// (before the next day's earliest users are added, which only ever
    /// touch the day's last hours).
    pub peak: u64,
    /// Users considered (numbered `0..population`).
    pub population: u64,
    pub active_users: u64,
    /// Lines written for the day, duplicates included.
    pub events: u64,
}

impl Simulation {
    pub fn new(scenario: Scenario, scale: f64, seed: u64) -> anyhow::Result<Self> {
        ensure!(
            scale.is_finite() && scale > 0.0 && scale <= 10.0,
            "--scale must be in (0, 10]"
        );
        let model = |b| {
            let model = BehaviourModel::new(b);
            let names = QuotedNames::new(&model);
            (model, names)
        };
        Ok(Self {
            population: Population::new(&scenario, scale, seed),
            weekday: model(&scenario.weekday),
            weekend: model(&scenario.weekend),
            scenario,
            scale,
            seed,
        })
    }

    /// The scenario's days from `from` to `to` (default: all of them).
    pub fn days(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> anyhow::Result<Vec<NaiveDate>> {
        let all = self.scenario.all_days();
        let (first, last) = (all[0], all[all.len() - 1]);
        let (from, to) = (from.unwrap_or(first), to.unwrap_or(last));
        ensure!(
            first <= from && from <= to && to <= last,
            "the days must lie within the scenario's {first} .. {last}, in order"
        );
        Ok(all
            .into_iter()
            .filter(|d| (from..=to).contains(d))
            .collect())
    }

    /// The day's target `peak_users`.
    pub fn target(&self, day: NaiveDate) -> u64 {
        ((self.scenario.target_peak(day) * self.scale).round() as u64).max(1)
    }

    /// Generates the days' events in batches of `batch_events` lines and
    /// hands each to `send`. Deterministic: the same scenario, scale, seed,
    /// days and batch size give the same bytes.
    pub fn run(
        &self,
        days: &[NaiveDate],
        batch_events: usize,
        progress: &ProgressBar,
        mut send: impl FnMut(Batch) -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<DaySummary>> {
        let mut out = Batcher {
            body: Vec::with_capacity(batch_events * 200),
            lines: 0,
            batch_events,
            send: &mut send,
            progress,
        };
        let rates = DeliveryRates {
            duplicate: self.scenario.delivery.duplicate_rate,
            late: self.scenario.delivery.late_rate,
        };
        let zone = self.scenario.project.time_zone;
        let mut summaries = Vec::new();
        let mut spill = Vec::new();
        let mut held_back: (Vec<u8>, usize) = (Vec::new(), 0);
        for (i, &day) in days.iter().enumerate() {
            progress.set_message(day.to_string());
            let (behaviour, names) = if is_weekend(day) {
                (&self.weekend.0, &self.weekend.1)
            } else {
                (&self.weekday.0, &self.weekday.1)
            };
            let plan = DayPlan::new(&self.scenario, behaviour, day, self.seed);
            let window = DayWindow::new(day, zone);
            // The day before's late risers count only if it was simulated.
            if i == 0 || days[i - 1].succ_opt() != Some(day) {
                spill.clear();
            }
            let mut spill_out = Vec::new();
            let target = self.target(day);
            let calibration = calibrate(
                &plan,
                &self.population,
                window,
                target,
                &spill,
                &mut spill_out,
            )?;
            spill = spill_out;

            let date_digits = day.format("%Y%m%d").to_string();
            let lines = UserDayLines {
                seed: self.seed,
                day_number: day.to_epoch_days() as u64,
                date_digits: &date_digits,
                behaviour,
                names,
                heartbeat_ms: plan.heartbeat_ms,
                rates,
            };
            let mut late = (Vec::new(), 0);
            let mut events = 0;
            for index in 0..calibration.population {
                let Some(sessions) = plan.sessions(index, self.population.region(index)) else {
                    continue;
                };
                let user = self.population.user(index);
                let country = self.population.country_code(&user);
                let mut outputs = Outputs {
                    now: &mut out.body,
                    now_lines: &mut out.lines,
                    late: &mut late.0,
                    late_lines: &mut late.1,
                };
                events += lines.write(index, &user, country, &sessions, &mut outputs) as u64;
                out.send_if_full()?;
            }
            // The day before's stragglers arrive after this day's events.
            out.push_lines(&held_back.0)?;
            held_back = late;
            summaries.push(DaySummary {
                day,
                target,
                peak: calibration.peak,
                population: calibration.population,
                active_users: calibration.active_users,
                events,
            });
        }
        out.push_lines(&held_back.0)?;
        out.flush()?;
        Ok(summaries)
    }
}

/// Collects lines into batches of `batch_events`.
struct Batcher<'a, F: FnMut(Batch) -> anyhow::Result<()>> {
    body: Vec<u8>,
    lines: usize,
    batch_events: usize,
    send: &'a mut F,
    progress: &'a ProgressBar,
}

impl<F: FnMut(Batch) -> anyhow::Result<()>> Batcher<'_, F> {
    fn send_if_full(&mut self) -> anyhow::Result<()> {
        if self.lines >= self.batch_events {
            self.flush()?;
        }
        Ok(())
    }

    fn push_lines(&mut self, lines: &[u8]) -> anyhow::Result<()> {
        for line in lines.split_inclusive(|b| *b == b'\n') {
            self.body.extend_from_slice(line);
            self.lines += 1;
            self.send_if_full()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.lines == 0 {
            return Ok(());
        }
        let capacity = self.body.capacity();
        let body = std::mem::replace(&mut self.body, Vec::with_capacity(capacity));
        let events = std::mem::take(&mut self.lines);
        self.progress.inc(events as u64);
        (self.send)(Batch {
            body: Bytes::from(body),
            events,
        })
    }
}
