"""`keras_nasnet.html_pages`: the page and table every HTML report is built from."""

import re

import pytest

from keras_nasnet.html_pages import Raw, embedded_image, page, table


def test_table_escapes_text_but_not_raw_cells():
    text = table(
        ["name", "a < b"],
        [["<script>", 3], [Raw("<b>bold</b>"), None]],
        table_id="t",
    )
    assert text.startswith('<table id="t"><tr><th>name</th><th>a &lt; b</th></tr>\n')
    rows = re.findall(r"<tr>(<td>.*?)</tr>", text)
    assert rows == [
        "<td>&lt;script&gt;</td><td>3</td>",
        "<td><b>bold</b></td><td></td>",
    ]
    assert text.endswith("</tr>\n</table>")


def test_table_refuses_a_row_of_another_width():
    with pytest.raises(ValueError, match="row 2 has 1 cells but the header has 2"):
        table(["a", "b"], [[1, 2], [3]])


def test_page_escapes_its_title_and_names_the_command():
    text = page("R&D <1>", ["<p>one</p>", "<p>two</p>"], "keras-nasnet report DIR")
    assert "<title>R&amp;D &lt;1&gt;</title>" in text and "<h1>R&amp;D &lt;1&gt;</h1>" in text
    assert "<code>keras-nasnet report DIR</code> regenerates it" in text
    assert "<p>one</p>\n<p>two</p>" in text
    assert "regenerates" not in page("t", [])


def test_embedded_image_holds_the_file(tmp_path):
    path = tmp_path / "chart.png"
    path.write_bytes(b"\x89PNG-bytes")
    tag = embedded_image(str(path), 'a "chart"')
    assert 'src="data:image/png;base64,iVBORy1ieXRlcw=="' in tag
    assert 'alt="a &quot;chart&quot;"' in tag and 'title="chart.png"' in tag
