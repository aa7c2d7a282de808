//! The log's directory: numbered segment files, the checkpoint that says how
//! far they have been shipped, and the lock that keeps a second highwater
//! from writing into the same log.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::record::SEGMENT_MAGIC;

/// Where shipping stands: everything before `offset` in segment `segment`
/// (and every earlier segment) is in ClickHouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// Size of the segment header; the first record starts here.
pub const FIRST_OFFSET: u64 = SEGMENT_MAGIC.len() as u64;

const LOCK: &str = "lock";
/// Written (durably) by a clean stop: the boot of the machine it stopped in.
const STOPPED: &str = "stopped";

pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.wal"))
}

/// The ids of the segment files in `dir`, ascending.
pub fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(id) = name
            .strip_suffix(".wal")
            .and_then(|stem| stem.parse::<u64>().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Creates segment `id` with its header, durably (file and directory entry).
/// On failure (a full disk, say) the file is removed again: left behind, it
/// would make every later attempt at this id fail with "file exists".
pub fn create_segment(dir: &Path, id: u64) -> io::Result<File> {
    let path = segment_path(dir, id);
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .read(true)
        .open(&path)?;
    let written = file
        .write_all(SEGMENT_MAGIC)
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_dir(dir));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(file)
}

/// Checks the header of an existing segment; returns its length.
pub fn check_segment(dir: &Path, id: u64) -> io::Result<u64> {
    let path = segment_path(dir, id);
    let mut head = [0u8; SEGMENT_MAGIC.len()];
    let file = File::open(&path)?;
    let len = file.metadata()?.len();
    if len < FIRST_OFFSET {
        // Created but its header never reached the disk: holds nothing.
        return Ok(0);
    }
    std::os::unix::fs::FileExt::read_exact_at(&file, &mut head, 0)?;
    if &head != SEGMENT_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a highwater log segment of this version",
                path.display()
            ),
        ));
    }
    Ok(len)
}

/// Makes renames and new files in `dir` survive a power loss.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The shipping position made durable (fsynced) on a cadence...
const CHECKPOINT: &str = "shipped";
/// ...and the latest one, written at every move but never fsynced: after a
/// power cut it may be gone, empty or cut short, so it only ever counts
/// when it is ahead of the durable one. (Renaming it over the durable file
/// would be wrong: any fsync of the directory — a new segment's, say —
/// would make that rename durable before the data it names.)
const LATEST: &str = "shipped.latest";

/// The last saved shipping position, if any: the further of the two
/// checkpoint files. A durable checkpoint that is damaged counts as none:
/// shipping starts again from the first segment, which sends some rows
/// twice — harmless to every figure (docs/design.md) — where refusing to
/// start would stop ingest.
pub fn read_checkpoint(dir: &Path) -> io::Result<Option<Position>> {
    let durable = read_position(&dir.join(CHECKPOINT))?;
    if durable == Some(None) {
        tracing::warn!(path = %dir.join(CHECKPOINT).display(), "the shipping checkpoint is damaged; shipping the log again from its first segment");
    }
    let latest = read_position(&dir.join(LATEST))?;
    Ok(durable.flatten().max(latest.flatten()))
}

/// The position in `path`: `None` if there is no such file, `Some(None)`
/// if it does not hold one.
fn read_position(path: &Path) -> io::Result<Option<Option<Position>>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut parts = text.split_whitespace().map(str::parse::<u64>);
    Ok(Some(match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(segment)), Some(Ok(offset)), None) if text.ends_with('\n') => {
            Some(Position { segment, offset })
        }
        _ => None,
    }))
}

/// Saves the shipping position (write, then rename: never half a file).
/// `durable`: into the durable checkpoint, the file fsynced before the
/// rename and the directory after it, so a power cut keeps it (see
/// `checkpoint` for when); otherwise into the latest one, not fsynced.
pub fn write_checkpoint(dir: &Path, at: Position, durable: bool) -> io::Result<()> {
    let name = if durable { CHECKPOINT } else { LATEST };
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(format!("{} {}\n", at.segment, at.offset).as_bytes())?;
    if durable {
        file.sync_all()?;
    }
    drop(file);
    std::fs::rename(tmp, dir.join(name))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Creates `dir` and any missing parents so that a power cut keeps them:
/// each new directory's entry is fsynced in its parent.
pub fn create_dir_durably(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    std::fs::create_dir_all(dir)?;
    for created in missing.iter().rev() {
        if let Some(parent) = created.parent() {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Records a clean stop under this boot of the machine (`boot_id`).
pub fn write_stop_mark(dir: &Path, boot_id: &str) -> io::Result<()> {
    let mut file = File::create(dir.join(STOPPED))?;
    file.write_all(boot_id.as_bytes())?;
    file.sync_all()?;
    sync_dir(dir)
}

/// Whether the last run stopped cleanly under this boot (`boot_id`), as
/// its mark says; the mark is removed (durably), so that a crash of this
/// run is seen as one.
pub fn take_stop_mark(dir: &Path, boot_id: &str) -> io::Result<bool> {
    let path = dir.join(STOPPED);
    let mark = match std::fs::read_to_string(&path) {
        Ok(mark) => mark,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    std::fs::remove_file(&path)?;
    sync_dir(dir)?;
    Ok(!boot_id.is_empty() && mark.trim() == boot_id)
}

/// An exclusive lock on the directory for as long as the value lives (the
/// kernel drops it when the process dies, even by `kill -9`).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

pub fn lock_dir(dir: &Path) -> io::Result<DirLock> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK))?;
    // SAFETY: flock on a descriptor we own.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked != 0 {
        return Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("another highwater is using the log in {}", dir.display()),
        ));
    }
    Ok(DirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_list_in_order_and_the_checkpoint_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        for id in [10, 2, 7] {
            create_segment(dir.path(), id).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), [2, 7, 10]);
        assert_eq!(check_segment(dir.path(), 7).unwrap(), FIRST_OFFSET);

        assert_eq!(read_checkpoint(dir.path()).unwrap(), None);
        let at = Position {
            segment: 7,
            offset: 1234,
        };
        write_checkpoint(dir.path(), at, true).unwrap();
        assert_eq!(read_checkpoint(dir.path()).unwrap(), Some(at));
    }

    #[test]
    fn missing_parents_are_created_too() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("data/highwater/wal");
        create_dir_durably(&log).unwrap();
        assert!(log.is_dir());
        // Existing directories are fine.
        create_dir_durably(&log).unwrap();
    }

    #[test]
    fn an_empty_or_damaged_checkpoint_counts_as_none() {
        let dir = tempfile::tempdir().unwrap();
        for damage in [&b""[..], b"7", b"7 x\n", b"\0\0\0\0", b"7 12 99\n", b"7 12"] {
            for file in [CHECKPOINT, LATEST] {
                std::fs::write(dir.path().join(file), damage).unwrap();
            }
            assert_eq!(read_checkpoint(dir.path()).unwrap(), None, "{damage:?}");
        }
    }

    #[test]
    fn the_further_of_the_durable_and_the_latest_checkpoint_counts() {
        let dir = tempfile::tempdir().unwrap();
        let (earlier, later) = (
            Position {
                segment: 3,
                offset: 90,
            },
            Position {
                segment: 4,
                offset: 8,
            },
        );
        write_checkpoint(dir.path(), earlier, true).unwrap();
        write_checkpoint(dir.path(), later, false).unwrap();
        assert_eq!(read_checkpoint(dir.path()).unwrap(), Some(later));
        // A power cut left the latest one empty: the durable one counts.
        std::fs::write(dir.path().join(LATEST), b"").unwrap();
        assert_eq!(read_checkpoint(dir.path()).unwrap(), Some(earlier));
        // Or cut short: never further than it was.
        std::fs::write(dir.path().join(LATEST), b"4 8").unwrap();
        assert_eq!(read_checkpoint(dir.path()).unwrap(), Some(earlier));
    }

    #[test]
    fn a_foreign_file_is_not_taken_for_a_segment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(segment_path(dir.path(), 1), b"something else").unwrap();
        let e = check_segment(dir.path(), 1).unwrap_err();
        assert!(e.to_string().contains("not a highwater log segment"), "{e}");
    }

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_dir(dir.path()).unwrap();
        let e = lock_dir(dir.path()).unwrap_err();
        assert!(e.to_string().contains("another highwater"), "{e}");
        drop(first);
        lock_dir(dir.path()).unwrap();
    }
}
