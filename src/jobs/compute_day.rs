//! One day of one project, computed from scratch and stored in place of
//! whatever was there (a recompute replaces, never adds).

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use clickhouse::Client;
use hdrhistogram::serialization::{Serializer, V2Serializer};

use super::actives;
use super::concurrency::MinuteMaxima;
use super::day_accumulator::{DayAccumulator, DaySessionsFigures};
use super::segment_accumulator::{DimensionFigures, Keep};
use super::session_interval::SessionRules;
use super::sessions;
use super::slicing::{Slicing, slice_buckets};
use crate::config::ProjectSettings;
use crate::domain::calendar::day_number;
use crate::domain::day_window::DayWindow;
use crate::store::StoreError;
use crate::store::figures::{
    ConcurrencyMinuteRow, DailyFiguresRow, insert_active_buckets, insert_rows,
};
use crate::store::segments::{self, SegmentDayRow, SegmentFiguresRow};

/// Versions of stored figures: the clock in ms, but strictly increasing
/// within the process so two recomputes in one millisecond still order.
pub fn next_version(now_ms: i64) -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let wanted = now_ms.max(0) as u64;
    let mut last = LAST.load(Ordering::SeqCst);
    loop {
        let version = wanted.max(last + 1);
        match LAST.compare_exchange(last, version, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return version,
            Err(seen) => last = seen,
        }
    }
}

pub fn rules(project: &ProjectSettings) -> SessionRules {
    SessionRules {
        timeout: project.session_timeout_s,
        max_length: project.max_session_length_s,
    }
}

/// True once the server clock has passed `D1 + T + lateness`.
pub fn is_final(window: &DayWindow, project: &ProjectSettings, now_ms: i64) -> bool {
    let final_at =
        window.end + i64::from(project.session_timeout_s) + i64::from(project.lateness_s);
    now_ms >= final_at * 1000
}

/// Computes and stores every figure of `day`, reading it in slices of users
/// as `slicing` says (each slice's sessions, DAU set and WAU/MAU part are
/// dealt with and dropped before the next is read).
pub async fn compute_day(
    client: &Client,
    project: &ProjectSettings,
    slicing: Slicing,
    day: NaiveDate,
    now_ms: i64,
) -> Result<DailyFiguresRow, StoreError> {
    let window = DayWindow::new(day, project.time_zone);
    let rules = rules(project);
    let version = next_version(now_ms);
    let day_num = day_number(day);
    let range = sessions::read_range(&window, rules);
    let slices = slicing.slices(client, &project.name, range).await?;

    let started = std::time::Instant::now();
    let mut accumulator = DayAccumulator::new(window, rules);
    if slicing.segments {
        accumulator = accumulator.with_segments(Keep {
            top: project.top_orgs,
            watched: project.watched_orgs.clone(),
        });
    }
    let (mut wau, mut mau) = (0, 0);
    for slice in 0..slices {
        let buckets = slice_buckets(slice, slices);
        let mut sessions = sessions::read(
            client,
            &project.name,
            range,
            buckets.clone(),
            slicing.segments,
        )?;
        while let Some(session) = sessions.next().await? {
            accumulator.add_session(
                session.user_id,
                session.bucket,
                &session.facts,
                session.values,
            );
        }
        drop(sessions);
        let active_users = accumulator.end_slice();
        insert_active_buckets(
            client,
            &project.name,
            day_num,
            buckets.clone(),
            &active_users,
            version,
        )
        .await?;
        let (slice_wau, slice_mau) =
            actives::rolling(client, &project.name, day, buckets, &active_users).await?;
        wau += slice_wau;
        mau += slice_mau;
    }
    let read_done = started.elapsed();
    let figures = accumulator.finish();
    let finish_done = started.elapsed();

    if let Some(dimensions) = &figures.segments {
        let (values, days) = segment_rows(
            &project.name,
            day_num,
            dimensions,
            figures.peak_users.value,
            version,
        );
        segments::insert(client, &values, &days).await?;
    }
    let stored = Stored { version, now_ms };
    let row = store_figures(client, project, &window, &figures, (wau, mau), stored).await?;
    tracing::debug!(
        %day,
        slices,
        slices_ms = read_done.as_millis() as u64,
        finish_ms = (finish_done - read_done).as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "computed day"
    );
    Ok(row)
}

/// How a computation's figures are stored: as `version`, taken when the
/// computation *started* (not when it stores), so that of two rounds that
/// overlap, the one that started later — the one that saw more events —
/// wins, whichever finishes last; and whether the day is final by `now_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub version: u64,
    pub now_ms: i64,
}

/// Stores a day's per-minute series and then its row of figures (with
/// `wau` and `mau` from the DAU sets).
pub async fn store_figures(
    client: &Client,
    project: &ProjectSettings,
    window: &DayWindow,
    figures: &DaySessionsFigures,
    (wau, mau): (u64, u64),
    Stored { version, now_ms }: Stored,
) -> Result<DailyFiguresRow, StoreError> {
    let day_num = day_number(window.day);
    let minutes: Vec<ConcurrencyMinuteRow> = figures
        .minutes
        .iter()
        .enumerate()
        .map(|(i, m)| ConcurrencyMinuteRow {
            project: project.name.clone(),
            day: day_num,
            minute_start: (window.start + 60 * i as i64) as u32,
            users: m.users,
            connections: m.connections,
            active_users: m.active_users,
            computed_ms: version,
        })
        .collect();
    insert_rows(client, "concurrency_minutes", &minutes).await?;

    let lengths = &figures.session_lengths;
    let quantile = |q: f64| {
        if lengths.is_empty() {
            0
        } else {
            lengths.value_at_quantile(q)
        }
    };
    let mut histogram = Vec::new();
    V2Serializer::new()
        .serialize(lengths, &mut histogram)
        .expect("serializing into memory cannot fail");
    let row = DailyFiguresRow {
        project: project.name.clone(),
        day: day_num,
        day_start: window.start as u32,
        day_seconds: window.len() as u32,
        dau: figures.dau,
        wau,
        mau,
        peak_users: figures.peak_users.value,
        peak_users_at: figures.peak_users.at as u32,
        peak_connections: figures.peak_connections.value,
        peak_connections_at: figures.peak_connections.at as u32,
        peak_active_users: figures.peak_active_users.value,
        peak_active_users_at: figures.peak_active_users.at as u32,
        acu: figures.acu,
        sessions: lengths.len(),
        session_p50_s: quantile(0.5),
        session_p90_s: quantile(0.9),
        session_p99_s: quantile(0.99),
        session_max_s: if lengths.is_empty() { 0 } else { lengths.max() },
        session_histogram: histogram,
        r#final: u8::from(is_final(window, project, now_ms)),
        computed_ms: version,
    };
    // Written last: a day's row appears only once its parts are stored.
    insert_rows(client, "daily_figures", std::slice::from_ref(&row)).await?;
    Ok(row)
}

/// The rows of a day's segments: every kept value, then each dimension's
/// totals (`coincident_peak` is the day's own peak of users).
fn segment_rows(
    project: &str,
    day: u16,
    dimensions: &[DimensionFigures],
    coincident_peak: u32,
    version: u64,
) -> (Vec<SegmentFiguresRow>, Vec<SegmentDayRow>) {
    let mut values = Vec::new();
    let mut days = Vec::new();
    for figures in dimensions {
        let dimension = figures.dimension.name().to_owned();
        for value in &figures.values {
            let minutes = |pick: fn(&MinuteMaxima) -> u32| value.minutes.iter().map(pick).collect();
            values.push(SegmentFiguresRow {
                project: project.to_owned(),
                day,
                dimension: dimension.clone(),
                value: value.value.to_string(),
                peak_users: value.peak_users.value,
                peak_users_at: value.peak_users.at as u32,
                peak_connections: value.peak_connections.value,
                peak_connections_at: value.peak_connections.at as u32,
                peak_active_users: value.peak_active_users.value,
                peak_active_users_at: value.peak_active_users.at as u32,
                dau: value.dau,
                acu: value.acu,
                minute_users: minutes(|m| m.users),
                minute_connections: minutes(|m| m.connections),
                minute_active_users: minutes(|m| m.active_users),
                computed_ms: version,
            });
        }
        days.push(SegmentDayRow {
            project: project.to_owned(),
            day,
            dimension,
            value_count: figures.value_count,
            summed_peak: figures.summed_peak,
            coincident_peak,
            computed_ms: version,
        });
    }
    (values, days)
}
