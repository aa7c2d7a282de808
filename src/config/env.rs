//! Environment overrides of the configuration file (`HIGHWATER_LISTEN`,
//! `HIGHWATER_DATA_DIR`, `HIGHWATER_CLICKHOUSE_*`).

use anyhow::Context;

use super::Settings;

impl Settings {
    /// `lookup` is injected so tests need not touch the process environment.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(listen) = lookup("HIGHWATER_LISTEN") {
            self.listen = listen
                .parse()
                .with_context(|| format!("HIGHWATER_LISTEN={listen:?} is not host:port"))?;
        }
        if let Some(dir) = lookup("HIGHWATER_DATA_DIR") {
            self.data_dir = dir.into();
        }
        if let Some(url) = lookup("HIGHWATER_CLICKHOUSE_URL") {
            self.clickhouse.url = Some(url).filter(|u| !u.is_empty());
        }
        if let Some(user) = lookup("HIGHWATER_CLICKHOUSE_USER") {
            self.clickhouse.user = user;
        }
        if let Some(password) = lookup("HIGHWATER_CLICKHOUSE_PASSWORD") {
            self.clickhouse.password = password;
        }
        if let Some(database) = lookup("HIGHWATER_CLICKHOUSE_DATABASE") {
            self.clickhouse.database = database;
        }
        Ok(())
    }
}
