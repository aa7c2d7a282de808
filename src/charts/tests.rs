//! Tests of the chart kinds: every kind renders with its labels, empty ranges, record labels.

use super::data::{Day, Minute};
use super::*;
use chrono::NaiveDate;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Three weeks of March 2020 at full scale: the story's records.
pub fn march() -> Daily {
    let peaks = [
        9_500_000, 9_536_000, 9_571_000, 9_559_000, 9_354_000, 3_821_000, 1_606_000, 9_750_000,
        10_000_000, 9_950_000, 9_980_000, 9_900_000, 2_387_000, 1_686_000, 10_500_000, 10_722_000,
        10_944_000, 11_111_000, 11_047_000, 2_707_000, 1_945_000, 12_056_000, 12_278_000,
        12_500_000,
    ];
    let mut best = 0;
    let days = peaks
        .iter()
        .enumerate()
        .map(|(i, peak)| {
            let is_record = *peak > best;
            best = best.max(*peak);
            Day {
                day: date("2020-03-02") + chrono::Duration::days(i as i64),
                peak_users: *peak,
                peak_connections: peak * 104 / 100,
                dau: peak * 178 / 100,
                wau: peak * 2,
                mau: peak * 21 / 10,
                is_final: i < peaks.len() - 1,
                is_record,
            }
        })
        .collect();
    Daily {
        days,
        first_day: None,
    }
}

fn intraday() -> Intraday {
    let start = date("2020-03-25")
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    let curve = |m: i64, top: f64| {
        let hours = m as f64 / 60.0;
        (top * (-(hours - 15.75).powi(2) / 18.0).exp()) as u64
    };
    let minutes = |day_start: i64, top: f64| {
        (0..1440)
            .map(|m| Minute {
                at: day_start + m * 60,
                users: curve(m, top),
                active_users: curve(m, top) * 8 / 10,
            })
            .collect()
    };
    Intraday {
        day: date("2020-03-25"),
        zone: chrono_tz::UTC,
        minutes: minutes(start, 12_500.0),
        week_before: minutes(start - 7 * 86_400, 10_944.0),
        is_final: true,
    }
}

fn forecast_fixture() -> forecast::ForecastChart {
    let first = date("2020-03-01");
    let day = |i: i64| first + chrono::Duration::days(i);
    forecast::ForecastChart {
        actual: (0..31)
            .map(|i| (day(i), 9_000.0 + 120.0 * i as f64))
            .collect(),
        forecast: (31..59)
            .map(|i| {
                let v = 9_000.0 + 120.0 * i as f64;
                (day(i), v, v - 400.0, v + 400.0)
            })
            .collect(),
        usable: Some(14_400.0),
        crossing: Some(date("2020-04-20")),
        mape: Some(2.5),
        surges: vec![(
            "+25% in 15 days".into(),
            (0..29)
                .map(|d| (day(30 + d), 12_600.0 * 1.25f64.powf(d as f64 / 15.0)))
                .collect(),
        )],
    }
}

fn lengths() -> SessionLengths {
    let mut histogram = hdrhistogram::Histogram::<u64>::new(5).unwrap();
    for (seconds, count) in [(40, 500), (300, 2_000), (2_400, 800), (30_000, 1_200)] {
        histogram.record_n(seconds, count).unwrap();
    }
    SessionLengths { histogram }
}

/// March by country and by organisation: three countries and a tail.
fn segments(dimension: crate::domain::dimension::Dimension) -> SegmentHistory {
    let days = march()
        .days
        .iter()
        .map(|d| {
            let values: Vec<(String, u64)> = [
                ("US", 45),
                ("DE", 20),
                ("JP", 15),
                ("IN", 12),
                ("BR", 9),
                ("FR", 6),
                ("", 3),
            ]
            .iter()
            .map(|(v, share)| {
                (
                    crate::domain::dimension::label(v).to_owned(),
                    d.peak_users * share / 100,
                )
            })
            .collect();
            let summed = values.iter().map(|(_, p)| p).sum::<u64>() + d.peak_users / 10;
            segment_data::SegmentDay {
                day: d.day,
                summed,
                coincident: d.peak_users,
                values,
            }
        })
        .collect();
    SegmentHistory { dimension, days }
}

fn curves() -> SegmentCurves {
    let day = intraday();
    let total: Vec<u64> = day.minutes.iter().map(|m| m.users).collect();
    SegmentCurves {
        dimension: crate::domain::dimension::Dimension::Country,
        day: day.day,
        zone: day.zone,
        day_start: day.minutes[0].at,
        values: vec![
            ("US".into(), total.iter().map(|u| u * 6 / 10).collect()),
            ("DE".into(), total.iter().map(|u| u * 3 / 10).collect()),
        ],
        total,
    }
}

fn every_kind() -> Vec<(Chart, &'static str, Vec<&'static str>)> {
    let week = HourOfWeek::from_minutes(&intraday().minutes, chrono_tz::UTC);
    vec![
        (
            Chart::Peak(march()),
            "Peak concurrency",
            vec!["12.5M Mar 25", "10M", "Mar 2", "provisional"],
        ),
        (
            Chart::Actives(march()),
            "Active users",
            vec!["DAU", "MAU", "stickiness", "%"],
        ),
        (
            Chart::Intraday(intraday()),
            "Users online",
            vec!["peak 12.5k at 15:45", "2020-03-18", "local time (UTC)"],
        ),
        (
            Chart::SessionLengths(lengths()),
            "Session lengths",
            vec!["median 5m 00s", "&lt;1h", "4.5k sessions"],
        ),
        (
            Chart::HourOfWeek(Box::new(week)),
            "Hour of week",
            vec!["Wed", "15h", "darkest"],
        ),
        (
            Chart::Growth(march()),
            "Week over week",
            vec!["%", "Mar ", "same weekday"],
        ),
        (
            Chart::Compare(vec![
                ("slack".into(), march()),
                ("teams".into(), march().since(date("2020-03-16"))),
            ]),
            "Side by side",
            vec!["slack: peak users", "teams: peak users", "Mar "],
        ),
        (
            Chart::SegmentPeaks(segments(crate::domain::dimension::Dimension::Country)),
            "Peaks by segment",
            vec!["by country", "US", "BR", "other (their peaks summed)"],
        ),
        (
            Chart::SummedVsCoincident(segments(crate::domain::dimension::Dimension::Country)),
            "Summed vs coincident",
            vec!["diversity 1.20", "coincident: peak of the day", "summed"],
        ),
        (
            Chart::TopOrgs(segments(crate::domain::dimension::Dimension::Org)),
            "Largest organisations",
            vec!["record peak", "5,625,000", "Mar 25", "unknown"],
        ),
        (
            Chart::SegmentDay(curves()),
            "Online by country",
            // The title names the dimension: the caption adds only the day.
            vec![
                "Online by country — 2020-03-25",
                "US",
                "all users (coincident)",
            ],
        ),
        (
            Chart::Forecast(Box::new(forecast_fixture())),
            "Forecast",
            vec![
                "reaches capacity Apr 20",
                "usable capacity 14.4k",
                "backtest error 2.5%",
            ],
        ),
    ]
}

/// Width and height from a PNG's header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[test]
fn every_chart_kind_renders_to_png_and_svg_with_its_labels() {
    for (chart, title, texts) in every_kind() {
        let svg = svg(&chart, title, (900, 420)).unwrap();
        assert!(
            svg.contains(r#"width="900""#) && svg.contains(r#"height="420""#),
            "{title}"
        );
        assert!(svg.contains(title), "{title}: no title");
        for text in texts {
            assert!(svg.contains(text), "{title}: {text:?} missing");
        }
        let png = png(&chart, title, (640, 300)).unwrap();
        assert_eq!(png_size(&png), (640, 300), "{title}");
        // To look at them: HIGHWATER_CHART_DIR=/tmp/charts cargo test charts
        if let Some(dir) = std::env::var_os("HIGHWATER_CHART_DIR") {
            let big = super::png(&chart, title, (1000, 450)).unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(std::path::Path::new(&dir).join(format!("{title}.png")), big).unwrap();
        }
        assert!(
            png.len() > 3_000,
            "{title}: {} bytes, nearly empty",
            png.len()
        );
    }
}

#[test]
fn empty_ranges_give_a_no_data_chart() {
    let empty_day = Intraday {
        minutes: vec![],
        week_before: vec![],
        ..intraday()
    };
    let charts = [
        Chart::Peak(Daily::default()),
        Chart::Actives(Daily::default()),
        Chart::Intraday(empty_day),
        Chart::SessionLengths(SessionLengths {
            histogram: hdrhistogram::Histogram::new(5).unwrap(),
        }),
        Chart::HourOfWeek(Box::new(HourOfWeek::from_minutes(&[], chrono_tz::UTC))),
        Chart::Growth(Daily::default()),
        Chart::Forecast(Box::default()),
        Chart::Compare(vec![("a".into(), Daily::default())]),
        Chart::SegmentPeaks(SegmentHistory {
            dimension: crate::domain::dimension::Dimension::Country,
            days: vec![],
        }),
        Chart::SummedVsCoincident(SegmentHistory {
            dimension: crate::domain::dimension::Dimension::Country,
            days: vec![],
        }),
        Chart::TopOrgs(SegmentHistory {
            dimension: crate::domain::dimension::Dimension::Org,
            days: vec![],
        }),
        Chart::SegmentDay(SegmentCurves {
            total: vec![],
            values: vec![],
            ..curves()
        }),
    ];
    for chart in charts {
        let svg = svg(&chart, "Empty", (600, 300)).unwrap();
        assert!(
            svg.contains("No ") || svg.contains("Needs ") || svg.contains("needs two weeks"),
            "{svg}"
        );
        png(&chart, "Empty", (600, 300)).unwrap();
    }
}

#[test]
fn record_labels_that_would_collide_are_thinned_but_the_latest_stays() {
    let svg = svg(&Chart::Peak(march()), "Peak", (500, 300)).unwrap();
    assert!(svg.contains("12.5M Mar 25"));
    let labels = svg.matches(" Mar ").count();
    let records = march().days.iter().filter(|d| d.is_record).count();
    assert!(
        labels < records + 12,
        "{labels} labels for {records} records"
    );
}
