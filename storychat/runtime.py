"""Build the running parts (engine, pipeline, library) from Settings."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from storychat.answer.history import POLICIES
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.answer.prompt import Template
from storychat.answer.shards import Sharder
from storychat.config import Settings, check_backend
from storychat.llm.engine import Engine
from storychat.llm.kvcache import KVCache
from storychat.llm.llama import EngineOptions, LlamaEngine
from storychat.llm.models import resolve_model
from storychat.stories.embedder import Embedder, load_embedder
from storychat.stories.formats import Limits
from storychat.stories.library import Library, default_data_dir


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_engine(settings: Settings) -> Engine:
    check_backend(settings)
    return connect_remote(settings) if settings.backend == "openai" else load_embedded(settings)


def connect_remote(settings: Settings) -> Engine:
    from storychat.llm.remote import RemoteEngine, RemoteOptions

    log(f"Connecting to {settings.base_url} ...")
    engine = RemoteEngine(
        RemoteOptions(base_url=settings.base_url, api_key=settings.api_key, model=settings.remote_model, n_ctx=settings.n_ctx)
    )
    log(f"Connected: {engine.info().startup_line()}")
    return engine


def load_embedded(settings: Settings) -> LlamaEngine:
    path = resolve_model(settings.model, settings.hf_repo, settings.hf_file)
    log(f"Loading {path.name} ({path.stat().st_size / 2**30:.2f} GiB) ...")
    started = time.perf_counter()
    with LoadProgress(path.name) as progress:
        engine = LlamaEngine(
            path,
            EngineOptions(
                n_ctx=settings.n_ctx,
                gpu_layers=settings.gpu_layers,
                flash_attn=settings.flash_attn,
                kv_type=settings.kv_type,
                threads=settings.threads,
                cache=kv_cache(settings),
                on_load_progress=progress,
            ),
        )
    for note in engine.notes:
        log(f"Note: {note}")
    log(f"Weights loaded in {time.perf_counter() - started:.1f}s; measuring prefill and decode speed (a short probe) ...")
    engine.probe()
    log(f"Loaded in {time.perf_counter() - started:.1f}s: {engine.info().startup_line()}")
    return engine


class LoadProgress:
    """The loading percentage on the terminal, in steps of 10%.

    It writes to its own copy of stderr: llama-cpp-python points stderr at
    /dev/null while it loads the weights, to hide llama.cpp's log.
    """

    def __init__(self, name: str):
        self.name = name
        self.shown = -1
        try:
            self.terminal = os.fdopen(os.dup(sys.stderr.fileno()), "w")
        except OSError:  # stderr is no file (captured, as under pytest): nothing hides it, write to it as it is
            self.terminal = sys.stderr

    def __call__(self, fraction: float) -> None:
        step = int(fraction * 10)
        if step > self.shown:
            self.shown = step
            print(f"Loading {self.name}: {step * 10}%", file=self.terminal, flush=True)

    def __enter__(self) -> "LoadProgress":
        return self

    def __exit__(self, *_) -> None:
        if self.terminal is not sys.stderr:
            self.terminal.close()


def data_dir(settings: Settings) -> Path:
    return Path(settings.data_dir).expanduser() if settings.data_dir else default_data_dir()


def kv_cache(settings: Settings) -> KVCache | None:
    """Snapshot files within --cache-disk; --cache-disk 0 takes none."""
    if settings.cache_disk <= 0:
        return None
    directory = Path(settings.cache_dir).expanduser() if settings.cache_dir else data_dir(settings) / "kv-cache"
    return KVCache(directory, settings.cache_disk * 2**20, settings.cache_ram * 2**20)


def make_pipeline(settings: Settings, engine: Engine) -> Pipeline:
    template = Template.from_file(Path(settings.prompt_template)) if settings.prompt_template else Template()
    options = AnswerOptions(
        max_tokens=settings.max_tokens,
        temperature=settings.temp,
        strict=settings.strict,
        max_question_chars=settings.max_question_chars,
        profile=settings.answer_profile,
        history=chat_history(settings.chat_history),
        second_opinion=settings.second_opinion,
    )
    return Pipeline(engine, template, options, Sharder(data_dir(settings) / "shard-layouts.json"), embedder(settings))


def chat_history(policy: str) -> str | None:
    """The --chat-history policy for the answer options: None lets the answer profile choose."""
    if policy == "auto":
        return None
    if policy not in POLICIES:
        raise ValueError(f"--chat-history must be auto or one of {', '.join(POLICIES)}, not {policy!r}")
    return policy


def embedder(settings: Settings) -> Embedder | None:
    """The reader of meaning for --meaning, keeping its story vectors in the library; None when off."""
    loaded = load_embedder(settings.meaning)
    return loaded.kept_in(open_library(settings)) if loaded else None


def open_library(settings: Settings) -> Library:
    return Library(data_dir(settings), load_embedder(settings.meaning))


def limits(settings: Settings) -> Limits:
    return Limits(max_bytes=int(settings.max_upload_mb * 1024 * 1024), max_stories=settings.max_stories)
