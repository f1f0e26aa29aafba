#!/usr/bin/env python3
"""A tiny webhook receiver for the tests: records every POST as one JSON
line (path, headers, body) in a file and answers 200. Loopback only."""
import http.server
import json
import sys

OUT = sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(min(n, 1 << 20)).decode("utf-8", "replace")
        with open(OUT, "a", encoding="utf-8") as f:
            f.write(json.dumps({"path": self.path, "body": body,
                                "type": self.headers.get("Content-Type", "")}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
