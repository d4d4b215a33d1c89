"""hostusers: which login user a host named without one gets (the cluster's ``user:``)."""

from workflow_runner.targets.hostusers import HostUsers, host_users, with_user


def resource(ip: str, user: str) -> dict:
    return {"id": "", "ip": ip, "name": "", "namespace": "", "user": user, "schedulerType": ""}


def test_the_run_resource_wins_over_the_config_and_host_and_port_must_match():
    inputs = {"group": {"resource": resource("login.example.org:2222", "alice")}, "rows": [resource("Other", "carol")]}
    users = host_users(inputs, {"c": {"ip": "login.example.org:2222", "user": "bob"}, "d": {"ip": "plain", "user": "dan"}})
    assert users.apply("login.example.org:2222") == "alice@login.example.org:2222"
    assert users.apply("LOGIN.example.org:2222") == "alice@LOGIN.example.org:2222"
    assert users.apply("login.example.org") == "login.example.org"  # another port: not that cluster
    assert users.apply("other") == "carol@other"
    assert users.apply("plain") == "dan@plain"
    assert users.apply("eve@plain") == "eve@plain"  # user@host in remoteHost wins


def test_local_hosts_and_empty_users_are_left_alone():
    users = HostUsers([("", "root"), ("localhost", "x"), ("h", ""), ("bad host", "y")])
    assert users.entries == []
    assert with_user("", "alice") == "" and with_user("localhost", "alice") == "localhost"
    assert with_user("h", None) == "h" and with_user("bob@h", "alice") == "bob@h" and with_user(" h ", "alice") == "alice@h"
