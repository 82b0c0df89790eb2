"""Shared helpers of the metrics tests (tests/web/test_metrics*.py): reading a Prometheus exposition."""

from prometheus_client.parser import text_string_to_metric_families

PREDICT = "/api/v1/predict"


def samples(text):
    """Return ``{(sample name, frozenset of labels): value}`` of a Prometheus text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped, name, **labels):
    """Return one sample's value, 0 if the series does not exist (yet)."""
    return scraped.get((name, frozenset(labels.items())), 0.0)


def requests_of(scraped, endpoint, status, method=None):
    """Return the request count of ``endpoint`` with ``status`` (the method follows from the endpoint)."""
    method = method or ("POST" if endpoint == PREDICT else "GET")
    return value(
        scraped, "sentiment_http_requests_total", endpoint=endpoint, method=method, status=str(status)
    )
