# CryptoScalper. `make demo` and `make test` each install what is missing first (`make setup`).
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: setup build test demo bench soak clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

# OMP_WAIT_POLICY=PASSIVE: libgomp threads sleep when idle instead of spinning. The suite runs many
# XGBoost processes at once on few cores, where spinning only burns the time the others need
# (scalper walk-forward alone: 30 % less CPU).
test: setup
	$(SWIFT) build --build-tests
	OMP_WAIT_POLICY=PASSIVE $(SWIFT) test --skip-build

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
