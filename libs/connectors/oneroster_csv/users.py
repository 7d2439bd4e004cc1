"""OneRoster users -> canonical users; the role from users.csv (1.1) or from roles.csv (1.2)."""

from __future__ import annotations

from collections.abc import Mapping

from libs.connectors.oneroster_csv.stream import Builder, CsvStream
from libs.connectors.oneroster_csv.values import (
    PackageState,
    RowStatus,
    cell,
    missing_id,
    parse_bool,
    raw_extras,
)
from libs.connectors.oneroster_vocabulary import NON_ROSTER_ROLES, USER_ROLES
from libs.connectors.records import Item, User, split_multi


class RoleCollector:
    """OneRoster 1.2 roles.csv -> `state.roles`: the primary role wins, a secondary one fills in."""

    def __init__(self, stream: CsvStream, state: PackageState) -> None:
        h = stream.header
        self.i_user, self.i_type = h.col("userSourcedId"), h.col("roleType")
        self.i_role, self.i_org = h.col("role"), h.col("orgSourcedId")
        self.status = RowStatus(stream)
        self.state = state
        # user -> (from a primary role?, role as written, orgs with the primary role's first)
        self.best: dict[str, tuple[bool, str, list[str]]] = {}

    def build(self, row: list[str], line: int) -> Item | None:
        user = row[self.i_user].strip()
        if not user or self.status(row) != RowStatus.ACTIVE:
            return None
        primary = row[self.i_type].strip().lower() == "primary"
        role = row[self.i_role].strip()
        org = row[self.i_org].strip()
        current = self.best.get(user)
        if current is None:
            self.best[user] = (primary, role, [org] if org else [])
            return None
        was_primary, current_role, orgs = current
        if org and org not in orgs:
            if primary:
                orgs.insert(0, org)
            else:
                orgs.append(org)
        if primary and not was_primary:
            self.best[user] = (True, role, orgs)
        elif not was_primary and current_role.lower() in NON_ROSTER_ROLES and role.lower() not in NON_ROSTER_ROLES:
            # among secondary roles only, a roster role beats a guardian's
            self.best[user] = (False, role, orgs)
        return None

    def finish(self) -> None:
        self.state.roles = {user: (role, tuple(orgs)) for user, (_, role, orgs) in self.best.items()}


def user_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    h = stream.header
    i_id, i_role, i_orgs, i_enabled = h.col("sourcedId"), h.col("role"), h.col("orgSourcedIds"), h.col("enabledUser")
    i_given, i_middle, i_family = h.col("givenName"), h.col("middleName"), h.col("familyName")
    i_email, i_username, i_ident, i_grades = h.col("email"), h.col("username"), h.col("identifier"), h.col("grades")
    i_user_ids, i_primary_org = h.col("userIds"), h.col("primaryOrgSourcedId")
    status = RowStatus(stream)
    extras = h.extras(mapped)
    file = stream.file
    # a users.csv with a role column is read the 1.1 way even in a package that calls itself 1.2
    roles: Mapping[str, tuple[str, tuple[str, ...]]] | None = state.roles if i_role < 0 else None
    non_school = state.non_school_orgs
    number_type = (state.student_number_id_type or "").lower() or None
    if i_user_ids < 0:
        number_type = None
    skipped = state.skipped

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return missing_id(stream, row, line)
        row_status = status(row)
        if row_status:
            if row_status == RowStatus.GONE:
                return User(external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=raw_extras(row, extras))
            return status.error(row, line)
        if roles is None:
            role_text = row[i_role].strip()
            orgs = split_multi(row[i_orgs]) if i_orgs >= 0 else ()
            role_field = "role"
        else:
            found = roles.get(sid)
            if found is None:
                return stream.error(row, line, "missing_role", "roles.csv gives this user no role", "role")
            role_text, orgs = found
            role_field = "roles.csv role"
        lowered = role_text.lower()
        role = USER_ROLES.get(lowered)
        # a blank role passes on as null: stage refuses missing values, for every source alike
        if role is None and lowered:
            if lowered in NON_ROSTER_ROLES:
                skipped[f"users with role {lowered}"] += 1
                return None
            return stream.error(row, line, "unknown_role", f"role '{role_text}' is not a roster role", role_field)
        enabled = parse_bool(row[i_enabled], True) if i_enabled >= 0 else True
        if enabled is None:
            return stream.error(
                row, line, "invalid_value", f"enabledUser '{row[i_enabled]}' is not true or false", "enabledUser"
            )
        schools = tuple(org for org in orgs if org not in non_school) if non_school else orgs
        primary_school = cell(row, i_primary_org)
        if primary_school is None or primary_school in non_school:
            primary_school = schools[0] if schools else None
        identifier = cell(row, i_ident)
        student_number = None
        if role == "student":
            student_number = identifier if number_type is None else _user_id(row[i_user_ids], number_type)
        return User(
            external_id=sid,
            role=role,
            given_name=cell(row, i_given),
            middle_name=cell(row, i_middle),
            family_name=cell(row, i_family),
            email=cell(row, i_email),
            username=cell(row, i_username),
            sis_id=identifier,
            student_number=student_number,
            grades=split_multi(row[i_grades]) if i_grades >= 0 else (),
            school_external_ids=schools,
            primary_school_external_id=primary_school,
            enabled=enabled,
            source_ref=f"{file}:{line}",
            raw=raw_extras(row, extras),
        )

    return build


def parse_user_ids(text: str) -> list[tuple[str, str]]:
    """`{LDAP:12},{Local:863}` -> [("LDAP", "12"), ("Local", "863")]; items not in braces are skipped."""
    pairs = []
    for item in split_multi(text):
        if item.startswith("{") and item.endswith("}") and ":" in item:
            kind, _, value = item[1:-1].partition(":")
            pairs.append((kind.strip(), value.strip()))
    return pairs


def _user_id(text: str, kind: str) -> str | None:
    for found_kind, value in parse_user_ids(text):
        if found_kind.lower() == kind and value:
            return value
    return None


__all__ = ["NON_ROSTER_ROLES", "USER_ROLES", "RoleCollector", "parse_user_ids", "user_builder"]
