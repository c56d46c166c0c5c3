# infer — build, test and run. `make test` and `make run` are the only set-up a user needs.
MODELS_DIR ?= $(CURDIR)/models
export INFER_MODELS_DIR := $(MODELS_DIR)
SWIFT ?= swift

.PHONY: all build release deps models test run bench bench-http clean

all: build

## Debian packages: libsystemd-dev (the CSystemd module), pkg-config, and what the model fetch needs.
deps:
	scripts/install-deps.sh

models: deps
	scripts/fetch-models.sh "$(MODELS_DIR)"

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Every test: unit tests of the engine against the reference outputs, and the rest of the suite.
test: models
	scripts/run-tests.sh

## Builds in release mode and runs the engine by hand on the default models.
run: models release
	@echo "== modeld generate (SmolLM2-135M-Instruct, chat, greedy) =="
	.build/release/modeld generate --chat --max-tokens 64 --prompt "What is the capital of France?"
	@echo "== modeld embed (all-MiniLM-L6-v2) =="
	.build/release/modeld embed "hello world" | cut -c1-120
	@echo
	@echo "Try: .build/release/modeld generate --chat --temperature 0.7 --prompt 'Tell me a story'"
	@echo "     .build/release/modeld embed 'some text' 'another text'"

## Engine benchmark (release build): decode, batching, prefill, embeddings, RSS; with peers when installed.
bench: models release
	bench/run-engine-bench.sh

## Raw HTTP benchmark (release build): the HTTP target against nginx, both under wrk -t2 -c64.
bench-http:
	scripts/install-deps.sh wrk nginx-light
	bench/run-http-bench.sh

clean:
	rm -rf .build
