"""Two hosts behind HAProxy share one Redis and one history database: limits exact, history whole."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e import wait_until
from tests.hosts.cluster import served_by
from tests.hosts.load import CLIENTS, send

pytestmark = [pytest.mark.hosts, pytest.mark.redis, pytest.mark.postgres]

LIMIT = 20
HISTORY_REQUESTS = 12
HISTORY_TIMEOUT = 30
PREDICT = "/api/v1/predict"


def _answered_by(site, outcomes):
    """Return how many of the successful ``outcomes`` each host served, from the hosts' access logs."""
    return {name: len(ids) for name, ids in served_by(site.hosts, outcomes, PREDICT).items()}


def test_a_tokens_limit_is_exact_across_two_hosts(site, hosts):
    hosts(API_RATE_LIMIT=f"{LIMIT}/minute")
    token = site.token("limit")
    context = site.client_context()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        outcomes = list(
            pool.map(
                lambda _: send(site.port, context, "POST", PREDICT, token, {"a": "hi"}),
                range(3 * LIMIT),
            )
        )
    statuses = [o.status for o in outcomes]
    split = _answered_by(site, outcomes)
    print(f"\n{LIMIT}/minute through HAProxy: {statuses.count(200)} successes, split {split}")
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 2 * LIMIT
    # Every success is in exactly one host's access log, and both hosts served some.
    assert sum(split.values()) == LIMIT
    assert min(split.values()) > 0, f"the successes were not spread over both hosts: {split}"
    # TCP mode: each host sees every client at the balancer's address, never the client's own.
    for host in site.hosts:
        assert host.client_addresses(PREDICT) == {host.ns.outer_address}


def test_predictions_through_either_host_are_listed_by_one_request(site, hosts):
    hosts(API_RATE_LIMIT="1000/minute")
    token = site.token("history")
    context = site.client_context()
    keys = [f"k{i}" for i in range(HISTORY_REQUESTS)]
    outcomes = [send(site.port, context, "POST", PREDICT, token, {key: "what a lovely day"}) for key in keys]
    assert [o.status for o in outcomes] == [200] * HISTORY_REQUESTS
    split = _answered_by(site, outcomes)
    assert min(split.values()) > 0, f"the predictions were not spread over both hosts: {split}"

    def all_listed():
        """The keys one GET lists, once they are all there (history is written asynchronously)."""
        listing = send(site.port, context, "GET", f"/api/v1/predictions?limit={2 * HISTORY_REQUESTS}", token)
        assert listing.status == 200, listing
        found = {row["id"] for row in json.loads(listing.body)["predictions"]}
        return found if found == set(keys) else None

    wait_until(all_listed, "every prediction listed by one GET /api/v1/predictions", timeout=HISTORY_TIMEOUT)
