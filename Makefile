# plimsoll — make targets. `make demo` is the main job; `make test` runs every test.
GO ?= go

.PHONY: setup build demo test bench fuzz zoo zoo-full clean

setup:            ## docker engine up (installed if missing) and bin/plimsoll built
	bash scripts/setup.sh

build:
	$(GO) build -o bin/plimsoll ./cmd/plimsoll

demo: setup       ## build the two demo images and check the upgrade
	bash scripts/demo.sh

test:             ## unit, integration and end-to-end tests against the real Docker engine and a local Kubernetes control plane
	bash scripts/setup.sh --test
	$(GO) vet ./...
	PLIMSOLL_REQUIRE_DOCKER=1 PLIMSOLL_REQUIRE_K8S=1 $(GO) test -count=1 -timeout 60m ./...

bench:            ## start-up of the binary, Layer 1 cold/warm on the Alpine pair, image facts
	$(GO) test -run '^$$' -bench Startup -benchtime 20x ./cmd/plimsoll/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/scan/syft/ ./internal/image/ ./internal/runtime/docker/

zoo:              ## every image pair of the regression zoo; rewrites zoo/README.md
	$(GO) test ./test/zoo -run TestZoo -count=1 -timeout 20m -args -zoo.table=$(CURDIR)/zoo/README.md

zoo-full:         ## the zoo's slow cases in full: the seed's Layer 4 and a 5-minute soak
	$(GO) test ./test/zoo -run TestZoo -count=1 -timeout 90m -args -zoo.full

fuzz:             ## each fuzz target for 20 s
	bash scripts/fuzz.sh 20s

clean:
	rm -rf bin demo/report demo/.vulndb
