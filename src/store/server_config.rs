//! The configuration files of the embedded ClickHouse: its server config
//! (ports, directories, logs) and its one user, local connections only.

use std::path::Path;

/// `<yandex>` is the root both 18.16 and current releases accept.
/// `remote_servers`: the `<remote_servers>` section of a cluster, or empty.
pub fn server_config(dir: &Path, http_port: u16, tcp_port: u16, remote_servers: &str) -> String {
    let dir = dir.display();
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
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  {remote_servers}
</yandex>
"#
    )
}

pub const USERS_XML: &str = r#"<yandex>
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

/// The `<remote_servers>` section naming cluster `name`: one shard per TCP
/// port, each a single replica on this machine (no ZooKeeper, no
/// replication: `internal_replication` false, as for plain MergeTree).
pub fn remote_servers(name: &str, tcp_ports: &[u16]) -> String {
    let shards: String = tcp_ports
        .iter()
        .map(|port| {
            format!(
                "<shard><internal_replication>false</internal_replication>\
                 <replica><host>127.0.0.1</host><port>{port}</port></replica></shard>"
            )
        })
        .collect();
    format!("<remote_servers><{name}>{shards}</{name}></remote_servers>")
}
