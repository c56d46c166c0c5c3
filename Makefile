# infer — build, test and run. `make test` and `make run` are the only set-up a user needs.
MODELS_DIR ?= $(CURDIR)/models
export INFER_MODELS_DIR := $(MODELS_DIR)
SWIFT ?= swift

.PHONY: all build release deb install deps models peers test fuzz run bench bench-http bench-gateway bench-upstream clean

all: build

## Debian packages: libsystemd-dev (the CSystemd module), pkg-config, and what the model fetch needs.
deps:
	scripts/install-deps.sh

models: deps
	scripts/fetch-models.sh "$(MODELS_DIR)"

## llama.cpp's OpenAI-compatible server in .venv-peers, the upstream peer of the gateway tests
## (compiles llama.cpp the first time on a machine: minutes; docs/peers/llama-server.md).
peers: models
	scripts/install-upstream-peers.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## The Debian package, dist/infer_VERSION_ARCH.deb (VERSION from git, 0.0~gitN.HASH; VERSION=... overrides):
## the executables and the Swift runtime libraries they load, units, sysusers/tmpfiles entries, /etc/infer
## conffiles, man pages, maintainer scripts (packaging/deb/). docs/PACKAGING.md. Install it with
## `sudo apt install ./dist/infer_*.deb`.
deb: release
	scripts/build-deb.sh

## The same files without a package, for systems without dpkg: executables in $(PREFIX)/lib/infer (the
## Swift runtime in $(PREFIX)/lib/infer/swift), inferctl in $(PREFIX)/bin, units in
## $(PREFIX)/lib/systemd/system, configuration in /etc/infer (never replaced), man pages. DESTDIR stages them. Then, as root: systemd-sysusers; systemd-tmpfiles --create;
## systemctl daemon-reload; infer-fetch-models; inferctl keys create ...; systemctl enable --now infer.target.
PREFIX ?= /usr/local
install: release
	BUILD_DIR="$(CURDIR)/.build/release" DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install.sh

## Every test: unit tests of the engine against the reference outputs, and the rest of the suite.
test: models
	scripts/install-test-tools.sh
	scripts/install-upstream-peers.sh
	scripts/install-litellm.sh
	scripts/run-tests.sh

## Every parser of outside input under libFuzzer + AddressSanitizer for FUZZ_SECONDS each (fuzz/README.md):
## HTTP, IPC frames and messages, frontd's JSON, GGUF, safetensors, the keys file, the registry, env files.
FUZZ_SECONDS ?= 60
fuzz:
	fuzz/run-fuzzers.sh $(FUZZ_SECONDS)

## Builds in release mode and starts the whole stack (six daemons under inferctl, as systemd would);
## Ctrl-C stops it. RUN_DIR, PORT, METRICS_PORT and KEYS_FILE can be overridden. The API keys file is
## ./state/keys.json (yours, gitignored); when it has no key, a first one is made and shown once in the
## ready banner's curl lines. More: .build/release/inferctl keys create NAME --scopes infer,embed --file state/keys.json
RUN_DIR ?= /tmp/infer-run
PORT ?= 8080
METRICS_PORT ?= 9464
KEYS_FILE ?= $(CURDIR)/state/keys.json
run: models release
	@mkdir -p "$(RUN_DIR)" "$(dir $(KEYS_FILE))"
	.build/release/inferctl up --runtime-dir "$(RUN_DIR)" --bin-dir "$(CURDIR)/.build/release" \
		--registry "$(CURDIR)/config/models.json" --port $(PORT) --metrics-port $(METRICS_PORT) \
		--keys-file "$(KEYS_FILE)" --first-key

## Engine benchmark (release build): decode, batching, prefill, embeddings, RSS; with peers when installed.
bench: models release
	bench/run-engine-bench.sh

## Raw HTTP benchmark (release build): the HTTP target against nginx, both under wrk -t2 -c64.
bench-http:
	scripts/install-deps.sh wrk nginx-light
	bench/run-http-bench.sh

## Gateway benchmarks (release build): the cache-hit path against nginx; infer in front of llama.cpp's server.
bench-gateway:
	bench/run-gateway-bench.sh
bench-upstream:
	bench/run-upstream-bench.sh

clean:
	rm -rf .build dist
