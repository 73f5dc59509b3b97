import pytest

from tests.cli.conftest import esoc as _esoc  # noqa: F401  (the same in-process runner)


@pytest.fixture
def esoc_cli(_esoc):
    return _esoc

from tests.cli.conftest import fast_keystore  # noqa: E402,F401
