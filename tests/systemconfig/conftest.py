import pytest

from systemconfig import services


@pytest.fixture(autouse=True)
def _forget_cached_site_name():
    """A name cached by one test must not outlive its rolled-back configuration row."""
    services.forget_site_name()
    yield
    services.forget_site_name()
