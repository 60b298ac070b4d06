"""The page: self-contained, no network references, every user string escaped, data decodable."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib

import numpy as np
import pytest

from unitscope import report
from unitscope._errors import UnitscopeError
from unitscope.report import Document, Figure, Section
from unitscope.report._encode import encode_array, script_json
from unitscope.studies._finding import Control, Finding, Interval, Premise

EVIL = "<script>alert(1)</script> cites http://example.org/paper.pdf"


def decode(d: dict) -> np.ndarray:
    """The page's decoder, in Python: base64, inflate, undo the delta filter."""
    raw = base64.b64decode(d["b64"])
    raw = zlib.decompress(raw) if d["z"] else raw
    dtype = {"u8": np.uint8, "i32": "<i4", "f32": "<f4"}[d["$a"]]
    arr = np.frombuffer(raw, dtype=dtype).reshape(d["shape"]).copy()
    if d["delta"]:
        arr = np.cumsum(arr, axis=-1, dtype=np.uint64).astype(np.uint8)
    return arr


def evil_document() -> Document:
    figs = [
        report.heatmap(
            "h",
            np.eye(2),
            caption=EVIL,
            title=EVIL,
            row_labels=[EVIL, "b"],
            col_labels=["a", EVIL],
            panel_titles=[EVIL],
        ),
        report.lines("l", [0, 1], {EVIL: [1.0, 2.0]}, caption="c", x_label=EVIL),
        report.table("t", [EVIL, "n"], [[EVIL, 1.5]], caption=EVIL),
    ]
    finding = Finding(
        study=EVIL,
        claim=EVIL,
        measured="supported",
        summary=EVIL,
        numbers={EVIL: 1.0},
        thresholds={EVIL: 0.5},
        figures=("h",),
        interval={EVIL: Interval(1.0, 0.5, 1.5, 8)},
        control=Control(EVIL, "refuted", {EVIL: 0.1}),
        premise=Premise(EVIL, True, {EVIL: 1.0}),
    )
    return Document(EVIL, [finding], [Section(EVIL, figs, intro=EVIL)], meta={EVIL: EVIL})


def test_no_network_references_and_a_strict_policy():
    html = report.render_html(evil_document())
    assert "http://" not in html and "https://" not in html
    assert "default-src 'none'" in html
    markup = re.sub(r"<script.*?</script>", "", html, flags=re.S)  # the elements, not the code
    links = re.findall(r"href=(\S+?)[ >]", markup)
    assert links and all(link.startswith('"#') for link in links)
    assert not re.search(r"\ssrc=", markup)


def sha256_source(text: str) -> str:
    """A CSP hash source, written out by hand: 'sha256-' + base64 of the UTF-8 digest."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_policy_allows_only_the_page_own_script_and_style_by_hash():
    html = report.render_html(evil_document())
    policy = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert len(policy) == 1
    directives = dict(d.strip().split(" ", 1) for d in policy[0].split(";"))
    assert "unsafe-inline" not in policy[0] and "unsafe-hashes" not in policy[0]
    assert directives["default-src"] == "'none'"
    # one script that runs (the data block has a type and never runs) and one style sheet
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert len(scripts) == 1 and len(styles) == 1 and "body.dataset.ready" in scripts[0]
    assert directives["script-src"] == sha256_source(scripts[0])
    assert directives["style-src"] == sha256_source(styles[0])
    assert sha256_source(scripts[0] + " ") != directives["script-src"]  # any change is refused
    # the policy refuses style attributes, so neither the page nor its script writes one
    assert not re.search(r"\sstyle=", html)


def test_every_user_string_is_escaped():
    html = report.render_html(evil_document())
    assert html.count("<script") == 2  # the data block and the renderer, nothing else
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    payload = html.split('id="us-data">')[1].split("</script>")[0]
    assert "<" not in payload and "\\u003cscript\\u003e" in payload
    assert json.loads(payload)["figures"]["h"]["data"]["row_labels"][0] == EVIL


def test_script_json_cannot_close_the_script():
    text = script_json({"a": "</script><!--", "b": "&"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!--", "b": "&"}


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(2000, dtype=np.uint8).reshape(4, 500),
        np.linspace(-1, 1, 3000),
        np.arange(-5, 5),
        np.array([True, False]),
        np.zeros((0, 3)),
    ],
)
def test_arrays_survive_the_encoding(arr):
    back = decode(encode_array(arr))
    want = arr.astype(back.dtype)
    np.testing.assert_array_equal(back, want)


def test_encoding_compresses_smooth_images():
    ramp = np.tile(np.arange(64, dtype=np.uint8), (40, 16, 64, 1))
    d = encode_array(ramp)
    assert d["z"] == 1 and d["delta"] == 1 and len(d["b64"]) < ramp.nbytes / 50


def test_write_report_and_results(tmp_path):
    big = report.unit_grid(
        "units",
        [0, 5],
        np.ones((2, 40, 32, 32)),
        extent=(0, 1, 0, 1),
        caption="c",
        measures={"m": np.full((2, 40), np.nan)},
    )
    doc = Document(
        "t",
        [{"claim": "c", "verdict": "mixed", "numbers": {"x": 2}}],
        [Section("s", [big, report.table("tab", ["a"], [[1]], caption="c")])],
    )
    out = report.write_report(doc, tmp_path / "page.html")
    assert out["results"] == str(tmp_path / "results.json") and out["figures"] == 2
    results = json.loads((tmp_path / "results.json").read_text())
    data = results["figures"][0]["data"]
    assert (
        data["values"]["omitted"].startswith("81920 values") and "decode" in results["figures"][0]
    )
    assert data["measures"]["m"][0][0] is None and data["steps"] == [0, 5]
    assert results["findings"][0]["numbers"] == {"x": 2}
    assert (tmp_path / "page.html").stat().st_size == out["bytes"]


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        (
            Document(
                "t",
                sections=[
                    Section("s", [Figure("bad id!", "table", "c", {"columns": [], "rows": []})])
                ],
            ),
            "not a valid anchor",
        ),
        (
            Document("t", sections=[Section("s", [report.table("a", [], [], caption="c")] * 2)]),
            "used twice",
        ),
        (Document("t", [{"claim": "c", "verdict": "true"}]), "verdict must be one of"),
        (Document("t", [{"verdict": "mixed"}]), r"lacks \['claim'\]"),
        (
            Document("t", [{"claim": "c", "verdict": "mixed", "figures": ["nowhere"]}]),
            "links to figure 'nowhere'",
        ),
        (Document("t", [42]), "must be a Finding or a dict"),
    ],
)
def test_document_errors(doc, match):
    with pytest.raises(UnitscopeError, match=match):
        report.render_html(doc)


def test_write_into_a_missing_folder_fails_cleanly(tmp_path):
    with pytest.raises(UnitscopeError, match="does not exist"):
        report.write_report(Document("t"), tmp_path / "no" / "page.html")
    with pytest.raises(UnitscopeError, match="cannot put a set in a report"):
        report.render_html(
            Document(
                "t",
                sections=[
                    Section(
                        "s",
                        [
                            Figure(
                                "x",
                                "lines",
                                "c",
                                {
                                    "x": np.arange(2),
                                    "series": [{"name": "a", "mean": np.ones(2)}],
                                    "extra": {1, 2},
                                },
                            )
                        ],
                    )
                ],
            )
        )


def _card(finding: Finding) -> str:
    html = report.render_html(Document("t", [finding], []))
    return html[html.index('<article class="finding') : html.index("</article>")]


def test_a_finding_card_shows_interval_control_and_premise():
    f = Finding(
        "s", "units stay identical", "supported", "spread 1e-16", {"spread": 1e-16},
        interval={"spread": Interval(1e-16, 5e-17, 2e-16, 8)},
        control=Control("dropout 0.2", "refuted"), premise=Premise("live units", True),
    )  # fmt: skip
    card = _card(f)
    assert "interval: spread" in card and "n=8" in card and "95%" in card
    assert "dropout 0.2" in card and 'badge v-refuted">refuted' in card
    assert 'p-holds">holds</span> live units' in card
    assert "measured verdict" not in card  # nothing overruled the measurement


def test_a_finding_card_says_why_a_verdict_was_overruled():
    f = Finding(
        "s", "units stay identical", "supported", "spread 1e-16", {"spread": 1e-16},
        interval={"spread": Interval(1e-16, 5e-17, 2e-16, 8)},
        control=Control("dropout 0.2", "supported"), premise=Premise("live units", True),
    )  # fmt: skip
    card = _card(f)
    assert 'badge v-inconclusive">inconclusive' in card
    assert "measured verdict</th><td>supported: the control (dropout 0.2) comes out" in card
