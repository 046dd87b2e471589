"""The web UI in a real browser (headless Chromium from Debian, Selenium from PyPI) against a real
jobsd. Run by scripts/browser-test.sh, which the test command (scripts/test.sh) calls. Every wait
is for a signal (a row's state, a line of output, a file the test creates), never a fixed sleep."""

import os
import tempfile
import unittest

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from harness import Jobsd, console_errors, new_browser, requests_sent, wait_for


class BrowserTestCase(unittest.TestCase):
    token = None
    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.jobsd = Jobsd(token=cls.token, extra_args=cls.extra_args)
        try:
            cls.driver = new_browser()
        except Exception:
            cls.jobsd.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.jobsd.stop()

    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="jobsd-ui-scratch-")

    def open(self, fragment=""):
        self.driver.get(f"{self.jobsd.base}/ui/{fragment}")

    def text(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector).text

    def wait_text(self, selector, expected, seconds=30):
        def has_it(d):
            found = d.find_elements(By.CSS_SELECTOR, selector)
            return found and expected in found[0].text
        return wait_for(self.driver, has_it, seconds, f"{selector} never showed {expected!r}")

    def row_state(self, job_id):
        rows = self.driver.find_elements(By.CSS_SELECTOR, f'tr[data-id="{job_id}"]')
        return rows[0].get_attribute("data-state") if rows else None

    def gate(self, name="go"):
        """A file path a job waits for: the test lets the job finish by creating it."""
        return os.path.join(self.scratch, name)

    def fill(self, element_id, value):
        element = self.driver.find_element(By.ID, element_id)
        element.clear()
        element.send_keys(value)


class JobsPageTests(BrowserTestCase):
    def test_the_submit_form_splits_the_command_like_a_shell_and_sends_env_labels_timeout_and_grace(self):
        self.open()
        self.fill("submit-command", """sh -c 'echo "$GREETING, world"; echo oops >&2'""")
        self.fill("submit-name", "form job")
        self.fill("submit-env", "GREETING=hello there\nEMPTY=")
        self.fill("submit-labels", "team=ui")
        self.fill("submit-timeout", "30")
        self.fill("submit-grace", "2")
        self.driver.find_element(By.CSS_SELECTOR, "#submit-form button[type=submit]").click()
        self.wait_text("#submit-message", "Created")
        job_id = self.driver.find_element(By.CSS_SELECTOR, "#submit-message a").text
        job = self.jobsd.wait(job_id)
        self.assertEqual(job["command"], ["sh", "-c", 'echo "$GREETING, world"; echo oops >&2'])
        self.assertEqual((job["state"], job["name"], job["labels"]), ("succeeded", "form job", {"team": "ui"}))
        self.assertEqual((job["timeout_seconds"], job["grace_seconds"]), (30, 2))
        self.assertTrue(self.driver.find_elements(By.CSS_SELECTOR, f'tr[data-id="{job_id}"]'))

    def test_a_400_from_the_server_is_shown_with_its_field_and_nothing_is_created(self):
        self.open()
        before = self.jobsd.count_jobs()
        self.fill("submit-command", "echo never")
        self.fill("submit-timeout", "999999999")
        self.driver.find_element(By.CSS_SELECTOR, "#submit-form button[type=submit]").click()
        self.wait_text("#submit-message", "400")
        self.assertIn("timeout_seconds", self.text("#submit-message"))
        self.assertIsNotNone(self.driver.find_element(By.ID, "submit-timeout").get_attribute("aria-invalid"))
        # A command line the page cannot split never reaches the server.
        self.fill("submit-timeout", "")
        self.fill("submit-command", "echo 'unclosed")
        self.driver.find_element(By.CSS_SELECTOR, "#submit-form button[type=submit]").click()
        self.wait_text("#submit-message", "unclosed ' quote")
        self.assertEqual(self.jobsd.count_jobs(), before)

    def test_the_table_filters_by_state_and_label_and_pages_through_older_jobs(self):
        ours = [self.jobsd.submit(command=["true"], labels={"suite": "filters"}) for _ in range(53)]
        failing = self.jobsd.submit(command=["false"], labels={"suite": "filters", "kind": "bad"})
        other = self.jobsd.submit(command=["false"], labels={"suite": "elsewhere"})
        for job in [*ours, failing, other]:
            self.jobsd.wait(job["id"])
        shown = lambda d: [row.get_attribute("data-id") for row in d.find_elements(By.CSS_SELECTOR, "tr[data-id]")]
        self.open("#/jobs")
        self.fill("filter-label", "suite:filters")
        Select(self.driver.find_element(By.ID, "filter-state")).select_by_value("failed")
        self.driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
        wait_for(self.driver, lambda d: shown(d) == [failing["id"]])
        self.assertIn("state=failed", self.driver.current_url)

        self.open("#/jobs?label=suite:filters&limit=50")
        newest_first = [failing["id"], *reversed([job["id"] for job in ours])]
        wait_for(self.driver, lambda d: shown(d) == newest_first[:50])
        self.driver.find_element(By.LINK_TEXT, "Older →").click()
        wait_for(self.driver, lambda d: shown(d) == newest_first[50:])
        self.assertEqual(self.driver.find_elements(By.LINK_TEXT, "Older →"), [])
        self.driver.find_element(By.LINK_TEXT, "← Newest").click()
        wait_for(self.driver, lambda d: shown(d) == newest_first[:50])

    def test_the_command_line_is_split_into_words_the_way_a_shell_splits_them(self):
        self.open()
        cases = [
            ("echo hello   world", ["echo", "hello", "world"]),
            ("""sh -c 'echo "$HOME"; ls | wc -l'""", ["sh", "-c", 'echo "$HOME"; ls | wc -l']),
            ('printf "%s\\n" "a \\"b\\" \\$c" \'\'', ["printf", "%s\\n", 'a "b" $c', ""]),
            ("a\\ b c'd e'f \"\"", ["a b", "cd ef", ""]),
            ("  ", []),
        ]
        results = self.driver.execute_async_script("""
            const [cases, done] = arguments;
            import('./argv.js').then((m) => done(cases.map(([line]) => m.splitWords(line))));
        """, cases)
        for (line, expected), got in zip(cases, results):
            self.assertEqual(got, expected, line)
        errors = self.driver.execute_async_script("""
            const done = arguments[0];
            import('./argv.js').then((m) => done(["a 'b", 'a "b', 'a\\\\'].map((line) => {
              try { m.splitWords(line); return null; } catch (e) { return e.message; } })));
        """)
        self.assertTrue(all(errors), errors)


class JobPageTests(BrowserTestCase):
    def test_the_log_tail_grows_while_a_job_prints_and_marks_stderr(self):
        gate = self.gate()
        job = self.jobsd.submit(command=["sh", "-c", f'echo to-stderr >&2; i=0; while [ ! -e "{gate}" ]; do i=$((i+1)); echo line $i; sleep 0.2; done; echo done'])
        self.open(f"#/jobs/{job['id']}")
        self.wait_text("#log", "line 2")
        seen = self.text("#log")
        self.wait_text("#log", f"line {seen.count('line') + 3}")
        self.assertEqual(self.jobsd.api("GET", f"/v1/jobs/{job['id']}")[1]["state"], "running")
        self.assertIn("to-stderr", self.driver.find_element(By.CSS_SELECTOR, "#log .err").text)
        open(gate, "w").close()
        self.wait_text("#log", "done")
        self.wait_text(".job-head .state", "succeeded")

class PhoneWidthTests(BrowserTestCase):
    def test_no_page_scrolls_sideways_at_390_px(self):
        long_label = {"very.long.label-key/with-parts": "v" * 120}
        job = self.jobsd.submit(command=["sh", "-c", "echo " + "x" * 400 + "; echo 'a long line of output " * 20 + "'"],
                                name="a-job-with-a-rather-long-name-" * 4, labels=long_label)
        self.jobsd.wait(job["id"])
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
        try:
            for fragment, ready in (("#/jobs", f'tr[data-id="{job["id"]}"]'), (f"#/jobs/{job['id']}", ".fields dd"),
                                    ("#/groups", "table.groups")):
                self.open(fragment)
                wait_for(self.driver, lambda d: d.find_elements(By.CSS_SELECTOR, ready))
                width = self.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
                self.assertLessEqual(width[0], width[1], f"{fragment} scrolls sideways: {width}")
                self.assertEqual(width[1], 390)
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


class AuthTests(BrowserTestCase):
    token = "s3cret-token-for-the-ui"

    def test_the_page_asks_for_the_token_once_says_when_it_is_wrong_and_never_puts_it_in_a_url(self):
        job = self.jobsd.submit(command=["true"])
        self.jobsd.wait(job["id"])
        self.open()
        wait_for(self.driver, lambda d: d.find_element(By.ID, "token-dialog").get_attribute("open") is not None)
        self.fill("token-input", "wrong-token")
        self.driver.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
        self.wait_text("#token-error", "did not accept that token")
        requests_sent(self.driver)  # from here on, every API call must carry the right token
        self.fill("token-input", self.token)
        self.driver.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
        wait_for(self.driver, lambda d: self.row_state(job["id"]) == "succeeded")
        self.assertIsNone(self.driver.find_element(By.ID, "token-dialog").get_attribute("open"))
        self.assertEqual(self.driver.execute_script("return sessionStorage.getItem('jobsd.token')"), self.token)
        self.open(f"#/jobs/{job['id']}")
        self.driver.refresh()  # a new document of this tab: the token is still known, no question
        self.wait_text(".job-head .state", "succeeded")
        self.assertIsNone(self.driver.find_element(By.ID, "token-dialog").get_attribute("open"))
        sent = requests_sent(self.driver)
        api = [(url, headers) for url, headers in sent if "/v1/" in url]
        self.assertTrue(api)
        for url, headers in api:
            authorization = [v for k, v in headers.items() if k.lower() == "authorization"]
            self.assertEqual(authorization, [f"Bearer {self.token}"], url)
        self.assertFalse([url for url, _ in sent if self.token in url or "wrong-token" in url])
        self.assertNotIn(self.token, self.driver.current_url)


if __name__ == "__main__":
    unittest.main(verbosity=2)
