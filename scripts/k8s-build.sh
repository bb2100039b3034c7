#!/usr/bin/env bash
# Build a real Kubernetes control plane from the Go module proxy, once, into a cache directory:
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl (k8s.io/kubernetes through a
# wrapper module that replaces every staging module with its published version), etcd 3.6 (Debian's
# 3.4 is too old for recent client-go watches) and kwok (simulates a node so pods become Ready),
# plus kwok's stage configuration. The tests of Kubernetes delivery start their cluster from these.
# For the tests that run real containers it also builds kubelet (same wrapper module), the CNI
# loopback plugin (the node's only network plugin: test pods use the host network) and a static
# pause binary (the pod sandbox's process; kubetest packs it into an image FROM scratch).
#
# The cache is keyed on the versions, so a warm run is a no-op; a cold build takes ~10-35 minutes on
# 2 cores. Prints the directory holding bin/ and kwok-stages.yaml.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CNI_PLUGINS_VERSION=${CNI_PLUGINS_VERSION:-v1.9.1}
CACHE=${PLIMSOLL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plimsoll}
DIR=$CACHE/k8s/$K8S_VERSION-etcd$ETCD_VERSION-kwok$KWOK_VERSION
BIN=$DIR/bin
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

k8s_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)
want=("${k8s_cmds[@]}" etcd kwok cni/loopback pause)
done_already() {
  for b in "${want[@]}"; do [ -x "$BIN/$b" ] || return 1; done
  [ -s "$DIR/kwok-stages.yaml" ]
}
if done_already; then echo "$DIR"; exit 0; fi
mkdir -p "$BIN" "$DIR/src"
log() { echo "k8s-build: $*" >&2; }

missing_k8s=()
for c in "${k8s_cmds[@]}"; do [ -x "$BIN/$c" ] || missing_k8s+=("$c"); done
if [ ${#missing_k8s[@]} -gt 0 ]; then
  w=$DIR/src/kubernetes; mkdir -p "$w"; cd "$w"
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  mod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
  staging=v0.${K8S_VERSION#v1.}
  { printf 'module plimsoll.local/k8sbuild\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    grep -E '^\s+k8s.io/[a-z0-9-]+ => ./staging/' "$mod" | awk -v v="$staging" '{print "\t"$1" => "$1" "v}'
    echo ')'; } > go.mod
  tools=(); for c in "${missing_k8s[@]}"; do tools+=("k8s.io/kubernetes/cmd/$c@$K8S_VERSION"); done
  go get -tool "${tools[@]}" >&2
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  for c in "${missing_k8s[@]}"; do
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

if ! [ -x "$BIN/cni/loopback" ]; then
  log "building the CNI loopback plugin $CNI_PLUGINS_VERSION"
  mkdir -p "$BIN/cni"
  GOBIN=$DIR/src/cnibin CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "github.com/containernetworking/plugins/plugins/main/loopback@$CNI_PLUGINS_VERSION"
  mv "$DIR/src/cnibin/loopback" "$BIN/cni/loopback"
fi

if ! [ -x "$BIN/pause" ]; then
  # The pod sandbox's process: waits for SIGINT or SIGTERM, reaps the zombies it inherits.
  log "building pause"
  w=$DIR/src/pause; mkdir -p "$w"
  printf 'module plimsoll.local/pause\n\ngo 1.24.0\n' > "$w/go.mod"
  cat > "$w/main.go" <<'EOF'
// Command pause is a pod sandbox's process.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			if pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
EOF
  (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/pause.tmp" .)
  mv "$BIN/pause.tmp" "$BIN/pause"
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
