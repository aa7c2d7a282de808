//! The configuration files of the embedded ClickHouse: its server config
//! (ports, directories, logs) and its one user, local connections only.

use std::path::Path;

/// `<yandex>` is the root both 18.16 and current releases accept.
/// `cluster`: the sections that make the server part of a cluster
/// ([`cluster_sections`]), or empty. `accounting`: keep `system.query_log`
/// and `system.part_log` (with [`users_xml`]`(true)`), for the benchmarks'
/// breakdown of ClickHouse's work; off by default, as 18.16 cannot expire
/// their rows.
pub fn server_config(dir: &Path, ports: Ports, cluster: &str, accounting: bool) -> String {
    let greeting = greeting(dir);
    let accounting = if accounting { ACCOUNTING } else { "" };
    let dir = dir.display();
    let Ports {
        http: http_port,
        tcp: tcp_port,
        interserver: interserver_port,
    } = ports;
    format!(
        r#"<yandex>
  <logger>
    <level>information</level>
    <log>{dir}/log/clickhouse-server.log</log>
    <errorlog>{dir}/log/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>{interserver_port}</interserver_http_port>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <http_server_default_response><![CDATA[{greeting}]]></http_server_default_response>
  <max_concurrent_queries>100</max_concurrent_queries>
  {cluster}
  {accounting}
</yandex>
"#
    )
}

/// What the server on `dir` answers to `GET /`: proof that a port answers
/// for this server, not for another that holds the same port (the
/// interserver port of another answers `/ping` too).
pub fn greeting(dir: &Path) -> String {
    format!("highwater ClickHouse on {}", dir.display())
}

/// The logs of what the server did: every query (with its CPU time in
/// `ProfileEvents`) and every part written, merged or fetched.
const ACCOUNTING: &str = "<query_log><database>system</database><table>query_log</table>\
     <flush_interval_milliseconds>7500</flush_interval_milliseconds></query_log>\
     <part_log><database>system</database><table>part_log</table>\
     <flush_interval_milliseconds>7500</flush_interval_milliseconds></part_log>";

/// The one user; `log_queries`: every query goes to `system.query_log`.
pub fn users_xml(log_queries: bool) -> String {
    let profile = if log_queries {
        "<log_queries>1</log_queries>"
    } else {
        ""
    };
    USERS_XML.replace(
        "<default></default>",
        &format!("<default>{profile}</default>"),
    )
}

const USERS_XML: &str = r#"<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
"#;

/// The ports one server listens on.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub http: u16,
    pub tcp: u16,
    /// Where replicas fetch parts from each other.
    pub interserver: u16,
}

/// The sections that make server `index` part of cluster `name`, whose
/// servers listen on `tcp_ports` (shard after shard, `replicas` each):
/// `<remote_servers>`, and with replicas also ZooKeeper on `zookeeper`,
/// the server's `{shard}` and `{replica}` macros, and the queue of
/// `ON CLUSTER` DDL. Without replicas: no ZooKeeper, no replication
/// (`internal_replication` false, as for plain MergeTree).
pub fn cluster_sections(
    name: &str,
    tcp_ports: &[u16],
    replicas: usize,
    index: usize,
    zookeeper: Option<u16>,
) -> String {
    let replicated = replicas > 1;
    let shards: String = tcp_ports
        .chunks(replicas)
        .map(|shard| {
            let servers: String = shard
                .iter()
                .map(|port| format!("<replica><host>127.0.0.1</host><port>{port}</port></replica>"))
                .collect();
            format!(
                "<shard><internal_replication>{replicated}</internal_replication>{servers}</shard>"
            )
        })
        .collect();
    let mut sections = format!("<remote_servers><{name}>{shards}</{name}></remote_servers>");
    if let Some(port) = zookeeper.filter(|_| replicated) {
        let (shard, replica) = (index / replicas + 1, index % replicas + 1);
        sections.push_str(&format!(
            "\n  <zookeeper><node><host>127.0.0.1</host><port>{port}</port></node></zookeeper>\
             \n  <macros><shard>{shard:02}</shard><replica>r{replica}</replica></macros>\
             \n  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>"
        ));
    }
    sections
}
