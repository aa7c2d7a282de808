//! Logging: `RUST_LOG` if set, else a default that suits the command.

use tracing_subscriber::EnvFilter;

use crate::cli::Command;

pub fn init(command: &Command) {
    // Interactive commands print their own story; logs would drown it.
    let default = match command {
        Command::Serve(_) => "highwater=info,tower_http=warn",
        _ => "highwater=warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
