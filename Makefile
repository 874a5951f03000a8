# The two set-up commands of the README: `make demo` and `make test`. Each installs what it needs
# and is missing first (scripts/install-deps.sh GROUP; idempotent: with all there it only checks).
PRESET ?= ci
# The interpreter the virtual environment is made from: Debian's python3 unless you point PYTHON
# at another (a pyenv shim is fine: the venv records the interpreter behind it). Python packages
# (pybind11, pytest, scikit-build-core) go into VENV, never into that interpreter.
PYTHON ?= /usr/bin/python3
VENV ?= .venv
# The venv's interpreter: it runs the tests and the demo, and CMake builds the module for it.
PYTHON_EXE := $(abspath $(VENV))/bin/python
INSTALL_DEPS = PYTHON=$(PYTHON) EE_VENV=$(abspath $(VENV)) bash scripts/install-deps.sh
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
ARGS ?=
# The libFuzzer targets (fuzz/, docs/fuzzing.md): a separate clang build with ASan and UBSan of
# only the sources the parsers need.
FUZZ_BUILD ?= build/fuzz
FUZZ_CXX ?= clang++-14
FUZZ_TEST_SECONDS ?= 25
FUZZ_RUNS ?= 10000000
FUZZ_TIME ?= 0
FUZZ_JOBS ?= 1

.PHONY: all deps configure build test test-cpp test-python test-fuzz fuzz-build fuzz fuzz-merge \
	demo clean dist container

all: build

# Everything `make test` uses; deps-<group> installs one group (scripts/install-deps.sh): configure
# (and so build, dist) the build group, container the container group too.
deps:
	@$(INSTALL_DEPS) test

.PHONY: deps-build deps-demo deps-fuzz deps-vm deps-image deps-container
deps-build deps-demo deps-fuzz deps-vm deps-image deps-container:
	@$(INSTALL_DEPS) $(@:deps-%=%)

configure: deps-build
	@cmake --preset $(PRESET) -DPython_EXECUTABLE=$(PYTHON_EXE) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

test: deps build
	@$(MAKE) --no-print-directory test-cpp test-python test-fuzz

test-cpp:
	@ctest --preset $(PRESET) -j $(JOBS)

test-python:
	@PYTHONPATH=$(CURDIR)/$(BUILD_DIR)/python EE_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) \
	  $(PYTHON_EXE) -m pytest -q tests/python

# Each fuzzer for FUZZ_TEST_SECONDS on the repository's corpus, JOBS at a time.
test-fuzz: fuzz-build
	@ctest --test-dir $(FUZZ_BUILD) -j $(JOBS) --output-on-failure

fuzz-build: deps-fuzz
	@cmake -S fuzz -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DEE_FUZZ_TEST_SECONDS=$(FUZZ_TEST_SECONDS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

# A campaign: FUZZ_RUNS executions per target (FUZZ_TIME seconds at most when not 0), FUZZ_JOBS
# targets at a time, FUZZ_TARGETS="fuzz_json ..." for a subset. New inputs stay in
# $(FUZZ_BUILD)/campaign/; `make fuzz-merge` adds those that add coverage to fuzz/corpus/.
fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_TIME=$(FUZZ_TIME) FUZZ_JOBS=$(FUZZ_JOBS) \
	  bash scripts/fuzz.sh campaign

fuzz-merge: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) bash scripts/fuzz.sh merge

# The guest image (docs/image.md): `make image TARGET=local|gcp|azure [PROFILE=full|test]
# [KERNEL=backports|stable] [CLOUDFLARED=/path/to/cloudflared]`, into build/image/$(TARGET)/ with
# its manifest.json. Needs root. KERNEL=stable (Debian 12's 6.1) cannot attest on TDX.
TARGET ?= local
PROFILE ?= full
KERNEL ?= backports
CLOUDFLARED ?=
.PHONY: image
image: deps-image build
	@bash image/build.sh --target $(TARGET) --profile $(PROFILE) --kernel $(KERNEL) \
	  --build-dir $(BUILD_DIR) --out build/image/$(TARGET) $(if $(CLOUDFLARED),--cloudflared $(CLOUDFLARED))

# Only what the demo uses: no QEMU, podman or kernel (install-deps.sh demo).
demo: deps-demo configure
	@cmake --build --preset $(PRESET) -j $(JOBS) --target ee-cp ee-agent ee ee-fake-github ee-fake-ita _core
	@EE_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) $(PYTHON_EXE) scripts/demo $(ARGS)

# Release tarballs in dist/ (docs/packaging.md): the programs stripped and their debug files in a
# tarball of their own, library, headers, pkg-config and CMake files, units, sample configuration,
# docs, SHA256SUMS; then unpacked and checked.
dist: configure
	@cmake --build --preset $(PRESET) -j $(JOBS) --target easyenclave ee ee-cp ee-agent
	@bash scripts/make-dist.sh $(BUILD_DIR) dist
	@python3 tests/packaging/packaging_test.py dist --dist-dir dist --source-dir . \
	  --version $$($(BUILD_DIR)/cli/ee-cp --version)

# The ee-cp container image from a Debian 12 base made once with debootstrap (installed when
# missing), then run on loopback and checked; and the systemd units started by a real systemd in
# a container made from the same base (docs/packaging.md).
container: deps-container configure
	@cmake --build --preset $(PRESET) -j $(JOBS) --target ee ee-cp ee-agent
	@bash scripts/build-container.sh $(BUILD_DIR) --test
	@bash scripts/test-systemd-units.sh $(BUILD_DIR)

clean:
	rm -rf build

# The Python package: a portable (manylinux) wheel and an sdist in dist/, the wheel built from the
# sdist; the build tools go into a venv of their own (scripts/build-wheel, docs/packaging.md).
.PHONY: wheel
wheel: deps
	@PYTHON=$(PYTHON) bash scripts/build-wheel dist
