"""The operator metrics at /metrics, in Prometheus' text format, from `ccp serve` in a real
process: open on a default server, for admins and the scrape token when auth is on."""

from __future__ import annotations

import time
from typing import Any

import jwt
import requests
from helpers import ASYNC, wait_final_url
from prometheus_client.parser import text_string_to_metric_families

JWT_SECRET = "prometheus-test-secret-0123456789abcdef"
SCRAPE_TOKEN = "scrape-token-0123456789"


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, dict[tuple, float]]:
    """name -> {sorted label pairs: value} of every sample /metrics gives."""
    response = requests.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return found


def test_prometheus_metrics_on_a_default_server(server_process: Any) -> None:
    server = server_process()
    before = scrape(server.url)
    assert before["ccp_queue_depth"] == {(): 0.0}
    assert before["ccp_running_executions"][(("infrastructure", "local"),)] == 0.0
    assert before["ccp_infrastructure_up"][(("infrastructure", "local"),
                                            ("type", "local"))] == 1.0

    response = requests.post(f"{server.url}/processes/hello-world/execution",
                             json={"inputs": {}}, headers=ASYNC, timeout=10)
    job = wait_final_url(server.url, response.json()["jobID"])
    assert job["status"] == "successful"

    after = scrape(server.url)
    assert after["ccp_executions"][(("method", "hello-world"), ("status", "successful"))] == 1
    for phase in ("Launch", "Deploy", "Execute", "Fetch", "Destroy"):
        labels = (("infrastructure", "local"), ("phase", phase))
        assert after["ccp_phase_duration_seconds_count"][labels] == 1.0, phase
        assert after["ccp_phase_duration_seconds_sum"][labels] >= 0.0, phase
    assert after["ccp_metric_samples_failed_total"] == {(): 0.0}
    # Infrastructures that cannot be reached say so (the test engines are not configured
    # for the default server's docker/swarm descriptors, so only their presence is checked)
    assert all(value in (0.0, 1.0) for value in after["ccp_infrastructure_up"].values())


def test_prometheus_metrics_with_auth_on_are_for_admins_and_the_scrape_token(
        server_process: Any) -> None:
    server = server_process(CCP_AUTH="true", CCP_JWT_SECRET=JWT_SECRET,
                            CCP_METRICS_TOKEN=SCRAPE_TOKEN)

    def bearer(subject: str, roles: list[str] = ()) -> dict[str, str]:
        token = jwt.encode({"sub": subject, "exp": int(time.time()) + 600,
                            "roles": list(roles)}, JWT_SECRET, algorithm="HS256")
        return {"Authorization": f"Bearer {token}"}

    def status(headers: dict[str, str] | None) -> int:
        return requests.get(f"{server.url}/metrics", headers=headers, timeout=10).status_code

    assert status(None) == 401
    assert status({"Authorization": "Bearer not-the-scrape-token"}) == 401
    assert status({"Authorization": f"Bearer {SCRAPE_TOKEN}x"}) == 401
    assert status(bearer("alice")) == 403
    refused = requests.get(f"{server.url}/metrics", headers=bearer("alice"), timeout=10)
    assert refused.json()["status"] == 403 and "admin" in refused.json()["detail"]
    assert "ccp_queue_depth" in scrape(server.url, bearer("root", ["admin"]))
    assert "ccp_queue_depth" in scrape(server.url, {"Authorization": f"Bearer {SCRAPE_TOKEN}"})


def test_prometheus_metrics_can_be_turned_off(server_process: Any) -> None:
    server = server_process(CCP_PROMETHEUS="false")
    response = requests.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 404
    assert "turned off" in response.json()["detail"]
