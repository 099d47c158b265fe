//! Goroutine stacks: carved out of large slabs, guarded, pooled.
//!
//! A stack is a `size`-byte region with one guard page right below it. Stacks
//! are not mapped one by one: the kernel caps a process at `vm.max_map_count`
//! mappings (65,530 by default), and a stack with an `mprotect`ed guard costs
//! two of them, which stops a one-mapping-per-stack design near 30,000
//! goroutines. Instead a *slab* of many stacks is one `MAP_NORESERVE`
//! mapping (only touched pages cost memory) and each guard page is installed
//! with `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+), which marks the page
//! without splitting the mapping. On older kernels the guards fall back to
//! `mprotect`, and running out of mappings is reported as an `io::Error`
//! naming `vm.max_map_count`.
//!
//! Guards are installed for a whole batch of new stacks (a worker's refill,
//! 32) with one vectored `process_madvise` call: one system call and one
//! pass over the mm's locks per batch instead of per stack. One guard per
//! call cost about 1 µs on our 2-core machine. The stacks' addresses are
//! reserved under the allocator's lock, but their guards are installed
//! after it is released: with the 100 µs system call under the lock, two
//! workers carving at once (the `chain` workload) waited for each other.
//!
//! Ownership: a [`RawStack`] is owned by exactly one place at a time: the
//! global free list, a worker's [`StackPool`], or one goroutine's coroutine.
//! Slabs are never unmapped: stacks are recycled, as Go recycles its stack
//! spans.
//!
//! Memory: free stacks stay *hot* (their touched pages kept) in the
//! workers' pools and in a global list of [`GLOBAL_HOT_STACKS`]; beyond
//! that, the monitor thread [`scavenge`]s the stacks that stayed unused for
//! a second, and all of them when the runtime goes idle: everything below a
//! stack's top page is given back to the kernel with `MADV_DONTNEED`, so RSS
//! tracks the number of live goroutines rather than the peak, without a
//! system call on the spawn or exit path.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use corosensei::stack::{Stack, StackPointer};
use parking_lot::Mutex;

/// Default usable size of a goroutine stack.
///
/// 64 KiB of address space: deep enough for ordinary Rust code, while a
/// parked goroutine that touched one page costs one page of RSS. Pick
/// another size with `Builder::stack_size` or
/// `RuntimeBuilder::stack_size`.
///
/// # Examples
///
/// ```
/// assert_eq!(gort_runtime::DEFAULT_STACK_SIZE, 64 * 1024);
/// let big = gort_runtime::Builder::new().stack_size(4 * gort_runtime::DEFAULT_STACK_SIZE);
/// assert_eq!(big.spawn(|| 1).unwrap().join().unwrap(), 1);
/// ```
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// Smallest stack we hand out (corosensei needs at least one page, and our
/// own entry frames need a little more).
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// Address space reserved per slab. Large enough that a million default
/// stacks need only ~1,100 mappings, small enough that a process with few
/// goroutines reserves little.
const SLAB_BYTES: usize = 64 << 20;

/// `MADV_GUARD_INSTALL` from the Linux uapi (6.13+); the libc crate does not
/// define it yet. Kernels without it answer `EINVAL`.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// The machine's page size, read once.
pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize)
}

/// Rounds a requested stack size up to whole pages, at least [`MIN_STACK_SIZE`].
pub(crate) fn round_size(size: usize) -> usize {
    let page = page_size();
    size.max(MIN_STACK_SIZE).div_ceil(page) * page
}

/// One stack: `[top - size, top)` usable, `[top - size - page, top - size)` guard.
#[derive(Debug)]
pub(crate) struct RawStack {
    top: usize,
    size: usize,
}

impl RawStack {
    /// Lowest usable address; the guard page lies right below it.
    pub(crate) fn bottom(&self) -> usize {
        self.top - self.size
    }

    /// Gives the pages below the top page back to the kernel: they read as
    /// zeros afterwards and cost no memory until touched again.
    fn scrub(&self) {
        let page = page_size();
        // SAFETY: the range lies inside this stack's usable part, which we
        // own exclusively (no coroutine runs on it), so discarding its
        // contents breaks no live data.
        unsafe {
            libc::madvise(self.bottom() as *mut libc::c_void, self.size - page, libc::MADV_DONTNEED);
        }
    }
}

// SAFETY: `base` is the stack's top, page aligned (hence 16-byte aligned);
// `limit` is the bottom of the guard page, so the range from limit to base
// includes the guard, and the usable part is at least MIN_STACK_SIZE bytes.
unsafe impl Stack for RawStack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.top).expect("stack top is never null")
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.bottom() - page_size()).expect("stack limit is never null")
    }
}

/// How guard pages are installed on this kernel.
static GUARDS_BY_MPROTECT: AtomicBool = AtomicBool::new(false);

/// Most guards installed per `process_madvise` call.
const GUARD_BATCH: usize = 128;

/// A slab being carved: stacks of one size, handed out from the low end.
struct Slab {
    next: usize,
    end: usize,
}

/// Free stacks and the slab being carved, for one stack size.
struct SizeClass {
    size: usize,
    /// Free stacks whose pages may still be resident: reused first.
    hot: Vec<RawStack>,
    /// Free stacks already scrubbed by [`scavenge`].
    cold: Vec<RawStack>,
    /// The shortest `hot` has been since the last scavenge: stacks below
    /// this index went unused all that time.
    low_water: usize,
    slab: Option<Slab>,
}

/// The process-wide stack allocator.
static GLOBAL: Mutex<Vec<SizeClass>> = Mutex::new(Vec::new());

/// Stacks moved between a worker's pool and the global lists at once, as
/// Go's stack cache moves half its capacity.
const BATCH: usize = 32;

/// Free stacks the global list keeps hot (unscrubbed); the scavenger gives
/// the memory of the rest back to the kernel.
const GLOBAL_HOT_STACKS: usize = 256;

/// Set when carving a stack failed, with the error; cleared when a stack
/// is freed. Lets spawn report exhaustion although stacks are taken later,
/// at a goroutine's first run.
static EXHAUSTED: AtomicBool = AtomicBool::new(false);
static EXHAUSTION: Mutex<Option<(io::ErrorKind, String)>> = Mutex::new(None);

/// `Err` with the last carving error while stacks are exhausted.
pub(crate) fn check_available() -> io::Result<()> {
    if !EXHAUSTED.load(Ordering::Relaxed) {
        return Ok(());
    }
    match &*EXHAUSTION.lock() {
        Some((kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
        None => Ok(()),
    }
}

/// Runs `f` on the size class for `size`, creating it on first use.
fn with_class<R>(size: usize, f: impl FnOnce(&mut SizeClass) -> R) -> R {
    let mut classes = GLOBAL.lock();
    let idx = match classes.iter().position(|c| c.size == size) {
        Some(i) => i,
        None => {
            classes.push(SizeClass { size, hot: Vec::new(), cold: Vec::new(), low_water: 0, slab: None });
            classes.len() - 1
        }
    };
    f(&mut classes[idx])
}

/// Moves up to `n` free stacks of `size` bytes (already rounded) into
/// `out`, carving new ones as needed; at least one, or an error.
///
/// Free stacks are taken under the global lock; new ones are only
/// *reserved* there (a run of addresses cut from the slab) and get their
/// guard pages after the lock is released, so two workers carving at once
/// install guards in parallel instead of one waiting out the other's
/// system call.
fn global_alloc(size: usize, n: usize, out: &mut Vec<RawStack>) -> io::Result<()> {
    let had = out.len();
    let run = with_class(size, |class| {
        while out.len() - had < n {
            let Some(stack) = class.hot.pop().or_else(|| class.cold.pop()) else { break };
            out.push(stack);
        }
        class.low_water = class.low_water.min(class.hot.len());
        let missing = n - (out.len() - had);
        if missing == 0 { Ok(None) } else { reserve(class, missing).map(Some) }
    });
    let result = run.and_then(|run| match run {
        None => Ok(()),
        Some(run) => {
            let before = out.len();
            guard(&run, out).inspect_err(|_| give_back(&run, out.len() - before))
        }
    });
    if let Err(e) = result {
        *EXHAUSTION.lock() = Some((e.kind(), e.to_string()));
        EXHAUSTED.store(true, Ordering::Relaxed);
        // Report the error only if we could not get a single stack.
        if out.len() == had {
            return Err(e);
        }
    }
    Ok(())
}

/// Returns free stacks (all of one size) to the global hot list.
fn global_free(size: usize, stacks: impl Iterator<Item = RawStack>) {
    with_class(size, |class| class.hot.extend(stacks));
    EXHAUSTED.store(false, Ordering::Relaxed);
}

/// Stacks carved from slabs so far, in every size: they stay mapped for
/// the life of the process (scavenging returns their memory, not their
/// addresses).
static MAPPED: AtomicUsize = AtomicUsize::new(0);

/// Stacks mapped, and free stacks in the global lists (workers' pools
/// not included).
pub(crate) fn counts() -> (usize, usize) {
    let free = GLOBAL.lock().iter().map(|c| c.hot.len() + c.cold.len()).sum();
    (MAPPED.load(Ordering::Relaxed), free)
}

/// Which free stacks [`scavenge`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scavenge {
    /// Those beyond the hot set that stayed unused since the last call: the
    /// oldest entries of the hot list, below its low-water mark.
    Cold,
    /// All beyond the hot set (the runtime is idle).
    Excess,
}

/// Gives the memory of free stacks beyond the hot set back to the kernel:
/// everything below a stack's top page, with `MADV_DONTNEED`.
///
/// Called by the monitor, paced like Go's background scavenger: once a
/// second it takes only stacks that nobody took in the whole second, so a
/// burst of goroutines ending and starting reuses its stacks' pages
/// instead of faulting them in again; when the runtime goes idle, it takes
/// the whole excess. The system calls (and the TLB shootdowns they cause)
/// stay off the workers.
pub(crate) fn scavenge(which: Scavenge) {
    loop {
        let batch: Vec<RawStack> = {
            let mut classes = GLOBAL.lock();
            let excess = |c: &SizeClass| match which {
                Scavenge::Cold => c.low_water.min(c.hot.len()).saturating_sub(GLOBAL_HOT_STACKS),
                Scavenge::Excess => c.hot.len().saturating_sub(GLOBAL_HOT_STACKS),
            };
            let Some(class) = classes.iter_mut().find(|c| excess(c) > 0) else {
                for class in classes.iter_mut() {
                    class.low_water = class.hot.len();
                }
                return;
            };
            // The oldest: the hot list is used from its end.
            let n = excess(class).min(BATCH);
            class.low_water -= n.min(class.low_water);
            class.hot.drain(..n).collect()
        };
        let size = batch[0].size;
        for stack in &batch {
            stack.scrub();
        }
        with_class(size, |class| class.cold.extend(batch));
    }
}

/// Stacks cut from a slab whose guard pages are not installed yet.
struct Run {
    /// The guard page of the first stack (its lowest address).
    first: usize,
    stride: usize,
    size: usize,
    count: usize,
}

/// Cuts up to `n` consecutive stacks (at least one) out of the class's
/// slab, mapping a new slab when the current one is used up.
fn reserve(class: &mut SizeClass, n: usize) -> io::Result<Run> {
    let stride = class.size + page_size();
    let slab = match &mut class.slab {
        Some(slab) if slab.next + stride <= slab.end => slab,
        slot => slot.insert(map_slab(stride)?),
    };
    let count = n.min((slab.end - slab.next) / stride);
    let first = slab.next;
    slab.next += count * stride;
    Ok(Run { first, stride, size: class.size, count })
}

/// Installs the guard pages of `run`'s stacks and moves them into `out`.
/// On an error, the stacks guarded so far are kept (see [`give_back`] for
/// the rest).
fn guard(run: &Run, out: &mut Vec<RawStack>) -> io::Result<()> {
    let mut done = 0;
    while done < run.count {
        let first = run.first + done * run.stride;
        let n = install_guards(first, run.stride, run.count - done)?;
        out.extend((0..n).map(|i| RawStack { top: first + i * run.stride + run.stride, size: run.size }));
        MAPPED.fetch_add(n, Ordering::Relaxed);
        done += n;
    }
    Ok(())
}

/// Returns the unguarded tail of `run` (all but its first `guarded`
/// stacks) to its slab, if nothing was cut from the slab after it; else
/// its addresses stay reserved, unused.
fn give_back(run: &Run, guarded: usize) {
    let (tail, end) = (run.first + guarded * run.stride, run.first + run.count * run.stride);
    with_class(run.size, |class| {
        if let Some(slab) = &mut class.slab
            && slab.next == end
        {
            slab.next = tail;
        }
    });
}

/// Reserves address space for a slab of stacks of `stride` bytes each.
fn map_slab(stride: usize) -> io::Result<Slab> {
    let len = (SLAB_BYTES / stride).max(1) * stride;
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing aliases nothing; we check for MAP_FAILED below.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("cannot reserve {len} bytes of address space for goroutine stacks: {err}"),
        ));
    }
    let start = addr as usize;
    Ok(Slab { next: start, end: start + len })
}

/// Installs the guard pages of up to [`GUARD_BATCH`] of the `left` stacks
/// starting at `first` (one every `stride` bytes); returns how many (at
/// least one).
fn install_guards(first: usize, stride: usize, left: usize) -> io::Result<usize> {
    let n = left.min(GUARD_BATCH);
    if n > 1 && !GUARDS_BY_MPROTECT.load(Ordering::Relaxed) {
        if let Some(done) = guards_vectored(first, stride, n) {
            return Ok(done);
        }
    }
    install_guard(first)?;
    Ok(1)
}

/// `MADV_GUARD_INSTALL` on `n` pages, `stride` apart, in one
/// `process_madvise` call on our own process (Linux 6.13+ accepts any
/// advice for the calling process). `None` when unsupported or nothing was
/// done; the caller falls back to one `madvise` per page.
fn guards_vectored(first: usize, stride: usize, n: usize) -> Option<usize> {
    static PIDFD: OnceLock<Option<libc::c_int>> = OnceLock::new();
    static UNSUPPORTED: AtomicBool = AtomicBool::new(false);
    if UNSUPPORTED.load(Ordering::Relaxed) {
        return None;
    }
    let pidfd = (*PIDFD.get_or_init(|| {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
        (fd >= 0).then_some(fd as libc::c_int)
    }))?;
    let page = page_size();
    let iov: Vec<libc::iovec> =
        (0..n).map(|i| libc::iovec { iov_base: (first + i * stride) as *mut libc::c_void, iov_len: page }).collect();
    // SAFETY: every iovec names a page of a slab we mapped whose stack is not
    // carved yet, so no stack uses it; a guard only changes how it faults.
    let rc = unsafe {
        libc::syscall(libc::SYS_process_madvise, pidfd, iov.as_ptr(), n, MADV_GUARD_INSTALL as libc::c_long, 0)
    };
    if rc <= 0 {
        UNSUPPORTED.store(true, Ordering::Relaxed);
        return None;
    }
    // The call stops at the first page it fails on: the ones before are done.
    Some(rc as usize / page)
}

/// Makes the page at `addr` a guard page: any access raises SIGSEGV.
fn install_guard(addr: usize) -> io::Result<()> {
    let page = page_size();
    if !GUARDS_BY_MPROTECT.load(Ordering::Relaxed) {
        // SAFETY: `addr` is a page inside a slab we mapped and that no stack
        // uses; installing a guard there only changes how that page faults.
        let rc = unsafe { libc::madvise(addr as *mut libc::c_void, page, MADV_GUARD_INSTALL) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(io::Error::new(err.kind(), format!("cannot install a stack guard page: {err}")));
        }
        // This kernel predates MADV_GUARD_INSTALL (Linux 6.13).
        GUARDS_BY_MPROTECT.store(true, Ordering::Relaxed);
    }
    // SAFETY: as above; PROT_NONE on an unused page of our own mapping.
    let rc = unsafe { libc::mprotect(addr as *mut libc::c_void, page, libc::PROT_NONE) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENOMEM) {
        let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap_or_default();
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "cannot create another goroutine stack: the process reached the kernel's limit on \
                 memory mappings (vm.max_map_count = {}); this kernel has no MADV_GUARD_INSTALL \
                 (Linux 6.13+), so every guarded stack costs its own mappings; raise \
                 vm.max_map_count or run fewer goroutines at once",
                limit.trim()
            ),
        ));
    }
    Err(io::Error::new(err.kind(), format!("cannot install a stack guard page: {err}")))
}

/// A worker's cache of stacks of the runtime's default size.
///
/// Only the owning worker thread touches it, so it needs no lock. It holds
/// at most `2 * BATCH` stacks and trades `BATCH` at a time with the global
/// lists, so a worker that spawns and one that reaps goroutines pass stacks
/// through the global list in batches, without system calls.
pub(crate) struct StackPool {
    size: usize,
    free: Vec<RawStack>,
}

impl StackPool {
    /// An empty pool for stacks of `size` bytes (already rounded).
    pub(crate) fn new(size: usize) -> StackPool {
        StackPool { size, free: Vec::with_capacity(2 * BATCH + 1) }
    }

    /// A stack of `size` bytes (already rounded): from this pool when it is
    /// of the pool's size, else from the global lists.
    pub(crate) fn take(&mut self, size: usize) -> io::Result<RawStack> {
        if size != self.size {
            return take(size);
        }
        if self.free.is_empty() {
            global_alloc(size, BATCH, &mut self.free)?;
        }
        Ok(self.free.pop().expect("refilled"))
    }

    /// Free stacks in this pool.
    pub(crate) fn len(&self) -> usize {
        self.free.len()
    }

    /// Returns a stack whose coroutine has finished.
    pub(crate) fn give(&mut self, stack: RawStack) {
        if stack.size != self.size {
            return release(stack);
        }
        self.free.push(stack);
        if self.free.len() > 2 * BATCH {
            let at = self.free.len() - BATCH;
            global_free(self.size, self.free.drain(at..));
        }
    }
}

impl Drop for StackPool {
    fn drop(&mut self) {
        global_free(self.size, self.free.drain(..));
    }
}

/// One stack of `size` bytes (already rounded) from the global lists.
pub(crate) fn take(size: usize) -> io::Result<RawStack> {
    let mut out = Vec::with_capacity(1);
    global_alloc(size, 1, &mut out)?;
    Ok(out.pop().expect("global_alloc returns at least one stack"))
}

/// Puts a free stack on the global hot list.
pub(crate) fn release(stack: RawStack) {
    global_free(stack.size, std::iter::once(stack));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_pages_and_the_minimum() {
        assert_eq!(round_size(1), MIN_STACK_SIZE);
        assert_eq!(round_size(MIN_STACK_SIZE + 1), MIN_STACK_SIZE + page_size());
        assert_eq!(round_size(DEFAULT_STACK_SIZE), DEFAULT_STACK_SIZE);
    }

    /// Free stacks of `size` in the global hot and cold lists.
    fn free_counts(size: usize) -> (usize, usize) {
        with_class(size, |c| (c.hot.len(), c.cold.len()))
    }

    #[test]
    fn the_scavenger_takes_only_stacks_unused_for_a_whole_period() {
        // A size no other test uses, so the class is ours alone.
        let size = round_size(MIN_STACK_SIZE + 7 * page_size());
        let n = GLOBAL_HOT_STACKS + 40;
        let mut stacks = Vec::new();
        global_alloc(size, n, &mut stacks).unwrap();
        assert_eq!(stacks.len(), n);
        global_free(size, stacks.drain(..));
        // Freed just now: this period's low-water mark predates them.
        scavenge(Scavenge::Cold);
        assert_eq!(free_counts(size), (n, 0));
        // Ten of them are taken and returned: the low-water mark drops by
        // ten, so only the thirty below it are cold.
        global_alloc(size, 10, &mut stacks).unwrap();
        global_free(size, stacks.drain(..));
        scavenge(Scavenge::Cold);
        assert_eq!(free_counts(size), (n - 30, 30));
        // Unused for a whole period: all beyond the hot set are cold now.
        scavenge(Scavenge::Cold);
        assert_eq!(free_counts(size), (GLOBAL_HOT_STACKS, 40));
        // Cold stacks are reused after hot ones, and still work.
        global_alloc(size, GLOBAL_HOT_STACKS + 1, &mut stacks).unwrap();
        assert_eq!(free_counts(size), (0, 39));
        let scrubbed = stacks.last().unwrap();
        // SAFETY: the stack is ours and not in use; its top page is mapped.
        unsafe { *((scrubbed.top - 8) as *mut u64) = 1 };
        global_free(size, stacks.drain(..));
        scavenge(Scavenge::Excess);
        assert_eq!(free_counts(size).0, GLOBAL_HOT_STACKS);
    }

    #[test]
    fn exhaustion_is_reported_until_a_stack_is_freed() {
        let spare = take(round_size(MIN_STACK_SIZE)).unwrap();
        *EXHAUSTION.lock() = Some((io::ErrorKind::OutOfMemory, "vm.max_map_count reached".into()));
        EXHAUSTED.store(true, Ordering::Relaxed);
        let err = check_available().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        assert!(err.to_string().contains("vm.max_map_count"));
        release(spare);
        assert!(check_available().is_ok(), "a freed stack makes spawning possible again");
    }

    #[test]
    fn carved_stacks_are_disjoint_and_writable() {
        let size = round_size(20 * 1024);
        let a = take(size).unwrap();
        let b = take(size).unwrap();
        assert!(a.top <= b.bottom() - page_size() || b.top <= a.bottom() - page_size());
        for s in [&a, &b] {
            // SAFETY: both stacks are ours and unused; write their ends.
            unsafe {
                *((s.top - 8) as *mut u64) = 1;
                *(s.bottom() as *mut u64) = 2;
            }
        }
        release(a);
        release(b);
    }

    /// Mappings of this process that overlap `[lo, hi)`.
    fn mappings_overlapping(lo: usize, hi: usize) -> usize {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .filter_map(|l| l.split_whitespace().next()?.split_once('-'))
            .map(|(a, b)| (usize::from_str_radix(a, 16).unwrap(), usize::from_str_radix(b, 16).unwrap()))
            .filter(|&(a, b)| a < hi && lo < b)
            .count()
    }

    #[test]
    fn many_stacks_share_few_mappings() {
        let size = round_size(MIN_STACK_SIZE);
        let stacks: Vec<_> = (0..2000).map(|_| take(size).unwrap()).collect();
        let lo = stacks.iter().map(|s| s.bottom() - page_size()).min().unwrap();
        let hi = stacks.iter().map(|s| s.top).max().unwrap();
        if !GUARDS_BY_MPROTECT.load(Ordering::Relaxed) {
            // 2000 stacks with their guards span one or two slabs.
            let n = mappings_overlapping(lo, hi);
            assert!(n <= 2, "2000 guarded stacks took {n} mappings");
        }
        stacks.into_iter().for_each(release);
    }
}
