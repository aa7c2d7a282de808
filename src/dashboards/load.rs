//! A dashboard's panels with their data, read from the stored figures.

use chrono::{Duration, NaiveDate};

use super::spec::{ChartKind, Dashboard, Panel};
use crate::capacity::forecast::Method;
use crate::capacity::headroom::SURGES;
use crate::capacity::horizon::Horizon;
use crate::capacity::report::capacity_report;
use crate::charts::Chart;
use crate::charts::data::{Daily, HourOfWeek, Intraday, Minute, SessionLengths};
use crate::charts::forecast::ForecastChart;
use crate::charts::segment_data::{SegmentCurves, SegmentHistory};
use crate::charts::segment_peaks::TOP_VALUES;
use crate::config::ProjectSettings;
use crate::domain::calendar::date_of;
use crate::domain::day_window::DayWindow;
use crate::domain::dimension::{Dimension, label};
use crate::figures::source::FiguresSource;
use crate::store::StoreError;
use crate::store::figures::DailyFiguresRow;

/// Why a dashboard's panels could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The figures could not be read (ClickHouse away or too slow).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The dashboard file names a day that is not one.
    #[error("panel {panel:?}: `day` = {day:?} is neither YYYY-MM-DD nor \"latest\"")]
    PanelDay { panel: String, day: String },
}

/// A panel ready to draw.
#[derive(Debug, Clone)]
pub struct LoadedPanel {
    pub panel: Panel,
    pub chart: Chart,
    /// The days shown (for captions and links).
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Days of per-minute rows a panel reads at most (the last five weeks of
/// its range): 1,440 rows a day add up, and an hour-of-week pattern is
/// clear in five weeks.
pub const MAX_MINUTE_DAYS: i64 = 35;

/// An explicit range chosen by the reader (the live dashboard's picker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chosen {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Loads every panel's data. Ranges count back from the latest day with
/// figures (`today` when there are none), unless `chosen` names the days.
/// `readable`: the projects a compare panel may show (others it names are
/// left out).
pub async fn load(
    source: &dyn FiguresSource,
    project: &ProjectSettings,
    dashboard: &Dashboard,
    chosen: Option<Chosen>,
    readable: &[String],
    today: NaiveDate,
) -> Result<Vec<LoadedPanel>, LoadError> {
    let history = source.all_days(&project.name).await?;
    let latest = chosen
        .map(|c| c.to)
        .or_else(|| history.last().map(|r| date_of(r.day)))
        .unwrap_or(today);
    let earliest = history.first().map_or(latest, |r| date_of(r.day));
    // Records are all-time: judged on the whole history up to `latest`.
    let upto: Vec<DailyFiguresRow> = history
        .into_iter()
        .filter(|r| date_of(r.day) <= latest)
        .collect();
    let daily = Daily::from_rows(&upto);
    let mut panels = Vec::new();
    for panel in &dashboard.panels {
        let mut from = match chosen {
            Some(c) => c.from,
            None => panel
                .range
                .unwrap_or(dashboard.range)
                .first_day(latest, earliest.min(latest)),
        };
        if panel.chart == ChartKind::HourOfWeek {
            from = from.max(latest - Duration::days(MAX_MINUTE_DAYS - 1));
        }
        let in_range: Vec<DailyFiguresRow> = upto
            .iter()
            .filter(|r| date_of(r.day) >= from)
            .cloned()
            .collect();
        let chart = match panel.chart {
            ChartKind::Peak => Chart::Peak(daily.since(from)),
            ChartKind::Actives => Chart::Actives(daily.since(from)),
            // Each day is compared with a week earlier, also before `from`.
            ChartKind::Growth => Chart::Growth(daily.since(from - Duration::days(7))),
            ChartKind::Forecast => Chart::Forecast(Box::new(forecast_chart(project, &upto, from))),
            ChartKind::Compare => {
                let mut projects = Vec::new();
                let names = if panel.projects.is_empty() {
                    std::slice::from_ref(&project.name)
                } else {
                    panel.projects.as_slice()
                };
                for name in names.iter().filter(|n| readable.contains(n)) {
                    // The dashboard's own project is already read.
                    if *name == project.name {
                        projects.push((name.clone(), daily.since(from)));
                        continue;
                    }
                    let rows: Vec<DailyFiguresRow> = source
                        .all_days(name)
                        .await?
                        .into_iter()
                        .filter(|r| date_of(r.day) <= latest)
                        .collect();
                    projects.push((name.clone(), Daily::from_rows(&rows).since(from)));
                }
                Chart::Compare(projects)
            }
            ChartKind::SessionLengths => {
                Chart::SessionLengths(SessionLengths::from_rows(&in_range))
            }
            ChartKind::HourOfWeek => {
                let minutes: Vec<Minute> = source
                    .minutes_between(&project.name, from, latest)
                    .await?
                    .iter()
                    .map(Minute::from)
                    .collect();
                Chart::HourOfWeek(Box::new(HourOfWeek::from_minutes(
                    &minutes,
                    project.time_zone,
                )))
            }
            ChartKind::SegmentPeaks | ChartKind::SummedVsCoincident | ChartKind::TopOrgs => {
                let dimension = panel_dimension(panel);
                let range = (from, latest);
                let (days, values) = source.segments(&project.name, dimension, range).await?;
                let history = SegmentHistory::from_rows(dimension, &days, &values);
                match panel.chart {
                    ChartKind::SegmentPeaks => Chart::SegmentPeaks(history),
                    ChartKind::SummedVsCoincident => Chart::SummedVsCoincident(history),
                    _ => Chart::TopOrgs(history),
                }
            }
            ChartKind::SegmentDay => {
                let day = panel_day(panel, latest)?;
                let dimension = panel_dimension(panel);
                let total = source
                    .minutes(&project.name, day)
                    .await?
                    .iter()
                    .map(|m| u64::from(m.users))
                    .collect();
                let values = source
                    .segment_values(&project.name, dimension, (day, day), None)
                    .await?;
                Chart::SegmentDay(SegmentCurves {
                    dimension,
                    day,
                    zone: project.time_zone,
                    day_start: DayWindow::new(day, project.time_zone).start,
                    total,
                    values: values
                        .iter()
                        .take(TOP_VALUES)
                        .map(|v| {
                            let users = v.minute_users.iter().map(|&u| u64::from(u)).collect();
                            (label(&v.value).to_owned(), users)
                        })
                        .collect(),
                })
            }
            ChartKind::Intraday => {
                let day = panel_day(panel, latest)?;
                let minutes = |day| async move {
                    Ok::<_, StoreError>(
                        source
                            .minutes(&project.name, day)
                            .await?
                            .iter()
                            .map(Minute::from)
                            .collect::<Vec<_>>(),
                    )
                };
                Chart::Intraday(Intraday {
                    day,
                    zone: project.time_zone,
                    minutes: minutes(day).await?,
                    week_before: minutes(day - Duration::days(7)).await?,
                    is_final: upto
                        .iter()
                        .find(|r| date_of(r.day) == day)
                        .is_some_and(|r| r.r#final == 1),
                })
            }
        };
        panels.push(LoadedPanel {
            panel: panel.clone(),
            chart,
            from,
            to: latest,
        });
    }
    Ok(panels)
}

/// The day an intraday or segment_day panel shows.
fn panel_day(panel: &Panel, latest: NaiveDate) -> Result<NaiveDate, LoadError> {
    match panel.day.as_deref() {
        Some(day) if day != "latest" => day.parse().map_err(|_| LoadError::PanelDay {
            panel: panel.title.clone(),
            day: day.to_owned(),
        }),
        _ => Ok(latest),
    }
}

/// A segment panel's dimension: as given, else organisations for the
/// organisations table and countries for the rest.
fn panel_dimension(panel: &Panel) -> Dimension {
    panel.dimension.unwrap_or(match panel.chart {
        ChartKind::TopOrgs => Dimension::Org,
        _ => Dimension::Country,
    })
}

/// Days a forecast panel looks ahead.
const FORECAST_DAYS: u32 = 28;

/// The final days from `from` on, the forecast after them, and the
/// capacity line (empty when there are too few final days).
fn forecast_chart(
    project: &ProjectSettings,
    rows: &[DailyFiguresRow],
    from: NaiveDate,
) -> ForecastChart {
    let horizon = Horizon::try_from(FORECAST_DAYS).expect("a valid horizon");
    let Ok(report) = capacity_report(project, rows, horizon) else {
        return ForecastChart::default();
    };
    let recent_peak = rows
        .iter()
        .filter(|r| r.r#final == 1)
        .rev()
        .take(7)
        .map(|r| f64::from(r.peak_users))
        .fold(0.0, f64::max);
    let usable = report.headroom.as_ref().map(|h| h.usable);
    // Each what-if runs until it reaches the usable capacity.
    let surges = SURGES
        .iter()
        .map(|surge| {
            let daily = (1.0 + surge.growth).powf(1.0 / f64::from(surge.days));
            let mut points = Vec::new();
            for d in 0..=FORECAST_DAYS {
                let value = recent_peak * daily.powi(d as i32);
                points.push((report.as_of + Duration::days(i64::from(d)), value));
                if usable.is_some_and(|u| value >= u) {
                    break;
                }
            }
            (surge.label.to_owned(), points)
        })
        .collect();
    ForecastChart {
        actual: rows
            .iter()
            .filter(|r| r.r#final == 1 && date_of(r.day) >= from)
            .map(|r| (date_of(r.day), f64::from(r.peak_users)))
            .collect(),
        forecast: report
            .forecast
            .iter()
            .map(|d| (d.day, d.peak_users, d.lower, d.upper))
            .collect(),
        usable,
        surges,
        crossing: report.headroom.as_ref().and_then(|h| h.upper_crosses_on),
        mape: match report.method {
            Method::HoltWinters => report.holt_winters_mape,
            Method::SeasonalNaive => report.seasonal_naive_mape,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::in_memory::InMemoryFigures;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 3, 26).unwrap()
    }

    /// Loads `dashboard` for project alpha over `figures`, today being
    /// [`today`].
    async fn load_for_alpha(
        figures: &InMemoryFigures,
        dashboard: &Dashboard,
    ) -> Result<Vec<LoadedPanel>, LoadError> {
        let project = ProjectSettings::new(
            "alpha",
            "alpha-ingest-key-0123456789",
            "alpha-read-key-0123456789ab",
        );
        load(figures, &project, dashboard, None, &[], today()).await
    }

    #[tokio::test]
    async fn a_store_that_is_away_is_a_store_error_not_a_bad_dashboard() {
        let figures = InMemoryFigures {
            unavailable: true,
            ..Default::default()
        };
        let dashboard = Dashboard::built_in("overview").unwrap();
        let result = load_for_alpha(&figures, &dashboard).await;
        assert!(matches!(result, Err(LoadError::Store(_))), "{result:?}");
    }

    #[tokio::test]
    async fn a_panel_day_that_is_not_a_day_names_its_panel() {
        let mut dashboard = Dashboard::built_in("overview").unwrap();
        let panel = dashboard
            .panels
            .iter_mut()
            .find(|p| p.chart == ChartKind::Intraday)
            .expect("the overview has an intraday panel");
        panel.day = Some("yesterday".into());
        let title = panel.title.clone();
        let error = load_for_alpha(&InMemoryFigures::default(), &dashboard)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, LoadError::PanelDay { panel, day } if *panel == title && day == "yesterday"),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn without_figures_every_panel_still_loads_empty() {
        let dashboard = Dashboard::built_in("overview").unwrap();
        let panels = load_for_alpha(&InMemoryFigures::default(), &dashboard)
            .await
            .unwrap();
        assert_eq!(panels.len(), dashboard.panels.len());
        assert!(
            panels.iter().all(|p| p.to == today()),
            "ranges end today without figures"
        );
    }
}
