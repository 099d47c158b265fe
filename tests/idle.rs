//! An idle runtime burns no CPU: its workers sleep, they do not spin.
//! Alone in its own test binary, so no other test's work is counted.

use std::time::Duration;

fn process_cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[test]
fn an_idle_runtime_burns_no_cpu() {
    let rt = gort::Runtime::builder().workers(4).build().unwrap();
    // Make the workers do something first, then let them go idle.
    let hs: Vec<_> = (0..1000u64).map(|i| rt.spawn(move || i)).collect();
    hs.into_iter().for_each(|h| {
        h.join().unwrap();
    });
    std::thread::sleep(Duration::from_millis(100));
    let before = process_cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    let used = process_cpu_time() - before;
    assert!(used < Duration::from_millis(20), "an idle runtime used {used:?} of CPU in one second");
}
