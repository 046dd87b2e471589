"""The browser tests' fixtures: a real jobsd process (port 0 on loopback, a temporary data dir,
real processes and SQLite) and headless Chromium from Debian driven by Selenium.

Nothing here downloads a browser or a driver: Chromium and chromedriver are the Debian packages at
/usr/bin (CHROMIUM / CHROMEDRIVER override), and the driver path is passed explicitly, so Selenium
Manager never runs (SE_OFFLINE=true makes sure of it).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

os.environ.setdefault("SE_OFFLINE", "true")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


class Jobsd:
    """A jobsd process; `stop()` ends it (SIGTERM, then SIGKILL) and removes its data dir."""

    def __init__(self, token=None, extra_args=()):
        binary = os.environ.get("JOBSD_BIN")
        if not binary:
            raise RuntimeError("JOBSD_BIN must name the jobsd binary (scripts/browser-test.sh sets it)")
        self.binary = binary
        self.token = token
        self.extra_args = tuple(extra_args)
        self.data = tempfile.mkdtemp(prefix="jobsd-ui-")
        self.log_path = os.path.join(self.data, "jobsd.log")
        self.log = open(self.log_path, "w")
        self._start(0)

    def _start(self, port):
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSD_")}
        if self.token:
            env["JOBSD_TOKEN"] = self.token
        args = [self.binary, "--host", "127.0.0.1", "--port", str(port), "--data-dir", os.path.join(self.data, "data"),
                "--log-format", "json", "--default-grace", "1s", "--shutdown-timeout", "1s", *self.extra_args]
        self.log.truncate(0)
        self.log.seek(0)
        self.process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = self._wait_for_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_until_ready()

    def restart(self):
        """Stops jobsd (SIGTERM, as an operator would) and starts it again on the same port and
        data dir: every connection to it drops meanwhile."""
        self.process.terminate()
        self.process.wait(timeout=30)
        self._start(self.port)

    def _wait_for_port(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jobsd exited {self.process.returncode}: {self.log_text()}")
            for line in self.log_text().splitlines():
                if "listening" in line:
                    found = re.search(r'"port"\s*:\s*"?(\d+)', line)
                    if found:
                        return int(found.group(1))
            time.sleep(0.05)
        raise RuntimeError(f"jobsd did not report its port: {self.log_text()}")

    def _wait_until_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.05)
        raise RuntimeError("jobsd did not become ready")

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def api(self, method, path, body=None, token=None):
        """(status, decoded JSON body) of an API call with the server's token."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if token or self.token:
            request.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(request, timeout=90) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, (json.loads(text) if text else None)

    def submit(self, **spec):
        status, job = self.api("POST", "/v1/jobs", spec)
        assert status == 201, (status, job)
        return job

    def wait(self, job_id, seconds=60):
        status, job = self.api("GET", f"/v1/jobs/{job_id}?wait={seconds}")
        assert status == 200, (status, job)
        return job

    def count_jobs(self):
        status, page = self.api("GET", "/v1/jobs?limit=1000")
        assert status == 200, (status, page)
        return len(page["jobs"])

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


def new_browser(width=1280, height=900):
    """Headless Chromium with its console and network logged (read with `console_errors` and
    `requested_urls`)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-default-apps", "--disable-extensions", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    return driver


def console_errors(driver):
    """The console messages of level SEVERE since the last call (CSP violations, script errors,
    failed requests)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requests_sent(driver):
    """(url, request headers) of every request the page sent since the last call."""
    sent = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            request = message["params"]["request"]
            sent.append((request["url"], request.get("headers", {})))
    return sent


def wait_for(driver, condition, seconds=30, message=""):
    """Polls `condition(driver)` until it returns a truthy value (the readiness signal the test
    waits for) and returns it. An element replaced while it was read (a live re-render) counts as
    "not yet"."""
    wait = WebDriverWait(driver, seconds, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(condition, message)
