//! Ports for the servers highwater starts (ClickHouse, ZooKeeper).
//!
//! They are chosen below the kernel's ephemeral range, so that no outgoing
//! connection — ours or another process's — takes one between the choice
//! and the server's bind, or while a killed server is away before its
//! restart on the same ports. And all the ports of one start are held
//! until the last is chosen, so that no two of them are the same.

use std::net::TcpListener;
use std::path::Path;

use rand::RngExt;

use super::local_server::LocalServerError;

/// The lowest port tried: above the well-known and most registered ones.
const LOWEST: u16 = 10_000;
/// Random tries before falling back to ports the kernel picks.
const TRIES: usize = 1_000;

/// `count` distinct ports free on 127.0.0.1 now (`dir` names the server
/// in errors).
pub(super) fn free_ports(count: usize, dir: &Path) -> Result<Vec<u16>, LocalServerError> {
    let highest = ephemeral_start().unwrap_or(32_768);
    let mut rng = rand::rng();
    let mut held: Vec<TcpListener> = Vec::with_capacity(count);
    for _ in 0..TRIES {
        if held.len() == count || highest <= LOWEST {
            break;
        }
        // A port taken (or held by us already) fails to bind: try another.
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", rng.random_range(LOWEST..highest))) {
            held.push(listener);
        }
    }
    while held.len() < count {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| LocalServerError::Io {
            path: dir.to_owned(),
            source,
        })?;
        held.push(listener);
    }
    held.iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|source| LocalServerError::Io {
            path: dir.to_owned(),
            source,
        })
}

/// The first port of the kernel's ephemeral range (Linux).
fn ephemeral_start() -> Option<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_of_one_start_are_distinct_free_and_outside_the_ephemeral_range() {
        let ports = free_ports(24, Path::new("/tmp")).unwrap();
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), 24, "{ports:?}");
        let highest = ephemeral_start().unwrap_or(32_768);
        assert!(
            ports.iter().all(|p| (LOWEST..highest).contains(p)),
            "{ports:?}"
        );
        for port in ports {
            TcpListener::bind(("127.0.0.1", port)).expect("released, free to bind");
        }
    }
}
