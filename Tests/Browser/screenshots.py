"""Makes the README's screenshots (docs/ui-jobs.png, docs/ui-job-cancel.png, docs/ui-phone.png)
from a real jobsd running a few representative jobs. Not a test: run it by hand after a UI change,
with JOBSD_BIN set (scripts/browser-test.sh shows how), and look at the pictures.
Usage: python3 Tests/Browser/screenshots.py [OUTPUT_DIR]   (default: docs/ of the repository)"""

import os
import sys
import tempfile

from selenium.webdriver.common.by import By

from harness import Jobsd, new_browser, wait_for

OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "docs"))


def main():
    os.makedirs(OUT, exist_ok=True)
    gate = os.path.join(tempfile.mkdtemp(prefix="jobsd-shots-"), "go")
    jobsd = Jobsd()
    driver = new_browser(1280, 860)
    try:
        finished = [
            jobsd.submit(command=["sh", "-c", "echo exporting; sleep 0.2"], name="nightly-export", labels={"team": "data"}),
            jobsd.submit(command=["sh", "-c", "echo 'no such table' >&2; exit 3"], name="report-build", labels={"team": "web", "env": "prod"}),
            jobsd.submit(command=["sleep", "5"], name="thumbnail-batch", labels={"team": "media"}, timeout_seconds=0.5, grace_seconds=0.2),
            jobsd.submit(command=["true"], name="cache-warmup"),
        ]
        for job in finished:
            jobsd.wait(job["id"])
        stubborn = jobsd.submit(command=["sh", "-c", "trap 'echo got SIGTERM, ignoring it >&2' TERM; echo indexing; "
                                         "while :; do sleep 0.2; done"], name="reindex-search", labels={"team": "search"},
                                grace_seconds=2)
        running = [
            jobsd.submit(command=["sh", "-c", f'i=0; while [ ! -e "{gate}" ]; do i=$((i+1)); echo "step $i"; sleep 1; done'],
                         name="etl-orders", labels={"team": "data", "env": "prod"}),
            jobsd.submit(command=["sh", "-c", f'while [ ! -e "{gate}" ]; do sleep 0.2; done'], name="backup-db", labels={"team": "ops"}),
        ]
        driver.get(f"{jobsd.base}/ui/#/jobs/{stubborn['id']}")
        wait_for(driver, lambda d: "indexing" in d.find_element(By.ID, "log").text)
        driver.find_element(By.ID, "cancel").click()
        driver.find_element(By.ID, "cancel-confirm").click()
        jobsd.wait(stubborn["id"])
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, '#timeline li[data-type="finished"]')) == 1)
        driver.set_window_size(1280, 1400)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(os.path.join(OUT, "ui-job-cancel.png"))

        driver.set_window_size(1280, 860)
        driver.get(f"{jobsd.base}/ui/#/jobs")
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr[data-id]")) == len(finished) + 1 + len(running))
        wait_for(driver, lambda d: "live" in d.find_element(By.ID, "live").text)
        driver.find_element(By.ID, "submit-command").send_keys("""sh -c 'echo "hello, $WHO"'""")
        driver.find_element(By.ID, "submit-env").send_keys("WHO=world")
        driver.save_screenshot(os.path.join(OUT, "ui-jobs.png"))

        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        driver.get(f"{jobsd.base}/ui/#/jobs")
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "tr[data-id]"))
        driver.save_screenshot(os.path.join(OUT, "ui-phone.png"))
        open(gate, "w").close()
    finally:
        driver.quit()
        jobsd.stop()
    print(f"wrote {OUT}/ui-jobs.png, ui-job-cancel.png, ui-phone.png")


if __name__ == "__main__":
    main()
