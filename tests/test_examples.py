import pathlib
import runpy

import keras

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


def test_custom_cell_example_runs(tmp_path):
    example = runpy.run_path(str(EXAMPLES / "custom_cell.py"))
    output = tmp_path / "model.keras"
    example["main"](["--epochs", "1", "--output", str(output)])
    assert keras.models.load_model(output).output_shape == (None, 2)


def test_any_space_search_example_runs_a_stock_tuner(tmp_path):
    example = runpy.run_path(str(EXAMPLES / "any_space_search.py"))
    argv = ["--max-trials", "3", "--epochs", "1", "--directory", str(tmp_path)]
    tuner = example["main"](argv)
    trials = tuner.oracle.trials.values()
    assert len(trials) == 3 and all(t.status == "COMPLETED" for t in trials)
    assert 0.0 < tuner.oracle.get_best_trials(1)[0].score <= 1.0
