"""Issue 17, 2: one run owns its output folder (lock, staging, one move into place)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spendprint.errors import InputFileError
from spendprint.io.output_folder import LOCK_NAME, OutputSet

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def visible(out: Path) -> dict[str, str]:
    """Names and contents of the non-hidden entries of ``out`` (folders: their file list)."""
    got = {}
    for p in sorted(out.iterdir()):
        if p.name.startswith("."):
            continue
        got[p.name] = p.read_text() if p.is_file() else ",".join(sorted(q.name for q in p.iterdir()))
    return got


def write_set(out: Path, tag: str, names=("run.json", "report.html"), kind="run") -> None:
    with OutputSet(out, kind) as s:
        for n in names:
            s.path(n).write_text(f"{tag}:{n}")


def test_commit_replaces_the_previous_set_and_removes_stale_outputs(tmp_path):
    out = tmp_path / "out"
    write_set(out, "mc", ("run.json", "report.html", "samples.zarr"))
    (out / "notes.txt").write_text("mine")  # a user's file is left alone
    assert visible(out)["samples.zarr"] == "mc:samples.zarr"
    write_set(out, "det", ("run.json", "report.html", "categories.csv"))
    assert visible(out) == {"run.json": "det:run.json", "report.html": "det:report.html",
                            "categories.csv": "det:categories.csv", "notes.txt": "mine"}
    assert not any(p.name.startswith(".staging") for p in out.iterdir())


def test_a_stale_known_output_without_manifest_is_removed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "samples.zarr").mkdir()  # written by an older version, no manifest
    write_set(out, "det", ("run.json",))
    assert "samples.zarr" not in visible(out)


def test_failure_keeps_the_previous_set_and_removes_staging(tmp_path):
    out = tmp_path / "out"
    write_set(out, "old")
    before = visible(out)
    with pytest.raises(RuntimeError):
        with OutputSet(out, "run") as s:
            s.path("run.json").write_text("new")
            raise RuntimeError("crash mid-run")
    assert visible(out) == before
    assert not (out / ".staging-run").exists()


class FullDisk:
    """A writer that fails with ENOSPC after ``limit`` bytes, like a full file system."""

    def __init__(self, limit: int):
        self.left = limit

    def write(self, path: Path, data: bytes) -> None:
        with open(path, "wb") as fh:
            for i in range(0, len(data), 4096):
                block = data[i:i + 4096]
                if len(block) > self.left:
                    raise OSError(errno.ENOSPC, "No space left on device", str(path))
                fh.write(block)
                self.left -= len(block)


def test_disk_full_writer_gives_input_error_and_keeps_previous(tmp_path):
    out = tmp_path / "out"
    write_set(out, "old")
    before = visible(out)
    disk = FullDisk(10_000)
    with pytest.raises(InputFileError, match="disk full"):
        with OutputSet(out, "run") as s:
            disk.write(s.path("run.json"), b"x" * 5000)
            disk.write(s.path("report.html"), b"y" * 50_000)
    assert visible(out) == before and not (out / ".staging-run").exists()


def test_disk_full_on_a_small_tmpfs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the fault-injecting writer covers it")
    try:
        out = mnt / "out"
        write_set(out, "old")
        before = visible(out)
        with pytest.raises(InputFileError, match="disk full"):
            with OutputSet(out, "run") as s:
                s.path("run.json").write_text("new")
                s.path("report.html").write_bytes(b"z" * (1 << 20))  # 1 MiB > 256 KiB
        assert visible(out) == before and not (out / ".staging-run").exists()
        write_set(out, "next")  # the space was given back
        assert visible(out)["run.json"] == "next:run.json"
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_out_naming_a_file_is_an_input_error(tmp_path):
    f = tmp_path / "report.html"
    f.write_text("x")
    with pytest.raises(InputFileError, match="existing file"):
        with OutputSet(f, "run"):
            pass
    with pytest.raises(InputFileError):
        with OutputSet(f / "sub", "run"):
            pass


HOLD = """
import sys, time
from spendprint.io.output_folder import OutputSet
with OutputSet(sys.argv[1], "run") as s:
    s.path("samples.zarr").mkdir()
    (s.path("samples.zarr") / "chunk0").write_text("done")
    s.path("report.html").write_text("partial")
    print("HOLDING", flush=True)
    time.sleep(60)
"""


def _holder(out: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], env=ENV, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "HOLDING"
    return p


def test_second_run_into_the_same_folder_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "out"
    p = _holder(out)
    try:
        with pytest.raises(InputFileError, match=rf"pid {p.pid} on host .*started"):
            with OutputSet(out, "run"):
                pass
        # a second process sees the same
        r = subprocess.run([sys.executable, "-c", HOLD, str(out)], env=ENV, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode != 0 and f"pid {p.pid}" in r.stderr
    finally:
        p.kill()
        p.wait()


def test_lock_of_a_killed_run_is_taken_over_and_its_store_resumed(tmp_path):
    out = tmp_path / "out"
    p = _holder(out)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert (out / LOCK_NAME).exists()
    with OutputSet(out, "run") as s:
        # the resumable store survived, the partial report did not
        assert (s.path("samples.zarr") / "chunk0").read_text() == "done"
        assert not s.path("report.html").exists()
        s.path("run.json").write_text("resumed")
    assert visible(out) == {"run.json": "resumed", "samples.zarr": "chunk0"}


def test_ctrl_c_keeps_only_the_resumable_store(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        with OutputSet(out, "run") as s:
            s.path("samples.zarr").mkdir()
            s.path("report.html").write_text("partial")
            raise KeyboardInterrupt
    assert sorted(p.name for p in (out / ".staging-run").iterdir()) == ["samples.zarr"]
    assert visible(out) == {}
    with OutputSet(out, "run"):  # the lock was released
        pass


def test_concurrent_writers_never_mix_sets(tmp_path):
    """Four processes race for one folder: each either refuses or commits a complete set."""
    out = tmp_path / "out"
    code = """
import sys, time
from spendprint.errors import InputFileError
from spendprint.io.output_folder import OutputSet
tag = sys.argv[2]
try:
    with OutputSet(sys.argv[1], "run") as s:
        for n in ("run.json", "report.html", "categories.csv"):
            s.path(n).write_text(tag)
            time.sleep(0.05)
    print("COMMITTED")
except InputFileError:
    print("REFUSED")
"""
    procs = [subprocess.Popen([sys.executable, "-c", code, str(out), f"t{i}"], env=ENV,
                              stdout=subprocess.PIPE, text=True) for i in range(4)]
    results = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert set(results) <= {"COMMITTED", "REFUSED"} and "COMMITTED" in results
    got = visible(out)
    assert set(got) == {"run.json", "report.html", "categories.csv"}
    assert len(set(got.values())) == 1  # all three files from one run


def test_path_rejects_names_outside_the_set(tmp_path):
    with OutputSet(tmp_path / "o", "run") as s:
        for bad in ("../x", "a/b", ".lock", ""):
            with pytest.raises(ValueError):
                s.path(bad)
