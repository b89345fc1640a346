"""Emotional-speech corpora: one module per corpus, each registering itself in one registry.

=====================  ========================================================================
module                 what
=====================  ========================================================================
``base.py``            :class:`Corpus`, :class:`Utterance`, :class:`CorpusError`, loader helpers
``registry.py``        :func:`register_corpus`, :func:`get_corpus`, :func:`corpus_names`,
                       :func:`load_corpus`
``ravdess.py``         ``ravdess``: 24 actors, 8 classes, downloadable
``emodb.py``           ``emodb``: 10 speakers, 7 classes
``iemocap.py``         ``iemocap``: 5 sessions, 4 classes (neu, hap+exc, ang, sad)
``savee.py``           ``savee``: 4 speakers, 7 classes
``generic.py``         ``csv`` (a table of files) and ``folder`` (one sub-folder per class)
``synthetic.py``       ``synthetic``: generated speech for tests and zero-download runs
=====================  ========================================================================

Each corpus module ends with one ``register_corpus(name, loader, classes=..., ...)`` call: the
only place its name and class order are declared. The data module (``data.corpus``) and
:func:`load_corpus` look names up here. Importing this package registers the built-in corpora;
a corpus of your own registers when its module is imported, which ``data.corpus:
package.module:name`` does (see :func:`get_corpus`). Imports only point down
(``base`` <- ``registry`` <- corpus modules <- this file), so there is no import cycle.
"""

from __future__ import annotations

from datamodules.corpora.base import UNKNOWN_SPEAKER, Corpus, CorpusError, Utterance
from datamodules.corpora.registry import (
    CorpusEntry,
    RootKind,
    corpus_names,
    get_corpus,
    load_corpus,
    register_corpus,
)

# The built-in corpora register as their modules are imported, in this order (corpus_names()).
# isort: off
from datamodules.corpora.ravdess import RAVDESS_CLASSES, load_ravdess
from datamodules.corpora.emodb import EMODB_CLASSES, EMODB_SPEAKER_GENDER, load_emodb
from datamodules.corpora.iemocap import IEMOCAP_CLASSES, load_iemocap
from datamodules.corpora.savee import SAVEE_CLASSES, load_savee
from datamodules.corpora.generic import load_csv, load_folder
from datamodules.corpora.synthetic import SYNTHETIC_CLASSES, make_synthetic_corpus
# isort: on
from datamodules.download import RAVDESS_SPEECH_URL
from datamodules.suffixes import AUDIO_LIKE_SUFFIXES, AUDIO_SUFFIXES

__all__ = [
    "AUDIO_LIKE_SUFFIXES",
    "AUDIO_SUFFIXES",
    "CORPUS_NAMES",
    "EMODB_CLASSES",
    "EMODB_SPEAKER_GENDER",
    "IEMOCAP_CLASSES",
    "RAVDESS_CLASSES",
    "RAVDESS_SPEECH_URL",
    "SAVEE_CLASSES",
    "SYNTHETIC_CLASSES",
    "UNKNOWN_SPEAKER",
    "Corpus",
    "CorpusEntry",
    "CorpusError",
    "CorpusName",
    "RootKind",
    "Utterance",
    "corpus_names",
    "get_corpus",
    "load_corpus",
    "load_csv",
    "load_emodb",
    "load_folder",
    "load_iemocap",
    "load_ravdess",
    "load_savee",
    "make_synthetic_corpus",
    "register_corpus",
]

CorpusName = str
"""A registered corpus name (:func:`corpus_names`) or ``package.module:name``."""

CORPUS_NAMES: tuple[str, ...] = corpus_names()
"""The built-in corpus names; :func:`corpus_names` also lists corpora registered later."""
