#!/usr/bin/env bash
# The demo: build two versions of the demo app image locally (no registry needed), build a
# small vulnerability database from demo/vulndb.yaml, and let plimsoll decide whether
# plimsoll-demo:1.0.1 may replace plimsoll-demo:1.0.0. Reports land in demo/report/.
set -euo pipefail
cd "$(dirname "$0")/.."

plimsoll=${PLIMSOLL:-bin/plimsoll}
report=${DEMO_REPORT_DIR:-demo/report}
vulndb=${DEMO_VULNDB:-demo/.vulndb}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/demo-app" ./demo/app
cp -r demo/old demo/new demo/Dockerfile "$work/"
build() { # VERSION APP_VERSION: quiet unless it fails (the legacy builder warns on every build)
  docker build -q --build-arg VERSION="$1" --build-arg APP_VERSION="$2" -t "plimsoll-demo:$2" "$work" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; exit 1; }
}
build old 1.0.0
build new 1.0.1

"$plimsoll" vulndb build demo/vulndb.yaml --out "$vulndb" >/dev/null

set +e
"$plimsoll" check plimsoll-demo:1.0.0 plimsoll-demo:1.0.1 \
  --policy demo/policy.yaml --vuln-db "$vulndb" --sbom-dir "$report/sbom" --report-dir "$report" "$@"
code=$?
set -e
echo "demo: plimsoll exited $code; reports in $report/" >&2
# A decision (GO 0, CAUTION 10, NO-GO 20) is what the demo is for; anything else is a failure.
case $code in 0|10|20) exit 0 ;; *) exit "$code" ;; esac
