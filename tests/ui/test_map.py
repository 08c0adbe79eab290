"""The embedding map: points drawn on a canvas, coloured by a field, text on hover, and the
last search's query marked."""

from playwright.sync_api import Page, expect

from tests.helpers import ServerProcess
from tests.ui.conftest import goto

POINTS = "() => import('/ui/map.js').then(m => m.screenPoints())"
QUERY = "() => import('/ui/map.js').then(m => m.queryPosition())"
PIXEL = """([x, y]) => {
  const canvas = document.getElementById('map');
  const r = window.devicePixelRatio || 1;
  return Array.from(canvas.getContext('2d').getImageData(Math.round(x * r), Math.round(y * r),
    1, 1).data);
}"""


def test_the_map_draws_a_point_per_chunk_coloured_by_a_field(
    server: ServerProcess, library: str, page: Page
) -> None:
    goto(page, server.url, "search", library)
    page.get_by_role("tab", name="Map").click()
    canvas = page.get_by_role("img", name="Embedding map")
    expect(canvas).to_have_attribute("data-points", "25")
    points = page.evaluate(POINTS)
    assert len(points) == 25
    for point in points[:5]:
        assert page.evaluate(PIXEL, [point["x"], point["y"]])[3] > 0  # painted there
    page.get_by_role("combobox", name="Colour by").select_option("lang")
    legend = page.get_by_role("list", name="Legend").get_by_role("listitem")
    expect(legend).to_have_text(["en", "fr"])
    expect(page.locator("#map-caption")).to_contain_text("25 of 25 chunks")


def test_hovering_a_point_shows_its_text_and_the_arrow_keys_step_through_points(
    server: ServerProcess, library: str, page: Page
) -> None:
    goto(page, server.url, "map", library)
    canvas = page.get_by_role("img", name="Embedding map")
    expect(canvas).to_have_attribute("data-points", "25")
    target = next(p for p in page.evaluate(POINTS) if p["id"] == "engine")
    canvas.hover(position={"x": target["x"], "y": target["y"]})
    tip = page.get_by_role("tooltip")
    expect(tip).to_contain_text("oil change every ten thousand")
    page.mouse.move(1, 1)
    expect(tip).to_be_hidden()
    canvas.focus()
    page.keyboard.press("ArrowRight")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("cat")  # the first point: the first chunk stored


def test_after_a_search_the_query_is_marked_on_the_map(
    server: ServerProcess, library: str, page: Page
) -> None:
    goto(page, server.url, "search", library)
    page.get_by_role("searchbox", name="Search", exact=True).fill("engine oil")
    results = page.get_by_role("list", name="Results", exact=True).get_by_role("listitem")
    expect(results.first).to_be_visible()
    page.get_by_role("tab", name="Map").click()
    expect(page.locator("#map-caption")).to_contain_text("marks the query “engine oil”")
    at = page.evaluate(QUERY)
    red, green, _, alpha = page.evaluate(PIXEL, [at["x"], at["y"]])
    assert alpha > 0 and red > green  # the marker's colour
