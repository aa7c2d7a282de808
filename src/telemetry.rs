//! Logging: `RUST_LOG` if set, else a default that suits the command; on
//! stderr, coloured only when it is a terminal (a file or a pipe gets plain
//! text), or as JSON lines with `HIGHWATER_LOG_FORMAT=json` for log
//! shippers.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::Command;

/// The variable that picks the log format: `text` (the default) or `json`.
pub const LOG_FORMAT_VAR: &str = "HIGHWATER_LOG_FORMAT";

pub fn init(command: &Command) {
    // Interactive commands print their own story; logs would drown it.
    let default = match command {
        Command::Serve(_) => "highwater=info,tower_http=warn",
        _ => "highwater=warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var(LOG_FORMAT_VAR).as_deref() {
        Ok("json") => logs.json().init(),
        format => {
            logs.with_ansi(std::io::stderr().is_terminal()).init();
            if let Ok(other) = format
                && other != "text"
            {
                tracing::warn!(
                    "{LOG_FORMAT_VAR}={other:?} is not a log format (text or json); writing text"
                );
            }
        }
    }
}
