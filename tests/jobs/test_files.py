"""Job files: private modes, atomic writes, chunks assembled in order, ids that cannot leave the root."""

import os
import stat
import uuid

import pytest

from api.jobs.files import JobFiles


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_job_folders_are_0700_and_their_files_0600(job_files, tmp_path):
    old_umask = os.umask(0o022)  # the usual umask would make 0755 folders and 0644 files
    try:
        files = JobFiles(tmp_path / "fresh" / "jobs")
        job_id = uuid.uuid4().hex
        folder = files.create(job_id)
        written = [
            files.write_chunk_input(job_id, 0, ["1"], ["a tweet"]),
            files.write_chunk_output(job_id, 0, "1,Positive,0.9\n"),
            files.assemble(job_id, 1, "id,label,score\n"),
        ]
    finally:
        os.umask(old_umask)
    assert {_mode(path) for path in (files.root, folder)} == {0o700}
    assert {_mode(path) for path in written} == {0o600}


def test_chunk_input_reads_back_what_was_written_emoji_and_lone_surrogates_too(job_files):
    job_id = uuid.uuid4().hex
    job_files.create(job_id)
    ids, texts = ["a", "b", "c"], ["plain", "emoji \U0001f600", "half a pair \ud83d"]
    job_files.write_chunk_input(job_id, 3, ids, texts)
    assert job_files.read_chunk_input(job_id, 3) == (ids, texts)


def test_a_chunk_written_twice_is_one_whole_file(job_files):
    job_id = uuid.uuid4().hex
    folder = job_files.create(job_id)
    job_files.write_chunk_output(job_id, 0, "first run\n")
    job_files.write_chunk_output(job_id, 0, "second run\n")
    assert job_files.chunk_output(job_id, 0).read_text() == "second run\n"
    assert sorted(path.name for path in folder.iterdir()) == [job_files.chunk_output(job_id, 0).name]


def test_a_failed_write_leaves_neither_a_partial_file_nor_a_changed_one(job_files, monkeypatch):
    job_id = uuid.uuid4().hex
    folder = job_files.create(job_id)
    job_files.write_chunk_output(job_id, 0, "kept\n")

    def broken_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        job_files.write_chunk_output(job_id, 0, "never seen\n")
    assert job_files.chunk_output(job_id, 0).read_text() == "kept\n"
    assert [path.name for path in folder.iterdir()] == [job_files.chunk_output(job_id, 0).name]


def test_assemble_writes_the_header_then_the_chunks_in_index_order(job_files):
    job_id = uuid.uuid4().hex
    job_files.create(job_id)
    # Written out of order, as workers finish them.
    for index in (2, 0, 1):
        job_files.write_chunk_output(job_id, index, f"row {index}\n")
    result = job_files.assemble(job_id, 3, "id,label,score\n")
    assert result == job_files.result(job_id)
    assert result.read_text() == "id,label,score\nrow 0\nrow 1\nrow 2\n"


def test_assemble_with_a_chunk_missing_fails_and_leaves_no_result(job_files):
    job_id = uuid.uuid4().hex
    job_files.create(job_id)
    job_files.write_chunk_output(job_id, 0, "row 0\n")
    with pytest.raises(FileNotFoundError):
        job_files.assemble(job_id, 2, "")
    assert not job_files.result(job_id).exists()
    assert [p.name for p in job_files.folder(job_id).iterdir()] == [job_files.chunk_output(job_id, 0).name]


@pytest.mark.parametrize("bad", ["../x", "..", "", "A" * 32, "0" * 31, "0" * 32 + "/x", "/etc"])
def test_only_job_ids_name_folders(job_files, bad):
    with pytest.raises(ValueError, match="not a job id"):
        job_files.folder(bad)


def test_remove_deletes_the_folder_and_is_quiet_when_it_is_gone(job_files):
    job_id = uuid.uuid4().hex
    job_files.create(job_id)
    job_files.write_chunk_input(job_id, 0, ["1"], ["x"])
    assert job_files.job_ids() == [job_id]
    job_files.remove(job_id)
    job_files.remove(job_id)
    assert not job_files.folder(job_id).exists()
    assert job_files.job_ids() == []


def test_free_bytes_is_the_file_systems_available_space(job_files):
    stats = os.statvfs(job_files.root)
    assert job_files.free_bytes() == pytest.approx(stats.f_bavail * stats.f_frsize, rel=0.01)
    assert job_files.free_bytes() > 0
