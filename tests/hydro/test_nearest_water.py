"""The nearest water cell: scipy's feature transform, whole or in strips within a reach."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from floodwatch.hydro import nearest_water


@pytest.mark.parametrize("sampling", [(10.0, 10.0), (5.0, 12.5)])
def test_feature_transform_equals_scipys_public_one(sampling: tuple[float, float]) -> None:
    rng = np.random.default_rng(9)
    background = rng.random((70, 90)) > 0.01
    public = ndimage.distance_transform_edt(
        background, sampling=sampling, return_distances=False, return_indices=True
    )
    np.testing.assert_array_equal(nearest_water.feature_transform(background, *sampling), public)


@pytest.mark.parametrize(("water_fraction", "reach_m"), [(0.02, 40.0), (0.0005, 120.0),
                                                        (0.0, 50.0)])
def test_nearest_index_in_strips_equals_the_global_transform(
    monkeypatch: pytest.MonkeyPatch, water_fraction: float, reach_m: float | None
) -> None:
    monkeypatch.setattr(nearest_water, "STRIP_ROWS", 16)  # many strips
    monkeypatch.setattr(nearest_water, "MIN_CELLS", 0)
    rng = np.random.default_rng(11)
    background = rng.random((230, 170)) >= water_fraction
    background[200, 3] = False  # at least one water cell, far from most strips
    sampling = (10.0, 7.5)
    expected = nearest_water.feature_transform(background, *sampling)
    got = nearest_water.nearest_index(background, *sampling, reach_m=reach_m, workers=3)
    assert not background[got[0], got[1]].any()  # every index is a water cell
    rows, cols = np.indices(background.shape)
    true_m = np.hypot((expected[0] - rows) * sampling[0], (expected[1] - cols) * sampling[1])
    got_m = np.hypot((got[0] - rows) * sampling[0], (got[1] - cols) * sampling[1])
    near = true_m <= reach_m
    assert near.any() and (~near).any()
    np.testing.assert_array_equal(got[:, near], expected[:, near])
    assert np.all(got_m[~near] > reach_m)
