"""Type annotations of the native module easyenclave._core (written by hand)."""

import datetime
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

__version__: str

_Bytes = Union[bytes, bytearray, memoryview]
_BytesOrHex = Union[bytes, bytearray, memoryview, str]
_Time = Union[datetime.datetime, int, float]
_Path = Union[str, "os.PathLike[str]"]

class Error(RuntimeError):
    """Base class of every easyenclave error."""

    code: str
    """Stable code string of the library error, e.g. ``"core.bad_hex"``; for an error the
    control plane answered, the CP's own code, e.g. ``"registry.not_found"``."""
    client_code: str
    """The library's code, e.g. ``"client.cp_not_found"`` (equal to ``code`` for local errors)."""

class InvalidInput(Error):
    """The input was malformed or out of range."""

class Unauthenticated(Error):
    """A signature, token or certificate chain did not verify."""

class Forbidden(Error):
    """Authenticated, but policy or ownership refuses it."""

class NotFound(Error):
    """The named thing does not exist."""

class Conflict(Error):
    """The request contradicts the current state."""

class UpstreamFailure(Error):
    """A dependency failed or answered badly."""

class Unavailable(Error):
    """A resource is temporarily unavailable."""

class VerificationError(Error):
    """The quote did not verify, or the policy refused it."""

    verdict: "Verdict"
    """The full verdict: every step that ran, with pass/fail and detail."""
    check: Optional[str]
    """For connect(): the name of the failed check (also set on NotFound, UpstreamFailure, ...)."""
    checks: List[Dict[str, Any]]
    """For connect(): every check that ran, the failed one last."""
    report: str
    """For connect(): the readable account of those checks."""

def _stop_log_forwarding() -> None:
    """Uninstall the log sink (done automatically at interpreter exit)."""

class EnclaveReport:
    """The Quoting Enclave's SGX report inside a quote, signed by the PCK key."""

    @property
    def cpu_svn(self) -> bytes: ...
    @property
    def misc_select(self) -> int: ...
    @property
    def attributes(self) -> bytes: ...
    @property
    def mr_enclave(self) -> bytes: ...
    @property
    def mr_signer(self) -> bytes: ...
    @property
    def isv_prod_id(self) -> int: ...
    @property
    def isv_svn(self) -> int: ...
    @property
    def report_data(self) -> bytes: ...

class Quote:
    """A parsed TDX quote (v4 or v5). Immutable; byte fields are bytes (use ``.hex()``)."""

    @property
    def version(self) -> int:
        """Quote format version: 4 or 5."""
    @property
    def body_type(self) -> int:
        """2 (TD report 1.0) or 3 (TD report 1.5)."""
    @property
    def attestation_key_type(self) -> int: ...
    @property
    def tee_type(self) -> int: ...
    @property
    def qe_vendor_id(self) -> bytes: ...
    @property
    def user_data(self) -> bytes: ...
    @property
    def tee_tcb_svn(self) -> bytes: ...
    @property
    def mr_seam(self) -> bytes: ...
    @property
    def mr_signer_seam(self) -> bytes: ...
    @property
    def seam_attributes(self) -> bytes: ...
    @property
    def td_attributes(self) -> bytes: ...
    @property
    def xfam(self) -> bytes: ...
    @property
    def mr_td(self) -> bytes:
        """MRTD: the measurement of the TD's initial memory (48 bytes)."""
    @property
    def mr_config_id(self) -> bytes: ...
    @property
    def mr_owner(self) -> bytes: ...
    @property
    def mr_owner_config(self) -> bytes: ...
    @property
    def rtmr(self) -> List[bytes]:
        """RTMR0..3, 48 bytes each."""
    @property
    def report_data(self) -> bytes:
        """The 64 bytes of REPORTDATA the TD chose."""
    @property
    def tee_tcb_svn2(self) -> bytes:
        """TD 1.5 only; zero for TD 1.0."""
    @property
    def mr_servicetd(self) -> bytes:
        """TD 1.5 only; zero for TD 1.0."""
    @property
    def is_td15(self) -> bool: ...
    @property
    def debug(self) -> bool:
        """TDATTRIBUTES bit 0: the TD's memory is readable by the host."""
    @property
    def sept_ve_disable(self) -> bool: ...
    @property
    def signed_bytes(self) -> bytes: ...
    @property
    def signature(self) -> bytes: ...
    @property
    def attestation_key(self) -> bytes: ...
    @property
    def qe_report(self) -> EnclaveReport: ...
    @property
    def qe_report_bytes(self) -> bytes: ...
    @property
    def qe_report_signature(self) -> bytes: ...
    @property
    def qe_auth_data(self) -> bytes: ...
    @property
    def pck_chain_pem(self) -> bytes: ...
    @property
    def trailing_bytes(self) -> bytes: ...
    @property
    def raw(self) -> bytes: ...
    def __bytes__(self) -> bytes: ...
    def to_dict(self) -> Dict[str, Any]:
        """Every parsed field as a dict (hex strings)."""

def parse_quote(data: _Bytes) -> Quote:
    """Parse a TDX quote (v4 or v5) without verifying it. Raises InvalidInput."""

class Collateral:
    """Intel DCAP collateral for one platform (FMSPC). Immutable."""

    @staticmethod
    def from_file(path: _Path) -> "Collateral":
        """Load a collateral bundle file (dcap-qvl QuoteCollateralV3 JSON)."""
    @staticmethod
    def from_json(text: Union[str, _Bytes]) -> "Collateral":
        """Parse collateral bundle JSON."""
    @staticmethod
    def from_pcs(fmspc: _BytesOrHex, pccs_url: Optional[str] = None, *,
                 ca: str = "platform") -> "Collateral":
        """Fetch from Intel PCS (or a PCCS at ``pccs_url``), cached per process."""
    @staticmethod
    def from_pcs_responses(
        *,
        tcb_info: Union[str, _Bytes],
        tcb_info_issuer_chain: Union[str, _Bytes],
        qe_identity: Union[str, _Bytes],
        qe_identity_issuer_chain: Union[str, _Bytes, None] = None,
        pck_crl: _Bytes,
        pck_crl_issuer_chain: Union[str, _Bytes],
        root_ca_crl: _Bytes,
    ) -> "Collateral":
        """Assemble collateral from Intel PCS v4 response bodies, issuer chains and CRLs."""
    @staticmethod
    def for_quote(quote: Union[Quote, _Bytes], pccs_url: Optional[str] = None) -> "Collateral":
        """from_pcs for the platform named by the quote's PCK certificate."""
    @property
    def fmspc(self) -> str:
        """Lower-case hex."""
    @property
    def tcb_evaluation_data_number(self) -> int: ...
    @property
    def issue_date(self) -> datetime.datetime: ...
    @property
    def next_update(self) -> datetime.datetime: ...
    def to_json(self) -> str: ...

class Policy:
    """What verify_quote accepts beyond a valid quote."""

    def __init__(
        self,
        *,
        allowed_tcb_statuses: Optional[Sequence[str]] = None,
        tcb_mode: str = "strict",
        allow_offline: bool = False,
        allow_debug: bool = False,
        allowed_mrtds: Optional[Sequence[_BytesOrHex]] = None,
        expected_rtmrs: Union[Sequence[Optional[_BytesOrHex]], Mapping[int, Optional[_BytesOrHex]], None] = None,
        max_collateral_age: Union[datetime.timedelta, int, float, None] = None,
    ) -> None: ...
    allowed_tcb_statuses: List[str]
    """TCB statuses accepted, Intel's spelling (default ["UpToDate"])."""
    tcb_mode: str
    """"strict", "warn" or "disabled"."""
    allow_offline: bool
    """Accept verdicts made without collateral (TCB status unknown)."""
    allow_debug: bool
    """Accept debug TDs."""
    allowed_mrtds: List[bytes]
    """Accepted MRTDs; empty means any."""
    expected_rtmrs: List[Optional[bytes]]
    """RTMR0..3 expected values; None entries are not checked."""
    max_collateral_age: Optional[datetime.timedelta]
    """Refuse collateral issued longer ago than this."""

class Step:
    """One verification or policy step."""

    @property
    def name(self) -> str: ...
    @property
    def passed(self) -> bool: ...
    @property
    def detail(self) -> str: ...

class Verdict:
    """The outcome of verify_quote."""

    @property
    def status(self) -> str:
        """"accepted" or "rejected"."""
    @property
    def accepted(self) -> bool: ...
    @property
    def offline(self) -> bool: ...
    @property
    def tcb_status(self) -> str:
        """Intel's spelling ("UpToDate", "OutOfDate", ...); "Unknown" offline."""
    @property
    def advisory_ids(self) -> List[str]: ...
    @property
    def tcb_date(self) -> Optional[datetime.datetime]: ...
    @property
    def fmspc(self) -> str: ...
    @property
    def checked_at(self) -> datetime.datetime: ...
    @property
    def collateral_issued_at(self) -> Optional[datetime.datetime]: ...
    @property
    def collateral_expires_at(self) -> Optional[datetime.datetime]: ...
    @property
    def mr_td(self) -> bytes: ...
    @property
    def rtmr(self) -> List[bytes]: ...
    @property
    def report_data(self) -> bytes: ...
    @property
    def steps(self) -> List[Step]: ...
    @property
    def failed_step(self) -> Optional[Step]: ...
    @property
    def error_code(self) -> Optional[str]: ...
    @property
    def error_message(self) -> Optional[str]: ...
    def to_dict(self) -> Dict[str, Any]: ...

def verify_quote(
    data: Union[Quote, _Bytes],
    collateral: Optional[Collateral] = None,
    root: Union[_Bytes, str, "os.PathLike[str]", None] = None,
    at: Optional[_Time] = None,
    policy: Union[Policy, Mapping[str, Any], None] = None,
) -> Verdict:
    """Verify a TDX quote with Intel DCAP and judge it by a policy.

    Raises VerificationError (with ``.verdict``) when rejected. Without collateral the default
    policy refuses the offline verdict; pass ``policy={"allow_offline": True}``.
    """

class Simulator:
    """A simulated TDX platform for development and tests (never trusted by default)."""

    @staticmethod
    def create(dir: Optional[_Path] = None, mr_td: Optional[_BytesOrHex] = None,
               rtmr: Optional[Sequence[_BytesOrHex]] = None) -> "Simulator": ...
    def quote(self, report_data: _Bytes) -> bytes:
        """A v4 quote with ``report_data`` (at most 64 bytes, zero-padded)."""
    @property
    def collateral_json(self) -> str: ...
    @property
    def collateral(self) -> Collateral: ...
    @property
    def root_pem(self) -> str: ...
    @property
    def mr_td(self) -> bytes: ...

class Response:
    """A response of the verified service."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Dict[str, str]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    def json(self) -> Any:
        """The body parsed as JSON."""

class Connection:
    """A verified endpoint made by :func:`connect`; requests go only there."""

    @property
    def endpoint(self) -> str: ...
    @property
    def app(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def image(self) -> str: ...
    @property
    def agent_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def appraisal(self) -> "Appraisal":
        """appraised_by, mr_td, rtmr, report_data, tcb_status, tcb_date, advisory_ids, debug,
        mr_seam, td_attributes, appraised_at."""
    @property
    def agent_public_key(self) -> str: ...
    @property
    def checks(self) -> List[Dict[str, Any]]: ...
    @property
    def verified_at(self) -> datetime.datetime: ...
    def report(self) -> str:
        """A readable account of every check."""
    def reverify(self) -> None:
        """Fetch fresh evidence and verify it again now."""
    def request(self, method: str, path: str, body: Union[str, _Bytes, None] = None,
                headers: Optional[Mapping[str, str]] = None) -> Response: ...
    def get(self, path: str, *, headers: Optional[Mapping[str, str]] = None) -> Response: ...
    def post(self, path: str, body: Union[str, _Bytes, None] = None, *, json: Any = None,
             headers: Optional[Mapping[str, str]] = None) -> Response: ...
    def __enter__(self) -> "Connection":
        """``with easyenclave.connect(...) as conn:``."""
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        """Leaves the block; exceptions propagate."""

def connect(
    target: str,
    cp_url: Optional[str] = None,
    *,
    policy: Union[Policy, Mapping[str, Any], None] = None,
    timeout: Union[int, float, datetime.timedelta] = 10,
    root: Union[_Bytes, str, "os.PathLike[str]", None] = None,
    collateral: Union[Collateral, str, "os.PathLike[str]", None] = None,
    pccs_url: Optional[str] = None,
    max_evidence_age: Union[int, float, datetime.timedelta] = 300,
    source: str = "catalog",
    github_api: Optional[str] = None,
    version: Optional[str] = None,
    agent_id: Optional[str] = None,
    allow_keyless_agents: bool = False,
) -> Connection:
    """Verify a service ("org/repo" or an app name), then return a Connection to it.

    Evidence without a public key fails the ``key_binding`` check unless
    ``allow_keyless_agents`` is set (legacy agents); even then, an agent the control plane
    lists with a key must present that key (``agent_key``).

    A failed check raises VerificationError (evidence refused) or NotFound / UpstreamFailure /
    InvalidInput, each with ``.check``, ``.checks`` and ``.report``.
    """

class Appraisal:
    """What is known about an attested TD once its evidence verified (verify_ita_token, connect)."""

    @property
    def appraised_by(self) -> str:
        """"intel_trust_authority" or "local_dcap"."""
    @property
    def attester_type(self) -> str: ...
    @property
    def mr_td(self) -> bytes: ...
    @property
    def rtmr(self) -> List[bytes]: ...
    @property
    def report_data(self) -> bytes: ...
    @property
    def td_attributes(self) -> bytes: ...
    @property
    def xfam(self) -> bytes: ...
    @property
    def tee_tcb_svn(self) -> bytes: ...
    @property
    def mr_seam(self) -> bytes: ...
    @property
    def debug(self) -> bool: ...
    @property
    def tcb_status(self) -> str: ...
    @property
    def tcb_date(self) -> Optional[datetime.datetime]: ...
    @property
    def advisory_ids(self) -> List[str]: ...
    @property
    def appraised_at(self) -> datetime.datetime: ...
    @property
    def valid_until(self) -> Optional[datetime.datetime]: ...
    def to_dict(self) -> Dict[str, Any]: ...

_Text = Union[str, bytes, bytearray, memoryview]

def verify_ita_token(
    token: _Text,
    jwks: Union[_Text, Mapping[str, Any]],
    at: Optional[_Time] = None,
    issuers: Optional[Sequence[str]] = None,
) -> Appraisal:
    """Verify an Intel Trust Authority token against a pinned key set (PS384/RS256).

    Raises Unauthenticated or InvalidInput with ``.code`` (e.g. ``"jwt.unknown_kid"``).
    """

def verify_github_oidc(
    token: _Text,
    jwks: Union[_Text, Mapping[str, Any]],
    audience: str,
    at: Optional[_Time] = None,
    issuer: Optional[str] = None,
) -> Dict[str, Any]:
    """Verify a GitHub Actions OIDC token (RS256, GitHub's issuer, ``aud`` containing audience)."""

class ControlPlaneClient:
    """The control plane's API with answers as JSON text; use :class:`easyenclave.ControlPlane`."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, timeout: float = 10.0,
                 audience: str = "easyenclave") -> None: ...
    @property
    def url(self) -> str: ...
    @property
    def credential_source(self) -> str: ...
    def health(self) -> str: ...
    def agents(self, status: str = "", vm_name: str = "", owner: str = "") -> str: ...
    def agent(self, id: str) -> str: ...
    def agent_attestation(self, id: str) -> str: ...
    def agent_logs(self, id: str, lines: int = 0) -> str: ...
    def undeploy(self, id: str) -> str: ...
    def remove_agent(self, id: str) -> None: ...
    def apps(self) -> str: ...
    def app(self, name: str) -> str: ...
    def publish(self, request_json: str) -> str: ...
    def add_version(self, app: str, request_json: str) -> str: ...
    def deploy(self, request_json: str) -> str: ...
    def deployments(self, agent_id: str = "", app_name: str = "", status: str = "",
                    limit: Optional[int] = None) -> str: ...
    def deployment(self, id: str) -> str: ...
    def wait(self, id: str, timeout: float = 300.0, poll: float = 1.0) -> str: ...
    def resolve_verify_target(self, target: str) -> str: ...
    def measurements(self) -> str: ...
    def add_measurement(self, mrtd: str, type: str = "agent", node_size: str = "", note: str = "") -> str: ...
    def remove_measurement(self, mrtd: str) -> None: ...
    def settings(self, group: str = "") -> str: ...
    def setting(self, name: str) -> str: ...
    def set_setting(self, name: str, value: str) -> str: ...
    def unset_setting(self, name: str) -> str: ...
