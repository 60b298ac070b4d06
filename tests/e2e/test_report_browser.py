"""The report in a real browser (Debian's headless Chromium): offline, interactive, safe."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from unitscope import report, views
from unitscope.report import Document, Section
from unitscope.train import Config, fit

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
EVIL = '<script>alert(1)</script>"><svg onload=alert(2)> see https://example.org/x'

pytestmark = pytest.mark.browser  # skipped without Chromium (see tests/conftest.py)

SIGNATURE = """(selector) => {
  const c = document.querySelector(selector);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < d.length; i++) h = (h * 31 + d[i]) >>> 0;
  return h;
}"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """Three pages: an MLP on moons, a CNN on digits, and hostile strings everywhere."""
    folder = tmp_path_factory.mktemp("pages")
    mlp = fit(
        Config.from_dict(
            {
                "data": {"name": "moons", "options": {"n_samples": 80}, "n_probe": 32},
                "model": {"hidden": [8]},
                "optim": {"lr": 0.5},
                "train": {"steps": 40, "n_checkpoints": 5},
                "seeds": {"init": [0, 1]},
            }
        )
    )
    cnn = fit(
        Config.from_dict(
            {
                "data": {
                    "name": "digits",
                    "options": {"upsample": 2, "n_samples": 120},
                    "n_probe": 24,
                },
                "model": {"kind": "cnn", "channels": [3, 4]},
                "optim": {"lr": 0.5},
                "train": {"record_maps": True, "steps": 8, "n_checkpoints": 3},
            }
        )
    )
    out = {}
    for name, rec in (("mlp", mlp), ("cnn", cnn)):
        doc = report.recording_document(views.recording_views(rec, resolution=24, n_images=2))
        out[name] = folder / f"{name}.html"
        report.write_report(doc, out[name], results_path=folder / f"{name}.json")
    evil = Document(
        EVIL,
        [
            {
                "claim": EVIL,
                "verdict": "refuted",
                "summary": EVIL,
                "numbers": {EVIL: 1},
                "figures": ["h"],
            }
        ],
        [
            Section(
                EVIL,
                [report.heatmap("h", np.eye(3), caption=EVIL, title=EVIL, row_labels=[EVIL] * 3)],
                intro=EVIL,
            )
        ],
        meta={EVIL: EVIL},
    )
    out["evil"] = folder / "evil.html"
    report.write_report(evil, out["evil"], results_path=folder / "evil.json")
    return out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def open_page(browser, path: Path):
    """Load ``path``; return (page, problems) where problems collects errors and requests."""
    page = browser.new_context(
        accept_downloads=True, viewport={"width": 1280, "height": 900}
    ).new_page()
    problems: list[str] = []
    url = path.as_uri()
    page.on(
        "console", lambda m: problems.append(f"console {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog {d.message}"), d.dismiss()))
    page.on(
        "request",
        lambda r: (
            None
            if r.url == url or r.url.startswith(("data:", "blob:"))
            else problems.append(f"request {r.url}")
        ),
    )
    page.goto(url)
    page.wait_for_selector("body[data-ready]", state="attached", timeout=30000)  # CSP: no eval
    assert page.evaluate("document.body.dataset.ready") == "1"
    return page, problems


@pytest.mark.parametrize("name", ["mlp", "cnn", "evil"])
def test_page_loads_offline_without_errors(browser, pages, name):
    html = pages[name].read_text()
    assert "http://" not in html and "https://" not in html
    page, problems = open_page(browser, pages[name])
    page.mouse.move(400, 400)
    page.wait_for_timeout(100)
    assert problems == []
    assert page.locator("figure.fig .warn").count() == 0


def test_slider_moves_units_boundary_and_loss_cursor(browser, pages):
    page, problems = open_page(browser, pages["mlp"])
    watched = [
        "#fig-units-0 .unit canvas",
        "#fig-units-0 canvas.ug-decision",
        "#fig-curve-loss canvas",
    ]
    before = [page.evaluate(SIGNATURE, s) for s in watched]
    step_before = page.inner_text("#tl-step")
    page.locator("#tl-slider").fill("0")
    assert page.inner_text("#tl-step").startswith("step 0 ") and step_before != "step 0"
    after = [page.evaluate(SIGNATURE, s) for s in watched]
    assert all(a != b for a, b in zip(after, before))
    page.locator("h1").click()
    page.keyboard.press("ArrowRight")
    assert page.locator("#tl-slider").input_value() == "1"
    assert problems == []


def test_screenshot_is_not_blank(browser, pages):
    from PIL import Image

    page, _ = open_page(browser, pages["mlp"])
    image = np.asarray(Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB"))
    assert (image.reshape(-1, 3) < 235).any(axis=1).mean() > 0.03
    assert len(np.unique(image.reshape(-1, 3)[::7], axis=0)) > 100


def test_hostile_strings_stay_text(browser, pages):
    page, problems = open_page(browser, pages["evil"])
    assert page.title() == EVIL and page.inner_text("h1") == EVIL
    assert page.locator("script").count() == 2 and page.locator("main svg").count() == 0
    assert page.evaluate("document.querySelector('.finding h3').textContent") == EVIL
    assert problems == []


def test_enlarge_a_unit_then_export(browser, pages):
    page, problems = open_page(browser, pages["mlp"])
    page.locator("#fig-units-0 .unit").first.click()
    assert page.locator("#detail").is_visible()
    assert "incoming weights" in page.inner_text("#detail")
    page.keyboard.press("Escape")
    assert not page.locator("#detail").is_visible()
    with page.expect_download() as png:
        page.locator("#fig-units-0 button.tool", has_text="PNG").click()
    assert Path(png.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as svg:
        page.locator("#fig-curve-loss button.tool", has_text="SVG").click()
    text = Path(svg.value.path()).read_text()
    assert text.startswith("<svg") and "xmlns=" in text and "polyline" in text
    assert problems == []


def test_timeline_moves_feature_map_evolution(browser, pages):
    page, problems = open_page(browser, pages["cnn"])
    before = page.evaluate(SIGNATURE, "#fig-evolution-0 canvas")
    page.locator("#tl-slider").fill("0")
    assert page.evaluate(SIGNATURE, "#fig-evolution-0 canvas") != before
    assert problems == []


# Markup as it would look had the escaping ever slipped: an inline event handler, an inline
# script and a style attribute, spliced into a written page.
INJECTED = (
    '<img src="x" onerror="window.pwnedByHandler = 1">'
    "<script>window.pwnedByScript = 1</script>"
    '<p id="styled" style="color: rgb(255, 0, 0)">styled</p>'
)
OLD_POLICY = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"


def splice(page: Path, out: Path, policy: str | None = None) -> Path:
    """A copy of ``page`` with INJECTED at the top of <main> (and another policy if given)."""
    html = page.read_text(encoding="utf-8").replace("<main>", "<main>" + INJECTED, 1)
    if policy is not None:
        html = re.sub(
            r'(http-equiv="Content-Security-Policy" content=")[^"]*', r"\g<1>" + policy, html
        )
    out.write_text(html, encoding="utf-8")
    return out


def test_injected_handlers_scripts_and_styles_are_refused_while_the_page_runs(
    browser, pages, tmp_path
):
    page, problems = open_page(browser, splice(pages["evil"], tmp_path / "spliced.html"))
    # the page's own script ran (open_page saw body[data-ready]) and drew its figure
    assert page.locator("#fig-h canvas").count() >= 1
    # its own style sheet applies
    badge = page.evaluate(
        "getComputedStyle(document.querySelector('.badge.v-refuted')).backgroundColor"
    )
    assert badge == "rgb(192, 57, 43)"
    # the injected markup is in the page, and inert
    assert page.locator("main > img[onerror]").count() == 1
    assert page.evaluate("[window.pwnedByHandler, window.pwnedByScript]") == [None, None]
    color = page.evaluate("getComputedStyle(document.getElementById('styled')).color")
    assert color != "rgb(255, 0, 0)"
    refused = [p for p in problems if "violates the following Content Security Policy" in p]
    for what in ("inline event handler", "inline script", "inline style", "the image"):
        assert any(what in p for p in refused), (what, problems)
    blocked_image = f"request {(tmp_path / 'x').as_uri()}"  # reported, then refused (img-src)
    assert set(problems) - set(refused) <= {blocked_image}


def test_control_the_same_injection_runs_under_the_old_unsafe_inline_policy(
    browser, pages, tmp_path
):
    page, _ = open_page(browser, splice(pages["evil"], tmp_path / "old.html", OLD_POLICY))
    assert page.evaluate("[window.pwnedByHandler, window.pwnedByScript]") == [1, 1]
    color = page.evaluate("getComputedStyle(document.getElementById('styled')).color")
    assert color == "rgb(255, 0, 0)"


def test_svg_export_of_a_large_heatmap_uses_no_inline_style(browser, tmp_path):
    values = np.random.default_rng(0).random((60, 60))  # > 2500 cells: drawn as one image
    doc = Document("big", [], [Section("s", [report.heatmap("h", values, caption="c")])])
    report.write_report(doc, tmp_path / "big.html", results_path=tmp_path / "big.json")
    page, problems = open_page(browser, tmp_path / "big.html")
    with page.expect_download() as svg:
        page.locator("#fig-h button.tool", has_text="SVG").click()
    text = Path(svg.value.path()).read_text()
    assert "<image " in text and 'image-rendering="pixelated"' in text and "style=" not in text
    assert problems == []
