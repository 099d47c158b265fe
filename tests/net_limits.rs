//! `TcpListener::accept` when the process is out of file descriptors: it
//! backs off and keeps serving, without spinning. Runs in a child process
//! (this test binary, re-executed) because it lowers the open-files limit.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::net::TcpListener;
use gort::sync::Mutex;

const CHILD: &str = "GORT_TEST_EMFILE_CHILD";

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

fn cpu_time() -> Duration {
    let mut usage: libc::rusage =
        // SAFETY: an all-zero rusage is a valid value to be overwritten.
        unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn child() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // 40 clients wait in the backlog before the server accepts any.
    let clients: Vec<_> = (0..40).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
    // Room for 5 more descriptors (and a few for the runtime).
    let limit = open_fds() + 8;
    let lim = libc::rlimit { rlim_cur: limit, rlim_max: limit.max(1024) };
    // SAFETY: lowering our own soft limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);

    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    gort::spawn(move || {
        loop {
            match listener.accept() {
                Ok((conn, _)) => h.lock().push(conn),
                Err(e) => panic!("accept failed instead of backing off: {e}"),
            }
        }
    });
    // The server soon runs out of descriptors and backs off.
    std::thread::sleep(Duration::from_millis(200));
    let stuck = held.lock().len();
    assert!(stuck < 40, "the limit did not bite ({stuck} accepted)");
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_millis(500));
    let cpu = cpu_time() - cpu0;
    assert!(cpu < wall0.elapsed() / 5, "accept spun while out of descriptors: {cpu:?} of CPU");
    assert_eq!(held.lock().len(), stuck, "nothing can be accepted without descriptors");

    // Free the descriptors: the server resumes and takes the rest, a few at a time.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut served = stuck;
    while served < 40 {
        served += {
            let mut held = held.lock();
            let n = held.len();
            held.clear();
            n
        };
        assert!(Instant::now() < deadline, "the server stopped accepting after the limit ({served} of 40)");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(clients);
}

#[test]
fn accept_out_of_descriptors_backs_off_and_keeps_serving() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "accept_out_of_descriptors_backs_off_and_keeps_serving", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
}
