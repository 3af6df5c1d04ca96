# postern — the developer's entry points; everything real lives in CMake.
#   make            build (release preset: optimised, with debug info)
#   make test       everything CI runs: unit tests, system tests, fuzz smoke runs
#   make run        a private instance from the build tree, in the foreground
#   make install PREFIX=DIR   a relocatable tree under DIR
#   make asan       unit tests built with ASan+UBSan
#   make asan-system  the system tests against ASan+UBSan binaries (each test
#                   fails on a sanitizer report; SYSTEM_TESTS="tests/system/test_x.py")
#   make bench      benchmarks against Postfix (prints figures, not a test;
#                   BENCH_ARGS="--quick" or "--scenarios relay,latency")
PRESET  ?= release
BUILD   := build/$(PRESET)
PREFIX  ?= /usr/local
PYTHON  := /usr/bin/python3
FUZZ_SECONDS ?= 20
# System test files run side by side (pytest-xdist, a file per worker: its
# module fixtures stay in one process); the tests mostly wait on daemons, so
# more workers than cores pays. SYSTEM_JOBS=0 runs them one after another.
SYSTEM_JOBS ?= 3

.PHONY: all deps configure build test unit system fuzz asan asan-system install run bench clean

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
	POSTERN_BIN=$(CURDIR)/$(BUILD)/bin $(PYTHON) -m pytest -q -p no:cacheprovider \
	  -n $(SYSTEM_JOBS) --dist loadfile tests/system

fuzz: deps
	@test -f build/fuzz/build.ninja || cmake --preset fuzz >/dev/null
	cmake --build build/fuzz
	tests/fuzz/smoke build/fuzz/bin $(FUZZ_SECONDS)

test: unit system fuzz

asan:
	$(MAKE) PRESET=asan unit

# Daemons run until killed, so leak checking (a report at exit) stays off here:
# `make asan` checks leaks in the unit tests. A report aborts the process and is
# written to a file that tests/system/conftest.py turns into a test failure.
SYSTEM_TESTS ?= tests/system
SAN_COMMON := abort_on_error=1:halt_on_error=1:print_stacktrace=1
asan-system:
	$(MAKE) PRESET=asan build
	ASAN_OPTIONS=detect_leaks=0:$(SAN_COMMON) UBSAN_OPTIONS=$(SAN_COMMON) \
	POSTERN_BIN=$(CURDIR)/build/asan/bin $(PYTHON) -m pytest -q -p no:cacheprovider $(SYSTEM_TESTS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

run: build
	scripts/run-instance $(CURDIR)/$(BUILD)/bin $(CURDIR)/run

bench:
	$(MAKE) PRESET=release build
	bench/run $(CURDIR)/build/release/bin $(BENCH_ARGS)

clean:
	rm -rf build
