//! Several embedded servers as one cluster of their own: `shards` of
//! `replicas` each, on free ports, every server with a directory of its
//! own ([`shard_dir`] by its index: shard after shard). With replicas, the
//! servers use the embedded ZooKeeper (`local_zookeeper`) and their tables
//! are replicated.

use std::path::Path;

use super::free_ports::free_ports;
use super::local_server::{
    EMBEDDED_CLUSTER, LocalClickHouse, LocalServerError, START_ATTEMPTS, ServerBinary, create_dir,
    shard_dir,
};
use super::server_config::{Ports, cluster_sections};

/// How many servers: shards of replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub shards: usize,
    pub replicas: usize,
}

impl Layout {
    pub fn servers(self) -> usize {
        self.shards * self.replicas
    }
}

/// Starts the servers of `layout` on `data_dir` as the cluster
/// [`EMBEDDED_CLUSTER`] (one server: a lone one, without a cluster), their
/// ZooKeeper on port `zookeeper` when there are replicas; retries with new
/// ports when another process takes one meanwhile.
pub async fn start(
    binary: &ServerBinary,
    data_dir: &Path,
    layout: Layout,
    zookeeper: Option<u16>,
) -> Result<Vec<LocalClickHouse>, LocalServerError> {
    start_servers(binary, data_dir, layout, zookeeper, false).await
}

/// [`start`], with every server keeping `system.query_log` and
/// `system.part_log`: for the benchmarks' breakdown of ClickHouse's work.
pub async fn start_accounted(
    binary: &ServerBinary,
    data_dir: &Path,
    layout: Layout,
    zookeeper: Option<u16>,
) -> Result<Vec<LocalClickHouse>, LocalServerError> {
    start_servers(binary, data_dir, layout, zookeeper, true).await
}

async fn start_servers(
    binary: &ServerBinary,
    data_dir: &Path,
    layout: Layout,
    zookeeper: Option<u16>,
    accounting: bool,
) -> Result<Vec<LocalClickHouse>, LocalServerError> {
    let count = layout.servers();
    let mut dirs = Vec::with_capacity(count);
    for index in 0..count {
        let dir = shard_dir(data_dir, index);
        for sub in ["data", "tmp", "log", "user_files", "format_schemas"] {
            create_dir(&dir.join(sub))?;
        }
        dirs.push(dir.canonicalize().map_err(|source| LocalServerError::Io {
            path: dir.clone(),
            source,
        })?);
    }
    let mut attempt = 0;
    'attempt: loop {
        attempt += 1;
        let ports: Vec<Ports> = free_ports(3 * count, &dirs[0])?
            .chunks(3)
            .map(|p| Ports {
                http: p[0],
                tcp: p[1],
                interserver: p[2],
            })
            .collect();
        let tcp: Vec<u16> = ports.iter().map(|p| p.tcp).collect();
        let mut servers = Vec::with_capacity(count);
        for (index, (dir, ports)) in dirs.iter().zip(&ports).enumerate() {
            let cluster = match count {
                1 => String::new(),
                _ => cluster_sections(EMBEDDED_CLUSTER, &tcp, layout.replicas, index, zookeeper),
            };
            match LocalClickHouse::start_once(binary, dir, *ports, &cluster, accounting).await {
                Ok(server) => servers.push(server),
                // Another process may grab a port between our probe and the bind.
                Err(LocalServerError::Exited { log_tail, .. })
                    if attempt < START_ATTEMPTS && log_tail.contains("Address already in use") =>
                {
                    tracing::warn!("a ClickHouse port was taken; retrying with new ports");
                    continue 'attempt;
                }
                Err(e) => return Err(e),
            }
        }
        return Ok(servers);
    }
}

// The usual ways to start servers, all through [`start`]: one server, or
// shards without replicas.
impl LocalClickHouse {
    /// Starts a server on `data_dir` (created if needed) and waits until it
    /// answers `/ping`.
    pub async fn start(data_dir: &Path) -> Result<Self, LocalServerError> {
        Self::start_with(&ServerBinary::find()?, data_dir).await
    }

    /// [`LocalClickHouse::start`] with a given binary.
    pub async fn start_with(
        binary: &ServerBinary,
        data_dir: &Path,
    ) -> Result<Self, LocalServerError> {
        let layout = Layout {
            shards: 1,
            replicas: 1,
        };
        let mut servers = start(binary, data_dir, layout, None).await?;
        Ok(servers.remove(0))
    }

    /// Starts `shards` servers on `data_dir` as the cluster
    /// [`EMBEDDED_CLUSTER`] (for one, a lone server without a cluster
    /// section). Server `i` keeps its data in `shard_dir(data_dir, i)`.
    pub async fn start_cluster(
        data_dir: &Path,
        shards: usize,
    ) -> Result<Vec<Self>, LocalServerError> {
        let layout = Layout {
            shards,
            replicas: 1,
        };
        start(&ServerBinary::find()?, data_dir, layout, None).await
    }
}
