"""Uploads: streamed into chunk files as they are read, each limit its own 4xx, nothing left when refused."""

import io
import json
import uuid

import pytest

from api.jobs.errors import BadUpload, InsufficientStorage, TooManyRows, UploadTooLarge
from api.jobs.upload import BLOCK_BYTES, Upload, UploadLimits, receive

SECRET = "my very private tweet"


def _csv(rows, with_id=True):
    """Return a CSV body of ``rows`` rows (id,text or text alone)."""
    header = "id,text\n" if with_id else "text\n"
    return (
        header + "".join(f"r{n},tweet {n}\n" if with_id else f"tweet {n}\n" for n in range(rows))
    ).encode()


def _limits(**fields):
    return UploadLimits(
        **({"max_bytes": 1 << 20, "max_rows": 1000, "min_free_bytes": 0, "chunk_rows": 10} | fields)
    )


def _upload(fmt="csv", **fields):
    return Upload(job_id=uuid.uuid4().hex, fmt=fmt, **fields)


class Recorded(io.BytesIO):
    """A body that records the sizes it was asked for, and how far it was read."""

    def __init__(self, data):
        super().__init__(data)
        self.sizes = []

    def read(self, size=-1, /):
        self.sizes.append(size)
        return super().read(size)


def _chunks(files, upload, count):
    return [files.read_chunk_input(upload.job_id, index) for index in range(count)]


def test_a_csv_is_stored_in_chunks_in_file_order(job_files):
    upload = _upload()
    received = receive(io.BytesIO(_csv(25)), upload, job_files, _limits())
    assert (received.rows, received.chunks) == (25, 3)
    chunks = _chunks(job_files, upload, 3)
    assert [len(ids) for ids, _ in chunks] == [10, 10, 5]
    assert [key for ids, _ in chunks for key in ids] == [f"r{n}" for n in range(25)]
    assert chunks[2][1][-1] == "tweet 24"
    assert not job_files.chunk_input(upload.job_id, 3).exists()


def test_without_an_id_column_the_ids_are_row_numbers_and_a_bom_is_skipped(job_files):
    upload = _upload()
    receive(io.BytesIO(b"\xef\xbb\xbf" + _csv(12, with_id=False)), upload, job_files, _limits())
    assert [key for ids, _ in _chunks(job_files, upload, 2) for key in ids] == [str(n) for n in range(1, 13)]


def test_an_ndjson_upload_is_read_with_its_columns(job_files):
    lines = [json.dumps({"key": f"k{n}", "body": f"tweet {n} \U0001f600"}) for n in range(15)]
    upload = _upload("ndjson", text_column="body", id_column="key")
    received = receive(io.BytesIO(("\n".join(lines) + "\n").encode()), upload, job_files, _limits())
    assert (received.rows, received.chunks) == (15, 2)
    ids, texts = job_files.read_chunk_input(upload.job_id, 1)
    assert (ids[-1], texts[-1]) == ("k14", "tweet 14 \U0001f600")


def test_the_body_is_read_in_blocks_and_chunks_are_written_as_they_come(job_files):
    upload = _upload()
    body = _csv(20_000)
    seen = {}

    class Watching(Recorded):
        def read(self, size=-1, /):
            # Halfway through the body, the first chunks must already be on disk.
            if self.tell() > len(body) // 2 and "halfway" not in seen:
                seen["halfway"] = job_files.chunk_input(upload.job_id, 0).exists()
            return super().read(size)

    stream = Watching(body)
    receive(stream, upload, job_files, _limits(max_bytes=len(body), max_rows=20_000, chunk_rows=1000))
    assert seen == {"halfway": True}
    assert max(stream.sizes) <= BLOCK_BYTES and -1 not in stream.sizes


def test_a_declared_length_over_the_limit_is_refused_before_reading(job_files):
    upload = _upload()
    stream = Recorded(_csv(10))
    with pytest.raises(UploadTooLarge) as raised:
        receive(stream, Upload(upload.job_id, "csv", content_length=2048), job_files, _limits(max_bytes=2047))
    assert (raised.value.status, raised.value.code) == (413, "upload_too_large")
    assert "2047 bytes" in raised.value.message
    assert stream.sizes == []
    assert not job_files.folder(upload.job_id).exists()


def test_a_chunked_body_past_the_limit_stops_there_and_leaves_nothing(job_files):
    upload = _upload()
    body = _csv(5000)
    stream = Recorded(body)
    with pytest.raises(UploadTooLarge):
        receive(stream, upload, job_files, _limits(max_bytes=len(body) // 4, max_rows=10_000))
    assert stream.tell() < len(body) // 2  # stopped at the limit, not at the end
    assert not job_files.folder(upload.job_id).exists()
    assert job_files.job_ids() == []


def test_too_many_rows_stops_reading_and_leaves_nothing(job_files):
    upload = _upload()
    body = _csv(100_000)
    stream = Recorded(body)
    with pytest.raises(TooManyRows) as raised:
        receive(stream, upload, job_files, _limits(max_bytes=len(body), max_rows=25))
    assert (raised.value.status, raised.value.code) == (413, "too_many_rows")
    assert "more than 25 rows" in raised.value.message
    assert stream.tell() < len(body) // 10
    assert not job_files.folder(upload.job_id).exists()


def test_exactly_the_row_limit_is_accepted(job_files):
    assert receive(io.BytesIO(_csv(25)), _upload(), job_files, _limits(max_rows=25)).rows == 25


@pytest.mark.parametrize(
    ("body", "fmt", "expected"),
    [
        (f"id,text\n1,fine\n2,{SECRET}\n3\n".encode(), "csv", "upload: row 3 (line 4) has 1 field(s)"),
        (f"id,text\n1,{SECRET}\n2,caf\xe9 {SECRET}\n".encode("latin-1"), "csv", "upload: row 2: byte 0xe9"),
        (f"id,body\n1,{SECRET}\n".encode(), "csv", "no 'text' column"),
        (
            f'{{"text": "{SECRET}"}}\n{{"text": "{SECRET}"'.encode(),
            "ndjson",
            "upload: row 2 (line 2): not valid",
        ),
        (
            f'{{"text": "{SECRET}"}}\n[1]\n'.encode(),
            "ndjson",
            "upload: row 2 (line 2): a JSON object expected",
        ),
        (b"", "csv", "empty file"),
        (b"id,text\n", "csv", "upload: no rows to score"),
        (b"\n\n", "ndjson", "upload: no rows to score"),
    ],
)
def test_a_malformed_upload_is_bad_upload_naming_the_row_never_the_text(job_files, body, fmt, expected):
    upload = _upload(fmt)
    with pytest.raises(BadUpload) as raised:
        receive(io.BytesIO(body), upload, job_files, _limits(chunk_rows=1))
    assert (raised.value.status, raised.value.code) == (400, "bad_upload")
    assert expected in raised.value.message
    assert SECRET not in raised.value.message
    assert not job_files.folder(upload.job_id).exists()


def test_the_disk_guard_refuses_before_reading(job_files, monkeypatch):
    monkeypatch.setattr(job_files, "free_bytes", lambda: 10_000)
    stream = Recorded(_csv(10))
    upload = _upload()
    with pytest.raises(InsufficientStorage) as raised:
        receive(stream, upload, job_files, _limits(min_free_bytes=10_001))
    assert (raised.value.status, raised.value.code) == (507, "insufficient_storage")
    assert stream.sizes == []
    # With a declared length, the upload's own size counts too.
    with pytest.raises(InsufficientStorage):
        receive(
            stream, Upload(upload.job_id, "csv", content_length=5000), job_files, _limits(min_free_bytes=6000)
        )
    assert not job_files.folder(upload.job_id).exists()


def test_the_disk_guard_stops_an_upload_that_fills_the_disk_and_removes_it(job_files, monkeypatch):
    free = iter(range(100_000, 0, -10_000))  # each check finds less free space
    monkeypatch.setattr(job_files, "free_bytes", lambda: next(free))
    upload = _upload()
    with pytest.raises(InsufficientStorage):
        receive(io.BytesIO(_csv(200)), upload, job_files, _limits(min_free_bytes=65_000))
    assert not job_files.folder(upload.job_id).exists()


def test_a_failure_of_the_stream_itself_removes_the_folder_and_is_not_hidden(job_files):
    class Broken(io.BytesIO):
        def read(self, size=-1, /):
            if self.tell() > 100:
                raise ConnectionResetError("client went away")
            return super().read(size)

    upload = _upload()
    with pytest.raises(ConnectionResetError):
        receive(Broken(_csv(1000)), upload, job_files, _limits(chunk_rows=2))
    assert not job_files.folder(upload.job_id).exists()
