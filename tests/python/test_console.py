"""The web console (docs/console.md) in a real browser: headless Chromium from Debian, driven by
Selenium, against a real ee-cp (--dev) with two real ee-agents (simulator quotes) registered and an
app published, deployed and upgraded by a workflow of the GitHub stand-in (scripts/local_network.py).

It asserts what a person sees on each page, that a hostile string is shown as text, that the
console's answers carry the CSP, and that the browser logged no error; screenshots go to
$EE_BUILD_DIR/test-artifacts/console/. One browser session serves the whole module.

The CP offers GitHub sign-in against the stand-in (its OAuth flow): the last test signs in with
the browser (the real redirects and cookies), reads "My agents" and an owned agent's logs, and
signs out.

Chromium, its driver and Selenium come from scripts/install-deps.sh (test): without them the tests
are skipped, or fail under CI=true.
"""

import os
import shutil
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_network as ln  # noqa: E402
from support import build_dir, missing  # noqa: E402

OWNER, OTHER_OWNER, REPO, APP = "github:org/octo-org", "github:user/mona", "octo-org/hello", "hello"
# A publisher controls its app's description: the console must show it as text, never run it.
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
# The GitHub user who signs in (the stand-in's first, so its default): a member of OWNER's org.
USER, USER_ID, ORG_ID = "octo-dev", 5001, 7001
ADMIN_PASSWORD = "console-test-admin-password"
# A workload log line that is markup: the console must show it as text.
HOSTILE_PATH = "/<img src=x onerror=window.__pwned=3>"
CHROMIUM = os.environ.get("EE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("EE_CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = 20




@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """Two agents of two owners; app 'hello' 1.0.0 deployed on the first, then upgraded to 2.0.0
    (so 1.0.0's deployment is stopped, replaced)."""
    bin_dir = build_dir("ee-cp", "ee-agent") / "cli"
    network = ln.Network(work=tmp_path_factory.mktemp("console"), bin=bin_dir)
    # The OAuth app's callback names the CP's address, so the port is chosen first.
    port = ln.free_port()

    def sign_in_settings(github_url):
        return {"GITHUB_OAUTH_CLIENT_ID": "ee-fake-oauth-client",
                "GITHUB_OAUTH_CLIENT_SECRET": "ee-fake-oauth-secret",
                "GITHUB_OAUTH_REDIRECT_URI": f"http://127.0.0.1:{port}/auth/github/callback",
                "EE_GITHUB_WEB_URL": github_url, "EE_GITHUB_API_URL": github_url,
                "CP_ADMIN_PASSWORD": ADMIN_PASSWORD}

    try:
        network.start_core(cp_listen=f"127.0.0.1:{port}", cp_env=sign_in_settings)
        assert network.cp_url == f"http://127.0.0.1:{port}"
        status, body = ln.call("POST", network.github_url + "/oauth/users", {
            "login": USER, "id": USER_ID, "orgs": [{"login": OWNER.split("/")[-1], "id": ORG_ID}]})
        assert status in (200, 201), body
        first = network.start_agent("vm-console-a", OWNER)
        second = network.start_agent("vm-console-b", OTHER_OWNER)
        network.wait_registered(first)
        network.wait_registered(second)
        mrtd = network.simulator.mr_td.hex()
        token = network.github_token(REPO)
        status, body = ln.call("POST", network.cp_url + "/api/v1/apps", {
            "name": APP, "description": HOSTILE, "source_repo": REPO, "version": "1.0.0",
            "image": ln.image_for(APP, "one"), "mrtd": mrtd}, token)
        assert status == 201, body
        status, body = ln.call("POST", f"{network.cp_url}/api/v1/apps/{APP}/versions", {
            "version": "2.0.0", "image": ln.image_for(APP, "two"), "mrtd": mrtd}, token)
        assert status in (200, 201), body
        status, v1 = network.deploy(REPO, APP, "1.0.0", first.agent_id)
        assert status in (200, 201), v1
        network.wait_running(v1["deployment_id"], timeout=60)
        status, v2 = network.deploy(REPO, APP, "2.0.0", first.agent_id)
        assert status in (200, 201), v2
        network.wait_running(v2["deployment_id"], timeout=60)
        yield {"net": network, "agents": [first, second], "v1": v1["deployment_id"], "v2": v2["deployment_id"]}
    finally:
        network.stop()


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium (PyPI)")
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        missing(f"chromium and its driver ({CHROMIUM}, {CHROMEDRIVER}: Debian's chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # As root in a container Chromium needs --no-sandbox; /dev/shm is small there.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def artifacts():
    path = build_dir("ee-cp", "ee-agent") / "test-artifacts" / "console"
    path.mkdir(parents=True, exist_ok=True)
    return path


def api(net, path):
    status, body = ln.call("GET", net["net"].cp_url + "/api/v1" + path)
    assert status == 200, body
    return body


def wait_css(driver, selector):
    """The element, once the page has rendered it (and is no longer loading)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, selector)))
    WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.ID, "main").get_attribute("aria-busy") is None)
    return driver.find_element(By.CSS_SELECTOR, selector)


def rows(driver, table_id):
    """The table's body as lists of cell texts (what is visible)."""
    from selenium.webdriver.common.by import By

    return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


def headings(driver, table_id):
    from selenium.webdriver.common.by import By

    return [th.text for th in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th")]


def screenshot(driver, path: Path):
    """The whole page: the window is made as tall as the document first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(1000, min(int(height) + 160, 6000)))  # + the window frame
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)


def errors_in_log(driver):
    """What the browser logged as errors, but for the 401 of GET /auth/me, which is how the CP
    answers "nobody is signed in" (the console asks on each load when sign-in is offered)."""
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")
            and not ("/auth/me" in e["message"] and "401" in e["message"])]


def test_the_console_is_served_with_its_security_headers(net):
    url = net["net"].cp_url
    with urllib.request.urlopen(url + "/", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["Cache-Control"] == "no-cache"
        etag = r.headers["ETag"]
        assert etag.startswith('"') and not etag.startswith("W/")
    request = urllib.request.Request(url + "/", headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 304
    with urllib.request.urlopen(url + "/console/main.js", timeout=10) as r:
        assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
        length = int(r.headers["Content-Length"])
    with urllib.request.urlopen(urllib.request.Request(url + "/console/main.js", method="HEAD"), timeout=10) as r:
        assert r.status == 200 and r.read() == b"" and int(r.headers["Content-Length"]) == length
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + "/console/../console/main.js", timeout=10)
    assert e.value.code == 404


def test_the_fleet_shows_every_agent_with_its_status(net, browser, artifacts):
    first, second = net["agents"]
    listed = {a["vm_name"]: a for a in api(net, "/agents")}
    browser.get(net["net"].cp_url + "/")
    wait_css(browser, "#agents tbody tr")
    assert browser.title == "Fleet · easyenclave"
    assert headings(browser, "agents") == ["VM NAME", "STATUS", "OWNER", "NODE SIZE", "DATACENTER", "LAST HEARTBEAT",
                                           "VERIFIED", "TCB", "HEALTH", "DEPLOYMENT"]
    seen = {r[0]: r for r in rows(browser, "agents")}
    assert set(seen) == {"vm-console-a", "vm-console-b"}
    a, b = seen["vm-console-a"], seen["vm-console-b"]
    assert a[1] == "deployed" and b[1] == "idle"
    assert a[2].startswith(OWNER) and b[2].startswith(OTHER_OWNER)
    assert a[3] == "tiny" and a[4] == "local:loopback"
    assert a[5].endswith(" ago")
    assert a[6] == "verified" and b[6] == "verified"
    assert a[7] == listed["vm-console-a"]["tcb_status"]
    assert a[9] == net["v2"][:8]
    from selenium.webdriver.common.by import By
    assert browser.find_element(By.CSS_SELECTOR, "[data-count=agents]").text == "2"
    assert browser.find_element(By.CSS_SELECTOR, "[data-count=deployed]").text == "1"
    assert "easyenclave control plane" in browser.find_element(By.ID, "footer").text
    # Sign-in is offered and nobody is signed in: the links, and no owner page in the menu.
    assert browser.find_element(By.ID, "sign-in").text == "Sign in with GitHub"
    assert browser.find_element(By.ID, "password-sign-in").text == "Admin sign-in"
    assert browser.find_elements(By.ID, "session-user") == []
    assert browser.find_element(By.ID, "sign-in").get_attribute("href") == net["net"].cp_url + "/auth/github"
    assert not browser.find_element(By.ID, "nav-me").is_displayed()
    stale = browser.find_element(By.ID, "agents")
    browser.find_element(By.ID, "refresh").click()
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, WAIT).until(ec.staleness_of(stale))
    wait_css(browser, "#agents tbody tr")
    screenshot(browser, artifacts / "fleet.png")
    assert errors_in_log(browser) == []


def test_an_agents_page_shows_its_checks_and_attestation(net, browser, artifacts):
    from selenium.webdriver.common.by import By

    first = net["agents"][0]
    att = api(net, f"/agents/{first.agent_id}/attestation")
    browser.get(net["net"].cp_url + "/")
    wait_css(browser, "#agents tbody tr")
    browser.find_element(By.LINK_TEXT, "vm-console-a").click()  # as a person would
    wait_css(browser, "#checks tbody tr")
    assert browser.current_url.endswith("#/agents/" + first.agent_id)
    assert browser.find_element(By.ID, "agent-name").text == "vm-console-a"
    checks = {r[0]: r[1:] for r in rows(browser, "checks")}
    assert list(checks) == ["Evidence appraised", "MRTD trusted", "TCB status", "Key bound to the quote",
                            "Policy verdict", "Heartbeat", "Image digest"]
    assert checks["Evidence appraised"][0] == "pass"
    assert checks["MRTD trusted"][0] == "pass"
    assert checks["TCB status"][0] == att["tcb_status"]
    # Recomputed in the browser (WebCrypto): REPORTDATA[32..64) = SHA-256(public key).
    assert checks["Key bound to the quote"][0] == "pass", checks["Key bound to the quote"]
    assert att["report_data"][64:] in checks["Key bound to the quote"][1]
    assert checks["Policy verdict"][0] == "admitted"
    assert checks["Image digest"][0] == "pass"
    record = browser.find_element(By.ID, "attestation").text
    assert att["mrtd"] in record and att["rtmrs"][0] in record and att["appraised_by"] in record
    deployments = rows(browser, "agent-deployments")
    assert [r[2] for r in deployments] == ["running", "stopped"]
    screenshot(browser, artifacts / "agent.png")
    assert errors_in_log(browser) == []


def test_the_catalog_shows_versions_and_measurements_and_a_hostile_string_as_text(net, browser, artifacts):
    from selenium.webdriver.common.by import By

    cp = net["net"].cp_url
    browser.get(cp + "/#/apps")
    wait_css(browser, "#apps tbody tr")
    [row] = rows(browser, "apps")
    assert row[0] == APP and row[1] == HOSTILE and row[2] == "octo-org" and row[3] == REPO
    screenshot(browser, artifacts / "catalog.png")

    browser.find_element(By.LINK_TEXT, APP).click()
    wait_css(browser, "#versions tbody tr")
    assert browser.find_element(By.ID, "app-description").text == HOSTILE
    # Shown as text: no element was made of it, and nothing of it ran.
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main script") == []
    assert browser.execute_script("return window.__pwned === undefined")
    versions = rows(browser, "versions")
    assert [v[0] for v in versions] == ["2.0.0", "1.0.0"]
    mrtd = net["net"].simulator.mr_td.hex()
    assert f"MRTD\n{mrtd}" in versions[0][2]
    assert versions[0][2].count("not pinned") == 4
    assert versions[0][1] == ln.image_for(APP, "two")
    assert versions[0][3] == "any" and "by " + REPO in versions[0][4]
    assert [r[3] for r in rows(browser, "app-deployments")] == ["running", "stopped"]
    screenshot(browser, artifacts / "app.png")
    assert errors_in_log(browser) == []


def test_deployments_show_their_state_history(net, browser, artifacts):
    from selenium.webdriver.common.by import By

    cp = net["net"].cp_url
    browser.get(cp + "/#/deployments")
    wait_css(browser, "#deployments tbody tr")
    listed = rows(browser, "deployments")
    assert [(r[0], r[2], r[4]) for r in listed] == [(net["v2"][:8], "2.0.0", "running"),
                                                   (net["v1"][:8], "1.0.0", "stopped")]
    assert all(r[5] == REPO for r in listed)
    screenshot(browser, artifacts / "deployments.png")

    browser.find_element(By.LINK_TEXT, net["v1"][:8]).click()
    wait_css(browser, "#history li")
    history = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#history li")]
    # Every status v1 took, as the CP recorded it, in order, and the upgrade that replaced it.
    assert "pending" in history[0] and history[0].endswith("requested by " + REPO), history
    statuses = [badge.text for badge in browser.find_elements(By.CSS_SELECTOR, "#history li .badge")]
    assert statuses == ["pending", "deploying", "running", "stopped"], history
    assert any("upgrade requested: " + net["v2"][:8] + f" ({APP} 2.0.0, now running)" in line
               for line in history), history
    stopped = next(line for line in history if "UTCstopped" in line)
    assert "replaced by deployment " + net["v2"] in stopped, history
    screenshot(browser, artifacts / "deployment.png")

    browser.get(cp + f"/#/deployments/{net['v2']}")
    wait_css(browser, "#history li")
    history = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#history li")]
    assert "to replace " + net["v1"][:8] in history[0] and "running" in history[-1]
    assert errors_in_log(browser) == []


def test_unknown_pages_and_records_say_so(net, browser):
    from selenium.webdriver.common.by import By

    cp = net["net"].cp_url
    browser.get(cp + "/#/no-such-page")
    wait_css(browser, "main h1")
    assert browser.find_element(By.CSS_SELECTOR, "main h1").text == "Page not found"
    browser.get(cp + "/#/agents/00000000-0000-4000-8000-000000000000")
    alert = wait_css(browser, "main .error")
    assert "registry.not_found" in alert.text
    # The browser reports the 404 answers it was given, and nothing else.
    errors = errors_in_log(browser)
    assert errors and all("404" in e["message"] for e in errors), errors


def test_signing_in_with_github_shows_my_agents_and_their_logs_and_signing_out_ends_it(net, browser, artifacts):
    """The whole GitHub sign-in in the browser: the console's link, the CP's redirect with its
    state cookie, the stand-in's authorize page (it signs in its first user), the callback's
    session cookie and 303 back to the console; then the owner's pages and signing out."""
    import socket

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    cp = net["net"].cp_url
    first, second = net["agents"]
    # The workload logs each request line: one that is markup reaches the agent's log buffer.
    host, port = first.workload_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"GET {HOSTILE_PATH} HTTP/1.0\r\n\r\n".encode())
        s.recv(4096)

    browser.get(cp + "/")
    wait_css(browser, "#sign-in").click()
    user = WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "session-user"))[0]
    assert user.text == USER
    assert browser.current_url == cp + "/"  # the callback's 303 to the console
    assert browser.find_elements(By.ID, "session-admin") == []  # an owner session
    assert "Sign out" in browser.find_element(By.ID, "session").text
    # The session is a cookie no script can read, and nothing was stored for scripts.
    [cookie] = [c for c in browser.get_cookies() if c["name"] == "ee_session"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    assert [c["name"] for c in browser.get_cookies() if c["name"] == "ee_oauth_state"] == []  # spent, cleared
    assert browser.execute_script("return document.cookie") == ""
    assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0
    screenshot(browser, artifacts / "signed-in.png")

    nav = browser.find_element(By.ID, "nav-me")
    assert nav.is_displayed() and nav.text == "My agents"
    nav.click()
    wait_css(browser, "#my-agents tbody tr")
    assert browser.title == "My agents · easyenclave"
    assert browser.find_element(By.ID, "me-login").text == USER
    # Only the agent of the user's organisation; the other owner's is not listed.
    assert [r[0] for r in rows(browser, "my-agents")] == ["vm-console-a"]
    assert [(r[0], r[4]) for r in rows(browser, "my-deployments")] == [(net["v2"][:8], "running"),
                                                                      (net["v1"][:8], "stopped")]
    screenshot(browser, artifacts / "my-agents.png")

    browser.find_element(By.LINK_TEXT, "vm-console-a").click()
    logs = wait_css(browser, "#agent-logs")
    assert "hello-tdx listening" in logs.text
    assert HOSTILE_PATH in logs.text  # shown as the text it is
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main script") == []
    assert browser.execute_script("return window.__pwned === undefined")
    screenshot(browser, artifacts / "agent-logs.png")
    # Another owner's agent: its public page, without logs.
    browser.get(cp + f"/#/agents/{second.agent_id}")
    wait_css(browser, "#checks tbody tr")
    assert browser.find_elements(By.ID, "agent-logs") == []
    assert "Recent logs" not in browser.find_element(By.ID, "main").text

    browser.find_element(By.ID, "sign-out").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "sign-in"))
    assert browser.find_elements(By.ID, "session-user") == []
    assert not browser.find_element(By.ID, "nav-me").is_displayed()
    assert [c for c in browser.get_cookies() if c["name"] == "ee_session"] == []
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/auth/me', {credentials: 'same-origin'}).then((r) => done(r.status), (e) => done(String(e)));")
    assert status == 401
    # Ended at the CP, not only forgotten by the browser: the old cookie is refused too.
    request = urllib.request.Request(cp + "/auth/me", headers={"Cookie": "ee_session=" + cookie["value"]})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 401
    browser.get(cp + "/#/me")
    assert "Sign in with GitHub" in wait_css(browser, "#me-signed-out").text
    assert errors_in_log(browser) == []


def test_the_admin_password_opens_an_admin_session_that_reads_any_agents_logs(net, browser, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    cp = net["net"].cp_url
    second = net["agents"][1]
    browser.get(cp + "/")
    wait_css(browser, "#password-sign-in").click()
    form = wait_css(browser, "#password-form")
    assert browser.title == "Sign in · easyenclave"
    field = browser.find_element(By.ID, "password")
    assert field.get_attribute("type") == "password"
    field.send_keys("not-the-password")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    problem = WebDriverWait(browser, WAIT).until(
        lambda d: d.find_element(By.ID, "sign-in-problem") if d.find_element(By.ID, "sign-in-problem").is_displayed() else None)
    assert "not the admin password" in problem.text and "cp.login_failed" in problem.text
    assert field.get_attribute("value") == ""  # the field is cleared after each attempt
    assert browser.find_elements(By.ID, "session-user") == []
    # The browser logged the refusal, and nothing else.
    errors = errors_in_log(browser)
    assert len(errors) == 1 and "/admin/login" in errors[0]["message"] and "401" in errors[0]["message"], errors

    field.send_keys(ADMIN_PASSWORD)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    user = WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "session-user"))[0]
    assert user.text == "admin"
    assert browser.find_element(By.ID, "session-admin").text == "admin"
    WebDriverWait(browser, WAIT).until(lambda d: d.current_url == cp + "/#/")
    assert not browser.find_element(By.ID, "nav-me").is_displayed()  # no GitHub identity
    [cookie] = [c for c in browser.get_cookies() if c["name"] == "ee_session"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    assert browser.execute_script("return document.cookie") == ""
    assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0

    # An admin session reads any agent's logs.
    browser.get(cp + f"/#/agents/{second.agent_id}")
    logs = wait_css(browser, "#agent-logs")
    assert "registered agent_id=" + second.agent_id in logs.text
    screenshot(browser, artifacts / "admin-logs.png")
    browser.get(cp + "/#/me")
    assert "no GitHub identity" in wait_css(browser, "#me-signed-out").text

    browser.find_element(By.ID, "sign-out").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "password-sign-in"))
    assert [c for c in browser.get_cookies() if c["name"] == "ee_session"] == []
    request = urllib.request.Request(cp + "/auth/me", headers={"Cookie": "ee_session=" + cookie["value"]})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 401
    assert errors_in_log(browser) == []
