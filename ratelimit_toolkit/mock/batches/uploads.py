"""Read a `POST /v1/files` multipart upload without aiohttp's 1 MiB form limit."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from ratelimit_toolkit.mock.batches.limits import MAX_UPLOAD_BYTES
from ratelimit_toolkit.mock.validation import RequestRejected, reject

#: Purposes the Files API accepts (openai-python's `FilePurpose`).
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


@dataclass(frozen=True)
class Upload:
    """The parts of an upload the mock server keeps."""

    filename: str
    purpose: str
    data: bytes


async def read_upload(request: web.Request, max_bytes: int = MAX_UPLOAD_BYTES) -> Upload:
    """Read the `file` and `purpose` parts, or raise a 400 or 413 naming what is wrong."""
    if not request.content_type.startswith("multipart/"):
        raise reject(f"Expected a multipart/form-data upload with 'file' and 'purpose', got {request.content_type!r}.")

    purpose: str | None = None
    filename: str | None = None
    data: bytes | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "purpose":
            purpose = (await part.text()).strip()
        elif part.name == "file":
            filename = part.filename or "upload.jsonl"
            data = await _read_limited(part, max_bytes)

    if data is None:
        raise reject("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    if not purpose:
        raise reject("Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter")
    if purpose not in FILE_PURPOSES:
        raise reject(f"Invalid 'purpose': {purpose!r}. Use one of {', '.join(FILE_PURPOSES)}.", param="purpose",
                     code="invalid_value")
    return Upload(filename or "upload.jsonl", purpose, data)


async def _read_limited(part: BodyPartReader, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> RequestRejected:
    return reject(f"The file is larger than the limit of {max_bytes:,} bytes per file.", code="file_too_large", status=413)
