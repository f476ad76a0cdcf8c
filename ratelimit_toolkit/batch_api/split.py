"""Split the unanswered input lines into batch input files that respect the Batch API's per-file limits.

One pass over the input writes every part file. A part contains lines of one
model only, because a batch runs one model, and closes before it would pass
any limit: requests, bytes, or (when set) estimated prompt tokens. Lines that
cannot be sent at all (invalid JSON, a body the token estimator rejects, a
single request over a limit) go to `on_unsendable` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ratelimit_toolkit.batch_api.convert import batch_line, check_line, custom_id_for
from ratelimit_toolkit.batch_api.state import Part
from ratelimit_toolkit.mock.batches.limits import MAX_FILE_BYTES, MAX_REQUESTS_PER_FILE
from ratelimit_toolkit.processor.inputs import InputLine, iter_input

logger = logging.getLogger(__name__)

#: Receives a line that is not sent, with the processor's error kind and a message.
Unsendable = Callable[[InputLine, str, str], None]


@dataclass(frozen=True)
class SplitLimits:
    """Maximum contents of one batch input file.

    Attributes:
        max_requests: requests per file; OpenAI allows 50,000.
        max_bytes: bytes per file; OpenAI allows 200 MB.
        max_prompt_tokens: estimated prompt tokens per file, or None for no
            limit. Set it below the account's enqueued token limit (the batch
            queue limit) so that every part can be admitted on its own.
    """

    max_requests: int = MAX_REQUESTS_PER_FILE
    max_bytes: int = MAX_FILE_BYTES
    max_prompt_tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_requests", "max_bytes", "max_prompt_tokens"):
            value = getattr(self, name)
            if value is None and name == "max_prompt_tokens":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")

    def fits(self, part: Part, size_bytes: int, prompt_tokens: int) -> bool:
        """Tell whether a line of this size still fits into `part`."""
        if part.requests + 1 > self.max_requests or part.size_bytes + size_bytes > self.max_bytes:
            return False
        return self.max_prompt_tokens is None or part.prompt_tokens + prompt_tokens <= self.max_prompt_tokens

    def too_large(self, size_bytes: int, prompt_tokens: int) -> str | None:
        """Say why one line can never fit into a file, or return None."""
        if size_bytes > self.max_bytes:
            return f"the batch request line is {size_bytes:,} bytes, above the {self.max_bytes:,} bytes a file may hold"
        if self.max_prompt_tokens is not None and prompt_tokens > self.max_prompt_tokens:
            return (f"the request has about {prompt_tokens:,} prompt tokens, above the "
                    f"{self.max_prompt_tokens:,} a file may hold")
        return None


@dataclass
class _OpenPart:
    part: Part
    handle: BinaryIO


class Splitter:
    """Write part files for the input lines `skip` does not exclude."""

    def __init__(self, work_dir: Path, endpoint: str, limits: SplitLimits, custom_id_field: str | None,
                 first_index: int, on_unsendable: Unsendable) -> None:
        self.work_dir = work_dir
        self.endpoint = endpoint
        self.limits = limits
        self.custom_id_field = custom_id_field
        self.on_unsendable = on_unsendable
        self._next_index = first_index
        self._open: dict[str, _OpenPart] = {}
        self._seen_ids: dict[int, set[str]] = {}
        self.parts: list[Part] = []

    def split(self, input_path: Path, skip: Callable[[int], bool]) -> list[Part]:
        """Read the input once and return the parts written, in the order they were opened.

        Raises:
            CustomIdError: a line has no usable custom id under `custom_id_field`.
            ValueError: a custom id repeats within one part.
        """
        self.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            for item in iter_input(input_path, skip=skip):
                self._add(item)
        finally:
            for open_part in self._open.values():
                open_part.handle.close()
            self._open.clear()
        return self.parts

    def _add(self, item: InputLine) -> None:
        check = check_line(item, self.endpoint)
        if check.problem is not None or item.body is None:
            kind, message = check.problem or ("invalid_json", item.problem or "invalid line")
            self.on_unsendable(item, kind, message)
            return
        custom_id = custom_id_for(item, self.custom_id_field)
        line = batch_line(custom_id, self.endpoint, item.body)
        reason = self.limits.too_large(len(line), check.prompt_tokens)
        if reason is not None:
            self.on_unsendable(item, "too_large", reason)
            return

        target = self._part_for(check.model, len(line), check.prompt_tokens)
        self._check_unique(target.part, custom_id, item.line)
        target.handle.write(line)
        target.part.add_line(item.line, len(line), check.prompt_tokens)

    def _part_for(self, model: str, size_bytes: int, prompt_tokens: int) -> _OpenPart:
        current = self._open.get(model)
        if current is not None and self.limits.fits(current.part, size_bytes, prompt_tokens):
            return current
        if current is not None:
            current.handle.close()
            logger.info("part %d is full: %d requests, %d bytes", current.part.index, current.part.requests,
                        current.part.size_bytes)
        part = Part(index=self._next_index, model=model)
        self._next_index += 1
        self.parts.append(part)
        opened = _OpenPart(part, open(part_file(self.work_dir, part.index), "wb"))
        self._open[model] = opened
        return opened

    def _check_unique(self, part: Part, custom_id: str, line: int) -> None:
        if self.custom_id_field is None:
            return  # ids made from line numbers are unique already
        seen = self._seen_ids.setdefault(part.index, set())
        if custom_id in seen:
            raise ValueError(f"custom id {custom_id!r} of input line {line} repeats an earlier line of the same "
                             f"batch; the metadata field {self.custom_id_field!r} must hold a unique value per line")
        seen.add(custom_id)


def part_file(work_dir: Path, index: int) -> Path:
    """Return the path of part `index`'s batch input file."""
    return work_dir / f"part-{index:05d}.jsonl"


def rewrite_part_file(input_path: Path, work_dir: Path, part: Part, endpoint: str, custom_id_field: str | None) -> Path:
    """Write the batch input file of an already planned part again, from its line ranges.

    Used when a run stopped after planning a part but before uploading it, or
    when the server lost the uploaded file.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    path = part_file(work_dir, part.index)
    with open(path, "wb") as handle:
        for item in iter_input(input_path, skip=lambda line: not part.holds(line)):
            if item.body is not None:
                handle.write(batch_line(custom_id_for(item, custom_id_field), endpoint, item.body))
    return path
