//! Disk usage, the last version of *The Go Programming Language*, sections
//! 8.8 and 8.9 (gopl.io/ch8/du4), ported to gort, with its cancellation
//! done by a `gort::context`.
//!
//! It walks the directory trees named on the command line, a goroutine
//! per directory, and prints how many files they hold and their total
//! size:
//!
//! ```text
//! 2113 files  45.2 MB
//! ```
//!
//! It shows:
//!
//! - goroutines that start goroutines, counted by a `WaitGroup`, and a
//!   closer goroutine that closes `file_sizes` once the count is zero;
//! - a counting semaphore made of a buffered channel of 20 tokens: at most
//!   20 directories are read at once, however many goroutines there are;
//! - `select!` in the main loop over the file sizes, the progress ticker
//!   and cancellation. Without `-v` the ticker is a nil channel, whose arm
//!   is never chosen (Go's `var tick <-chan time.Time`);
//! - cancellation. A line on the input (press return) calls the context's
//!   `cancel()`; with `--timeout MS` the context also expires by itself.
//!   The walkers poll `ctx.is_cancelled()` before they start, and select on
//!   `ctx.done()` while they wait for a token, so that they stop quickly;
//!   the main loop selects on `ctx.done()` too. On cancellation it drains
//!   `file_sizes`, so that every walker still sending can finish, and
//!   prints a line saying so before the totals so far.
//!
//! Options: `-v` prints the totals so far every 500 ms. `--timeout MS`
//! cancels the walk after MS milliseconds. `--pause MS` waits MS
//! milliseconds before each directory is read, as a slow disk would, so
//! that progress and cancellation can be watched on a small tree.
//!
//! ```text
//! cargo run --release --example du -- -v ~ /usr          # press return to cancel
//! cargo run --release --example du -- --timeout 100 /
//! ```
//!
//! The reads are blocking system calls made on goroutines, as in Go. In
//! gort they block the worker thread for the time of the call (gort has no
//! monitor thread yet to hand the other goroutines to a spare thread).

use std::fs;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gort::context::{self, Context};
use gort::prelude::*;
use gort::sync::WaitGroup;
use gort::time::Ticker;

#[path = "support/run_main.rs"]
mod support;
use support::run_main;

/// How often `-v` prints the totals so far.
const PROGRESS: Duration = Duration::from_millis(500);

#[allow(dead_code)] // tests/examples.rs includes this file as a module and calls `run`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args, io::BufReader::new(io::stdin()), &mut io::stdout())
}

/// Runs the program. `args` is `[-v] [--timeout MS] [--pause MS]
/// [DIR...]` (`.` if no directory is given). A line on `input` cancels the
/// walk.
pub fn run(args: &[String], input: impl BufRead + Send + 'static, out: &mut dyn Write) -> io::Result<()> {
    let options = Options::parse(args)?;
    run_main(out, move |stdout| du(options, input, &stdout))
}

/// The command line.
struct Options {
    verbose: bool,
    timeout: Option<Duration>,
    pause: Duration,
    roots: Vec<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> io::Result<Options> {
        let mut options = Options { verbose: false, timeout: None, pause: Duration::ZERO, roots: Vec::new() };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-v" => options.verbose = true,
                "--timeout" => options.timeout = Some(millis("--timeout", args.next())?),
                "--pause" => options.pause = millis("--pause", args.next())?,
                _ => options.roots.push(PathBuf::from(arg)),
            }
        }
        if options.roots.is_empty() {
            options.roots.push(PathBuf::from("."));
        }
        Ok(options)
    }
}

/// The value of `flag`, a number of milliseconds.
fn millis(flag: &str, value: Option<&String>) -> io::Result<Duration> {
    match value.and_then(|value| value.parse::<u64>().ok()) {
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{flag} takes a number of milliseconds"))),
    }
}

/// Go's `main`.
fn du(options: Options, input: impl BufRead + Send + 'static, stdout: &Sender<String>) {
    // Cancel when a line arrives on the input, or at the timeout.
    let background = context::background();
    let (ctx, cancel) = match options.timeout {
        Some(timeout) => context::with_timeout(&background, timeout),
        None => context::with_cancel(&background),
    };
    let cancel_on_input = cancel.clone();
    // A read blocks its thread, so a plain thread reads (Go: a goroutine).
    std::thread::spawn(move || {
        let mut input = input;
        let mut line = String::new();
        if matches!(input.read_line(&mut line), Ok(n) if n > 0) {
            cancel_on_input();
        }
    });

    // Traverse each root of the file tree in parallel.
    let file_sizes = chan::<u64>(0);
    let walker = Walker {
        ctx: ctx.clone(),
        n: WaitGroup::new(),
        sema: chan(20),
        file_sizes: file_sizes.sender(),
        pause: options.pause,
    };
    for root in options.roots {
        walker.n.add(1);
        let w = walker.clone();
        go!(w.walk_dir(root));
    }
    let (n, closer) = (walker.n.clone(), file_sizes.sender());
    go!(move || {
        n.wait();
        closer.close();
    });

    // Print the results periodically, with -v.
    let ticker = options.verbose.then(|| Ticker::new(PROGRESS));
    let tick = match &ticker {
        Some(ticker) => ticker.channel().clone(),
        None => Receiver::from(Chan::<Instant>::nil()), // never ready
    };
    let done = ctx.done();
    let (mut nfiles, mut nbytes) = (0u64, 0u64);
    let cancelled = loop {
        select! {
            recv(&done) -> _ => {
                // Drain file_sizes to allow existing goroutines to finish.
                for _ in &file_sizes {}
                break ctx.err();
            }
            recv(&file_sizes) -> size => match size {
                Some(size) => {
                    nfiles += 1;
                    nbytes += size;
                }
                // The walk is over; a walk cut short by a cancellation may
                // end here too, so ask the context.
                None => break ctx.err(),
            },
            recv(&tick) -> _ => stdout.send(disk_usage(nfiles, nbytes)),
        }
    };
    if let Some(ticker) = &ticker {
        ticker.stop();
    }
    cancel(); // Go: defer cancel(); releases the context's timer
    if let Some(err) = cancelled {
        stdout.send(format!("du: cancelled ({err}); the totals are partial\n"));
    }
    stdout.send(disk_usage(nfiles, nbytes));
}

fn disk_usage(nfiles: u64, nbytes: u64) -> String {
    format!("{nfiles} files  {:.1} MB\n", nbytes as f64 / 1e6)
}

/// What the directory walkers share. Go keeps these in package variables
/// (`done`, `sema`) and parameters (`n`, `fileSizes`).
#[derive(Clone)]
struct Walker {
    ctx: Context,
    /// The walkers still running.
    n: WaitGroup,
    /// A counting semaphore of 20 tokens, to limit the directories read at once.
    sema: Chan<()>,
    file_sizes: Sender<u64>,
    /// How long to wait before each directory is read (`--pause`).
    pause: Duration,
}

impl Walker {
    /// Walks the tree rooted at `dir` and sends the size of each file on
    /// `file_sizes`; a new goroutine walks each subdirectory.
    fn walk_dir(self, dir: PathBuf) {
        let _done = Done(self.n.clone()); // Go: defer n.Done()
        if self.ctx.is_cancelled() {
            return;
        }
        for entry in self.dirents(&dir) {
            match entry {
                Entry::Dir(subdir) => {
                    self.n.add(1);
                    let w = self.clone();
                    go!(w.walk_dir(subdir));
                }
                Entry::File(size) => self.file_sizes.send(size),
            }
        }
    }

    /// The entries of `dir`, read while holding a token; none if the walk
    /// is cancelled first.
    fn dirents(&self, dir: &Path) -> Vec<Entry> {
        let done = self.ctx.done();
        select! {
            send(&self.sema, ()) => {} // acquire a token
            recv(&done) -> _ => return Vec::new(), // cancelled
        }
        if !self.pause.is_zero() {
            // A slow disk; a cancellation cuts the wait short.
            let cancelled = select! {
                recv(gort::time::after(self.pause)) -> _ => false,
                recv(&done) -> _ => true,
            };
            if cancelled {
                self.sema.recv(); // release the token
                return Vec::new();
            }
        }
        let entries = read_entries(dir);
        self.sema.recv(); // release the token
        entries.unwrap_or_else(|err| {
            eprintln!("du: {}: {err}", dir.display());
            Vec::new()
        })
    }
}

/// Calls `done()` on its `WaitGroup` when dropped, on every way out of a
/// function: Go's `defer n.Done()`.
struct Done(WaitGroup);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// An entry of a directory.
enum Entry {
    Dir(PathBuf),
    /// A file, or anything else that is not a directory, with its size.
    File(u64),
}

/// The entries of `dir`. Symbolic links are not followed.
fn read_entries(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        entries.push(if metadata.is_dir() { Entry::Dir(entry.path()) } else { Entry::File(metadata.len()) });
    }
    Ok(entries)
}
