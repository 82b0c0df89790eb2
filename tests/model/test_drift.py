"""The drift arithmetic (model/serving/drift.py): fixed bins, the reference, the PSI and its thresholds."""

import math

import pytest

from model.serving import drift


@pytest.mark.parametrize(
    ("probability", "expected"),
    [(0.0, 0), (0.05, 0), (0.1, 1), (0.0999, 0), (0.5, 5), (0.95, 9), (0.9999, 9), (1.0, 9)],
)
def test_each_probability_falls_in_its_tenth(probability, expected):
    # The edges belong to the bin above them; 1.0 to the last bin.
    assert drift.bin_of(probability) == expected


def test_shares_are_the_share_of_each_bin_and_zero_for_nothing():
    assert drift.shares([0.05, 0.15, 0.15, 0.95]) == [0.25, 0.5, 0, 0, 0, 0, 0, 0, 0, 0.25]
    assert drift.shares([]) == [0.0] * drift.BINS


def test_the_reference_of_a_held_out_split():
    reference = drift.reference([0.05, 0.55, 0.95, 0.96], [0.0, 0.5, 0.25, 0.25])
    assert reference == {
        "bins": drift.BINS,
        "shares": [0.25, 0, 0, 0, 0, 0.25, 0, 0, 0, 0.5],
        "unknown_share": 0.25,
        "rows": 4,
    }
    assert drift.reference([], [])["unknown_share"] == 0.0


def test_the_psi_of_two_distributions_is_the_sum_of_its_terms():
    expected = [0.5, 0.5] + [0.0] * 8
    actual = [0.25, 0.75] + [0.0] * 8
    by_hand = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert drift.psi(expected, actual) == pytest.approx(by_hand, abs=1e-12)
    assert drift.psi(expected, expected) == 0


def test_an_empty_bin_on_one_side_gives_a_large_finite_index():
    # EPSILON floors the share: without it, the log of zero would make the index infinite.
    expected = [1.0] + [0.0] * 9
    actual = [0.0] * 9 + [1.0]
    value = drift.psi(expected, actual)
    assert math.isfinite(value)
    by_hand = 2 * (1.0 - drift.EPSILON) * math.log(1.0 / drift.EPSILON)
    assert value == pytest.approx(by_hand, rel=1e-9)


def test_shares_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="3 expected shares against 2"):
        drift.psi([0.2, 0.3, 0.5], [0.5, 0.5])


def test_the_thresholds_read_in_order():
    # Under the warning no shift, between a moderate one, past the alert a shift to act on.
    assert 0 < drift.PSI_WARNING < drift.PSI_ALERT
    assert 0 < drift.UNKNOWN_SHARE_ALERT < 1
    assert drift.MIN_WINDOW >= drift.BINS


def test_a_same_distribution_sample_stays_under_the_warning_and_a_shifted_one_crosses_the_alert():
    # A uniform reference; a sample of MIN_WINDOW rows spread the same way, and one piled at the top.
    reference = drift.shares([(i + 0.5) / 1000 for i in range(1000)])
    same = drift.shares([(i + 0.5) / drift.MIN_WINDOW for i in range(drift.MIN_WINDOW)])
    shifted = drift.shares([0.95] * drift.MIN_WINDOW)
    assert drift.psi(reference, same) < drift.PSI_WARNING
    assert drift.psi(reference, shifted) > drift.PSI_ALERT
