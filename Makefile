# The two set-up commands of the README: `make demo` and `make test`. Both install what is
# missing first (scripts/install-deps.sh is idempotent and only checks when all is present).
PRESET ?= ci
PYTHON ?= python3
# The real interpreter behind any pyenv shim, so CMake builds the module for the python that runs
# the tests (pybind11's own lookup can pick a wrong shim).
PYTHON_EXE := $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null)
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
ARGS ?=

.PHONY: all deps configure build test test-cpp test-python demo clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) -DPython_EXECUTABLE=$(PYTHON_EXE) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	@$(MAKE) --no-print-directory test-cpp test-python

test-cpp:
	@ctest --preset $(PRESET) -j $(JOBS)

test-python:
	@PYTHONPATH=$(CURDIR)/$(BUILD_DIR)/python EE_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) \
	  $(PYTHON) -m pytest -q tests/python

demo: configure
	@cmake --build --preset $(PRESET) -j $(JOBS) --target ee-cp ee-agent ee ee-fake-github ee-fake-ita _core
	@EE_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) $(PYTHON) scripts/demo $(ARGS)

clean:
	rm -rf build
