"""A local identity provider for the demo and the tests: `oidc-provider-mock` with one demo
user per role, and the dashboard configuration and roles file that point at it.

Never for production: the mock lets anyone log in as anyone. Production points
`pathways dashboard --config` at the county's own provider (README, "Login and roles").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# One demo user per role (the adviser and the follow-up service for Steinkjer only).
DEMO_USERS: list[dict] = [
    {"sub": "leder@demo.trondelag.no", "email": "leder@demo.trondelag.no", "name": "Demo Leder", "role": "leader"},
    {
        "sub": "radgiver.steinkjer@demo.trondelag.no",
        "email": "radgiver.steinkjer@demo.trondelag.no",
        "name": "Demo Rådgiver Steinkjer",
        "role": "adviser",
        "municipalities": ["5006"],
    },
    {"sub": "data@demo.trondelag.no", "email": "data@demo.trondelag.no", "name": "Demo Datateam", "role": "data_staff"},
    {
        "sub": "oppfolging.steinkjer@demo.trondelag.no",
        "email": "oppfolging.steinkjer@demo.trondelag.no",
        "name": "Demo Oppfølging Steinkjer",
        "role": "follow_up",
        "municipalities": ["5006"],
    },
]


def start(port: int, users: list[dict] = DEMO_USERS, log: Path | None = None) -> subprocess.Popen:
    """Start the mock provider on 127.0.0.1:`port` with `users` as predefined users; returns
    when its discovery document answers."""
    args = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port), "--require-nonce"]
    for user in users:
        claims = {k: v for k, v in user.items() if k in ("sub", "email", "name")}
        args += ["--user-claims", json.dumps(claims)]
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(args, stdout=out, stderr=out, env=dict(os.environ, NO_COLOR="1"))
    url = f"{issuer(port)}/.well-known/openid-configuration"
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the mock identity provider exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the mock identity provider did not start within 30 s")


def issuer(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def write_config(
    folder: Path, idp_port: int, dashboard_port: int, users: list[dict] = DEMO_USERS, demo: bool = True
) -> Path:
    """The dashboard configuration and roles file for the mock provider; returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    roles = ['# Demo roles: one user per role (see README, "Login and roles").', ""]
    for user in users:
        roles.append(f'[users."{user["email"]}"]')
        roles.append(f'role = "{user["role"]}"')
        if user.get("municipalities"):
            roles.append("municipalities = [" + ", ".join(f'"{c}"' for c in user["municipalities"]) + "]")
        if user.get("regions"):
            roles.append("regions = [" + ", ".join(f'"{r}"' for r in user["regions"]) + "]")
        roles.append("")
    (folder / "roles.toml").write_text("\n".join(roles), encoding="utf-8")
    config = folder / "dashboard.toml"
    config.write_text(
        f"""# Demo configuration: the local mock identity provider (never for production).
[dashboard]
url = "http://localhost:{dashboard_port}"
address = "127.0.0.1"
roles = "roles.toml"
demo = {"true" if demo else "false"}

[oidc]
server_metadata_url = "{issuer(idp_port)}/.well-known/openid-configuration"
client_id = "pathways-demo"
client_secret = "demo-secret-not-for-production"
""",
        encoding="utf-8",
    )
    return config
