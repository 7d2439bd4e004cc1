"""The UI's pure helpers: schedules in words, run phases, the chart, provider-type and sync option forms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from libs.connectors import registry
from libs.enums import ProviderType, SyncMode, SyncStatus
from libs.etl.options import ProviderOptions
from libs.providers.masking import mask
from services.api.problems import ApiError
from services.api.schemas import Progress, ProviderTypeInfo, RunStep, RunSummary
from services.api.ui import forms, options, present


def test_schedules_read_as_words_from_presets_custom_crons_and_no_schedule() -> None:
    assert present.schedule_words("0 6 * * 1-5") == "Weekdays at 6 AM"
    assert present.schedule_words("30 5 * * 1-5") == "At 05:30 AM, Monday through Friday"
    assert present.schedule_words(None) == "Manual only"


def test_next_runs_are_written_in_the_providers_zone() -> None:
    instant = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert present.zoned_text(instant, "America/Chicago") == "Thu 2026-11-26 06:00 CST"
    assert present.zoned_text(instant, "Not/AZone") == "2026-11-26 12:00 UTC"


def _step(name: str, status: str, records: int = 0, **detail: object) -> RunStep:
    return RunStep(step=name, status=status, records=records, detail=dict(detail), started_at=None, finished_at=None)


def test_phases_show_what_is_done_running_and_waiting_with_counts_per_entity() -> None:
    steps = [
        _step("plan", "done", 2),
        _step("extract:users", "done", 900, counts={"user": 900}),
        _step("extract:classes", "done", 40, counts={"class": 40, "enrollment": 0}),
        _step("stage", "done", 940, entities={"user": {"received": 900}, "class": {"received": 40}}),
        _step("load:school", "done", 3),
        _step("load:user", "running"),
        _step("deactivate", "pending"),
    ]
    progress = Progress(steps_total=7, steps_done=5, steps_failed=0, records=940, steps=steps)
    by_name = {p.name: p for p in present.phases(progress, "load:user")}
    assert by_name["Extract"].state == "done"
    assert by_name["Extract"].entities == {"users": 900, "classes": 40, "enrollments": 0}
    assert by_name["Extract"].parts == (2, 2)
    assert (by_name["Stage"].records, by_name["Stage"].entities) == (940, {"users": 900, "classes": 40})
    assert by_name["Load"].state == "running"
    assert by_name["Load"].entities == {"schools": 3}
    assert by_name["Deactivate"].state == "waiting"
    assert by_name["Finalize"].state == "waiting"
    assert present.phase_words("load:enrollment") == "load (enrollments)"


def test_what_the_run_read_reads_as_rows_of_any_connectors_account() -> None:
    source = {
        "steps": {
            "users": {
                "files": {"users.csv": {"rows": 1200, "errors": 0}},
                "requests": {"rateLimited": 2, "byStatus": {}},
                "warnings": ["a", "b"],
                "complete": True,
            }
        }
    }
    assert present.source_rows(source) == [
        (
            "users",
            [
                ("Files / users.csv / Rows", "1,200"),
                ("Files / users.csv / Errors", "0"),
                ("Requests / Rate limited", "2"),
                ("Requests / By status", "—"),
                ("Warnings", "a; b"),
                ("Complete", "yes"),
            ],
        )
    ]


def _csv_form(*, allow_local: bool) -> forms.TypeForm:
    model = registry.connector_class(ProviderType.ONEROSTER_CSV).config_model
    info = ProviderTypeInfo(
        provider_type=ProviderType.ONEROSTER_CSV,
        config_schema=model.model_json_schema(by_alias=True),
        secret_fields=["sftp.password", "sftp.privateKey", "sftp.privateKeyPassphrase"],
    )
    return forms.build(info, allow_local_paths=allow_local)


def test_the_csv_form_offers_sftp_or_a_local_folder_only_where_local_paths_are_allowed() -> None:
    local = _csv_form(allow_local=True)
    assert local.sources == [("sftp", "SFTP server"), ("local", "A folder or zip on this server")]
    assert "config.localPath" in {i.path for i in local.all_inputs()}
    remote = _csv_form(allow_local=False)
    assert remote.sources == []
    assert "config.localPath" not in {i.path for i in remote.all_inputs()}
    inputs = {i.path: i for i in local.all_inputs()}
    assert inputs["config.sftp.password"].kind == "password"
    assert inputs["config.sftp.password"].secret
    assert inputs["config.sftp.privateKey"].kind == "textarea"
    assert inputs["config.sftp.privateKey"].secret
    assert inputs["config.sftp.port"].kind == "integer"
    assert inputs["config.sftp.hostKeyFingerprint"].label == "Host key fingerprint"
    sftp = next(s for s in local.sections if s.path == "config.sftp")
    assert "config.sftp.connectTimeout" in {i.path for i in sftp.advanced}


def test_a_submitted_form_becomes_the_config_of_the_chosen_source_with_numbers_as_numbers() -> None:
    form = _csv_form(allow_local=True)
    data = {
        "ONEROSTER_CSV:source": "sftp",
        "ONEROSTER_CSV:config.sftp.host": " sftp.example.org ",
        "ONEROSTER_CSV:config.sftp.port": "2222",
        "ONEROSTER_CSV:config.sftp.username": "sis",
        "ONEROSTER_CSV:config.sftp.password": "s3cret",
        "ONEROSTER_CSV:config.sftp.connectTimeout": "",
        "ONEROSTER_CSV:config.remotePath": "/exports",
        "ONEROSTER_CSV:config.localPath": "/ignored/because/sftp/was/chosen",
    }
    assert forms.config_from_form(form, data) == {
        "sftp": {"host": "sftp.example.org", "port": 2222, "username": "sis", "password": "s3cret"},
        "remotePath": "/exports",
    }
    assert (
        forms.config_from_form(form, {**data, "ONEROSTER_CSV:config.sftp.port": "twenty"})["sftp"]["port"] == "twenty"
    )
    safe = forms.safe_values(form, data)
    assert "ONEROSTER_CSV:config.sftp.password" not in safe
    assert safe["ONEROSTER_CSV:config.sftp.host"] == " sftp.example.org "


def test_a_saved_config_fills_the_edit_form_with_its_settings_and_source_and_never_a_secret() -> None:
    form = _csv_form(allow_local=True)
    # the defaults a saved local config carries belong to the SFTP source too: localPath decides
    local = {"localPath": "/data/pkg", "filePattern": "*.zip", "stableSeconds": 2.0}
    assert forms.values_from_config(form, local) == {
        "ONEROSTER_CSV:source": "local",
        "ONEROSTER_CSV:config.localPath": "/data/pkg",
        "ONEROSTER_CSV:config.filePattern": "*.zip",
        "ONEROSTER_CSV:config.stableSeconds": "2",
    }
    secrets = ["sftp.password", "sftp.privateKey", "sftp.privateKeyPassphrase"]
    sftp = {"host": "h", "port": 22, "username": "u", "password": "pw", "hostKeyFingerprint": "SHA256:x"}
    masked = mask({"sftp": sftp, "remotePath": "/x"}, secrets)
    values = forms.values_from_config(form, masked)
    assert values["ONEROSTER_CSV:source"] == "sftp"
    assert values["ONEROSTER_CSV:config.sftp.port"] == "22"
    assert not any("password" in name.lower() or "privateKey" in name for name in values)
    assert forms.stored_secrets(form, masked) == {
        "config.sftp.password": True,
        "config.sftp.privateKey": False,
        "config.sftp.privateKeyPassphrase": False,
    }


def test_the_sync_options_form_sends_numbers_as_numbers_and_names_a_blank_one() -> None:
    data = {"createUsers": "true", "deactivationThresholdPercent": "12.5", "deactivationGuardMinimum": "7"}
    body = options.body_from_form({**data, "fullSyncEveryDays": "many"})
    assert body == {
        "createUsers": True,
        "deactivationThresholdPercent": 12.5,
        "deactivationGuardMinimum": 7,
        "incremental": False,
        "fullSyncEveryDays": "many",  # the API names the field and the problem
        "requireApproval": "onGuard",
    }
    with pytest.raises(ApiError) as refused:
        options.body_from_form({**data, "fullSyncEveryDays": " "})
    assert refused.value.errors == [
        {"field": "options.fullSyncEveryDays", "pointer": "#/options/fullSyncEveryDays", "detail": "enter a number"}
    ]
    assert options.values_of(ProviderOptions()) == {
        "createUsers": "true",
        "deactivationThresholdPercent": "20",
        "deactivationGuardMinimum": "50",
        "incremental": "false",
        "fullSyncEveryDays": "7",
        "requireApproval": "onGuard",
    }


def _run(seconds: float, received: int, status: str = "SUCCESS") -> RunSummary:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return RunSummary(
        id=uuid.uuid4(),
        provider_id=uuid.uuid4(),
        tenant_id="t",
        status=SyncStatus(status),
        trigger="manual",
        is_manual=True,
        mode=SyncMode.FULL,
        requested_by=None,
        requested_at=start,
        schedule_slot=None,
        started_at=start,
        completed_at=start,
        duration_seconds=seconds,
        phase=None,
        stats={"users": {"received": received}},
        error_message=None,
        error_count=0,
        cancel_requested_at=None,
        cancel_requested_by=None,
        options={},
    )


def test_the_chart_has_labelled_axes_status_colours_and_a_readable_bar_for_one_run() -> None:
    newest_first = [_run(10.0, 500), _run(40.0, 1000, "FAILURE")]
    chart = present.chart(newest_first, "America/Chicago", width=720, height=230)
    plot_w, plot_h = 720 - chart.left - chart.right, 230 - chart.top - chart.bottom
    slot = plot_w / 12  # at least a dozen slots: two runs are two readable bars on the right
    assert [b["status"] for b in chart.bars] == ["FAILURE", "SUCCESS"]
    assert chart.bars[1]["x"] - chart.bars[0]["x"] == pytest.approx(slot, abs=0.2)
    assert chart.bars[1]["x"] + chart.bars[1]["w"] <= 720 - chart.right
    # the duration axis ends at a round 50 s; the longest run is 40/50 of the height
    assert [t.label for t in chart.y_ticks] == ["0", "25.0 s", "50.0 s"]
    assert chart.bars[0]["h"] == pytest.approx(plot_h * 0.8, abs=0.2)
    assert [t.label for t in chart.r_ticks] == ["0", "500", "1,000"]
    assert [t.label for t in chart.x_ticks] == ["Oct 31 19:00", "Oct 31 19:00"]  # start times in the zone
    assert chart.zone in ("CST", "CDT")
    assert "Failed, 40.0 s, 1,000 records received" in chart.bars[0]["label"]
    assert chart.statuses == ["SUCCESS", "FAILURE"]


def test_a_running_run_shows_its_time_so_far_and_leaves_the_records_scale_alone() -> None:
    now = datetime(2026, 11, 26, 12, 5, tzinfo=UTC)
    running = _run(0.0, 0, "IN_PROGRESS").model_copy(
        update={"duration_seconds": None, "completed_at": None, "started_at": datetime(2026, 11, 26, 12, 0, tzinfo=UTC)}
    )
    chart = present.chart([running, _run(30.0, 800)], now=now)
    assert chart.bars[1]["going"]
    assert "5 min 00 s so far" in chart.bars[1]["label"]
    assert chart.max_records == 800  # not "most 0" while a run is going
    assert len(chart.points) == 1


def test_one_time_format_zone_abbreviation_relative_time_and_utc_on_hover() -> None:
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    html = str(present.when(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "America/Chicago", now=now))
    assert ">Thu 2026-11-26 06:00 CST · 3 h ago</time>" in html
    assert 'title="2026-11-26 12:00:00 UTC"' in html
    assert 'datetime="2026-11-26T12:00:00+00:00"' in html
    assert present.relative(datetime(2026, 11, 26, 15, 20, tzinfo=UTC), now) == "in 20 min"
    assert present.relative(datetime(2026, 11, 24, 15, 0, tzinfo=UTC), now) == "2 d ago"
    assert present.relative(now, now) == "just now"
    assert str(present.when(None, "UTC", empty="never")) == "never"


def test_health_counts_the_last_30_days_and_state_puts_failing_first() -> None:
    now = datetime.now(UTC)
    runs = [_run(10.0, 5, "SUCCESS"), _run(12.0, 5, "FAILURE"), _run(11.0, 5, "SUCCESS")]
    runs = [r.model_copy(update={"requested_at": now}) for r in runs]
    old = _run(1.0, 1, "FAILURE").model_copy(update={"requested_at": datetime(2020, 1, 1, tzinfo=UTC)})
    health = present.health([*runs, old], now)
    assert (health.finished, health.succeeded, health.rate, health.median_seconds) == (3, 2, 67, 11.0)
    assert present.health([], now).rate is None
    assert present.provider_state(True, None, "FAILURE", None) == "failing"
    assert present.provider_state(True, now, "SUCCESS", None) == "stale"
    assert present.provider_state(True, None, "HELD", None) == "held"
    assert present.provider_state(False, None, "SUCCESS", None) == "paused"
    assert present.provider_state(True, None, "SUCCESS", "PENDING") == "waiting"
    assert present.provider_state(True, None, "SUCCESS", "IN_PROGRESS") == "running"
    assert present.provider_state(True, None, "PARTIAL", None) == "partial"
    assert present.provider_state(True, None, "SUCCESS", None) == "healthy"
    assert present.provider_state(True, None, "SOMETHING_NEW", None) == "healthy"
    # a status this UI does not know yet reads as words, and never breaks a page
    assert present.status_word("HELD") == "Held for review"
    assert present.status_word("WAITING_FOR_REVIEW") == "Waiting for review"
    assert present.state_words("unknown_state")[0] == "Unknown_state"
