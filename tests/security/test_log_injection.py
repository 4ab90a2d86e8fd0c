"""Log injection: a request path cannot forge a log line or write terminal escapes."""

from __future__ import annotations

import logging
import socket
import threading

from webapp import logs
from webapp.logs import escape_controls
from webapp.server import local_server


def test_control_characters_are_escaped():
    assert escape_controls("a\nb\r\x1b[31mred\x00") == "a\\x0ab\\x0d\\x1b[31mred\\x00"
    assert escape_controls("één wachtwoord 😀") == "één wachtwoord 😀"


def test_every_log_record_is_escaped_once_installed(caplog):
    logs.install()
    with caplog.at_level(logging.INFO):
        logging.getLogger("gunicorn.access").info('"%s %s" %s', "GET", "/x\nFAKE 200 forged", 404)
    [record] = caplog.records
    assert "\n" not in record.getMessage() and "\\x0aFAKE" in record.getMessage()


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_local_server_answers_a_malformed_request_with_400_and_one_log_line(make_app, caplog):
    app = make_app()
    server = local_server(app, "127.0.0.1", 0)
    port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for line in (
                b"GET /healthz HTTP/1.1 extra\r\n\r\n",
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                b"GET /x%0aFAKE%1b[31m HTTP/1.1\r\nHost: a\r\n\r\n",
            ):
                answer = _raw(port, line)
                assert b"400" in answer[:400] or b" 404 " in answer[:40], answer[:200]
    finally:
        server.shutdown()
        server.server_close()
    text = caplog.text
    assert "Traceback" not in text and "\x1b" not in text
    assert not any(line.startswith("FAKE") for line in text.splitlines())


def test_the_local_server_names_no_versions(make_app):
    server = local_server(make_app(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = _raw(server.server_port, b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    finally:
        server.shutdown()
        server.server_close()
    server_header = [line for line in answer.split(b"\r\n") if line.lower().startswith(b"server:")]
    assert server_header == [b"Server: firstline"]
