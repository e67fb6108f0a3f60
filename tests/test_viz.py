import json
import struct
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from keras_nasnet import cli, viz
from keras_nasnet.genotypes import NASNET_A, NASNET_B, NASNET_C, Block, Genotype

SVG = "{http://www.w3.org/2000/svg}"


def png_size(path):
    """(width, height) from the PNG header; fails unless the file starts like a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def svg_texts(path):
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    return ["".join(t.itertext()) for t in root.iter(SVG + "text")]


@pytest.mark.parametrize("name,architecture", [("a", NASNET_A), ("b", NASNET_B), ("c", NASNET_C)])
@pytest.mark.parametrize("cell", ["normal", "reduction"])
def test_plot_cell_writes_a_valid_svg_and_png_naming_every_op(tmp_path, name, architecture, cell):
    genotype = getattr(architecture, cell)
    svg, png = viz.plot_cell(genotype, str(tmp_path / f"{name}_{cell}"), title=cell)
    assert svg.endswith(".svg") and png.endswith(".png")
    width, height = png_size(png)
    assert width > 300 and height > 300
    with Image.open(png) as image:
        image.verify()  # decodes every chunk's checksum
    texts = svg_texts(svg)
    ops = [op for block in genotype.blocks for op in block.ops]
    assert sorted(t for t in texts if t in ops) == sorted(ops)  # one box per op, none missing
    combines = [viz._COMBINE_LABELS[block.combine] for block in genotype.blocks]
    assert sorted(t for t in texts if t in combines) == sorted(combines)
    if genotype.passes_all_states:  # one output per passed-on state, no concat
        assert sorted(t for t in texts if t.startswith(viz.OUTPUT_LABEL)) == [
            f"{viz.OUTPUT_LABEL} #{k}" for k in range(len(genotype.blocks))
        ]
        assert not any(t.startswith("concat →") for t in texts)
    else:
        assert texts.count(f"concat → {viz.OUTPUT_LABEL}") == 1
    assert sorted(
        t for t in texts if t.startswith("hᵢ") and t != viz.OUTPUT_LABEL and " " not in t
    ) == sorted(viz.input_label(i) for i in range(genotype.num_inputs))


def test_plot_cell_draws_the_same_cell_to_the_same_bytes(tmp_path):
    first = viz.plot_cell(NASNET_A.normal, str(tmp_path / "one.svg"), formats=("svg",))[0]
    second = viz.plot_cell(NASNET_A.normal, str(tmp_path / "two.svg"), formats=("svg",))[0]
    assert open(first, "rb").read() == open(second, "rb").read()
    other = viz.plot_cell(NASNET_A.reduction, str(tmp_path / "three.svg"), formats=("svg",))[0]
    assert open(first, "rb").read() != open(other, "rb").read()


def test_plot_cell_accepts_a_dict_and_an_extension(tmp_path):
    genotype = Genotype((Block((0, 1), ("identity", "max_pool_3x3")),))
    written = viz.plot_cell(genotype.to_dict(), str(tmp_path / "cell.png"))
    assert written == [str(tmp_path / "cell.svg"), str(tmp_path / "cell.png")]
    assert "max_pool_3x3" in svg_texts(written[0])


def test_plot_cell_rejects_bad_input_clearly(tmp_path):
    with pytest.raises(TypeError, match="plot_architecture"):
        viz.plot_cell(NASNET_A, str(tmp_path / "x"))
    with pytest.raises(ValueError, match="Unknown op"):
        viz.plot_cell(
            {"blocks": [{"inputs": [0, 1], "ops": ["conv_9x9", "identity"]}]}, str(tmp_path / "x")
        )
    with pytest.raises(ValueError, match="extension '.pdf'"):
        viz.plot_cell(NASNET_A.normal, str(tmp_path / "x.pdf"))
    with pytest.raises(ValueError, match="Unknown image format"):
        viz.plot_cell(NASNET_A.normal, str(tmp_path / "x"), formats=("jpg",))
    with pytest.raises(ValueError, match="Unknown architecture"):
        viz.plot_architecture("nasnet_z", str(tmp_path / "x"))
    assert not list(tmp_path.iterdir())


def test_plot_command_draws_both_cells_of_a_name_or_a_json_file(tmp_path, capsys):
    assert cli.main(["plot", "nasnet_b", str(tmp_path / "b")]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["b_normal.png", "b_normal.svg", "b_reduction.png", "b_reduction.svg"]
    arch_file = tmp_path / "arch.json"
    arch_file.write_text(NASNET_C.to_json())
    assert cli.main(["plot", str(arch_file), str(tmp_path / "c"), "--formats", "svg"]) == 0
    assert "sep_conv_7x7" in svg_texts(tmp_path / "c_normal.svg")
    assert not (tmp_path / "c_normal.png").exists()
    capsys.readouterr()
    assert cli.main(["plot", "nasnet_z", str(tmp_path / "z")]) == 2
    assert "Unknown architecture 'nasnet_z'" in capsys.readouterr().err
    arch_file.write_text(json.dumps({"normal": {"blocks": []}}))
    assert cli.main(["plot", str(arch_file), str(tmp_path / "bad")]) == 2
