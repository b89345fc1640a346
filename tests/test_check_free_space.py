"""scripts/check_free_space.sh: `make install` refuses a disk without room before pip half-fills it.

``df`` is stubbed (as the study-script tests stub ``ser-experiment``), so no test depends on this machine's disk."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_free_space.sh"
FIX = "set VENV to a folder on a larger disk, or INSTALL_GIB=0 to skip this check"


def _run(tmp_path: Path, *args: str, df_line: str | None = None, df_fails: bool = False) -> subprocess.CompletedProcess[str]:
    """The script with a stub ``df -Pk`` that prints a header and ``df_line`` (or fails, as df does on an unreadable
    mount); the stub also records the folder it was asked about."""
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir(exist_ok=True)
    body = ('echo "df: cannot read table of mounted file systems: Permission denied" >&2; exit 1' if df_fails else
            f'printf "%s\\n" "$3" > {bin_dir}/asked\n'
            f'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"\necho "{df_line}"')
    (bin_dir / "df").write_text(f"#!/usr/bin/env bash\n{body}\n")
    (bin_dir / "df").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False, env=env)


def _line(free_gib: float, device: str = "/dev/vda") -> str:
    free_kib = int(free_gib * 1048576)
    return f"{device} 263174212 {263174212 - free_kib} {free_kib} 96% /work"


def test_room_passes_and_a_missing_folder_is_measured_at_its_nearest_existing_parent(tmp_path: Path) -> None:
    out = _run(tmp_path, str(tmp_path / "not" / "yet" / ".venv"), "11", "make install", FIX, df_line=_line(12))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "stub-bin" / "asked").read_text().strip() == str(tmp_path.resolve())


def test_too_little_room_names_the_folder_its_disk_the_space_and_the_fix(tmp_path: Path) -> None:
    venv = tmp_path / "clone" / ".venv"
    out = _run(tmp_path, str(venv), "11", "make install (a new .venv)", FIX, df_line=_line(4.7, "/dev/mapper/a b"))
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"make install (a new .venv) needs about 11 GiB free for {venv}, but the disk holding {tmp_path.resolve()} "
        f"(mounted at /work) has 4 GiB free. Make room (e.g. delete old clones' .venv folders or stale temporary "
        f"folders), or {FIX}.")


@pytest.mark.parametrize(("df_line", "df_fails", "why"), [
    (None, True, "df -Pk said: df: cannot read table"),
    ("/dev/vda 263174212 - - - /work", False, "from df -Pk's line '/dev/vda 263174212 - - - /work'"),
])
def test_a_free_space_that_cannot_be_read_is_an_error_not_a_full_disk(tmp_path: Path, df_line: str | None,
                                                                       df_fails: bool, why: str) -> None:
    out = _run(tmp_path, str(tmp_path), "11", "make install", FIX, df_line=df_line, df_fails=df_fails)
    assert out.returncode == 2 and f"could not read the free space of {tmp_path.resolve()}" in out.stderr
    assert why in out.stderr


def test_zero_turns_the_check_off_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    assert _run(tmp_path, str(tmp_path), "0", "x", FIX, df_fails=True).returncode == 0  # df never asked
    bad = _run(tmp_path, str(tmp_path), "ten", "x", FIX, df_line=_line(50))
    assert bad.returncode == 2 and "whole number of GiB, not 'ten'" in bad.stderr
    assert _run(tmp_path, str(tmp_path), "99999999999999999999", "x", FIX, df_line=_line(50)).returncode == 2
    assert _run(tmp_path, str(tmp_path), "11", "x", df_line=_line(50)).returncode == 2  # HOW_TO_FIX missing


def test_make_install_checks_a_new_venvs_folder_and_pips_temporary_folder_first(tmp_path: Path) -> None:
    """`make -n` shows the expanded recipe: both checks, with their own fixes, before the venv is created, and
    skipped for a venv that exists already (a reinstall after a pyproject.toml change)."""
    venv = tmp_path / "v"
    out = subprocess.run(["make", "-n", "-C", str(ROOT), "install", f"VENV={venv}"], capture_output=True, text=True,
                         check=True).stdout
    first = out.split(" -m venv ")[0]
    assert f'[ -x {venv}/bin/python ] || bash scripts/check_free_space.sh "{venv}" 11 ' in first
    assert "INSTALL_GIB=0 to skip this check" in first
    assert '[ -x ' + f'{venv}/bin/python ] || bash scripts/check_free_space.sh "${{TMPDIR:-/tmp}}" 4 ' in first
    assert "set TMPDIR to a folder on a larger disk, or TMP_GIB=0 to skip this check" in first
