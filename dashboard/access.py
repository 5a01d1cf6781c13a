"""Who may see what: the roles file, and the scope of a logged-in user.

Identity comes from the county's OpenID Connect provider through Streamlit's own login
(`st.login`, `st.user`); what a user may see comes from the roles file (TOML), which the
county keeps beside the dashboard's configuration:

    [users."leder@trondelagfylke.no"]
    role = "leader"                       # the whole county

    [users."radgiver@trondheim.kommune.no"]
    role = "adviser"
    municipalities = ["5001"]             # municipality codes, and/or
    regions = ["Trondheimsregionen"]      # regions of warehouse/reference/municipalities.csv

    [users."sub:3f1c…"]                   # or by the provider's subject (`sub`) claim
    role = "data_staff"                   # the whole county, plus Datakvalitet

    [users."oppfolging@steinkjer.kommune.no"]
    role = "follow_up"                    # the follow-up service: its municipalities' aggregate
    municipalities = ["5006"]             # pages, and the follow-up list (persons by pseudonym)

A user is looked up by `sub:<sub>` first, then by the e-mail address (`email`, else
`preferred_username`, lower case). E-mail addresses are only as trustworthy as the
provider's directory: where users can set their own, use `sub:` entries. A user
who is not in the file, has an unknown role, or an adviser without a valid municipality
or region, gets no access. The follow-up role, like the adviser, is always scoped to
municipalities or regions (the follow-up list names persons by pseudonym). This module has no Streamlit in it, so it is tested directly.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from dashboard.queries import COUNTY, ROLES

ROLE_LABEL = {"leader": "leder", "adviser": "rådgiver", "data_staff": "datateam", "follow_up": "oppfølgingstjenesten"}


@dataclass(frozen=True)
class Access:
    role: str  # leader, adviser, data_staff, follow_up
    scope: tuple[str, ...]  # municipality codes, or queries.COUNTY
    name: str = ""  # how the user is greeted

    @property
    def whole_county(self) -> bool:
        return self.scope == COUNTY


class RolesError(ValueError):
    """The roles file cannot be used (then nobody gets access)."""


def load_roles(path: Path) -> dict[str, dict]:
    """The roles file's users, checked: every entry has a known role."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise RolesError(f"cannot read the roles file {path}: {type(err).__name__}") from None
    users = data.get("users", {})
    if not isinstance(users, dict):
        raise RolesError("the roles file needs a [users] table")
    out = {}
    for key, entry in users.items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES:
            raise RolesError(f"user {key!r}: role must be one of {', '.join(ROLES)}")
        out[key.strip().lower() if not key.startswith("sub:") else key.strip()] = entry
    return out


def resolve(user: dict, roles: dict[str, dict], municipalities: dict) -> Access | None:
    """The access of a logged-in user (claims as in `st.user`), or None for no access.
    `municipalities` is queries.municipality_choices (codes, regions)."""
    entry = None
    if user.get("sub"):
        entry = roles.get(f"sub:{user['sub']}")
    for claim in ("email", "preferred_username"):  # Entra ID may send only the latter
        if entry is None and isinstance(user.get(claim), str):
            entry = roles.get(user[claim].strip().lower())
    if entry is None:
        return None
    name = str(user.get("name") or user.get("email") or "")
    role = entry["role"]
    if role in ("leader", "data_staff"):
        return Access(role, COUNTY, name)
    known = set(municipalities["code_by_name"].values())
    codes = {str(c) for c in entry.get("municipalities", []) if str(c) in known}
    for region in entry.get("regions", []):
        codes |= set(municipalities["by_region"].get(region, []))
    if not codes:
        return None
    return Access(role, tuple(sorted(codes)), name)
