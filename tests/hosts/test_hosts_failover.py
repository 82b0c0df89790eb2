"""A host that dies or restarts under load behind HAProxy: what clients see.

Load: tests/hosts/load.py's CLIENTS clients, keep-alive off (each request its own connection,
so HAProxy picks a host per request and can retry a connection that a host refuses).
"""

import time

import pytest

from tests.e2e import wait_until
from tests.hosts.cluster import served_by
from tests.hosts.load import CLIENTS, load

pytestmark = [pytest.mark.hosts, pytest.mark.redis, pytest.mark.postgres]

UNLIMITED = {"API_RATE_LIMIT": "1000000/minute"}
PREDICT = "/api/v1/predict"
LOAD_SECONDS = 10
WARM_REQUESTS = 20
# Bounds for a slow, shared machine; not speed requirements.
PHASE_TIMEOUT = 90
# Seconds a stopping host serves with /readyz refusing: HAProxy marks it down within 2 + 2 x 0.5 s.
SHUTDOWN_DELAY = 5


def _keep_loading(load_, until, what):
    """Let the load run until time.monotonic() reaches ``until``."""
    wait_until(lambda: time.monotonic() >= until, what, timeout=until - time.monotonic() + 5)


def _wait_for_requests(load_, count, what):
    """Let the load run until ``count`` requests have ended."""
    wait_until(lambda: load_.count() >= count, what, timeout=PHASE_TIMEOUT)


def test_a_host_killed_under_load_fails_only_its_requests_in_flight(site, hosts):
    hosts(**UNLIMITED)
    victim, survivor = site.hosts
    with load(site.port, site.client_context(), site.token("kill")) as running:
        started = time.monotonic()
        _wait_for_requests(running, WARM_REQUESTS, "the load's first requests")
        killed = time.monotonic()
        victim.kill()
        gone = time.monotonic()
        site.balancer.wait_status(victim.name, "DOWN", timeout=PHASE_TIMEOUT)
        down = time.monotonic()
        sessions_when_down = site.balancer.sessions(victim.name)[1]
        _keep_loading(running, started + LOAD_SECONDS, f"{LOAD_SECONDS} s of load")
        ended_by_then = running.count()
        _keep_loading(running, time.monotonic() + 2, "2 s more of load")
    outcomes = running.outcomes
    failures = [o for o in outcomes if o.status != 200]
    at_kill = [o for o in failures if o.started < killed]
    print(
        f"\nSIGKILL under load ({CLIENTS} clients, keep-alive off): {len(outcomes)} requests, "
        f"{len(failures)} failed ({len(at_kill)} in flight at the kill), started "
        f"{[round(o.started - killed, 3) for o in failures]} s from the kill (the host's processes all "
        f"gone {gone - killed:.3f} s after it): {[o.error for o in failures]}; "
        f"HAProxy marked it DOWN {down - killed:.2f} s after the kill"
    )
    # Only requests in flight on the host as it died failed: each started before its last process
    # was gone, and ended after the kill. Dying takes the kernel a moment (0.1-0.2 s here, freeing
    # each process's memory), during which the host's socket still completes connections: a
    # client whose request was cut can land its next one there too. Of the requests already in
    # flight at the kill, at most one per client.
    assert all(o.started < gone and o.ended >= killed for o in failures), failures
    assert len(at_kill) <= CLIENTS
    # Once HAProxy has marked it down, no connection goes to it and the survivor serves them all.
    assert site.balancer.sessions(victim.name)[1] == sessions_when_down
    assert len(outcomes) > ended_by_then
    after_down = [o for o in outcomes if o.started > down]
    assert all(o.status == 200 for o in after_down)
    # (Only those: the victim may have died between an answer and its access line.)
    assert served_by(site.hosts, after_down, PREDICT)[survivor.name] == {o.request_id for o in after_down}


def test_a_rolling_restart_under_load_fails_no_request(site, hosts):
    # Each host, SIGTERMed, fails /readyz and goes on serving for API_SHUTDOWN_DELAY before it closes
    # its listening socket: longer than HAProxy takes to mark it down (README, Two hosts behind HAProxy).
    hosts(**UNLIMITED, API_SHUTDOWN_DELAY=str(SHUTDOWN_DELAY))
    balancer = site.balancer
    with load(site.port, site.client_context(), site.token("rolling")) as running:
        _wait_for_requests(running, WARM_REQUESTS, "the load's first requests")
        for host in site.hosts:
            assert host.terminate() == 0
            host.start()
            host.wait_ready(site.ca)
            host.wait_dirty_worker()
            # Ready on its own address is not yet in HAProxy's rotation: wait until HAProxy says so
            # before stopping the other host.
            balancer.wait_status(host.name, "UP", timeout=PHASE_TIMEOUT)
            _wait_for_requests(running, running.count() + 2 * WARM_REQUESTS, "load after the restart")
    outcomes = running.outcomes
    failures = [o for o in outcomes if o.status != 200]
    ids = set().union(*served_by(site.hosts, outcomes, PREDICT).values())
    # Per host, the requests each of its two starts served.
    served = {
        host.name: [len(ids & start) for start in host.request_ids_by_start(PREDICT)] for host in site.hosts
    }
    print(
        f"\nrolling restart under load ({CLIENTS} clients, keep-alive off): {len(outcomes)} requests, "
        f"{len(failures)} failed {[o.error or o.status for o in failures]}; served before/after: {served}"
    )
    assert failures == []
    # Each host served both before and after its restart.
    assert all(len(counts) == 2 and min(counts) > 0 for counts in served.values()), served
