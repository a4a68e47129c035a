"""Per-user random streams that are drawn for the whole batch in one numpy call.

Why not one `np.random.Generator` for the batch? Then user b's draws would depend on how many
other users share the batch, and a batched run could never reproduce B single-user runs. Why
not B Generators? Drawing from them needs a Python loop over users. A counter-based generator
gives both: user b's i-th number is a pure function of (key_b, i), so any subset of users is
drawn at once with array arithmetic, and a user's stream is identical whatever batch it is in.

The mixing function is SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014), the finalizer used to seed numpy's and Java's generators. Keys are
the mixed seeds, so nearby seeds give unrelated streams.
"""

from __future__ import annotations

import functools

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_TO_UNIT32 = np.float32(2.0**-24)
_TO_UNIT64 = 2.0**-53


@functools.lru_cache(maxsize=16)
def _weyl_steps(n: int) -> np.ndarray:
    """Offsets (1..n) * golden of the next n words of a stream: uint64[n] (read-only, cached)."""
    steps = np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN
    steps.flags.writeable = False
    return steps


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer on a uint64 array (in place where possible)."""
    z ^= z >> _S30
    z *= _MIX1
    z ^= z >> _S27
    z *= _MIX2
    z ^= z >> _S31
    return z


def seed_keys(seeds: np.ndarray) -> np.ndarray:
    """Turn integer seeds (any int64 values) into stream keys: uint64[B]."""
    z = np.asarray(seeds, dtype=np.int64).astype(np.uint64)
    return _mix(z * _GOLDEN + _GOLDEN)  # uint64 array arithmetic wraps modulo 2**64, silently


class UserStreams:
    """B independent random streams, one per user slot.

    Each call draws the same count from every requested row and advances only those rows, so a
    row's sequence never depends on the other rows. Arguments `rows` select a subset (e.g. the
    users being reset); by default all rows draw.

    Args:
        seeds: int[B], one seed per user slot. Slot b of a batch seeded ``seed + b`` reproduces
            a single-user stream seeded ``seed + b``.
    """

    def __init__(self, seeds: np.ndarray) -> None:
        seeds = np.atleast_1d(np.asarray(seeds))
        if seeds.ndim != 1 or not np.issubdtype(seeds.dtype, np.integer):
            raise ValueError(f"seeds must be a 1-D integer array, got dtype {seeds.dtype} shape {seeds.shape}")
        self.keys = seed_keys(seeds)
        self.counters = np.zeros(seeds.shape[0], dtype=np.uint64)

    @property
    def size(self) -> int:
        return int(self.keys.shape[0])

    def reseed(self, rows: np.ndarray, seeds: np.ndarray) -> None:
        """Restart the streams of `rows` from new seeds."""
        self.keys[rows] = seed_keys(seeds)
        self.counters[rows] = 0

    def _bits(self, n: int, rows: np.ndarray | None) -> np.ndarray:
        """n uint64 words per row: uint64[len(rows), n].

        Word i of a row is mix(key + (counter + i) * golden), computed as the row's Weyl state
        ``key + counter * golden`` plus the cached column offsets ``i * golden``.
        """
        keys = self.keys if rows is None else self.keys[rows]
        counters = self.counters if rows is None else self.counters[rows]
        weyl = counters * _GOLDEN
        weyl += keys
        z = weyl[:, None] + _weyl_steps(n)
        _mix(z)
        if rows is None:
            self.counters += np.uint64(n)
        else:
            self.counters[rows] += np.uint64(n)
        return z

    def uniform(self, n: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Uniform float32 in [0, 1): float32[len(rows), n]. Two numbers per 64-bit word."""
        words = self._bits((n + 1) // 2, rows)
        halves = words.view(np.uint32).reshape(words.shape[0], 2 * words.shape[1])[:, :n]
        halves >>= np.uint32(8)
        return np.multiply(halves, _TO_UNIT32, dtype=np.float32)

    def uniform64(self, n: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Uniform float64 in [0, 1) at full precision: float64[len(rows), n]."""
        return (self._bits(n, rows) >> np.uint64(11)).astype(np.float64) * _TO_UNIT64

    def normal(self, n: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Standard normal float64[len(rows), n] by Box-Muller (used at session start only)."""
        m = (n + 1) // 2
        u = self.uniform64(2 * m, rows)
        radius = np.sqrt(-2.0 * np.log1p(-u[:, :m]))
        angle = 2.0 * np.pi * u[:, m:]
        return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)], axis=1)[:, :n]
