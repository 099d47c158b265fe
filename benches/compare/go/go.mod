module gort-compare-go

// 1.22 is the oldest release with the language features used here (range over
// an int, per-iteration loop variables); any newer toolchain builds it. The
// reference numbers in shared/bench/WORKLOADS.md were taken with Go 1.27.
go 1.22
