#!/usr/bin/env bash
# Build a real Kubernetes control plane from the Go module proxy, once, into a cache directory:
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl (k8s.io/kubernetes through a
# wrapper module that replaces every staging module with its published version), etcd 3.6 (Debian's
# 3.4 is too old for recent client-go watches) and kwok (simulates a node so pods become Ready),
# plus kwok's stage configuration. The tests of Kubernetes delivery start their cluster from these.
#
# The cache is keyed on the versions, so a warm run is a no-op; a cold build takes ~10-35 minutes on
# 2 cores. Prints the directory holding bin/ and kwok-stages.yaml.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CACHE=${PLIMSOLL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plimsoll}
DIR=$CACHE/k8s/$K8S_VERSION-etcd$ETCD_VERSION-kwok$KWOK_VERSION
BIN=$DIR/bin
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

want=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)
done_already() {
  for b in "${want[@]}"; do [ -x "$BIN/$b" ] || return 1; done
  [ -s "$DIR/kwok-stages.yaml" ]
}
if done_already; then echo "$DIR"; exit 0; fi
mkdir -p "$BIN" "$DIR/src"
log() { echo "k8s-build: $*" >&2; }

if ! [ -x "$BIN/kube-apiserver" ] || ! [ -x "$BIN/kube-controller-manager" ] || ! [ -x "$BIN/kube-scheduler" ] || ! [ -x "$BIN/kubectl" ]; then
  w=$DIR/src/kubernetes; mkdir -p "$w"; cd "$w"
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  mod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
  staging=v0.${K8S_VERSION#v1.}
  { printf 'module plimsoll.local/k8sbuild\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    grep -E '^\s+k8s.io/[a-z0-9-]+ => ./staging/' "$mod" | awk -v v="$staging" '{print "\t"$1" => "$1" "v}'
    echo ')'; } > go.mod
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-scheduler@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >&2
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$BIN/$c" ] && continue
    log "building $c $K8S_VERSION"
    go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
      -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
      -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c"
    mv "$BIN/$c.tmp" "$BIN/$c"
  done
fi

if ! [ -x "$BIN/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  w=$DIR/src/etcd; mkdir -p "$w"; cd "$w"
  printf 'module plimsoll.local/etcdbuild\n\ngo 1.24.0\n' > go.mod
  go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi

if ! [ -x "$BIN/kwok" ]; then
  log "building kwok $KWOK_VERSION"
  GOBIN=$DIR/src/kwokbin go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$DIR/src/kwokbin/kwok" "$BIN/kwok"
fi

if ! [ -s "$DIR/kwok-stages.yaml" ]; then
  # Standalone kwok has no built-in stages (only kwokctl injects them): take the "fast" ones from
  # the module source. Pods whose image tag ends in ":broken" never become Ready, so tests can
  # simulate a release that never becomes available.
  src=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
  [ -d "$src" ] || go mod download "sigs.k8s.io/kwok@$KWOK_VERSION" 2>/dev/null || (cd "$DIR/src" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" >/dev/null)
  {
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo '---'
      if [ "$f" = pod/fast/pod-ready.yaml ]; then
        # insert one more selector: no container image ending in ":broken"
        awk '{print} /matchExpressions:/ && !done {print "    - key: '"'"'.spec.containers.[] | select( .image | test(\":broken$\") ) | .name'"'"'"; print "      operator: DoesNotExist"; done=1}' "$src/$f"
      else
        cat "$src/$f"
      fi
    done
  } > "$DIR/kwok-stages.yaml.tmp"
  mv "$DIR/kwok-stages.yaml.tmp" "$DIR/kwok-stages.yaml"
fi

done_already || { log "build incomplete in $DIR"; exit 1; }
echo "$DIR"
