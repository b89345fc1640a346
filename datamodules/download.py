"""Download and unpack corpus archives (RAVDESS speech), with progress and checksums.

Everything is written atomically: a download goes to a hidden ``.part`` file that is renamed
into place only once it is complete (and its checksum matches), and an archive
is unpacked into a hidden temporary folder next to its destination whose top-level entries are
then renamed into place. An interrupted run therefore never leaves a half-written file or folder
under the name a loader looks for, and a second run simply starts again.

``urllib`` serves ``file://`` URLs as well as ``https://`` ones, which is how the tests exercise
the download path without a network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

__all__ = [
    "RAVDESS_SPEECH_MD5",
    "RAVDESS_SPEECH_SHA256",
    "check_sha256",
    "sha256sum",
    "RAVDESS_SPEECH_URL",
    "DownloadError",
    "check_md5",
    "download_ravdess",
    "download_url",
    "extract_zip",
    "md5sum",
]

RAVDESS_SPEECH_URL = "https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip"
"""The official RAVDESS speech-only archive (24 actors, 1440 WAV files, about 200 MB)."""

RAVDESS_SPEECH_MD5 = "bc696df654c87fed845eb13823edef8a"
"""MD5 of ``Audio_Speech_Actors_01-24.zip`` as published on the Zenodo record (the only digest
Zenodo publishes). Checked by default, unless a SHA-256 is pinned or given."""

RAVDESS_SPEECH_SHA256: str | None = None
"""SHA-256 of ``Audio_Speech_Actors_01-24.zip``, checked by default when set. Zenodo publishes no
SHA-256; set this from an archive whose published MD5 matched (``sha256sum`` of it), and the
download is then checked with it instead of the MD5."""

_CHUNK = 1 << 20
_USER_AGENT = "ser-framework-downloader/1.0 (+https://zenodo.org/records/1188976)"


class DownloadError(RuntimeError):
    """Raised when an archive cannot be fetched, verified or unpacked; says what to do."""


def md5sum(path: str | os.PathLike[str], chunk_size: int = _CHUNK) -> str:
    """Return the hex MD5 digest of a file, read in chunks.

    Args:
        path: File to hash.
        chunk_size: Bytes read at a time.

    Returns:
        The lower-case hexadecimal MD5 digest.
    """
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def sha256sum(path: str | os.PathLike[str], chunk_size: int = _CHUNK) -> str:
    """Return the hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: str | os.PathLike[str], sha256: str) -> None:
    """Check a file against an expected SHA-256 digest.

    Raises:
        DownloadError: The digest differs; the message names the file and both digests.
    """
    actual = sha256sum(path)
    if actual != sha256.lower():
        raise DownloadError(
            f"Checksum mismatch for {path}: expected SHA-256 {sha256.lower()}, got {actual}. The file is corrupt, "
            "truncated or not the official archive: delete it and download it again."
        )


def _verify(path: str | os.PathLike[str], md5: str | None, sha256: str | None) -> None:
    if sha256 is not None:
        check_sha256(path, sha256)
    if md5 is not None:
        check_md5(path, md5)


def check_md5(path: str | os.PathLike[str], md5: str) -> None:
    """Check a file against an expected MD5 digest.

    Args:
        path: File to check.
        md5: Expected hexadecimal digest (case-insensitive).

    Raises:
        DownloadError: The digest differs; the message names the file and both digests.
    """
    actual = md5sum(path)
    if actual != md5.lower():
        raise DownloadError(
            f"Checksum mismatch for {path}: expected MD5 {md5.lower()}, got {actual}. "
            "The file is corrupt or a different version: delete it and download it again, "
            "or pass md5=None to skip the check."
        )


def download_url(
    url: str,
    dest: str | os.PathLike[str],
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    sha256: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically, with a tqdm progress bar.

    An existing ``dest`` is re-used (it can only be a complete earlier download, since files are
    renamed into place only when finished) provided it matches ``md5`` when one is given.

    Args:
        url: ``https://``, ``http://`` or ``file://`` URL.
        dest: Path of the downloaded file; its folder is created.
        md5: Expected MD5 digest, or None to skip the check.
        progress: Show a progress bar.
        timeout: Socket timeout in seconds.
        sha256: Expected SHA-256 digest, or None to skip that check.

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        DownloadError: The URL cannot be read, the transfer is truncated, or a digest differs.
    """
    dest = Path(dest)
    if dest.is_file():
        try:
            _verify(dest, md5, sha256)
            return dest
        except DownloadError:
            dest.unlink()  # a stale or corrupt earlier copy: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            written = 0
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"Downloading {dest.name}",
                disable=not progress,
            ) as bar:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
        if total is not None and written != total:
            raise DownloadError(
                f"Download of {url} stopped after {written} of {total} bytes. "
                "Run again to retry, or download the file by hand and pass it as archive=."
            )
        _verify(tmp, md5, sha256)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise DownloadError(
            f"Could not download {url} to {dest}: {exc}. Check the URL and the network "
            "connection, or download the file by hand and pass its path as archive=."
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def extract_zip(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[Path]:
    """Unpack a zip archive into ``dest`` atomically.

    The archive is extracted into a hidden temporary folder inside ``dest``; each top-level entry
    is then renamed into ``dest`` (one atomic rename per entry, so a reader never sees a partly
    extracted folder). macOS ``__MACOSX`` resource folders are dropped. ``zipfile`` already
    refuses member names that would escape the destination (absolute paths, ``..``).

    Args:
        archive: Zip file to unpack.
        dest: Folder to unpack into; created if missing.

    Returns:
        The top-level paths created in ``dest``, sorted.

    Raises:
        DownloadError: The archive is missing or not a valid zip file, or a top-level entry
            already exists in ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise DownloadError(f"Archive {archive} does not exist. Pass the path of the downloaded zip file.")
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".extract-"))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
            raise DownloadError(
                f"{archive} is not a valid zip archive ({exc}). Delete it and download it again."
            ) from exc
        entries = sorted(p for p in tmp.iterdir() if p.name != "__MACOSX")
        clashes = [dest / p.name for p in entries if (dest / p.name).exists()]
        if clashes:
            raise DownloadError(
                f"Cannot unpack {archive} into {dest}: {', '.join(map(str, clashes))} already "
                "exist(s). Remove them or unpack into an empty folder."
            )
        moved = []
        for entry in entries:
            target = dest / entry.name
            os.replace(entry, target)
            moved.append(target)
        return moved
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download_ravdess(
    root: str | os.PathLike[str],
    url: str = RAVDESS_SPEECH_URL,
    archive: str | os.PathLike[str] | None = None,
    md5: str | None = None,
    progress: bool = True,
    sha256: str | None = None,
    verify: bool = True,
) -> Path:
    """Fetch the RAVDESS speech archive and unpack it into ``root``.

    The archive is downloaded to ``root/<archive name>`` and kept there (delete it by hand to
    save about 200 MB); a second call re-uses it instead of downloading again.

    Args:
        root: Folder that will hold ``Actor_01`` ... ``Actor_24``.
        url: Where to download the archive from (``https://`` or ``file://``). Ignored when
            ``archive`` is given.
        archive: A local copy of ``Audio_Speech_Actors_01-24.zip`` to unpack instead of
            downloading.
        md5: Expected MD5 of the archive; ``sha256``: expected SHA-256. With neither, the pinned
            digest of the official archive is checked (:data:`RAVDESS_SPEECH_SHA256` if set, else
            :data:`RAVDESS_SPEECH_MD5`), whatever ``url``/``archive`` it comes from.
        progress: Show a download progress bar.
        verify: ``False`` skips every check (another archive than the official one, e.g. a test).

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        DownloadError: The download, the checksum or the extraction fails.
    """
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    if not verify:
        md5 = sha256 = None
    elif md5 is None and sha256 is None:
        sha256 = RAVDESS_SPEECH_SHA256
        md5 = None if sha256 is not None else RAVDESS_SPEECH_MD5
    if archive is None:
        name = Path(urllib.parse.urlparse(url).path).name or "Audio_Speech_Actors_01-24.zip"
        archive_path = download_url(url, root / name, md5=md5, progress=progress, sha256=sha256)
    else:
        archive_path = Path(archive).expanduser()
        if not archive_path.is_file():
            raise DownloadError(
                f"archive={archive_path} does not exist. Pass the path of a downloaded "
                f"Audio_Speech_Actors_01-24.zip, or leave archive=None to download {url}."
            )
        _verify(archive_path, md5, sha256)
    extract_zip(archive_path, root)
    return root
