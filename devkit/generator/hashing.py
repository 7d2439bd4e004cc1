"""Cheap deterministic randomness: every value is a pure function of (seed, purpose, index).

Nothing here keeps state, so any record can be rebuilt on its own, in any order, by any process.
"""

from __future__ import annotations

import hashlib

_M64 = (1 << 64) - 1

# selections draw from a permutation of this many residues, so a rate of k per PERIOD picks
# exactly k indices out of every PERIOD consecutive ones (counts are exact, not expected)
PERIOD = 100_000


def mix(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit value for any integer input."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def salt(seed: int, *parts: object) -> int:
    """A 64-bit key for one purpose ("names of students", "fates of layer 2", ...)."""
    text = "\x1f".join([str(seed), *(str(part) for part in parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class Selector:
    """Picks indices at an exact rate: value(i) is a bijection of i within each PERIOD block.

    `value(i) < k` holds for exactly k of any PERIOD consecutive indices, so counting the
    picked indices of a range needs no loop over full blocks.
    """

    __slots__ = ("_mult", "_offset")

    def __init__(self, key: int) -> None:
        mult = (key % PERIOD) | 1
        while mult % 5 == 0:  # coprime with 2**5 * 5**5 makes i -> i*mult a permutation
            mult += 2
        self._mult = mult % PERIOD
        self._offset = (key >> 24) % PERIOD

    def value(self, i: int) -> int:
        return (i * self._mult + self._offset) % PERIOD

    def count_below(self, start: int, end: int, threshold: int) -> int:
        """How many i in [start, end) have value(i) < threshold."""
        if end <= start or threshold <= 0:
            return 0
        blocks, rest = divmod(end - start, PERIOD)
        count = blocks * min(threshold, PERIOD)
        first = start + blocks * PERIOD
        return count + sum(1 for i in range(first, first + rest) if self.value(i) < threshold)


def rate(percent: float) -> int:
    """A percentage as a threshold for Selector.value (resolution 0.001 %)."""
    return round(percent * PERIOD / 100)
