//! The data directory itself: whether it holds a store, which format the
//! store is in (the file `format`), and that no one but its owner can read
//! it.
//!
//! A store holds personal data, so its directory is 0700 and its files
//! 0600 whatever the umask of whoever runs jointly. A new store's directory
//! is made 0700 here; a store whose directory others can enter or read is
//! refused before anything in it is read or changed, with the `chmod` that
//! mends it (as PostgreSQL refuses its data directory). Inside a private
//! directory, anything still open to others (files an older version made
//! under umask 022, or copied in by hand) is made private at every open:
//! group and other lose every permission, as `chmod -R go-rwx` does.
//!
//! The format version says how the files are laid out, so a version of
//! jointly never misreads a directory a newer one wrote: it refuses it,
//! naming both versions.

use super::{LOG_FILE, StoreError, io_err};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The file that holds the store's format version: one line, a decimal
/// number.
pub const FORMAT_FILE: &str = "format";

/// The format this version writes, and the newest it reads.
///
/// 1. Record ids kept in sled (`i` + id); no `ids.idx`.
/// 2. Record ids in `ids.idx`; sled keeps the head, `s` and side tables.
///
/// Directories written before the version was recorded have no `format`
/// file; they are format 1 or 2, and are brought to 2 when opened.
pub const FORMAT: u32 = 2;

/// Permission bits for group and others: none may be set in a store.
const OPEN_TO_OTHERS: u32 = 0o077;

/// What a directory holds, as far as jointly is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contents {
    /// There is nothing at the path.
    Missing,
    /// An empty directory (a `lost+found` alone counts as empty: a
    /// filesystem mounted there).
    Empty,
    /// A store: the directory holds `records.log`.
    Store,
    /// Something else: a file, or a directory holding other things and no
    /// `records.log`.
    Other,
}

/// What `dir` holds. Changes nothing.
pub fn contents(dir: &Path) -> io::Result<Contents> {
    let meta = match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Contents::Missing),
        other => other?,
    };
    if !meta.is_dir() {
        return Ok(Contents::Other);
    }
    if dir.join(LOG_FILE).exists() {
        return Ok(Contents::Store);
    }
    for entry in fs::read_dir(dir)? {
        if entry?.file_name() != "lost+found" {
            return Ok(Contents::Other);
        }
    }
    Ok(Contents::Empty)
}

/// Before a store is opened: a store already there must be private (else
/// it is refused, changing nothing); a directory that holds none is made
/// private, created 0700 if it does not exist, for the store about to be
/// made in it.
pub fn prepare(dir: &Path) -> Result<(), StoreError> {
    let failed = || io_err(format!("cannot read {}", dir.display()));
    match contents(dir).map_err(failed())? {
        Contents::Store => {
            let mode = fs::metadata(dir).map_err(failed())?.permissions().mode();
            if mode & OPEN_TO_OTHERS != 0 {
                return Err(StoreError::Exposed {
                    dir: dir.to_path_buf(),
                    mode: mode & 0o7777,
                });
            }
            Ok(())
        }
        Contents::Missing => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(format!("cannot create {}", dir.display()))),
        Contents::Empty | Contents::Other if dir.is_dir() => private(dir).map(|_| ()),
        Contents::Empty | Contents::Other => Err(StoreError::Io {
            context: format!("cannot make a store in {}", dir.display()),
            source: io::Error::new(io::ErrorKind::NotADirectory, "it is not a directory"),
        }),
    }
}

/// Takes group and other permissions off `path` if it has any; says
/// whether it had.
fn private(path: &Path) -> Result<bool, StoreError> {
    let meta =
        fs::symlink_metadata(path).map_err(io_err(format!("cannot read {}", path.display())))?;
    let mode = meta.permissions().mode();
    if meta.file_type().is_symlink() || mode & OPEN_TO_OTHERS == 0 {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7700))
        .map_err(io_err(format!("cannot make {} private", path.display())))?;
    Ok(true)
}

/// What [`tighten`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tightened {
    /// Files and folders that others could read, made private.
    pub made_private: u64,
    /// Those that could not be (owned by another user): each with why.
    pub left_open: Vec<(PathBuf, String)>,
}

/// Makes everything inside `dir` private (group and other lose every
/// permission), without following symbolic links. Runs under the store's
/// lock. A file that cannot be changed is reported, not fatal: the
/// directory itself is private, so no one else can reach it.
pub fn tighten(dir: &Path) -> Result<Tightened, StoreError> {
    let mut done = Tightened::default();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries =
            fs::read_dir(&folder).map_err(io_err(format!("cannot read {}", folder.display())))?;
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            match private(&path) {
                Ok(changed) => done.made_private += u64::from(changed),
                // Gone since it was listed (sled tidies its own files).
                Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                Err(e) => done.left_open.push((path.clone(), e.to_string())),
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                folders.push(path);
            }
        }
    }
    Ok(done)
}

/// The format version recorded in `dir`: `None` for a directory written
/// before versions were recorded (or a new one). A newer version than
/// this one reads is refused, as is a `format` file that holds no version.
pub fn check_format(dir: &Path) -> Result<Option<u32>, StoreError> {
    let path = dir.join(FORMAT_FILE);
    let text = match fs::read_to_string(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        other => other.map_err(io_err(format!("cannot read {}", path.display())))?,
    };
    let found: u32 = text.trim_end().parse().map_err(|_| StoreError::BadFormat {
        path: path.clone(),
        text: text.trim_end().chars().take(40).collect(),
    })?;
    if found > FORMAT {
        return Err(StoreError::NewerFormat {
            dir: dir.to_path_buf(),
            found,
            reads: FORMAT,
        });
    }
    Ok(Some(found))
}

/// Records that `dir` is in this version's format, durably.
pub fn write_format(dir: &Path) -> Result<(), StoreError> {
    let path = dir.join(FORMAT_FILE);
    super::write_durably(&path, format!("{FORMAT}\n").as_bytes(), 0o600)
        .map_err(io_err(format!("cannot write {}", path.display())))
}

/// `path` as one word for a POSIX shell: bare when it holds only
/// characters a shell leaves alone, else in single quotes.
pub fn shell_word(path: &Path) -> String {
    let text = path.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@,=%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Ledger;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn what_a_directory_holds() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("d");
        assert_eq!(contents(&dir).unwrap(), Contents::Missing);
        fs::create_dir(&dir).unwrap();
        assert_eq!(contents(&dir).unwrap(), Contents::Empty);
        fs::create_dir(dir.join("lost+found")).unwrap();
        assert_eq!(contents(&dir).unwrap(), Contents::Empty);
        fs::write(dir.join("notes.txt"), "x").unwrap();
        assert_eq!(contents(&dir).unwrap(), Contents::Other);
        assert_eq!(contents(&dir.join("notes.txt")).unwrap(), Contents::Other);
        fs::write(dir.join(LOG_FILE), "").unwrap();
        assert_eq!(contents(&dir).unwrap(), Contents::Store);
    }

    /// Made under a loose umask, as a test process has it, a new store's
    /// directory is still 0700; opened again, what others could read
    /// inside is made private; a store whose own directory others can
    /// read is refused, naming the chmod, and nothing in it changes.
    #[test]
    fn a_store_is_private_and_one_others_can_read_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a").join("data");
        drop(Ledger::open(&dir).unwrap());
        assert_eq!(mode(&dir), 0o700);
        let loose = dir.join("people");
        fs::create_dir(&loose).unwrap();
        fs::write(loose.join("p.json"), "{}").unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(loose.join("p.json"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(dir.join(LOG_FILE), fs::Permissions::from_mode(0o640)).unwrap();
        let (_, report) = Ledger::open(&dir).unwrap();
        assert!(report.made_private >= 3, "{report:?}");
        assert_eq!(
            (
                mode(&loose),
                mode(&loose.join("p.json")),
                mode(&dir.join(LOG_FILE))
            ),
            (0o700, 0o600, 0o600)
        );

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(loose.join("p.json"), fs::Permissions::from_mode(0o644)).unwrap();
        let refused = Ledger::open(&dir).err().expect("refused").to_string();
        assert!(
            refused.contains(&format!("chmod -R go-rwx {}", dir.display()))
                && refused.contains("0755"),
            "{refused}"
        );
        assert_eq!(mode(&dir), 0o755, "the refusal changed nothing");
        assert_eq!(mode(&loose.join("p.json")), 0o644);
    }

    /// A directory a newer version wrote is refused with both versions,
    /// untouched; one written before versions were recorded is given this
    /// version's; a `format` that holds no number is refused.
    #[test]
    fn the_format_version_is_recorded_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Ledger::open(dir.path()).unwrap());
        let format = dir.path().join(FORMAT_FILE);
        assert_eq!(fs::read_to_string(&format).unwrap(), format!("{FORMAT}\n"));

        fs::remove_file(&format).unwrap();
        drop(Ledger::open(dir.path()).unwrap());
        assert_eq!(fs::read_to_string(&format).unwrap(), format!("{FORMAT}\n"));

        let newer = FORMAT + 1;
        fs::write(&format, format!("{newer}\n")).unwrap();
        let refused = Ledger::open(dir.path()).err().expect("refused").to_string();
        assert!(
            refused.contains(&format!("format {newer}"))
                && refused.contains(&format!("format {FORMAT}")),
            "{refused}"
        );
        assert_eq!(fs::read_to_string(&format).unwrap(), format!("{newer}\n"));

        fs::write(&format, "two\n").unwrap();
        let refused = Ledger::open(dir.path()).err().expect("refused").to_string();
        assert!(refused.contains("\"two\""), "{refused}");
    }

    #[test]
    fn paths_are_quoted_for_the_shell_when_they_need_it() {
        assert_eq!(
            shell_word(Path::new("/var/lib/jointly")),
            "/var/lib/jointly"
        );
        assert_eq!(shell_word(Path::new("/srv/my data")), "'/srv/my data'");
        assert_eq!(shell_word(Path::new("/srv/it's")), r"'/srv/it'\''s'");
    }
}
