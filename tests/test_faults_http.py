"""Issue #15, hardening of the HTTP side, each fault against a real uvicorn server (edge.api.server.build_server,
as the daemon runs it) on a free localhost port, with a real Store and real clients (raw sockets, httpx):

slow clients and connection floods; the login limiter (proxy headers, parallel guesses, name sprays, per
address); 500s on extreme query values and on a non-ASCII CSRF header; security headers on every error;
the Host header; event streams of disabled or logged-out users; the password rule; bidi and control
characters; non-finite numbers and deep nesting in declarations.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import socket
import threading
import time
from typing import Any

import httpx
import pytest
from conftest import free_port, make_passage

from edge.api.app import ApiState, create_app
from edge.api.review.auth import CSRF_HEADER, Auth, AuthError, LoginLimiter, password_problem
from edge.api.review.sse import ReviewEvents
from edge.api.server import build_server, host_policy
from edge.config import ApiConfig
from edge.metrics import Metrics
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store

PASSWORD = "correct horse battery"
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")
DECLARATION = {"id": "NSW-1", "direction": "import", "plate": "29C-123.45", "lines": [{"hs_code": "310210"}]}


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """Users are created once (argon2 is slow on purpose); each gate gets a copy of this database."""
    path = tmp_path_factory.mktemp("tpl") / "gate.db"
    with Store(path) as store:
        auth = Auth(store)
        for name, role in (("vien", "viewer"), ("lan", "inspector"), ("admin", "admin")):
            auth.add_user(name, role, PASSWORD)
    return path


class Gate:
    """The API app under build_server, served from a thread; `boom` makes /api/cameras fail (a 500)."""

    def __init__(self, tmp_path, template, **api: Any) -> None:
        shutil.copy(template, tmp_path / "gate.db")
        self.store = Store(tmp_path / "gate.db")
        self.boom = False
        self.events = ReviewEvents(recheck_s=0.2)
        self.state = ApiState(store=self.store, evidence=EvidenceStore(tmp_path / "evidence"), metrics=Metrics(),
                              gate_id="huu-nghi", gate_name="Hữu Nghị", version="0.1.0", lanes=["in-1"],
                              cameras=self._cameras, review_events=self.events)
        self.flagged = make_passage(gate="huu-nghi")
        self.store.save_passage(self.flagged)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = build_server(create_app(self.state), ApiConfig(bind="127.0.0.1", port=self.port, **api))
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        self.auth = Auth(self.store)

    def _cameras(self) -> list[dict[str, Any]]:
        if self.boom:
            raise RuntimeError("camera registry broke")
        return []

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kw)

    def login(self, c: httpx.Client, name: str, **kw: Any) -> str:
        r = c.post("/api/review/login", json={"name": name, "password": PASSWORD}, **kw)
        assert r.status_code == 200, r.text
        return r.json()["csrf"]

    def token(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.auth.new_token(name)}"}

    def close(self) -> None:
        self.events.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.store.close()


@pytest.fixture
def gate(tmp_path, template_db):
    g = Gate(tmp_path, template_db)
    yield g
    g.close()


def has_security_headers(r: httpx.Response) -> bool:
    return all(h in r.headers for h in SECURITY_HEADERS) and "frame-ancestors 'none'" in r.headers[
        "content-security-policy"]


def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes on a fresh socket; (status, headers, body) of the answer (read until the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def get_kept_alive(sock: socket.socket) -> bytes:
    """GET /api/health on `sock` and read the whole answer (the connection stays open)."""
    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    out = b""
    while b"\r\n\r\n" not in out:
        out += sock.recv(65536)
    head, _, body = out.partition(b"\r\n\r\n")
    length = int(next(ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def server_side_sockets(port: int) -> int:
    """Open file descriptors of this process that are the server's end of a connection to `port`."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] != "0A":  # 0A: LISTEN
                    inodes.add(cols[9])
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        n += link.startswith("socket:[") and link[8:-1] in inodes
    return n


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (BlockingIOError, TimeoutError):
        return False


def wait_all_closed(socks: list[socket.socket], timeout: float) -> list[socket.socket]:
    """Wait until the server has closed every socket; returns those still open after `timeout`."""
    open_ = list(socks)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        ready, _, _ = select.select(open_, [], [], min(0.5, max(0.0, deadline - time.monotonic())))
        for s in ready:
            if closed_by_server(s):
                open_.remove(s)
    return open_


# -- 1. slow clients, connection floods ---------------------------------------------------------------


def test_idle_and_slowloris_connections_are_capped_and_timed_out(tmp_path, template_db, caplog):
    """300 idle sockets against a cap of 50: the server's sockets stay at the cap, the rest are closed at once,
    the held ones after the header timeout, and a fresh client is answered again."""
    g = Gate(tmp_path, template_db, max_connections=50, header_timeout_s=1.0, keepalive_timeout_s=1.0)
    caplog.set_level(logging.WARNING)
    socks: list[socket.socket] = []
    try:
        fds_before = len(os.listdir("/proc/self/fd"))
        for i in range(300):
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", g.port))
                if i % 3 == 0:  # a third start a request head and never finish it
                    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            except OSError:
                pass
            socks.append(s)
            if i % 50 == 0:
                assert server_side_sockets(g.port) <= 50
        peak = 0
        for _ in range(5):
            peak = max(peak, server_side_sockets(g.port))
            time.sleep(0.05)
        assert peak <= 50
        # the whole process (300 client sockets are ours too) stays far from where SQLite ran out of handles
        assert len(os.listdir("/proc/self/fd")) <= fds_before + 300 + 50 + 10
        for s in socks:
            s.setblocking(False)
        still_open = wait_all_closed(socks, timeout=15)
        assert still_open == [], f"{len(still_open)} idle connection(s) never closed by the server"
        # a fresh client is served
        deadline, status = time.monotonic() + 10, None
        while status != 200 and time.monotonic() < deadline:
            try:
                status = httpx.get(f"{g.url}/api/health", timeout=5).status_code
            except httpx.TransportError:
                time.sleep(0.1)
        assert status == 200
        assert g.store.ping()  # and the database can still open its files
    finally:
        for s in socks:
            s.close()
        g.close()
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(noisy) <= 3, [r.getMessage() for r in noisy]  # rate-limited one-liners, not a flood


def test_trickling_request_head_is_cut_at_the_header_timeout(tmp_path, template_db):
    g = Gate(tmp_path, template_db, header_timeout_s=1.0)
    try:
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent, deadline = 0, time.monotonic() + 15
        closed = False
        while not closed and time.monotonic() < deadline:
            try:  # one header line every 0.2 s: data keeps coming, the head never completes
                s.sendall(f"X-Slow-{sent}: a\r\n".encode())
                sent += 1
            except OSError:
                closed = True
                break
            ready, _, _ = select.select([s], [], [], 0.2)
            closed = bool(ready) and closed_by_server(s)
        s.close()
        assert closed, "a trickling request head kept its connection open"
        assert sent < 60
        assert httpx.get(f"{g.url}/api/health", timeout=5).status_code == 200
    finally:
        g.close()


def test_idle_keepalive_connections_make_room_and_no_server_header(tmp_path, template_db):
    g = Gate(tmp_path, template_db, max_connections=8, header_timeout_s=30, keepalive_timeout_s=30)
    kept = []
    try:
        for _ in range(8):  # fill the cap with kept-alive connections that finished a request
            s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
            assert get_kept_alive(s).startswith(b"HTTP/1.1 200")
            kept.append(s)
        r = httpx.get(f"{g.url}/api/health", timeout=5)  # first try: the oldest idle one made room
        assert r.status_code == 200 and "server" not in r.headers
        kept[0].settimeout(5)
        assert closed_by_server(kept[0])
    finally:
        for s in kept:
            s.close()
        g.close()


def test_new_connections_beyond_the_cap_are_closed_at_once(tmp_path, template_db):
    g = Gate(tmp_path, template_db, max_connections=8, header_timeout_s=30)
    held = []
    try:
        for _ in range(8):  # connections that never send anything hold the cap (until the header timeout)
            held.append(socket.create_connection(("127.0.0.1", g.port), timeout=5))
        deadline = time.monotonic() + 5
        while server_side_sockets(g.port) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert closed_by_server(s)  # closed without an answer: no request of it was read
        s.close()
        assert server_side_sockets(g.port) == 8
    finally:
        for s in held:
            s.close()
        g.close()


def test_keepalive_timeout_closes_idle_connections(tmp_path, template_db):
    g = Gate(tmp_path, template_db, keepalive_timeout_s=0.5)
    try:
        s = socket.create_connection(("127.0.0.1", g.port), timeout=10)
        assert get_kept_alive(s).startswith(b"HTTP/1.1 200")
        assert closed_by_server(s)  # blocks until the server closes it (10 s bound)
        s.close()
    finally:
        g.close()


# -- 2. proxy headers and the login limiter ----------------------------------------------------------


def test_login_limit_is_not_bypassed_with_x_forwarded_for(gate, caplog):
    caplog.set_level(logging.INFO, logger="edge.api.review.routes")
    statuses = []
    with gate.client() as c:
        for i in range(20):
            r = c.post("/api/review/login", json={"name": "lan", "password": "wrong password"},
                       headers={"X-Forwarded-For": f"203.0.113.{i + 1}", "X-Real-IP": f"198.51.100.{i + 1}"})
            statuses.append(r.status_code)
        r = c.post("/api/review/login", json={"name": "lan", "password": PASSWORD},
                   headers={"X-Forwarded-For": "203.0.113.200"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert statuses == [401] * LoginLimiter.FREE_FAILURES + [429] * (20 - LoginLimiter.FREE_FAILURES)
        gate.login(c, "vien", headers={"X-Forwarded-For": "203.0.113.99"})
    logged = [r.getMessage() for r in caplog.records if r.name == "edge.api.review.routes"]
    assert len(logged) == LoginLimiter.FREE_FAILURES + 1
    assert all(m.endswith("from 127.0.0.1") for m in logged), logged
    ips = gate.store._conn().execute("SELECT ip FROM sessions").fetchall()
    assert ips == [("127.0.0.1",)]


def test_trusted_proxy_is_believed_and_the_account_limit_still_holds(tmp_path, template_db):
    g = Gate(tmp_path, template_db, trusted_proxies=["127.0.0.1"])
    try:
        with g.client() as c:
            g.login(c, "vien", headers={"X-Forwarded-For": "203.0.113.7"})
            assert g.store._conn().execute("SELECT ip FROM sessions").fetchall() == [("203.0.113.7",)]
            # Behind the proxy every guess may come from another address: the per-account limit stops them.
            for i in range(LoginLimiter.ACCOUNT_FREE_FAILURES):
                r = c.post("/api/review/login", json={"name": "lan", "password": "wrong password"},
                           headers={"X-Forwarded-For": f"203.0.113.{i + 10}"})
                assert r.status_code == 401
            r = c.post("/api/review/login", json={"name": "lan", "password": PASSWORD},
                       headers={"X-Forwarded-For": "203.0.113.250"})
            assert r.status_code == 429
    finally:
        g.close()


# -- 3. limiter races and eviction --------------------------------------------------------------------


def test_parallel_wrong_guesses_are_not_all_judged(gate):
    n = 40
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess() -> None:
        with httpx.Client(base_url=gate.url, timeout=30) as c:
            barrier.wait()
            r = c.post("/api/review/login", json={"name": "lan", "password": "wrong password"})
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=guess) for _ in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - t0
    assert sorted(set(statuses)) == [401, 429] and len(statuses) == n
    # Judged = 401. The first FREE_FAILURES are free; after them only one attempt per back-off step (1 s, 2 s,
    # 4 s …) may be judged, which a slow machine could reach within `elapsed`.
    steps = 0
    while 2**steps - 1 < elapsed:
        steps += 1
    assert statuses.count(401) <= LoginLimiter.FREE_FAILURES + max(0, steps - 1), (statuses.count(401), elapsed)
    if elapsed < 1.0:
        assert statuses.count(401) == LoginLimiter.FREE_FAILURES


def test_limiter_reserves_a_place_before_judging():
    lim = LoginLimiter(clock=lambda: 1000.0)
    n = 40
    barrier = threading.Barrier(n)
    results: list[Any] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        r = lim.attempt("lan", "10.0.0.1")
        with lock:
            results.append(r)

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    slots = [r for r in results if not isinstance(r, float)]
    assert len(slots) == LoginLimiter.FREE_FAILURES  # the others were refused while these were judged
    assert all(r > 0 for r in results if isinstance(r, float))
    for s in slots:
        s.failure()
    assert lim.attempt("lan", "10.0.0.1") == 1.0  # back-off now
    # a place given back unjudged (an error while checking) is free again
    other = lim.attempt("minh", "10.0.0.1")
    assert not isinstance(other, float)
    other.release()
    other.failure()  # ignored: the slot was closed by release()
    assert lim.retry_after("minh", "10.0.0.1") == 0


def test_a_spray_of_user_names_does_not_evict_a_lockout():
    now = [1000.0]
    lim = LoginLimiter(clock=lambda: now[0], max_keys=1000)
    for _ in range(LoginLimiter.FREE_FAILURES):
        lim.attempt("lan", "10.0.0.1").failure()
    assert lim.retry_after("lan", "10.0.0.1") == 1.0
    for i in range(10_000):  # each from its own address, so that the per-address limit does not stop it
        slot = lim.attempt(f"user{i}", f"10.1.{i // 256}.{i % 256}")
        assert not isinstance(slot, float)
        slot.failure()
    assert lim.retry_after("lan", "10.0.0.1") == 1.0  # still locked
    assert isinstance(lim.attempt("lan", "10.0.0.1"), float)
    assert all(len(t) <= 1000 for t in lim._tables.values())  # memory stays bounded


def test_a_table_full_of_lockouts_refuses_new_names_rather_than_forget_one():
    lim = LoginLimiter(clock=lambda: 1000.0, max_keys=10)
    for i in range(10):
        for _ in range(LoginLimiter.FREE_FAILURES):
            lim.attempt(f"user{i}", f"10.0.0.{i}").failure()
    wait = lim.attempt("newcomer", "10.0.0.99")
    assert isinstance(wait, float) and wait > 0
    assert all(lim.retry_after(f"user{i}", f"10.0.0.{i}") == 1.0 for i in range(10))


def test_per_address_limit_across_many_names():
    now = [1000.0]
    lim = LoginLimiter(clock=lambda: now[0])
    for i in range(LoginLimiter.ADDRESS_FREE_FAILURES):
        lim.attempt(f"name{i}", "10.0.0.1").failure()
    assert isinstance(lim.attempt("yet-another", "10.0.0.1"), float)  # a new name from that address waits
    assert not isinstance(lim.attempt("yet-another", "10.0.0.2"), float)  # another address does not
    now[0] += 1.0  # the back-off applies to the address, and it grows
    lim.attempt("name-x", "10.0.0.1").failure()
    assert lim.retry_after("name-y", "10.0.0.1") == 2.0
    now[0] += LoginLimiter.FORGET_S
    assert lim.retry_after("name-y", "10.0.0.1") == 0  # forgotten after an hour without failures


# -- 4. errors: no 500s on extreme values, security headers on every error ------------------------------


HUGE = str(10**30)
LOW = "0001-01-01T00:00:00%2B14:00"  # year 1 in +14:00 is before year 1 in UTC
HIGH = "9999-12-31T23:59:59-14:00"  # after year 9999 in UTC


@pytest.mark.parametrize("url,status", [
    (f"/api/passages?since={LOW}", 422),
    (f"/api/passages?since={HIGH}", 422),
    ("/api/passages?since=0001-01-01T00:00:00", 422),
    ("/api/passages?since=9999-12-31T23:59:59%2B14:00", 200),
    (f"/api/passages?offset={HUGE}", 422),
    (f"/api/declarations?since={LOW}", 422),
    (f"/api/declarations?offset={HUGE}", 422),
    (f"/api/review/queue?since={LOW}", 422),
    (f"/api/review/queue?until={HIGH}", 422),
    ("/api/review/queue?until=0001-01-01T00:00:00", 422),
    (f"/api/review/queue?offset={HUGE}", 422),
    (f"/api/audit?since={HIGH}", 422),
    (f"/api/audit?until={LOW}", 422),
    (f"/api/audit?offset={HUGE}", 422),
    ("/api/audit?offset=1000000000", 200),
])
def test_extreme_query_values_are_clean_errors(gate, url, status):
    with gate.client(headers=gate.token("vien")) as c:
        r = c.get(url)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json" and has_security_headers(r)
    if status == 422:
        param = url.split("?")[1].split("=")[0]
        assert r.json()["detail"].startswith(param + ":")


def test_non_ascii_csrf_header_is_a_clean_403(gate):
    with gate.client() as c:
        gate.login(c, "lan")
        r = c.post(f"/api/review/passages/{gate.flagged.id}/approve", json={},
                   headers={CSRF_HEADER: "é-token".encode()})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"] and has_security_headers(r)


def test_every_error_carries_the_security_headers(gate):
    with gate.client() as c:
        gate.boom = True
        r = c.get("/api/cameras")  # an unhandled exception in a route
        assert r.status_code == 500 and r.json() == {"detail": "internal error; the gate's log has the details"}
        assert has_security_headers(r)
        gate.boom = False
        assert c.get("/api/cameras").status_code == 200  # the server carries on
        for method, url in (("GET", "/nope"), ("DELETE", "/api/health"), ("GET", "/api/review/me"),
                            ("GET", "/api/passages/" + "x" * 100)):
            r = c.request(method, url)
            assert r.status_code in (401, 404, 405, 422) and has_security_headers(r), (method, url)
    # Requests the HTTP parser refuses before the app sees them.
    status, headers, body = raw_request(gate.port, b"NOT A REQUEST\r\n\r\n")
    assert status == 400 and all(h in headers for h in SECURITY_HEADERS) and json.loads(body)["detail"]
    big = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    status, headers, _ = raw_request(gate.port, big)
    assert status == 400 and all(h in headers for h in SECURITY_HEADERS)


# -- 5. Host header -------------------------------------------------------------------------------------


def test_wrong_host_header_is_refused(tmp_path, template_db):
    g = Gate(tmp_path, template_db, public_url="https://gate-huu-nghi.example.vn")
    try:
        with g.client() as c:
            for host in ("evil.example", "gate-huu-nghi.example.vn.evil.example", "", "a/b"):
                r = c.get("/api/health", headers={"Host": host})
                assert r.status_code == 400 and "Host" in r.json()["detail"] and has_security_headers(r), host
            for host in (f"127.0.0.1:{g.port}", "localhost", f"LOCALHOST:{g.port}", "[::1]:8080", "10.1.2.3",
                         "gate-huu-nghi.example.vn", "gate-huu-nghi.example.vn."):
                assert c.get("/api/health", headers={"Host": host}).status_code == 200, host
    finally:
        g.close()


def test_configured_allowed_hosts_are_exact(tmp_path, template_db):
    g = Gate(tmp_path, template_db, allowed_hosts=["gate.local", "*.gates.example"])
    try:
        with g.client() as c:
            assert c.get("/api/health", headers={"Host": "gate.local:8080"}).status_code == 200
            assert c.get("/api/health", headers={"Host": "huu-nghi.gates.example"}).status_code == 200
            assert c.get("/api/health").status_code == 400  # 127.0.0.1 was not listed
            assert c.get("/api/health", headers={"Host": "gates.example.evil"}).status_code == 400
    finally:
        g.close()


def test_default_host_policy():
    p = host_policy(ApiConfig(bind="0.0.0.0"))
    assert p.allows("192.168.1.20:8080") and p.allows("[fe80::1]") and p.allows("localhost")
    assert not p.allows("rebind.attacker.example") and not p.allows(None) and not p.allows("[::1")
    p = host_policy(ApiConfig(bind="gatebox", public_url="http://gate.example:8080/"))
    assert p.allows("gatebox") and p.allows("gate.example:8080") and not p.allows("example")
    assert host_policy(ApiConfig(allowed_hosts=["*"])).allows("anything")
    assert host_policy(ApiConfig(allowed_hosts=["::1"])).allows("[0:0::1]:80")


# -- 6. event streams end when their user is disabled or logs out ------------------------------------------


def _open_stream(c: httpx.Client) -> tuple[Any, Any]:
    cm = c.stream("GET", "/api/review/events", timeout=httpx.Timeout(10.0))
    resp = cm.__enter__()
    assert resp.status_code == 200
    lines = resp.iter_lines()
    assert next(lines).startswith("retry:")
    return cm, lines


@pytest.mark.parametrize("how", ["disable", "logout", "revoke"])
def test_event_stream_ends_when_the_caller_loses_access(gate, how):
    with gate.client() as c:
        headers: dict[str, str] = {}
        if how == "revoke":
            headers = gate.token("vien")
            c.headers.update(headers)
        else:
            csrf = gate.login(c, "vien")
        cm, lines = _open_stream(c)
        try:
            gate.events.notify("decision", {"id": 1})  # flowing
            got = ""
            while "event: decision" not in got:
                got += next(lines) + "\n"
            if how == "disable":
                gate.auth.set_disabled("vien", True)
            elif how == "logout":
                with gate.client(cookies=c.cookies) as other_tab:
                    assert other_tab.post("/api/review/logout", headers={CSRF_HEADER: csrf}).status_code == 204
            else:
                gate.store._conn().execute("UPDATE api_tokens SET revoked = 1")
                gate.store._conn().commit()
            rest = list(lines)  # the server ends the stream (a read timeout of 10 s would fail the test)
        finally:
            cm.__exit__(None, None, None)
        gate.events.notify("decision", {"id": 2})
        assert all('"id":2' not in x for x in rest)
        assert c.get("/api/review/events").status_code == 401


# -- 7. password rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize("password,why", [
    (" " * 12, "at least 10 characters besides leading and trailing blanks"),
    ("   short   ", "at least 10 characters"),
    ("aaaaabbbbbaaaaa", "at least 5 different characters"),
    ("1212121212121", "at least 5 different characters"),
    ("minh.tran-2025", "must not contain the user name"),
    ("MINH.TRAN", "at least 10 characters"),
    ("Password123", "most common passwords"),
    ("  qwertyuiop  ", "most common passwords"),
    ("woaini1314", "most common passwords"),
    ("matkhau123", "most common passwords"),
])
def test_weak_passwords_are_refused_with_a_clear_message(tmp_path, password, why):
    assert why in (password_problem("minh.tran", password) or "")
    with Store(tmp_path / "g.db") as store:
        auth = Auth(store)
        with pytest.raises(AuthError, match=why):
            auth.add_user("minh.tran", "inspector", password)
        assert auth.get_user("minh.tran") is None


def test_reasonable_passwords_are_accepted(tmp_path):
    for pw in (PASSWORD, "Cua-khau-2025!", "tôi đi làm ở cửa khẩu", "桂A·473T7-lane-2"):
        assert password_problem("minh.tran", pw) is None, pw
    with Store(tmp_path / "g.db") as store:
        auth = Auth(store)
        auth.add_user("minh.tran", "inspector", PASSWORD)
        with pytest.raises(AuthError, match="different characters"):
            auth.set_password("minh.tran", "zzzzzzzzzzzz")
        auth.set_password("minh.tran", "another good passphrase")


# -- 8. bidi and control characters -----------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c", "\x00",
                                  "\x1b", "\x7f", "\x85", "\x9b"])
def test_bidi_and_control_characters_are_refused_in_review_text(gate, char):
    p = gate.flagged
    code = f"U+{ord(char):04X}"
    with gate.client(headers=gate.token("lan")) as c:
        r = c.post(f"/api/review/passages/{p.id}/approve", json={"comment": f"seal ok{char}evil.exe"})
        assert r.status_code == 422 and r.json()["detail"].startswith("comment:") and code in r.json()["detail"]
        r = c.post(f"/api/review/passages/{p.id}/correct",
                   json={"field": "plate", "value": f"29C-123{char}.46", "comment": "read again"})
        assert r.status_code == 422 and r.json()["detail"].startswith("value:") and code in r.json()["detail"]
        r = c.post(f"/api/review/passages/{p.id}/correct",
                   json={"field": "plate", "value": "29C-123.46", "comment": f"read{char} again"})
        assert r.status_code == 422 and "comment:" in r.json()["detail"]
        assert gate.store._conn().execute("SELECT COUNT(*) FROM review_decisions").fetchone()[0] == 0
        for field, where in (("description", "lines.0.description"), ("unit", "lines.0.unit")):
            decl = {**DECLARATION, "lines": [{"hs_code": "310210", field: f"urea{char}"}]}
            r = c.post("/api/declarations", json=decl)
            assert r.status_code == 422 and where in r.json()["detail"] and code in r.json()["detail"]
        r = c.post("/api/declarations", json={**DECLARATION, "plate": f"29C{char}12345"})
        assert r.status_code == 422 and "plate" in r.json()["detail"]
        assert gate.store.count_declarations() == 0


def test_line_breaks_stay_allowed_in_comments_and_descriptions(gate):
    with gate.client(headers=gate.token("lan")) as c:
        r = c.post(f"/api/review/passages/{gate.flagged.id}/correct",
                   json={"field": "plate", "value": "29C-123.46", "comment": "front plate dirty;\r\nread the rear\t"})
        assert r.status_code == 200
        decl = {**DECLARATION, "lines": [{"hs_code": "310210", "description": "urea\n46% N"}]}
        assert c.post("/api/declarations", json=decl).status_code == 201


# -- 9. declarations: non-finite numbers, deep nesting ----------------------------------------------------


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_non_finite_numbers_in_a_declaration_are_refused(gate, number):
    text = json.dumps({**DECLARATION, "lines": [{"hs_code": "310210", "quantity": 7}]})
    with gate.client(headers=gate.token("lan")) as c:
        r = c.post("/api/declarations", content=text.replace('"quantity": 7', f'"quantity": {number}'),
                   headers={"content-type": "application/json"})
    assert r.status_code == 422 and "finite" in r.json()["detail"] and has_security_headers(r)
    assert gate.store.count_declarations() == 0


def test_deeply_nested_declaration_is_refused(gate):
    depth = 100_000
    with gate.client(headers=gate.token("lan")) as c:
        r = c.post("/api/declarations", content=b"[" * depth + b"]" * depth,
                   headers={"content-type": "application/json"})
        assert r.status_code == 422 and "nested deeper than" in r.json()["detail"]
        nested = json.dumps(DECLARATION)[:-1] + ', "x": ' + "{\"a\": " * 40 + "1" + "}" * 40 + "}"
        r = c.post("/api/declarations", content=nested, headers={"content-type": "application/json"})
        assert r.status_code == 422 and "nested deeper than" in r.json()["detail"]
        assert c.post("/api/declarations", json=DECLARATION).status_code == 201  # still serving


def test_server_settings_are_validated():
    for bad in ({"trusted_proxies": ["*"]}, {"trusted_proxies": ["10.0.0.1/24"]}, {"allowed_hosts": ["gate:8080"]},
                {"allowed_hosts": ["https://gate.example"]}, {"allowed_hosts": ["a.*.example"]},
                {"max_connections": 2}, {"header_timeout_s": 0}):
        with pytest.raises(ValueError):
            ApiConfig(**bad)
    ok = ApiConfig(trusted_proxies=["10.0.0.0/24", "::1"], allowed_hosts=["gate.local", "*.gates.example", "[::1]"])
    assert ok.max_connections == 256 and ok.header_timeout_s == 10 and ok.keepalive_timeout_s == 5
