"""Argument types shared by the `ratelimit-toolkit` subcommands."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """Parse a whole number >= 1, or raise the error argparse shows to the user."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def positive_number(text: str) -> float:
    """Parse a finite number > 0, or raise the error argparse shows to the user."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value
