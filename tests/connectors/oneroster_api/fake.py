"""A OneRoster 1.1 server in a function, for httpx.MockTransport unit tests.

It pages like the real ones (limit clamped, X-Total-Count, optional Link), filters on
dateLastModified, and lets a test intercept any request to inject a fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE_URL = "https://sis.example.org/ims/oneroster/v1p1"
PREFIX = "/ims/oneroster/v1p1"
KEYS = {
    "orgs": "orgs",
    "schools": "orgs",
    "academicSessions": "academicSessions",
    "terms": "academicSessions",
    "courses": "courses",
    "classes": "classes",
    "users": "users",
    "enrollments": "enrollments",
}
_FILTER = re.compile(r"^dateLastModified(>=|>)'([^']+)'$")


def ref(kind: str, sid: str, host: str = "https://other-host.example.net") -> dict[str, str]:
    return {"href": f"{host}{PREFIX}/{kind}s/{sid}", "sourcedId": sid, "type": kind}


def small_district() -> dict[str, list[dict[str, Any]]]:
    stamp = "2024-01-01T00:00:00.000Z"
    base = {"status": "active", "dateLastModified": stamp}
    orgs = [
        {**base, "sourcedId": "d1", "name": "District", "type": "district"},
        {**base, "sourcedId": "s1", "name": "North High", "type": "school", "identifier": "101"},
        {**base, "sourcedId": "s2", "name": "South High", "type": "school", "identifier": "102"},
    ]
    sessions = [
        {
            **base,
            "sourcedId": "y1",
            "title": "2024-25",
            "type": "schoolYear",
            "startDate": "2024-08-01",
            "endDate": "2025-06-30",
            "schoolYear": "2025",
        },
        {
            **base,
            "sourcedId": "t1",
            "title": "Fall",
            "type": "semester",
            "startDate": "2024-08-01",
            "endDate": "2024-12-20",
            "parent": ref("academicSession", "y1"),
            "schoolYear": "2025",
        },
    ]
    courses = [{**base, "sourcedId": "c1", "title": "Algebra I", "courseCode": "ALG1", "org": ref("org", "s1")}]
    classes = []
    users = []
    enrollments = []
    for i, school in enumerate(("s1", "s2")):
        cid = f"k{i}"
        classes.append(
            {
                **base,
                "sourcedId": cid,
                "title": f"Algebra {i}",
                "classCode": f"ALG-{i}",
                "classType": "scheduled",
                "course": ref("course", "c1"),
                "school": ref("org", school),
                "terms": [ref("academicSession", "t1")],
                "subjects": ["Math"],
                "grades": ["09"],
                "periods": ["1"],
            }
        )
        tid = f"t-{school}"
        users.append(
            {
                **base,
                "sourcedId": tid,
                "role": "teacher",
                "givenName": "Tea",
                "familyName": f"Cher{i}",
                "username": tid,
                "email": f"{tid}@example.org",
                "enabledUser": "true",
                "identifier": tid,
                "orgs": [ref("org", school), ref("org", "d1")],
                "password": "hunter2",
            }
        )
        enrollments.append(
            {
                **base,
                "sourcedId": f"e-{tid}",
                "role": "teacher",
                "primary": "true",
                "user": ref("user", tid),
                "class": ref("class", cid),
                "school": ref("org", school),
            }
        )
        for n in range(3):
            sid = f"st-{school}-{n}"
            users.append(
                {
                    **base,
                    "sourcedId": sid,
                    "role": "student",
                    "givenName": "Stu",
                    "familyName": f"D{n}",
                    "username": sid,
                    "enabledUser": "true",
                    "identifier": f"N{i}{n}",
                    "grades": ["09"],
                    "orgs": [ref("org", school)],
                    "userIds": [{"type": "StudentNumber", "identifier": f"SN{n}"}],
                }
            )
            enrollments.append(
                {
                    **base,
                    "sourcedId": f"e-{sid}",
                    "role": "student",
                    "primary": "false",
                    "user": ref("user", sid),
                    "class": ref("class", cid),
                    "school": ref("org", school),
                    "beginDate": "2024-08-01",
                }
            )
    users.append(
        {
            **base,
            "sourcedId": "g1",
            "role": "guardian",
            "givenName": "Guard",
            "familyName": "Ian",
            "username": "g1",
            "enabledUser": "true",
            "orgs": [ref("org", "s1")],
        }
    )
    return {
        "orgs": orgs,
        "academicSessions": sessions,
        "courses": courses,
        "classes": classes,
        "users": users,
        "enrollments": enrollments,
    }


Hook = Callable[[httpx.Request], httpx.Response | None]


@dataclass
class FakeServer:
    data: dict[str, list[dict[str, Any]]] = field(default_factory=small_district)
    max_limit: int = 1000
    link: bool = False
    send_total: bool = True
    date: str = "Tue, 01 Jul 2025 12:00:00 GMT"
    hook: Hook | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix(PREFIX) for r in self.requests]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.hook is not None:
            answer = self.hook(request)
            if answer is not None:
                return answer
        path = request.url.path.removeprefix(PREFIX).strip("/").split("/")
        if path[0] == "schools" and len(path) == 3 and path[2] == "enrollments":
            items = [e for e in self.data["enrollments"] if e["school"]["sourcedId"] == path[1]]
            key = "enrollments"
        elif len(path) == 1 and path[0] in KEYS:
            key = KEYS[path[0]]
            items = list(self.data[key])
            if path[0] == "schools":
                items = [o for o in items if o["type"] == "school"]
        else:
            return httpx.Response(
                404, json={"statusInfoSet": [{"imsx_codeMajor": "failure", "imsx_codeMinor": "unknown object"}]}
            )
        params = request.url.params
        flt = params.get("filter")
        if flt:
            match = _FILTER.match(flt)
            assert match, flt
            op, value = match.groups()
            if op == ">":
                items = [i for i in items if i["dateLastModified"] > value]
            else:
                items = [i for i in items if i["dateLastModified"] >= value]
        items.sort(key=lambda i: i["sourcedId"])
        limit = min(int(params.get("limit", "100")), self.max_limit)
        offset = int(params.get("offset", "0"))
        page = items[offset : offset + limit]
        headers = {"date": self.date, "content-type": "application/json"}
        if self.send_total:
            headers["x-total-count"] = str(len(items))
        if self.link and offset + limit < len(items):
            headers["link"] = f'<{request.url.copy_set_param("offset", str(offset + limit))}>; rel="next"'
        elif self.link:
            headers["link"] = f'<{request.url.copy_set_param("offset", "0")}>; rel="first"'
        return httpx.Response(200, headers=headers, content=json.dumps({key: page}).encode())
