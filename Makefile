# postern — the developer's entry points; everything real lives in CMake.
#   make            build (release preset: optimised, with debug info)
#   make test       everything CI runs: unit tests, system tests, fuzz smoke runs
#   make run        a private instance from the build tree, in the foreground
#   make install PREFIX=DIR   a relocatable tree under DIR
#   make bench      benchmarks against Postfix (prints figures, not a test;
#                   BENCH_ARGS="--quick" or "--scenarios relay,latency")
PRESET  ?= release
BUILD   := build/$(PRESET)
PREFIX  ?= /usr/local
PYTHON  := /usr/bin/python3
FUZZ_SECONDS ?= 20

.PHONY: all deps configure build test unit system fuzz asan install run bench clean

all: build

deps:
	@scripts/install-deps --if-missing

configure: deps
	@test -f $(BUILD)/build.ninja || cmake --preset $(PRESET) >/dev/null

build: configure
	cmake --build $(BUILD)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j2 --timeout 300

system: build
	POSTERN_BIN=$(CURDIR)/$(BUILD)/bin $(PYTHON) -m pytest -q -p no:cacheprovider tests/system

fuzz: deps
	@test -f build/fuzz/build.ninja || cmake --preset fuzz >/dev/null
	cmake --build build/fuzz
	tests/fuzz/smoke build/fuzz/bin $(FUZZ_SECONDS)

test: unit system fuzz

asan:
	$(MAKE) PRESET=asan unit

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

run: build
	scripts/run-instance $(CURDIR)/$(BUILD)/bin $(CURDIR)/run

bench:
	$(MAKE) PRESET=release build
	bench/run $(CURDIR)/build/release/bin $(BENCH_ARGS)

clean:
	rm -rf build
