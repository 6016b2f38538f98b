"""The outbound policy's checks, without a network: which URLs and addresses the server
refuses to reach for a user (the attacks), and what an operator can allow."""

from __future__ import annotations

import ipaddress

import pytest

from ccp.jobmanagement import merge_patch
from ccp.outbound import OutboundPolicy, OutboundRefused, address_problem, parse_allow
from ccp.references import Reference, split

HOSTS = {
    "data.example.org": ["93.184.216.34"],
    "rebind.example.org": ["127.0.0.1"],
    "split.example.org": ["93.184.216.34", "10.1.2.3"],
    "v6.example.org": ["2606:4700::1111"],
    "ccp.example.org": ["93.184.216.40"],
}


def policy(**settings: object) -> OutboundPolicy:
    def resolve(host: str, _port: int) -> list[str]:
        if host not in HOSTS:
            raise OutboundRefused(f"{host} does not resolve")
        return HOSTS[host]

    return OutboundPolicy(resolver=resolve, base_url="https://ccp.example.org", **settings)


@pytest.mark.parametrize("address, problem", [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
    ("fd00::1", "private"), ("224.0.0.251", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("240.0.0.1", "reserved"),
    ("100.64.0.1", "not globally routable"), ("192.0.0.8", "not globally routable"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::1", "loopback"), ("64:ff9b::a9fe:a9fe", "link-local"),
])
def test_attack_addresses_the_server_never_reaches_for_a_user(address: str,
                                                              problem: str) -> None:
    found = address_problem(ipaddress.ip_address(address))
    assert found is not None and found.startswith(problem), found


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111",
                                     "::ffff:93.184.216.34"])
def test_public_addresses_are_reachable(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:5000/jobs", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://rebind.example.org/x", "resolves to 127.0.0.1"),
    ("http://split.example.org/x", "resolves to 10.1.2.3"),
    ("https://ccp.example.org/jobs", "this server itself"),
    ("http://ccp.example.org:443/jobs", "this server itself"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://data.example.org/", "only http and https"),
    ("ftp://data.example.org/x", "only http and https"),
    ("http://user:secret@data.example.org/x", "credentials"),
    ("http://data.example.org:0/x", "port 0"),
    ("http://no-such-host.invalid/x", "does not resolve"),
    ("http://data.example.org/a b", "printable ASCII"),
    ("http:///x", "names no host"),
    ("http://data.example.org/" + "a" * 3000, "longer than"),
])
def test_attack_urls_are_refused_with_the_reason(url: str, words: str) -> None:
    with pytest.raises(OutboundRefused, match=words):
        policy().check(url)


def test_attack_numeric_host_forms_resolve_to_loopback_and_are_refused() -> None:
    real = OutboundPolicy()  # the system's resolver: numeric forms need no DNS
    for url in ("http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/",
                "http://127.1/", "http://0/"):
        with pytest.raises(OutboundRefused, match="loopback|unspecified"):
            real.check(url)


def test_a_checked_target_keeps_the_addresses_it_will_connect_to() -> None:
    target = policy().check("https://data.example.org/a/b.csv?x=1#frag")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https", "data.example.org", 443, "/a/b.csv?x=1")
    assert target.addresses == ("93.184.216.34",)
    assert policy().check("http://v6.example.org:8080").addresses == ("2606:4700::1111",)


def test_an_operator_allows_networks_and_host_names() -> None:
    networks, hosts = parse_allow("127.0.0.2/32, 10.0.0.0/8 ,rebind.example.org, fd00::/8")
    allowed = policy(allow_networks=networks, allow_hosts=hosts)
    assert allowed.check("http://127.0.0.2:8000/x").addresses == ("127.0.0.2",)
    mapped = allowed.check("http://[::ffff:10.9.8.7]/").addresses
    assert [ipaddress.ip_address(a) for a in mapped] == [ipaddress.ip_address("::ffff:a09:807")]
    assert allowed.check("http://rebind.example.org/").addresses == ("127.0.0.1",)
    for url in ("http://127.0.0.1/", "http://169.254.169.254/", "http://[::1]/"):
        with pytest.raises(OutboundRefused):
            allowed.check(url)
    with pytest.raises(OutboundRefused, match="this server itself"):
        policy(allow_hosts=frozenset({"ccp.example.org"})).check("https://ccp.example.org/")
    with pytest.raises(ValueError, match="neither a network nor a host"):
        parse_allow("10.0.0.0/8, not a host!")


def test_references_are_split_from_values_and_render_as_their_staged_paths() -> None:
    schema = {"data": {"schema": {"type": "string"}},
              "many": {"schema": {"type": "string"}, "maxOccurs": 5},
              "n": {"schema": {"type": "integer"}},
              "mode": {"schema": {"type": "string", "enum": ["a", "b"]}}}
    given, found = split(schema, {"data": {"href": "https://x.org/a", "type": "text/csv"},
                                  "many": ["plain", {"href": "s3://b/k"}], "n": 3})
    assert given == {"data": "/ccp_data/inputs/data",
                     "many": ["plain", "/ccp_data/inputs/many/2"], "n": 3}
    assert found == [Reference("data", "https://x.org/a", None, "text/csv"),
                     Reference("many", "s3://b/k", 2)]
    for bad in ({"n": {"href": "https://x.org/a"}}, {"mode": {"href": "https://x.org/a"}},
                {"ccpimage": {"href": "https://x.org/a"}},
                {"data": {"href": "https://x.org/a", "headers": {"Cookie": "x"}}},
                {"data": {"href": 5}}):
        with pytest.raises(ValueError):
            split({**schema, "ccpimage": {"schema": {"type": "string"}}}, bad)


def test_part4_updates_are_json_merge_patches() -> None:
    stored = {"process": "p", "inputs": {"a": 1, "b": {"x": 1, "y": 2}}, "response": "raw"}
    patched = merge_patch(stored, {"inputs": {"a": None, "b": {"y": 3}, "c": [1]},
                                   "response": None})
    assert patched == {"process": "p", "inputs": {"b": {"x": 1, "y": 3}, "c": [1]}}
    assert stored["inputs"] == {"a": 1, "b": {"x": 1, "y": 2}}  # not changed in place
