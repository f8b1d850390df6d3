"""The dashboard in a real headless Chromium, driven by Playwright.

Two modes:

  dashboard.py --base URL --token TOKEN
      The browser test (run by the Rust test `browser` in tests/api against a server it
      started): sign in, the matrix, the time slider, approving a request, a deployment
      recorded through the API appearing without a reload, every view, keyboard and phone
      width, and no console error anywhere. Exits 1 with the reason on the first failure.

  dashboard.py --serve BINARY --screenshots DIR
      Starts BINARY on a fresh SQLite database, records a small inventory and ledger through
      the API and writes PNGs of the main views into DIR (`make screenshots`).

Chromium is Debian's (/usr/bin/chromium, or $TERRANE_CHROMIUM); nothing downloads a browser.
"""

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid

from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("TERRANE_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


class Api:
    """The public API, as a script would call it."""

    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base}/api/v1/{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            raise AssertionError(
                f"{method} {path} answered {error.code}: {error.read().decode()}"
            ) from None

    def environment(self, name, order, **extra):
        return self.call("POST", "environments", {"name": name, "orderIndex": order, **extra})

    def component(self, name):
        return self.call("POST", "catalog/components", {"name": name, "kind": "service"})

    def deploy(self, component, environment, version, to="succeeded", finished=None, **extra):
        d = self.call(
            "POST",
            "deployments",
            {
                "componentId": component["id"],
                "environmentId": environment["id"],
                "version": version,
                "deployedBy": "ci-bot",
                **extra,
            },
        )
        if to in ("in_progress", "succeeded", "failed", "rolled_back"):
            d = self.call("PATCH", f"deployments/{d['id']}", {"status": "in_progress"})
        if to in ("succeeded", "failed", "rolled_back"):
            body = {"status": "succeeded" if to == "rolled_back" else to}
            if finished:
                body["finishedAt"] = finished
            d = self.call("PATCH", f"deployments/{d['id']}", body)
        if to == "rolled_back":
            d = self.call("PATCH", f"deployments/{d['id']}", {"status": "rolled_back"})
        return d

    def request(self, name):
        return self.call(
            "POST",
            "environment-requests",
            {"name": name, "type": "ephemeral", "tier": "small", "ttlHours": 8},
        )


def ago(**kwargs):
    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(**kwargs)
    return moment.isoformat().replace("+00:00", "Z")


def browser_context(playwright, width=1280, height=900):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
    context = browser.new_context(viewport={"width": width, "height": height})
    return browser, context


def watch_console(page, errors):
    page.on(
        "console",
        lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))


def sign_in(page, base, token):
    page.goto(base + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Token or service account secret").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Deployment matrix")).to_be_visible()


def cell(page, component, environment):
    return page.locator(f'td[data-component="{component}"][data-environment="{environment}"]')


def set_slider(page, seconds_back):
    """Moves the slider (over its last-10-minutes span: one step a second) `seconds_back`."""
    page.locator("#as-of-span").select_option("600")
    page.locator("#as-of").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }",
        -seconds_back,
    )


def seconds_since(iso):
    return (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds()


def run_test(base, token):
    api = Api(base, token)
    suffix = uuid.uuid4().hex[:6]
    dev = api.environment(f"dev-{suffix}", 1)
    prod = api.environment(f"prod-{suffix}", 2)
    web = api.component(f"web-{suffix}")
    # v1 ran in dev for a few seconds; then v2 replaced it.
    api.deploy(web, dev, "v1.0.0", committedAt=ago(days=3))
    time.sleep(4)
    v2 = api.deploy(web, dev, "v2.0.0", committedAt=ago(hours=5))
    pending = api.request(f"preview-{suffix}")
    assert pending["status"] == "pending", pending

    errors = []
    with sync_playwright() as p:
        browser, context = browser_context(p)
        page = context.new_page()
        watch_console(page, errors)

        # Sign in; the matrix shows what runs now.
        sign_in(page, base, token)
        now_cell = cell(page, web["name"], dev["name"])
        expect(now_cell).to_contain_text("v2.0.0")

        # Back in time: two seconds before v2 succeeded v1 ran there; ten minutes ago
        # nothing did.
        set_slider(page, round(seconds_since(v2["finishedAt"]) + 2))
        expect(page.locator("caption")).to_contain_text("As of")
        expect(now_cell).to_contain_text("v1.0.0")
        set_slider(page, 600)
        expect(now_cell).not_to_contain_text("v1.0.0")
        expect(now_cell).to_contain_text("not deployed")
        # The slider is a keyboard control: End takes it back to now.
        page.locator("#as-of").focus()
        page.keyboard.press("End")
        expect(now_cell).to_contain_text("v2.0.0")

        # A deployment recorded through the API shows up without a reload, within 5 s;
        # one in progress is marked.
        started = time.monotonic()
        api.deploy(web, prod, "v3.0.0")
        expect(cell(page, web["name"], prod["name"])).to_contain_text("v3.0.0", timeout=5000)
        api.deploy(web, dev, "v4.0.0", to="in_progress")
        expect(now_cell.locator(".mark-progress")).to_contain_text("deploying v4.0.0", timeout=5000)
        assert time.monotonic() - started < 10.5, "updates took too long"

        # Approving a pending request.
        page.get_by_role("link", name="Requests").click()
        row = page.locator(f'tr[data-request="preview-{suffix}"]')
        expect(row).to_be_visible()
        row.get_by_role("button", name=re.compile("^Approve")).click()
        expect(page.locator("#request-note")).to_contain_text("approved")
        expect(row).to_have_count(0)
        approved = api.call("GET", f"environment-requests/{pending['id']}")
        assert approved["status"] in ("approved", "provisioning", "active"), approved

        # Every other view renders.
        page.get_by_role("link", name="Environments").click()
        expect(page.locator(f'li[data-environment="{dev["name"]}"]')).to_be_visible()
        page.locator(f'li[data-environment="{dev["name"]}"] h2 a').click()
        expect(page.get_by_role("heading", name="Against the next environment")).to_be_visible()
        expect(page.locator("table.diff")).to_contain_text(web["name"])
        expect(page.locator("dl.dora")).to_contain_text("Deployment frequency")
        page.get_by_role("link", name="Deployments").click()
        expect(page.locator("table.feed")).to_contain_text("v4.0.0")
        page.locator("#f-status").select_option("in_progress")
        expect(page.locator("table.feed")).not_to_contain_text("v3.0.0")
        expect(page.locator("table.feed")).to_contain_text("v4.0.0")
        page.locator("table.feed tbody tr a", has_text="v4.0.0").first.click()
        expect(page.get_by_role("heading", name="Gates")).to_be_visible()
        page.get_by_role("link", name="DORA").click()
        expect(page.locator("#dora dl.dora").first).to_be_visible()

        # Keyboard: the first Tab reaches the skip link.
        page.goto(base + "/#/matrix")
        page.reload()
        expect(page.get_by_role("heading", name="Deployment matrix")).to_be_visible()
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert focused.strip() == "Skip to content", focused

        # Phone width: nothing wider than the screen but the matrix's own scroller.
        page.set_viewport_size({"width": 390, "height": 844})
        for view in ("#/matrix", "#/environments", "#/requests", "#/dora"):
            page.goto(base + "/" + view)
            page.wait_for_timeout(300)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{view} is {overflow}px wider than a phone"

        # Signing out forgets the token.
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("sessionStorage.length") == 0

        browser.close()
    assert not errors, "the console had errors:\n" + "\n".join(errors)
    print("dashboard browser test passed")


def serve(binary):
    """Starts BINARY on a fresh SQLite database: (process, base URL, admin token)."""
    directory = tempfile.mkdtemp(prefix="terrane-screenshots-")
    secret = "terrane-screenshots-secret-of-32-bytes-or-more"
    env = {**os.environ, "TERRANE_JWT_SECRET": secret, "TERRANE_HEALTH_SCHEDULER_INTERVAL_SECS": "0"}
    url = f"sqlite://{directory}/terrane.db"
    tenant, user = str(uuid.uuid4()), str(uuid.uuid4())
    # A ledger spread over three months (the API records only the present).
    subprocess.run(
        [binary, "seed", "--database-url", url, "--tenant", tenant, "--components", "8",
         "--environments", "4", "--deployments", "3000", "--days", "90"],
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--database-url", url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = None
    for line in server.stderr:
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            base = found.group(1)
            break
    if not base:
        server.kill()
        raise SystemExit("terrane did not start")
    token = subprocess.run(
        [binary, "token", "--tenant", tenant, "--subject", user, "--role", "admin", "--database-url", url],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return server, base, token


def run_screenshots(binary, directory):
    server, base, token = serve(binary)
    try:
        api = Api(base, token)
        envs = sorted(api.call("GET", "environments?take=100"), key=lambda e: e["orderIndex"])
        components = api.call("GET", "catalog/components?take=100")["data"]
        api.deploy(components[0], envs[0], "v9.1.0", to="in_progress")
        api.deploy(components[1], envs[1], "v9.0.7", to="rolled_back")
        api.deploy(components[2], envs[0], "v9.2.0-rc1", to="failed")
        api.deploy(components[3], envs[1], "v9.3.0", committedAt=ago(hours=6))
        api.call("POST", f"environments/{envs[-1]['id']}/freeze-windows", {
            "start": ago(hours=1),
            "end": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat().replace("+00:00", "Z"),
            "reason": "quarter-end close",
        })
        api.request("preview-checkout-redesign")
        os.makedirs(directory, exist_ok=True)
        with sync_playwright() as p:
            browser, context = browser_context(p, 1280, 800)
            page = context.new_page()
            sign_in(page, base, token)
            page.wait_for_timeout(500)
            shots = [
                ("matrix", "#/matrix"),
                ("environments", "#/environments"),
                ("environment", f"#/environments/{envs[0]['id']}"),
                ("deployments", "#/deployments"),
                ("requests", "#/requests"),
                ("dora", "#/dora"),
            ]
            for name, view in shots:
                page.goto(base + "/" + view)
                page.wait_for_timeout(700)
                path = os.path.join(directory, f"dashboard-{name}.png")
                page.screenshot(path=path, full_page=True)
                print(f"wrote {path}")
            browser.close()
    finally:
        server.kill()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base")
    parser.add_argument("--token")
    parser.add_argument("--serve")
    parser.add_argument("--screenshots")
    args = parser.parse_args()
    try:
        if args.screenshots:
            run_screenshots(args.serve, args.screenshots)
        else:
            run_test(args.base, args.token)
    except AssertionError:
        traceback.print_exc()
        print("FAILED: the dashboard browser test (traceback above)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
