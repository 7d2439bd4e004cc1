"""A held run in a real Chromium: the provider page leads with it, the review page filters its
changes and shows each field's before and after, and approving confirms with the counts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.enums import ProviderType
from libs.settings import Settings
from tests.support.api import ThreadedApi
from tests.support.providers import create_provider, update_config
from tests.support.workers import ServiceProcess, wait_until
from tests.ui.conftest import TENANT_A, assert_accessible, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

UI = "/integrations/sis"


@pytest.fixture
def stack(db: Engine, api_server: ThreadedApi, ui_worker: ServiceProcess) -> Iterator[Engine]:
    yield db
    assert ui_worker.alive(), ui_worker.output()[-3000:]


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = District(DistrictSpec(students=200, teachers=16, schools=2, seed=21))
    root = tmp_path_factory.mktemp("review")
    return {
        "base": write_oneroster_csv(base, root / "base"),
        "churned": write_oneroster_csv(base.with_churn(percent=10.0, seed=4), root / "churned"),
    }


def _status(db: Engine, provider_id: object) -> str | None:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT status FROM sis_sync_runs WHERE provider_id = :p ORDER BY requested_at DESC LIMIT 1"),
            {"p": provider_id},
        ).scalar()


def test_an_admin_previews_a_sync_reviews_its_changes_and_approves_them(
    page: Page,
    stack: Engine,
    mint: Callable[..., str],
    browser_settings: Settings,
    packages: dict[str, Path],
) -> None:
    provider_id = create_provider(
        stack,
        browser_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(packages["base"])},
        tenant_id=TENANT_A,
        name="District CSV",
    )
    page.goto(f"{UI}/login#token={mint('DISTRICT_ADMIN', TENANT_A)}")
    page.wait_for_url(re.compile(r"/integrations/sis/?(\?.*)?$"))
    page.goto(f"{UI}/providers/{provider_id}")
    page.get_by_role("button", name="Run sync now").click()
    wait_until(lambda: _status(stack, provider_id) == "SUCCESS", timeout=120, what="the first sync")

    # a preview of the churned export holds; the provider page leads with it
    update_config(stack, browser_settings, provider_id, {"localPath": str(packages["churned"])})
    page.get_by_role("button", name="Preview sync").click()
    expect(page.locator("#toasts")).to_contain_text("Preview requested")
    wait_until(lambda: _status(stack, provider_id) == "HELD", timeout=120, what="the preview to hold")
    page.reload()
    card = page.locator("#held-run")
    expect(card.get_by_role("heading", name="A sync waits for your review")).to_be_visible()
    expect(card.locator("#held-reasons")).to_contain_text("a preview was requested")
    users = card.locator("#plan-counts tr", has=page.get_by_role("rowheader", name="Users"))
    expect(users).to_be_visible()
    assert page.locator("section.card").first.get_attribute("id") == "held-run"
    assert_accessible(page, "provider page with a held run")
    screenshot(page, "held-run-provider-page")

    # the review page: filter to user updates, each with its fields before and after
    card.get_by_role("link", name="Review the changes").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}/review$"))
    changes = page.locator("#changes tbody tr")
    expect(changes.first).to_be_visible()
    everything = changes.count()
    page.get_by_label("Entity", exact=True).select_option("user")
    page.get_by_label("Change", exact=True).select_option("update")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"entity=user&action=update"))
    updates = page.locator('#changes tbody tr[data-change="update"]')
    expect(updates.first).to_be_visible()
    assert updates.count() == changes.count() < everything
    first = updates.first
    expect(first.locator("del").first).to_be_visible()
    expect(first.locator("ins").first).to_be_visible()
    assert first.locator("del").first.inner_text() != first.locator("ins").first.inner_text()
    assert_accessible(page, "review page filtered to user updates")
    screenshot(page, "held-run-review")

    # by id: one row
    external_id = first.locator("code").inner_text()
    page.get_by_label("Id, name or email contains").fill(external_id)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#changes tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="Download all (CSV)")).to_have_attribute("href", re.compile("changes.csv$"))

    # approve, confirmed with the counts it applies
    page.get_by_role("button", name="Approve and apply…").click()
    dialog = page.get_by_role("dialog", name="Apply these changes?")
    expect(dialog).to_be_visible()
    counts = dialog.locator("[data-confirm-counts]").inner_text()
    assert re.search(r"\d+ update", counts), counts
    expect(dialog.get_by_role("button", name=f"Approve: {counts}")).to_be_visible()
    assert_accessible(page, "approve confirmation")
    screenshot(page, "held-run-approve-confirmation", full_page=False)
    dialog.get_by_role("button", name=f"Approve: {counts}").click()
    page.wait_for_url(re.compile(rf"/providers/{provider_id}$"))
    expect(page.locator("#toasts")).to_contain_text("Approved")
    wait_until(lambda: _status(stack, provider_id) == "SUCCESS", timeout=120, what="the approved run")
    with stack.connect() as conn:
        runs = conn.execute(
            text("SELECT status, options FROM sis_sync_runs WHERE provider_id = :p ORDER BY requested_at"),
            {"p": provider_id},
        ).all()
    assert [r.status for r in runs] == ["SUCCESS", "SUCCESS"]
    assert runs[1].options["approvedBy"]
    page.reload()
    expect(page.locator("#held-run")).to_have_count(0)
