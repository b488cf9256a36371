"""The feed transport against a real HTTP server on 127.0.0.1, scripted per test."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.hydro.transport import (
    FeedClient,
    FeedError,
    TransportOptions,
    Validators,
    json_next_link,
    redact_url,
)

Step = Callable[[BaseHTTPRequestHandler], None]


# -- the scripted server ----------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class Script:
    """Steps answer requests in turn; the last step answers every request after that."""

    steps: list[Step] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_step(self, handler: BaseHTTPRequestHandler) -> Step:
        with self.lock:
            self.seen.append(Seen(handler.path, {k.lower(): v for k, v in handler.headers.items()}))
            return self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]


class Server:
    def __init__(self) -> None:
        self.script = Script()
        script = self.script

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                step = script.next_step(self)
                try:
                    step(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/data") -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def play(self, *steps: Step) -> None:
        self.script.steps = list(steps)

    @property
    def seen(self) -> list[Seen]:
        return self.script.seen

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def respond(status: int = 200, body: bytes = b"", headers: Mapping[str, str] | None = None) -> Step:
    def step(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        if status not in (204, 304):
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if status not in (204, 304):
            h.wfile.write(body)

    return step


def truncated(declared: int, sent: bytes) -> Step:
    def step(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(declared))
        h.end_headers()
        h.wfile.write(sent)
        h.wfile.flush()
        h.close_connection = True

    return step


def slow(delay_s: float, then: Step) -> Step:
    def step(h: BaseHTTPRequestHandler) -> None:
        time.sleep(delay_s)
        then(h)

    return step


def conditional(etag: str | None, last_modified: str | None, body: bytes) -> Step:
    """200 with validators, or 304 when the request's validators still match."""
    headers = {k: v for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v}

    def step(h: BaseHTTPRequestHandler) -> None:
        etag_matches = bool(etag) and h.headers.get("If-None-Match") == etag
        date_matches = bool(last_modified) and h.headers.get("If-Modified-Since") == last_modified
        if etag_matches or date_matches:
            respond(304, headers=headers)(h)
        else:
            respond(200, body, headers)(h)

    return step


def routes(table: Mapping[str, Step]) -> Step:
    def step(h: BaseHTTPRequestHandler) -> None:
        table.get(h.path, respond(404, b"no such page"))(h)

    return step


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.stop()


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock and is recorded, not waited."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_client(fake_time: FakeTime, **options: object) -> FeedClient:
    defaults: dict[str, object] = {
        "connect_timeout_s": 2.0,
        "read_timeout_s": 2.0,
        "max_attempts": 3,
        "trust_env": False,  # never route loopback requests through a proxy
    }
    defaults.update(options)
    return FeedClient(
        TransportOptions(**defaults),  # type: ignore[arg-type]
        name="test-feed",
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        rng=lambda: 0.0,
        environ={},
    )


JSON_OK = json.dumps({"value": 1.5}).encode()


# -- retries ----------------------------------------------------------------------------------


def test_500_then_200_is_retried(server: Server, fake_time: FakeTime) -> None:
    server.play(respond(500, b"oops"), respond(200, JSON_OK, {"Content-Type": "application/json"}))
    with make_client(fake_time) as client:
        result = client.fetch(server.url())
    assert result.status == 200
    assert result.json() == {"value": 1.5}
    assert result.attempts == 2
    assert result.content_type == "application/json"
    assert len(server.seen) == 2
    assert fake_time.sleeps == [1.0]


def test_always_500_is_a_feed_error_after_max_attempts(server: Server, fake_time: FakeTime) -> None:
    server.play(respond(503, b"down"))
    with make_client(fake_time, max_attempts=4) as client, pytest.raises(FeedError) as caught:
        client.fetch(server.url())
    err = caught.value
    assert err.status == 503
    assert err.attempts == 4
    assert server.url() in str(err)
    assert "503" in str(err)
    assert len(server.seen) == 4
    assert fake_time.sleeps == [1.0, 2.0, 4.0]  # exponential, no jitter with rng() == 0


def test_backoff_has_jitter_cap_and_honours_retry_after(server: Server) -> None:
    fake = FakeTime()
    server.play(respond(503, headers={"Retry-After": "7"}), respond(500), respond(200, JSON_OK))
    client = FeedClient(
        TransportOptions(trust_env=False, backoff_max_s=5.0, jitter_ratio=0.5),
        sleep=fake.sleep,
        clock=fake.clock,
        rng=lambda: 1.0,
        environ={},
    )
    with client:
        client.fetch(server.url())
    # 1st wait: Retry-After 7 s, capped at 5 s; 2nd: 2 s stretched by 50 % jitter
    assert fake.sleeps == [5.0, 3.0]


def test_404_is_not_retried(server: Server, fake_time: FakeTime) -> None:
    server.play(respond(404, b"gone"), respond(200, JSON_OK))
    with make_client(fake_time) as client, pytest.raises(FeedError) as caught:
        client.fetch(server.url())
    assert caught.value.status == 404
    assert "404" in str(caught.value)
    assert len(server.seen) == 1
    assert fake_time.sleeps == []


def test_read_timeout_is_retried_then_a_feed_error(server: Server, fake_time: FakeTime) -> None:
    server.play(slow(1.0, respond(200, JSON_OK)))
    started = time.monotonic()
    with (
        make_client(fake_time, read_timeout_s=0.2, max_attempts=2) as client,
        pytest.raises(FeedError) as caught,
    ):
        client.fetch(server.url())
    assert time.monotonic() - started < 1.5
    assert "read timed out" in str(caught.value)
    assert caught.value.status is None
    assert len(server.seen) == 2


def test_connection_refused_is_retried_then_a_feed_error(fake_time: FakeTime) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/data"
    with make_client(fake_time, max_attempts=2) as client, pytest.raises(FeedError) as caught:
        client.fetch(url)
    assert "connection failed" in str(caught.value)
    assert caught.value.attempts == 2


def test_truncated_body_is_a_feed_error(server: Server, fake_time: FakeTime) -> None:
    server.play(truncated(declared=1000, sent=b'{"value": 1'))
    with make_client(fake_time, max_attempts=2) as client, pytest.raises(FeedError) as caught:
        client.fetch(server.url())
    assert "incomplete" in str(caught.value)
    assert caught.value.status == 200
    assert len(server.seen) == 2


def test_truncated_once_then_complete_succeeds(server: Server, fake_time: FakeTime) -> None:
    server.play(truncated(declared=1000, sent=b"{"), respond(200, JSON_OK))
    with make_client(fake_time) as client:
        assert client.fetch(server.url()).json() == {"value": 1.5}


def test_invalid_json_is_a_feed_error_and_not_retried(server: Server, fake_time: FakeTime) -> None:
    server.play(respond(200, b"<html>maintenance</html>"))
    with make_client(fake_time) as client:
        result = client.fetch(server.url())
    with pytest.raises(FeedError) as caught:
        result.json()
    assert "not valid JSON" in str(caught.value)
    assert server.url() in str(caught.value)
    assert len(server.seen) == 1


def test_oversize_body_is_a_feed_error(server: Server, fake_time: FakeTime) -> None:
    server.play(respond(200, b"x" * 100))
    with (
        make_client(fake_time, max_body_bytes=10) as client,
        pytest.raises(FeedError, match="max_body_bytes"),
    ):
        client.fetch(server.url())
    assert len(server.seen) == 1


# -- conditional requests ---------------------------------------------------------------------


def test_etag_then_304(server: Server, fake_time: FakeTime) -> None:
    server.play(conditional(etag='"v1"', last_modified=None, body=JSON_OK))
    parsed: list[bytes] = []
    with make_client(fake_time) as client:
        first = client.fetch(server.url())
        assert not first.not_modified
        assert first.validators == Validators(etag='"v1"')
        second = client.fetch(server.url(), validators=first.validators)
        if not second.not_modified:
            parsed.append(second.body)
    assert "if-none-match" not in server.seen[0].headers
    assert server.seen[1].headers["if-none-match"] == '"v1"'
    assert second.not_modified
    assert second.status == 304
    assert second.body == b""
    assert second.validators == first.validators
    assert parsed == []


def test_last_modified_then_304(server: Server, fake_time: FakeTime) -> None:
    stamp = "Sun, 01 Sep 2024 06:00:00 GMT"
    server.play(conditional(etag=None, last_modified=stamp, body=JSON_OK))
    with make_client(fake_time) as client:
        first = client.fetch(server.url())
        assert first.validators == Validators(last_modified=stamp)
        second = client.fetch(server.url(), validators=first.validators)
    assert server.seen[1].headers["if-modified-since"] == stamp
    assert second.not_modified
    assert second.validators.last_modified == stamp
    with pytest.raises(FeedError, match="not modified"):
        second.json()


def test_changed_resource_returns_new_validators(server: Server, fake_time: FakeTime) -> None:
    server.play(conditional(etag='"v2"', last_modified=None, body=b"{}"))
    with make_client(fake_time) as client:
        result = client.fetch(server.url(), validators=Validators(etag='"v1"'))
    assert not result.not_modified
    assert result.validators.etag == '"v2"'


# -- paging -----------------------------------------------------------------------------------


def page(items: list[int], next_url: str | None) -> Step:
    return respond(200, json.dumps({"items": items, "links": {"next": next_url}}).encode())


def test_three_pages_linked_by_next(server: Server, fake_time: FakeTime) -> None:
    server.play(
        routes(
            {
                "/obs?page=1": page([1, 2], server.url("/obs?page=2")),  # absolute link
                "/obs?page=2": page([3], "/obs?page=3"),  # relative link
                "/obs?page=3": page([4], None),
            }
        )
    )
    with make_client(fake_time) as client:
        pages = client.fetch_pages(
            server.url("/obs"), json_next_link("links", "next"), 10, params={"page": "1"}
        )
    assert [p.json()["items"] for p in pages] == [[1, 2], [3], [4]]
    assert [s.path for s in server.seen] == ["/obs?page=1", "/obs?page=2", "/obs?page=3"]


def test_more_pages_than_allowed_is_a_feed_error(server: Server, fake_time: FakeTime) -> None:
    server.play(routes({"/p1": page([1], "/p2"), "/p2": page([2], "/p3"), "/p3": page([3], None)}))
    with make_client(fake_time) as client, pytest.raises(FeedError, match="more than 2 pages"):
        client.fetch_pages(server.url("/p1"), json_next_link("links", "next"), 2)
    assert len(server.seen) == 2


def test_paging_loop_is_a_feed_error(server: Server, fake_time: FakeTime) -> None:
    server.play(routes({"/p1": page([1], "/p2"), "/p2": page([2], "/p1")}))
    with make_client(fake_time) as client, pytest.raises(FeedError, match="loops"):
        client.fetch_pages(server.url("/p1"), json_next_link("links", "next"), 10)


def test_unreadable_page_is_a_feed_error_but_input_error_passes(
    server: Server, fake_time: FakeTime
) -> None:
    server.play(respond(200, b"not json"))
    with make_client(fake_time) as client:
        with pytest.raises(FeedError, match="next-page link"):
            client.fetch_pages(server.url(), json_next_link("next"), 5)

        def strict_parser(body: bytes) -> str | None:
            raise InputError("the payload lacks the 'next' field")

        with pytest.raises(InputError):
            client.fetch_pages(server.url(), strict_parser, 5)


# -- rate limit, headers ----------------------------------------------------------------------


def test_rate_limit_keeps_min_interval(server: Server, fake_time: FakeTime) -> None:
    server.play(respond(200, b"{}"))
    with make_client(fake_time, min_interval_s=5.0) as client:
        client.fetch(server.url())
        client.fetch(server.url())
        fake_time.now += 3.0  # the caller did other work for 3 s
        client.fetch(server.url())
    assert fake_time.sleeps == [5.0, 2.0]
    assert len(server.seen) == 3


def test_user_agent_names_floodwatch(server: Server, fake_time: FakeTime) -> None:
    server.play(respond(200, b"{}"))
    with make_client(fake_time, contact="ops@example.org") as client:
        client.fetch(server.url())
    agent = server.seen[0].headers["user-agent"]
    assert agent.startswith("floodwatch/")
    assert "ops@example.org" in agent


def test_auth_header_from_env_var(server: Server, fake_time: FakeTime) -> None:
    server.play(respond(200, b"{}"))
    options = TransportOptions(auth_env_var="FW_TEST_TOKEN", auth_prefix="Bearer ", trust_env=False)
    with FeedClient(options, environ={"FW_TEST_TOKEN": "s3cret"}) as client:
        client.fetch(server.url())
    assert server.seen[0].headers["authorization"] == "Bearer s3cret"


def test_missing_auth_env_var_is_a_config_error() -> None:
    options = TransportOptions(auth_env_var="FW_TEST_TOKEN", auth_header="X-Api-Key")
    with pytest.raises(ConfigError, match="FW_TEST_TOKEN"):
        FeedClient(options, environ={})


def test_secrets_in_query_are_redacted_from_errors(server: Server, fake_time: FakeTime) -> None:
    server.play(respond(401, b"denied"))
    with make_client(fake_time) as client, pytest.raises(FeedError) as caught:
        client.fetch(server.url("/data?station=71518&apikey=s3cret"))
    assert "s3cret" not in str(caught.value)
    assert "station=71518" in str(caught.value)
    assert redact_url("http://h/x?token=a&b=c") == "http://h/x?token=***&b=c"


@pytest.mark.parametrize(
    "options", [{"max_attempts": 0}, {"read_timeout_s": 0.0}, {"min_interval_s": -1.0}]
)
def test_invalid_options_are_a_config_error(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        TransportOptions(**options)  # type: ignore[arg-type]
