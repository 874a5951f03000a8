"""What the project's workflows (.github/workflows/) do to the outside world, in one place, so
the scripts they call are thin and testable against stand-ins (tests/python/test_ci_scripts.py):

- a namespace ("pr-123", "prod"): every resource a workflow makes is named "ee-<namespace>-<name>"
  (VMs, Cloudflare tunnels, DNS labels) and VMs carry the label ee-namespace=<namespace>, so a
  teardown finds exactly its own and never another's;
- Compute Engine over its REST API (v1): an OAuth 2.0 bearer token from a service-account key (a
  JWT signed RS256 with the key, by `openssl`, exchanged at the key's token_uri), instances
  listed with a filter on the namespace label (aggregated over zones), inserted and deleted,
  each operation waited for;
- Cloudflare's v4 API: tunnels (cfd_tunnel) and DNS records, listed page by page.

Standard library and the `openssl` program only, so the scripts run on any runner. Endpoints can
be pointed elsewhere (GCE_API_BASE, CLOUDFLARE_API_BASE; the key's token_uri), which is how the
tests use them. Secrets (the key, tokens) are never printed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

NAMESPACE = re.compile(r"^[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?$")
GCE_SCOPE = "https://www.googleapis.com/auth/compute"


class CiError(Exception):
    """A failure the script reports as one line and exit status 1."""


def check_namespace(namespace: str | None) -> str:
    """The namespace, checked: 1-20 of [a-z0-9-], starting with a letter, not ending in '-'
    (it becomes part of GCE names and DNS labels). Never empty: nothing may act on everything."""
    if not namespace:
        raise CiError("a namespace is required (--namespace pr-123): refusing to act on every resource")
    if not NAMESPACE.match(namespace):
        raise CiError(f"namespace {namespace!r}: expected 1-20 of [a-z0-9-], starting with a letter")
    return namespace


def prefix(namespace: str) -> str:
    """What every resource name of the namespace starts with; the trailing '-' keeps pr-1 from
    matching pr-12's."""
    return f"ee-{check_namespace(namespace)}-"


def resource_name(namespace: str, name: str) -> str:
    if not re.match(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$", name):
        raise CiError(f"name {name!r}: expected [a-z0-9-], starting with a letter")
    full = prefix(namespace) + name
    if len(full) > 63:
        raise CiError(f"{full!r} is longer than 63 characters")
    return full


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise CiError(f"{name} is not set")
    return value


def request(method: str, url: str, body=None, token: str | None = None, form: dict | None = None,
            timeout: float = 60, ok_statuses=(200,)):
    """(status, JSON body) of one call; statuses outside ok_statuses raise CiError with the
    service's message (never the request's headers)."""
    data, headers = None, {"Accept": "application/json"}
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    for attempt in range(4):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            if attempt == 3:
                raise CiError(f"{method} {redact(url)}: {e}") from None
            time.sleep(2 ** attempt)
            continue
        if status in (429, 500, 502, 503, 504) and attempt < 3:
            time.sleep(2 ** attempt)
            continue
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = {"message": text[:200].decode(errors="replace")}
        if status not in ok_statuses:
            raise CiError(f"{method} {redact(url)}: {status} {message_of(parsed)}")
        return status, parsed
    raise CiError(f"{method} {redact(url)}: no answer")


def redact(url: str) -> str:
    return url.split("?", 1)[0]


def message_of(body) -> str:
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            return str(body["error"].get("message", ""))
        if isinstance(body.get("error"), str):  # OAuth 2.0's {"error", "error_description"}
            return f"{body['error']}: {body.get('error_description', '')}"
        if body.get("errors"):
            return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in body["errors"] if isinstance(e, dict))
        return str(body.get("message", ""))
    return ""


def log(message: str):
    print(message, file=sys.stderr, flush=True)


# --- Compute Engine ---------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def service_account_key(text: str) -> dict:
    """GCP_SERVICE_ACCOUNT_KEY: the key's JSON, or the path of a file holding it."""
    if not text.lstrip().startswith("{"):
        with open(text) as f:
            text = f.read()
    try:
        key = json.loads(text)
    except ValueError:
        raise CiError("GCP_SERVICE_ACCOUNT_KEY is not a service-account key's JSON") from None
    for field in ("client_email", "private_key", "token_uri"):
        if not isinstance(key.get(field), str) or not key[field]:
            raise CiError(f"GCP_SERVICE_ACCOUNT_KEY has no {field}")
    return key


def sign_rs256(private_key_pem: str, data: bytes) -> bytes:
    with tempfile.TemporaryDirectory(prefix="ee-ci-") as d:
        path = os.path.join(d, "key.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(private_key_pem)
        done = subprocess.run(["openssl", "dgst", "-sha256", "-sign", path], input=data, capture_output=True)
    if done.returncode != 0:
        raise CiError("openssl could not sign with the service-account key")
    return done.stdout


class Gce:
    def __init__(self, project: str, key_text: str, api_base: str | None = None, poll: float = 2.0):
        self.project = project
        self.key = service_account_key(key_text)
        self.api = (api_base or os.environ.get("GCE_API_BASE") or "https://compute.googleapis.com/compute/v1").rstrip("/")
        self.poll = poll
        self._token = None

    @classmethod
    def from_env(cls, project_var="GCP_PROJECT_ID", key_var="GCP_SERVICE_ACCOUNT_KEY") -> "Gce":
        return cls(env(project_var), env(key_var), poll=float(os.environ.get("GCE_POLL_SECONDS", "2")))

    def token(self) -> str:
        if self._token:
            return self._token
        now = int(time.time())
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        claims = b64url(json.dumps({"iss": self.key["client_email"], "scope": GCE_SCOPE, "aud": self.key["token_uri"],
                                    "iat": now, "exp": now + 3600}).encode())
        signing_input = f"{header}.{claims}".encode()
        assertion = f"{header}.{claims}.{b64url(sign_rs256(self.key['private_key'], signing_input))}"
        _, body = request("POST", self.key["token_uri"],
                          form={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})
        if not isinstance(body, dict) or not body.get("access_token"):
            raise CiError("the token endpoint answered no access_token")
        self._token = body["access_token"]
        return self._token

    def _url(self, path: str) -> str:
        return f"{self.api}/projects/{urllib.parse.quote(self.project)}/{path}"

    def instances(self, namespace: str) -> list:
        """Every instance labelled with the namespace, in any zone (aggregated list, all pages)."""
        check_namespace(namespace)
        found, page = [], None
        while True:
            query = {"filter": f'labels.ee-namespace = "{namespace}"', "maxResults": "500"}
            if page:
                query["pageToken"] = page
            _, body = request("GET", self._url("aggregated/instances") + "?" + urllib.parse.urlencode(query),
                              token=self.token())
            for scope in (body.get("items") or {}).values():
                for instance in scope.get("instances") or []:
                    # Trust the label, and the name too: a filter the API ignored must not widen this.
                    if (instance.get("labels") or {}).get("ee-namespace") == namespace and \
                            instance.get("name", "").startswith(prefix(namespace)):
                        found.append(instance)
            page = body.get("nextPageToken")
            if not page:
                return found

    def wait(self, operation: dict, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while operation.get("status") != "DONE":
            if time.monotonic() > deadline:
                raise CiError(f"operation {operation.get('name')} not done after {timeout:.0f} s")
            time.sleep(self.poll)
            if operation.get("zone"):
                where = f"zones/{operation['zone'].rsplit('/', 1)[-1]}/operations/{operation['name']}"
            else:
                where = f"global/operations/{operation['name']}"
            _, operation = request("GET", self._url(where), token=self.token())
        if operation.get("error"):
            errors = operation["error"].get("errors") or [{}]
            raise CiError(f"operation {operation.get('operationType')} {operation.get('targetLink', '')}: "
                          f"{errors[0].get('code', '')} {errors[0].get('message', '')}")
        return operation

    def create(self, namespace: str, name: str, zone: str, machine_type: str, image: str, metadata: dict,
               extra_labels: dict | None = None) -> dict:
        full = resource_name(namespace, name)
        body = {
            "name": full,
            "machineType": f"zones/{zone}/machineTypes/{machine_type}",
            "labels": {**(extra_labels or {}), "ee-namespace": namespace, "easyenclave": "managed"},
            "confidentialInstanceConfig": {"confidentialInstanceType": "TDX"},
            "scheduling": {"onHostMaintenance": "TERMINATE", "automaticRestart": False},
            "shieldedInstanceConfig": {"enableSecureBoot": False},
            "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": image}}],
            "networkInterfaces": [{"network": "global/networks/default", "nicType": "GVNIC",
                                   "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "name": "External NAT"}]}],
            "metadata": {"items": [{"key": k, "value": v} for k, v in metadata.items()]},
        }
        status, operation = request("POST", self._url(f"zones/{zone}/instances"), body, token=self.token(),
                                    ok_statuses=(200, 409))
        if status == 409:
            log(f"{full} exists in {zone}; keeping it")
        else:
            self.wait(operation)
            log(f"created {full} in {zone}")
        _, instance = request("GET", self._url(f"zones/{zone}/instances/{full}"), token=self.token())
        return instance

    def delete_namespace(self, namespace: str, name: str | None = None) -> list:
        """Deletes the namespace's instances (only `name` when given); absent ones are fine."""
        wanted = resource_name(namespace, name) if name else None
        deleted, operations = [], []
        for instance in self.instances(namespace):
            if wanted and instance["name"] != wanted:
                continue
            zone = instance["zone"].rsplit("/", 1)[-1]
            status, operation = request("DELETE", self._url(f"zones/{zone}/instances/{instance['name']}"),
                                        token=self.token(), ok_statuses=(200, 404))
            if status == 200:
                operations.append(operation)
            deleted.append(instance["name"])
        for operation in operations:
            self.wait(operation)
        for name_ in deleted:
            log(f"deleted instance {name_}")
        return deleted

    def upload(self, bucket: str, name: str, path: str, content_type: str = "application/octet-stream") -> dict:
        """One object into a Cloud Storage bucket (JSON API, media upload); its metadata."""
        api = os.environ.get("GCS_UPLOAD_BASE") or "https://storage.googleapis.com/upload/storage/v1"
        url = f"{api.rstrip('/')}/b/{urllib.parse.quote(bucket, safe='')}/o?" + urllib.parse.urlencode(
            {"uploadType": "media", "name": name})
        with open(path, "rb") as f:
            data = f.read()
        req = urllib.request.Request(url, data=data, method="POST", headers={
            "Authorization": f"Bearer {self.token()}", "Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=600) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise CiError(f"upload gs://{bucket}/{name}: {e.code} {message_of(json.loads(e.read() or b'null'))}") from None

    def create_image(self, name: str, family: str, source_uri: str, description: str, labels: dict) -> dict:
        """A TDX-capable UEFI image from a disk.tar.gz in Cloud Storage; an existing one is kept."""
        body = {"name": name, "family": family, "description": description, "labels": labels,
                "rawDisk": {"source": source_uri},
                "guestOsFeatures": [{"type": t} for t in ("UEFI_COMPATIBLE", "TDX_CAPABLE", "GVNIC")]}
        status, operation = request("POST", self._url("global/images"), body, token=self.token(), ok_statuses=(200, 409))
        if status == 409:
            log(f"image {name} exists; keeping it")
        else:
            self.wait(operation)
            log(f"created image {name} in family {family}")
        _, image = request("GET", self._url(f"global/images/{name}"), token=self.token())
        return image


def external_ip(instance: dict) -> str:
    for nic in instance.get("networkInterfaces") or []:
        for config in nic.get("accessConfigs") or []:
            if config.get("natIP"):
                return config["natIP"]
    return ""


# --- Cloudflare -------------------------------------------------------------------------------


class Cloudflare:
    def __init__(self, token: str, account: str, zone: str, api_base: str | None = None):
        self.token, self.account, self.zone = token, account, zone
        self.api = (api_base or os.environ.get("CLOUDFLARE_API_BASE") or "https://api.cloudflare.com/client/v4").rstrip("/")

    @classmethod
    def from_env(cls) -> "Cloudflare":
        return cls(env("CLOUDFLARE_API_TOKEN"), env("CLOUDFLARE_ACCOUNT_ID"), env("CLOUDFLARE_ZONE_ID"))

    def _pages(self, path: str, query: dict) -> list:
        out, page = [], 1
        while True:
            _, body = request("GET", f"{self.api}/{path}?" + urllib.parse.urlencode({**query, "page": page, "per_page": 50}),
                              token=self.token)
            out.extend(body.get("result") or [])
            info = body.get("result_info") or {}
            if page >= int(info.get("total_pages") or 1):
                return out
            page += 1

    def tunnels(self, namespace: str) -> list:
        p = prefix(namespace)
        return [t for t in self._pages(f"accounts/{self.account}/cfd_tunnel", {"is_deleted": "false"})
                if t.get("name", "").startswith(p)]

    def dns_records(self, namespace: str, tunnel_ids=()) -> list:
        """The zone's records whose first label has the namespace's prefix, and CNAMEs to the
        namespace's tunnels."""
        p, targets = prefix(namespace), {f"{t}.cfargotunnel.com" for t in tunnel_ids}
        return [r for r in self._pages(f"zones/{self.zone}/dns_records", {})
                if r.get("name", "").split(".", 1)[0].startswith(p) or r.get("content") in targets]

    def create_tunnel(self, namespace: str, name: str, service: str, domain: str) -> dict:
        """A remotely managed tunnel "ee-<ns>-<name>" sending <that>.<domain> to `service`, its
        proxied CNAME and its token (kept as it is when it exists)."""
        full = resource_name(namespace, name)
        hostname = f"{full}.{domain}"
        existing = [t for t in self.tunnels(namespace) if t["name"] == full]
        if existing:
            tunnel = existing[0]
        else:
            _, body = request("POST", f"{self.api}/accounts/{self.account}/cfd_tunnel",
                              {"name": full, "config_src": "cloudflare"}, token=self.token)
            tunnel = body["result"]
        request("PUT", f"{self.api}/accounts/{self.account}/cfd_tunnel/{tunnel['id']}/configurations",
                {"config": {"ingress": [{"hostname": hostname, "service": service}, {"service": "http_status:404"}]}},
                token=self.token)
        target = f"{tunnel['id']}.cfargotunnel.com"
        records = [r for r in self._pages(f"zones/{self.zone}/dns_records", {"name": hostname})]
        record = {"type": "CNAME", "name": hostname, "content": target, "proxied": True, "ttl": 1}
        if records:
            request("PUT", f"{self.api}/zones/{self.zone}/dns_records/{records[0]['id']}", record, token=self.token)
        else:
            request("POST", f"{self.api}/zones/{self.zone}/dns_records", record, token=self.token)
        _, body = request("GET", f"{self.api}/accounts/{self.account}/cfd_tunnel/{tunnel['id']}/token", token=self.token)
        return {"id": tunnel["id"], "name": full, "hostname": hostname, "token": body["result"]}

    def delete_namespace(self, namespace: str) -> tuple[list, list]:
        tunnels = self.tunnels(namespace)
        records = self.dns_records(namespace, [t["id"] for t in tunnels])
        for record in records:
            request("DELETE", f"{self.api}/zones/{self.zone}/dns_records/{record['id']}", token=self.token,
                    ok_statuses=(200, 404))
            log(f"deleted DNS record {record['name']}")
        for tunnel in tunnels:
            # A connected tunnel cannot be deleted; its connections go first (cloudflared may be
            # gone with its VM already, or not).
            request("DELETE", f"{self.api}/accounts/{self.account}/cfd_tunnel/{tunnel['id']}/connections",
                    token=self.token, ok_statuses=(200, 404))
            request("DELETE", f"{self.api}/accounts/{self.account}/cfd_tunnel/{tunnel['id']}", token=self.token,
                    ok_statuses=(200, 404))
            log(f"deleted tunnel {tunnel['name']}")
        return [t["name"] for t in tunnels], [r["name"] for r in records]


def main_guard(main):
    """Runs main(), turning CiError into one line and exit 1 (2 for usage, from argparse)."""
    try:
        sys.exit(main())
    except CiError as e:
        print(f"{os.path.basename(sys.argv[0])}: {e}", file=sys.stderr)
        sys.exit(1)
