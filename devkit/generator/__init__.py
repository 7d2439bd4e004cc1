"""Synthetic districts: deterministic, streaming, realistic rosters for tests, demo and bench.

    spec = DistrictSpec.for_tier("S", seed=1)
    district = District(spec)
    write_oneroster_csv(district, "out/")
    changed = district.with_churn(percent=1.0, seed=2)
    changed.churn            # exact counts of what changed
    write_oneroster_csv(changed, "delta/", delta_from=district)

See docs/generator.md.
"""

from __future__ import annotations

from devkit.generator.build import Course
from devkit.generator.churn import Change, Churn, EntityChurn
from devkit.generator.district import District
from devkit.generator.ids import IdError, clever_id, external_id_from_clever
from devkit.generator.oneroster_csv import HEADERS, write_oneroster_csv
from devkit.generator.spec import TIERS, DistrictSpec, SpecError, Tier

__all__ = [
    "HEADERS",
    "TIERS",
    "Change",
    "Churn",
    "Course",
    "District",
    "DistrictSpec",
    "EntityChurn",
    "IdError",
    "SpecError",
    "Tier",
    "clever_id",
    "external_id_from_clever",
    "write_oneroster_csv",
]
