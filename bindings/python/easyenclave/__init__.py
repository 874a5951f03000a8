"""easyenclave: verify that a service runs measured code in an Intel TDX VM before talking to it.

The heavy lifting (quote parsing, DCAP verification, token checks) happens in the native
``easyenclave._core`` module built from libeasyenclave; this package re-exports it.
"""

from ._core import (
    Conflict,
    Error,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unavailable,
    UpstreamFailure,
    __version__,
)

__all__ = [
    "Conflict",
    "Error",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "Unauthenticated",
    "Unavailable",
    "UpstreamFailure",
    "__version__",
]
