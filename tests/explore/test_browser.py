"""sagan-explore in a real browser: headless Chromium driven by Playwright against the running app.

What the page displays is read back from the browser (the pixels of the images it shows, drawn into
a canvas, and screenshots of the elements) and compared with the SavedModel's own outputs and with
``sagan-visualize``'s attention pictures, computed here. Chromium is Debian's (``/usr/bin/chromium``,
or ``SAGAN_CHROMIUM``); ``.ci/run`` installs it where it is missing. Playwright starts it headless
with a fresh temporary profile.
"""

import math
import os

import numpy as np
import pytest

from sagan_tf.images import make_grid
from tests.helpers.explore import decode_png, serving
from tests.helpers.numpy_overlay import beta_panel

CHROMIUM = os.environ.get("SAGAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
ZOOM = 3  # grid images: 32 px shown at 96 CSS px (explore.js SAMPLE_SIZE)
QUERY_ZOOM = 8  # the selected image: 256 CSS px
SCALE = 8  # the attention pictures: the app's default for 32 px images
TIMEOUT_MS = 60_000

PIXELS = """(img) => {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  return canvas.toDataURL("image/png");
}"""


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set SAGAN_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, explore_app_url):
    """The page, loaded; after the test: no script error, and no request left the app."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    requested, errors = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(explore_app_url)
    # Ready, and the first grid and interpolation row have both arrived: nothing in flight.
    page.wait_for_selector("body[data-ready]:not([data-busy]) #frames img")
    yield page
    page.close()
    assert not errors, errors
    outside = [url for url in requested if not url.startswith((explore_app_url, "data:"))]
    assert not outside, outside


def shown_image(page, selector: str) -> np.ndarray:
    """The pixels an <img> shows as the browser decoded them (drawn into a canvas at their own size,
    read back losslessly as PNG), (H, W, 1) when grey."""
    rgba = decode_png(page.locator(selector).evaluate(PIXELS))
    assert rgba.shape[-1] == 4 and (rgba[..., 3] == 255).all()
    if (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 1] == rgba[..., 2]).all():
        return rgba[..., :1]
    return rgba[..., :3]


def on_screen(page, selector: str) -> np.ndarray:
    """A screenshot of the element, (H, W, 3). Chromium paints an image at its layout box rounded
    half up to whole pixels; the screenshot is taken there."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    clip = {k: math.floor(box[k] + 0.5) for k in ("x", "y", "width", "height")}
    return decode_png(page.screenshot(clip=clip))[..., :3]


def click_pixel(page, selector: str, x: int, y: int, zoom: int) -> None:
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    page.mouse.click(box["x"] + (x + 0.5) * zoom, box["y"] + (y + 0.5) * zoom)


def test_the_shown_images_are_the_saved_models_for_the_chosen_class_seed_and_truncation(page, explore_reference):
    page.select_option("#class", "3")
    page.fill("#seed", "17")
    page.press("#seed", "Enter")
    page.wait_for_selector('#grid[data-seeds="17,18,19,20,21,22,23,24"] img[data-label="3"]')
    assert page.locator("#grid .grid-row").count() == 1 and page.locator("#grid img").count() == 8
    expected, _ = explore_reference.generate(range(17, 25), [3] * 8)
    for k, seed in enumerate(range(17, 25)):
        np.testing.assert_array_equal(shown_image(page, f'#grid img[data-seed="{seed}"]'), expected[k])
    # What is on screen is that image, each pixel a ZOOM x ZOOM square (pixelated, not smoothed).
    grey = np.repeat(np.repeat(expected[2], ZOOM, axis=0), ZOOM, axis=1)
    np.testing.assert_array_equal(on_screen(page, '#grid img[data-seed="19"]'), np.repeat(grey, 3, axis=-1))

    page.click("#next")
    page.wait_for_selector('#grid[data-seeds="25,26,27,28,29,30,31,32"]')
    expected, _ = explore_reference.generate([30], [3])
    np.testing.assert_array_equal(shown_image(page, '#grid img[data-seed="30"]'), expected[0])

    page.fill("#truncation", "0.6")
    page.press("#truncation", "Enter")
    page.wait_for_function("() => !document.body.dataset.busy")
    truncated, _ = explore_reference.generate([30], [3], 0.6)
    assert np.abs(truncated[0].astype(int) - expected[0].astype(int)).max() > 0  # truncation changed it
    np.testing.assert_array_equal(shown_image(page, '#grid img[data-seed="30"]'), truncated[0])

    with page.expect_download() as download:
        page.click("#grid-download")
    grid, _ = explore_reference.generate(range(25, 33), [3] * 8, 0.6)
    np.testing.assert_array_equal(decode_png(open(download.value.path(), "rb").read()), make_grid(grid, cols=8))


def overlay_reference(ref, seed, label, x, y):
    """``sagan-visualize``'s panel for each layer at (x, y), computed by the numpy reference of the
    attention pictures from the SavedModel's beta."""
    images, out = ref.attention(seed, label)
    return images[0], {
        name: beta_panel(images[0], out[name][0], (x, y), scale=SCALE) for name in ("attention_8", "attention_16")
    }


def test_clicking_a_pixel_shows_each_layers_attention_and_another_pixel_changes_it(page, explore_reference):
    page.select_option("#class", "5")
    # The first grid shows every class, class 5 included: wait for the one-class grid, settled.
    page.wait_for_function("() => !document.body.dataset.busy && document.querySelectorAll('#grid .grid-row').length === 1")
    page.wait_for_selector('#grid img[data-label="5"][data-seed="2"]')
    click_pixel(page, '#grid img[data-label="5"][data-seed="2"]', 6, 21, ZOOM)
    page.wait_for_selector('#attention-view[data-query="6,21"]')
    image, pictures = overlay_reference(explore_reference, 2, 5, 6, 21)
    np.testing.assert_array_equal(shown_image(page, "#attention-image"), image)
    assert page.locator("#layers figure.layer").count() == 2
    first = {}
    for name, expected in pictures.items():
        selector = f'#layers figure[data-layer="{name}"] img.overlay'
        first[name] = shown_image(page, selector)
        np.testing.assert_array_equal(first[name], expected)
        # On screen at its own size, with the query cell outlined: only that outline differs.
        cell = 32 // int(name.split("_")[1])
        top, left = (21 // cell) * cell * SCALE, (6 // cell) * cell * SCALE
        bottom, right = top + cell * SCALE - 1, left + cell * SCALE - 1
        rows, cols = np.nonzero((on_screen(page, selector) != expected).any(axis=-1))
        assert len(rows) > 0
        on_outline = ((rows == top) | (rows == bottom)) & (cols >= left) & (cols <= right)
        on_outline |= ((cols == left) | (cols == right)) & (rows >= top) & (rows <= bottom)
        assert on_outline.all(), (name, rows[~on_outline][:5], cols[~on_outline][:5])
        assert page.locator(f'#layers figure[data-layer="{name}"] .scale img').evaluate("(img) => img.naturalWidth") == 256
    assert "query pixel (6, 21)" in page.inner_text("#attention-caption")

    click_pixel(page, "#attention-image", 25, 4, QUERY_ZOOM)  # another query, on the selected image
    page.wait_for_selector('#attention-view[data-query="25,4"]')
    _, pictures = overlay_reference(explore_reference, 2, 5, 25, 4)
    for name, expected in pictures.items():
        shown = shown_image(page, f'#layers figure[data-layer="{name}"] img.overlay')
        np.testing.assert_array_equal(shown, expected)
        assert (shown != first[name]).any()

    with page.expect_download() as download:
        page.click("#image-download")
    np.testing.assert_array_equal(decode_png(open(download.value.path(), "rb").read()), image)


def test_the_interpolation_row_has_the_frames_asked_for_and_ends_at_the_two_images(page, explore_reference):
    page.fill("#seed-a", "5")
    page.select_option("#class-a", "1")
    page.fill("#seed-b", "8")
    page.select_option("#class-b", "7")
    page.fill("#frames-count", "6")
    page.click("#interpolate")
    page.wait_for_function("() => document.querySelectorAll('#frames img').length === 6 && "
                           "document.querySelector('#frames img').alt.startsWith('frame 1, t = 0')")
    page.wait_for_function("() => !document.body.dataset.busy")
    ends, _ = explore_reference.generate([5, 8], [1, 7])
    assert page.locator("#frames img").count() == 6
    np.testing.assert_array_equal(shown_image(page, "#frames figure:first-child img"), ends[0])
    np.testing.assert_array_equal(shown_image(page, "#frames figure:last-child img"), ends[1])
    middle = shown_image(page, "#frames figure:nth-child(3) img")
    assert min(np.abs(middle.astype(int) - end.astype(int)).max() for end in ends) > 20
    # A frame's attention is that frame's: the selected image is the frame clicked.
    click_pixel(page, "#frames figure:nth-child(3) img", 10, 10, ZOOM)
    page.wait_for_selector('#attention-view[data-query="10,10"]')
    np.testing.assert_array_equal(shown_image(page, "#attention-image"), middle)
    assert "t = 0.400" in page.inner_text("#attention-caption")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("#seed", "abc", "seed must be an integer, got 'abc'"),
        ("#truncation", "-1", "truncation must be >= 1e-06, got '-1'"),
        ("#count", "40", "count must be <= 32, got '40'"),
    ],
)
def test_a_bad_value_shows_one_clear_message_until_it_is_fixed(page, field, value, message):
    page.fill(field, value)
    page.press(field, "Enter")
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message") == message
    page.fill(field, "")
    page.fill("#seed", "1")
    page.fill("#count", "2")
    page.press("#seed", "Enter")
    page.wait_for_selector('#grid[data-seeds="1,2"]')
    assert page.locator("#message").is_hidden()


def test_a_message_stays_when_something_else_loads_and_goes_when_its_cause_is_fixed(page):
    count_message = "count must be <= 32, got '40'"
    page.fill("#count", "40")
    page.press("#count", "Enter")
    page.wait_for_selector("#message:not([hidden])")
    page.fill("#frames-count", "3")
    page.click("#interpolate")  # a request of another kind that succeeds
    page.wait_for_function("() => document.querySelectorAll('#frames img').length === 3")
    page.wait_for_function("() => !document.body.dataset.busy")
    assert page.locator("#message").is_visible() and page.inner_text("#message") == count_message
    page.click("#use-a")  # nothing selected yet: this message replaces the count's
    assert page.inner_text("#message") == "select an image first: click a pixel of a sample"
    click_pixel(page, "#frames figure:first-child img", 3, 3, ZOOM)  # a selection: that message goes
    page.wait_for_selector('#attention-view[data-query="3,3"]')
    assert page.locator("#message").is_hidden()
    page.press("#count", "Enter")  # the grid still asks for 40
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message") == count_message
    page.fill("#count", "2")
    page.press("#count", "Enter")
    page.wait_for_function("() => document.querySelector('#message').hidden && !document.body.dataset.busy")
    assert page.locator("#grid img").count() == 2 * page.locator("#grid .grid-row").count()


def test_the_first_grid_and_row_are_asked_for_in_turn_so_neither_waits_for_the_other(browser, explore_generator):
    """The first grid (every class, 8 seeds each) is larger than the app's image budget and holds all
    of it while it is made: an app that refuses at once what does not fit (``--wait 0``) still shows
    both, because the page asks for the interpolation row when the grid has arrived."""
    from sagan_tf.explore.limits import Limits

    with serving(explore_generator, Limits(wait_seconds=0)) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(url)
            page.wait_for_function("() => document.querySelector('#frames img') || !document.querySelector('#message').hidden")
            page.wait_for_function("() => !document.body.dataset.busy")
            assert page.locator("#message").is_hidden(), page.inner_text("#message")
            rows = page.locator("#grid .grid-row").count()
            assert rows * 8 > Limits().max_images and page.locator("#grid img").count() == rows * 8
            assert page.locator("#frames img").count() == 8
        finally:
            page.close()
