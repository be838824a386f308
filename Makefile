# CryptoScalper. `make demo` and `make test` each install what is missing first (`make setup`).
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: setup build test demo bench soak clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: setup
	$(SWIFT) build --product scalper
	scripts/demo.sh

bench: setup
	scripts/bench.sh

# A 29-day lock-step paper session over the sample (a few minutes; not part of test).
soak: setup
	scripts/soak.sh

clean:
	rm -rf .build datasets/demo.sqlite datasets/demo.sqlite-*
