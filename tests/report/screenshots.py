"""Open a `snakemake --report` page in headless Chromium and screenshot its start page and every
result (each figure with its caption, and the claims table), to check the report a reader gets.

    pip install playwright            # a separate tool, not a dependency of the package
    python tests/report/screenshots.py results/smoke/report.html shots/

Uses the system Chromium (Debian: apt-get install chromium), so nothing is downloaded.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(report: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(report.resolve().as_uri())
        page.wait_for_timeout(2000)
        page.screenshot(path=out / "start.png")
        # The report's own index: {category: {subcategory: [files]}}.
        categories = page.evaluate("categories")
        for category, groups in categories.items():
            for file in (f for files in groups.values() for f in files):
                page.goto(report.resolve().as_uri())
                page.wait_for_timeout(1500)
                page.get_by_text(category, exact=True).first.click()
                page.wait_for_timeout(500)
                row = page.locator("tr", has=page.get_by_text(file, exact=True))
                row.locator("[iconname=eye]").click()
                page.wait_for_timeout(1500)
                shot = out / f"{Path(file).stem}.png"
                page.screenshot(path=shot)
                print(f"{category}: {file} -> {shot}")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
