"""Argument checks the nets and front ends share, each raising a ``ValueError`` that names the
argument, what was expected and the value given."""

from __future__ import annotations

from typing import get_args

__all__ = ["check_choice", "check_odd", "check_positive"]


def check_choice(name: str, value: object, literal: object) -> None:
    """``value`` must be one of the values of the ``Literal[...]`` type ``literal``."""
    allowed = get_args(literal)
    if value not in allowed:
        raise ValueError(f"Expected {name} to be one of {allowed}, got {value!r}")


def check_positive(name: str, value: int) -> None:
    """``value`` must be an int >= 1 (``True``/``False`` are refused, though Python counts them as ints)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Expected {name} to be a positive integer, got {value!r}")


def check_odd(name: str, value: int) -> None:
    """``value`` must be an odd int >= 1: a convolution kernel whose 'same' padding keeps the map size."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
        raise ValueError(
            f"Expected {name} to be an odd integer >= 1 (so 'same' padding keeps the map size), got {value!r}"
        )
