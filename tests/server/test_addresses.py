"""Client address groups: IPv4 /32, IPv6 /64, IPv4-mapped IPv6 as IPv4."""

import pytest

from api.addresses import client_group


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:127.0.0.2", "127.0.0.2"),
        ("::1", "::/64"),
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("", "unknown"),
        (None, "unknown"),
        ("not an address", "not an address"),
    ],
)
def test_client_group(address, group):
    assert client_group(address) == group
