"""Which models answered: the ``X-Model`` and ``X-Model-Version`` headers of every predict answer."""

from collections.abc import Iterable, Mapping

from model.serving.registry import ModelInfo

MODEL_HEADER = "X-Model"
VERSION_HEADER = "X-Model-Version"
# ?model=all names every model, in the order of the answer's keys: "freqlr,nblr".
SEPARATOR = ","


def identity_headers(infos: Mapping[str, ModelInfo], names: Iterable[str]) -> dict[str, str]:
    """Return the headers naming the models ``names`` and their versions, from one set's ``infos``."""
    answered = list(names)
    return {
        MODEL_HEADER: SEPARATOR.join(answered),
        VERSION_HEADER: SEPARATOR.join(infos[name]["version"] for name in answered),
    }
