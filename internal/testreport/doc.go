// Package testreport reads the reports an application's own test suite writes and compares the
// report of the OLD image with the report of the NEW one, test by test. It is the parsing half of
// Layer 3 (functional): the runtime that runs a suite inside each image hands the files it
// collects to Parse, and Diff turns two reports into regressions, fixes, pre-existing failures,
// new, removed, quarantined and flaky tests.
//
// Every format maps into one small set of outcomes:
//
//	passed   the test ran and passed
//	failed   the test ran and an assertion failed
//	errored  the test, or the suite around it, could not run to an assertion: an exception outside
//	         an assertion, a build failure, a suite that failed to load, a crashed package
//	skipped  the test did not run on purpose (skipped, ignored, disabled, pending)
//	todo     the test is declared as not written or not expected to pass yet; never a failure
//
// Formats and their mapping:
//
//   - "junit" (JUnit XML as written by Maven surefire, pytest, jest-junit, go-junit-report,
//     xUnit.net, PHPUnit, Bazel, mocha-junit-reporter …): a <testcase> with <error> is errored,
//     with <failure> failed, with <skipped> (or status="disabled"/"skipped"/"notrun" and no result
//     element) skipped, otherwise passed; when a testcase holds several result elements the most
//     severe wins (error > failure > skipped). Surefire's <flakyFailure>/<flakyError> are failed
//     attempts before a pass (Flaky, Attempts = 1 + their number); <rerunFailure>/<rerunError>
//     are failed reruns of a test that failed. Test suites nest to any depth and the root may be
//     <testsuites> or <testsuite>. Testcases repeated with the same suite, classname and name are
//     separate invocations (TestNG data providers, parameterised tests), not reruns: nothing in
//     the file says otherwise, so each is a Case of its own, the later ones with the ID suffix
//     "#2", "#3" … in file order, and they are compared with the other report by that position
//     (Gradle's test-retry plugin writes retries so too unless reports.junitXml.mergeReruns is
//     set, which makes it write surefire's flaky elements). A testcase
//     without a name is named "#N" after its position. Totals.Declared holds the tests=,
//     failures=, errors=, skipped= (+ disabled=) of the outermost suites, or of <testsuites>
//     when the suites declare nothing; a suite may declare tests it does not list. Colour codes
//     and other control characters XML forbids are dropped; UTF-8 and ISO-8859-1 are read.
//   - "jest" (jest --json): assertionResults[].status passed → passed, failed → failed,
//     pending/skipped/disabled → skipped, todo → todo; any other status is an error. A test file
//     that failed without a failing test (it failed to run, or a hook failed) adds an errored
//     case named "Test suite failed to run". invocations is Attempts, and a pass after more than one
//     invocation (or with retryReasons) is Flaky: Jest writes retryReasons only with
//     logErrorsBeforeRetry. Test files are named relative to the directory all of them share
//     (Jest writes absolute paths under its rootDir), so a suite run from another folder keeps
//     its IDs. wasInterrupted is ErrIncomplete. Declared: numTotalTests, numFailedTests,
//     numPendingTests, numTodoTests.
//   - "mocha-json" (mocha --reporter json): tests[] in pending[] are skipped, with a non-empty err
//     failed, otherwise passed; failures[] that are not tests (a failing hook) are errored.
//     currentRetry+1 is Attempts, a pass after a retry is Flaky. Files are named relative
//     to the directory all of them share, as in Jest. Declared: stats.
//   - "gotest-json" (go test -json, test2json events): a test's pass/fail/skip action is its
//     outcome; subtests ("TestA/sub") and their parents are all cases. A test still running when
//     its package failed (a panic, a timeout) failed. A package that failed while none of its tests
//     failed gets an errored case: "[build failed]" (the FailedBuild field of Go 1.24+, or the
//     plain-text "FAIL pkg [build failed]" line older go commands print), "[setup failed]", or
//     "Failure" (a panic in init, an exit from TestMain, a race outside a test) — the names
//     go-junit-report gives them, so both formats of one run share IDs. A test run several times
//     in one package run (-count, reruns) merges into one Case whose outcome is the most severe
//     (errored > failed > passed > todo > skipped), Attempts is the number of runs and Flaky is
//     set when the runs disagree between pass and fail. A package without a final action means the stream was
//     cut: ErrMalformed. Plain `go test -v` text is not this format.
//   - "tap" (TAP 13 and 14, node --test, tap, Test::More/Test2): "ok" passed, "not ok" failed,
//     a "# SKIP…" directive skipped and "# TODO…" todo whatever ok says (case-insensitive; the
//     directive word only has to start with SKIP or TODO, as tapjs reads it). Subtests, indented
//     (with or without "# Subtest:") or buffered ("ok 1 - name {" … "}"), contribute their leaf
//     test points under their name; a subtest's closing point is a case only when it failed while
//     none of its leaves did. The message comes from the YAML diagnostics block (message: or
//     error:, else the whole block); "# time=" and duration_ms give durations. A missing plan, a
//     plan that does not match the number of test points, or a last test point or plan without
//     its line end is ErrMalformed (a truncated stream); "Bail out!" is ErrIncomplete. A test
//     point without a description is named "#N" after its number.
//
// Only in go test is a repeated ID a rerun, as the format says so; in JUnit, Jest, mocha and TAP
// it is a different test or invocation that happens to share a title (data providers, test.each,
// unnamed asserts), so later occurrences get the ID suffix "#2", "#3" … in file order.
//
// A Case's ID is Suite + "/" + Name (or Name alone without a suite). Suite is the grouping the
// format gives: the package for go test, the file for Jest and mocha, the subtest path for TAP,
// and for JUnit the nested suite names followed by the classname when it differs from the
// innermost suite name; levels are joined with " > ", as are Jest's describe blocks in Name.
//
// Malformed or truncated input (cut XML or JSON, missing plan, empty input) is an error wrapping
// ErrMalformed, never a partial report.
package testreport
