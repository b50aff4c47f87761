"""The memory estimate against what llama.cpp really allocates, the fallback plan, and flash attention."""

import llama_cpp
import pytest

from storychat.llm.gguf import model_shape, read_metadata
from storychat.llm.llama import EngineOptions, LlamaEngine, _fallbacks, use_flash_attn
from storychat.llm.memory import estimate, kv_bytes, largest_context
from storychat.llm.models import bundled_model


def state_bytes(engine: LlamaEngine, n_tokens: int) -> int:
    return engine.state_size(list(range(100, 100 + n_tokens)))


@pytest.mark.model
@pytest.mark.parametrize("kv_type", ["f16", "q8_0"])
def test_kv_bytes_per_token_match_what_llama_cpp_stores(kv_type):
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=1024, kv_type=kv_type))
    per_token = (state_bytes(engine, 512) - state_bytes(engine, 256)) / 256
    shape = model_shape(read_metadata(bundled_model()))
    assert per_token == pytest.approx(kv_bytes(shape, 1, kv_type), rel=0.01)


def test_q8_0_kv_takes_about_0_53_of_f16():
    path = bundled_model()
    assert estimate(path, 8192, "q8_0").kv / estimate(path, 8192, "f16").kv == pytest.approx(0.53125)


def test_the_largest_context_that_fits_is_a_multiple_of_256_within_the_trained_length():
    path = bundled_model()
    fixed = estimate(path, 0).total
    assert largest_context(path, "f16", fixed + 100 * 2**20, 8192) == 4352
    assert largest_context(path, "f16", 64 * 2**30, 8192) == 8192
    assert largest_context(path, "f16", fixed // 2, 8192) == 0


def test_without_flash_attention_the_attention_scores_count_against_the_context():
    path = bundled_model()
    with_fa, without = estimate(path, 8192, flash_attn=True), estimate(path, 8192, flash_attn=False)
    assert without.compute - with_fa.compute == 512 * 9 * 4 * 8192  # batch x heads x context floats
    room = estimate(path, 0).total + 100 * 2**20
    assert largest_context(path, "f16", room, 8192, flash_attn=False) < largest_context(path, "f16", room, 8192)


def test_a_failed_allocation_retries_with_a_smaller_context_then_fewer_gpu_layers():
    assert list(_fallbacks(8192, -1, 30)) == [
        (8192, -1), (4096, -1), (2048, -1), (2048, 15), (2048, 7), (2048, 3), (2048, 1), (2048, 0),
    ]
    assert list(_fallbacks(2048, 0, 30)) == [(2048, 0)]


@pytest.mark.model
def test_a_quantised_kv_cache_without_flash_attention_is_refused_with_the_fix():
    from storychat.llm.engine import EngineError

    with pytest.raises(EngineError, match="Drop --flash-attn off"):
        LlamaEngine(bundled_model(), EngineOptions(kv_type="q8_0", flash_attn="off"))


def test_auto_flash_attention_is_on_for_a_gpu_or_a_quantised_cache_and_off_on_a_cpu():
    assert use_flash_attn("auto", "f16", on_gpu=True) is True
    assert use_flash_attn("auto", "q8_0", on_gpu=False) is True
    assert use_flash_attn("auto", "f16", on_gpu=False) is False
    assert use_flash_attn("on", "f16", on_gpu=False) is True
    assert use_flash_attn("off", "f16", on_gpu=True) is False


def test_an_unknown_flash_attention_mode_is_refused_with_the_choices():
    from storychat.llm.engine import EngineError

    with pytest.raises(EngineError, match="choose one of on, off, auto"):
        use_flash_attn("yes", "f16", on_gpu=False)


@pytest.mark.model
def test_the_engine_reports_the_flash_attention_it_resolved():
    on_gpu = bool(llama_cpp.llama_supports_gpu_offload())
    assert LlamaEngine(bundled_model(), EngineOptions(n_ctx=256)).info().flash_attn is on_gpu
    assert LlamaEngine(bundled_model(), EngineOptions(n_ctx=256, kv_type="q8_0")).info().flash_attn is True


@pytest.mark.model
def test_the_startup_probe_measures_prefill_and_decode_speed():
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=1024))
    info = engine.probe(prompt_tokens=64, decode_tokens=4)
    assert info.prefill_tps > 0 and info.decode_tps > 0
    assert "prefill" in info.startup_line() and "MiB" in info.startup_line()


def test_free_memory_says_which_memory_it_read():
    from storychat.llm.memory import free_memory, gpu_free_memory

    host = free_memory(gpu=False)
    assert host.bytes > 0 and host.source == "available host memory"
    gpu = free_memory(gpu=True)
    if gpu_free_memory() is None:  # no GPU on this machine: the host figure, labelled with the reason
        assert gpu.source == "available host memory (no GPU memory could be read)"
    else:
        assert "GPU" in gpu.source or "free memory on" in gpu.source


@pytest.mark.model
def test_info_reports_the_snapshot_estimates_against_the_probe(tmp_path, disk_read_speed):
    from storychat.llm.kvcache import KVCache

    cache = KVCache(tmp_path, disk_bytes=1 << 30, read_bytes_per_s=disk_read_speed)
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=1024, cache=cache))
    engine.probe(prompt_tokens=64, decode_tokens=2)
    [line] = [ln for ln in engine.report() if ln.startswith("KV snapshot of")]
    estimate = engine.snapshot_estimate(1024)
    assert f"restore about {estimate.restore_s:.2f} s" in line and f"prefill about {estimate.prefill_s:.2f} s" in line
    assert estimate.bytes == 1024 * kv_bytes(model_shape(read_metadata(bundled_model())), 1, "f16")
    assert "Largest context that fits the" in " ".join(engine.report())
