"""Segmentation: hand-computed segment counts and the padding / tail rules of docs/models.md (STRL-SER, "Training")."""

import pytest
import torch

from datamodules.segments import cut_segments, seconds_to_samples, segment_bounds

SR = 16000
L14 = seconds_to_samples(1.4, SR, "segment_length")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(0.3, 1, id="shorter-than-segment-one-padded"),
        pytest.param(1.4, 1, id="exactly-one"),
        pytest.param(2.0, 1, id="tail-0.6s-below-half-dropped"),
        pytest.param(2.1, 2, id="tail-0.7s-exactly-half-kept"),
        pytest.param(2.8, 2, id="exactly-two"),
        pytest.param(3.7, 3, id="tail-0.9s-kept"),
        pytest.param(4.3, 3, id="tail-0.1s-dropped"),
    ],
)
def test_segment_counts_default_rule(seconds: float, expected: int) -> None:
    bounds = segment_bounds(round(seconds * SR), L14)
    assert len(bounds) == expected
    assert all(end - start == L14 for start, end in bounds)
    assert [s for s, _ in bounds] == [i * L14 for i in range(expected)]


def test_min_last_segment_switch() -> None:
    n = round(2.0 * SR)  # 0.6 s tail
    assert len(segment_bounds(n, L14, min_last_segment=0.0)) == 2
    assert len(segment_bounds(n, L14, min_last_segment=0.4)) == 2
    assert len(segment_bounds(n, L14, min_last_segment=1.0)) == 1


def test_overlapping_hop() -> None:
    n = round(2.8 * SR)
    bounds = segment_bounds(n, L14, hop_samples=L14 // 2)
    assert [s for s, _ in bounds] == [0, L14 // 2, L14]


def test_crop_mode_centres_or_pads() -> None:
    assert segment_bounds(3 * L14, L14, mode="crop") == [(L14, 2 * L14)]
    assert segment_bounds(L14 // 2, L14, mode="crop") == [(0, L14)]


def test_cut_segments_zero_pads_tail() -> None:
    wave = torch.arange(1, 101, dtype=torch.float32)
    segs = cut_segments(wave, segment_bounds(100, 40))
    assert segs.shape == (3, 40)  # 100 = 40 + 40 + 20 (half kept)
    assert torch.equal(segs[2, :20], wave[80:]) and torch.all(segs[2, 20:] == 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"num_samples": 0, "segment_samples": 10}, "num_samples", id="empty"),
        pytest.param({"num_samples": 10, "segment_samples": 0}, "segment_samples", id="zero-length"),
        pytest.param({"num_samples": 10, "segment_samples": 5, "hop_samples": 0}, "segment_hop", id="zero-hop"),
        pytest.param({"num_samples": 10, "segment_samples": 5, "min_last_segment": 1.5}, "min_last_segment", id="fraction"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        segment_bounds(**kwargs)


def test_seconds_validation_names_argument() -> None:
    with pytest.raises(ValueError, match="segment_length > 0"):
        seconds_to_samples(-1.0, SR, "segment_length")
