"""The screenshot of sagan-explore in the README: the page of a running app in headless Chromium.

    sagan-explore --model export/models/sagan &
    python docs/explore_screenshot.py http://127.0.0.1:8080/ docs/explore_fmnist_recipe.png \
        --click 9,3,16,12 --interpolate 5,5,7,7

Loads the page (every class, seeds 0-7), clicks pixel (x, y) of the image of (class, seed) given by
``--click class,seed,x,y``, interpolates from (seed, class) to (seed, class) given by
``--interpolate seed,class,seed_b,class_b``, and saves the page (the viewport, ``--size``) as PNG. Needs Playwright and
Chromium (``/usr/bin/chromium``, or ``--chromium``), as the browser tests do.
"""

from __future__ import annotations

import argparse

ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def integers(text: str, count: int) -> list[int]:
    values = [int(v) for v in text.split(",")]
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"expected {count} comma-separated integers, got {text!r}")
    return values


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url", help="the app's URL, as sagan-explore printed it")
    p.add_argument("out", help="PNG file to write")
    p.add_argument("--click", type=lambda t: integers(t, 4), default=[9, 3, 16, 12], help="class,seed,x,y")
    p.add_argument("--interpolate", type=lambda t: integers(t, 4), default=[5, 5, 7, 7],
                   help="seed,class,seed_b,class_b")
    p.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium executable")
    p.add_argument("--size", type=lambda t: integers(t, 2), default=[1400, 1760], help="viewport width,height (CSS px)")
    args = p.parse_args()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=ARGS, headless=True)
        width, height = args.size
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(120_000)
        page.goto(args.url)
        page.wait_for_selector("body[data-ready] #grid img")
        seed, label, seed_b, label_b = args.interpolate
        page.fill("#seed-a", str(seed))
        page.select_option("#class-a", str(label))
        page.fill("#seed-b", str(seed_b))
        page.select_option("#class-b", str(label_b))
        page.click("#interpolate")
        page.wait_for_function(f"() => document.querySelector('#frames img')?.alt.startsWith('frame 1') "
                               f"&& document.querySelector('#seed-a').value === '{seed}' && !document.body.dataset.busy")
        label, seed, x, y = args.click
        image = page.locator(f'#grid img[data-label="{label}"][data-seed="{seed}"]')
        box = image.bounding_box()
        size = image.evaluate("(img) => img.naturalWidth")
        page.mouse.click(box["x"] + (x + 0.5) * box["width"] / size, box["y"] + (y + 0.5) * box["height"] / size)
        page.wait_for_selector(f'#attention-view[data-query="{x},{y}"]')
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=args.out)
        browser.close()


if __name__ == "__main__":
    main()
