"""scripts/check_free_space.sh: `make install` refuses a disk without room before pip half-fills it."""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_free_space.sh"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False)


def test_room_passes_and_a_missing_folder_is_probed_at_its_nearest_parent(tmp_path: Path) -> None:
    assert _run(str(tmp_path / "not" / "yet" / ".venv"), "1", "make install").returncode == 0


def test_too_little_room_fails_naming_the_folder_the_space_and_the_fix(tmp_path: Path) -> None:
    free_gib = shutil.disk_usage(tmp_path).free // 2**30
    need = free_gib + 1000
    out = _run(str(tmp_path / ".venv"), str(need), "make install (INSTALL_GIB)")
    assert out.returncode == 1
    msg = out.stderr
    assert str(tmp_path / ".venv") in msg and f"about {need} GiB" in msg
    # the reported free space is the disk's (within a GiB of what Python reads now)
    reported = int(msg.split(" GiB free.")[0].rsplit(" ", 1)[1])
    assert abs(reported - free_gib) <= 1
    assert "INSTALL_GIB=0" in msg


def test_zero_turns_the_check_off_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    assert _run(str(tmp_path), "0", "x").returncode == 0
    bad = _run(str(tmp_path), "ten", "x")
    assert bad.returncode == 2 and "whole number of GiB, not 'ten'" in bad.stderr
    assert _run(str(tmp_path)).returncode == 2


def test_make_install_checks_the_venv_and_temporary_folders_before_creating_the_venv() -> None:
    recipe = (ROOT / "Makefile").read_text().split("$(STAMP): pyproject.toml\n", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip() for line in recipe.splitlines()]
    checks = [i for i, line in enumerate(lines) if "check_free_space.sh" in line]
    venv = next(i for i, line in enumerate(lines) if "-m venv" in line)
    assert len(checks) == 2 and max(checks) < venv
    assert "$(VENV) $(INSTALL_GIB)" in lines[checks[0]] and "TMPDIR" in lines[checks[1]]
