"""Paths and headers, as tables."""

from __future__ import annotations

import pytest

from gateway.routing import parse_target, request_headers, response_headers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/s/default/chat/v1/completions", (("default", "chat"), "/v1/completions")),
        ("/s/default/chat/v1/x?a=1&b=%20", (("default", "chat"), "/v1/x?a=1&b=%20")),
        ("/s/default/chat", (("default", "chat"), "/")),
        ("/s/default/chat/", (("default", "chat"), "/")),
        ("/s/default/chat?q=1", (("default", "chat"), "/?q=1")),
        ("/s/ns/svc/a%2Fb//c", (("ns", "svc"), "/a%2Fb//c")),
        ("/s/default", None),
        ("/s//chat/x", None),
        ("/s/default//x", None),
        ("/x/default/chat/x", None),
        ("/", None),
        ("", None),
    ],
)
def test_parse_target(raw: str, expected: object) -> None:
    assert parse_target(raw) == expected


def test_request_headers_drop_hop_by_hop_and_add_forwarded() -> None:
    out = request_headers(
        [
            ("Host", "gw:8080"),
            ("Connection", "keep-alive, X-Private"),
            ("X-Private", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "10"),
            ("TE", "trailers"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Forwarded-Proto", "https"),
            ("Authorization", "Bearer t"),
            ("Accept", "text/event-stream"),
        ],
        client_ip="10.0.0.2",
        host="gw:8080",
        scheme="http",
    )
    assert out == [
        ("Authorization", "Bearer t"),
        ("Accept", "text/event-stream"),
        ("X-Forwarded-For", "10.0.0.1, 10.0.0.2"),
        ("X-Forwarded-Host", "gw:8080"),
        ("X-Forwarded-Proto", "http"),
    ]


def test_response_headers_keep_repeats_and_drop_framing() -> None:
    out = response_headers(
        [
            ("Content-Type", "text/event-stream"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "3"),
            ("Connection", "close"),
            ("Cache-Control", "no-cache"),
        ]
    )
    assert out == [
        ("Content-Type", "text/event-stream"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Cache-Control", "no-cache"),
    ]
