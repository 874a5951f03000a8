"""hello-tdx: the smallest easyenclave workload, an HTTP service on port 8080.

The agent runs this image in a TDX VM and publishes 127.0.0.1:8080 through its tunnel; clients
that verified the VM's attestation (client.py) talk to it. Standard library only.
"""

import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        if self.path == "/healthz":
            self._reply(200, {"status": "ok"})
        else:
            self._reply(200, {
                "hello": "from inside a TDX VM",
                "version": os.environ.get("APP_VERSION", "dev"),  # baked in at build time
                "host": socket.gethostname(),
                "path": self.path,
            })

    def _reply(self, status, body):
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):  # one line per request on stdout: the agent's log buffer
        print(f"{self.address_string()} {fmt % args}", flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"hello-tdx listening on 0.0.0.0:{port}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Hello).serve_forever()
