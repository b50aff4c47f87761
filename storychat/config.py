"""One Settings object: command-line flags > STORYCHAT_* environment variables > defaults.

Every option is declared once in ``OPTIONS``; the argument parsers, the
environment lookup and the flag table in docs/cli.md all come from that list.
Flag names follow llama.cpp's server where one exists there (``-m``, ``-c``,
``-ngl``, ``-n``, ``--host``, ``--port``); Gradio's ``GRADIO_SERVER_NAME`` and
``GRADIO_SERVER_PORT`` are honoured too.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    dest: str
    help: str
    group: str
    type: Callable[[str], object] = str
    default: object = None
    metavar: str | None = None
    env_aliases: tuple[str, ...] = ()
    negates: bool = False  # a --no-x flag that turns the boolean `dest` off
    repeat: bool = False
    const: str | None = None  # a shorthand flag that sets `dest` to this value (no env variable of its own)

    @property
    def env(self) -> str:
        return "STORYCHAT_" + self.dest.upper()

    def env_default(self) -> object:
        for name in (self.env, *self.env_aliases):
            raw = os.environ.get(name)
            if raw is None or raw == "":
                continue
            if self.negates:
                return _flag(raw)
            if self.repeat:
                return [part.strip() for part in raw.split(",") if part.strip()]
            return self.type(raw)
        return self.default


OPTIONS: tuple[Option, ...] = (
    # model and engine
    Option(("-m", "--model"), "model", "GGUF file to load", "model", metavar="PATH"),
    Option(("-hfr", "--hf-repo"), "hf_repo", "Hugging Face repo to download the model from", "model", metavar="REPO"),
    Option(("-hff", "--hf-file"), "hf_file", "file in --hf-repo to download into models/", "model", metavar="FILE"),
    Option(("-c", "--n-ctx", "--ctx-size"), "n_ctx",
           "cap on the context size in tokens (default: the model's trained context; with --backend openai: what the server reports)",
           "model", int, metavar="N"),
    Option(("-ngl", "--gpu-layers", "--n-gpu-layers"), "gpu_layers",
           "layers to offload to the GPU (default: all when the build can offload, else 0)",
           "model", int, metavar="N"),
    Option(("-fa", "--flash-attn"), "flash_attn",
           "flash attention: on, off or auto (auto: on when layers run on a GPU or the KV cache is quantised, "
           "off on a CPU, where it slows follow-up questions)",
           "model", default="auto", metavar="on|off|auto"),
    Option(("--no-flash-attn",), "flash_attn", "same as --flash-attn off", "model", const="off"),
    Option(("--kv-type",), "kv_type", "KV cache type for K and V: f16, q8_0 or q4_0 (quantised needs flash attention)", "model", default="f16", metavar="TYPE"),
    Option(("-t", "--threads"), "threads", "CPU threads for generation (default: the physical cores, as llama.cpp)", "model", int, metavar="N"),
    Option(("--cache-ram",), "cache_ram",
           "how much of the most recently used KV snapshot files may stay in the OS page cache, in MiB (older ones are dropped from it)",
           "model", int, 2048, "MiB"),
    Option(("--cache-disk",), "cache_disk",
           "disk for story-prefix KV snapshots, in MiB; one is taken after an answer when restoring it beats a prefill (0: no snapshots)",
           "model", int, 8192, "MiB"),
    Option(("--cache-dir",), "cache_dir", "where KV snapshots are kept (default: kv-cache/ in the data directory)", "model", metavar="DIR"),
    Option(("--backend",), "backend",
           "where the model runs: embedded (in this process) or openai (an OpenAI-compatible server at --base-url)",
           "model", default="embedded", metavar="NAME"),
    Option(("--base-url",), "base_url", "the OpenAI-compatible server for --backend openai, e.g. http://gpu-box:8080", "model", metavar="URL"),
    Option(("--api-key",), "api_key", "API key for the --base-url server (sent as a Bearer token)", "model", metavar="KEY"),
    Option(("--remote-model",), "remote_model", "model name to ask the server for (default: the first it lists)", "model", metavar="NAME"),
    # answers
    Option(("-n", "--max-tokens", "--n-predict"), "max_tokens", "longest answer in tokens", "answer", int, 512, "N"),
    Option(("--temp",), "temp", "sampling temperature (0 = deterministic)", "answer", float, 0.0, "T"),
    Option(("--no-strict",), "strict", "show answers that cite no valid story (with a warning) instead of refusing", "answer", default=True, negates=True),
    Option(("--prompt-template",), "prompt_template", "file with the system prompt; must contain {stories}", "answer", metavar="FILE"),
    Option(("--answer-profile",), "answer_profile",
           "how the grammar holds the answer's opening: tiny (the best match's id), open (any story's id, or the refusal) or auto (open from 1B parameters)",
           "answer", default="auto", metavar="auto|tiny|open"),
    Option(("--chat-history",), "chat_history",
           "which earlier turns of a chat the model reads with the next question: auto (the answer profile's: nothing, "
           "measured in docs/evaluation.md), all, previous-question, cited-ids, on-follow-up or nothing",
           "answer", default="auto", metavar="POLICY"),
    Option(("--second-opinion",), "second_opinion",
           "after an answer, the model judges up to 4 sentences the code marked ≈ or partly supported (yes or no, "
           "shown beside the code's mark, never a ✓): auto (on for the open answer profile, off for tiny), on or off",
           "answer", default="auto", metavar="auto|on|off"),
    Option(("--max-question-chars",), "max_question_chars", "longest question accepted", "answer", int, 4000, "N"),
    # library
    Option(("--data-dir",), "data_dir", "where the story library lives (default: the per-user data folder)", "library", metavar="DIR"),
    Option(("--max-upload-mb",), "max_upload_mb", "largest file or paste accepted, in MB", "library", float, 10.0, "MB"),
    Option(("--max-stories",), "max_stories", "most stories one file or paste may hold", "library", int, 20_000, "N"),
    Option(("--meaning",), "meaning",
           "reader of meaning beside words: on (the bundled WordLlama model judges similarity in retrieval, the relevance gate, "
           "the support check and duplicates; imports embed their stories) or off (words only)",
           "library", default="on", metavar="on|off"),
    # server
    Option(("--host",), "host",
           "address to serve on; anything but loopback needs --auth or --no-auth",
           "server", default="127.0.0.1", env_aliases=("GRADIO_SERVER_NAME",)),
    Option(("--port",), "port", "port to serve on", "server", int, 7860, env_aliases=("GRADIO_SERVER_PORT",)),
    Option(("--concurrency",), "concurrency",
           "answers generated at once; above 1 needs --backend openai (the embedded engine answers one at a time)",
           "server", int, 1, "N"),
    Option(("--auth",), "auth",
           "user:password allowed to log in; repeat for more users (env: comma-separated)",
           "server", metavar="USER:PASS", repeat=True, default=()),
    Option(("--auth-file",), "auth_file", "file with one user:password per line", "server", metavar="FILE"),
    Option(("--no-auth",), "no_auth", "allow serving on a non-loopback address without a login", "server", default=False),
    Option(("--mcp",), "mcp", "also serve the ask_stories, search_stories and changed_stories tools over MCP at /gradio_api/mcp", "server", default=False),
)


@dataclass(frozen=True)
class Settings:
    """What every option is set to: a flag, else its environment variable, else its default.

    One field per option in OPTIONS, in its order, with its type and default (tests/test_config.py keeps them in step).
    """

    # model and engine
    model: str | None = None
    hf_repo: str | None = None
    hf_file: str | None = None
    n_ctx: int | None = None
    gpu_layers: int | None = None
    flash_attn: str = "auto"
    kv_type: str = "f16"
    threads: int | None = None
    cache_ram: int = 2048
    cache_disk: int = 8192
    cache_dir: str | None = None
    backend: str = "embedded"
    base_url: str | None = None
    api_key: str | None = None
    remote_model: str | None = None
    # answers
    max_tokens: int = 512
    temp: float = 0.0
    strict: bool = True
    prompt_template: str | None = None
    answer_profile: str = "auto"
    chat_history: str = "auto"
    second_opinion: str = "auto"
    max_question_chars: int = 4000
    # library
    data_dir: str | None = None
    max_upload_mb: float = 10.0
    max_stories: int = 20_000
    meaning: str = "on"
    # server
    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 1
    auth: tuple[str, ...] = ()
    auth_file: str | None = None
    no_auth: bool = False
    mcp: bool = False

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> Settings:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in vars(ns).items() if k in names}
        if "auth" in values:
            values["auth"] = tuple(values["auth"] or ())
        return cls(**values)


# The defaults, for the parts that take options of their own (answer options, import limits, the engine).
DEFAULTS = Settings()


def add_options(parser: argparse.ArgumentParser, *groups: str) -> None:
    for group in groups:
        section = parser.add_argument_group(group)
        for opt in (o for o in OPTIONS if o.group == group):
            if opt.const is not None:
                section.add_argument(*opt.flags, dest=opt.dest, action="store_const", const=opt.const, default=argparse.SUPPRESS, help=opt.help)
                continue
            default = opt.env_default()
            if opt.negates:
                section.add_argument(*opt.flags, dest=opt.dest, action="store_false", default=default, help=opt.help)
            elif opt.default is False:
                section.add_argument(*opt.flags, dest=opt.dest, action="store_true", default=_flag(str(default)), help=opt.help)
            elif opt.repeat:
                section.add_argument(*opt.flags, dest=opt.dest, action="append", default=list(default or ()), metavar=opt.metavar, help=opt.help)
            else:
                section.add_argument(*opt.flags, dest=opt.dest, type=opt.type, default=default, metavar=opt.metavar, help=opt.help)


BACKENDS = ("embedded", "openai")


class BackendError(ValueError):
    pass


def check_backend(settings: Settings) -> None:
    """Refuse flag combinations the chosen backend cannot honour."""
    if settings.backend not in BACKENDS:
        raise BackendError(f"--backend {settings.backend}: choose one of {', '.join(BACKENDS)}")
    if settings.backend == "openai" and not settings.base_url:
        raise BackendError("--backend openai needs --base-url, the server's address, e.g. http://127.0.0.1:8080")
    if settings.backend == "embedded" and settings.base_url:
        raise BackendError("--base-url is only used with --backend openai; add --backend openai")
    if settings.concurrency < 1:
        raise BackendError(f"--concurrency {settings.concurrency}: give 1 or more")
    if settings.concurrency > 1 and settings.backend == "embedded":
        raise BackendError(
            f"--concurrency {settings.concurrency} needs --backend openai: the embedded llama.cpp context "
            "answers one question at a time (other users wait in the queue). Drop --concurrency, or serve "
            "the model with llama-server --parallel N or vLLM and point --base-url at it."
        )


class AuthError(ValueError):
    pass


def credentials(settings: Settings) -> list[tuple[str, str]]:
    """All user:password pairs from --auth and --auth-file."""
    lines = list(settings.auth)
    if settings.auth_file:
        try:
            text = Path(settings.auth_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthError(f"cannot read --auth-file {settings.auth_file}: {exc.strerror}") from exc
        lines += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    pairs = []
    for line in lines:
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise AuthError(f"auth entry {user or line!r} is not in the form user:password")
        pairs.append((user, password))
    return pairs


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> str | None:
    """Refuse an open server on the network. Returns a warning to print, if any."""
    if is_loopback(settings.host) or credentials(settings):
        return None
    if settings.no_auth:
        return (
            f"WARNING: serving on {settings.host} without a login (--no-auth). Anyone who can "
            "reach this machine can read and change the stories."
        )
    raise AuthError(
        f"Refusing to serve on {settings.host} without a login: anyone on the network could read "
        "the stories. Add --auth user:password (or --auth-file FILE, or STORYCHAT_AUTH), "
        "or pass --no-auth if that is really what you want."
    )
