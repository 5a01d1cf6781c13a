"""The dashboard's configuration → Streamlit secrets and options, and the roles file."""

from __future__ import annotations

import itertools
import tomllib

import pytest

from dashboard import access, serve
from dashboard.queries import COUNTY

CHOICES = {
    "code_by_name": {"Trondheim": "5001", "Steinkjer": "5006", "Verdal": "5038"},
    "by_region": {"Innherred": ["5006", "5038"], "Trondheimsregionen": ["5001"]},
}


def _config(tmp_path, oidc: str, dashboard: str = 'roles = "roles.toml"') -> serve.DashboardConfig:
    (tmp_path / "roles.toml").write_text('[users."a@b.no"]\nrole = "leader"\n')
    (tmp_path / "dashboard.toml").write_text(f"[dashboard]\n{dashboard}\n\n[oidc]\n{oidc}\n")
    return serve.read_config(tmp_path / "dashboard.toml", 8599)


OIDC = 'server_metadata_url = "https://idp.example/.well-known/openid-configuration"\nclient_id = "c"\n'


def test_a_configuration_without_the_provider_or_roles_is_refused(tmp_path):
    with pytest.raises(serve.ConfigError, match="client_secret"):
        _config(tmp_path, OIDC)
    with pytest.raises(serve.ConfigError, match="roles"):
        _config(tmp_path, OIDC + 'client_secret = "s"', dashboard="")


def test_secrets_are_private_and_hold_the_provider_and_a_stable_cookie_secret(tmp_path):
    (tmp_path / "secret").write_text("s3cret\n")
    config = _config(
        tmp_path,
        OIDC + f'client_secret_file = "{tmp_path / "secret"}"',
        'roles = "roles.toml"\nurl = "https://pathways.example.no"',
    )
    path = serve.write_secrets(config, tmp_path / "runtime")
    assert path.stat().st_mode & 0o077 == 0 and (tmp_path / "runtime").stat().st_mode & 0o077 == 0
    first = tomllib.loads(path.read_text())
    assert first["auth"]["client_secret"] == "s3cret"
    assert first["auth"]["redirect_uri"] == "https://pathways.example.no/oauth2callback"
    assert first["pathways"] == {"roles_file": str(tmp_path / "roles.toml"), "demo": False}
    again = tomllib.loads(serve.write_secrets(config, tmp_path / "runtime").read_text())
    assert (
        len(first["auth"]["cookie_secret"]) >= 32 and again["auth"]["cookie_secret"] == first["auth"]["cookie_secret"]
    )


def test_no_configuration_writes_secrets_without_login(tmp_path):
    path = serve.write_secrets(None, tmp_path / "runtime")
    assert "auth" not in tomllib.loads(path.read_text())


def test_streamlit_runs_with_xsrf_cors_our_hosts_and_localhost(tmp_path):
    config = _config(
        tmp_path, OIDC + 'client_secret = "s"', 'roles = "roles.toml"\nurl = "https://pathways.example.no"'
    )
    args = serve.streamlit_args(tmp_path / "app.py", 8599, tmp_path / "s.toml", config, True)
    pairs = list(itertools.pairwise(args))
    for option, value in [
        ("--server.enableXsrfProtection", "true"),
        ("--server.enableCORS", "true"),
        ("--server.address", "127.0.0.1"),
        ("--server.corsAllowedOrigins", "https://pathways.example.no"),
        ("--server.enableAgentApi", "false"),
    ]:
        assert (option, value) in pairs
    assert {v for o, v in pairs if o == "--server.allowedHosts"} == {"localhost", "127.0.0.1", "pathways.example.no"}
    unconfigured = serve.streamlit_args(tmp_path / "app.py", 8599, tmp_path / "s.toml", None, True)
    assert unconfigured[unconfigured.index("--server.address") + 1] == "127.0.0.1"


def test_roles_resolve_by_subject_or_email_and_advisers_get_their_municipalities(tmp_path):
    (tmp_path / "roles.toml").write_text("""
[users."Leder@Fylke.no"]
role = "leader"
[users."sub:abc-123"]
role = "data_staff"
[users."r@kommune.no"]
role = "adviser"
municipalities = ["5001", "9999"]
regions = ["Innherred"]
[users."ingen@kommune.no"]
role = "adviser"
municipalities = ["9999"]
""")
    roles = access.load_roles(tmp_path / "roles.toml")
    assert access.resolve({"email": "leder@fylke.NO"}, roles, CHOICES).scope == COUNTY
    staff = access.resolve({"sub": "abc-123", "email": "x@y.no"}, roles, CHOICES)
    assert staff.role == "data_staff" and staff.scope == COUNTY
    adviser = access.resolve({"email": "r@kommune.no", "sub": "zzz"}, roles, CHOICES)
    assert adviser.role == "adviser" and adviser.scope == ("5001", "5006", "5038")  # 9999 is no municipality
    assert access.resolve({"email": "ingen@kommune.no"}, roles, CHOICES) is None
    assert access.resolve({"email": "ukjent@kommune.no", "sub": "u"}, roles, CHOICES) is None
    assert access.resolve({}, roles, CHOICES) is None


def test_a_roles_file_with_an_unknown_role_is_refused(tmp_path):
    (tmp_path / "roles.toml").write_text('[users."a@b.no"]\nrole = "admin"\n')
    with pytest.raises(access.RolesError):
        access.load_roles(tmp_path / "roles.toml")
    with pytest.raises(access.RolesError):
        access.load_roles(tmp_path / "missing.toml")
