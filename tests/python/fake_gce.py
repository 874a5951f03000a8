"""A stand-in for the Compute Engine REST API (v1) and Google's OAuth 2.0 token endpoint, on
loopback, keeping state the tests can look at. It speaks the subset scripts/ci/cilib.py uses,
with the real API's shapes:

  POST /token                      grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT
                                   (RS256, signed by the service account's key, iss = its
                                   client_email, aud = this URL, a compute scope, unexpired)
                                   -> {"access_token", "expires_in", "token_type": "Bearer"}
  GET    /compute/v1/projects/P/aggregated/instances?filter=&maxResults=&pageToken=
         -> {"kind": "compute#instanceAggregatedList", "items": {"zones/Z": {"instances": [...]}
             | {"warning": {"code": "NO_RESULTS_ON_PAGE"}}}, "nextPageToken"?}
  POST   /compute/v1/projects/P/zones/Z/instances          -> an Operation (409 alreadyExists)
  GET    /compute/v1/projects/P/zones/Z/instances/NAME     -> the Instance (404 notFound)
  DELETE /compute/v1/projects/P/zones/Z/instances/NAME     -> an Operation (404 notFound)
  GET    /compute/v1/projects/P/zones/Z/operations/OP      -> PENDING, RUNNING, then DONE
  POST   /compute/v1/projects/P/global/images              {"name", "family", "rawDisk": {"source":
                                   "https://storage.googleapis.com/B/O"}, "guestOsFeatures"} -> an
                                   Operation (global: no zone); the source must be an uploaded object
  GET    /compute/v1/projects/P/global/images/NAME, /global/operations/OP
  POST   /upload/storage/v1/b/B/o?uploadType=media&name=O  the body becomes object O of bucket B

Every compute call needs `Authorization: Bearer <a token it issued>` (401 otherwise) and the one
project it serves (404 otherwise). `filter` takes the real syntax's terms `labels.KEY = "V"` and
`name = "V"` joined by ` AND ` (a filter it does not understand is a 400, as Google's is, so a
script can never list more than it asked for by a typo).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
LABEL = re.compile(r"^[a-z0-9_-]{0,63}$")
TERM = re.compile(r'^\s*(name|labels\.[a-z0-9_-]+)\s*=\s*"([^"]*)"\s*$')


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def service_account(directory: Path, token_uri: str, email="ci@project.iam.gserviceaccount.com") -> tuple[dict, Path]:
    """A service-account key like the JSON Google issues (RSA 2048), and its public key's file."""
    key, public = directory / "sa-key.pem", directory / "sa-pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(public)], check=True, capture_output=True)
    return {"type": "service_account", "project_id": "ee-ci", "private_key_id": "k1",
            "private_key": key.read_text(), "client_email": email, "client_id": "1",
            "token_uri": token_uri}, public


class FakeGce:
    def __init__(self, project: str = "ee-ci"):
        self.project = project
        self.instances: dict[tuple[str, str], dict] = {}  # (zone, name) -> instance
        self.operations: dict[str, dict] = {}
        self.images: dict[str, dict] = {}
        self.objects: dict[tuple[str, str], bytes] = {}
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.public_key: Path | None = None
        self.client_email = ""
        self.lock = threading.Lock()
        self.next_ip = 10
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                fake._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                fake._handle(self, "POST")

            def do_DELETE(self):  # noqa: N802
                fake._handle(self, "DELETE")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_base = self.url + "/compute/v1"
        self.token_uri = self.url + "/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def trust(self, key: dict, public_key: Path):
        self.client_email, self.public_key = key["client_email"], public_key

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # --- helpers -------------------------------------------------------------------------------

    def add_instance(self, zone: str, name: str, labels: dict):
        """An instance made outside the scripts (another namespace's, or nobody's)."""
        with self.lock:
            self.instances[(zone, name)] = self._instance(zone, name, labels, {})

    def names(self) -> set[str]:
        with self.lock:
            return {name for _, name in self.instances}

    def _instance(self, zone, name, labels, body):
        self.next_ip += 1
        base = f"{self.api_base}/projects/{self.project}"
        return {"kind": "compute#instance", "id": str(secrets.randbits(60)), "name": name,
                "zone": f"{base}/zones/{zone}", "selfLink": f"{base}/zones/{zone}/instances/{name}",
                "status": "RUNNING", "labels": dict(labels), "machineType": body.get("machineType", ""),
                "confidentialInstanceConfig": body.get("confidentialInstanceConfig", {}),
                "metadata": body.get("metadata", {}),
                "networkInterfaces": [{"networkIP": f"10.128.0.{self.next_ip}",
                                       "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "natIP": f"203.0.113.{self.next_ip}"}]}]}

    def _operation(self, zone, kind, target):
        op = {"kind": "compute#operation", "id": str(secrets.randbits(60)), "name": f"operation-{secrets.token_hex(8)}",
              "operationType": kind, "targetLink": target, "status": "PENDING", "polls": 0}
        if zone:
            op["zone"] = f"{self.api_base}/projects/{self.project}/zones/{zone}"
        self.operations[op["name"]] = op
        return self._public(op)

    @staticmethod
    def _public(op):
        return {k: v for k, v in op.items() if k != "polls"}

    @staticmethod
    def _error(code, reason, message):
        return code, {"error": {"code": code, "message": message, "errors": [{"reason": reason, "message": message}]}}

    # --- routes --------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, method: str):
        url = urllib.parse.urlparse(h.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((method, url.path))
            if url.path == "/token" and method == "POST":
                status, answer = self._token(urllib.parse.parse_qs(body.decode()))
            elif url.path.startswith("/upload/storage/v1/b/") and method == "POST":
                status, answer = self._upload(h, url.path, query, body)
            else:
                status, answer = self._compute(h, method, url.path, query, body)
        data = json.dumps(answer).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _token(self, form):
        def bad(why):
            return 400, {"error": "invalid_grant", "error_description": why}

        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or len(form.get("assertion", [])) != 1:
            return bad("grant_type and one assertion")
        parts = form["assertion"][0].split(".")
        if len(parts) != 3:
            return bad("not a JWT")
        try:
            header, claims, signature = json.loads(unb64(parts[0])), json.loads(unb64(parts[1])), unb64(parts[2])
        except ValueError:
            return bad("malformed JWT")
        if header.get("alg") != "RS256" or self.public_key is None:
            return bad("alg")
        with tempfile.NamedTemporaryFile() as sig:
            sig.write(signature)
            sig.flush()
            verified = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(self.public_key), "-signature",
                                       sig.name], input=f"{parts[0]}.{parts[1]}".encode(), capture_output=True)
        if verified.returncode != 0:
            return bad("Invalid JWT Signature.")
        now = time.time()
        if claims.get("iss") != self.client_email or claims.get("aud") != self.token_uri:
            return bad("iss or aud")
        if not (claims.get("iat", 0) - 60 <= now < claims.get("exp", 0)) or claims["exp"] - claims["iat"] > 3600:
            return bad("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        if "https://www.googleapis.com/auth/compute" not in str(claims.get("scope", "")).split():
            return bad("scope")
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _compute(self, h, method, path, query, body):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self._error(401, "required", "Request is missing required authentication credential.")
        m = re.match(r"^/compute/v1/projects/([^/]+)/(.*)$", path)
        if not m:
            return self._error(404, "notFound", "not found")
        if m.group(1) != self.project:
            return self._error(404, "notFound", f"The resource 'projects/{m.group(1)}' was not found")
        rest = m.group(2)
        if rest == "aggregated/instances" and method == "GET":
            return self._aggregated(query)
        if rest == "global/images" and method == "POST":
            return self._insert_image(body)
        m = re.match(r"^global/(images|operations)/([^/]+)$", rest)
        if m and method == "GET":
            kind, name = m.groups()
            if kind == "images":
                return (200, self.images[name]) if name in self.images else self._error(
                    404, "notFound", f"The resource 'projects/{self.project}/global/images/{name}' was not found")
            return self._poll(name)
        m = re.match(r"^zones/([a-z0-9-]+)/(instances|operations)(?:/([^/]+))?$", rest)
        if not m:
            return self._error(404, "notFound", "not found")
        zone, kind, name = m.groups()
        if kind == "operations" and name and method == "GET":
            return self._poll(name)
        if kind != "instances":
            return self._error(404, "notFound", "not found")
        target = f"{self.api_base}/projects/{self.project}/zones/{zone}/instances/"
        if name is None and method == "POST":
            return self._insert(zone, body, target)
        if name and method == "GET":
            instance = self.instances.get((zone, name))
            return (200, instance) if instance else self._error(
                404, "notFound", f"The resource 'projects/{self.project}/zones/{zone}/instances/{name}' was not found")
        if name and method == "DELETE":
            if (zone, name) not in self.instances:
                return self._error(404, "notFound",
                                   f"The resource 'projects/{self.project}/zones/{zone}/instances/{name}' was not found")
            del self.instances[(zone, name)]
            return 200, self._operation(zone, "delete", target + name)
        return self._error(405, "methodNotAllowed", "method not allowed")

    def _poll(self, name):
        op = self.operations.get(name)
        if not op:
            return self._error(404, "notFound", f"The resource 'operations/{name}' was not found")
        op["polls"] += 1
        op["status"] = "RUNNING" if op["polls"] == 1 else "DONE"
        return 200, self._public(op)

    def _upload(self, h, path, query, body):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self._error(401, "required", "Anonymous caller does not have storage.objects.create access")
        bucket = urllib.parse.unquote(path[len("/upload/storage/v1/b/"):].removesuffix("/o"))
        if query.get("uploadType") != "media" or not query.get("name") or "/" in bucket:
            return self._error(400, "invalid", "uploadType=media and name are required")
        self.objects[(bucket, query["name"])] = body
        return 200, {"kind": "storage#object", "bucket": bucket, "name": query["name"], "size": str(len(body)),
                     "contentType": h.headers.get("Content-Type", "")}

    def _insert_image(self, body):
        try:
            spec = json.loads(body)
        except ValueError:
            return self._error(400, "parseError", "bad JSON")
        name, family = spec.get("name", ""), spec.get("family", "")
        if not NAME.match(name) or (family and not NAME.match(family)):
            return self._error(400, "invalid", f"Invalid value for field 'resource.name': '{name}'.")
        source = (spec.get("rawDisk") or {}).get("source", "")
        m = re.match(r"^https://storage\.googleapis\.com/([^/]+)/(.+)$", source)
        if not m or (m.group(1), m.group(2)) not in self.objects:
            return self._error(400, "invalid", f"The resource '{source}' was not found")
        if name in self.images:
            return self._error(409, "alreadyExists", f"The resource 'projects/{self.project}/global/images/{name}' already exists")
        link = f"{self.api_base}/projects/{self.project}/global/images/{name}"
        self.images[name] = {"kind": "compute#image", "name": name, "family": family, "selfLink": link,
                             "description": spec.get("description", ""), "labels": spec.get("labels", {}),
                             "guestOsFeatures": spec.get("guestOsFeatures", []), "rawDisk": spec["rawDisk"],
                             "status": "READY"}
        return 200, self._operation(None, "insert", link)

    def _insert(self, zone, body, target):
        try:
            spec = json.loads(body)
        except ValueError:
            return self._error(400, "parseError", "This API does not support parsing form-encoded input.")
        name = spec.get("name", "")
        if not isinstance(name, str) or not NAME.match(name):
            return self._error(400, "invalid", f"Invalid value for field 'resource.name': '{name}'.")
        labels = spec.get("labels") or {}
        if not all(LABEL.match(k) and LABEL.match(v) for k, v in labels.items()):
            return self._error(400, "invalid", "Invalid value for field 'resource.labels'")
        if not spec.get("machineType") or not spec.get("disks") or not spec["disks"][0].get("initializeParams", {}).get("sourceImage"):
            return self._error(400, "required", "machineType and a boot disk with a sourceImage are required")
        if (spec.get("confidentialInstanceConfig") or {}).get("confidentialInstanceType") not in (None, "TDX", "SEV", "SEV_SNP"):
            return self._error(400, "invalid", "Invalid value for field 'resource.confidentialInstanceConfig'")
        if any(n == name for _, n in self.instances):
            return self._error(409, "alreadyExists",
                               f"The resource 'projects/{self.project}/zones/{zone}/instances/{name}' already exists")
        self.instances[(zone, name)] = self._instance(zone, name, labels, spec)
        return 200, self._operation(zone, "insert", target + name)

    def _aggregated(self, query):
        terms = []
        if query.get("filter"):
            for term in query["filter"].split(" AND "):
                m = TERM.match(term)
                if not m:
                    return self._error(400, "invalid", f"Invalid value for field 'filter': '{query['filter']}'. Invalid list filter expression.")
                terms.append(m.groups())

        def keep(instance):
            for field, value in terms:
                have = instance["name"] if field == "name" else instance["labels"].get(field[len("labels."):])
                if have != value:
                    return False
            return True

        matched = sorted((i for i in self.instances.values() if keep(i)), key=lambda i: (i["zone"], i["name"]))
        size = int(query.get("maxResults", "500"))
        start = int(query.get("pageToken", "0") or 0)
        page = matched[start:start + size]
        items = {}
        for instance in page:
            items.setdefault("zones/" + instance["zone"].rsplit("/", 1)[-1], {"instances": []})["instances"].append(instance)
        items.setdefault("zones/europe-west4-a", {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "no results"}})
        answer = {"kind": "compute#instanceAggregatedList", "items": items}
        if start + size < len(matched):
            answer["nextPageToken"] = str(start + size)
        return 200, answer
