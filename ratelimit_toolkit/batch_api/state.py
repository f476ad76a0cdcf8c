"""The job's state file: which batches hold which input lines, so a rerun resumes instead of resubmitting.

The file sits next to the output, `RESULTS.jsonl.batches.json`, and is
rewritten whole (write, then rename) after every change, so a killed client
leaves either the old or the new version. It contains ids, line ranges and counts,
never the API key or any request text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Version of the state file's layout; a file with another version is refused.
STATE_VERSION = 1

#: Batch statuses after which a batch never changes again.
FINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})

_DIGEST_BLOCK_BYTES = 1 << 20


def state_path_for(output_path: str | Path) -> Path:
    """Return the state file of the job writing `output_path`: `<output>.batches.json`."""
    return Path(f"{os.fspath(output_path)}.batches.json")


def work_dir_for(output_path: str | Path) -> Path:
    """Return the folder for part files and downloads: `<output>.batch-files`."""
    return Path(f"{os.fspath(output_path)}.batch-files")


@dataclass
class Part:
    """One batch input file: a set of input lines for one model, and the batches run for it.

    Attributes:
        index: the part's number within the job, from 1.
        model: the `model` every request of the part names.
        line_ranges: its input line numbers, as [start, end) runs.
        requests: the number of lines in it.
        size_bytes: the size of its batch input file.
        prompt_tokens: the estimated prompt tokens of its requests.
        input_file_id: the uploaded file, once uploaded.
        batch_id: the batch now running it, or the last one that did.
        batch_ids: every batch created for it, oldest first.
        status: the last status seen for `batch_id`.
        done: True once its batch ended and its results (or errors) are in the output file.
        waiting: True after the enqueued token limit rejected it, until it is submitted again.
        submissions: batches created for it so far; the count tags each batch's metadata.
    """

    index: int
    model: str
    line_ranges: list[list[int]] = field(default_factory=list)
    requests: int = 0
    size_bytes: int = 0
    prompt_tokens: int = 0
    input_file_id: str | None = None
    batch_id: str | None = None
    batch_ids: list[str] = field(default_factory=list)
    status: str | None = None
    done: bool = False
    waiting: bool = False
    submissions: int = 0

    def add_line(self, line: int, size_bytes: int, prompt_tokens: int) -> None:
        """Add an input line; lines must come in increasing order."""
        if self.line_ranges and self.line_ranges[-1][1] == line:
            self.line_ranges[-1][1] = line + 1
        else:
            self.line_ranges.append([line, line + 1])
        self.requests += 1
        self.size_bytes += size_bytes
        self.prompt_tokens += prompt_tokens

    def holds(self, line: int) -> bool:
        """Tell whether the input line `line` is in this part."""
        return any(start <= line < end for start, end in self.line_ranges)

    def input_line_at(self, position: int) -> int | None:
        """Return the input line number of the part file's 1-based line `position`, or None past the end."""
        remaining = position - 1
        for start, end in self.line_ranges:
            if remaining < end - start:
                return start + remaining
            remaining -= end - start
        return None

    @property
    def active(self) -> bool:
        """True while the part still needs work: not done yet."""
        return not self.done

    @property
    def submitted(self) -> bool:
        """True while it has a batch that is not yet merged: running, or ended and waiting for its merge."""
        return self.batch_id is not None and not self.waiting and not self.done

    @property
    def running(self) -> bool:
        """True while its batch is submitted and not final."""
        return self.batch_id is not None and not self.waiting and self.status not in FINAL_STATUSES

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Part:
        return cls(**data)


@dataclass
class JobState:
    """Everything a rerun needs to find the job's batches again.

    Attributes:
        job_id: a random id, sent as batch metadata so a lost batch can be found by listing.
        created_at: Unix time the job started.
        input_path: the input file, as given.
        input_bytes: its size when the job started.
        input_digest: its BLAKE2b digest, so a changed input is noticed.
        endpoint: the batch endpoint, such as `/v1/chat/completions`.
        custom_id_field: the metadata field custom ids come from, or None for line numbers.
        base_url: the API address the batches belong to, without credentials.
        parts: the parts, in the order they were planned.
    """

    job_id: str
    created_at: int
    input_path: str
    input_bytes: int
    input_digest: str
    endpoint: str
    custom_id_field: str | None
    base_url: str
    parts: list[Part] = field(default_factory=list)
    version: int = STATE_VERSION

    @property
    def active_parts(self) -> list[Part]:
        return [part for part in self.parts if part.active]

    def next_index(self) -> int:
        return max((part.index for part in self.parts), default=0) + 1

    def save(self, path: Path) -> None:
        """Write the state atomically: a temporary file, then a rename over the old one."""
        data = json.dumps(asdict(self), indent=1, ensure_ascii=False)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(data + "\n", encoding="utf-8")
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> JobState:
        """Read a state file.

        Raises:
            ValueError: the file is not a state file of this version; the message names the file.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {STATE_VERSION}")
            parts = [Part.from_dict(part) for part in data.pop("parts")]
            return cls(**data, parts=parts)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise ValueError(
                f"cannot read the batch job state {path} ({error}); if no batches of this job are still "
                f"running, delete it and rerun"
            ) from error


def new_state(input_path: Path, endpoint: str, custom_id_field: str | None, base_url: str) -> JobState:
    """Start the state of a new job over `input_path`."""
    size, digest = input_fingerprint(input_path)
    job_id = f"job_{os.urandom(8).hex()}"
    return JobState(job_id, int(time.time()), os.fspath(input_path), size, digest, endpoint, custom_id_field, base_url)


def input_fingerprint(path: Path) -> tuple[int, str]:
    """Return the size and BLAKE2b digest of `path`, read in blocks."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(_DIGEST_BLOCK_BYTES):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def check_resumable(state: JobState, input_path: Path, endpoint: str, custom_id_field: str | None, base_url: str,
                    state_path: Path) -> None:
    """Check that a rerun uses the input, endpoint, custom id field and server of the saved job.

    Raises:
        ValueError: something differs; the message names it and how to start over.
    """
    start_over = (f"finish the job with its original settings, or delete {state_path} (and its output) "
                  f"to start a new job")
    size, digest = input_fingerprint(input_path)
    if (size, digest) != (state.input_bytes, state.input_digest):
        raise ValueError(f"input {input_path} changed since batch job {state.job_id} started; {start_over}")
    if endpoint != state.endpoint:
        raise ValueError(f"endpoint {endpoint!r} differs from the job's {state.endpoint!r}; {start_over}")
    if custom_id_field != state.custom_id_field:
        raise ValueError(f"custom id field {custom_id_field!r} differs from the job's "
                         f"{state.custom_id_field!r}; {start_over}")
    if base_url.rstrip("/") != state.base_url.rstrip("/"):
        raise ValueError(f"server {base_url} differs from {state.base_url}, where the job's batches live; "
                         f"{start_over}")
