//! Running a command and measuring it: wall time and peak RSS.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Wall time and peak resident set size of one finished child process.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub elapsed: Duration,
    pub peak_rss_bytes: u64,
}

/// Runs `command` to completion; fails if it exits unsuccessfully.
pub fn measure(mut command: std::process::Command) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let child = command
        .spawn()
        .context("cannot start the measured command")?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4, not Child::wait: it also reports the child's own peak RSS.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    if waited != pid {
        bail!("waiting for the measured command failed");
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("the measured command failed (wait status {status})");
    }
    Ok(Measured {
        elapsed,
        // ru_maxrss is in KiB on Linux.
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
    })
}

/// Peak resident set size (VmHWM) of a running process, in bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The median of some durations.
pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
