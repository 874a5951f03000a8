"""easyenclave: verify that a service runs measured code in an Intel TDX VM before talking to it.

The heavy lifting (quote parsing, DCAP verification, policy checks) happens in the native
``easyenclave._core`` module built from libeasyenclave; this package re-exports it.

Quick start::

    import easyenclave

    quote = easyenclave.parse_quote(quote_bytes)
    print(quote.mr_td.hex(), [r.hex() for r in quote.rtmr])

    collateral = easyenclave.Collateral.from_file("collateral.json")
    try:
        verdict = easyenclave.verify_quote(quote_bytes, collateral,
                                           policy={"allowed_mrtds": [expected_mrtd]})
    except easyenclave.VerificationError as e:
        print(e.code, e.verdict.failed_step)
    else:
        print(verdict.tcb_status, verdict.advisory_ids)

Or connect to a service by its repository and let the library check everything first::

    conn = easyenclave.connect("org/app", "https://cp.example.com")
    print(conn.report())              # every check: nonce, key binding, MRTD, image digest, TCB
    print(conn.get("/hello").json())  # sent only to the verified endpoint

The same ``with`` block form works too (``with easyenclave.connect(...) as conn:``).

The control plane's API is :class:`ControlPlane` (the client ``ee`` uses), answering dataclasses::

    cp = easyenclave.ControlPlane("https://cp.example.com")   # token: EE_TOKEN, Actions, ee login
    for agent in cp.agents(status="idle"):
        print(agent.agent_id, agent.node_size)
    result = cp.deploy("hello", "1.0.0")
    print(cp.wait(result.deployment_id).status)

Tokens verify against a pinned key set::

    appraisal = easyenclave.verify_ita_token(token, ita_jwks)   # Intel Trust Authority
    claims = easyenclave.verify_github_oidc(oidc, github_jwks, audience="easyenclave")

Errors derive from :class:`Error` and keep the library's stable code string as ``.code``.
The library's log events go to the ``logging`` logger ``"easyenclave"`` (one child logger per
component, e.g. ``"easyenclave.http"``).
"""

from ._core import (
    Appraisal,
    Collateral,
    Conflict,
    Connection,
    EnclaveReport,
    Error,
    Forbidden,
    InvalidInput,
    NotFound,
    Policy,
    Quote,
    Response,
    Simulator,
    Step,
    Unauthenticated,
    Unavailable,
    UpstreamFailure,
    VerificationError,
    Verdict,
    __version__,
    connect,
    parse_quote,
    verify_github_oidc,
    verify_ita_token,
    verify_quote,
)
from .control_plane import (
    Agent,
    AgentAttestation,
    AgentLogs,
    App,
    AppVersion,
    ControlPlane,
    DeployResult,
    DeployStep,
    Deployment,
    DeploymentChange,
    LogLine,
    Setting,
    TrustedMeasurement,
)

__all__ = [
    "Agent",
    "AgentAttestation",
    "AgentLogs",
    "App",
    "AppVersion",
    "Appraisal",
    "Collateral",
    "Conflict",
    "Connection",
    "ControlPlane",
    "DeployResult",
    "DeployStep",
    "Deployment",
    "DeploymentChange",
    "EnclaveReport",
    "Error",
    "Forbidden",
    "InvalidInput",
    "LogLine",
    "NotFound",
    "Policy",
    "Quote",
    "Response",
    "Setting",
    "Simulator",
    "Step",
    "TrustedMeasurement",
    "Unauthenticated",
    "Unavailable",
    "UpstreamFailure",
    "VerificationError",
    "Verdict",
    "__version__",
    "connect",
    "parse_quote",
    "verify_github_oidc",
    "verify_ita_token",
    "verify_quote",
]

# Show the public names as easyenclave.X (in reprs, tracebacks and help()), not easyenclave._core.X.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        try:
            _obj.__module__ = __name__
        except (AttributeError, TypeError):  # pragma: no cover - builtin types refuse
            pass
del _name, _obj
