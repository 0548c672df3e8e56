"""TLS-RPT to an ``https:`` rua (RFC 8460 5.3.1): the gzip'd JSON POSTed over verified TLS."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import json
import ssl
import threading
from pathlib import Path

from pillarbox.dns.fake import FakeResolver
from pillarbox.queue.report_post import PostFailed, post_report
from pillarbox.queue.tlsrpt import ReportMeta, TLSReportSender
from tests.certs import CertAuthority, pem


class Receiver:
    """HTTPS on loopback that answers ``status`` to every POST and keeps what came."""

    def __init__(self, tmp: Path, status: int = 201) -> None:
        self.ca = CertAuthority()
        self.ca_file = tmp / "ca.pem"
        self.ca_file.write_bytes(pem(self.ca.cert))
        cert, key = self.ca.issue(["reports.test"]).write(tmp, "reports")
        self.posts: list[tuple[str, str, bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((self.path, self.headers["Content-Type"], body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _resolver(port: int) -> FakeResolver:
    return FakeResolver({("reports.test", "A"): ["127.0.0.1"],
                         ("_smtp._tls.b.test", "TXT"): [f"v=TLSRPTv1; rua=https://reports.test:{port}/tlsrpt?x=1"]})


async def _nothing(to: str, mail: bytes) -> None:
    raise AssertionError("no mail for an https rua")


def test_a_report_is_posted_to_an_https_rua(tmp_path: Path):
    receiver = Receiver(tmp_path)
    try:
        sender = TLSReportSender(object(), _resolver(receiver.port), "mx.a.test", _nothing, ca_file=receiver.ca_file)
        rows = [("b.test", "2026-03-04", "no-policy-found", "mx.b.test", "success", 3)]
        sent = asyncio.run(sender.send_domain(ReportMeta("mx.a.test", "b.test", "2026-03-04"), rows))
    finally:
        receiver.close()
    assert sent == 1
    [(path, content_type, body)] = receiver.posts
    assert (path, content_type) == ("/tlsrpt?x=1", "application/tlsrpt+gzip")
    report = json.loads(gzip.decompress(body))
    assert report["organization-name"] == "mx.a.test" and report["policies"][0]["summary"] == {
        "total-successful-session-count": 3, "total-failure-session-count": 0}


def test_a_refused_or_unverified_post_fails_cleanly(tmp_path: Path):
    receiver = Receiver(tmp_path, status=302)
    try:
        uri = f"https://reports.test:{receiver.port}/tlsrpt"
        for ca_file in (receiver.ca_file, None):  # a redirect is not followed; an unknown CA is not trusted
            try:
                asyncio.run(post_report(uri, b"x", _resolver(receiver.port), ca_file))
            except PostFailed as failure:
                assert ("302" in str(failure)) == (ca_file is not None)
            else:
                raise AssertionError("posted")
    finally:
        receiver.close()
