"""The docs and scripts name only config files that exist (the redesign moved every config)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "README.md", ROOT / "Makefile", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "scripts").glob("*"))]


def test_every_config_path_in_the_docs_exists() -> None:
    named = {(src.name, m) for src in SOURCES if src.is_file() for m in re.findall(r"configs/[\w/.-]+\.yaml", src.read_text())}
    assert len(named) > 10  # the README alone names a dozen
    missing = sorted(f"{src}: {path}" for src, path in named if not (ROOT / path).is_file())
    assert not missing, f"config files named but absent: {missing}"
