#!/usr/bin/env python3
"""Screenshots of the dashboard's U盘数据 page at 1366x768, for docs/screenshots/: the results of a round of visits
uploaded at once (dashboard_usb.png), and the printable 回执 of one school's bundle (dashboard_usb_receipt.png).

    .venv/bin/python scripts/screenshot_usb_page.py [OUT_DIR]

Needs Debian's chromium and chromium-driver and a Chinese font (fonts-wqy-microhei). Everything is made in a
temporary folder: the real server, three schools whose PCs (real client stores) export bundles, and the bad
files a stick may carry (tests/server/usb_seed.py); a staff member with the ethics permission uploads them all
through the page in headless Chromium. The server's clock is fixed at 2026-11-28 10:00 China time.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import tests.server.conftest  # noqa: E402, F401 (before tests.server.browser, which it imports)
from sync_server.state import get_state  # noqa: E402
from tests.server.browser import HEIGHT, WIDTH, LiveDashboard, _make_app, chromium_driver  # noqa: E402
from tests.server.conftest import MovableClock, serve  # noqa: E402
from tests.server.usb_seed import visit_round  # noqa: E402


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="usb-page-shots-") as tmp:
        folder = Path(tmp)
        clock = MovableClock()
        app = _make_app(f"sqlite:///{folder / 'sync.db'}", folder / "instance", clock)
        server, thread = serve(app)
        url = f"http://127.0.0.1:{server.server_port}"
        made = visit_round(app, url, folder)
        driver = chromium_driver()
        try:
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
            )
            live = LiveDashboard(app, url, clock, folder / "instance")
            live.add_user("wangke", "reviewer", ethics=True)
            live.login(driver, "wangke")
            driver.get(url + "/usb")
            files = [
                made.good[0],
                made.good[1],
                made.revoked,
                made.tampered,
                made.not_a_bundle,
            ]
            driver.find_element(By.ID, "usb-files").send_keys("\n".join(str(p) for p in files))
            driver.find_element(By.ID, "usb-submit").click()
            WebDriverWait(driver, 30).until(
                EC.presence_of_element_located((By.ID, "usb-results-table"))
            )
            shot(driver, out / "dashboard_usb.png")
            driver.find_elements(By.CSS_SELECTOR, "#usb-results-table a.usb-receipt-link")[
                0
            ].click()
            WebDriverWait(driver, 30).until(EC.presence_of_element_located((By.ID, "receipt")))
            shot(driver, out / "dashboard_usb_receipt.png")
        finally:
            driver.quit()
            made.close()
            server.shutdown()
            server.server_close()
            thread.join(5)
            get_state(app).db.close()


def shot(driver: object, path: Path) -> None:
    if not driver.save_screenshot(str(path)):  # type: ignore[attr-defined]
        raise SystemExit(f"could not write {path}")
    print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
