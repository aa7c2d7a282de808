//! How many users a day needs: users are added in joining order, their
//! connected intervals (as highwater will compute them from the events:
//! docs/design.md §2, devices merged per user) added to the day's concurrency,
//! until the peak reaches the day's target. The simulated `peak_users` is
//! then the target exactly, at any scale, not merely in expectation.

use anyhow::bail;

use super::peak_tree::PeakTree;
use super::population::Population;
use super::sessions::{DayPlan, user_intervals};
use crate::domain::day_window::DayWindow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    /// Users numbered below this take part in the day (if active).
    pub population: u64,
    /// Users with sessions that day.
    pub active_users: u64,
    /// The day's peak of `C_user` from this day's and the day before's users.
    pub peak: u64,
}

/// `spill_in`: intervals of the day before's users that reach into this day.
/// Intervals of this day's users that reach into the next day are appended
/// to `spill_out`.
pub fn calibrate(
    plan: &DayPlan<'_>,
    population: &Population,
    window: DayWindow,
    target: u64,
    spill_in: &[(i64, i64)],
    spill_out: &mut Vec<(i64, i64)>,
) -> anyhow::Result<Calibration> {
    let add = |tree: &mut PeakTree, (from, to): (i64, i64)| {
        tree.add(from - window.start, to - window.start, 1);
    };
    let mut spill = PeakTree::new(window.len());
    for interval in spill_in {
        add(&mut spill, *interval);
    }
    // Where the day before's users alone reach the target (a UTC Saturday
    // morning holds Friday evening in the Americas), the target is for this
    // day's own users, and the peak is higher than asked.
    let spill_first = (spill.max() as u64) < target;
    let mut tree = PeakTree::new(window.len());
    if spill_first {
        for interval in spill_in {
            add(&mut tree, *interval);
        }
    }
    // No plausible scenario needs more than this many candidates per peak user.
    let give_up = target.saturating_mul(1_000).max(100_000);
    let mut index = 0;
    let mut active_users = 0;
    while (tree.max() as u64) < target {
        if index >= give_up {
            bail!(
                "{}: {index} users reach only {} at once, not the target {target}: \
                 the scenario's behaviour leaves too few users connected together",
                window.day,
                tree.max()
            );
        }
        let region = population.region(index);
        if let Some(sessions) = plan.sessions(index, region) {
            active_users += 1;
            for interval in user_intervals(&sessions, plan.heartbeat_ms, plan.timeout_s) {
                add(&mut tree, interval);
                if interval.1 > window.end {
                    spill_out.push(interval);
                }
            }
        }
        index += 1;
    }
    if !spill_first {
        for interval in spill_in {
            add(&mut tree, *interval);
        }
    }
    Ok(Calibration {
        population: index,
        active_users,
        peak: tree.max() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::model::BehaviourModel;
    use crate::simulate::scenario::Scenario;

    /// The calibrated peak, recounted second by second from the sessions of
    /// the users calibration chose, is the target.
    #[test]
    fn the_chosen_users_peak_at_the_target_exactly() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/scenarios/march-2020.toml"
        );
        let scenario = Scenario::load(std::path::Path::new(path)).unwrap();
        let day: chrono::NaiveDate = "2020-03-25".parse().unwrap();
        let behaviour = BehaviourModel::new(&scenario.weekday);
        let plan = DayPlan::new(&scenario, &behaviour, day, 9);
        let population = Population::new(&scenario, 1.0, 9);
        let window = DayWindow::new(day, scenario.project.time_zone);
        for target in [1, 37, 400] {
            let mut spill = Vec::new();
            let calibration =
                calibrate(&plan, &population, window, target, &[], &mut spill).unwrap();
            assert_eq!(calibration.peak, target);
            let mut seconds = vec![0u64; window.len()];
            let mut active = 0;
            for index in 0..calibration.population {
                let Some(sessions) = plan.sessions(index, population.region(index)) else {
                    continue;
                };
                active += 1;
                for (from, to) in user_intervals(&sessions, plan.heartbeat_ms, plan.timeout_s) {
                    for t in from.max(window.start)..to.min(window.end) {
                        seconds[(t - window.start) as usize] += 1;
                    }
                }
            }
            assert_eq!(*seconds.iter().max().unwrap(), target);
            assert_eq!(active, calibration.active_users);
            // One user fewer would not have reached it.
            assert!(calibration.population >= target);
        }
    }
}
