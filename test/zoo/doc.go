// Package zoo is plimsoll's regression zoo: pairs of images (old → new) built locally, each
// new image carrying one realistic fault or none, checked end to end with the plimsoll binary.
// Every pair is a subtest of TestZoo that asserts the verdict and the layer and check that
// caught the fault; -zoo.table writes the result table as Markdown (zoo/README.md).
//
// The slow faults (a memory leak, an FD leak, a slower handler, and a GC sawtooth that must
// stay GO) run Layer 6 soak and Layer 4 perf. By default they are compressed to fit CI (a soak
// of 30 s, 8 rounds of 3 s, faster leaks, a handler 30 % slower); -zoo.full runs them at their
// true size (a 5 min soak, the seed's 14 rounds of 5 s, a handler 10 % slower).
package zoo
