"""The bench's ablation: which parts a variant leaves out, the ablated app and server, medians and table."""

import json
import runpy
import urllib.request

import pytest

from bench import ablated, ablation
from bench.__main__ import ABLATED_SERVER
from tests.e2e import BODY, ROOT, access_records, running_server


def _run(side, rps, round_=0, errors=0):
    """One wrk run as bench.ablation.measure records it."""
    return {"side": side, "round": round_, "requests_per_s": rps, "non_2xx": errors, "socket_errors": 0}


def _hooks(app):
    """Return the qualified names of ``app``'s before- and after-request hooks."""
    funcs = [*app.before_request_funcs.values(), *app.after_request_funcs.values()]
    return {hook.__qualname__ for hooks in funcs for hook in hooks}


def test_the_parts_are_read_from_the_environment_and_an_unknown_one_is_refused():
    assert ablation.parts({}) == ()
    assert ablation.parts({ablation.ENV: "access,limits"}) == ("access", "limits")
    with pytest.raises(ValueError, match="'logs'"):
        ablation.parts({ablation.ENV: "access,logs"})


def test_every_variant_names_only_known_parts_and_the_first_is_the_real_server():
    assert next(iter(ablation.VARIANTS.values())) == ()
    for parts in ablation.VARIANTS.values():
        assert set(parts) <= set(ablation.PARTS)


def test_the_ablated_app_loses_the_named_parts_hooks_and_keeps_the_others(app):
    before = _hooks(app)
    assert {"Metrics.start", "Metrics.observe", "RequestLimits.check", "RequestLimits.finish"} <= before
    after = _hooks(ablated.without(app, ("access", "metrics")))
    assert after == before - {"Metrics.start", "Metrics.observe"}


def test_a_hook_the_app_no_longer_has_is_an_error_not_a_free_part(app):
    ablated.without(app, ("limits",))
    with pytest.raises(LookupError, match=r"RequestLimits\.check"):
        ablated.without(app, ("limits",))


def test_the_ablated_config_is_the_servers_own_less_the_access_log(monkeypatch):
    server = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert server["accesslog"] is not None
    monkeypatch.setenv(ablation.ENV, "metrics")
    kept = runpy.run_path(str(ROOT / "bench" / "ablated_conf.py"))
    monkeypatch.setenv(ablation.ENV, "access")
    dropped = runpy.run_path(str(ROOT / "bench" / "ablated_conf.py"))
    for name in ("worker_class", "workers", "certfile", "logger_class", "dirty_apps"):
        assert kept[name] == server[name] == dropped[name], name
    # The server's own hooks, defined in its file.
    for hook in ("on_starting", "pre_fork", "post_worker_init", "ssl_context"):
        files = {conf[hook].__code__.co_filename for conf in (kept, dropped)}
        assert files == {str(ROOT / "gunicorn.conf.py")}, hook
    assert kept["accesslog"] == server["accesslog"]
    assert dropped["accesslog"] is None


def test_each_side_is_the_median_of_its_rounds_over_the_bare_apps():
    runs = [_run("bare", 4000.0, 0), _run("bare", 1000.0, 1), _run("bare", 4200.0, 2)]
    runs += [_run("full noop", 2000.0, r) for r in range(3)]
    runs += [_run("-access noop", rps, r, errors=1) for r, rps in enumerate((3100.0, 3000.0, 2900.0))]
    result = ablation.summary(runs)
    assert result["rps"]["bare"] == 4000.0
    assert result["over_bare"] == {"bare": 1.0, "full noop": 0.5, "-access noop": 0.75}
    assert result["errors"] == 3
    text = ablation.table({"connections": 8, "rounds": 3, "seconds": 5, "runs": runs, **result})
    assert "| full | 2,000 | 0.50x |  |  |" in text
    assert "| -access | 3,000 | 0.75x |  |  |" in text
    assert "bar 0.75x" in text and "bar 0.65x" in text


def test_the_ablated_server_serves_without_the_access_log_or_the_limit_headers(tmp_path):
    env = {ablation.ENV: "access,limits", "ACCESS_LOG": "-"}
    with running_server(tmp_path, env=env, args=ABLATED_SERVER) as server:
        request = urllib.request.Request(
            server.url + "/api/v1/predict",
            data=json.dumps(BODY).encode(),
            headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=server.context, timeout=10) as response:
            assert response.status == 200
            assert set(json.load(response)) == set(BODY)
            assert response.headers["X-RateLimit-Limit"] is None
            assert response.headers["X-Request-ID"]  # the rest of the server is there
        assert access_records(server.log()) == []
