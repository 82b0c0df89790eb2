"""A 429 is sent again after its Retry-After, a bounded number of times within a bounded wait.

Against the stub (tests/client/stub.py), where each wait the client asks for is recorded rather than
slept; and once against a real server whose work budget refuses the second of two requests.
"""

import pytest

from api.client import Client, ClientError
from tests.client.stub import labels, spec
from tests.e2e import access_records, running_server, wait_until

TWEETS = {"a": "good", "b": "bad"}


def limited(retry_after=None, code="rate_limited"):
    """Return a 429 as the API sends it, with ``Retry-After`` if given."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return (429, headers, {"error": {"status": 429, "code": code, "message": "slow down"}})


def predicts(stub):
    """Return the predict requests the stub received."""
    return [request for request in stub.requests if request[1].startswith("/api/v1/predict")]


def test_a_429_is_sent_again_after_its_retry_after(stub, stub_client):
    stub.answers = [(200, {}, spec(100)), limited(7), limited(3), labels(TWEETS)]
    result = stub_client.predict(TWEETS)
    assert result.answers == dict.fromkeys(TWEETS, "Positive")
    assert stub_client.sleeps == [7, 3]
    sent = predicts(stub)
    assert len(sent) == 3 and len({body for *_, body in sent}) == 1  # the same body each time


def test_retries_are_bounded_in_number(stub, certs):
    stub.answers = [(200, {}, spec(100)), *[limited(1)] * 3]
    sleeps = []
    client = Client(stub.url, "sa_t", cafile=certs / "ca.crt", retries=2, sleep=sleeps.append)
    with pytest.raises(ClientError) as refused:
        client.predict(TWEETS)
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert sleeps == [1, 1] and len(predicts(stub)) == 3


def test_retries_are_bounded_in_total_wait(stub, certs):
    stub.answers = [(200, {}, spec(100)), limited(40), limited(40), labels(TWEETS)]
    sleeps = []
    client = Client(stub.url, "sa_t", cafile=certs / "ca.crt", max_wait_s=60, sleep=sleeps.append)
    with pytest.raises(ClientError, match="HTTP 429 rate_limited"):
        client.predict(TWEETS)
    assert sleeps == [40] and len(predicts(stub)) == 2


@pytest.mark.parametrize("retry_after", [None, "soon"])
def test_a_429_that_says_no_readable_time_is_the_answer(stub, stub_client, retry_after):
    stub.answers = [(200, {}, spec(100)), limited(retry_after, "too_many_jobs")]
    with pytest.raises(ClientError, match="too_many_jobs"):
        stub_client.predict(TWEETS)
    assert stub_client.sleeps == [] and len(predicts(stub)) == 1


def test_a_get_is_retried_after_a_429_too(stub, stub_client):
    stub.answers = [limited(2), (200, {}, {"models": [{"name": "freqlr", "version": "v1", "default": True}]})]
    assert [model.name for model in stub_client.models()] == ["freqlr"]
    assert stub_client.sleeps == [2]


# A budget of this much work a window of WINDOW: one of the requests below fits in it, two do not.
WORK_PER_WINDOW, WINDOW = 60, "2 seconds"
TWEET = "x" * 40
# Three predicts in a row: at least two of them meet in one window, whichever way the windows fall.
PREDICTS = 3


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory):
    """A real server of one worker (one count of the budget) with a work budget of a short window."""
    env = {"API_WORK_LIMIT": f"{WORK_PER_WINDOW}/{WINDOW}"}
    with running_server(tmp_path_factory.mktemp("budgeted"), env=env, workers=1) as server:
        yield server


@pytest.mark.e2e
def test_a_real_servers_work_limit_429_is_waited_out(budgeted):
    mark = len(budgeted.log())
    with Client(budgeted.url, budgeted.token, cafile=budgeted.certs / "ca.crt") as client:
        results = [client.predict({"t": TWEET}, store=False) for _ in range(PREDICTS)]
    assert [list(result.answers) for result in results] == [["t"]] * PREDICTS

    def logged():
        records = access_records(budgeted.log()[mark:], "/api/v1/predict")
        statuses = [record["status"] for record in records]
        return statuses if statuses.count(200) >= PREDICTS else None

    statuses = wait_until(logged, f"{PREDICTS} successful predicts in the access log")
    assert 429 in statuses and statuses.count(200) == PREDICTS and set(statuses) == {200, 429}
