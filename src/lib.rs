//! # highwater
//!
//! Usage and exact peak-concurrency analytics: products send presence and
//! session events; highwater stores them in ClickHouse and computes how many
//! people use the product and how many are online at the same time.
//!
//! # Layout
//! - [`config`]: the one `Settings` struct, from `highwater.toml` + env.
//! - [`domain`]: events as clients send them, and their validation; the
//!   calendar (days, zones, ranges).
//! - [`api`]: the HTTP surface: ingest, the read API, the dashboard pages,
//!   access control, the router and the accept loop.
//! - [`figures`]: what highwater reports — days, concurrency, records,
//!   segments, online now — as the API and CLI show them, and the
//!   [`figures::source::FiguresSource`] the read paths take them from.
//! - [`wal`]: the write-ahead log: fsync before the 200, then shipped to
//!   ClickHouse; dead letters.
//! - [`jobs`]: events → sessions → per-second concurrency, DAU/WAU/MAU and
//!   session lengths, per day; the schedule `serve` runs.
//! - [`store`]: ClickHouse: client, migrations, RowBinary encoding, rows,
//!   figures tables, the embedded server.
//! - [`live`]: online now, at the current second, from the stored events;
//!   [`monitoring`]: Prometheus metrics at `/metrics`; [`alerts`]: webhooks.
//! - [`capacity`]: growth rates, the forecast of the daily peak and the
//!   headroom of a configured capacity.
//! - [`charts`]: the chart kinds, drawn onto any plotters area (PNG, SVG);
//!   [`dashboards`]: dashboard files, their data, report files, live page.
//! - [`simulate`]: scenarios → realistic events, calibrated to exact peaks,
//!   posted the way a good client does (`simulate::client`).
//! - [`instances`]: several instances acting as one: the leader's lease.
//! - [`startup`]: wires the parts into a running server.
//! - [`cli`], [`cmd`]: the command line, one file per command.
//! - [`bench`]: event generation and measurement for the benchmarks.
//! - [`clock`], [`telemetry`]: the injected clock; logging set-up.

pub mod alerts;
pub mod api;
pub mod bench;
pub mod capacity;
pub mod charts;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod dashboards;
pub mod domain;
pub(crate) mod figures;
pub(crate) mod instances;
pub mod jobs;
pub mod live;
pub(crate) mod monitoring;
pub mod simulate;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod wal;
