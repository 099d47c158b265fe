//! The examples of `examples/`, the Go book's chapter 8 programs, run in
//! process: each example's source is included as a module, and the test
//! calls its `run` with arguments, an input and a captured output, then
//! checks what it printed.

// Each example is a standalone program that includes examples/support;
// loaded together here, that file is loaded once per example.
#![allow(clippy::duplicate_mod)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Cursor};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[path = "support/limits.rs"]
mod limits;
use limits::within;

#[path = "../examples/countdown.rs"]
mod countdown;
#[path = "../examples/crawl.rs"]
mod crawl;
#[path = "../examples/du.rs"]
mod du;
#[path = "../examples/parallel.rs"]
mod parallel;
#[path = "../examples/pipeline1.rs"]
mod pipeline1;
#[path = "../examples/pipeline2.rs"]
mod pipeline2;
#[path = "../examples/pipeline3.rs"]
mod pipeline3;
#[path = "../examples/spinner.rs"]
mod spinner;

/// How long any one example may take before it counts as hung (debug
/// builds on a loaded machine included).
const LIMIT: Duration = Duration::from_secs(60);

/// Calls `run`, which calls an example's `run` with the output it is
/// given, within [`LIMIT`], and returns what the example printed.
fn output(run: impl FnOnce(&mut Vec<u8>) -> io::Result<()> + Send + 'static) -> String {
    within(LIMIT, move || {
        let mut out = Vec::new();
        run(&mut out).expect("the example failed");
        String::from_utf8(out).expect("the example printed UTF-8")
    })
}

/// Command-line arguments.
fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| arg.to_string()).collect()
}

/// The squares of 0 to n-1, one per line.
fn squares(n: i64) -> String {
    let mut lines = String::new();
    for x in 0..n {
        writeln!(lines, "{}", x * x).unwrap();
    }
    lines
}

/// A directory under the system's temporary directory, with a name of its
/// own, removed with everything in it when dropped.
struct TempTree(PathBuf);

impl TempTree {
    fn new(name: &str) -> TempTree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!("gort-example-{name}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let root = std::env::temp_dir().join(unique);
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("make the temporary directory");
        TempTree(root)
    }

    /// The root, as a command-line argument.
    fn arg(&self) -> String {
        self.0.to_str().expect("the temporary directory has a UTF-8 path").to_string()
    }

    /// Writes `contents` to the file at `rel`, making its directories.
    fn file(&self, rel: &str, contents: &[u8]) {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn spinner_spins_then_prints_the_result() {
    let out = output(|out| spinner::run(&args(&["30"]), out));
    // "\r-\r\\\r|...\rFibonacci(30) = 832040\n": the frames, in order, each
    // at the start of the line, then the result over them.
    let pieces: Vec<&str> = out.split('\r').collect();
    assert!(pieces[0].is_empty(), "everything starts with a carriage return: {out:?}");
    let (result, frames) = pieces[1..].split_last().expect("at least the result");
    assert_eq!(*result, "Fibonacci(30) = 832040\n");
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(*frame, ["-", "\\", "|", "/"][i % 4], "frame {i} of {out:?}");
    }
}

#[test]
fn pipeline1_prints_squares_up_to_the_limit() {
    // The counter and the squarer stay parked in a send afterwards, as in
    // Go when main returns.
    assert_eq!(output(|out| pipeline1::run(&args(&["10"]), out)), squares(10));
}

#[test]
fn pipeline2_prints_a_hundred_squares_and_ends() {
    assert_eq!(output(|out| pipeline2::run(out)), squares(100));
}

#[test]
fn pipeline3_prints_a_hundred_squares_and_ends() {
    assert_eq!(output(|out| pipeline3::run(out)), squares(100));
}

#[test]
fn parallel_hashes_every_file_under_a_directory() {
    // FNV-1a 64 test vectors.
    assert_eq!(parallel::fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(parallel::fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(parallel::fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);

    let tree = TempTree::new("parallel");
    let mut expected = HashMap::new(); // path under the root -> (bytes, hash)
    let mut add = |rel: &str, contents: Vec<u8>, hash: u64| {
        tree.file(rel, &contents);
        expected.insert(rel.to_string(), (contents.len() as u64, hash));
    };
    add("a.txt", b"a".to_vec(), 0xaf63_dc4c_8601_ec8c);
    add("sub/b.txt", b"foobar".to_vec(), 0x8594_4171_f739_67e8);
    add("sub/deeper/empty", Vec::new(), 0xcbf2_9ce4_8422_2325);
    // Larger than the 64 KiB the example reads at a time.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let big_hash = parallel::fnv1a64(&big);
    add("sub/big.bin", big, big_hash);
    for i in 0..50u32 {
        let contents: Vec<u8> = (0..i * 37).map(|j| (i + j) as u8).collect();
        let hash = parallel::fnv1a64(&contents);
        add(&format!("many/{}/file{i}", i % 5), contents, hash);
    }
    let total: u64 = expected.values().map(|&(bytes, _)| bytes).sum();

    let root = tree.arg();
    let out = output(move |out| parallel::run(&[root], out));
    let mut lines: Vec<&str> = out.lines().collect();
    let summary = lines.pop().expect("a summary line");
    assert_eq!(summary, format!("{} files  {total} bytes", expected.len()));
    let mut hashed = HashMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 3, "hash, size, path: {line:?}");
        let hash = u64::from_str_radix(fields[0], 16).expect("a hexadecimal hash");
        let bytes: u64 = fields[1].parse().expect("a size");
        assert!(hashed.insert(fields[2].to_string(), (bytes, hash)).is_none(), "{} hashed twice", fields[2]);
    }
    assert_eq!(hashed, expected);
}

#[test]
fn crawl_visits_every_reachable_page_once_with_at_most_20_fetches_at_once() {
    let pages = 500;
    let out = output(move |out| crawl::run(&args(&["500"]), out));

    // The pages reachable from page 0, found without goroutines.
    let mut reachable = HashSet::from([0]);
    let mut queue = VecDeque::from([0]);
    while let Some(page) = queue.pop_front() {
        for link in crawl::links(page, pages) {
            if reachable.insert(link) {
                queue.push_back(link);
            }
        }
    }
    assert!(reachable.len() < pages, "the made-up web has pages that no page links to");

    let mut lines: Vec<&str> = out.lines().collect();
    let summary = lines.pop().expect("a summary line");
    let mut visits: HashMap<&str, usize> = HashMap::new();
    for &line in &lines {
        *visits.entry(line).or_default() += 1;
    }
    for (url, &times) in &visits {
        assert_eq!(times, 1, "{url} crawled {times} times");
    }
    let visited: HashSet<String> = visits.keys().map(|url| url.to_string()).collect();
    let expected: HashSet<String> = reachable.iter().map(|&page| crawl::url(page)).collect();
    assert_eq!(visited, expected);

    // "489 pages, at most 20 fetches at once"
    let words: Vec<&str> = summary.split_whitespace().collect();
    assert_eq!(words[0].parse::<usize>().ok(), Some(reachable.len()), "{summary:?}");
    let max: usize = words[4].parse().expect("the most fetches at once");
    assert!((1..=20).contains(&max), "{max} fetches at once: the semaphore has 20 tokens");
}

const COUNTDOWN_HEADER: &str = "Commencing countdown.  Press return to abort.\n";

#[test]
fn countdown_lifts_off_without_input() {
    let start = Instant::now();
    let out = output(|out| countdown::run(&args(&["3", "10"]), io::empty(), out));
    assert_eq!(out, format!("{COUNTDOWN_HEADER}3\n2\n1\nLift off!\n"));
    assert!(start.elapsed() >= Duration::from_millis(30), "3 ticks of 10 ms took {:?}", start.elapsed());
}

#[test]
fn countdown_aborts_on_input() {
    // Ticks of a second: the abort, read at once, comes long before the
    // first tick.
    let start = Instant::now();
    let out = output(|out| countdown::run(&args(&["3", "1000"]), Cursor::new(b"\n".to_vec()), out));
    assert_eq!(out, format!("{COUNTDOWN_HEADER}3\nLaunch aborted!\n"));
    assert!(start.elapsed() < Duration::from_secs(1), "aborted after {:?}", start.elapsed());
}

/// A tree for du: four levels of directories (1, 3, 9 and 18 of them, so
/// a level never needs more than the 20 tokens), two files in each.
/// Returns the tree, its number of files and their total size.
fn du_tree() -> (TempTree, u64, u64) {
    let tree = TempTree::new("du");
    let mut dirs = vec![PathBuf::new()];
    let mut level = dirs.clone();
    for fanout in [3, 3, 2] {
        level = level.iter().flat_map(|dir| (0..fanout).map(move |i| dir.join(format!("d{i}")))).collect();
        dirs.extend(level.iter().cloned());
    }
    assert_eq!(dirs.len(), 1 + 3 + 9 + 18);
    let (mut files, mut bytes) = (0, 0);
    for dir in &dirs {
        for f in 0..2 {
            files += 1;
            let size = 1000 * files + 7;
            bytes += size;
            let path = dir.join(format!("f{f}"));
            tree.file(path.to_str().unwrap(), &vec![b'x'; size as usize]);
        }
    }
    (tree, files, bytes)
}

/// The number of files in du's last line, "N files  X.X MB".
fn du_files(out: &str) -> u64 {
    let last = out.lines().last().expect("a totals line");
    assert!(last.ends_with(" MB"), "{last:?}");
    last.split_whitespace().next().unwrap().parse().expect("a number of files")
}

#[test]
fn du_totals_a_tree() {
    let (tree, files, bytes) = du_tree();
    let root = tree.arg();
    let out = output(move |out| du::run(&[root], io::empty(), out));
    assert_eq!(out, format!("{files} files  {:.1} MB\n", bytes as f64 / 1e6));
}

#[test]
fn du_prints_progress_with_v() {
    // 200 ms before each directory: four levels take 800 ms at least, so
    // the 500 ms ticker prints the totals so far at least once.
    let (tree, files, bytes) = du_tree();
    let root = tree.arg();
    let out = output(move |out| du::run(&args(&["-v", "--pause", "200", root.as_str()]), io::empty(), out));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "progress, then the totals: {out:?}");
    for line in &lines {
        assert!(line.ends_with(" MB"), "{line:?}");
    }
    assert_eq!(*lines.last().unwrap(), format!("{files} files  {:.1} MB", bytes as f64 / 1e6));
    assert!(du_files(lines[0]) < files, "the first line is progress: {out:?}");
}

#[test]
fn du_is_cancelled_by_a_line_of_input() {
    // With 300 ms before each directory the walk would take 1.2 s; the
    // line on the input cancels it long before.
    let (tree, files, _) = du_tree();
    let root = tree.arg();
    let start = Instant::now();
    let out = output(move |out| du::run(&args(&["--pause", "300", root.as_str()]), Cursor::new(b"\n".to_vec()), out));
    assert!(out.lines().any(|line| line.starts_with("du: cancelled (context canceled)")), "{out:?}");
    assert!(du_files(&out) < files, "stopped early: {out:?}");
    assert!(start.elapsed() < Duration::from_millis(1200), "cancelled after {:?}", start.elapsed());
}

#[test]
fn du_is_cancelled_by_its_timeout() {
    let (tree, files, _) = du_tree();
    let root = tree.arg();
    let start = Instant::now();
    let out =
        output(move |out| du::run(&args(&["--timeout", "50", "--pause", "300", root.as_str()]), io::empty(), out));
    assert!(out.lines().any(|line| line.starts_with("du: cancelled (context deadline exceeded)")), "{out:?}");
    assert!(du_files(&out) < files, "stopped early: {out:?}");
    assert!(start.elapsed() >= Duration::from_millis(50), "cancelled after {:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_millis(1200), "cancelled after {:?}", start.elapsed());
}
