"""The llama.cpp build leaves AMX out and keeps every other instruction set this CPU has.

ggml's AMX kernels crashed on prompt batches on this project's machines. A
``-mno-amx-*`` in CMAKE_C_FLAGS does not keep them out: ggml's ``-march=native``
comes after it on the compile line. The Makefile names the CPU's instruction
sets one by one instead; llama.cpp's system_info shows what the build holds.
"""

import subprocess
from pathlib import Path

import llama_cpp
import pytest

from tests.helpers import ROOT

# /proc/cpuinfo flag -> llama.cpp system_info feature
SIMD = {
    "avx": "AVX", "avx2": "AVX2", "fma": "FMA", "f16c": "F16C", "bmi2": "BMI2", "avx_vnni": "AVX_VNNI",
    "avx512f": "AVX512", "avx512vbmi": "AVX512_VBMI", "avx512_vnni": "AVX512_VNNI", "avx512_bf16": "AVX512_BF16",
}
AMX_CPU = "flags : sse2 sse4_2 avx avx2 fma f16c bmi2 avx512f avx512cd avx512vl avx512dq avx512bw avx512_vnni amx_tile amx_int8 amx_bf16"


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    pytest.fail("no flags line in /proc/cpuinfo")


def cmake_args(*make_vars: str) -> list[str]:
    return subprocess.run(["make", "-s", "cmake-args", *make_vars], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def test_the_installed_build_has_no_amx_kernels():
    info = llama_cpp.llama_print_system_info().decode()
    assert "AMX" not in info, info


def test_the_installed_build_uses_every_simd_extension_this_cpu_has():
    info = llama_cpp.llama_print_system_info().decode()
    have = cpu_flags()
    wanted = [feature for flag, feature in SIMD.items() if flag in have]
    assert "AVX2" in wanted or "AVX" in wanted, "an x86 CPU with AVX is assumed here"
    missing = [feature for feature in wanted if f"{feature} = 1" not in info]
    assert not missing, f"the build lacks {missing} this CPU has: {info}"


@pytest.mark.parametrize("flavour", [[], ["CUDA=1", "CUDA_ARCH=90"]], ids=["cpu", "cuda"])
def test_on_an_amx_cpu_the_build_names_its_instruction_sets_and_leaves_amx_out(flavour):
    args = cmake_args(f"CPU_FLAGS={AMX_CPU}", *flavour)
    assert "-DGGML_NATIVE=OFF" in args and not any("march=native" in a for a in args)
    assert {"-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"} <= set(args)
    assert {"-DGGML_AVX512=ON", "-DGGML_AVX512_VNNI=ON", "-DGGML_AVX2=ON"} <= set(args)
    assert ("-DGGML_CUDA=on" in args) == bool(flavour)


def test_this_machine_builds_with_its_own_instruction_sets():
    args = set(cmake_args())
    have = cpu_flags()
    assert f"-DGGML_AVX2={'ON' if 'avx2' in have else 'OFF'}" in args
    assert f"-DGGML_AVX512={'ON' if 'avx512f' in have else 'OFF'}" in args
