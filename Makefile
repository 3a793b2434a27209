# parvis — see README.md. Every target that needs root says so.
CARGO ?= cargo
BIN := target/debug/parvis

.PHONY: demo test lint unit bench ha-bench image image-test deps clean-lab

## make demo: the lab topology with the daemon running in it (root)
demo:
	scripts/deps.sh run
	$(CARGO) build --bin parvis
	$(BIN) lab

## make test: formatting, clippy (warnings are errors), unit and root integration
## tests, and a short run of every fuzz target (docs/fuzzing.md)
test: lint
	scripts/deps.sh test
	$(CARGO) test --lib --bins --tests -- --test-threads=2
	scripts/fuzz-smoke.sh

## make lint: formatting, the import graph's layers (scripts/layers.py), clippy
## (also on the image's build, without the `lab` feature)
lint:
	$(CARGO) fmt --all -- --check
	scripts/layers.py
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --no-default-features --lib --bins -- -D warnings

## make bench: the benchmark programs, printing figures side by side (root)
bench:
	scripts/deps.sh test
	$(CARGO) build --release --bin parvis
	$(CARGO) bench

## make ha-bench: failover figures of the pair (root; several minutes)
ha-bench:
	scripts/deps.sh test
	$(CARGO) build --bin parvis
	nice -n 10 $(CARGO) bench --profile dev --bench ha -- $(HA_BENCH_ARGS)

## make image: target/image/parvis.qcow2 (root)
image:
	image/build.sh

## make image-test: boot the image under qemu and send traffic through it (root)
image-test:
	image/test.sh
