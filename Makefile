# Vigil build, test and benchmark entry points. Everything here needs only Go
# (and, for `make proto`, protoc); `make test` installs nothing.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/vigil-sec/vigil/agent.Version=$(VERSION) -X github.com/vigil-sec/vigil/hub.Version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
# nfpm builds the .deb and .rpm packages (packaging/README.md); the tests in
# packaging/nfpm read this line too.
NFPM := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
DIST := dist
PKG_VERSION ?= $(shell sh packaging/nfpm/version.sh)
PKG_ARCH ?= $(shell $(GO) env GOARCH)

.PHONY: all build packages demo test test-short test-race bench fuzz lint proto clean images

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/vigil-agent ./agent/cmd/vigil-agent
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/vigil-hub ./hub/cmd/vigil-hub
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/sysloggen ./test/sysloggen

# FROM-scratch container images vigil-hub:$(IMAGE_TAG) and
# vigil-agent:$(IMAGE_TAG) (packaging/docker). Each build context holds only
# the static binaries and an empty state directory, nothing of the tree.
IMAGE_TAG ?= latest
IMAGE_CTX := $(BIN)/images
images:
	rm -rf $(IMAGE_CTX)
	mkdir -p $(IMAGE_CTX)/hub/state $(IMAGE_CTX)/agent/state
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(IMAGE_CTX)/hub/vigil-hub ./hub/cmd/vigil-hub
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(IMAGE_CTX)/hub/vigil-oneshot ./packaging/docker/oneshot
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(IMAGE_CTX)/agent/vigil-agent ./agent/cmd/vigil-agent
	docker build -t vigil-hub:$(IMAGE_TAG) -f packaging/docker/Dockerfile.hub $(IMAGE_CTX)/hub
	docker build -t vigil-agent:$(IMAGE_TAG) -f packaging/docker/Dockerfile.agent $(IMAGE_CTX)/agent

# vigil-agent and vigil-hub as .deb and .rpm in dist/, from the binaries of
# `make build`. Version: packaging/nfpm/version.sh (0.0.0~git<N>.<hash> before
# the first tag); GOARCH=arm64 make packages cross-builds.
packages: build
	rm -f $(DIST)/vigil-agent[_-]*.deb $(DIST)/vigil-agent-*.rpm $(DIST)/vigil-hub[_-]*.deb $(DIST)/vigil-hub-*.rpm
	mkdir -p $(DIST)
	@test -n "$(PKG_VERSION)" || (echo "no package version (packaging/nfpm/version.sh failed)"; exit 1)
	for pkg in vigil-agent vigil-hub; do \
		for fmt in deb rpm; do \
			VIGIL_VERSION='$(PKG_VERSION)' VIGIL_ARCH='$(PKG_ARCH)' VIGIL_BIN='$(CURDIR)/$(BIN)' \
			SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
			$(GO) run $(NFPM) package -f packaging/nfpm/$$pkg.yaml -p $$fmt -t $(DIST)/ || exit 1; \
		done; \
	done

# A single-node hub, an enrolled agent and real syslog through a real socket,
# all under ./.vigil-demo/.
demo: build
	bash test/demo/demo.sh

# Unit, integration, fuzz-seed and multi-process end-to-end tests.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

test-short:
	$(GO) test -count=1 -short ./...

test-race:
	$(GO) test -count=1 -race -short ./...

# Benchmarks print one "name value unit" line per figure.
bench: build
	$(GO) run ./bench/cmd/vigil-bench

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReader -fuzztime $(FUZZTIME) ./protocol/frame
	$(GO) test -run '^$$' -fuzz FuzzSplitRecords -fuzztime $(FUZZTIME) ./protocol/event
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./plugins/builtin/rfc3164
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./plugins/builtin/rfc5424
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./plugins/builtin/syslog
	$(GO) test -run '^$$' -fuzz FuzzCheckpointDecode -fuzztime $(FUZZTIME) ./agent/inputs/file
	$(GO) test -run '^$$' -fuzz FuzzDecodeLog -fuzztime $(FUZZTIME) ./hub/raftstore

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Regenerates protocol/*pb from protocol/proto and the plugin wire format
# plugins/sdk/internal/pluginpb from plugins/sdk/proto; needs protoc (apt-get install
# protobuf-compiler). The generated code is committed, so builds never need it.
proto:
	$(GO) install $(PROTOC_GEN_GO)
	protoc --plugin=$$($(GO) env GOPATH)/bin/protoc-gen-go -I protocol/proto \
		--go_out=. --go_opt=module=github.com/vigil-sec/vigil protocol/proto/*.proto
	protoc --plugin=$$($(GO) env GOPATH)/bin/protoc-gen-go -I plugins/sdk/proto \
		--go_out=. --go_opt=module=github.com/vigil-sec/vigil plugins/sdk/proto/*.proto

clean:
	rm -rf $(BIN) $(DIST) .vigil-demo
