//! The write-ahead log's metrics, read from its status at each scrape (no
//! second copy of its counters to keep in step).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::clock::Clock;
use crate::wal::WalMonitor;

#[derive(Debug)]
pub struct WalCollector {
    pub log: WalMonitor,
    pub clock: Arc<dyn Clock>,
}

fn write(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    metric: impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    let metric_encoder = encoder.encode_descriptor(name, help, unit, metric.metric_type())?;
    metric.encode(metric_encoder)
}

impl Collector for WalCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let status = self.log.status(self.clock.now_ms());
        let e = &mut encoder;
        write(
            e,
            "wal_backlog",
            "Bytes acknowledged to clients and not yet in ClickHouse",
            Some(&Unit::Bytes),
            ConstGauge::new(status.backlog_bytes as i64),
        )?;
        write(
            e,
            "wal_backlog_age",
            "Age of the oldest acknowledged event not yet in ClickHouse",
            Some(&Unit::Seconds),
            ConstGauge::new(status.backlog_age_s),
        )?;
        write(
            e,
            "wal_disk",
            "Bytes of the log on disk (its limit is wal.max_bytes)",
            Some(&Unit::Bytes),
            ConstGauge::new(status.disk_bytes as i64),
        )?;
        write(
            e,
            "wal_stalled",
            "1 while shipping to ClickHouse makes no progress (wal.stall_after_s)",
            None,
            ConstGauge::new(i64::from(status.stalled)),
        )?;
        write(
            e,
            "wal_shipped_rows",
            "Events inserted into ClickHouse by this process",
            None,
            ConstCounter::new(status.shipped_rows),
        )?;
        write(
            e,
            "wal_resent_rows",
            "Events inserted again after an insert without an answer in time (at most this many copies; figures are immune to them)",
            None,
            ConstCounter::new(status.resent_rows),
        )?;
        write(
            e,
            "wal_ship_failures",
            "Inserts ClickHouse did not take (retried, or set aside as dead letters)",
            None,
            ConstCounter::new(status.ship_failures),
        )?;
        write(
            e,
            "wal_dead_letter_records",
            "Batches set aside into dead-letter files by this process",
            None,
            ConstCounter::new(status.dead_letter_records),
        )?;
        write(
            e,
            "wal_dead_letter",
            "Bytes of every dead-letter file",
            Some(&Unit::Bytes),
            ConstGauge::new(status.dead_letter_bytes as i64),
        )
    }
}
