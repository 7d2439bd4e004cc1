// sis-sync admin UI: progressive enhancement of server-rendered pages. Every form also works
// without this file; with it, forms submit in place, live regions poll, dialogs open as modals.
"use strict";

(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // ---- messages -------------------------------------------------------------------------
  // toasts live in the open modal while there is one (a modal sits in the top layer, above
  // anything else on the page); the same message twice shows once
  function toast(message, kind = "success") {
    const box = document.getElementById("toasts");
    if (!box || !message) return;
    const host = document.querySelector("dialog[open]") || document.body;
    if (box.parentElement !== host) host.append(box);
    box.querySelectorAll(".toast").forEach((old) => {
      if (old.dataset.message === message) old.remove();
    });
    const item = document.createElement("div");
    item.className = `toast toast-${kind}`;
    item.dataset.message = message;
    if (kind === "error") item.setAttribute("role", "alert");
    const text = document.createElement("span");
    text.textContent = message;
    item.append(text);
    const close = document.createElement("button");
    close.type = "button";
    close.className = "icon";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => item.remove());
    item.append(close);
    box.append(item);
    // at most three at once: the oldest goes first
    while (box.children.length > 3) box.firstElementChild.remove();
    setTimeout(() => item.remove(), kind === "error" ? 12000 : 6000);
  }

  // a message that outlives the navigation it causes, shown by the next page
  function go(url, message) {
    if (message) sessionStorage.setItem("sis-toast", message);
    location.assign(url);
  }

  function pendingToast() {
    const message = sessionStorage.getItem("sis-toast");
    if (!message) return;
    sessionStorage.removeItem("sis-toast");
    toast(message);
  }

  // ---- requests -------------------------------------------------------------------------
  // the body is taken before the submitter is disabled: a disabled button is left out of a form
  function bodyOf(form, submitter) {
    return new URLSearchParams(new FormData(form, submitter));
  }

  async function post(form, body) {
    // getAttribute: a control named "action" would shadow form.action
    const response = await fetch(form.getAttribute("action"), {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf() },
    });
    let data = {};
    try {
      data = await response.json();
    } catch (_) {
      data = { ok: false, message: `The server answered ${response.status} ${response.statusText}.` };
    }
    if (response.status === 401 && data.login) {
      location.assign(`${data.login}?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
    return data;
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach((el) => {
      el.hidden = true;
      el.textContent = "";
    });
    form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
  }

  // an API field path ("config.sftp.port") -> the error slot beside that input, in the visible part
  function errorSlot(form, field) {
    const scope = field.startsWith("config") ? form.querySelector(".type-settings.active") || form : form;
    let path = field;
    while (true) {
      const slot = [...scope.querySelectorAll(`[data-error-for="${CSS.escape(path)}"]`)].find((el) => !el.closest("[data-inactive]"));
      if (slot) return slot;
      if (!path.includes(".")) break;
      path = path.slice(0, path.lastIndexOf("."));
    }
    return form.querySelector('[data-error-for=""]');
  }

  function showErrors(form, data) {
    let first = null;
    for (const error of data.errors || []) {
      const slot = errorSlot(form, error.field || "");
      if (!slot) continue;
      if (slot.hidden) slot.textContent = error.message;
      else if (!slot.textContent.includes(error.message)) slot.textContent = `${slot.textContent} ${error.message}`;
      slot.hidden = false;
      const input = (slot.closest(".field") || slot.parentElement).querySelector("[data-field]");
      if (input && slot.dataset.errorFor) input.setAttribute("aria-invalid", "true");
      first = first || input || slot;
    }
    if (!(data.errors || []).length) toast(data.message || "That did not work.", "error");
    else toast(data.message, "error");
    return first;
  }

  // ---- inline validation: the browser's own checks of min, max, step and required ---------------
  function checkField(form, input) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(input.dataset.field)}"]`);
    if (!slot) return true;
    const ok = input.checkValidity();
    slot.hidden = ok;
    slot.textContent = ok ? "" : input.validationMessage;
    if (ok) input.removeAttribute("aria-invalid");
    else input.setAttribute("aria-invalid", "true");
    return ok;
  }

  // a field is checked when left; once flagged, on every keystroke, so the message goes as soon as
  // the value is fixed (and the form does not shift under the pointer on its way to "Save")
  function initValidation(form) {
    form.addEventListener("change", (event) => {
      if (event.target.matches("[data-field]")) checkField(form, event.target);
    });
    form.addEventListener("input", (event) => {
      if (event.target.matches('[data-field][aria-invalid="true"]')) checkField(form, event.target);
    });
  }

  function validForm(form) {
    const bad = [...form.querySelectorAll("input[data-field]")].filter((input) => !checkField(form, input));
    if (!bad.length) return true;
    toast(`Please correct the highlighted field${bad.length > 1 ? "s" : ""}.`, "error");
    bad[0].focus();
    return false;
  }

  // ---- parts of the page an answer replaces (a saved form, the settings it changed) ------------
  function applyUpdates(data) {
    for (const [selector, html] of Object.entries(data.replace || {})) {
      const old = document.querySelector(selector);
      if (!old) continue;
      const holder = document.createElement("template");
      holder.innerHTML = html.trim();
      const fresh = holder.content.firstElementChild;
      const focusedId = old.contains(document.activeElement) ? document.activeElement.id : null;
      old.replaceWith(fresh);
      initWithin(fresh);
      if (focusedId) document.getElementById(focusedId)?.focus();
    }
    for (const [selector, text] of Object.entries(data.text || {})) {
      document.querySelectorAll(selector).forEach((el) => (el.textContent = text));
    }
    if (data.title) document.title = data.title;
  }

  // ---- forms that submit in place ---------------------------------------------------------
  // a form with data-confirm="dialog-id" asks first: the dialog's [data-confirm-yes] sends it
  function confirmFirst(form) {
    const dialog = document.getElementById(form.dataset.confirm);
    if (!dialog || form.dataset.confirmed === "1") {
      delete form.dataset.confirmed;
      return false;
    }
    dialog.showModal();
    dialog.querySelector("[data-confirm-no]")?.focus();
    const yes = dialog.querySelector("[data-confirm-yes]");
    yes.onclick = () => {
      dialog.close();
      form.dataset.confirmed = "1";
      form.requestSubmit();
    };
    return true;
  }

  function enhance(form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.dataset.confirm && confirmFirst(form)) return;
      const submitter = event.submitter;
      const body = bodyOf(form, submitter);
      clearErrors(form);
      if (form.matches("[data-validate]") && !validForm(form)) return;
      if (submitter) submitter.disabled = true;
      form.setAttribute("aria-busy", "true");
      try {
        const data = await post(form, body);
        if (!data.ok) {
          const first = showErrors(form, data);
          if (first && first.focus) first.focus();
          return;
        }
        if (data.redirect) {
          go(data.redirect, data.message);
          return;
        }
        toast(data.message);
        if (form.matches("[data-toggle-enabled]")) flipEnabled(form);
        form.closest("dialog")?.close();
        applyUpdates(data);
        refreshAll();
      } catch (err) {
        toast(`Could not reach the server: ${err.message}`, "error");
      } finally {
        if (submitter) submitter.disabled = false;
        form.removeAttribute("aria-busy");
      }
    });
  }

  function flipEnabled(form) {
    const field = form.querySelector('input[name="enabled"]');
    const button = form.querySelector("button");
    const nowEnabled = field.value === "true";
    field.value = nowEnabled ? "false" : "true";
    button.textContent = nowEnabled ? button.dataset.labelOn : button.dataset.labelOff;
    const badge = document.querySelector("[data-enabled-badge]");
    if (badge) {
      badge.textContent = nowEnabled ? "Enabled" : "Disabled";
      badge.className = `badge ${nowEnabled ? "ok" : "off"}`;
    }
  }

  // ---- live regions ------------------------------------------------------------------------
  const regions = new Map();

  function swap(el, html) {
    const focusedId = el.contains(document.activeElement) ? document.activeElement.id : null;
    el.innerHTML = html;
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  async function poll(el) {
    const state = regions.get(el);
    clearTimeout(state.timer);
    let active = el.dataset.liveActive === "true";
    try {
      const response = await fetch(el.dataset.liveSrc, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.redirected && response.url.includes("/login")) {
        location.assign(response.url);
        return;
      }
      if (response.ok) {
        const html = await response.text();
        if (html !== state.html) {
          state.html = html;
          swap(el, html);
        }
        const wasActive = active;
        active = response.headers.get("X-Live-Active") === "true";
        const key = response.headers.get("X-Live-Key");
        el.dataset.liveActive = String(active);
        if (el.dataset.refresh && (wasActive !== active || (state.key && key !== state.key))) {
          document.querySelectorAll(el.dataset.refresh).forEach((target) => regions.has(target) && poll(target));
        }
        if (wasActive !== active) onActivity(active, el);
        state.key = key;
      }
    } catch (_) {
      // offline for a moment: try again on the next tick
    }
    const wait = Number(active ? el.dataset.activeMs : el.dataset.idleMs);
    if (wait) state.timer = setTimeout(() => poll(el), wait);
  }

  function onActivity(active, el) {
    document.querySelectorAll("[data-show-when]").forEach((node) => {
      node.hidden = node.dataset.showWhen !== (active ? "active" : "idle");
    });
    if (!active && el.id === "status") {
      const last = el.querySelector("[data-last-status]");
      toast(`Sync finished: ${last ? last.textContent.trim() : "done"}.`, last && /Failed/.test(last.textContent) ? "error" : "success");
    }
  }

  function refreshAll() {
    regions.forEach((_, el) => poll(el));
  }

  function startLive(el) {
    regions.set(el, { html: null, key: null, timer: null });
    const wait = Number(el.dataset.liveActive === "true" ? el.dataset.activeMs : el.dataset.idleMs);
    if (wait) regions.get(el).timer = setTimeout(() => poll(el), wait);
  }

  // ---- dialogs ---------------------------------------------------------------------------------
  function initDialogs() {
    document.querySelectorAll("dialog.fallback-open").forEach((dialog) => {
      dialog.close();
      dialog.classList.remove("fallback-open");
      dialog.querySelectorAll("[data-close-dialog]").forEach((b) => (b.hidden = false));
    });
    document.querySelectorAll("[data-open-dialog]").forEach((opener) => {
      opener.hidden = false;
      opener.addEventListener("click", (event) => {
        const dialog = document.getElementById(opener.dataset.openDialog);
        if (!dialog) return;
        event.preventDefault();
        dialog.showModal();
        // the first field of the visible step, else the first control
        const first =
          dialog.querySelector("[data-step]:not([hidden]) :is(input:not([type=hidden]), select, textarea):not(:disabled)") ||
          dialog.querySelector("input:not([type=hidden]):not(:disabled), select, textarea, button");
        first?.focus();
      });
    });
    document.addEventListener("click", (event) => {
      const closer = event.target.closest("[data-close-dialog]");
      if (closer) closer.closest("dialog")?.close();
    });
  }

  // ---- schedule preview --------------------------------------------------------------------------
  function initSchedule(fieldset) {
    const target = document.getElementById(fieldset.dataset.previewTarget);
    const cron = fieldset.querySelector('input[name="cron"]');
    let timer = null;
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const choice = fieldset.querySelector('input[name="schedule"]:checked')?.value || "none";
        const params = new URLSearchParams({
          schedule: choice,
          cron: cron.value,
          timezone: fieldset.querySelector('input[name="scheduleTimezone"]').value,
        });
        const response = await fetch(`${target.dataset.previewSrc}?${params}`, { credentials: "same-origin" });
        if (!response.ok) return;
        swap(target, await response.text());
        // a cron error shows once, beside the cron field
        const slot = fieldset.querySelector('[data-error-for="syncSchedule"]');
        const said = target.querySelector("[data-preview-error]");
        if (said && slot) {
          slot.textContent = said.textContent;
          slot.hidden = false;
          cron.setAttribute("aria-invalid", "true");
          said.remove();
        } else if (slot) {
          slot.hidden = true;
          slot.textContent = "";
          cron.removeAttribute("aria-invalid");
        }
      }, 250);
    };
    // typing a cron chooses "Custom"; passing through the field with Tab changes nothing
    cron.addEventListener("input", () => {
      const custom = fieldset.querySelector('input[name="schedule"][value="custom"]');
      if (custom && !custom.checked) {
        custom.checked = true;
        refresh();
      }
    });
    fieldset.addEventListener("input", refresh);
    fieldset.addEventListener("change", refresh);
    if (!target.textContent.trim()) refresh();
  }

  // ---- the provider wizard: add a provider, or edit a saved one's connection ------------------------
  function initWizard(form) {
    const steps = [...form.querySelectorAll("[data-step]")];
    const labels = [...form.querySelectorAll("[data-step-label]")];
    const nav = form.querySelector("[data-wizard-nav]");
    const prev = form.querySelector("[data-prev]");
    const next = form.querySelector("[data-next]");
    const save = form.querySelector("[data-save-button]");
    const result = form.querySelector("[data-test-result]");
    const tz = form.querySelector('input[name="scheduleTimezone"]');
    const editing = form.dataset.wizard === "edit";
    let current = 0;
    // an edit starts from settings that are saved already: a test is due once they change
    let tested = editing;
    form.querySelector("[data-steps]").hidden = false;
    nav.hidden = false;
    if (tz && tz.value === "UTC") tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

    const chosenType = () =>
      form.querySelector('input[name="providerType"]:checked, input[type="hidden"][name="providerType"]')?.value;

    function syncVisibility() {
      const type = chosenType();
      form.querySelectorAll(".type-settings").forEach((block) => {
        const on = block.dataset.type === type;
        block.hidden = !on;
        block.classList.toggle("active", on);
        const source = block.querySelector("[data-source-choice]:checked")?.value;
        block.querySelectorAll("[data-source]").forEach((section) => {
          const shown = on && section.dataset.source === source;
          section.hidden = !shown;
          section.toggleAttribute("data-inactive", !shown);
        });
        block.querySelectorAll("input, select, textarea").forEach((input) => {
          const section = input.closest("[data-source]");
          input.disabled = !on || Boolean(section && section.hidden);
        });
      });
    }

    function show(index) {
      current = index;
      steps.forEach((step, i) => (step.hidden = i !== index));
      labels.forEach((label, i) => {
        if (i === index) label.setAttribute("aria-current", "step");
        else label.removeAttribute("aria-current");
        label.classList.toggle("done", i < index);
      });
      prev.hidden = index === 0;
      next.hidden = index === steps.length - 1;
      if (steps[index].querySelector("[data-summary]")) summarize(steps[index].querySelector("[data-summary]"));
      if (index === steps.length - 1) {
        save.disabled = !tested;
      }
      const first = steps[index].querySelector("input:not([type=hidden]):not(:disabled), select, textarea");
      first?.focus();
    }

    // the review before saving: every setting as entered, secrets as "set" or "not set"
    function summarize(list) {
      list.replaceChildren();
      const add = (term, value) => {
        const row = document.createElement("div");
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = term;
        dd.textContent = value;
        row.append(dt, dd);
        list.append(row);
      };
      const typeInput = form.querySelector('input[name="providerType"]:checked');
      if (typeInput) add("Type", typeInput.closest("label")?.querySelector("strong")?.textContent || typeInput.value);
      add("Name", form.querySelector('input[name="name"]')?.value || "—");
      const block = form.querySelector(".type-settings.active");
      block?.querySelectorAll("input[data-field], select[data-field], textarea[data-field]").forEach((input) => {
        if (input.disabled || input.type === "hidden") return;
        const label = form.querySelector(`label[for="${CSS.escape(input.id)}"]`)?.textContent.replace("*", "").trim() || input.name;
        let value = input.type === "checkbox" ? (input.checked ? "yes" : "no") : input.value.trim();
        if (input.type === "password" || input.tagName === "TEXTAREA") value = value ? "set (hidden)" : editing ? "unchanged" : "not set";
        else if (!value) value = input.placeholder ? `default (${input.placeholder})` : "—";
        add(label, value);
      });
      const choice = form.querySelector('input[name="schedule"]:checked');
      if (choice) {
        const words = choice.closest("label")?.querySelector("span")?.firstChild?.textContent.trim() || choice.value;
        const cron = form.querySelector('input[name="cron"]')?.value;
        add("Schedule", choice.value === "custom" ? `cron ${cron}` : words);
        add("Time zone", form.querySelector('input[name="scheduleTimezone"]')?.value || "UTC");
        add("Enabled", form.querySelector('input[name="enabled"]')?.checked ? "yes" : "no");
      }
    }

    function checkStep(index) {
      clearErrors(form);
      const missing = [];
      if (steps[index].querySelector('input[name="providerType"]') && !chosenType()) {
        missing.push(["providerType", "Choose a provider type."]);
      }
      steps[index].querySelectorAll("[required]").forEach((input) => {
        if (!input.disabled && !input.closest("[hidden]") && !input.value.trim()) {
          missing.push([input.dataset.field, "Required."]);
        }
      });
      // numbers out of their range (an SFTP port of 99999) stop "Next", not the connection test
      steps[index].querySelectorAll('input[type="number"][data-field]').forEach((input) => {
        if (input.disabled || input.closest("[hidden]") || input.checkValidity()) return;
        const v = input.validity;
        const range = input.min && input.max ? `from ${input.min} to ${input.max}` : input.min ? `at least ${input.min}` : `at most ${input.max}`;
        const message = v.rangeOverflow || v.rangeUnderflow ? `Must be ${range}.` : v.stepMismatch || v.badInput ? "Must be a whole number." : input.validationMessage;
        missing.push([input.dataset.field, message]);
      });
      if (!missing.length) return true;
      showErrors(form, { message: "Please complete the highlighted fields.", errors: missing.map(([field, message]) => ({ field, message })) });
      const firstInvalid = steps[index].querySelector('[aria-invalid="true"]');
      firstInvalid?.focus();
      return false;
    }

    function stepOf(node) {
      const step = node.closest("[data-step]");
      return step ? steps.indexOf(step) : current;
    }

    prev.addEventListener("click", () => show(Math.max(0, current - 1)));
    next.addEventListener("click", () => {
      if (checkStep(current)) show(Math.min(steps.length - 1, current + 1));
    });
    form.addEventListener("change", (event) => {
      if (event.target.name === "providerType" || event.target.matches("[data-source-choice]")) syncVisibility();
    });
    form.addEventListener("input", (event) => {
      if (event.target.closest(".type-settings")) {
        tested = false;
        result.textContent = "";
        result.className = "test-result";
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const submitter = event.submitter;
      const action = submitter?.value || "save";
      const body = bodyOf(form, submitter);
      clearErrors(form);
      if (submitter) submitter.disabled = true;
      form.setAttribute("aria-busy", "true");
      if (action === "test") {
        result.className = "test-result busy";
        result.textContent = "Testing the connection…";
      }
      try {
        const data = await post(form, body);
        if (!data.ok) {
          result.className = "test-result";
          result.textContent = "";
          const first = showErrors(form, data);
          if (first) {
            show(stepOf(first));
            first.focus?.();
          }
          return;
        }
        if (action === "test") {
          tested = true;
          save.disabled = false;
          const ok = data.test.success;
          result.className = `test-result ${ok ? "ok" : "bad"}`;
          result.textContent = `${ok ? "Connection works: " : "Connection failed: "}${data.test.message}`;
          save.textContent = ok ? save.dataset.label : "Save anyway";
          return;
        }
        // a form shown as a page (not in a dialog) goes back to where its result shows
        const dialog = form.closest("dialog");
        if (data.redirect || (!dialog && data.next)) {
          go(data.redirect || data.next, data.message);
          return;
        }
        toast(data.message);
        dialog?.close();
        applyUpdates(data);
      } catch (err) {
        toast(`Could not reach the server: ${err.message}`, "error");
      } finally {
        if (submitter) submitter.disabled = false;
        if (!tested) save.disabled = true;
        form.removeAttribute("aria-busy");
      }
    });

    syncVisibility();
    show(0);
  }

  // ---- tabs: the provider page's sections, one at a time (all of them without JavaScript) ------
  function initTabs(nav) {
    const tabs = [...nav.querySelectorAll('[role="tab"]')];
    const panels = tabs.map((tab) => document.getElementById(tab.getAttribute("aria-controls")));
    nav.hidden = false;
    function select(index, focus) {
      tabs.forEach((tab, i) => {
        const on = i === index;
        tab.setAttribute("aria-selected", String(on));
        tab.tabIndex = on ? 0 : -1;
        panels[i].hidden = !on;
      });
      if (focus) tabs[index].focus();
    }
    panels.forEach((panel, i) => {
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tabs[i].id);
      panel.tabIndex = -1;
    });
    tabs.forEach((tab, i) => {
      tab.addEventListener("click", (event) => {
        event.preventDefault();
        select(i, false);
        history.replaceState(null, "", `#${panels[i].id}`);
      });
      tab.addEventListener("keydown", (event) => {
        const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
        if (!(event.key in moves)) return;
        event.preventDefault();
        select((moves[event.key] + tabs.length) % tabs.length, true);
      });
    });
    // the panel the address names, or the one holding the element it names (also when a link
    // on the page changes the address)
    function fromAddress() {
      const target = location.hash.length > 1 ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
      select(Math.max(target ? panels.findIndex((panel) => panel.contains(target)) : 0, 0), false);
    }
    window.addEventListener("hashchange", fromAddress);
    fromAddress();
  }

  // ---- sign-in link: the token travels in the fragment, which never reaches a server log --------
  function initLogin(form) {
    const match = location.hash.match(/^#token=(.+)$/);
    if (!match) return;
    history.replaceState(null, "", location.pathname + location.search);
    form.querySelector("textarea[name=token]").value = decodeURIComponent(match[1]);
    form.submit();
  }

  // the enhancements of the forms in a part of the page (the whole page, or a part put in place)
  function initWithin(root) {
    const all = (selector) => [...(root.matches?.(selector) ? [root] : []), ...root.querySelectorAll(selector)];
    all("form[data-enhance]").forEach(enhance);
    all("form[data-validate]").forEach(initValidation);
    all("[data-schedule]").forEach(initSchedule);
    all("form[data-wizard]").forEach(initWizard);
  }

  document.addEventListener("DOMContentLoaded", () => {
    pendingToast();
    initWithin(document);
    document.querySelectorAll("[data-live-src]").forEach(startLive);
    document.querySelectorAll("form[data-login]").forEach(initLogin);
    initDialogs();
    document.querySelectorAll("[data-tabs]").forEach(initTabs);
  });
})();
