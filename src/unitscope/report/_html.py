"""The page: static HTML for text (every user string escaped), inlined CSS, JS and data."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from html import escape as _escape
from importlib import resources
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from .._version import __version__
from ._document import Document, Figure, Section
from ._encode import encode, script_json


def csp_hash(text: str) -> str:
    """The Content-Security-Policy source that allows exactly the inline ``text`` (the
    contents of one ``<script>`` or ``<style>`` element): its sha256, base64-encoded.

    >>> csp_hash("")
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
    """
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(script: str, style: str) -> str:
    """The page's policy: no network at all (only data:/blob: images), and of inline code only
    the page's own script and style sheet, allowed by hash. Markup that escaping ever let
    through stays inert: an injected ``<script>``, ``onerror=`` handler or ``style=``
    attribute is refused by the browser. (Styles set from the script, ``el.style.x = ...``,
    are allowed; the page writes no ``style`` attribute.)
    """
    return (
        f"default-src 'none'; script-src {csp_hash(script)}; style-src {csp_hash(style)}; "
        "img-src data: blob:"
    )


def escape(text: str) -> str:
    """HTML-escape ``text``; also write ``://`` as ``:&#47;&#47;`` so that no address a user
    string holds (a claim citing a paper, say) appears as a URL in the file, while the page
    still shows it as typed.

    >>> escape("<b> see https://x.org")
    '&lt;b&gt; see https:&#47;&#47;x.org'
    """
    return _escape(text).replace("://", ":&#47;&#47;")


FINDINGS_LINK = '<a href="#findings">Findings</a>'


def asset(name: str) -> str:
    """The text of a packaged asset (``report.js`` or ``report.css``)."""
    text = resources.files("unitscope.report").joinpath(name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower() or "://" in text:
        raise UnitscopeError(
            f"asset {name!r} must not contain a closing script/style tag or an address."
        )
    return text


def fmt(value: Any) -> str:
    """A number or short value as display text (4 significant digits)."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        shown = ", ".join(fmt(v) for v in value[:8])
        return f"[{shown}{', …' if len(value) > 8 else ''}]"
    if value is None:
        return "–"
    return str(value)


def _flat(numbers: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in numbers.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_flat(value, name + "."))
        else:
            rows.append((name, value))
    return rows


def _numbers(numbers: Mapping[str, Any], thresholds: Mapping[str, Any]) -> str:
    """The measured numbers beside their thresholds; folded away when there are many."""
    measured, limits = dict(_flat(numbers)), dict(_flat(thresholds))
    names = list(measured) + [k for k in limits if k not in measured]
    if not names:
        return ""
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(fmt(measured[k])) if k in measured else ''}</td>"
        f"<td>{escape(fmt(limits[k])) if k in limits else ''}</td></tr>"
        for k in names
    )
    table = (
        '<table class="numbers"><tr><th>number</th><th>measured</th><th>threshold</th></tr>'
        f"{rows}</table>"
    )
    if len(names) <= 6:
        return table
    return (
        f"<details><summary>the {len(names)} numbers behind the verdict</summary>{table}</details>"
    )


def _finding(f: dict[str, Any], titles: dict[str, str]) -> str:
    verdict = escape(f["verdict"])
    links = ", ".join(
        f'<a href="#fig-{escape(r)}">{escape(titles.get(r) or r)}</a>' for r in f["figures"]
    )
    evidence = f'<p class="figlinks">Evidence: {links}</p>' if links else ""
    return (
        f'<article class="finding v-{verdict}"><div class="finding-head">'
        f'<span class="badge v-{verdict}">{verdict}</span>'
        f'<h3>{escape(f["claim"])}</h3><span class="study">{escape(f["study"])}</span></div>'
        f'<p class="summary">{escape(f["summary"])}</p>{_checks(f)}'
        f"{_numbers(f['numbers'], f['thresholds'])}{evidence}</article>"
    )


def _interval_text(iv: Mapping[str, Any]) -> str:
    level = float(iv.get("level", 0.95))
    if iv.get("method") == "exact":
        return f"{fmt(iv.get('value'))} (exact)"
    return (
        f"{fmt(iv.get('value'))} [{fmt(iv.get('lo'))}, {fmt(iv.get('hi'))}] "
        f"{level:.0%} {iv.get('method', '')}, n={fmt(iv.get('n'))}"
    )


def _checks(f: Mapping[str, Any]) -> str:
    """The three things that make a verdict believable: the intervals over seeds, the
    control's verdict and the premise, plus why the verdict differs from the measured one."""
    rows = [
        f"<tr><th>interval: {escape(name)}</th><td>{escape(_interval_text(iv))}</td></tr>"
        for name, iv in f.get("interval", {}).items()
    ]
    control, premise = f.get("control"), f.get("premise")
    if control:
        cv = escape(str(control.get("verdict", "")))
        rows.append(
            f'<tr><th>control</th><td><span class="badge v-{cv}">{cv}</span> '
            f"{escape(str(control.get('what', '')))}</td></tr>"
        )
    else:
        rows.append("<tr><th>control</th><td>none was run</td></tr>")
    if premise:
        holds = "holds" if premise.get("holds") else "fails"
        rows.append(
            f'<tr><th>premise</th><td><span class="premise p-{holds}">{holds}</span> '
            f"{escape(str(premise.get('what', '')))}</td></tr>"
        )
    else:
        rows.append("<tr><th>premise</th><td>not measured</td></tr>")
    if f.get("reason"):
        rows.append(
            f"<tr><th>measured verdict</th><td>{escape(str(f.get('measured_verdict')))}: "
            f"{escape(str(f['reason']))}</td></tr>"
        )
    return f'<table class="checks">{"".join(rows)}</table>'


def _table_body(fig: Figure) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in fig.data["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(fmt(v))}</td>" for v in row) + "</tr>"
        for row in fig.data["rows"]
    )
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure(fig: Figure) -> str:
    fid, kind = escape(fig.id), escape(fig.kind)
    body = _table_body(fig) if fig.kind == "table" else ""
    title = escape(fig.title or fig.id)
    return (
        f'<figure class="fig k-{kind}" id="fig-{fid}" data-fig="{fid}" data-kind="{kind}">'
        f'<div class="fig-head"><h3><a href="#fig-{fid}">{title}</a></h3>'
        f'<span class="tools"></span></div><div class="fig-body">{body}</div>'
        f"<figcaption>{escape(fig.caption)}</figcaption></figure>"
    )


def _section(i: int, s: Section) -> str:
    intro = f'<p class="intro">{escape(s.intro)}</p>' if s.intro else ""
    figs = "".join(_figure(f) for f in s.figures)
    return f'<section class="sec" id="sec-{i}"><h2>{escape(s.title)}</h2>{intro}{figs}</section>'


def _meta(meta: Mapping[str, Any]) -> str:
    items = "".join(
        f"<dt>{escape(str(k))}</dt><dd>{escape(v if isinstance(v, str) else json.dumps(v))}</dd>"
        for k, v in meta.items()
    )
    return f'<dl class="meta">{items}</dl>' if items else ""


def _timeline(steps: list[int]) -> str:
    if not steps:
        return ""
    return (
        '<div class="timeline" id="timeline"><button type="button" id="tl-play" '
        'title="play / pause (space)">&#9654;</button>'
        f'<input type="range" id="tl-slider" min="0" max="{len(steps) - 1}" '
        f'value="{len(steps) - 1}" step="1" aria-label="checkpoint">'
        '<span id="tl-step"></span><span class="hint">&#8592; &#8594; move one checkpoint, '
        "space plays</span></div>"
    )


def timeline_steps(doc: Document) -> list[int]:
    """Sorted union of the steps of every figure that follows the timeline."""
    steps: set[int] = set()
    for fig in doc.figures():
        if fig.data.get("steps") is not None:
            steps.update(int(s) for s in np.asarray(fig.data["steps"]).tolist())
    return sorted(steps)


def page(doc: Document, findings: list[dict[str, Any]]) -> str:
    """The whole HTML document as text."""
    titles = {f.id: f.title for f in doc.figures()}
    steps = timeline_steps(doc)
    payload = {
        "timeline": steps,
        "figures": {
            f.id: {"kind": f.kind, "title": f.title, "data": encode(dict(f.data))}
            for f in doc.figures()
            if f.kind != "table"
        },
    }
    toc = "".join(f'<a href="#sec-{i}">{escape(s.title)}</a>' for i, s in enumerate(doc.sections))
    cards = "".join(_finding(f, titles) for f in findings)
    found = (
        f'<section class="sec" id="findings"><h2>Findings</h2>{cards}</section>' if cards else ""
    )
    script, style = asset("report.js"), asset("report.css")
    csp = content_security_policy(script, style)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(doc.title)}</title><style>{style}</style></head><body>"
        f'<header class="top"><h1>{escape(doc.title)}</h1>'
        f'<p class="sub">unitscope {escape(__version__)} report: offline, every number is also '
        f"in results.json.</p>{_meta(doc.meta)}"
        f'<nav class="toc">{FINDINGS_LINK if cards else ""}{toc}</nav>'
        f"</header>{_timeline(steps)}<main>{found}"
        f"{''.join(_section(i, s) for i, s in enumerate(doc.sections))}</main>"
        '<div id="detail" class="detail" hidden></div>'
        '<noscript><p class="warn">The figures need JavaScript.</p></noscript>'
        f'<script type="application/json" id="us-data">{script_json(payload)}</script>'
        f"<script>{script}</script></body></html>\n"
    )
