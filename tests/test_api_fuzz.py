"""Bad input against the API: schemathesis fuzzing from the OpenAPI schema, oversized bodies on every
POST route, path traversal on both evidence routes, security headers on every route."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from conftest import make_passage
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from edge.api.app import MAX_REQUEST_BYTES, ApiState, create_app
from edge.api.review.auth import Auth
from edge.metrics import Metrics
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store

T0 = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)
# Schemathesis examples per operation; SMARTGATE_FUZZ_EXAMPLES raises it for a longer soak.
FUZZ_EXAMPLES = int(os.environ.get("SMARTGATE_FUZZ_EXAMPLES", "25"))


class Gate:
    """A real app over a tmp Store with passages, evidence and an admin machine token."""

    def __init__(self, root: Path) -> None:
        self.store = Store(root / "gate.db")
        self.evidence = EvidenceStore(root / "evidence")
        self.secret = root / "secret.txt"  # outside the evidence root: must never be served
        self.secret.write_text("not evidence")
        for i in range(3):
            p = make_passage(started_at=T0 + timedelta(minutes=i))
            ev = self.evidence.save(np.full((40, 60, 3), 90, np.uint8), "plate", "plate-in-1", p.id, p.started_at)
            self.store.save_passage(p.model_copy(update={"evidence": [ev]}))
            self.evidence_path = ev.path
            self.passage_id = p.id
        auth = Auth(self.store)
        auth.add_user("fuzz-admin", "admin", "a long enough password 123")
        self.token = auth.new_token("fuzz-admin", "fuzz")
        self.state = ApiState(
            store=self.store, evidence=self.evidence, metrics=Metrics(), gate_id="huu-nghi", gate_name="Hữu Nghị",
            version="0.1.0", token="shared-token-abc", lanes=["in-1"], on_trigger=lambda *a: None,
            publish_decision=lambda d: None,
            cameras=lambda: [{"name": "plate-in-1", "role": "plate", "lane": "in-1", "state": "online"}],
        )
        self.app = create_app(self.state)
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def close(self) -> None:
        self.state.review_events.close()
        self.store.close()


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    g = Gate(tmp_path)
    yield g
    g.close()


def test_fuzz_api_never_answers_5xx(gate: Gate) -> None:
    """Schema-generated requests, valid (positive) and schema-violating (negative), with a valid admin token
    on every operation: never a server error. Bounded: FUZZ_EXAMPLES per operation and mode, derandomised."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", gate.app)
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if not op.path.endswith("/events")]  # an endless SSE stream, not request/response
    assert len(ops) >= 15
    calls: dict[str, int] = {}
    failures: list[str] = []
    for op in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case) -> None:  # noqa: ANN001 - a schemathesis Case
                label = case.operation.label
                r = case.call(headers={**(case.headers or {}), **gate.headers})
                calls[label] = calls.get(label, 0) + 1
                if r.status_code >= 500:
                    failures.append(f"{label} -> {r.status_code}: {r.text[:200]}")
                assert r.status_code < 500

            try:
                run()
            except AssertionError:  # hypothesis re-raises the minimal failing example: recorded, go on
                pass
            except Unsatisfiable:  # negative mode on an operation without inputs: nothing to violate
                assert mode == GenerationMode.NEGATIVE, op.label
    total = sum(calls.values())
    print(f"FUZZ operations={len(ops)} requests={total}")
    assert not failures, "\n".join(failures[:10])
    assert total >= len(ops) * 2  # every operation was exercised


def _routes(app, method: str) -> list[str]:  # noqa: ANN001
    """Paths with `method`, from the OpenAPI document (included routers are not all in app.routes)."""
    return sorted(path for path, ops in app.openapi()["paths"].items() if method in ops)


def _concrete(path: str, gate: Gate) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: gate.passage_id if "passage" in m.group(0) else "in-1", path)


def test_every_post_route_refuses_an_oversized_body(gate: Gate) -> None:
    routes = _routes(gate.app, "post")
    assert "/api/declarations" in routes and "/api/lanes/{lane}/trigger" in routes and len(routes) >= 4
    big = b"{" + b" " * (MAX_REQUEST_BYTES + 10) + b"}"
    with TestClient(gate.app) as client:
        for path in routes:
            url = _concrete(path, gate)
            r = client.post(url, content=big, headers={**gate.headers, "Content-Type": "application/json"})
            assert r.status_code == 413, f"{url}: {r.status_code} {r.text[:200]}"
            assert r.headers["x-content-type-options"] == "nosniff"

            def chunks():  # noqa: ANN202 - no Content-Length: the limit must hold while streaming
                for _ in range(MAX_REQUEST_BYTES // 65536 + 2):
                    yield b" " * 65536

            r = client.post(url, content=chunks(), headers={**gate.headers, "Content-Type": "application/json"})
            assert r.status_code == 413, f"{url} (chunked): {r.status_code} {r.text[:200]}"
        # Normal bodies still work.
        r = client.post("/api/lanes/in-1/trigger", json={"state": "start"}, headers=gate.headers)
        assert r.status_code == 202


TRAVERSALS = [
    "../secret.txt", "..%2Fsecret.txt", "%2e%2e/secret.txt", "2025-03-04/../../secret.txt", "/etc/passwd",
    "..\\secret.txt", "....//secret.txt", "~/secret.txt", "%00", "2025-03-04/%00/x.jpg", "./x", "a//b",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%5csecret.txt",
]


@pytest.mark.parametrize("prefix", ["/evidence/", "/api/review/evidence/"])
def test_evidence_routes_refuse_path_traversal(gate: Gate, prefix: str) -> None:
    with TestClient(gate.app) as client:
        ok = client.get(prefix + gate.evidence_path, headers=gate.headers)
        assert ok.status_code == 200 and ok.headers["content-type"] == "image/jpeg"
        (gate.evidence.root / "escape.jpg").symlink_to(gate.secret)  # a link out of the root
        for bad in [*TRAVERSALS, "escape.jpg"]:
            r = client.get(prefix + bad, headers=gate.headers)
            assert r.status_code in (400, 404), f"{prefix}{bad}: {r.status_code}"
            assert b"not evidence" not in r.content


def test_security_headers_on_every_route(gate: Gate) -> None:
    with TestClient(gate.app) as client:
        paths = [*_routes(gate.app, "get"), "/", "/docs", "/review"]
        assert len(paths) >= 10
        for path in paths:
            if "events" in path:  # SSE stream: checked below without reading it to the end
                continue
            url = _concrete(path.replace("{path}", gate.evidence_path).replace("{name}", "review.css"), gate)
            for headers in (gate.headers, {}):  # answered or refused: the headers are always there
                r = client.get(url, headers=headers, follow_redirects=False)
                assert r.status_code < 500, url
                assert r.headers.get("x-content-type-options") == "nosniff", url
                assert r.headers.get("x-frame-options") == "DENY", url
                assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), url
                assert r.headers.get("referrer-policy") == "no-referrer", url
        with client.stream("GET", "/api/review/events", headers=gate.headers) as r:
            assert r.headers.get("x-content-type-options") == "nosniff"
            gate.state.review_events.close()


def test_evidence_is_never_served_without_the_token(gate: Gate) -> None:
    with TestClient(gate.app) as client:
        for url in ("/evidence/" + gate.evidence_path, f"/api/passages/{gate.passage_id}", "/api/passages"):
            assert client.get(url).status_code == 401
            assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/health").status_code == 200  # liveness stays open for the supervisor

