#!/usr/bin/env bash
# Set up a machine for plimsoll: make sure a Docker engine answers (installing Debian's
# docker.io and starting dockerd in the background when none does) and build bin/plimsoll.
# With --test it also installs what the tests use: Debian's static busybox (put into test
# images FROM scratch), PostgreSQL (the store's tests start their own server on 127.0.0.1) and
# Chromium (the HTML report is opened in a real headless browser), Debian's containerd (the
# private container runtime of the tests' real Kubernetes node; docker.io usually brings it),
# and builds the Kubernetes control plane and node the tests start (scripts/k8s-build.sh).
# Safe to run again: it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

docker_answers() { docker info >/dev/null 2>&1; }

missing=()
command -v dockerd >/dev/null 2>&1 || docker_answers || missing+=(docker.io)
if [ "${1:-}" = "--test" ]; then
  dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  { dpkg -s containerd >/dev/null 2>&1 && [ -x /usr/sbin/runc ]; } || missing+=(containerd runc)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker_answers; then
  echo "setup: starting dockerd" >&2
  mkdir -p /var/log
  nohup dockerd >/var/log/plimsoll-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker_answers && break
    sleep 1
  done
  docker_answers || { echo "setup: dockerd did not come up; see /var/log/plimsoll-dockerd.log" >&2; exit 1; }
fi

if [ "${1:-}" = "--test" ]; then
  # The Kubernetes control plane the delivery tests run, and the kubelet of the real node the
  # pod runtime's tests run containers on: built from the Go module proxy once,
  # then cached (a cold build takes 10-35 minutes on 2 cores; a warm one is instant).
  echo "setup: Kubernetes control plane and node binaries (cached under ~/.cache/plimsoll/k8s)" >&2
  bash scripts/k8s-build.sh >/dev/null
fi

echo "setup: building bin/plimsoll" >&2
mkdir -p bin
go build -o bin/plimsoll ./cmd/plimsoll  # same flags as the tests, so both share one build cache
echo "setup: ready ($(bin/plimsoll version), docker $(docker version --format '{{.Server.Version}}'))" >&2
