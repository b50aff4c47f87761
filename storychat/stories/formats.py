"""Turn uploaded files and pasted text into stories.

Every format ends in the same place: a list of records (a line of text, a CSV
row, a JSON object) that ``_BatchBuilder`` turns into ``Story`` objects while
it enforces the limits and keeps ids unique.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path, PureWindowsPath

from storychat.config import DEFAULTS
from storychat.stories.markup import criteria_in, readable
from storychat.stories.model import Comment, Fields, Story
from storychat.stories.parse import parse_parts
from storychat.stories.trackers import Columns, ColumnUse, Record, github_issues, jira_issues


class StoryImportError(ValueError):
    """An input that cannot be imported; the message says what to do about it."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = int(DEFAULTS.max_upload_mb * 1024 * 1024)
    max_stories: int = DEFAULTS.max_stories
    max_story_chars: int = 20_000


@dataclass
class ImportBatch:
    source: str
    stories: list[Story]
    warnings: list[str] = field(default_factory=list)
    columns: tuple[ColumnUse, ...] = ()  # what each column of a table became; none for text


PASTE = "paste"  # the source of pasted text, which (unlike a file) only ever adds stories
_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text", "")
_CSV_SUFFIXES = (".csv", ".tsv")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_SUPPORTED = ".txt, .md, .csv, .tsv, .json, .jsonl, .xlsx"


# --- decoding ----------------------------------------------------------------

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_BINARY_SIGNATURES = (b"\x89PNG", b"%PDF", b"PK\x03\x04", b"GIF8", b"\xff\xd8\xff")
# Control bytes that never occur in text; tab, newlines and form feed do.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f") + b"\x7f"
_MAX_CONTROL_SHARE = 0.05


def decode_bytes(data: bytes, source: str) -> str:
    """Text of ``data`` with newlines as ``\\n``; raises on binary or empty input.

    Strict UTF-8 is tried before Windows-1252, so a UTF-8 file never turns
    into mojibake and a Windows-1252 file still reads correctly.
    """
    text = _decode_with_bom(data)
    if text is None:
        _reject_binary(data, source)
        text = _decode_without_bom(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    _require_content(text, source)
    return text


def _decode_with_bom(data: bytes) -> str | None:
    """The text behind a byte-order mark; None without one (or if it lies)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _reject_binary(data: bytes, source: str) -> None:
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if (
        b"\x00" in data
        or data.startswith(_BINARY_SIGNATURES)
        or controls > _MAX_CONTROL_SHARE * len(data)
    ):
        raise StoryImportError(
            f"{source} looks like a binary file, not text. "
            f"Upload user stories as {_SUPPORTED}."
        )


def _decode_without_bom(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # cp1252 leaves five bytes undefined; they become U+FFFD.
    return data.decode("cp1252", errors="replace")


def _require_content(text: str, source: str) -> None:
    if not text.strip():
        raise StoryImportError(f"Nothing to import: {source} is empty. Add at least one user story and try again.")


# --- entry points --------------------------------------------------------------


def read_file(path: Path, limits: Limits = Limits()) -> ImportBatch:
    """Stories in the file at ``path``; the format follows its extension."""
    path = Path(path)
    _check_size(path.stat().st_size, path.name, limits)
    return read_bytes(path.read_bytes(), path.name, limits)


def read_bytes(data: bytes, filename: str, limits: Limits = Limits()) -> ImportBatch:
    """Stories in uploaded ``data``; only the base name of ``filename`` is used."""
    name = safe_name(filename)
    _check_size(len(data), name, limits)
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        return _read_xlsx(data, name, limits)
    if suffix not in _TEXT_SUFFIXES + _CSV_SUFFIXES + _JSONL_SUFFIXES + (".json",):
        raise StoryImportError(
            f"{name} has an unsupported file type ({suffix}). Use one of {_SUPPORTED}."
        )
    text = decode_bytes(data, name)
    if suffix in _CSV_SUFFIXES:
        return _read_csv(text, name, limits)
    if suffix == ".json":
        return _read_json(text, name, limits)
    if suffix in _JSONL_SUFFIXES:
        return _read_jsonl(text, name, limits)
    return _read_lines(text, name, limits)


def read_text(text: str, source: str = PASTE, limits: Limits = Limits()) -> ImportBatch:
    """Stories in pasted text: one per line, or blocks with acceptance criteria."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    _check_size(len(text.encode("utf-8")), source, limits)
    _require_content(text, source)
    return _read_lines(text, source, limits)


def safe_name(filename: str) -> str:
    """The base name of a client-supplied file name, whatever its separators."""
    name = PureWindowsPath(filename.replace("\x00", "")).name.strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name if name not in ("", ".", "..") else "upload"


def _check_size(size: int, name: str, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise StoryImportError(
            f"{name} is {_size(size)}, over the upload limit of {_size(limits.max_bytes)}. "
            "Split the file, or raise the limit with --max-upload-mb or the "
            "STORYCHAT_MAX_UPLOAD_MB environment variable."
        )


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MB" if n >= 2**20 else f"{n / 1024:,.0f} KB"


# --- building a batch ------------------------------------------------------------


class _BatchBuilder:
    """Collects the stories of one input, enforcing limits and unique ids."""

    def __init__(self, source: str, limits: Limits, unit: str) -> None:
        self.source = source
        self.stem = Path(source).stem
        self.limits = limits
        self.unit = unit  # "line" or "record", for messages
        self.stories: list[Story] = []
        self.warnings: list[str] = []
        self.columns: tuple[ColumnUse, ...] = ()
        self._digests_by_id: dict[str, str] = {}

    def add(
        self,
        text: str,
        line: int,
        *,
        story_id: str = "",
        epic: str = "",
        acceptance: tuple[str, ...] = (),
        role: str = "",
        is_story: bool = False,
        title: str = "",
        description: str = "",
        fields: Fields = Fields(),
        comments: tuple[Comment, ...] = (),
    ) -> Story:
        """Append a story, or a note when ``text`` is not a user story and ``is_story`` (a tracker's item) is false."""
        if not story_id:
            story_id, text = _split_id_prefix(text)
        self._check_length(text, line)  # a long description is a real item's: only the line naming it is held to the limit
        if len(self.stories) >= self.limits.max_stories:
            raise StoryImportError(
                f"{self.source} holds more than {self.limits.max_stories:,} stories, the "
                "most one import takes. Split it into smaller files, or raise the limit with "
                "--max-stories or the STORYCHAT_MAX_STORIES environment variable."
            )
        parts = parse_parts(text)
        story = Story(
            id=story_id or f"{self.stem}-{line}",
            text=text,
            source=self.source,
            line=line,
            role=role or (parts.role if parts else ""),
            goal=parts.goal if parts else "",
            benefit=parts.benefit if parts else "",
            acceptance=acceptance,
            epic=epic,
            kind="story" if parts or is_story else "note",
            title=title,
            description=description,
            fields=fields,
            comments=comments,
        )
        story = replace(story, id=self._unique_id(story.id, story.digest, line))
        self.stories.append(story)
        return story

    def replace_last(self, story: Story) -> None:
        self.stories[-1] = story

    def batch(self) -> ImportBatch:
        return ImportBatch(self.source, self.stories, self.warnings, self.columns)

    def _check_length(self, text: str, line: int) -> None:
        if len(text) > self.limits.max_story_chars:
            raise StoryImportError(
                f"{self.unit.capitalize()} {line} of {self.source} is {len(text):,} characters "
                f"long; one story may have at most {self.limits.max_story_chars:,}. "
                "Check that the file really has one story per line or record."
            )

    def _unique_id(self, story_id: str, digest: str, line: int) -> str:
        known = self._digests_by_id.get(story_id)
        if known is not None and known != digest:
            new_id = unique_id(story_id, self._digests_by_id)
            self.warnings.append(
                f"Id {story_id} is used by more than one story in {self.source}; "
                f"the one at {self.unit} {line} is saved as {new_id}."
            )
            story_id = new_id
        self._digests_by_id.setdefault(story_id, digest)
        return story_id


def unique_id(story_id: str, taken: Container[str]) -> str:
    """``story_id`` with the smallest suffix ``-2``, ``-3``, ... not in ``taken``."""
    n = 2
    while f"{story_id}-{n}" in taken:
        n += 1
    return f"{story_id}-{n}"


# "US-12: As a ...", "US-12 As a ...", "PROJ-7 - As a ..."
_ID_PREFIX = re.compile(r"(?P<id>[A-Za-z][A-Za-z0-9_]*-\d+)\s*[:.)\]\-\u2013\u2014]?\s+(?P<text>\S.*)")


def _split_id_prefix(text: str) -> tuple[str, str]:
    """(id, rest) when ``text`` is a story behind an issue key, else ("", text)."""
    match = _ID_PREFIX.fullmatch(text)
    if match and parse_parts(match.group("text")):
        return match.group("id"), match.group("text")
    return "", text


# --- plain text and Markdown -------------------------------------------------------

_HEADING = re.compile(r"#{1,6}\s+(?P<title>.*?)\s*#*")
_LIST_MARKER = re.compile(r"(?:[-*+\u2022]|\d+[.)])\s+")
_CRITERION = re.compile(r"(?:given|when|then|and|but)\b", re.I)
_CRITERIA_LABEL = re.compile(r"acceptance\s+criteria\s*:?", re.I)


def _read_lines(text: str, source: str, limits: Limits) -> ImportBatch:
    """One story per line; acceptance criteria below a story in the same block
    (no blank line between) belong to it; headings set the epic."""
    builder = _BatchBuilder(source, limits, "line")
    epic = ""
    current: Story | None = None  # the story whose block we are in
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            current = None
            continue
        heading = _HEADING.fullmatch(line)
        if heading:
            epic = heading.group("title")
            builder.add(epic, number, epic=epic)
            current = None
            continue
        if current is not None and _CRITERIA_LABEL.fullmatch(line):
            continue  # the label only introduces the criteria below it
        marker = _LIST_MARKER.match(line)
        content = line[marker.end():] if marker else line
        if _is_criterion(current, content, bool(marker)):
            current = replace(current, acceptance=current.acceptance + (content,))
            builder.replace_last(current)
            continue
        story = builder.add(content, number, epic=epic)
        if not story.is_note:
            current = story
    return builder.batch()


def _is_criterion(current: Story | None, content: str, is_list_item: bool) -> bool:
    return (
        current is not None
        and (is_list_item or _CRITERION.match(content) is not None)
        and parse_parts(content) is None
    )


# --- tables: CSV, JSON, XLSX -------------------------------------------------------

def _add_records(builder: _BatchBuilder, keys: Iterable[str], records: Iterable[tuple[int, Record]]) -> ImportBatch:
    """Add table ``records`` (number, (column, value) pairs) whose columns are ``keys``, repeats included."""
    keys = list(keys)
    columns = Columns.find(keys)
    if not {"text", "description"} & columns.names.keys():
        raise StoryImportError(
            f"{builder.source} has no column with story text; it has: "
            f"{', '.join(map(str, keys)) or 'no columns'}. Name the story column "
            "'story', 'text', 'user story' or 'summary' (or 'description')."
        )
    for number, record in records:
        _add_record(builder, number, record, columns)
    if not builder.stories:
        raise _no_stories(builder.source)
    builder.columns = columns.uses(keys)
    return builder.batch()


def _no_stories(source: str) -> StoryImportError:
    return StoryImportError(f"{source} has no stories. Add at least one row with story text.")


def _add_record(builder: _BatchBuilder, number: int, record: Record, columns: Columns) -> None:
    """One tracker item: with an id or a title it is an item whatever its wording; without, a note unless a story."""
    cell = partial(columns.cell, record)
    text, title, description = cell("text"), cell("title"), cell("description")
    if description and not parse_parts(text) and (parse_parts(description) or not text):
        text = description
    elif description:
        description = readable(description)
    if not text:
        builder.warnings.append(f"Record {number} of {builder.source} has no story text; skipped.")
        return
    story_id, kind = cell("id"), cell("kind")
    builder.add(
        text,
        number,
        story_id=story_id,
        epic=cell("epic"),
        acceptance=_criteria(readable(cell("acceptance"))) or criteria_in(description),
        role=cell("role"),
        is_story=kind == "story" if kind else bool(story_id or title),
        title="" if title == text else title,
        description="" if description == text else description,
        fields=columns.fields(record),
        comments=columns.comments(record),
    )


def _criteria(cell: str) -> tuple[str, ...]:
    lines = (line.strip() for line in cell.split("\n"))
    return tuple(_LIST_MARKER.sub("", line, count=1) for line in lines if line)


_CSV_DELIMITERS = ",;\t|"


def _read_csv(text: str, source: str, limits: Limits) -> ImportBatch:
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=_sniff_delimiter(text)))
    except csv.Error as error:
        raise StoryImportError(
            f"{source} could not be read as CSV ({error}). Check its quoting, or save it again as CSV."
        ) from None
    return _read_table(rows, source, limits)


def _read_table(rows: Iterable[Sequence[object]], source: str, limits: Limits) -> ImportBatch:
    """Rows of a sheet: the first non-empty one names the columns."""
    rows = [row for row in rows if any(str(cell or "").strip() for cell in row)]
    if len(rows) < 2:
        raise _no_stories(source)
    header = [str(name or "").strip() or f"column {n}" for n, name in enumerate(rows[0], start=1)]
    records = ((number, list(zip(header, row))) for number, row in enumerate(rows[1:], start=1))
    return _add_records(_BatchBuilder(source, limits, "record"), header, records)


def _sniff_delimiter(text: str) -> str:
    header = text.lstrip("\n").split("\n", 1)[0]
    sample = text[: 64 * 1024]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_CSV_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ""
    if delimiter and delimiter in header:
        return delimiter
    # The header rarely holds a delimiter inside a name, so count there.
    return max(_CSV_DELIMITERS, key=header.count)


_EXPECTED_JSON = '{"id": "US-1", "text": "As a ..."}'


def _read_json(text: str, source: str, limits: Limits) -> ImportBatch:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise StoryImportError(
            f"{source} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}). "
            "Fix the file, or save the stories as .txt with one story per line."
        ) from None
    except RecursionError:
        raise _too_deep(source) from None
    data = next((found for shape in (jira_issues, github_issues) if (found := shape(data)) is not None), data)
    if isinstance(data, dict) and isinstance(data.get("stories"), list):
        data = data["stories"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise StoryImportError(
            f"{source} has the wrong shape. Expected a list of objects such as "
            f'[{_EXPECTED_JSON}] (or with "summary"/"description"), '
            'optionally wrapped as {"stories": [...]}.'
        )
    return _read_objects(list(enumerate(data, start=1)), source, limits, "record")


def _too_deep(where: str) -> StoryImportError:
    # json.loads recurses once per nesting level; a hostile file can exhaust the stack.
    return StoryImportError(
        f"{where} nests JSON arrays or objects too deeply to hold stories. "
        f"Expected a list of objects such as [{_EXPECTED_JSON}]."
    )


def _read_jsonl(text: str, source: str, limits: Limits) -> ImportBatch:
    return _read_objects(list(_jsonl_records(text, source)), source, limits, "line")


def _read_objects(
    records: list[tuple[int, dict[str, object]]], source: str, limits: Limits, unit: str
) -> ImportBatch:
    if not records:
        raise _no_stories(source)
    keys = dict.fromkeys(key for _, record in records for key in record)
    pairs = [(number, list(record.items())) for number, record in records]
    return _add_records(_BatchBuilder(source, limits, unit), keys, pairs)


def _jsonl_records(text: str, source: str) -> Iterable[tuple[int, dict[str, object]]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise StoryImportError(
                f"Line {number} of {source} is not valid JSON ({error.msg}). "
                f"Each line must be one object such as {_EXPECTED_JSON}."
            ) from None
        except RecursionError:
            raise _too_deep(f"Line {number} of {source}") from None
        if not isinstance(record, dict):
            raise StoryImportError(
                f"Line {number} of {source} is not a JSON object. "
                f"Each line must be one object such as {_EXPECTED_JSON}."
            )
        yield number, record


def _read_xlsx(data: bytes, source: str, limits: Limits) -> ImportBatch:
    try:
        import openpyxl
    except ImportError:
        raise StoryImportError(
            f"Reading {source} needs the openpyxl package. Install it (pip install openpyxl) "
            "or save the sheet as CSV."
        ) from None
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise StoryImportError(
            f"{source} could not be read as an Excel workbook ({error}). Save it again as .xlsx or CSV."
        ) from None
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    return _read_table(rows, source, limits)
