"""The report's behavioural section: each model's pass rate per category, and the default model's failures."""

from model.training import behaviour
from model.training.evaluate import Evaluation
from model.training.markdown import md_cell, table


def behaviour_section(evaluation: Evaluation) -> str:
    """Pass rates by kind and category for every model; the cases the default model fails."""
    names = list(evaluation.results)
    rates = {name: behaviour.pass_rates(result.behaviour) for name, result in evaluation.results.items()}
    keys = list(rates[names[0]]) if names else []
    rows = []
    for kind in (behaviour.MINIMUM, behaviour.INVARIANCE):
        for key in (k for k in keys if k[0] == kind):
            rows.append([md_cell(kind), md_cell(key[1]), *(_rate(*rates[name][key]) for name in names)])
        totals = [
            _rate(
                sum(p for (k, _), (p, _) in rates[name].items() if k == kind),
                sum(n for (k, _), (_, n) in rates[name].items() if k == kind),
            )
            for name in names
        ]
        rows.append([f"**{md_cell(kind)}**", "**all**", *(f"**{t}**" for t in totals)])
    default = evaluation.results.get(evaluation.default_name)
    failed = [o for o in default.behaviour if not o.passed] if default else []
    failures = table(
        ["category", "tweet", "expected", "answered"],
        (
            [
                md_cell(o.case.category),
                md_cell(o.case.text),
                md_cell(o.case.expected),
                md_cell(" / ".join(o.answers)),
            ]
            for o in failed
        ),
    )
    total = len(default.behaviour) if default else 0
    return "\n".join(
        [
            "## Behavioural suite",
            "",
            f"{total} cases written for this project (`model/training/behaviour_cases.json`), never used in"
            " training: minimum functionality (the label a tweet must get) and invariance (a handle, a URL,"
            " a neutral hashtag or another case must not change the label).",
            "",
            table(
                [
                    "kind",
                    "category",
                    *(md_cell(n) + (" ★" if n == evaluation.default_name else "") for n in names),
                ],
                rows,
            ),
            "",
            f"Cases the default model ({md_cell(evaluation.default_name)}) fails: {len(failed)}"
            + (
                "."
                if not failed
                else "; for an invariance case the answer is the tweet's / the variant's label."
            ),
            "",
            *([failures] if failed else []),
        ]
    )


def _rate(passed: int, total: int) -> str:
    """Return "passed/total (percent)"."""
    return f"{passed}/{total} ({100 * passed / total:.0f}%)" if total else "-"
