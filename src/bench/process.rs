//! Running a command and measuring it: wall time, CPU time and peak RSS;
//! the CPU time and peak RSS of processes still running (from `/proc`).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Wall time, CPU time and peak resident set size of one finished child
/// process.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub elapsed: Duration,
    /// User + system CPU seconds.
    pub cpu_seconds: f64,
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
        cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        // ru_maxrss is in KiB on Linux.
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
    })
}

fn seconds(time: libc::timeval) -> f64 {
    time.tv_sec as f64 + time.tv_usec as f64 / 1e6
}

/// User + system CPU seconds a running process has used so far (its
/// threads included; `/proc/PID/stat` fields 14 and 15, in clock ticks).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks as f64 / per_second as f64)
}

/// CPU seconds this process has used so far.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_grow_with_work_done_and_not_faster_than_the_clock() {
        let before = own_cpu_seconds();
        let started = Instant::now();
        let mut x = 0u64;
        // Spin until the count moves by 0.1 s (however loaded the machine).
        while own_cpu_seconds() - before < 0.1 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "CPU time never grew"
            );
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        let used = own_cpu_seconds() - before;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        assert!(
            used <= started.elapsed().as_secs_f64() * cores + 0.05,
            "{used} CPU s in {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_measured_child_reports_its_cpu_time() {
        let mut spin = std::process::Command::new("sh");
        spin.args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]);
        let measured = measure(spin).unwrap();
        assert!(measured.cpu_seconds > 0.0, "{measured:?}");
        assert!(
            measured.cpu_seconds <= measured.elapsed.as_secs_f64() * 2.0 + 0.05,
            "{measured:?}"
        );
    }
}
