//! A FUSE filesystem that forgets, at a "power cut", everything that was not
//! made durable — the strict POSIX model of Jepsen's lazyfs: writes,
//! truncates, creates, mkdirs, renames and unlinks change a volatile view;
//! `fsync(file)` makes that file's data durable, `fsync(dir)` that
//! directory's entries (new names, renames, unlinks); [`StrictFs::cut`]
//! replaces the volatile view with the durable one.
//!
//! Served from this test process (fuser, mounted directly: the tests run
//! as root), with `direct_io` and zero attribute and entry timeouts so that
//! the kernel's caches cannot hide a cut. Kill every writer before cutting.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

/// Nothing is cached by the kernel.
const TTL: Duration = Duration::ZERO;

#[derive(Debug, Clone)]
enum Content {
    File {
        data: Vec<u8>,
        durable: Vec<u8>,
    },
    Dir {
        entries: BTreeMap<OsString, u64>,
        durable: BTreeMap<OsString, u64>,
    },
}

#[derive(Debug, Default)]
struct Tree {
    nodes: HashMap<u64, Content>,
    next_ino: u64,
}

/// The filesystem; clones share it (one is mounted, the test keeps one to
/// cut the power).
#[derive(Debug, Clone)]
pub struct StrictFs(Arc<Mutex<Tree>>);

/// A mounted [`StrictFs`], unmounted on drop.
pub struct Mounted {
    pub fs: StrictFs,
    _session: fuser::BackgroundSession,
}

impl StrictFs {
    /// Mounts an empty filesystem on `at`, or says why it cannot (no
    /// `/dev/fuse`, not allowed to mount).
    pub fn mount(at: &Path) -> std::io::Result<Mounted> {
        if !Path::new("/dev/fuse").exists() {
            return Err(std::io::Error::other("/dev/fuse is absent"));
        }
        std::fs::create_dir_all(at)?;
        let mut nodes = HashMap::new();
        nodes.insert(
            1,
            Content::Dir {
                entries: BTreeMap::new(),
                durable: BTreeMap::new(),
            },
        );
        let fs = StrictFs(Arc::new(Mutex::new(Tree { nodes, next_ino: 2 })));
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("highwater-strict".into()),
            MountOption::CUSTOM("default_permissions".into()),
        ];
        let session = fuser::spawn_mount2(fs.clone(), at, &config)?;
        Ok(Mounted {
            fs,
            _session: session,
        })
    }

    /// The power cut: every file's data and every directory's entries go
    /// back to what was last made durable; what no durable entry reaches
    /// is gone. Returns the bytes of file data that were lost.
    pub fn cut(&self) -> u64 {
        let mut tree = self.0.lock().unwrap();
        let mut lost = 0u64;
        for content in tree.nodes.values_mut() {
            match content {
                Content::File { data, durable } => {
                    lost += data.len().abs_diff(durable.len()) as u64;
                    *data = durable.clone();
                }
                Content::Dir { entries, durable } => *entries = durable.clone(),
            }
        }
        // Keep what the root still reaches.
        let mut reached = vec![1u64];
        let mut keep = std::collections::HashSet::new();
        while let Some(ino) = reached.pop() {
            if keep.insert(ino)
                && let Some(Content::Dir { entries, .. }) = tree.nodes.get(&ino)
            {
                reached.extend(entries.values());
            }
        }
        tree.nodes.retain(|ino, _| keep.contains(ino));
        lost
    }
}

impl Tree {
    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let (kind, size, perm) = match self.nodes.get(&ino)? {
            Content::File { data, .. } => (FileType::RegularFile, data.len() as u64, 0o644),
            Content::Dir { .. } => (FileType::Directory, 0, 0o755),
        };
        let now = SystemTime::now();
        Some(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: now,
            mtime: now,
            ctime: now,
            crtime: now,
            kind,
            perm,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn entries_mut(&mut self, dir: u64) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match self.nodes.get_mut(&dir) {
            Some(Content::Dir { entries, .. }) => Ok(entries),
            Some(_) => Err(Errno::ENOTDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn child(&mut self, dir: u64, name: &OsStr) -> Result<u64, Errno> {
        self.entries_mut(dir)?
            .get(name)
            .copied()
            .ok_or(Errno::ENOENT)
    }

    fn add(&mut self, dir: u64, name: &OsStr, content: Content) -> Result<FileAttr, Errno> {
        if self.entries_mut(dir)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, content);
        self.entries_mut(dir)?.insert(name.to_owned(), ino);
        Ok(self.attr(ino).expect("just added"))
    }

    /// fsync: a file's data, or a directory's entries, as they are now.
    fn make_durable(&mut self, ino: u64) {
        match self.nodes.get_mut(&ino) {
            Some(Content::File { data, durable }) => *durable = data.clone(),
            Some(Content::Dir { entries, durable }) => *durable = entries.clone(),
            None => {}
        }
    }

    fn data_mut(&mut self, ino: u64) -> Result<&mut Vec<u8>, Errno> {
        match self.nodes.get_mut(&ino) {
            Some(Content::File { data, .. }) => Ok(data),
            Some(_) => Err(Errno::EISDIR),
            None => Err(Errno::ENOENT),
        }
    }
}

fn empty_file() -> Content {
    Content::File {
        data: Vec::new(),
        durable: Vec::new(),
    }
}

/// Opened files bypass the page cache, so every read and write reaches us.
fn direct() -> FopenFlags {
    FopenFlags::FOPEN_DIRECT_IO
}

impl Filesystem for StrictFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut tree = self.0.lock().unwrap();
        match tree.child(parent.0, name) {
            Ok(ino) => reply.entry(&TTL, &tree.attr(ino).expect("linked"), Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.0.lock().unwrap().attr(ino.0) {
            Some(attr) => reply.attr(&TTL, &attr),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut tree = self.0.lock().unwrap();
        if let Some(size) = size {
            match tree.data_mut(ino.0) {
                Ok(data) => data.resize(size as usize, 0),
                Err(e) => return reply.error(e),
            }
        }
        match tree.attr(ino.0) {
            Some(attr) => reply.attr(&TTL, &attr),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let dir = Content::Dir {
            entries: BTreeMap::new(),
            durable: BTreeMap::new(),
        };
        match self.0.lock().unwrap().add(parent.0, name, dir) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        match self.0.lock().unwrap().add(parent.0, name, empty_file()) {
            Ok(attr) => reply.created(&TTL, &attr, Generation(0), FileHandle(0), direct()),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut tree = self.0.lock().unwrap();
        match tree.entries_mut(parent.0).map(|e| e.remove(name)) {
            Ok(Some(_)) => reply.ok(),
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.unlink(req, parent, name, reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut tree = self.0.lock().unwrap();
        let moved = tree
            .entries_mut(parent.0)
            .and_then(|e| e.remove(name).ok_or(Errno::ENOENT))
            .and_then(|ino| {
                tree.entries_mut(newparent.0)
                    .map(|e| e.insert(newname.to_owned(), ino))
            });
        match moved {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut tree = self.0.lock().unwrap();
        if flags.0 & libc::O_TRUNC != 0
            && let Ok(data) = tree.data_mut(ino.0)
        {
            data.clear();
        }
        match tree.nodes.contains_key(&ino.0) {
            true => reply.opened(FileHandle(0), direct()),
            false => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut tree = self.0.lock().unwrap();
        match tree.data_mut(ino.0) {
            Ok(data) => {
                let from = (offset as usize).min(data.len());
                let to = (from + size as usize).min(data.len());
                reply.data(&data[from..to]);
            }
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        written: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut tree = self.0.lock().unwrap();
        match tree.data_mut(ino.0) {
            Ok(data) => {
                let at = if flags.0 & libc::O_APPEND != 0 {
                    data.len()
                } else {
                    offset as usize
                };
                if data.len() < at + written.len() {
                    data.resize(at + written.len(), 0);
                }
                data[at..at + written.len()].copy_from_slice(written);
                reply.written(written.len() as u32);
            }
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.0.lock().unwrap().make_durable(ino.0);
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let tree = self.0.lock().unwrap();
        let Some(Content::Dir { entries, .. }) = tree.nodes.get(&ino.0) else {
            return reply.error(Errno::ENOTDIR);
        };
        let listed = [(ino.0, OsString::from(".")), (1, OsString::from(".."))]
            .into_iter()
            .chain(entries.iter().map(|(name, ino)| (*ino, name.clone())));
        for (i, (child, name)) in listed.enumerate().skip(offset as usize) {
            let kind = match tree.nodes.get(&child) {
                Some(Content::File { .. }) => FileType::RegularFile,
                _ => FileType::Directory,
            };
            if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.0.lock().unwrap().make_durable(ino.0);
        reply.ok();
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }
}
