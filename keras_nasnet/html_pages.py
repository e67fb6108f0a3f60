"""The HTML of the reports (search, comparison, weight sharing): one page style, tables, images.

Every page stands alone: its style is inline and its images are embedded as base64 PNGs, so a
report can be mailed or archived as one file. This module imports nothing of the package, so
any report can use it without loading what the others need.
"""

from __future__ import annotations

import base64
import html
import os
import time
from typing import Iterable, Optional, Sequence


class Raw(str):
    """Text that is already HTML: `table` inserts it as is instead of escaping it."""


def escape(value) -> str:
    """Returns `value` as HTML text: "" for None, a `Raw` as is, anything else escaped str()."""
    if value is None:
        return ""
    if isinstance(value, Raw):
        return str(value)
    return html.escape(str(value))


def table(headers: Sequence, rows: Iterable[Sequence], table_id: Optional[str] = None) -> str:
    """Returns an HTML table: a header row of `headers`, then one row per item of `rows`, one
    line each; cells are escaped (see `escape`), so plain text and numbers need no care.

    Raises:
        ValueError: a row with another number of cells than `headers`.
    """
    lines = []
    for number, row in enumerate(rows, 1):
        row = list(row)
        if len(row) != len(headers):
            raise ValueError(
                f"Table row {number} has {len(row)} cells but the header has {len(headers)}: "
                f"{row!r}."
            )
        lines.append("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>")
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    opening = "<table>" if table_id is None else f'<table id="{html.escape(table_id)}">'
    return f"{opening}<tr>{head}</tr>\n" + "".join(line + "\n" for line in lines) + "</table>"


def embedded_image(path: str, alt: str) -> str:
    """Returns an <img> tag holding the PNG at `path` (base64), so the page stands alone.

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
        f'title="{html.escape(os.path.basename(path))}">'
    )


def page(title: str, body_parts: Iterable[str], command: Optional[str] = None) -> str:
    """Returns a self-contained HTML page in the reports' style: `title` (plain text) as its
    title and heading, then a line saying when it was generated (and which `command`
    regenerates it, when given), then `body_parts` (HTML), one per line."""
    generated = f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by keras-nasnet"
    if command is None:
        generated += "."
    else:
        generated += f" (<code>{html.escape(command)}</code> regenerates it)."
    return _PAGE.format(title=html.escape(title), generated=generated, body="\n".join(body_parts))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1200px; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }}
td:nth-child(2), th:nth-child(2) {{ text-align: left; }}
img {{ max-width: 100%; display: block; margin: 0.5em 0; }}
pre {{ text-align: left; font-size: 0.8em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{generated}</p>
{body}
</body>
</html>
"""
