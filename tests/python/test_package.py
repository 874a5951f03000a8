"""The package imports, reports the library version and exposes the error hierarchy."""

import re
from pathlib import Path

import easyenclave

ROOT = Path(__file__).resolve().parents[2]


def test_version_matches_the_cmake_project_version():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    expected = re.search(r"project\(easyenclave VERSION ([0-9.]+)", cmake).group(1)
    assert easyenclave.__version__ == expected


def test_every_condition_has_an_error_class():
    names = ["InvalidInput", "Unauthenticated", "Forbidden", "NotFound", "Conflict",
             "UpstreamFailure", "Unavailable"]
    for name in names:
        cls = getattr(easyenclave, name)
        assert issubclass(cls, easyenclave.Error), name
        assert cls is not easyenclave.Error
    assert issubclass(easyenclave.Error, RuntimeError)


def test_native_module_is_the_built_one():
    assert easyenclave._core.__file__.endswith(".so")
