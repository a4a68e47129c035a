"""Catalog structure and candidate generation."""

from __future__ import annotations

import numpy as np

from simulators import CandidateGenerator, UserStreams, make_catalog
from simulators.config import CandidateConfig, CatalogConfig


def test_catalog_has_real_structure() -> None:
    catalog = make_catalog(CatalogConfig())
    emb, genre = catalog.embedding, catalog.genre
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # Genre clusters: tracks are closer to their own genre centroid than to others.
    sims = emb @ catalog.genre_centroids.T
    assert (sims.argmax(axis=1) == genre).mean() > 0.8
    # Durations: log-normal around 3.5 minutes.
    assert 190 < np.median(catalog.duration_s) < 230
    # Power law: the top 10% of tracks hold far more than 10% of popularity.
    share = np.sort(catalog.popularity)[::-1]
    assert share[: len(share) // 10].sum() > 0.4
    assert 0.02 < catalog.promoted.mean() < 0.08
    assert catalog.long_tail.any() and not catalog.long_tail.all()
    # Each artist sings in one genre.
    for artist in range(0, 1000, 97):
        assert len(np.unique(genre[catalog.artist == artist])) == 1


def test_catalog_is_deterministic_in_its_seed() -> None:
    a, b = make_catalog(CatalogConfig(seed=3)), make_catalog(CatalogConfig(seed=3))
    np.testing.assert_array_equal(a.static_features, b.static_features)
    assert not np.array_equal(a.embedding, make_catalog(CatalogConfig(seed=4)).embedding)


def test_candidates_are_distinct_and_masked() -> None:
    catalog = make_catalog(CatalogConfig(num_items=500, num_artists=100))
    generator = CandidateGenerator(catalog, CandidateConfig(num_candidates=40, min_candidates=10), seed=1)
    ids, mask = generator.sample(UserStreams(np.arange(300)).uniform(41))
    assert ids.shape == (300, 40) and mask.shape == (300, 40)
    assert all(len(np.unique(row)) == 40 for row in ids)
    valid = mask.sum(axis=1)
    assert valid.min() >= 10 and valid.max() <= 40 and len(np.unique(valid)) > 10
    assert (mask[:, :10]).all()  # valid candidates come first


def test_candidate_inclusion_follows_popularity() -> None:
    catalog = make_catalog(CatalogConfig(num_items=400, num_artists=80))
    generator = CandidateGenerator(catalog, CandidateConfig(num_candidates=20, popularity_power=1.0), seed=2)
    ids, _ = generator.sample(UserStreams(np.arange(20_000)).uniform(21))
    counts = np.bincount(ids.ravel(), minlength=catalog.num_items)
    popular = np.argsort(catalog.popularity)[-40:]
    rare = np.argsort(catalog.popularity)[:200]
    assert counts[popular].mean() > 5 * counts[rare].mean()
