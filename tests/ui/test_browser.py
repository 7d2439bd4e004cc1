"""What a district admin does in the UI, in a real Chromium, against a real API server and worker."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from libs.db.settings import Settings, to_libpq_url
from libs.enums import ProviderType
from libs.harness.api import ThreadedApi
from libs.harness.processes import ServiceProcess, wait_until
from libs.harness.providers import create_provider
from tests.ui.conftest import TENANT_A, TENANT_B, assert_accessible, screenshot, screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

UI = "/integrations/sis"


@pytest.fixture
def stack(db: Engine, api_server: ThreadedApi, ui_worker: ServiceProcess) -> Iterator[Engine]:
    yield db
    assert ui_worker.alive(), ui_worker.output()[-3000:]
    # a cancelled run's last step may still be rolling back: the next test's TRUNCATE waits for it
    wait_until(lambda: _quiet(db), timeout=60, interval=0.2, what="the worker to go idle")


def _quiet(engine: Engine) -> bool:
    with engine.connect() as conn:
        busy = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM sis_sync_runs WHERE status IN ('PENDING', 'IN_PROGRESS')) + "
                "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state NOT IN ('idle'))"
            )
        ).scalar_one()
    return busy == 0


def sign_in(page: Page, token: str) -> None:
    """The way `sis-sync token --login-url` links sign in: the token rides in the URL fragment."""
    page.goto(f"{UI}/login#token={token}")
    page.wait_for_url(re.compile(r"/integrations/sis/?(\?.*)?$"))
    assert "#token" not in page.url


def test_a_district_admin_adds_a_csv_provider_runs_it_and_reads_the_run(
    page: Page, stack: Engine, mint: Callable[..., str], s_tier_package: Path, browser_settings: Settings
) -> None:
    sign_in(page, mint("DISTRICT_ADMIN", TENANT_A))
    expect(page.get_by_role("heading", name=re.compile("SIS integrations"))).to_be_visible()
    expect(page.get_by_text("No SIS integration is configured")).to_be_visible()
    assert_accessible(page, "empty integration list")

    # the modal: type, then settings with an error the API finds, then schedule, test and save
    # the modal by keyboard: Enter opens it with focus inside, Escape closes it back to its opener
    opener = page.get_by_role("link", name="Add provider")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Add provider")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    dialog.get_by_role("radio", name=re.compile("OneRoster CSV")).check()
    dialog.get_by_role("button", name="Next").click()
    dialog.get_by_role("textbox", name="Name", exact=True).fill("Nightly OneRoster CSV")
    dialog.get_by_role("radio", name="A folder or zip on this server").check()
    local_path = dialog.get_by_role("textbox", name="Package path on this server")
    local_path.fill("exports/oneroster")
    assert_accessible(page, "add-provider modal")
    screenshot(page, "add-provider-modal", full_page=False)
    dialog.get_by_role("button", name="Next").click()
    dialog.get_by_role("radio", name=re.compile("Every day at 2 AM")).check()
    dialog.get_by_role("button", name="Next").click()
    dialog.get_by_role("button", name="Test connection").click()
    # a relative path: the connector's config model refuses it, and the message sits by the field
    error = dialog.locator('[data-error-for="config.localPath"]:visible')
    expect(error).to_contain_text("absolute path")
    expect(local_path).to_be_focused()
    expect(local_path).to_have_attribute("aria-invalid", "true")
    screenshot(page, "add-provider-validation-error", full_page=False)

    local_path.fill(str(s_tier_package))
    dialog.get_by_role("button", name="Next").click()
    dialog.get_by_role("button", name="Next").click()
    save = dialog.get_by_role("button", name="Save provider")
    expect(save).to_be_disabled()
    dialog.get_by_role("button", name="Test connection").click()
    expect(dialog.locator("[data-test-result]")).to_contain_text("Connection works", timeout=30_000)
    save.click()

    page.wait_for_url(re.compile(r"/providers/[0-9a-f-]{36}$"))
    provider_url = page.url
    expect(page.get_by_role("heading", name=re.compile("Nightly OneRoster CSV"))).to_be_visible()
    expect(page.locator("#toasts")).to_contain_text("added")

    # run now and watch it finish with no reload: a marker on window survives only without one
    page.evaluate("window.__noReload = true")
    page.get_by_role("button", name="Run sync now").click()
    expect(page.locator("#toasts")).to_contain_text("Sync requested")
    status = page.locator("#status")
    expect(status.locator(".status-IN_PROGRESS, .status-PENDING").first).to_be_visible(timeout=30_000)
    screenshot(page, "provider-running")
    expect(status.get_by_text("Idle")).to_be_visible(timeout=180_000)
    expect(status.locator("[data-last-status]")).to_have_text("Success")
    expect(page.locator("#toasts")).to_contain_text("Sync finished: Success")
    history = page.locator("#history")
    expect(history.get_by_role("link", name="Success")).to_be_visible()
    expect(history.locator("figure.chart svg rect")).to_have_count(1)
    assert page.evaluate("window.__noReload") is True
    assert_accessible(page, "provider details")

    # the schedule: weekdays preset, five next runs in the provider's zone, saved
    schedule = page.locator("#schedule-form")
    schedule.get_by_label("Time zone").fill("America/Chicago")
    schedule.get_by_role("radio", name=re.compile("Weekdays at 6 AM")).check()
    preview = page.locator("#edit-preview")
    expect(preview).to_contain_text("Weekdays at 6 AM")
    expect(preview.locator("ol.next-runs li")).to_have_count(5)
    for item in preview.locator("ol.next-runs li").all_inner_texts():
        assert "06:00" in item
        assert "America/Chicago" in item
    schedule.get_by_role("button", name="Save schedule").click()
    expect(page.locator("#toasts")).to_contain_text("Schedule saved: Weekdays at 6 AM")
    screenshot(page, "provider-details")

    # edit the connection in the same step-by-step form, opened by keyboard, saved in place
    edit_opener = page.get_by_role("link", name="Edit connection")
    edit_opener.focus()
    page.keyboard.press("Enter")
    edit = page.get_by_role("dialog", name="Edit connection")
    name = edit.get_by_role("textbox", name="Name", exact=True)
    expect(name).to_be_focused()
    expect(name).to_have_value("Nightly OneRoster CSV")
    expect(edit.get_by_role("textbox", name="Package path on this server")).to_have_value(str(s_tier_package))
    name.fill("Nightly OneRoster CSV (all schools)")
    screenshot(page, "edit-connection-modal", full_page=False)
    edit.get_by_role("button", name="Next").click()
    edit.get_by_role("button", name="Save changes").click()
    expect(page.locator("#toasts")).to_contain_text(
        "Connection settings of “Nightly OneRoster CSV (all schools)” saved."
    )
    expect(edit).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nightly OneRoster CSV (all schools)")
    expect(page.locator("#provider-settings")).to_contain_text("Nightly OneRoster CSV (all schools)")

    # the sync options: a limit out of range is flagged beside its field before anything is sent
    sync_options = page.locator("#sync-options")
    limit = sync_options.get_by_label("Deactivation limit")
    limit.fill("150")
    limit.press("Tab")
    limit_error = sync_options.locator('[data-error-for="options.deactivationThresholdPercent"]')
    expect(limit_error).to_contain_text("100")
    expect(limit).to_have_attribute("aria-invalid", "true")
    limit.fill("35")
    expect(limit_error).to_be_hidden()
    sync_options.get_by_role("button", name="Save sync options").click()
    expect(page.locator("#toasts")).to_contain_text("Sync options saved.")
    expect(page.locator("#options-summary")).to_contain_text("at most 35% of a type's active records")
    assert page.evaluate("window.__noReload") is True

    # a second run of the same package changes nothing, and the history shows both
    page.get_by_role("button", name="Run sync now").click()
    expect(history.get_by_role("link", name="Success")).to_have_count(2, timeout=180_000)
    expect(status.get_by_text("Idle")).to_be_visible(timeout=30_000)
    unchanged = history.locator("tbody tr").first
    expect(unchanged.locator("td.counts").nth(3)).to_contain_text("+0")
    expect(history.locator("figure.chart svg rect")).to_have_count(2)
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    page.locator("section:has(#history)").screenshot(path=str(screenshot_path("sync-history")))

    # the first run's stats, from the history table
    history.get_by_role("link", name="Success").last.click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    stats = page.locator("#run-stats")
    users = stats.get_by_role("row", name=re.compile("^Users"))
    expect(users).to_be_visible()
    created = int(users.locator("td").nth(1).inner_text().replace(",", ""))
    assert created > 10_000
    expect(page.get_by_text("No record was rejected.")).to_be_visible()
    assert_accessible(page, "run details")
    screenshot(page, "run-details")

    # back on the list: the provider with its schedule in words and cron, its last status
    create_provider(
        stack,
        browser_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": "/srv/exports/legacy"},
        tenant_id=TENANT_A,
        name="Legacy export (paused)",
        enabled=False,
    )
    page.goto(UI)
    row = page.get_by_role("row", name=re.compile("Nightly OneRoster CSV"))
    expect(row).to_contain_text("Weekdays at 6 AM")
    expect(row).to_contain_text("0 6 * * 1-5")
    expect(row).to_contain_text("Success")
    assert_accessible(page, "integration list")
    screenshot(page, "integration-list")

    # phone width: still readable, nothing wider than the screen but the scrollable tables
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(overflow) <= 0
    screenshot(page, "integration-list-phone")
    page.goto(provider_url)
    expect(page.locator("#history tbody tr")).to_have_count(2)
    assert page.evaluate(overflow) <= 0
    screenshot(page, "provider-details-phone")


def test_cancelling_a_running_sync_stops_it_and_the_page_says_so(
    page: Page,
    stack: Engine,
    mint: Callable[..., str],
    browser_settings: Settings,
    s_tier_package: Path,
) -> None:
    provider_id = create_provider(
        stack,
        browser_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(s_tier_package)},
        tenant_id=TENANT_A,
        name="Slow feed",
    )
    assert browser_settings.database_url is not None
    # the run cannot get past its enrollments while this lock is held: cancel meets a live run
    with psycopg.connect(to_libpq_url(browser_settings.database_url)) as blocker:
        blocker.execute("LOCK TABLE enrollments IN ACCESS EXCLUSIVE MODE")
        sign_in(page, mint("DISTRICT_ADMIN", TENANT_A))
        page.goto(f"{UI}/providers/{provider_id}")
        page.get_by_role("button", name="Run sync now").click()
        status = page.locator("#status")
        expect(status.locator(".status-IN_PROGRESS")).to_be_visible(timeout=60_000)
        wait_until(lambda: _waiting_on_enrollments(stack), timeout=60, what="the run to wait for the lock")
        cancel = page.get_by_role("button", name="Cancel sync")
        expect(cancel).to_be_visible()
        expect(page.get_by_role("button", name="Run sync now")).to_be_hidden()
        screenshot(page, "provider-cancelling")
        cancel.click()
        expect(page.locator("#toasts")).to_contain_text("Cancel requested")
        # the run ends CANCELLED at once; its blocked step rolls back at its fence once released
        blocker.rollback()
    expect(status.get_by_text("Idle")).to_be_visible(timeout=120_000)
    expect(status.locator("[data-last-status]")).to_have_text("Cancelled")
    expect(page.locator("#history").get_by_role("link", name="Cancelled")).to_be_visible()
    expect(page.get_by_role("button", name="Run sync now")).to_be_visible()
    with stack.connect() as conn:
        assert conn.execute(text("SELECT status FROM sis_sync_runs")).scalar_one() == "CANCELLED"

    # delete, with its confirmation
    page.get_by_role("button", name="Delete provider…").click()
    confirm = page.get_by_role("dialog", name=re.compile("Delete “Slow feed”"))
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Delete provider").click()
    expect(confirm.locator('[data-error-for="confirm"]')).to_contain_text("Tick the box")
    confirm.get_by_label("Yes, delete Slow feed").check()
    confirm.get_by_role("button", name="Delete provider").click()
    page.wait_for_url(re.compile(r"/integrations/sis\?tenant=district-a$"))
    expect(page.locator("#toasts")).to_contain_text("Provider “Slow feed” deleted.")
    expect(page.get_by_text("No SIS integration is configured")).to_be_visible()
    with stack.connect() as conn:
        actions = conn.execute(text("SELECT action FROM audit_log ORDER BY id")).scalars().all()
    assert actions == ["sync.requested", "sync.cancelled", "provider.deleted"]


def test_the_edit_form_of_an_sftp_provider_says_which_secrets_are_stored(
    page: Page, stack: Engine, mint: Callable[..., str], browser_settings: Settings
) -> None:
    sftp = {
        "host": "sftp.district-a.example.org",
        "username": "rostering",
        "password": "sftp-password-in-the-vault",
        "hostKeyFingerprint": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
    }
    provider_id = create_provider(
        stack,
        browser_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"sftp": sftp, "remotePath": "/exports/oneroster"},
        tenant_id=TENANT_A,
        name="District SFTP",
    )
    sign_in(page, mint("DISTRICT_ADMIN", TENANT_A))
    page.goto(f"{UI}/providers/{provider_id}")
    page.get_by_role("link", name="Edit connection").click()
    edit = page.get_by_role("dialog", name="Edit connection")
    password = edit.get_by_label("Password", exact=True)
    expect(password).to_have_value("")
    expect(password).to_have_accessible_description(re.compile("Stored Leave blank to keep the stored value"))
    expect(edit.get_by_label("Private key", exact=True)).to_have_accessible_description(re.compile("Not set"))
    expect(edit.get_by_role("textbox", name="Host", exact=True)).to_have_value("sftp.district-a.example.org")
    assert "sftp-password-in-the-vault" not in page.content()
    assert_accessible(page, "edit-connection modal")
    password.scroll_into_view_if_needed()
    screenshot(page, "edit-connection-stored-secrets", full_page=False)


def _waiting_on_enrollments(engine: Engine) -> bool:
    with engine.connect() as conn:
        waiting = conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE relation = 'enrollments'::regclass AND NOT granted")
        ).scalar_one()
    return bool(waiting)


def test_an_admin_of_another_district_cannot_see_the_provider(
    page: Page, stack: Engine, mint: Callable[..., str], browser_settings: Settings
) -> None:
    provider_id = create_provider(
        stack,
        browser_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": "/srv/a"},
        tenant_id=TENANT_A,
        name="District A feed",
    )
    sign_in(page, mint("DISTRICT_ADMIN", TENANT_B, sub="admin@b"))
    expect(page.get_by_role("heading", name=re.compile(TENANT_B))).to_be_visible()
    expect(page.get_by_text("District A feed")).to_have_count(0)
    response = page.goto(f"{UI}/providers/{provider_id}")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("District A feed")).to_have_count(0)
    response = page.goto(f"{UI}?tenant={TENANT_A}")
    assert response is not None
    assert response.status == 403
    assert_accessible(page, "error page")
