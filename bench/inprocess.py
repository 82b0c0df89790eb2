"""In-process throughput: the served pipeline against the naive NLTK pipeline, on one core."""

import os
import statistics
import time
from contextlib import contextmanager

from nltk.stem.porter import PorterStemmer
from nltk.tokenize import TweetTokenizer

from model.serving import text as text_module
from model.serving.labels import label_of


class NaivePipeline:
    """The tutorial's way: NLTK's TweetTokenizer and an unmemoised PorterStemmer for every token.

    It feeds the served model's own frequency table and weights, so the two
    differ only in how text becomes tokens.
    """

    def __init__(self, model):
        self.model = model
        self.tokenizer = TweetTokenizer(preserve_case=False, reduce_len=True, strip_handles=True)
        self.stemmer = PorterStemmer()

    def predict_labels(self, texts):
        """Label tweets, tokenizing and stemming every token from scratch."""
        docs = [[self.stemmer.stem(t) for t in self.tokenizer.tokenize(text)] for text in texts]
        scores = self.model.featurizer_.transform(docs) @ self.model.coef_ + self.model.intercept_
        return [label_of(s) for s in scores]


@contextmanager
def one_core():
    """Run the body pinned to a single CPU, so rates are per core."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def clear_memos(pipeline=None):
    """Forget every memoised token and chunk (and a served model's booster pairs), as in a new worker."""
    text_module.analyse.cache_clear()
    text_module.CHUNKS.clear()
    scorer = getattr(pipeline, "scorer_", None)
    if scorer is not None:
        scorer.booster_changes.clear()


def tweets_per_second(pipeline, batches, seconds, start_at=0):
    """Return tweets/s of ``pipeline.predict_labels`` over ``batches`` for about ``seconds``."""
    done, i, start = 0, start_at, time.perf_counter()
    while True:
        chunk = batches[i % len(batches)]
        pipeline.predict_labels(chunk)
        done += len(chunk)
        i += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def cold_tweets_per_second(pipeline, texts, batch):
    """Return tweets/s of one pass over ``texts`` in batches, starting with empty memos."""
    clear_memos(pipeline)
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        pipeline.predict_labels(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - start)


def measure(model, texts, batches=(1, 100, 1000), rounds=7, slice_seconds=0.3):
    """Return in-process rates per batch size: served (warm and cold memos) and naive.

    The two pipelines run in alternating short slices and every figure is the
    median over the rounds, so drift in a shared machine's speed hits both
    alike and the ratio stays fair.
    """
    naive = NaivePipeline(model)
    results = []
    with one_core():
        for batch in batches:
            cold = cold_tweets_per_second(model, texts, batch)
            groups = [texts[i : i + batch] for i in range(0, len(texts) - batch + 1, batch)]
            served, reference = [], []
            for round_ in range(rounds):
                served.append(tweets_per_second(model, groups, slice_seconds, round_ * 97))
                reference.append(tweets_per_second(naive, groups, slice_seconds, round_ * 97))
            ratios = [s / r for s, r in zip(served, reference, strict=True)]
            results.append(
                {
                    "batch": batch,
                    "served_tweets_per_s": statistics.median(served),
                    "served_cold_tweets_per_s": cold,
                    "naive_tweets_per_s": statistics.median(reference),
                    "speedup": statistics.median(ratios),
                    "speedup_cold": cold / statistics.median(reference),
                }
            )
    return results


def measure_models(models, texts, batches=(1, 100, 1000), seconds=1.0):
    """Return warm one-core tweets/s of every served model (``{name: model}``) per batch size."""
    rows = []
    with one_core():
        for name, model in models.items():
            model.predict_labels(texts[:2000])  # warm its memos, as a serving worker would be
            for batch in batches:
                groups = [texts[i : i + batch] for i in range(0, len(texts) - batch + 1, batch)]
                rate = tweets_per_second(model, groups, seconds)
                rows.append({"model": name, "batch": batch, "tweets_per_s": rate, "us_per_tweet": 1e6 / rate})
    return rows
