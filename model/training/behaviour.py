"""The behavioural suite: cases a sentiment model must get right, run against any model.

In the style of CheckList (Ribeiro et al., ACL 2020): minimum-functionality cases
(a tweet and the label it must get: plain sentiment, negation, emoticons, emoji,
intensifiers, elongations) and invariance cases (a tweet and a variant with a
handle, a URL, a neutral hashtag or another case, whose labels must be equal). The
cases are data (``behaviour_cases.json``), written for this project; they never
train a model nor choose a setting.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from model.serving.base import TweetClassifier
from model.serving.labels import LABELS

CASES = Path(__file__).with_name("behaviour_cases.json")
MINIMUM = "minimum functionality"
INVARIANCE = "invariance"


@dataclass(frozen=True)
class Case:
    """One case: its kind (MINIMUM or INVARIANCE), category, tweet, and expected label or variant."""

    kind: str
    category: str
    text: str
    expected: str


@dataclass(frozen=True)
class Outcome:
    """A case and what the model answered (for an invariance case: the tweet's and the variant's labels)."""

    case: Case
    answers: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when the model met the case."""
        if self.case.kind == MINIMUM:
            return self.answers == (self.case.expected,)
        return self.answers[0] == self.answers[1]


def load_cases(path: Path = CASES) -> list[Case]:
    """Return every case of the suite's file, minimum-functionality cases first, in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    cases: list[Case] = []
    for category, pairs in data["minimum_functionality"].items():
        for text, label in pairs:
            if label not in LABELS:
                raise ValueError(f"{category}: {label!r} is not a label")
            cases.append(Case(MINIMUM, category, text, label))
    for category, pairs in data["invariance"].items():
        cases.extend(Case(INVARIANCE, category, text, variant) for text, variant in pairs)
    return cases


def run(model: TweetClassifier, cases: Sequence[Case]) -> list[Outcome]:
    """Return each case's outcome for ``model``."""
    texts = [case.text for case in cases]
    variants = [case.expected for case in cases if case.kind == INVARIANCE]
    labels = model.predict_labels(texts)
    variant_labels = iter(model.predict_labels(variants))
    return [
        Outcome(case, (label,) if case.kind == MINIMUM else (label, next(variant_labels)))
        for case, label in zip(cases, labels, strict=True)
    ]


def pass_rates(outcomes: Sequence[Outcome]) -> dict[tuple[str, str], tuple[int, int]]:
    """Return ``{(kind, category): (passed, cases)}`` in the order the categories first appear."""
    rates: dict[tuple[str, str], tuple[int, int]] = {}
    for outcome in outcomes:
        key = (outcome.case.kind, outcome.case.category)
        passed, total = rates.get(key, (0, 0))
        rates[key] = (passed + outcome.passed, total + 1)
    return rates


def kind_rate(outcomes: Sequence[Outcome], kind: str) -> float:
    """Return the share of the cases of ``kind`` that passed."""
    of_kind = [outcome.passed for outcome in outcomes if outcome.case.kind == kind]
    return sum(of_kind) / len(of_kind)
