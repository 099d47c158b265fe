//! Looping in parallel, from *The Go Programming Language*, section 8.5
//! (gopl.io/ch8/thumbnail, `makeThumbnails5` and `makeThumbnails6`),
//! ported to gort: hash every file under a directory, one goroutine per
//! file.
//!
//! The book makes a thumbnail of each image; this program hashes each
//! file, which needs no image library. Each file is independent of the
//! others, so the loop over the files starts a goroutine per file, and the
//! main goroutine collects what they send. It shows:
//!
//! - a `gort::sync::WaitGroup` counting the goroutines still at work:
//!   `add(1)` before each `go!`, `done()` when one ends;
//! - the closer: a goroutine that waits on the `WaitGroup` and then closes
//!   the channels, so that the main goroutine knows when every worker has
//!   finished. The main goroutine cannot wait itself: it must receive at
//!   the same time, or the workers would block in their sends;
//! - a results channel and an errors channel, received in one `select!`
//!   loop; once a channel is closed its arm is switched off by setting the
//!   channel to `Chan::nil()`, which is never ready.
//!
//! It prints one line per file, in the order the hashes finish: the file's
//! FNV-1a 64-bit hash, its size in bytes and its path under the directory.
//! The last line is the number of files and their total size:
//!
//! ```text
//! af63dc4c8601ec8c           1  a.txt
//! 85944171f73967e8           6  sub/b.txt
//! 2 files  7 bytes
//! ```
//!
//! ```text
//! cargo run --release --example parallel -- src
//! ```
//!
//! The reads are blocking system calls made on goroutines, as in Go. In
//! gort they block the worker thread for the time of the call (gort has
//! no monitor thread yet to hand the other goroutines to a spare thread),
//! so with many slow disks or network file systems give the runtime more
//! workers (`GORT_WORKERS`).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use gort::prelude::*;
use gort::sync::WaitGroup;

#[path = "support/run_main.rs"]
mod support;
use support::run_main;

#[allow(dead_code)] // tests/examples.rs includes this file as a module and calls `run`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args, &mut io::stdout())
}

/// Runs the program. `args` is `[DIR]`: the directory whose files to
/// hash (`.` if absent).
pub fn run(args: &[String], out: &mut dyn Write) -> io::Result<()> {
    let root = PathBuf::from(args.first().map_or(".", String::as_str));
    run_main(out, move |stdout| hash_tree(&root, &stdout))
}

/// A file that was hashed.
struct Hashed {
    path: PathBuf,
    bytes: u64,
    hash: u64,
}

/// Hashes every file under `root`, a goroutine per file, and prints the
/// hashes and the total.
fn hash_tree(root: &Path, stdout: &Sender<String>) {
    let mut files = Vec::new();
    list_files(root, &mut files, stdout);

    // Mutable: each is set to a nil channel once it is closed.
    let mut results = chan::<Hashed>(0);
    let mut errors = chan::<String>(0);
    let wg = WaitGroup::new(); // number of working goroutines
    for path in files {
        wg.add(1);
        let (wg, results, errors) = (wg.clone(), results.sender(), errors.sender());
        // worker
        go!(move || {
            match hash_file(&path) {
                Ok((bytes, hash)) => results.send(Hashed { path, bytes, hash }),
                Err(err) => errors.send(format!("{}: {err}", path.display())),
            }
            wg.done();
        });
    }

    // closer
    let (results_closer, errors_closer) = (results.sender(), errors.sender());
    go!(move || {
        wg.wait();
        results_closer.close();
        errors_closer.close();
    });

    let (mut count, mut total) = (0u64, 0u64);
    while results != Chan::nil() || errors != Chan::nil() {
        select! {
            recv(&results) -> hashed => match hashed {
                Some(file) => {
                    count += 1;
                    total += file.bytes;
                    let path = file.path.strip_prefix(root).unwrap_or(&file.path);
                    stdout.send(format!("{:016x}  {:>10}  {}\n", file.hash, file.bytes, path.display()));
                }
                None => results = Chan::nil(), // closed: never choose this arm again
            },
            recv(&errors) -> err => match err {
                Some(err) => stdout.send(format!("error: {err}\n")),
                None => errors = Chan::nil(),
            },
        }
    }
    stdout.send(format!("{count} files  {total} bytes\n"));
}

/// Appends the path of every regular file under `dir` to `files`; prints
/// the directories it cannot read. Symbolic links are not followed.
fn list_files(dir: &Path, files: &mut Vec<PathBuf>, stdout: &Sender<String>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            stdout.send(format!("error: {}: {err}\n", dir.display()));
            return;
        }
    };
    for entry in entries {
        match entry.and_then(|entry| entry.file_type().map(|kind| (entry.path(), kind))) {
            Ok((path, kind)) if kind.is_dir() => list_files(&path, files, stdout),
            Ok((path, kind)) if kind.is_file() => files.push(path),
            Ok(_) => {} // a symbolic link or a special file
            Err(err) => stdout.send(format!("error: {}: {err}\n", dir.display())),
        }
    }
}

/// The size and the FNV-1a hash of the file at `path`, read 64 KiB at a
/// time. The buffer is on the heap: a goroutine's stack is 64 KiB.
fn hash_file(path: &Path) -> io::Result<(u64, u64)> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut bytes, mut hash) = (0u64, FNV_OFFSET_BASIS);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((bytes, hash));
        }
        bytes += n as u64;
        hash = fnv1a64_update(hash, &buf[..n]);
    }
}

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The 64-bit FNV-1a hash of `data` (Go's `hash/fnv.New64a`).
pub fn fnv1a64(data: &[u8]) -> u64 {
    fnv1a64_update(FNV_OFFSET_BASIS, data)
}

/// Continues an FNV-1a hash over `data`.
fn fnv1a64_update(mut hash: u64, data: &[u8]) -> u64 {
    for &byte in data {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}
