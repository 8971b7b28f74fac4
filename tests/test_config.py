"""Settings fail loudly, naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from siyu.config import Settings


def test_prod_without_secret_key_is_refused():
    with pytest.raises(ValidationError, match="SIYU_SECRET_KEY is required"):
        Settings(env="prod", secret_key="")


@pytest.mark.parametrize("env", ["production", "PROD", "staging"])
def test_unknown_env_is_refused(env):
    with pytest.raises(ValidationError):
        Settings(env=env)


def test_short_secret_key_is_refused():
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(secret_key="short")


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValidationError):
        Settings(timezone="Mars/Olympus")
