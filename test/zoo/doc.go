// Package zoo is plimsoll's regression zoo: pairs of images (old → new) built locally, each
// new image carrying one realistic fault or none, checked end to end with the plimsoll binary.
// Every pair is a subtest of TestZoo that asserts the verdict and the layer and check that
// caught the fault; -zoo.table writes the result table as Markdown (zoo/README.md).
package zoo
