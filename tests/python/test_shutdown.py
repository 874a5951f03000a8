"""The interpreter exits cleanly while daemon threads are inside native calls that released the
GIL and emit log events (before Python 3.14 such threads are ended by forced unwinding when they
take the GIL back; the bindings must neither abort nor swallow that)."""

import subprocess
import sys

import pytest

SCRIPT = r"""
import http.server, logging, sys, threading, time
import easyenclave as ee

logging.basicConfig(level=logging.DEBUG, stream=open(__import__("os").devnull, "w"))

class NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = "http://127.0.0.1:%d" % server.server_address[1]
sim = ee.Simulator.create()
quote, collateral, root = sim.quote(b"n"), sim.collateral, sim.root_pem

def fetch():
    while True:
        try:
            ee.Collateral.from_pcs("90c06f000000", url)
        except ee.NotFound:
            pass

def verify():
    while True:
        ee.verify_quote(quote, collateral, root=root)

for target in (fetch, fetch, verify, verify):
    threading.Thread(target=target, daemon=True).start()
time.sleep(float(sys.argv[1]))
"""


@pytest.mark.parametrize("seconds", ["0.05", "0.2", "0.4"])
def test_exit_with_daemon_threads_inside_native_calls(seconds):
    done = subprocess.run([sys.executable, "-c", SCRIPT, seconds], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
