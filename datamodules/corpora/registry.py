"""The corpus registry: one entry per corpus name, declared once, by the corpus's own module.

A corpus module calls :func:`register_corpus` once, at import, with its name, its loader and
what the framework must know without loading it: the class order (so ``predict`` and the CLI's
class-name linking need no scan), whether it can download itself, and what ``root`` names
(a folder, a file, or a folder it generates its audio into). Everything else asks the registry
(:func:`get_corpus`, :func:`corpus_names`, :func:`load_corpus`); nothing else lists corpus names.

A corpus from your own package needs no framework edit: name it ``package.module:name``
(e.g. ``data.corpus: mylab.corpora.toy:toy`` in a data config) and :func:`get_corpus` imports
``package.module``, which registers ``name`` as it is imported.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from datamodules.corpora.base import Corpus, CorpusError, PathLike, check_links, resolve_root

__all__ = [
    "RootKind",
    "CorpusEntry",
    "corpus_names",
    "get_corpus",
    "load_corpus",
    "register_corpus",
]

RootKind = Literal["folder", "file", "generated"]
"""What a corpus's ``root`` names: ``folder`` (the corpus tree; dangling audio links in it are
refused before loading), ``file`` (e.g. the CSV of ``csv``) or ``generated`` (a folder the loader
writes its audio into; the data module defaults it to ``<cache_dir>/<name>``)."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class CorpusEntry:
    """A registered corpus: its name, its loader and what is known without loading it.

    Attributes:
        name: The corpus name (``data.corpus``), e.g. ``"ravdess"``.
        loader: ``loader(root, **options) -> Corpus``; ``options`` are ``data.corpus_options``
            (plus ``download=True`` for ``data.download`` when ``can_download``).
        classes: The class order every load returns, or None when it depends on the data
            (``csv``, ``folder``).
        can_download: The loader takes ``download=True`` and fetches the corpus itself.
        root: What ``root`` names; see :data:`RootKind`.
        classes_option: The loader takes a ``classes=`` option that sets the class order; a given
            one then overrides ``classes`` (``csv``, ``synthetic``).
    """

    name: str
    loader: Callable[..., Corpus]
    classes: tuple[str, ...] | None = None
    can_download: bool = False
    root: RootKind = "folder"
    classes_option: bool = False

    @property
    def module(self) -> str:
        """The module that registered the corpus (its loader's module)."""
        return str(getattr(self.loader, "__module__", "?"))

    def class_names(self, options: Mapping[str, Any] | None = None) -> tuple[str, ...] | None:
        """The class order a load with ``options`` returns, or None if only loading can tell."""
        given = (options or {}).get("classes") if self.classes_option else None
        return tuple(given) if given is not None else self.classes

    def default_root(self, cache_dir: PathLike) -> Path | None:
        """Where a ``generated`` corpus goes when no root is given (``<cache_dir>/<name>``), else None."""
        return Path(cache_dir) / self.name if self.root == "generated" else None

    def load(self, root: PathLike, **options: Any) -> Corpus:
        """Load the corpus: refuse dangling links in a folder corpus, run the loader, check its result.

        Args:
            root: The corpus folder, file or generation folder (see ``root``).
            **options: Passed to the loader.

        Returns:
            The corpus.

        Raises:
            CorpusError: ``download`` asked of a corpus that cannot download, dangling audio
                links, the loader's own errors, or a loader that returns something other than a
                :class:`Corpus` or other classes than registered.
            TypeError: An option the loader does not take.
        """
        if options.get("download") and not self.can_download:
            raise CorpusError(
                f"Corpus {self.name!r} cannot be downloaded; point root at a local copy and drop download "
                f"(corpora that can: {[n for n in corpus_names() if _REGISTRY[n].can_download]})."
            )
        if self.root == "folder":
            check_links(resolve_root(root))  # every dangling link of the tree in one error
        corpus = self.loader(root, **options)
        if not isinstance(corpus, Corpus):
            raise CorpusError(
                f"The loader {self.module}.{getattr(self.loader, '__qualname__', self.loader)} of corpus "
                f"{self.name!r} returned {type(corpus).__name__}; a loader must return a datamodules.corpora.Corpus."
            )
        expected = self.class_names(options)
        if expected is not None and tuple(corpus.classes) != expected:
            raise CorpusError(
                f"Corpus {self.name!r} is registered with classes {list(expected)}, but its loader returned "
                f"{list(corpus.classes)}; fix register_corpus(classes=...) in {self.module} or the loader."
            )
        return corpus


_REGISTRY: dict[str, CorpusEntry] = {}


def register_corpus(
    name: str,
    loader: Callable[..., Corpus],
    *,
    classes: tuple[str, ...] | list[str] | None = None,
    can_download: bool = False,
    root: RootKind = "folder",
    classes_option: bool = False,
) -> CorpusEntry:
    """Register a corpus under ``name``; call it once, at the bottom of the corpus's module.

    Registering a name again from the same module (a re-import) replaces the entry; from
    another module it is an error, so two corpora never silently share a name.

    Args:
        name: The corpus name: a letter, then letters, digits, ``_`` or ``-``.
        loader: ``loader(root, **options) -> Corpus``.
        classes: The class order every load returns; None when it depends on the data.
        can_download: The loader takes ``download=True``.
        root: What ``root`` names: ``folder``, ``file`` or ``generated`` (see :data:`RootKind`).
        classes_option: The loader takes ``classes=``, which sets the class order.

    Returns:
        The entry.

    Raises:
        CorpusError: A bad name, loader, ``classes`` or ``root``, or a name registered by another module.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise CorpusError(
            f"Corpus name {name!r}: expected a letter followed by letters, digits, '_' or '-' (e.g. 'my_corpus')."
        )
    if not callable(loader):
        raise CorpusError(f"Corpus {name!r}: loader must be callable as loader(root, **options), got {loader!r}.")
    if classes is not None:
        if isinstance(classes, str) or not classes or not all(isinstance(c, str) and c for c in classes):
            raise CorpusError(f"Corpus {name!r}: classes must be a non-empty sequence of class names, got {classes!r}.")
        classes = tuple(classes)
    if root not in get_args(RootKind):
        raise CorpusError(f"Corpus {name!r}: root must be one of {get_args(RootKind)}, got {root!r}.")
    entry = CorpusEntry(name, loader, classes, bool(can_download), root, bool(classes_option))
    old = _REGISTRY.get(name)
    if old is not None and old.module != entry.module:
        raise CorpusError(
            f"Corpus name {name!r} is already registered by {old.module}; {entry.module} must pick another name."
        )
    _REGISTRY[name] = entry
    return entry


def corpus_names() -> tuple[str, ...]:
    """The registered corpus names, in registration order (built-in corpora first)."""
    return tuple(_REGISTRY)


def get_corpus(name: str) -> CorpusEntry:
    """The registered corpus ``name``; ``package.module:name`` imports ``package.module`` first.

    Raises:
        CorpusError: An unknown name (the message lists the registered ones), or a
            ``module:name`` whose module cannot be imported or does not register ``name``.
    """
    if not isinstance(name, str):
        raise CorpusError(f"Expected a corpus name (str), got {type(name).__name__}: {name!r}.")
    module, sep, short = name.rpartition(":")
    if sep:
        if not module or not short:
            raise CorpusError(f"Corpus {name!r}: expected 'package.module:name', e.g. 'mylab.corpora.toy:toy'.")
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise CorpusError(
                f"Corpus {name!r}: cannot import module {module!r} ({exc}). Put the folder holding it on "
                "PYTHONPATH (or install its package), or fix the module path."
            ) from exc
        entry = _REGISTRY.get(short)
        if entry is None:
            mine = [n for n, e in _REGISTRY.items() if e.module == module]
            raise CorpusError(
                f"Corpus {name!r}: module {module!r} was imported but registers no corpus {short!r} "
                f"(it registers {mine}); call datamodules.corpora.register_corpus({short!r}, loader, ...) in it."
            )
        return entry
    entry = _REGISTRY.get(name)
    if entry is None:
        raise CorpusError(
            f"Unknown corpus name {name!r}; expected one of {corpus_names()}, or 'package.module:name' for a "
            "corpus your own module registers (datamodules.corpora.register_corpus)."
        )
    return entry


def load_corpus(name: str, root: PathLike, **kwargs: Any) -> Corpus:
    """Load a registered corpus by name: ``get_corpus(name).load(root, **kwargs)``.

    Args:
        name: A registered name (:func:`corpus_names`: ``ravdess``, ``emodb``, ``iemocap``,
            ``savee``, ``csv`` (``root`` is then the CSV file), ``folder``, ``synthetic``
            (``root`` is then the folder the generated WAVs go to), ...) or ``package.module:name``.
        root: Corpus folder (or CSV file, or synthetic cache folder).
        **kwargs: Passed to the loader, e.g. ``download=True`` for RAVDESS, ``classes=`` for a
            CSV, ``speaker_regex=`` for a folder, ``seed=`` for the synthetic corpus. For
            ``csv``, ``audio_root=`` is ``load_csv``'s ``root`` (the folder relative paths
            start in).

    Returns:
        The loaded corpus.

    Raises:
        CorpusError: ``name`` is unknown, or the loader fails.
        TypeError: A keyword argument the loader does not take.
    """
    return get_corpus(name).load(root, **kwargs)
