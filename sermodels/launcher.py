"""The ``ser`` console entry point: ``ser --help`` answered without importing torch or Lightning.

Building LightningCLI's help imports torch, Lightning, torchmetrics and every model class (several
seconds on a small CPU), although the text only changes when the code or the installed versions
do. The launcher keeps the rendered help of ``ser --help`` and ``ser <subcommand> --help`` in
``$SER_CACHE/help/``, keyed by a fingerprint of this package's source files (size, mtime), the
installed versions of torch, lightning, jsonargparse and torchmetrics, and the terminal width. The
first call after an install or a code change renders it as before and stores it; later calls print
it in milliseconds. Every other command goes straight to :func:`sermodels.cli.main`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import sys
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

__all__ = ["main", "help_cache_path"]

_SUBCOMMANDS = ("fit", "validate", "test", "predict", "export")
_VERSIONED = ("torch", "lightning", "jsonargparse", "torchmetrics", "sermodels")


def _cache_root() -> Path:
    # Mirrors datamodules.cache.default_cache_dir, which cannot be imported here (it imports numpy/torch).
    if os.environ.get("SER_CACHE"):
        return Path(os.environ["SER_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "sermodels"


def _fingerprint() -> str:
    digest = hashlib.sha1()
    for package in ("sermodels", "datamodules"):
        spec = find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            for path in sorted(Path(folder).rglob("*.py")):
                st = path.stat()
                digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for dist in _VERSIONED:
        try:
            digest.update(f"{dist}={metadata.version(dist)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{dist}=absent\n".encode())
    digest.update(f"python={sys.version}\ncolumns={shutil.get_terminal_size().columns}\n".encode())
    return digest.hexdigest()[:20]


def help_cache_path(argv: list[str]) -> Path | None:
    """Where the help of ``argv`` is cached, or None when ``argv`` is not a plain help request."""
    if argv in (["--help"], ["-h"]):
        name = "ser"
    elif len(argv) == 2 and argv[0] in _SUBCOMMANDS and argv[1] in ("--help", "-h"):
        name = f"ser-{argv[0]}"
    else:
        return None
    return _cache_root() / "help" / f"{name}-{_fingerprint()}.txt"


def main() -> None:
    """``ser``: print a cached help text when there is one, else run the LightningCLI."""
    argv = sys.argv[1:]
    cached = help_cache_path(argv)
    if cached is not None and cached.is_file():
        sys.stdout.write(cached.read_text())
        return
    from sermodels.cli import main as cli_main

    if cached is None:
        cli_main()
        return
    buffer = io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(buffer):
        try:
            cli_main()
        except SystemExit as exit_:  # argparse ends a help request with SystemExit(0)
            code = exit_.code
    text = buffer.getvalue()
    sys.stdout.write(text)
    if code in (0, None) and text:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".tmp-{os.getpid()}-{cached.name}")
        tmp.write_text(text)
        tmp.replace(cached)
    if code not in (0, None):
        raise SystemExit(code)
