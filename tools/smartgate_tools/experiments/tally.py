"""Accuracy / wrong / no-read tallies per set and mode, as the reader experiments print them."""

from __future__ import annotations

from collections.abc import Callable

OUTCOMES = ("correct", "wrong", "no_read")
Tally = dict[str, dict[object, dict[str, int]]]


def count(tally: Tally, name: str, mode: object, outcome: str) -> None:
    """One image of set `name` read in `mode` came out as `outcome` (one of OUTCOMES)."""
    tally.setdefault(name, {}).setdefault(mode, dict.fromkeys(OUTCOMES, 0))[outcome] += 1


def print_tally(tally: Tally, label: Callable[[object], str] = str) -> None:
    """One line per set and mode (modes in the order first counted)."""
    for name in sorted(tally):
        for mode, c in tally[name].items():
            n = sum(c.values())
            print(f"{name:18s} {label(mode):12s} n={n:4d} accuracy {c['correct'] / n:6.1%} "
                  f"wrong {c['wrong'] / n:5.1%} no-read {c['no_read'] / n:5.1%}")
