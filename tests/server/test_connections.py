"""Connection caps: per address group and in all, and refusal by reset before any TLS byte."""

import socket

import pytest

from api.server.connections import ConnectionCaps, total_cap


def test_an_address_group_is_capped_and_others_are_not():
    caps = ConnectionCaps(per_address=2, total=10)
    held = [caps.admit(("127.0.0.2", port)) for port in (1, 2)]
    assert held == ["127.0.0.2", "127.0.0.2"]
    assert caps.admit(("::ffff:127.0.0.2", 3, 0, 0)) is None  # the same client written as IPv6
    assert caps.admit(("127.0.0.1", 4)) == "127.0.0.1"
    caps.release("127.0.0.2")
    assert caps.admit(("127.0.0.2", 5)) == "127.0.0.2"  # room again once one closed
    assert (caps.open, caps.refused, caps.held("127.0.0.2")) == (3, 1, 2)


def test_an_ipv6_64_is_one_client():
    caps = ConnectionCaps(per_address=1, total=10)
    assert caps.admit(("2001:db8::1", 1, 0, 0)) == "2001:db8::/64"
    assert caps.admit(("2001:db8::2", 1, 0, 0)) is None
    assert caps.admit(("2001:db8:0:1::1", 1, 0, 0)) == "2001:db8:0:1::/64"


def test_all_addresses_together_are_capped():
    caps = ConnectionCaps(per_address=5, total=3)
    admitted = [caps.admit((f"127.0.0.{i}", 1)) for i in range(1, 5)]
    assert admitted[:3] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert admitted[3] is None


@pytest.mark.parametrize(("setting", "pool", "cap"), [(None, 1000, 900), (None, 1, 1), (50, 1000, 50)])
def test_the_cap_in_all_defaults_below_the_pool(setting, pool, cap):
    assert total_cap(setting, pool) == cap


def test_a_refused_connection_is_reset_at_once():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        accepted, _ = listener.accept()
        ConnectionCaps(per_address=1, total=1).refuse(accepted)
        with client, pytest.raises(ConnectionResetError):
            client.recv(1)
