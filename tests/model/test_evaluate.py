"""Evaluation helpers: expected calibration error, the most confident errors, Markdown escaping."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from model.training.evaluate import confident_errors, expected_calibration_error
from model.training.markdown import md_cell


def test_ece_is_zero_when_each_bin_matches_its_positive_rate():
    # 0.25 with 1 of 4 Positive, 0.75 with 3 of 4 Positive: every bin is exactly right.
    probabilities = [0.25] * 4 + [0.75] * 4
    labels = [1, 0, 0, 0, 1, 1, 1, 0]
    assert expected_calibration_error(labels, probabilities) == pytest.approx(0.0, abs=1e-12)


def test_ece_weights_each_bins_gap_by_its_share_of_tweets():
    # Bin 0.9-1: mean P 0.95, 5 of 10 Positive (gap 0.45); bin 0-0.1: mean P 0.05, none Positive (gap 0.05).
    probabilities = [0.95] * 10 + [0.05] * 10
    labels = [1] * 5 + [0] * 5 + [0] * 10
    assert expected_calibration_error(labels, probabilities) == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)


def test_ece_counts_the_ends_of_the_range_and_agrees_with_the_reliability_diagram():
    rng = np.random.default_rng(0)
    probabilities = np.concatenate([[0.0, 1.0, 0.1, 0.5], rng.random(500)])
    labels = (rng.random(len(probabilities)) < probabilities**2).astype(int)
    rate, mean_p = calibration_curve(labels, probabilities, n_bins=10, strategy="uniform")
    # Rebuild the per-bin counts the same way calibration_curve bins, then weight its gaps by them.
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], probabilities), minlength=10)
    expected = np.sum(counts[counts > 0] * np.abs(rate - mean_p)) / len(probabilities)
    assert expected_calibration_error(labels, probabilities) == pytest.approx(expected)
    assert expected_calibration_error(labels, probabilities) > 0.05


def test_confident_errors_are_the_wrong_ones_furthest_from_one_half():
    labels = [1, 0, 1, 0, 1, 0]
    probabilities = [0.9, 0.6, 0.02, 0.97, 0.45, 0.1]  # wrong: indices 1, 2, 3, 4
    assert confident_errors(labels, probabilities) == [2, 3, 1, 4]
    assert confident_errors(labels, probabilities, count=2) == [2, 3]


def test_md_cell_keeps_a_tweet_in_one_literal_table_cell():
    cell = md_cell("a|b\nc\r\nd *e* <script>&amp; `x` [l](u)\x00")
    assert "\n" not in cell and "\r" not in cell and "\x00" not in cell
    assert cell == r"a\|b ↵ c ↵ d \*e\* \<script\>\&amp; \`x\` \[l\](u)"
