"""The address policy of fetch_url: public addresses only, resolved names included."""

from __future__ import annotations

import ipaddress

import pytest

from open_agent_jupyter.tools.base import ToolError
from open_agent_jupyter.tools.netpolicy import address_refusal, check_url


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("10.1.2.3", "private"), ("172.16.0.1", "private"),
    ("192.168.1.1", "private"), ("fc00::1", "private"), ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"), ("100.64.0.1", "not public"), ("198.18.0.1", "private"),
])
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


async def test_names_are_resolved_before_they_are_judged() -> None:
    with pytest.raises(ToolError, match=r"localhost \((127\.0\.0\.1|::1)\) is a loopback"):
        await check_url("http://localhost:8888/api/tasks")
    with pytest.raises(ToolError, match="loopback"):
        await check_url("http://[::1]:8888/")
    with pytest.raises(ToolError, match="only http"):
        await check_url("file:///etc/passwd")
    await check_url("https://93.184.215.14/page")  # a public literal: no lookup, no request
