import os
import subprocess
import sys
from pathlib import Path

import pytest

from storychat.llm.gguf import GGUFError, model_shape, read_metadata
from storychat.llm.llama import context_size
from storychat.llm.models import ModelNotFound, bundled_model, resolve_model

ROOT = Path(__file__).resolve().parent.parent


def test_the_bundled_model_is_found_inside_its_package():
    path = bundled_model()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


def test_resolution_order_flag_then_models_dir_then_bundled(tmp_path):
    assert resolve_model(models_dir=tmp_path) == bundled_model()
    one = tmp_path / "one.gguf"
    one.symlink_to(bundled_model())
    assert resolve_model(models_dir=tmp_path) == one
    explicit = tmp_path / "elsewhere.bin"
    explicit.symlink_to(bundled_model())
    assert resolve_model(str(explicit), models_dir=tmp_path) == explicit


def test_two_models_in_the_folder_ask_the_user_to_choose(tmp_path):
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / name).symlink_to(bundled_model())
    with pytest.raises(ModelNotFound, match="several models.*--model"):
        resolve_model(models_dir=tmp_path)


def test_a_missing_model_path_says_so():
    with pytest.raises(ModelNotFound, match="no such file"):
        resolve_model("/nonexistent/model.gguf")


def _download_offline(tmp_path: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}
    code = (
        "from pathlib import Path; from storychat.llm.models import resolve_model; "
        f"print(resolve_model(hf_repo='acme/tiny-GGUF', hf_file='tiny.gguf', models_dir=Path({str(tmp_path / 'models')!r})))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_hf_download_offline_without_a_cached_copy_fails_with_what_to_do(tmp_path):
    result = _download_offline(tmp_path, tmp_path / "empty-cache")
    assert result.returncode != 0
    assert "Could not download tiny.gguf from acme/tiny-GGUF" in result.stderr
    assert "copy it into" in result.stderr


def test_hf_download_offline_uses_the_local_hub_cache(tmp_path):
    cache = tmp_path / "hub"
    snapshot = cache / "models--acme--tiny-GGUF" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "tiny.gguf").symlink_to(bundled_model())
    (cache / "models--acme--tiny-GGUF" / "refs").mkdir()
    (cache / "models--acme--tiny-GGUF" / "refs" / "main").write_text("0123abcd")
    result = _download_offline(tmp_path, cache)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("snapshots/0123abcd/tiny.gguf")


def test_gguf_metadata_gives_the_shape_needed_for_sizing():
    shape = model_shape(read_metadata(bundled_model()))
    assert (shape.architecture, shape.context_length, shape.n_layer, shape.n_head_kv) == ("llama", 8192, 30, 3)
    assert shape.kv_elements_per_token == 30 * 3 * (64 + 64)


def test_a_non_gguf_file_is_rejected(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        read_metadata(bad)


def test_context_is_the_trained_length_capped_and_a_multiple_of_256():
    assert context_size(8192, None) == 8192
    assert context_size(8192, 3000) == 2816
    assert context_size(1_010_000, 32768) == 32768
    assert context_size(8192, 100) == 256
