import pathlib
import runpy

import keras

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


def test_custom_cell_example_runs(tmp_path):
    example = runpy.run_path(str(EXAMPLES / "custom_cell.py"))
    output = tmp_path / "model.keras"
    example["main"](["--epochs", "1", "--output", str(output)])
    assert keras.models.load_model(output).output_shape == (None, 2)
