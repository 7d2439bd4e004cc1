"""The console an admin reads: every page at desktop and phone width (axe, console, 404s,
screenshots), the waiting run, the timeline, the errors view and the fleet, and a keyboard-only
walk through add provider, run, cancel with its confirmation and the errors view."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Response, expect
from sqlalchemy import Engine, text

from libs.enums import ProviderType
from libs.settings import Settings, to_libpq_url
from tests.support.api import ThreadedApi
from tests.support.providers import create_provider
from tests.support.workers import ServiceProcess, wait_until
from tests.ui.conftest import TENANT_A, TENANT_B, assert_accessible, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

UI = "/integrations/sis"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class Watch:
    """What a page did wrong while a test drove it: console errors, failed scripts, 404s."""

    errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", self._response)

    def _response(self, response: Response) -> None:
        if response.status == 404:
            self.missing.append(response.url)

    def check(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.missing, f"404 requests: {self.missing}"


@pytest.fixture
def browse(chromium: Browser, api_server: ThreadedApi) -> Iterator[Callable[..., tuple[Page, Watch]]]:
    contexts = []

    def open_page(viewport: dict[str, int] = DESKTOP) -> tuple[Page, Watch]:
        context = chromium.new_context(base_url=api_server.url, viewport=viewport)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        watch = Watch()
        watch.attach(page)
        return page, watch

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Page, token: str) -> None:
    page.goto(f"{UI}/login#token={token}")
    page.wait_for_url(re.compile(r"/integrations/sis/?(\?.*)?$"))


def shot(page: Page, name: str) -> None:
    """A test artifact; with UPDATE_DOCS_SCREENSHOTS=1 also the picture docs/ui.md shows."""
    path = screenshot(page, name)
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)


def _run(
    engine: Engine,
    provider_id: uuid.UUID,
    tenant: str,
    status: str,
    *,
    ago: timedelta,
    seconds: float | None = 60.0,
    received: int = 0,
    message: str | None = None,
) -> uuid.UUID:
    run_id = uuid.uuid4()
    requested = datetime.now(UTC) - ago
    finished = status not in ("PENDING", "IN_PROGRESS")
    stats = {"users": {"received": received, "created": received // 10, "unchanged": received - received // 10}}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, requested_at, "
                "started_at, completed_at, stats, error_message, phase) VALUES (:r, :p, :t, :s, 'schedule', false, "
                ":req, :started, :done, CAST(:stats AS jsonb), :m, :phase)"
            ),
            {
                "r": run_id,
                "p": provider_id,
                "t": tenant,
                "s": status,
                "req": requested,
                "started": requested if status != "PENDING" else None,
                "done": requested + timedelta(seconds=seconds or 0) if finished else None,
                "stats": json.dumps(stats if finished else {}),
                "m": message,
                "phase": "extract" if status == "IN_PROGRESS" else None,
            },
        )
    return run_id


def _errors(engine: Engine, run_id: uuid.UUID) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_errors (run_id, entity_type, external_id, source, line, field, code, message) "
                "SELECT :r, 'enrollment', 'enr-' || n, 'enrollments.csv', n + 1, 'user_external_id', "
                "'orphan_reference', 'user_external_id ''u-' || n || ''' refers to no user of this feed' "
                "FROM generate_series(1, 12) AS n "
                "UNION ALL SELECT :r, 'user', 'u-x', 'users.csv', 40, 'given_name', 'missing_value', "
                "'given_name is required'"
            ),
            {"r": run_id},
        )


@dataclass
class Seeded:
    nightly: uuid.UUID
    waiting: uuid.UUID
    run_with_errors: uuid.UUID


def seed(db: Engine, settings: Settings) -> Seeded:
    """A district with a history worth reading, a run waiting for a slot, and a second tenant."""

    def provider(name: str, tenant: str = TENANT_A, **kw: object) -> uuid.UUID:
        return create_provider(
            db,
            settings,
            provider_type=ProviderType.ONEROSTER_CSV,
            config={"localPath": f"/srv/{name.split()[0].lower()}"},
            tenant_id=tenant,
            name=name,
            **kw,  # type: ignore[arg-type]
        )

    nightly = provider("Nightly OneRoster CSV")
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE sis_providers SET sync_schedule = '0 2 * * *', schedule_timezone = 'America/Chicago', "
                "next_run_at = now() + interval '9 hours'"
            )
        )
    history = ["SUCCESS"] * 7 + ["PARTIAL", "FAILURE", "SUCCESS", "CANCELLED", "SUCCESS"]
    for i, status in enumerate(history):
        _run(db, nightly, TENANT_A, status, ago=timedelta(days=len(history) - i), seconds=40 + 9 * i, received=9000 + i)
    errored = _run(
        db,
        nightly,
        TENANT_A,
        "PARTIAL",
        ago=timedelta(hours=3),
        seconds=75,
        received=9100,
        message="13 record(s) rejected; see the run's errors",
    )
    _errors(db, errored)
    waiting = provider("Waiting feed")
    failing = provider("Broken feed")
    _run(db, failing, TENANT_A, "FAILURE", ago=timedelta(hours=5), message="the package could not be read")
    stale = provider("Stale feed", tenant=TENANT_B)
    _run(db, stale, TENANT_B, "SUCCESS", ago=timedelta(days=4))
    provider("Paused feed", tenant=TENANT_B, enabled=False)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE sis_providers SET stale_since = now() - interval '1 day' WHERE id = :p"), {"p": stale}
        )
    # every slot of the service is busy with other providers' runs: the new one waits for one
    for i in range(settings.max_concurrent_syncs):
        busy = provider(f"Busy feed {i}", tenant=TENANT_B)
        _run(db, busy, TENANT_B, "IN_PROGRESS", ago=timedelta(minutes=2), seconds=None)
    with db.begin() as conn:  # the first busy run has reported nothing for four minutes
        conn.execute(
            text(
                "UPDATE sis_sync_runs SET heartbeat_at = now() - interval '4 minutes', "
                "dispatched_at = now() - interval '4 minutes' WHERE status = 'IN_PROGRESS'"
            )
        )
    _run(db, waiting, TENANT_A, "PENDING", ago=timedelta(minutes=1), seconds=None)
    return Seeded(nightly, waiting, errored)


def _no_overflow(page: Page, what: str) -> None:
    wider = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert wider <= 0, f"{what} is {wider} px wider than the screen"


def test_every_page_reads_well_at_desktop_and_phone_width(
    db: Engine,
    api_server: ThreadedApi,
    browser_settings: Settings,
    mint: Callable[..., str],
    browse: Callable[..., tuple[Page, Watch]],
) -> None:
    seeded = seed(db, browser_settings)
    admin = mint("DISTRICT_ADMIN", TENANT_A)
    platform = mint("PLATFORM_ADMIN", None, sub="ops@platform")
    pages = [
        ("login", None, "/login"),
        ("integration-list", admin, f"?tenant={TENANT_A}"),
        ("add-provider", admin, "/providers/new"),
        ("provider", admin, f"/providers/{seeded.nightly}"),
        ("provider-schedule", admin, f"/providers/{seeded.nightly}#schedule-panel"),
        ("provider-connection", admin, f"/providers/{seeded.nightly}#settings-panel"),
        ("provider-waiting", admin, f"/providers/{seeded.waiting}"),
        ("edit-connection", admin, f"/providers/{seeded.nightly}/edit"),
        ("run-details", admin, f"/runs/{seeded.run_with_errors}"),
        ("run-errors", admin, f"/runs/{seeded.run_with_errors}/errors"),
        ("webhooks", admin, "/webhooks"),
        ("tenant-picker", platform, ""),
        ("fleet", platform, "/fleet"),
    ]
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        signed: dict[str | None, tuple[Page, Watch]] = {}
        for name, token, path in pages:
            if token not in signed:
                signed[token] = browse(viewport)
                if token is not None:
                    sign_in(signed[token][0], token)
            page, watch = signed[token]
            page.goto(f"{UI}{path}")
            page.wait_for_load_state("networkidle")
            if "#" in path:  # the tab the address names is the one shown
                expect(page.locator(f"#{path.split('#')[1]}")).to_be_visible()
            assert_accessible(page, f"{name} at {size} width")
            if size == "phone":
                _no_overflow(page, name)
            shot(page, f"{name}-{size}")
        for _, seen in signed.values():
            seen.check()

    page, watch = browse(DESKTOP)
    sign_in(page, admin)

    # the waiting run says what it waits for
    page.goto(f"{UI}/providers/{seeded.waiting}")
    slots = browser_settings.max_concurrent_syncs
    expect(page.locator("[data-waiting]")).to_have_text(f"Waiting for a free slot ({slots} of {slots} in use)")

    # a run in progress that reports nothing says so, and what happens next
    page2, _ = browse(DESKTOP)
    sign_in(page2, platform)
    page2.goto(f"{UI}/fleet?q=Busy")
    page2.get_by_role("link", name="Busy feed 0").click()
    expect(page2.locator("[data-stuck]")).to_contain_text(re.compile(r"No progress for \d+ min \d\d s\."))
    expect(page2.locator("[data-stuck]")).to_contain_text("the scheduler sends the step again")

    # the provider page: the glance header, the tabs, the timeline with axes, dates and colours
    page.goto(f"{UI}/providers/{seeded.nightly}")
    glance = page.locator(".glance")
    expect(glance.locator("[data-state]")).to_have_text("Partial")  # the last run rejected records
    expect(glance).to_contain_text("Health, 30 days")
    expect(glance).to_contain_text("9 of 13 runs succeeded")  # the 12 of the history and the errored one
    expect(glance.locator("time").first).to_have_text(re.compile(r" C[SD]T · \d+ h ago$"))
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_count(5)
    expect(page.locator("#schedule-panel")).to_be_hidden()
    svg = page.locator("#history svg.timeline")
    expect(svg.locator("rect.bar")).to_have_count(13)
    expect(svg.locator("rect.bar-FAILURE")).to_have_count(1)
    expect(svg.locator("text.axis-title")).to_have_text(
        ["Duration", "Records received", re.compile(r"Run start \(C[SD]T\)")]
    )
    expect(svg.locator("text.tick").first).to_have_text("0")
    assert len(re.findall(r"[A-Z][a-z]{2} \d{1,2} \d\d:\d\d", svg.text_content() or "")) >= 3  # dated runs
    expect(page.locator("figcaption")).to_contain_text("Failed")
    # tabs by keyboard: arrows move between them, the address names the open one
    tabs.first.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Schedule")).to_be_focused()
    expect(page.locator("#schedule-panel")).to_be_visible()
    expect(page.locator("#history-panel")).to_be_hidden()

    # a cron error names its field, and shows once
    page.get_by_role("radio", name="Custom cron expression").check()
    page.get_by_role("textbox", name=re.compile("^Cron expression")).fill("0 25 * * *")
    cron_error = page.locator('#schedule-form [data-error-for="syncSchedule"]')
    expect(cron_error).to_contain_text("The hour field '25' is not valid (0-23)")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.locator("#toasts .toast")).to_have_count(1)
    expect(page.locator("#schedule-form").get_by_text("The hour field '25' is not valid")).to_have_count(1)

    # the errors view: grouped with titles and fixes, reached from the banner
    page.goto(f"{UI}/runs/{seeded.run_with_errors}")
    page.locator("#problem-errors-link").click()
    page.wait_for_url(re.compile(r"/errors$"))
    groups = page.get_by_role("region", name="Errors by cause")
    expect(groups.locator("tbody tr")).to_have_count(2)
    expect(groups.locator("tbody tr").first).to_contain_text("Refers to a record the feed does not have")
    expect(groups.locator("tbody tr").first).to_contain_text("12")
    expect(page.get_by_role("link", name="Download all as CSV")).to_be_visible()

    # the fleet: failing and stale first, filters, links into each provider
    page, watch = browse(DESKTOP)
    sign_in(page, platform)
    page.get_by_role("link", name=re.compile("Fleet")).click()
    rows = page.locator("table.fleet tbody tr")
    states = [row.get_attribute("data-state") for row in rows.all()]
    assert states[:2] == ["failing", "stale"], states
    assert states.index("paused") < states.index("partial")
    page.get_by_role("link", name="Stale 1").click()
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link", name="Stale feed").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Stale feed")
    expect(page.locator("[data-state]")).to_have_text("Stale")
    watch.check()
    with db.begin() as conn:  # the seeded active runs must not hold the next test's worker
        conn.execute(text("DELETE FROM sis_sync_runs WHERE status IN ('PENDING', 'IN_PROGRESS')"))


def _tab_until(page: Page, predicate: str, *, back: bool = False, limit: int = 40) -> None:
    """Tab (or Shift+Tab) until the focused element satisfies the JS predicate `el => ...`."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate(f"({predicate})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {predicate}")


def _waiting_on_enrollments(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE relation = 'enrollments'::regclass AND NOT granted")
            ).scalar_one()
        )


def test_keyboard_only_add_provider_run_cancel_with_confirmation_and_the_errors_view(
    db: Engine,
    ui_worker: ServiceProcess,
    browser_settings: Settings,
    mint: Callable[..., str],
    browse: Callable[..., tuple[Page, Watch]],
    s_tier_package: Path,
) -> None:
    page, watch = browse(DESKTOP)
    sign_in(page, mint("DISTRICT_ADMIN", TENANT_A))
    _tab_until(page, "el => el.textContent.trim() === 'Add provider'")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Add provider")
    expect(dialog).to_be_visible()
    # the type by arrow keys, then Next
    for _ in range(6):
        if dialog.get_by_role("radio", name=re.compile("OneRoster CSV")).is_checked():
            break
        page.keyboard.press("ArrowDown")
    expect(dialog.get_by_role("radio", name=re.compile("OneRoster CSV"))).to_be_checked()
    expect(dialog).to_contain_text("or in a folder or zip on this server")  # the card says so
    _tab_until(page, "el => el.matches('[data-next]')")
    page.keyboard.press("Enter")
    page.keyboard.type("Keyboard feed")  # the name field has the focus
    # the SFTP port is in sight (not under "Advanced"), and a port out of range stops "Next"
    port = dialog.get_by_role("spinbutton", name="Port")
    expect(port).to_be_visible()
    port.focus()
    page.keyboard.type("99999")
    _tab_until(page, "el => el.matches('[data-next]')")
    page.keyboard.press("Enter")
    expect(dialog.locator('[data-error-for="config.sftp.port"]:visible')).to_have_text("Must be from 1 to 65535.")
    expect(port).to_have_attribute("aria-invalid", "true")
    # the focus goes to the first field to fix (the SFTP host, still empty)
    assert page.evaluate("document.activeElement.getAttribute('aria-invalid')") == "true"
    # the toast sits in the modal, above it, once however often the same thing happens
    toasts = page.locator("#toasts")
    assert toasts.evaluate("el => el.parentElement.tagName") == "DIALOG"
    _tab_until(page, "el => el.matches('[data-next]')")
    page.keyboard.press("Enter")
    expect(toasts.locator(".toast")).to_have_count(1)
    box = toasts.locator(".toast").bounding_box()
    assert box is not None
    on_top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('#toasts') !== null",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert on_top, "the toast is covered"
    # the fingerprint hint shows code, not backticks
    hint = dialog.locator('[id$="hostKeyFingerprint-hint"]')
    expect(hint.locator("code")).to_have_text("ssh-keyscan HOST | ssh-keygen -lf -")
    assert "`" not in hint.inner_text()
    port.fill("")
    # the local folder instead: choose it by keyboard
    local = dialog.get_by_role("radio", name="A folder or zip on this server")
    dialog.get_by_role("radio", name="SFTP server").focus()
    page.keyboard.press("ArrowRight")
    expect(local).to_be_checked()
    path = dialog.get_by_role("textbox", name="Package path on this server")
    path.focus()
    page.keyboard.type(str(s_tier_package))
    _tab_until(page, "el => el.matches('[data-next]')")
    page.keyboard.press("Enter")  # to the schedule
    _tab_until(page, "el => el.matches('[data-next]')")
    page.keyboard.press("Enter")  # to the summary
    summary = dialog.locator("[data-summary]")
    expect(summary).to_contain_text("Keyboard feed")
    expect(summary).to_contain_text(str(s_tier_package))
    expect(summary).to_contain_text("Schedule")
    assert_accessible(page, "the summary step")
    _tab_until(page, "el => el.textContent.trim() === 'Test connection'", back=True)
    page.keyboard.press("Enter")
    expect(dialog.locator("[data-test-result]")).to_contain_text("Connection works", timeout=30_000)
    _tab_until(page, "el => el.textContent.trim() === 'Save provider'")
    page.keyboard.press("Enter")
    try:
        page.wait_for_url(re.compile(r"/providers/[0-9a-f-]{36}$"))
    except Exception as exc:
        said = (
            page.locator("#toasts").inner_text()
            + " | "
            + dialog.locator(".field-error:visible").all_inner_texts().__str__()
        )
        raise AssertionError(f"not saved: {said}") from exc
    provider_url = page.url

    assert browser_settings.database_url is not None
    with psycopg.connect(to_libpq_url(browser_settings.database_url)) as blocker:
        blocker.execute("LOCK TABLE enrollments IN ACCESS EXCLUSIVE MODE")
        _tab_until(page, "el => el.id === 'run-now'")
        page.keyboard.press("Enter")
        status = page.locator("#status")
        expect(status.locator(".status-IN_PROGRESS")).to_be_visible(timeout=60_000)
        wait_until(lambda: _waiting_on_enrollments(db), timeout=60, what="the run to wait for the lock")
        # the live card: counts per phase as they grow
        expect(status.locator(".phase-done .phase-records").first).to_contain_text("records")
        _tab_until(page, "el => el.id === 'cancel-sync'", back=True)
        page.keyboard.press("Enter")
        confirm = page.get_by_role("dialog", name="Cancel the running sync?")
        expect(confirm).to_be_visible()
        expect(confirm.get_by_role("button", name="Keep it running")).to_be_focused()
        page.keyboard.press("Tab")
        expect(confirm.get_by_role("button", name="Cancel sync")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#toasts")).to_contain_text("Cancel requested")
        blocker.rollback()
    expect(status.locator("[data-last-status]")).to_have_text("Cancelled", timeout=120_000)

    # the errors view by keyboard: a run of this provider with rejected records
    provider_id = uuid.UUID(provider_url.rsplit("/", 1)[1])
    run_id = _run(db, provider_id, TENANT_A, "PARTIAL", ago=timedelta(minutes=1), received=100, message="13 rejected")
    _errors(db, run_id)
    page.goto(f"{UI}/runs/{run_id}")
    _tab_until(page, "el => el.id === 'problem-errors-link'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/errors$"))
    _tab_until(page, "el => el.id === 'filter-code'")
    while page.locator("#filter-code").input_value() != "orphan_reference":
        page.keyboard.press("ArrowDown")
    _tab_until(page, "el => el.id === 'filter-q'")
    page.keyboard.type("u-12")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=u-12"))
    expect(page.locator("#records-count")).to_contain_text("1 record matches")
    expect(page.get_by_role("region", name="Error records")).to_contain_text("enr-12")
    assert_accessible(page, "errors view, filtered")
    watch.check()
