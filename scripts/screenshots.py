"""Regenerate the screenshots of the web page's main views into docs/.

Starts `semsearch serve` on a temporary data folder (or uses --url), loads a small demo
collection, and drives Debian's chromium through Playwright:

    .venv/bin/python scripts/screenshots.py            # docs/ui-*.png
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8000 --out /tmp/shots
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
DEMO = [
    ("cats", "The cat sat on the mat. It purred all afternoon in the sun.", "pets", 2021),
    ("dogs", "A dog barked at the mailman every morning, then slept by the door.", "pets", 2022),
    ("fish", "Goldfish swim in slow circles in a small glass bowl.", "pets", 2020),
    ("parrot", "The parrot repeats every word it hears, mostly the rude ones.", "pets", 2023),
    ("oil", "The car engine needs an oil change every ten thousand kilometres.", "cars", 2019),
    ("tyres", "Winter tyres grip better on snow and ice than summer tyres.", "cars", 2021),
    ("brakes", "Squealing brakes usually mean the pads are worn thin.", "cars", 2022),
    ("bread", "Knead the dough for ten minutes, then let it rise for an hour.", "cooking", 2020),
    ("soup", "A good soup starts with onions softened slowly in butter.", "cooking", 2023),
    ("rice", "Rinse the rice until the water runs clear before cooking it.", "cooking", 2021),
    ("tea", "Green tea tastes bitter when the water is too hot.", "cooking", 2022),
    ("rain", "Heavy rain is expected tomorrow afternoon across the coast.", "weather", 2023),
    ("snow", "Snow fell overnight and closed the mountain roads.", "weather", 2022),
    ("heat", "A heat wave pushed temperatures past forty degrees.", "weather", 2021),
]

FARTHEST_FROM_QUERY = """() => import('/ui/map.js').then(m => {
  const q = m.queryPosition();
  const d = (p) => (p.x - q.x) ** 2 + (p.y - q.y) ** 2;
  const p = m.screenPoints().reduce((a, b) => (d(b) > d(a) ? b : a));
  return {x: p.x, y: p.y};
})"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        sys.exit("chromium is not installed: apt-get install chromium")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served() -> Iterator[str]:
    """A fresh service on a temporary data folder."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "SEMSEARCH_UPLOAD_ASYNC_BYTES": "0"}
        cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--data-dir", str(Path(tmp) / "data")]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def seed(url: str) -> None:
    docs = [
        {"id": i, "text": t, "metadata": {"topic": topic, "year": year}}
        for i, t, topic, year in DEMO
    ]
    httpx.delete(f"{url}/collections/demo")
    r = httpx.post(f"{url}/collections/demo/documents", json={"documents": docs}, timeout=120)
    r.raise_for_status()


def view(page: Page, url: str, name: str) -> None:
    page.goto(f"{url}/ui#{name}")
    page.get_by_role("combobox", name="Collection", exact=True).select_option("demo")


def shoot(page: Page, out: Path, name: str) -> None:
    page.screenshot(path=str(out / f"ui-{name}.png"), full_page=True)
    print(out / f"ui-{name}.png")


def search(page: Page, url: str) -> None:
    view(page, url, "search")
    page.get_by_role("searchbox", name="Search", exact=True).fill("my pet is sleeping")
    page.get_by_role("list", name="Results", exact=True).get_by_role("listitem").first.wait_for()


def views(page: Page, url: str, out: Path, suffix: str = "") -> None:
    search(page, url)
    shoot(page, out, f"search{suffix}")
    if suffix:
        return
    page.get_by_role("tab", name="Map", exact=True).click()
    page.get_by_role("combobox", name="Colour by", exact=True).select_option("topic")
    page.wait_for_function("document.getElementById('map').dataset.points > 0")
    far = page.evaluate(FARTHEST_FROM_QUERY)  # its text on hover, clear of the query's mark
    page.get_by_role("img", name="Embedding map").hover(position=far)
    shoot(page, out, "map")
    view(page, url, "ask")
    page.get_by_role("textbox", name="Question", exact=True).fill("What does a cat do all day?")
    page.get_by_role("spinbutton", name="Max new tokens").fill("40")
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_selector("#answer[data-state=done]", timeout=180_000)
    shoot(page, out, "ask")
    view(page, url, "documents")
    page.get_by_role("button", name="Open document cats").click()
    page.get_by_role("article", name="Document").wait_for()
    shoot(page, out, "documents")
    view(page, url, "collections")
    page.get_by_role("table", name="Collections").get_by_role("row").nth(1).wait_for()
    shoot(page, out, "collections")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running service (default: start one)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    variants = [(LAPTOP, "light", ""), (LAPTOP, "dark", "-dark"), (PHONE, "light", "-phone"),
                (PHONE, "dark", "-phone-dark")]  # fmt: skip
    with served() if args.url is None else nullcontext(args.url) as url:
        seed(url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium())
            for size, scheme, suffix in variants:
                page = browser.new_page(viewport=size, color_scheme=scheme)
                views(page, url, args.out, suffix)
                page.close()
            browser.close()


if __name__ == "__main__":
    main()
