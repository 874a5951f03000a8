"""The control plane's API as typed Python calls: :class:`ControlPlane`.

The requests, their checks and the errors are libeasyenclave's (``client::ControlPlaneClient``,
the same client ``ee`` uses); this module turns the API's JSON objects (docs/api.md, "Objects")
into dataclasses. Every call blocks, with the GIL released while it waits on the network.

Errors are :class:`easyenclave.Error` subclasses by condition (``NotFound``, ``Forbidden``,
``Unauthenticated``, ``InvalidInput``, ``Conflict``, ``Unavailable``, ``UpstreamFailure``); for an
error the control plane answered, ``.code`` is the CP's own code (``"registry.not_found"``,
``"cp.owner_mismatch"``) and the message carries the CP's message and request id::

    cp = easyenclave.ControlPlane("https://cp.example.com")      # token: as `ee` finds one
    for agent in cp.agents(status="idle"):
        print(agent.agent_id, agent.node_size, agent.last_heartbeat_at)
    result = cp.deploy("hello", "1.0.0")                        # a GitHub Actions token
    deployment = cp.wait(result.deployment_id)                   # running, failed or stopped
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any, Dict, List, Optional, Sequence, Type, TypeVar

from . import _core

__all__ = [
    "Agent",
    "AgentAttestation",
    "AgentLogs",
    "App",
    "AppVersion",
    "ControlPlane",
    "DeployResult",
    "DeployStep",
    "Deployment",
    "DeploymentChange",
    "LogLine",
    "Setting",
    "TrustedMeasurement",
]

_T = TypeVar("_T")


def _time(value: Any) -> Optional[datetime.datetime]:
    """RFC 3339 UTC text (``...Z``) as an aware datetime; None for null."""
    if value is None:
        return None
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(text)


def _build(cls: Type[_T], data: Dict[str, Any]) -> _T:
    """A dataclass from an API object: known fields only (a newer CP may add some), times parsed,
    nulls as the field's empty value."""
    values: Dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name.endswith("_at") or f.name == "tcb_date":
            value = _time(value)
        elif value is None and f.type in ("str", str):
            value = ""
        values[f.name] = value
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class Agent:
    """An agent as the control plane lists it (docs/api.md, "Agent object")."""

    agent_id: str = ""
    vm_name: str = ""
    owner: str = ""
    owner_id: str = ""
    node_size: str = ""
    datacenter: str = ""
    status: str = ""
    """``idle``, ``deployed``, ``down`` or ``unverified``."""
    verified: bool = False
    unverified_reason: str = ""
    health: str = ""
    hostname: str = ""
    agent_url: str = ""
    public_key: str = ""
    mrtd: str = ""
    tcb_status: str = ""
    deployment_id: str = ""
    """The deployment it holds; ``""`` when none."""
    reported_status: str = ""
    reported_digest: str = ""
    registered_at: Optional[datetime.datetime] = None
    last_registered_at: Optional[datetime.datetime] = None
    last_heartbeat_at: Optional[datetime.datetime] = None
    seconds_since_heartbeat: int = 0


@dataclasses.dataclass(frozen=True)
class AgentAttestation:
    """An agent's last accepted evidence (``GET /api/v1/agents/{id}/attestation``)."""

    agent_id: str = ""
    vm_name: str = ""
    mrtd: str = ""
    rtmrs: List[Optional[str]] = dataclasses.field(default_factory=list)
    tcb_status: str = ""
    tcb_date: Optional[datetime.datetime] = None
    advisory_ids: List[str] = dataclasses.field(default_factory=list)
    appraised_by: str = ""
    appraised_at: Optional[datetime.datetime] = None
    report_data: str = ""
    verified: bool = False
    unverified_reason: str = ""
    public_key: str = ""


@dataclasses.dataclass(frozen=True)
class LogLine:
    seq: int = 0
    at: str = ""
    source: str = ""
    text: str = ""


@dataclasses.dataclass(frozen=True)
class AgentLogs:
    """An agent's log as the control plane relays it."""

    lines: List[LogLine] = dataclasses.field(default_factory=list)
    dropped: int = 0
    """Lines the agent's buffer lost before the first one."""


@dataclasses.dataclass(frozen=True)
class AppVersion:
    """A published version (docs/api.md, "Version object")."""

    app_name: str = ""
    version: str = ""
    image: str = ""
    """Pinned by digest: ``NAME@sha256:<64 hex>``."""
    mrtd: str = ""
    rtmrs: List[Optional[str]] = dataclasses.field(default_factory=list)
    """RTMR0..3 the version pins; None where not pinned."""
    node_size: str = ""
    published_by: str = ""
    published_at: Optional[datetime.datetime] = None


@dataclasses.dataclass(frozen=True)
class App:
    """An app of the catalog (docs/api.md, "App object")."""

    name: str = ""
    description: str = ""
    owner_id: str = ""
    source_repo: str = ""
    owner: str = ""
    created_at: Optional[datetime.datetime] = None
    versions: Optional[List[AppVersion]] = None
    """Oldest first; None when the route leaves them out (the app list)."""


@dataclasses.dataclass(frozen=True)
class DeploymentChange:
    """One entry of a deployment's history: a status it took (or a new detail) and when."""

    status: str = ""
    detail: str = ""
    at: Optional[datetime.datetime] = None


@dataclasses.dataclass(frozen=True)
class Deployment:
    """A deployment (docs/api.md, "Deployment object")."""

    deployment_id: str = ""
    app_name: str = ""
    version: str = ""
    agent_id: str = ""
    image: str = ""
    status: str = ""
    """``queued``, ``pending``, ``deploying``, ``running``, ``failed`` or ``stopped``."""
    detail: str = ""
    requested_by: str = ""
    created_at: Optional[datetime.datetime] = None
    updated_at: Optional[datetime.datetime] = None
    replaces: str = ""
    rollout_id: str = ""
    rollout_step: int = 0
    history: Optional[List[DeploymentChange]] = None
    """Oldest first; only from ``deployment(id)`` (None in lists and deploy answers)."""


@dataclasses.dataclass(frozen=True)
class DeployStep:
    deployment_id: str = ""
    agent_id: str = ""
    status: str = ""
    replaces: str = ""


@dataclasses.dataclass(frozen=True)
class DeployResult:
    """What ``POST /api/v1/deploy`` answers: the first step's deployment, and every step."""

    deployment_id: str = ""
    """Empty in a dry run."""
    agent_id: str = ""
    status: str = ""
    rollout_id: str = ""
    steps: List[DeployStep] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class TrustedMeasurement:
    """An MRTD the control plane admits (docs/api.md, "Trusted measurement object")."""

    mrtd: str = ""
    type: str = ""
    node_size: str = ""
    note: str = ""
    added_at: Optional[datetime.datetime] = None


@dataclasses.dataclass(frozen=True)
class Setting:
    """A control-plane setting as the operator sees it. A secret's value is "set" or "unset"."""

    name: str = ""
    group: str = ""
    type: str = ""
    value: str = ""
    source: str = ""
    """Where the value came from: ``default``, ``environment``, ``flag`` or ``database``."""
    default: Optional[str] = None
    secret: bool = False
    reloadable: bool = False
    storable: bool = False
    pending_restart: bool = False
    flag: str = ""
    env: str = ""
    choices: str = ""
    help: str = ""
    updated_by: str = ""
    updated_at: Optional[datetime.datetime] = None


def _app(data: Dict[str, Any]) -> App:
    versions = data.get("versions")
    app = _build(App, {k: v for k, v in data.items() if k != "versions"})
    if versions is None:
        return app
    return dataclasses.replace(app, versions=[_build(AppVersion, v) for v in versions])


def _deployment(data: Dict[str, Any]) -> Deployment:
    history = data.get("history")
    deployment = _build(Deployment, {k: v for k, v in data.items() if k != "history"})
    if history is None:
        return deployment
    changes = [
        DeploymentChange(status=c.get("status", ""), detail=c.get("detail", ""), at=_time(c.get("at")))
        for c in history
    ]
    return dataclasses.replace(deployment, history=changes)


def _deploy_result(data: Dict[str, Any]) -> DeployResult:
    steps = [_build(DeployStep, s) for s in data.get("steps", [])]
    return dataclasses.replace(_build(DeployResult, {k: v for k, v in data.items() if k != "steps"}), steps=steps)


class ControlPlane:
    """A control plane's API: agents, the catalog, deploys, deployments, trusted measurements
    and (for its operator) settings. Usable as a context manager. Safe to share between threads.

    url: the control plane ("https://cp.example.com"); None reads ``EE_CP_URL``.
    token: the bearer credential: the operator's admin token, a GitHub Actions OIDC token
        for publish and deploy, or an account's API key (``ee_live_...``; a linked
        ``deployer`` account's key deploys like its owner's workflows); ``""`` for none. None finds one as ``ee`` does: ``EE_TOKEN``, else (in a GitHub
        Actions job with ``id-token: write``) a token minted for ``audience``, else the token
        ``ee login`` stored; else no credential (public routes only).
    timeout: seconds per request.

    Raises InvalidInput when no URL is given or set, Unauthenticated when the Actions token
    endpoint fails or the stored token's file is readable by others.
    """

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, *, timeout: float = 10.0,
                 audience: str = "easyenclave") -> None:
        self._client = _core.ControlPlaneClient(url, token, float(timeout), audience)

    @property
    def url(self) -> str:
        """The control plane's URL."""
        return self._client.url

    @property
    def credential_source(self) -> str:
        """Where the credential came from: ``--token`` (given), ``EE_TOKEN``,
        ``github-actions``, ``stored`` or ``none``. Never the credential itself."""
        return self._client.credential_source

    def __enter__(self) -> "ControlPlane":
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<ControlPlane {self.url}>"

    def health(self) -> Dict[str, Any]:
        """``GET /health``: status, version, uptime and mode."""
        return json.loads(self._client.health())

    # --- agents ----------------------------------------------------------------------------------

    def agents(self, *, status: Optional[str] = None, vm_name: Optional[str] = None,
               owner: Optional[str] = None) -> List[Agent]:
        """Every registered agent, optionally filtered (public)."""
        text = self._client.agents(status or "", vm_name or "", owner or "")
        return [_build(Agent, a) for a in json.loads(text)]

    def agent(self, agent_id: str) -> Agent:
        """One agent; NotFound (``registry.not_found``) when there is none."""
        return _build(Agent, json.loads(self._client.agent(agent_id)))

    def attestation(self, agent_id: str) -> AgentAttestation:
        """The agent's last accepted evidence (public)."""
        return _build(AgentAttestation, json.loads(self._client.agent_attestation(agent_id)))

    def agent_logs(self, agent_id: str, lines: int = 0) -> AgentLogs:
        """The agent's log (its owner's GitHub token or the admin token); ``lines`` 0: the
        agent's default."""
        data = json.loads(self._client.agent_logs(agent_id, int(lines)))
        return AgentLogs(lines=[_build(LogLine, line) for line in data["lines"]], dropped=data["dropped"])

    def undeploy(self, agent_id: str) -> Deployment:
        """Stops the deployment on the agent (owner's GitHub token or admin); the stopped one."""
        return _build(Deployment, json.loads(self._client.undeploy(agent_id)))

    def remove_agent(self, agent_id: str) -> None:
        """Removes the agent and its tunnel (admin)."""
        self._client.remove_agent(agent_id)

    # --- catalog ---------------------------------------------------------------------------------

    def apps(self) -> List[App]:
        """Every app of the catalog, without versions (public)."""
        return [_app(a) for a in json.loads(self._client.apps())]

    def app(self, name: str) -> App:
        """One app with its versions, oldest first (public)."""
        return _app(json.loads(self._client.app(name)))

    def versions(self, app: str) -> List[AppVersion]:
        """An app's published versions, oldest first."""
        return list(self.app(app).versions or [])

    def publish(self, name: str, version: str, image: str, mrtd: str, *, source_repo: Optional[str] = None,
                description: str = "", rtmrs: Optional[Sequence[Optional[str]]] = None,
                node_size: str = "") -> AppVersion:
        """Publishes a version with a GitHub Actions token of the app's repository. With
        ``source_repo`` ("org/repo", the token's repository) the app is new (``POST /apps``);
        without, the version is added to an existing app. ``image`` must be pinned by digest,
        ``mrtd`` 96 hex; ``rtmrs`` up to four (None skips one)."""
        pinned = list(rtmrs or [])
        if len(pinned) > 4:
            raise ValueError("rtmrs: at most four (RTMR0..3)")
        body: Dict[str, Any] = {"version": version, "image": image, "mrtd": mrtd}
        if any(pinned):
            body["rtmrs"] = pinned + [None] * (4 - len(pinned))
        if node_size:
            body["node_size"] = node_size
        if source_repo is None:
            return _build(AppVersion, json.loads(self._client.add_version(name, json.dumps(body))))
        body.update({"name": name, "description": description, "source_repo": source_repo})
        app = _app(json.loads(self._client.publish(json.dumps(body))))
        return (app.versions or [AppVersion(app_name=name, version=version)])[-1]

    # --- deploys ---------------------------------------------------------------------------------

    def deploy(self, app: str, version: Optional[str] = None, *, agent_id: Optional[str] = None,
               agent_ids: Optional[Sequence[str]] = None, node_size: Optional[str] = None,
               datacenter: Optional[str] = None, dry_run: bool = False) -> DeployResult:
        """Deploys a catalog version (GitHub Actions token of the agents' owner). ``version``
        None: the newest published. ``agent_id`` / ``agent_ids``: those agents; neither: the
        owner's agents running another version, else one idle eligible agent. ``dry_run`` says
        which agents would get it and deploys nothing."""
        if version is None:
            versions = self.versions(app)
            if not versions:
                error = _core.NotFound(f"app {app} has no published version; publish one first")
                error.code = error.client_code = "client.no_published_version"
                raise error
            version = versions[-1].version
        body: Dict[str, Any] = {"app_name": app, "version": version, "dry_run": bool(dry_run)}
        if agent_id:
            body["agent_id"] = agent_id
        if agent_ids:
            body["agent_ids"] = list(agent_ids)
        if node_size:
            body["node_size"] = node_size
        if datacenter:
            body["datacenter"] = datacenter
        return _deploy_result(json.loads(self._client.deploy(json.dumps(body))))

    def deployments(self, *, agent_id: Optional[str] = None, app: Optional[str] = None,
                    status: Optional[str] = None, limit: Optional[int] = None) -> List[Deployment]:
        """Deployments, newest first, optionally filtered (public)."""
        text = self._client.deployments(agent_id or "", app or "", status or "", limit)
        return [_build(Deployment, d) for d in json.loads(text)]

    def deployment(self, deployment_id: str) -> Deployment:
        """One deployment (public)."""
        return _deployment(json.loads(self._client.deployment(deployment_id)))

    def wait(self, deployment_id: str, *, timeout: float = 300.0, poll: float = 1.0) -> Deployment:
        """Polls the deployment until it is ``running``, ``failed`` or ``stopped`` and returns it
        (whatever that status); Unavailable when ``timeout`` seconds pass first."""
        return _build(Deployment, json.loads(self._client.wait(deployment_id, float(timeout), float(poll))))

    def verify(self, target: str, **options: Any) -> "_core.Connection":
        """What ``ee verify`` checks: ``target`` is an agent id (the app its deployment runs, on
        that agent), an app name or ``org/repo``, or the URL an agent serves at. Returns the
        verified :class:`easyenclave.Connection` (a context manager); ``options`` are
        :func:`easyenclave.connect`'s (``root``, ``collateral``, ``policy``, ``version``, ...).
        Raises as connect does, or NotFound when no agent serves at the URL or the agent runs
        nothing."""
        resolved = json.loads(self._client.resolve_verify_target(target))
        if resolved["agent_id"]:
            options.setdefault("agent_id", resolved["agent_id"])
        if resolved["version"]:
            options.setdefault("version", resolved["version"])
        return _core.connect(resolved["app"], self.url, **options)

    # --- trusted measurements --------------------------------------------------------------------

    def measurements(self) -> List[TrustedMeasurement]:
        """The MRTDs the control plane admits (public)."""
        return [_build(TrustedMeasurement, m) for m in json.loads(self._client.measurements())]

    def add_measurement(self, mrtd: str, *, type: str = "agent", node_size: str = "",
                        note: str = "") -> TrustedMeasurement:
        """Trusts an MRTD (admin)."""
        return _build(TrustedMeasurement, json.loads(self._client.add_measurement(mrtd, type, node_size, note)))

    def remove_measurement(self, mrtd: str) -> None:
        """Stops trusting an MRTD (admin)."""
        self._client.remove_measurement(mrtd)

    # --- settings (admin) ------------------------------------------------------------------------

    def settings(self, group: Optional[str] = None) -> List[Setting]:
        """Every setting with its value and where it came from."""
        return [_build(Setting, s) for s in json.loads(self._client.settings(group or ""))]

    def setting(self, name: str) -> Setting:
        return _build(Setting, json.loads(self._client.setting(name)))

    def set_setting(self, name: str, value: str) -> Setting:
        """Stores a value; it wins over flag, environment and default."""
        return _build(Setting, json.loads(self._client.set_setting(name, str(value))))

    def unset_setting(self, name: str) -> Setting:
        """Removes the stored value: flag, environment or default again."""
        return _build(Setting, json.loads(self._client.unset_setting(name)))
