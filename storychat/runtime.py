"""Build the running parts (engine, pipeline, library) from Settings."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.answer.prompt import Template
from storychat.config import Settings
from storychat.llm.llama import EngineOptions, LlamaEngine
from storychat.llm.models import resolve_model
from storychat.stories.formats import Limits
from storychat.stories.library import Library, default_data_dir


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_engine(settings: Settings) -> LlamaEngine:
    path = resolve_model(settings.model, settings.hf_repo, settings.hf_file)
    log(f"Loading {path.name} ({path.stat().st_size / 2**30:.2f} GiB) ...")
    started = time.perf_counter()
    engine = LlamaEngine(
        path,
        EngineOptions(
            n_ctx=settings.n_ctx,
            gpu_layers=settings.gpu_layers,
            flash_attn=settings.flash_attn,
            kv_type=settings.kv_type,
            threads=settings.threads,
        ),
    )
    log(f"Loaded in {time.perf_counter() - started:.1f}s: {engine.info().startup_line()}")
    return engine


def make_pipeline(settings: Settings, engine: LlamaEngine) -> Pipeline:
    template = Template.from_file(Path(settings.prompt_template)) if settings.prompt_template else Template()
    options = AnswerOptions(
        max_tokens=settings.max_tokens,
        temperature=settings.temp,
        strict=settings.strict,
        max_question_chars=settings.max_question_chars,
    )
    return Pipeline(engine, template, options)


def open_library(settings: Settings) -> Library:
    return Library(Path(settings.data_dir).expanduser() if settings.data_dir else default_data_dir())


def limits(settings: Settings) -> Limits:
    return Limits(max_bytes=int(settings.max_upload_mb * 1024 * 1024))
