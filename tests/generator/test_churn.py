"""Churn, rollover and broken feeds: the generator's report equals the real difference."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest

from devkit.generator import Churn, District, DistrictSpec, SpecError
from libs.enums import LOAD_ORDER, EntityType
from tests.generator.diffing import Snapshot, diff, snapshot


def assert_report_matches(
    before: District, after: District, before_records: Snapshot | None = None, after_records: Snapshot | None = None
) -> None:
    actual = diff(before_records or before, after_records or after)
    report = after.churn if after.parent is before else None
    assert report is not None
    for entity in LOAD_ORDER:
        counts, real = report[entity], actual[entity]
        assert (counts.added, counts.dropped, counts.updated) == (
            len(real.added),
            len(real.dropped),
            len(real.updated),
        ), entity
        if entity is EntityType.USER:
            assert counts.kinds == real.kinds


def test_one_percent_churn_report_equals_the_actual_difference(
    small: District, churned: District, small_records: Snapshot, churned_records: Snapshot
) -> None:
    assert_report_matches(small, churned, small_records, churned_records)
    users = churned.churn[EntityType.USER]
    # about 0.2 % of 10,680 users of each kind; students also transfer
    assert users.added >= 15
    assert users.dropped >= 15
    assert set(users.kinds) == {"renamed", "email_changed", "transferred"}
    # in one churn day a user changes in one way only
    assert sum(users.kinds.values()) == users.updated
    classes = churned.churn[EntityType.CLASS]
    assert classes.added > 0
    assert classes.dropped > 0
    assert classes.kinds == {"relocated": classes.updated}
    enrollments = churned.churn[EntityType.ENROLLMENT]
    assert enrollments.added > 0
    assert enrollments.dropped > 0
    assert enrollments.updated == 0


def test_counts_of_a_churned_state_equal_its_records(churned: District, churned_records: Snapshot) -> None:
    assert churned.counts() == {entity: len(records) for entity, records in churned_records.items()}


def test_a_transfer_moves_the_user_and_its_enrollments(
    churned: District, small: District, small_records: Snapshot, churned_records: Snapshot
) -> None:
    before, after = small_records, churned_records
    moved = [
        key
        for key, user in after[EntityType.USER].items()
        if key in before[EntityType.USER]
        and user.primary_school_external_id != before[EntityType.USER][key].primary_school_external_id
    ]
    assert moved
    old_classes, new_enrollments = defaultdict(set), defaultdict(list)
    for enrollment in before[EntityType.ENROLLMENT].values():
        old_classes[enrollment.user_external_id].add(enrollment.class_external_id)
    for enrollment in after[EntityType.ENROLLMENT].values():
        new_enrollments[enrollment.user_external_id].append(enrollment)
    for key in moved:
        school = after[EntityType.USER][key].primary_school_external_id
        new = new_enrollments[key]
        assert new
        assert not old_classes[key] & {e.class_external_id for e in new}
        assert any(e.school_external_id == school for e in new)


def test_ids_of_surviving_records_are_stable_and_new_ids_come_after_old_ones(
    churned: District, small: District, small_records: Snapshot, churned_records: Snapshot
) -> None:
    before, after = small_records, churned_records
    for entity in (EntityType.USER, EntityType.CLASS):
        added = after[entity].keys() - before[entity].keys()
        survivors = after[entity].keys() & before[entity].keys()
        assert len(survivors) > 0.99 * len(before[entity])
        for prefix in {key[:4] for key in added}:
            assert min(k for k in added if k.startswith(prefix)) > max(
                k for k in before[entity] if k.startswith(prefix)
            )


def test_zero_churn_changes_nothing(small: District) -> None:
    same = small.with_churn(percent=0, seed=9)
    assert all(c.added == c.dropped == c.updated == 0 for c in same.churn.entities.values())
    assert list(same.changes_since(small)) == []


def test_churn_is_deterministic_and_seeded(small: District) -> None:
    first = small.with_churn(1.0, seed=2).churn.as_dict()
    assert first == small.with_churn(1.0, seed=2).churn.as_dict()
    assert first != small.with_churn(1.0, seed=3).churn.as_dict()


def test_chained_churn_reports_each_step_and_changes_since_spans_both(tiny: District) -> None:
    one = tiny.with_churn(percent=10, seed=1)
    two = one.with_churn(percent=10, seed=2)
    assert_report_matches(one, two)
    real = diff(tiny, two)
    seen: dict[str, Counter[EntityType]] = {"created": Counter(), "updated": Counter(), "deleted": Counter()}
    for kind, record in two.changes_since(tiny):
        seen[kind][record.entity_type] += 1
    for entity in LOAD_ORDER:
        assert seen["created"][entity] == len(real[entity].added)
        assert seen["deleted"][entity] == len(real[entity].dropped)
        assert seen["updated"][entity] == len(real[entity].updated)


def test_changes_carry_new_content_and_tombstones_carry_the_last_known_content(
    churned: District, small: District, small_records: Snapshot, churned_records: Snapshot
) -> None:
    before, after = small_records, churned_records
    for kind, record in churned.changes_since(small):
        table = before if kind == "deleted" else after
        known = table[record.entity_type][record.external_id]
        assert record.content() == known.content()
        assert record.tombstone == (kind == "deleted")
        assert (record.external_id in before[record.entity_type]) == (kind != "created")


def test_changed_records_are_stamped_later_than_the_base(small: District, churned: District) -> None:
    changed = {record.external_id for _, record in churned.changes_since(small)}
    assert churned.as_of > small.as_of
    for user in list(churned.users())[:2000]:
        expected = churned.as_of if user.external_id in changed else small.as_of
        assert churned.modified_at(user) == expected
    for kind, record in churned.changes_since(small):
        assert churned.modified_at(record) == churned.as_of, (kind, record.external_id)


def test_rollover_starts_a_new_school_year(small: District, small_records: Snapshot) -> None:
    rolled = small.with_rollover(seed=3)
    before, after = small_records, snapshot(rolled)
    assert_report_matches(small, rolled, before, after)
    assert {t.school_year for t in after[EntityType.TERM].values()} == {"2026"}
    assert not before[EntityType.CLASS].keys() & after[EntityType.CLASS].keys()
    assert not before[EntityType.ENROLLMENT].keys() & after[EntityType.ENROLLMENT].keys()
    old_users, new_users = before[EntityType.USER], after[EntityType.USER]
    grade = {key: user.grades[0] for key, user in old_users.items() if user.role == "student"}
    gone, arrived = old_users.keys() - new_users.keys(), new_users.keys() - old_users.keys()
    # graduates leave, a kindergarten arrives; some teachers leave and new hires take their sections
    assert {grade[key] for key in gone if key in grade} == {"12"}
    assert {new_users[key].grades for key in arrived if new_users[key].role == "student"} == {("KG",)}
    left = [key for key in gone if old_users[key].role == "teacher"]
    hired = [key for key in arrived if new_users[key].role == "teacher"]
    assert len(left) == len(hired) > 0
    assert {old_users[key].role for key in gone} | {new_users[key].role for key in arrived} == {"student", "teacher"}
    movers = [key for key, g in grade.items() if g == "05"]
    # fifth graders keep their id and move to a middle school, as sixth graders
    assert movers
    assert all(new_users[key].grades == ("06",) for key in movers)
    assert all(new_users[key].primary_school_external_id != old_users[key].primary_school_external_id for key in movers)
    for key in grade.keys() & new_users.keys():
        assert new_users[key].grades != old_users[key].grades
    assert rolled.churn[EntityType.USER].kinds["promoted"] == len(grade.keys() & new_users.keys())


def test_churn_after_rollovers_keeps_references_whole(tiny: District) -> None:
    state = tiny
    for year in range(3):
        state = state.with_rollover(seed=year).with_churn(percent=20, seed=year)
        assert_report_matches(state.parent, state)
    records = snapshot(state)
    classes, users = records[EntityType.CLASS], records[EntityType.USER]
    for enrollment in records[EntityType.ENROLLMENT].values():
        assert enrollment.class_external_id in classes
        assert (
            classes[enrollment.class_external_id].school_external_id
            in users[enrollment.user_external_id].school_external_ids
        )


def test_an_emptied_enrollments_feed_drops_every_enrollment_and_nothing_else(small: District) -> None:
    broken = small.with_empty("enrollments")
    assert list(broken.enrollments()) == []
    counts = broken.counts()
    assert counts[EntityType.ENROLLMENT] == 0
    assert counts[EntityType.USER] == small.counts()[EntityType.USER]
    report = broken.churn
    assert report[EntityType.ENROLLMENT].dropped == small.counts()[EntityType.ENROLLMENT]
    assert all(report[e].dropped == report[e].added == 0 for e in LOAD_ORDER if e is not EntityType.ENROLLMENT)
    with pytest.raises(SpecError, match="broken feed"):
        broken.with_churn(1)


def test_the_churn_report_round_trips_through_json(churned: District, tmp_path: object) -> None:
    report = churned.churn
    path = report.write(tmp_path / "churn.json")  # type: ignore[operator]
    data = json.loads(path.read_text())
    assert data["entities"]["user"]["kinds"] == report[EntityType.USER].kinds
    assert Churn.from_dict(data).as_dict() == report.as_dict()


def test_bad_churn_requests_are_refused(small: District) -> None:
    with pytest.raises(SpecError, match="between 0 and 100"):
        small.with_churn(percent=150)
    with pytest.raises(SpecError, match="cannot empty"):
        small.with_empty("guardians")
    with pytest.raises(SpecError, match="no churn"):
        _ = small.churn
    with pytest.raises(ValueError, match="ancestor"):
        list(small.changes_since(small.with_churn(1, seed=1)))


def test_a_tiny_custom_district_supports_every_change() -> None:
    district = District(DistrictSpec(students=12, teachers=3, schools=3, seed=1))
    state = district.with_churn(50, seed=1).with_rollover(seed=1).with_churn(50, seed=2)
    assert state.counts() == {entity: len(records) for entity, records in snapshot(state).items()}


def test_each_state_counts_its_parent_plus_what_was_added_minus_what_was_dropped(tiny: District) -> None:
    state = tiny
    for step in (lambda d: d.with_churn(5, seed=1), lambda d: d.with_rollover(seed=1), lambda d: d.with_empty("users")):
        child = step(state)
        for entity in LOAD_ORDER:
            change = child.churn[entity]
            assert child.counts()[entity] == state.counts()[entity] + change.added - change.dropped
        state = child
