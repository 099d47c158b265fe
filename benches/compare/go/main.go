// Command gort-compare-go is the Go side of gort's benchmark comparison: the
// workloads of shared/bench/WORKLOADS.md written the way a Go programmer would
// write them, and the two servers that the load clients drive.
//
// Usage:
//
//	go-compare <workload> [size]   run one workload, print one result line
//	go-compare serve-echo ADDR     TCP echo server, runs until killed
//	go-compare serve-http ADDR     HTTP/1.1 "Hello, World!" server, runs until killed
//	go-compare load-echo ADDR [M]  the echo load client: 64 connections x M round
//	                               trips of 64 bytes (M = 10,000); prints
//	                               "echo M <ns per round trip> rps=<round trips/s>"
//
// A workload prints exactly one line to stdout,
//
//	<workload> <size> <ns_per_op> [key=value,...]
//
// and exits 0. Every workload checks its own result (counts, sums, K+1); when
// the check fails it prints the reason on stderr and exits 1, so a broken run
// never prints a number. Only the workload itself is timed, by wall clock:
// runtime start-up and argument parsing are not. The number of worker threads
// is set from outside with GOMAXPROCS (the comparison uses 2).
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// result is what one workload run reports.
type result struct {
	perOp float64 // ns per op; bytes per goroutine for parked
	extra string  // optional "key=value,..." details, "" for none
}

// workload is one row of the WORKLOADS.md table.
type workload struct {
	name        string
	defaultSize int
	run         func(size int) (result, error)
}

// workloads maps each name to its function, in the order of WORKLOADS.md.
var workloads = []workload{
	{"spawn", 1_000_000, spawn},
	{"pingpong", 1_000_000, pingpong},
	{"prodcons", 4_000_000, prodcons},
	{"chain", 100_000, chain},
	{"select", 1_000_000, selectLoop},
	{"parked", 100_000, parked},
	{"timers", 100_000, timers},
	{"mutex", 1_000_000, mutex},
}

// servers maps each server mode to its function; each runs until killed.
var servers = map[string]func(addr string) error{
	"serve-echo": serveEcho,
	"serve-http": serveHTTP,
}

// spawn: one goroutine (main) spawns n goroutines, each of which only records
// that it ran and signals completion on a WaitGroup; main waits for all.
// op = one spawn + completion.
func spawn(n int) (result, error) {
	ran := make([]bool, n) // goroutine i sets ran[i]: the result check
	var wg sync.WaitGroup

	start := time.Now()
	wg.Add(n)
	for i := range n {
		go func() {
			ran[i] = true
			wg.Done()
		}()
	}
	wg.Wait()
	r := result{perOp: nsPerOp(time.Since(start), n)}

	if got := countTrue(ran); got != n {
		return r, fmt.Errorf("%d of %d goroutines ran", got, n)
	}
	return r, nil
}

// pingpong: main (A) sends i on c1, an echo goroutine (B) receives it and
// sends it back on c2, A receives it; n round trips on unbuffered channels.
// op = one round trip.
func pingpong(n int) (result, error) {
	c1, c2 := make(chan uint64), make(chan uint64)
	echoDone := make(chan struct{})

	start := time.Now()
	go func() {
		for v := range c1 {
			c2 <- v
		}
		close(echoDone)
	}()
	for i := range uint64(n) {
		c1 <- i
		if v := <-c2; v != i {
			return result{}, fmt.Errorf("round trip %d came back as %d", i, v)
		}
	}
	close(c1)
	<-echoDone
	return result{perOp: nsPerOp(time.Since(start), n)}, nil
}

// prodconsWorkers producers and as many consumers share one channel of
// capacity prodconsCap (the numbers of WORKLOADS.md).
const (
	prodconsWorkers = 4
	prodconsCap     = 128
)

// prodcons: prodconsWorkers producers send the values 0..n-1 (a quarter
// each) on one buffered channel; main closes it once the producers are done;
// prodconsWorkers consumers range over it, summing what they receive.
// op = one message.
func prodcons(n int) (result, error) {
	ch := make(chan uint64, prodconsCap)
	var sums, counts [prodconsWorkers]uint64 // consumer c writes index c once, at its end
	var producers, consumers sync.WaitGroup

	start := time.Now()
	for p := range prodconsWorkers {
		lo, hi := share(n, prodconsWorkers, p)
		producers.Add(1)
		go func() {
			defer producers.Done()
			for v := lo; v < hi; v++ {
				ch <- v
			}
		}()
	}
	for c := range prodconsWorkers {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			var sum, count uint64
			for v := range ch {
				sum += v
				count++
			}
			sums[c], counts[c] = sum, count
		}()
	}
	producers.Wait()
	close(ch)
	consumers.Wait()
	r := result{perOp: nsPerOp(time.Since(start), n)}

	var sum, count uint64
	for c := range prodconsWorkers {
		sum += sums[c]
		count += counts[c]
	}
	if count != uint64(n) || sum != sumBelow(n) {
		return r, fmt.Errorf("consumers got %d messages summing to %d, want %d summing to %d",
			count, sum, n, sumBelow(n))
	}
	return r, nil
}

// chain: Pike's "whispers". k goroutines are linked by k+1 unbuffered
// channels; each receives x from its left and sends x+1 to its right. main
// sends 1 into the leftmost channel and receives k+1 from the rightmost.
// The time includes making the channels and spawning the goroutines.
// op = whole run / k.
func chain(k int) (result, error) {
	start := time.Now()
	leftmost := make(chan int)
	left := leftmost
	for range k {
		right := make(chan int)
		go whisper(left, right)
		left = right
	}
	leftmost <- 1
	got := <-left
	r := result{perOp: nsPerOp(time.Since(start), k)}

	if got != k+1 {
		return r, fmt.Errorf("received %d from the end of the chain, want %d", got, k+1)
	}
	return r, nil
}

// whisper passes on one value from left to right, plus one.
func whisper(left <-chan int, right chan<- int) {
	right <- 1 + <-left
}

// selectLoop: four senders each send their quarter of 0..n-1 on their own
// unbuffered channel; main selects over the four channels until it has
// received n values. op = one message.
func selectLoop(n int) (result, error) {
	var chans [4]chan uint64
	for i := range chans {
		chans[i] = make(chan uint64)
	}
	var sum uint64
	var counts [4]uint64

	start := time.Now()
	for s, ch := range chans {
		lo, hi := share(n, len(chans), s)
		go func() {
			for v := lo; v < hi; v++ {
				ch <- v
			}
		}()
	}
	for range n {
		select {
		case v := <-chans[0]:
			sum += v
			counts[0]++
		case v := <-chans[1]:
			sum += v
			counts[1]++
		case v := <-chans[2]:
			sum += v
			counts[2]++
		case v := <-chans[3]:
			sum += v
			counts[3]++
		}
	}
	r := result{perOp: nsPerOp(time.Since(start), n)}

	for s := range chans {
		if lo, hi := share(n, len(chans), s); counts[s] != hi-lo {
			return r, fmt.Errorf("received %d values from sender %d, want %d", counts[s], s, hi-lo)
		}
	}
	if sum != sumBelow(n) {
		return r, fmt.Errorf("received values sum to %d, want %d", sum, sumBelow(n))
	}
	return r, nil
}

// parkSettle is how long parked waits, after every goroutine has signalled
// that it is about to block, for the last few to actually park (blocking
// allocates the channel wait record, so it must happen before RSS is read).
const parkSettle = 10 * time.Millisecond

// parked: k goroutines all block receiving on one channel that never gets a
// value. Once all are parked, VmRSS growth divided by k is the cost of one
// parked goroutine; it is reported in the ns_per_op column (bytes). Then the
// channel is closed and all are joined, each having seen it closed.
func parked(k int) (result, error) {
	block := make(chan struct{}) // never sent on; closed to release everyone
	released := make([]bool, k)  // goroutine i sets released[i] when it sees the close
	var ready, done sync.WaitGroup

	runtime.GC() // collect start-up garbage so the baseline is steady
	before, err := vmRSS()
	if err != nil {
		return result{}, err
	}
	ready.Add(k)
	done.Add(k)
	for i := range k {
		go func() {
			defer done.Done()
			ready.Done()
			_, ok := <-block
			released[i] = !ok
		}()
	}
	ready.Wait()
	time.Sleep(parkSettle)
	after, err := vmRSS()
	if err != nil {
		return result{}, err
	}
	close(block)
	done.Wait()

	r := result{
		perOp: float64(after-before) / float64(k),
		extra: fmt.Sprintf("rss_before_kb=%d,rss_after_kb=%d", before/1024, after/1024),
	}
	if got := countTrue(released); got != k {
		return r, fmt.Errorf("%d of %d parked goroutines saw the channel closed", got, k)
	}
	return r, nil
}

// timers: k goroutines, goroutine i sleeps (i%10+1) ms and then signals
// completion; main waits for all. op = total wall time / k.
func timers(k int) (result, error) {
	woke := make([]bool, k) // goroutine i sets woke[i] after its sleep
	var wg sync.WaitGroup

	start := time.Now()
	wg.Add(k)
	for i := range k {
		go func() {
			time.Sleep(time.Duration(i%10+1) * time.Millisecond)
			woke[i] = true
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := result{perOp: nsPerOp(elapsed, k)}

	if got := countTrue(woke); got != k {
		return r, fmt.Errorf("%d of %d sleepers woke", got, k)
	}
	if longest := time.Duration(min(k, 10)) * time.Millisecond; elapsed < longest {
		return r, fmt.Errorf("all sleepers done after %v, before the longest sleep (%v)", elapsed, longest)
	}
	return r, nil
}

// mutexGoroutines goroutines contend for the one lock (WORKLOADS.md).
const mutexGoroutines = 8

// mutex: mutexGoroutines goroutines together do n lock, increment, unlock
// rounds (n/8 each) on one shared counter. op = one lock + unlock.
func mutex(n int) (result, error) {
	var mu sync.Mutex
	counter := 0 // guarded by mu
	var wg sync.WaitGroup

	start := time.Now()
	for g := range mutexGoroutines {
		lo, hi := share(n, mutexGoroutines, g)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range hi - lo {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r := result{perOp: nsPerOp(time.Since(start), n)}

	if counter != n {
		return r, fmt.Errorf("counter is %d, want %d", counter, n)
	}
	return r, nil
}

// serveEcho accepts TCP connections on addr and runs one goroutine per
// connection that copies every byte it reads back to the peer.
func serveEcho(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("echo server listening on %s", ln.Addr())
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer conn.Close()
			// Ends when the peer closes or the connection fails. On Linux
			// io.Copy between TCP connections moves the bytes with splice(2)
			// through a pipe; with 64 connections of 64-byte round trips
			// that measured within 10% of a plain Read/Write loop here.
			io.Copy(conn, conn)
		}()
	}
}

// helloBody is what serveHTTP answers to every request.
var helloBody = []byte("Hello, World!")

// serveHTTP serves HTTP/1.1 (keep-alive is net/http's default) on addr and
// answers every request with 200 and helloBody.
func serveHTTP(addr string) error {
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(helloBody)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("http server listening on %s", ln.Addr())
	return http.Serve(ln, hello)
}

// share splits 0..n-1 into parts contiguous ranges as evenly as possible and
// returns the bounds [lo, hi) of range i.
func share(n, parts, i int) (lo, hi uint64) {
	return uint64(i * n / parts), uint64((i + 1) * n / parts)
}

// sumBelow is 0 + 1 + ... + (n-1).
func sumBelow(n int) uint64 {
	return uint64(n) * uint64(n-1) / 2
}

// countTrue counts the set flags in b.
func countTrue(b []bool) int {
	count := 0
	for _, v := range b {
		if v {
			count++
		}
	}
	return count
}

// nsPerOp is elapsed wall time divided over ops.
func nsPerOp(elapsed time.Duration, ops int) float64 {
	return float64(elapsed.Nanoseconds()) / float64(ops)
}

// vmRSS returns this process's resident set size in bytes, from the VmRSS
// line of /proc/self/status.
func vmRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// The line reads "VmRSS:	   12345 kB".
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(rest, "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmRSS line %q: %v", sc.Text(), err)
			}
			return kb * 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmRSS line in /proc/self/status")
}

// Load-client shape of shared/bench/WORKLOADS.md: C connections, S bytes.
const (
	echoConns = 64
	echoBytes = 64
)

// loadEcho drives the echo server at addr with echoConns connections, each
// doing m round trips of echoBytes, and checks every byte that comes back.
// It reports wall time per round trip (all connections together).
func loadEcho(addr string, m int) (result, error) {
	conns := make([]net.Conn, echoConns)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return result{}, err
		}
		c.(*net.TCPConn).SetNoDelay(true)
		conns[i] = c
	}
	errs := make(chan error, echoConns)
	start := time.Now()
	for i, c := range conns {
		go func() {
			msg := make([]byte, echoBytes)
			back := make([]byte, echoBytes)
			for t := range m {
				for j := range msg {
					msg[j] = byte(i + t + j)
				}
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, back); err != nil {
					errs <- err
					return
				}
				if string(back) != string(msg) {
					errs <- fmt.Errorf("connection %d trip %d: wrong bytes back", i, t)
					return
				}
			}
			errs <- nil
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			return result{}, err
		}
	}
	elapsed := time.Since(start)
	for _, c := range conns {
		c.Close()
	}
	trips := echoConns * m
	return result{
		perOp: nsPerOp(elapsed, trips),
		extra: fmt.Sprintf("rps=%.0f", float64(trips)/elapsed.Seconds()),
	}, nil
}

func usage() {
	names := make([]string, len(workloads))
	for i, w := range workloads {
		names[i] = w.name
	}
	fmt.Fprintf(os.Stderr, "usage: go-compare <workload> [size]\n"+
		"       go-compare serve-echo|serve-http ADDR\n"+
		"       go-compare load-echo ADDR [round trips per connection]\n"+
		"workloads: %s\n", strings.Join(names, ", "))
	os.Exit(2)
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("go-compare: ")
	args := os.Args[1:]
	if len(args) == 0 || len(args) > 3 {
		usage()
	}

	if args[0] == "load-echo" && len(args) >= 2 {
		m := 10_000
		if len(args) == 3 {
			n, err := strconv.Atoi(args[2])
			if err != nil || n < 1 {
				usage()
			}
			m = n
		}
		r, err := loadEcho(args[1], m)
		if err != nil {
			log.Fatalf("load-echo %s: %v", args[1], err)
		}
		fmt.Printf("echo %d %.1f %s\n", m, r.perOp, r.extra)
		return
	}
	if len(args) > 2 {
		usage()
	}

	if serve, ok := servers[args[0]]; ok {
		if len(args) != 2 {
			usage()
		}
		log.Fatal(serve(args[1]))
	}

	for _, w := range workloads {
		if w.name != args[0] {
			continue
		}
		size := w.defaultSize
		if len(args) == 2 {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				log.Printf("size must be a positive integer, not %q", args[1])
				usage()
			}
			size = n
		}
		r, err := w.run(size)
		if err != nil {
			log.Fatalf("%s %d: result check failed: %v", w.name, size, err)
		}
		line := fmt.Sprintf("%s %d %.1f", w.name, size, r.perOp)
		if r.extra != "" {
			line += " " + r.extra
		}
		fmt.Println(line)
		return
	}
	log.Printf("unknown workload %q", args[0])
	usage()
}
