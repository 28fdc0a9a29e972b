"""The forms of BRIDGE_REDIS_URL: one server, a Redis Cluster, a primary behind Sentinel."""

from __future__ import annotations

import re

import pytest

from bridge.redis_url import parse


def test_cluster_form_lists_its_seed_nodes_and_credentials() -> None:
    """A cluster URL yields every seed node, the credentials and TLS from `rediss+cluster`."""
    target = parse("rediss+cluster://app:p%40ss@node-a:7000,node-b:7001,[::1]:7002")
    assert target.kind == "cluster"
    assert target.hosts == (("node-a", 7000), ("node-b", 7001), ("::1", 7002))
    assert (target.username, target.password, target.tls) == ("app", "p@ss", True)


def test_sentinel_form_names_the_service_database_and_sentinel_password() -> None:
    """A sentinel URL yields the sentinels, the service name, the database and their password."""
    target = parse("redis+sentinel://:data-pw@s1:26379,s2:26380/mymaster/2?sentinel_password=s-pw")
    assert target.kind == "sentinel"
    assert target.hosts == (("s1", 26379), ("s2", 26380))
    assert (target.service, target.db, target.tls) == ("mymaster", 2, False)
    assert (target.password, target.sentinel_password) == ("data-pw", "s-pw")


def test_sentinel_database_defaults_to_zero() -> None:
    """Without a database segment the sentinel form uses database 0."""
    assert parse("redis+sentinel://s1:26379/mymaster").db == 0


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:secret-pw@cache:6379/1", "redis://cache:6379/1"),
        ("redis+cluster://u:secret-pw@a:7000,b:7001", "redis+cluster://a:7000,b:7001"),
        ("redis+sentinel://:secret-pw@s:26379/main?sentinel_password=secret-pw",
         "redis+sentinel://s:26379/main/0"),
    ],
)  # fmt: skip
def test_display_form_never_shows_a_password(url: str, shown: str) -> None:
    """What is logged of each form keeps hosts and names but drops every password."""
    target = parse(url)
    assert target.display == shown
    assert "secret-pw" not in repr(target)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("memcached://cache", "expected redis://"),
        ("redis+cluster://a:7000,b", "expected host:port, got 'b'"),
        ("redis+cluster://a:99999", "expected host:port"),
        ("redis+cluster://a:7000/1", "only database 0"),
        ("redis+cluster://a:7000?sentinel_password=x", "redis+sentinel:// only"),
        ("redis+sentinel://s:26379", "/<service>"),
        ("redis+sentinel://s:26379/main/x", "database must be a number"),
        ("redis+sentinel://s:26379/main?timeout=3", "unknown option 'timeout'"),
        # one server: what redis-py would take as a database, a socket, its query options
        ("redis://h:6379/zero", "database must be a number, got 'zero'"),
        ("redis://h:6379/0/1", "database must be a number, got '0/1'"),
        ("unix://", "the socket's path"),
        ("unix:///" + "s" * 107, "the socket's path is 108 bytes, and a unix socket's path"),
        ("redis://h:6379/0?colour=blue", "unknown option 'colour'"),
        ("redis://h:6379/0?decode_responses=true", "unknown option 'decode_responses'"),
        ("redis://h:6379?socket_timeout=abc", "socket_timeout: expected a number, got 'abc'"),
        ("redis://h:6379?socket_timeout=nan", "socket_timeout: expected a number, got 'nan'"),
        ("unix:///run/redis.sock?db=x", "db: expected a whole number, got 'x'"),
        ("redis://h:6379?max_connections=1_0", "max_connections: expected a whole number"),
        ("redis://h:6379?socket_read_size=" + "9" * 400, "socket_read_size: must be at most"),
        ("redis://h:6379/\u0661", "database must be a number"),
        ("redis+sentinel://s:26379/main/\u0661", "database must be a number"),
        ("redis+sentinel://s:26379/main/" + "1" * 400, "database must be a number"),
        ("redis+cluster://a:\u0667\u0660\u0660\u0660", "expected host:port"),
        ("redis+cluster://a:+7000", "expected host:port"),
        ("redis://h:6379?protocol=4", "protocol: expected 2 or 3"),
        ("rediss://h:6379?ssl_cert_reqs=bogus", "ssl_cert_reqs: expected none, optional"),
        ("redis://h:6379?ssl_ca_certs=/ca.pem", "unknown option 'ssl_ca_certs'"),
    ],
)
def test_bad_forms_are_refused_with_the_reason(url: str, says: str) -> None:
    """Each malformed URL is refused with a message naming what is wrong."""
    with pytest.raises(ValueError, match=re.escape(says)):
        parse(url)


@pytest.mark.parametrize(
    "url",
    [
        "redis://h:6379",
        "redis://h:6379/",
        "redis://:pw@h:6379/3",
        "unix:///run/redis.sock?db=2",
        "unix:///" + "s" * 106,  # a path of 107 bytes: the most a unix socket's holds
        "redis://h:6379/0?socket_timeout=2.5&health_check_interval=30&client_name=bridge",
        "rediss://h:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem&ssl_check_hostname=1",
        "redis://h:6379?protocol=3",
    ],
)
def test_one_server_urls_redis_py_takes_are_accepted(url: str) -> None:
    """A one-server URL with a database and the query options redis-py reads is accepted."""
    assert parse(url).kind == "single"
