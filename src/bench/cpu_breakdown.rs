//! Where a full-scale run's CPU went: CPU seconds per process, during
//! ingest and during the jobs (`bench fullscale`).

use super::process::cpu_seconds;
use crate::store::local_cluster::Layout;
use crate::store::local_server::LocalClickHouse;

/// CPU seconds used by each process by the end of ingest.
pub struct CpuAt {
    /// This process: the simulator, its HTTP client and the sampler.
    pub client: f64,
    pub serve: f64,
    /// Each ClickHouse server, in layout order.
    pub clickhouse: Vec<f64>,
}

pub fn clickhouse_cpu(servers: &[LocalClickHouse]) -> Vec<f64> {
    servers
        .iter()
        .map(|s| s.pid().and_then(cpu_seconds).unwrap_or(0.0))
        .collect()
}

/// CPU seconds per process and stage: where the day's time went.
pub fn print_cpu(ingest: &CpuAt, clickhouse_at_end: &[f64], jobs_run: f64, layout: Layout) {
    println!("CPU seconds (user + system) per process:");
    println!("{:<34} {:>10} {:>10}", "", "ingest", "jobs");
    println!(
        "{:<34} {:>10.1} {:>10}",
        "simulator + client + sampler", ingest.client, "-"
    );
    println!(
        "{:<34} {:>10.1} {:>10}",
        "highwater serve", ingest.serve, "-"
    );
    for (i, (at_ingest, at_end)) in ingest.clickhouse.iter().zip(clickhouse_at_end).enumerate() {
        println!(
            "{:<34} {at_ingest:>10.1} {:>10.1}",
            format!(
                "ClickHouse shard {} replica {}",
                i / layout.replicas + 1,
                i % layout.replicas + 1
            ),
            at_end - at_ingest
        );
    }
    println!("{:<34} {:>10} {jobs_run:>10.1}", "highwater jobs run", "-");
}
