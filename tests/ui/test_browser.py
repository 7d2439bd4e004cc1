"""What a district admin does in the UI, in a real Chromium, against a real API server and worker."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import ElementHandle, Locator, Page, expect
from sqlalchemy import Engine, text

from libs.enums import ProviderType
from libs.settings import Settings, to_libpq_url
from tests.support.api import ThreadedApi
from tests.support.providers import create_provider
from tests.support.workers import ServiceProcess, wait_until
from tests.ui.conftest import (
    LOGIN,
    TENANT_A,
    TENANT_B,
    assert_accessible,
    assert_png,
    screenshot,
    screenshot_path,
)

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


# what a focus indicator is made of: an outline that is drawn, or a ring drawn with box-shadow
_FOCUS_LOOK = """el => {
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  return [outline ? `outline ${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}` : "",
          s.boxShadow !== "none" ? `box-shadow ${s.boxShadow}` : ""].join(" ").trim();
}"""
_DESCRIBE = "el => `${el.tagName.toLowerCase()} ${(el.innerText || el.value || el.id || '').trim().slice(0, 40)}`"


def _focused(page: Page) -> ElementHandle:
    handle = page.evaluate_handle("document.activeElement")
    element = handle.as_element()
    assert element is not None, "nothing has the focus"
    return element


def assert_visible_focus(page: Page) -> ElementHandle:
    """The focused control shows a focus indicator: a drawn outline, or a ring made with box-shadow."""
    element = _focused(page)
    look = element.evaluate(_FOCUS_LOOK)
    assert look, f"{element.evaluate(_DESCRIBE)} has the keyboard focus but no visible focus indicator"
    return element


def tab_to(page: Page, target: Locator, *, within: Locator | None = None, limit: int = 12) -> list[str]:
    """Presses Tab until `target` has the focus; every control on the way shows a visible focus
    indicator, which goes again once Tab moves on. Returns what was reached, in order."""
    reached: list[str] = []
    previous: tuple[ElementHandle, str] | None = None
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = assert_visible_focus(page)
        reached.append(element.evaluate(_DESCRIBE))
        if within is not None:
            assert element.evaluate("(el, box) => box.contains(el)", within.element_handle()), (
                f"Tab left the dialog for {reached[-1]}"
            )
        if previous is not None:
            # the indicator belongs to the focus: the control left behind no longer shows it
            assert previous[0].evaluate(_FOCUS_LOOK) != previous[1], f"{reached[-2]} kept its focus indicator"
        previous = (element, element.evaluate(_FOCUS_LOOK))
        if target.evaluate("el => el === document.activeElement"):
            return reached
    raise AssertionError(f"Tab did not reach the target within {limit} stops: {reached}")


def test_a_district_admin_adds_a_csv_provider_runs_it_and_reads_the_run(
    page: Page, stack: Engine, mint: Callable[..., str], s_tier_package: Path, browser_settings: Settings
) -> None:
    # the sign-in page, and the same page refusing a token that is not one, beside its field
    page.goto(LOGIN)
    token_field = page.get_by_label("Access token")
    expect(token_field).to_be_visible()
    assert_accessible(page, "sign-in page")
    screenshot(page, "login")
    token_field.fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("This token cannot be used")
    expect(token_field).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "sign-in page with its error")

    # a pasted token signs in as well as the link's
    token_field.fill(mint("DISTRICT_ADMIN", TENANT_A))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/integrations/sis/?$"))
    expect(page.get_by_role("heading", name=re.compile("SIS integrations"))).to_be_visible()
    expect(page.get_by_text("No SIS integration is configured")).to_be_visible()
    assert_accessible(page, "empty integration list")

    # the modal: type, then settings with an error the API finds, then schedule, test and save
    # the modal by keyboard, Tab from the page's start to its opener with the focus always in
    # sight: Enter opens it with focus inside, Escape closes it back to its opener
    opener = page.get_by_role("link", name="Add provider")
    reached = tab_to(page, opener)
    assert reached[0].startswith("a Skip to content"), reached
    assert len(reached) > 1
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Add provider")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio").first).to_be_focused()
    assert_visible_focus(page)
    tab_to(page, dialog.get_by_role("button", name="Next"), within=dialog)
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
    assert_accessible(page, "add-provider modal showing a validation error")
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
    expect(status.locator(".live-run")).to_have_count(0, timeout=180_000)
    expect(status.locator("[data-last-status]")).to_have_text("Success")
    expect(status.locator("[data-state]")).to_have_text("Healthy")
    expect(page.locator("#toasts")).to_contain_text("Sync finished: Success")
    history = page.locator("#history")
    expect(history.get_by_role("link", name="Success")).to_be_visible()
    expect(history.locator("figure.chart svg rect")).to_have_count(1)
    assert page.evaluate("window.__noReload") is True
    assert_accessible(page, "provider details")

    # the schedule: weekdays preset, five next runs in the provider's zone, saved
    page.get_by_role("tab", name="Schedule").click()
    schedule = page.locator("#schedule-form")
    schedule.get_by_label("Time zone").fill("America/Chicago")
    schedule.get_by_role("radio", name=re.compile("Weekdays at 6 AM")).check()
    preview = page.locator("#edit-preview")
    expect(preview).to_contain_text("Weekdays at 6 AM")
    expect(preview.locator("ol.next-runs li")).to_have_count(5)
    for item in preview.locator("ol.next-runs li").all_inner_texts():
        assert re.search(r" 06:00 C[SD]T · in \d+ (?:h|d|min)$", item), item
    schedule.get_by_role("button", name="Save schedule").click()
    expect(page.locator("#toasts")).to_contain_text("Schedule saved: Weekdays at 6 AM")
    screenshot(page, "provider-details")

    # edit the connection in the same step-by-step form, opened by keyboard, saved in place
    page.get_by_role("tab", name="Connection").click()
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
    page.get_by_role("tab", name="Sync options").click()
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
    page.get_by_role("tab", name="History").click()
    page.get_by_role("button", name="Run sync now").click()
    expect(history.get_by_role("link", name="Success")).to_have_count(2, timeout=180_000)
    expect(status.locator(".live-run")).to_have_count(0, timeout=30_000)
    unchanged = history.locator("tbody tr").first
    expect(unchanged.locator("td.counts").nth(3)).to_contain_text("+0")
    expect(history.locator("figure.chart svg rect")).to_have_count(2)
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    history_png = screenshot_path("sync-history")
    history_section = page.locator("#history-panel")
    history_section.screenshot(path=str(history_png))
    box = history_section.bounding_box()
    assert box is not None
    assert assert_png(history_png)[0] == round(box["width"])

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

    # back on the list: each provider's type, state, schedule in words and cron, last sync and
    # status, and next run; a disabled one keeps its schedule but has no next run
    legacy_id = create_provider(
        stack,
        browser_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": "/srv/exports/legacy"},
        tenant_id=TENANT_A,
        name="Legacy export (paused)",
        enabled=False,
    )
    with stack.begin() as conn:
        # as the API stores a disabled provider's schedule: kept, with no next run
        conn.execute(
            text(
                "UPDATE sis_providers SET sync_schedule = '0 2 * * *', schedule_timezone = 'Europe/London' "
                "WHERE id = :id"
            ),
            {"id": legacy_id},
        )
        nightly = conn.execute(
            text(
                "SELECT p.next_run_at, max(r.completed_at) AS last_sync FROM sis_providers p "
                "JOIN sis_sync_runs r ON r.provider_id = p.id WHERE p.name LIKE 'Nightly%' GROUP BY p.id"
            )
        ).one()
    page.goto(UI)
    rows = page.locator("#providers tbody tr")
    expect(rows).to_have_count(2)
    row = rows.filter(has_text="Nightly OneRoster CSV")

    def cell(row: Locator, label: str) -> Locator:
        return row.locator(f'td[data-label="{label}"]')

    expect(cell(row, "Type")).to_have_text("OneRoster CSV")
    expect(cell(row, "Enabled")).to_have_text("Enabled")
    # the cron on a line of its own (<br>), which only the rendered text shows
    nightly_schedule = re.compile(r"^\s*Weekdays at 6 AM\n0 6 \* \* 1-5 America/Chicago\s*$")
    expect(cell(row, "Schedule")).to_have_text(nightly_schedule, use_inner_text=True)
    expect(cell(row, "Schedule").locator("code")).to_have_text("0 6 * * 1-5")
    last_sync = cell(row, "Last sync").locator("time")
    # one format: the provider's zone with its abbreviation and the time from now; UTC on hover
    assert datetime.fromisoformat(last_sync.get_attribute("datetime") or "") == nightly.last_sync
    expect(last_sync).to_have_attribute("title", nightly.last_sync.strftime("%Y-%m-%d %H:%M:%S UTC"))
    chicago = nightly.last_sync.astimezone(ZoneInfo("America/Chicago"))
    expect(last_sync).to_have_text(
        re.compile(rf"^{chicago.strftime('%a %Y-%m-%d %H:%M %Z')} · (just now|\d+ min ago)$")
    )
    expect(cell(row, "Last status")).to_have_text("Success")
    next_run = cell(row, "Next run").locator("time")
    assert datetime.fromisoformat(next_run.get_attribute("datetime") or "") == nightly.next_run_at
    local = nightly.next_run_at.astimezone(ZoneInfo("America/Chicago"))
    assert (local.hour, local.minute) == (6, 0)
    assert local.weekday() < 5
    assert nightly.next_run_at > nightly.last_sync
    expect(next_run).to_have_text(re.compile(rf"^{local.strftime('%a %Y-%m-%d 06:00 %Z')} · in \d+ (h|d)$"))

    legacy = rows.filter(has_text="Legacy export (paused)")
    expect(cell(legacy, "Type")).to_have_text("OneRoster CSV")
    expect(cell(legacy, "Enabled")).to_have_text("Disabled")
    legacy_schedule = re.compile(r"^\s*Every day at 2 AM\n0 2 \* \* \* Europe/London\s*$")
    expect(cell(legacy, "Schedule")).to_have_text(legacy_schedule, use_inner_text=True)
    expect(cell(legacy, "Last sync")).to_have_text("—")
    expect(cell(legacy, "Last status")).to_have_text("Never run")
    expect(cell(legacy, "Next run")).to_have_text("—")
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
        cancel = page.get_by_role("button", name="Cancel sync…")
        expect(cancel).to_be_visible()
        expect(page.get_by_role("button", name="Run sync now")).to_be_hidden()
        # the running state: progress by phase, with the extract's counts per entity
        expect(status.get_by_role("list", name="Progress by phase")).to_be_visible()
        expect(status.locator(".phase-done .entity-counts li").first).to_be_visible()
        expect(status.locator("progress")).to_be_visible()
        assert_accessible(page, "provider page with a sync running")
        screenshot(page, "provider-cancelling")
        # cancel asks first: "Keep it running" changes nothing, "Cancel sync" sends it
        cancel.click()
        confirm = page.get_by_role("dialog", name="Cancel the running sync?")
        expect(confirm).to_be_visible()
        expect(confirm.get_by_role("button", name="Keep it running")).to_be_focused()
        assert_accessible(page, "cancel confirmation")
        confirm.get_by_role("button", name="Keep it running").click()
        expect(confirm).to_be_hidden()
        expect(status.locator(".status-IN_PROGRESS")).to_be_visible()
        with stack.connect() as conn:
            assert conn.execute(text("SELECT cancel_requested_at FROM sis_sync_runs")).scalar_one() is None
        cancel.click()
        confirm.get_by_role("button", name="Cancel sync").click()
        expect(page.locator("#toasts")).to_contain_text("Cancel requested")
        # the run ends CANCELLED at once; its blocked step rolls back at its fence once released
        blocker.rollback()
    expect(status.locator(".live-run")).to_have_count(0, timeout=120_000)
    expect(status.locator("[data-last-status]")).to_have_text("Cancelled")
    expect(page.locator("#history").get_by_role("link", name="Cancelled")).to_be_visible()
    expect(page.get_by_role("button", name="Run sync now")).to_be_visible()
    with stack.connect() as conn:
        assert conn.execute(text("SELECT status FROM sis_sync_runs")).scalar_one() == "CANCELLED"

    # delete, with its confirmation
    page.get_by_role("tab", name="Delete").click()
    page.get_by_role("button", name="Delete provider…").click()
    confirm = page.get_by_role("dialog", name=re.compile("Delete “Slow feed”"))
    expect(confirm).to_be_visible()
    assert_accessible(page, "delete confirmation dialog")
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
    page.goto(f"{UI}/providers/{provider_id}#settings-panel")
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


def test_a_platform_admin_picks_a_tenant_and_then_sees_its_integrations(
    page: Page, stack: Engine, mint: Callable[..., str], browser_settings: Settings
) -> None:
    for tenant, name in ((TENANT_A, "District A feed"), (TENANT_B, "District B feed")):
        create_provider(
            stack,
            browser_settings,
            provider_type=ProviderType.ONEROSTER_CSV,
            config={"localPath": f"/srv/{tenant}"},
            tenant_id=tenant,
            name=name,
        )
    sign_in(page, mint("PLATFORM_ADMIN", None, sub="ops@platform"))
    expect(page.get_by_role("heading", name="Choose a tenant")).to_be_visible()
    picker = page.locator("ul.tenant-list li")
    expect(picker).to_have_count(2)
    expect(picker.filter(has_text=TENANT_B)).to_contain_text("1 provider")
    expect(page.get_by_text("District A feed")).to_have_count(0)
    assert_accessible(page, "tenant picker")
    screenshot(page, "tenant-picker")

    page.get_by_role("link", name=TENANT_B, exact=True).click()
    page.wait_for_url(re.compile(rf"\?tenant={TENANT_B}$"))
    expect(page.get_by_role("heading", name=re.compile(TENANT_B))).to_be_visible()
    expect(page.get_by_role("link", name="District B feed")).to_be_visible()
    expect(page.get_by_text("District A feed")).to_have_count(0)
    page.get_by_role("link", name="Choose another tenant").click()
    expect(page.get_by_role("heading", name="Choose a tenant")).to_be_visible()
