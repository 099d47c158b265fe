//! The concurrent web crawler of *The Go Programming Language*, section 8.6
//! (gopl.io/ch8/crawl2), ported to gort. It crawls a made-up web served in
//! process, so that it runs offline.
//!
//! The crawl is breadth-first: the main goroutine receives lists of links
//! on `worklist`, and starts a goroutine to crawl each link it has not seen
//! before; that goroutine sends the links of its page back on `worklist`.
//! It shows:
//!
//! - unbounded parallelism made bounded: every goroutine may start at once,
//!   but a fetch needs one of 20 tokens, so at most 20 fetches are in
//!   flight. The tokens are a counting semaphore made of a buffered
//!   channel, `chan::<()>(20)`: a send acquires a token (it waits while 20
//!   are out), a receive releases one;
//! - how the main loop knows when to stop: `n` counts the sends to
//!   `worklist` still to come, and the loop ends when it drops to zero,
//!   since `worklist` is never closed;
//! - `seen`, owned by the main goroutine alone, so it needs no lock.
//!
//! The web has `PAGES` pages (1000 if absent), `https://gopl.io/page/0` to
//! `https://gopl.io/page/{PAGES-1}`; each page links to four others, picked
//! by a hash of its number, and a few pages have no link to them. A fetch
//! takes 1 to 3 ms (a sleep, standing in for the network). The crawl starts
//! from the URLs given after `PAGES`, or from page 0. It prints each URL it
//! crawls, then the number of pages and the largest number of fetches that
//! were in flight at once, which the semaphore keeps at 20 or below.
//!
//! ```text
//! cargo run --release --example crawl
//! cargo run --release --example crawl -- 5000 https://gopl.io/page/17
//! ```

use std::collections::HashSet;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gort::prelude::*;

#[path = "support/run_main.rs"]
mod support;
use support::run_main;

#[allow(dead_code)] // tests/examples.rs includes this file as a module and calls `run`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args, &mut io::stdout())
}

/// Runs the program. `args` is `[PAGES [URL...]]`: the size of the web
/// (1000 if absent) and where to start (page 0 if absent).
pub fn run(args: &[String], out: &mut dyn Write) -> io::Result<()> {
    let pages: usize = match args.first() {
        Some(arg) => arg.parse::<usize>().ok().filter(|&pages| pages > 0).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("PAGES must be a positive number, not {arg:?}"))
        })?,
        None => 1000,
    };
    let seeds: Vec<String> = if args.len() > 1 { args[1..].to_vec() } else { vec![url(0)] };
    let web = Arc::new(Web::new(pages));
    run_main(out, move |stdout| crawl_web(seeds, &web, &stdout))
}

/// Go's `main`: crawls from `seeds`, breadth-first.
fn crawl_web(seeds: Vec<String>, web: &Arc<Web>, stdout: &Sender<String>) {
    // A counting semaphore: at most 20 fetches at once. (Go: a package
    // variable, `var tokens = make(chan struct{}, 20)`.)
    let tokens = chan::<()>(20);
    let worklist = chan::<Vec<String>>(0);
    let mut n = 0; // number of pending sends to worklist

    // Start with the command-line arguments.
    n += 1;
    let tx = worklist.sender();
    go!(move || tx.send(seeds));

    // Crawl the web concurrently.
    let mut seen = HashSet::new();
    while n > 0 {
        let list = worklist.recv().expect("the worklist is never closed");
        n -= 1;
        for link in list {
            if seen.insert(link.clone()) {
                // Go: if !seen[link] { seen[link] = true; ... }
                n += 1;
                let (tx, web, tokens, stdout) = (worklist.sender(), web.clone(), tokens.clone(), stdout.clone());
                go!(move || tx.send(crawl(&link, &web, &tokens, &stdout)));
            }
        }
    }
    stdout.send(format!("{} pages, at most {} fetches at once\n", seen.len(), web.max_in_flight()));
}

/// Prints `url`, fetches it while holding a token, and returns its links.
fn crawl(url: &str, web: &Web, tokens: &Chan<()>, stdout: &Sender<String>) -> Vec<String> {
    stdout.send(format!("{url}\n"));
    tokens.send(()); // acquire a token
    let list = web.fetch(url);
    tokens.recv(); // release the token
    list.unwrap_or_else(|err| {
        eprintln!("crawl: {err}"); // Go: log.Print(err)
        Vec::new()
    })
}

/// The start of every URL of the made-up web.
const PREFIX: &str = "https://gopl.io/page/";

/// The URL of page `page`.
pub fn url(page: usize) -> String {
    format!("{PREFIX}{page}")
}

/// The pages that page `page` of a web of `pages` pages links to: four,
/// picked by a hash of its number (some may repeat, or be `page` itself).
pub fn links(page: usize, pages: usize) -> Vec<usize> {
    (0..4).map(|k| (mix(page as u64 * 4 + k) % pages as u64) as usize).collect()
}

/// MurmurHash3's 64-bit finaliser: spreads the bits of `x`.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The made-up web, served in process, with a count of the fetches in
/// flight.
struct Web {
    pages: usize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Web {
    fn new(pages: usize) -> Web {
        Web { pages, in_flight: AtomicUsize::new(0), max_in_flight: AtomicUsize::new(0) }
    }

    /// Fetches the page at `address` and returns the URLs it links to, as
    /// gopl.io/ch5/links's `Extract` does; the network is a sleep of 1 to 3 ms.
    fn fetch(&self, address: &str) -> Result<Vec<String>, String> {
        let page = address
            .strip_prefix(PREFIX)
            .and_then(|page| page.parse::<usize>().ok())
            .filter(|&page| page < self.pages)
            .ok_or_else(|| format!("getting {address}: 404 Not Found"))?;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        gort::time::sleep(Duration::from_millis(1 + page as u64 % 3)); // the network
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(links(page, self.pages).into_iter().map(url).collect())
    }

    /// The largest number of fetches that were in flight at once.
    fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}
