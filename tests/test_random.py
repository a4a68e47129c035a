"""Per-user streams: independent of batch composition, and statistically uniform."""

from __future__ import annotations

import numpy as np

from simulators import UserStreams


def test_row_stream_does_not_depend_on_batch() -> None:
    batch = UserStreams(np.array([7, 8, 9]))
    single = UserStreams(np.array([8]))
    for n in (5, 1, 17):
        np.testing.assert_array_equal(batch.uniform(n)[1], single.uniform(n)[0])
    # A subset draw advances only that row.
    batch.uniform(3, rows=np.array([0]))
    np.testing.assert_array_equal(batch.uniform(4)[1], single.uniform(4)[0])


def test_reseed_restarts_the_stream() -> None:
    streams = UserStreams(np.array([1, 2]))
    first = streams.uniform(6)
    streams.reseed(np.arange(2), np.array([1, 2]))
    np.testing.assert_array_equal(streams.uniform(6), first)


def test_uniform_and_normal_moments() -> None:
    streams = UserStreams(np.arange(200))
    u = streams.uniform(1000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.003  # SE = 0.289 / sqrt(2e5) = 0.00065
    assert abs(u.var() - 1 / 12) < 0.002
    z = streams.normal(999)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    # Neighbouring seeds are uncorrelated.
    assert abs(np.corrcoef(u[0], u[1])[0, 1]) < 0.12
