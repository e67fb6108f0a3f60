"""bench/rank_agreement.py: the rank statistics and their intervals by hand, the proxy combo,
the goal, the analysis of planted results, and a tiny bench that resumes without training."""

import json
import math
import os
import pathlib
import sys

import numpy as np
import pytest

_BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench"
# Imported by its name, as the bench's worker processes import it.
sys.path.insert(0, str(_BENCH))
import rank_agreement as ra  # noqa: E402


def _row(scores, reference, cpu=(1.0,)):
    costs = list(cpu) * len(scores) if len(cpu) == 1 else list(cpu)
    return ra.agreement_row("g", "e", scores, reference, costs, costs, resamples=200)


def test_a_planted_order_gives_tau_one_and_the_reversed_order_minus_one():
    reference = [0.71, 0.80, 0.65, 0.90, 0.77]
    same = _row([2.0, 4.0, 1.0, 5.0, 3.0], reference)
    assert same["tau"] == 1.0 and same["spearman"] == pytest.approx(1.0)
    assert same["tau_interval"] == [1.0, 1.0]
    reversed_ = _row([-v for v in reference], reference)
    assert reversed_["tau"] == -1.0 and reversed_["spearman"] == pytest.approx(-1.0)
    assert reversed_["spearman_interval"] == pytest.approx([-1.0, -1.0])


def test_one_swapped_pair_of_four_by_hand():
    # Pairs: 6; the swap of the two lowest makes one discordant: tau = (5 - 1) / 6.
    row = _row([2.0, 1.0, 3.0, 4.0], [0.1, 0.2, 0.3, 0.4])
    assert row["tau"] == pytest.approx(4 / 6)
    # Spearman: rank differences 1, 1, 0, 0: 1 - 6 * 2 / (4 * 15) = 0.8.
    assert row["spearman"] == pytest.approx(0.8)


def test_the_vectorized_statistics_equal_the_shared_helpers_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(2, 10))
        x = rng.integers(0, 3, n).astype(float)
        y = rng.integers(0, 3, n).astype(float)
        tau = ra.kendall_tau(x.tolist(), y.tolist())
        vector_tau = ra.kendall_taus(x, y)[0]
        assert (tau is None and math.isnan(vector_tau)) or vector_tau == pytest.approx(tau)
        rho, vector_rho = ra.proxies_bench.spearman(x, y), ra.spearmans(x, y)[0]
        assert (math.isnan(rho) and math.isnan(vector_rho)) or vector_rho == pytest.approx(rho)


def test_the_bootstrap_interval_holds_the_point_value_and_repeats_with_its_seed():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    tau = ra.kendall_tau(x.tolist(), y.tolist())
    low, high = ra.bootstrap_interval(x, y, ra.kendall_taus, resamples=500, seed=1)
    assert low < tau < high and high - low < 0.6
    assert ra.bootstrap_interval(x, y, ra.kendall_taus, resamples=500, seed=1) == (low, high)
    assert ra.bootstrap_interval(x, y, ra.kendall_taus, resamples=500, seed=2) != (low, high)
    rho = ra.proxies_bench.spearman(x, y)
    low, high = ra.bootstrap_interval(x, y, ra.spearmans, resamples=500, seed=1)
    assert low < rho < high


def test_the_bootstrap_skips_undefined_resamples_and_refuses_bad_input():
    # Two cells: a resample holds both (tau 1) or one twice (all ties: left out).
    assert ra.bootstrap_interval([1.0, 2.0], [3.0, 4.0], ra.kendall_taus) == (1.0, 1.0)
    assert ra.bootstrap_interval([1.0], [2.0], ra.kendall_taus) is None
    assert ra.bootstrap_interval([1.0, 1.0], [2.0, 3.0], ra.kendall_taus) is None
    with pytest.raises(ValueError, match="one length"):
        ra.bootstrap_interval([1.0, 2.0], [1.0], ra.kendall_taus)
    with pytest.raises(ValueError, match="resamples"):
        ra.bootstrap_interval([1.0, 2.0], [1.0, 2.0], ra.kendall_taus, resamples=0)


def test_the_proxy_combo_is_the_mean_rank_by_hand():
    # a ranks: 3 -> 3, 1 -> 0, the two 2s share 1.5; b ranks: 0, 3, 2, 1.
    combo = ra.proxy_combo({"a": [3.0, 1.0, 2.0, 2.0], "b": [0.1, 0.4, 0.3, 0.2]})
    assert combo == pytest.approx([1.5, 1.5, 1.75, 1.25])
    # -inf (a proxy's score of a degenerate network) ranks lowest, like any low score.
    assert ra.proxy_combo({"a": [-math.inf, 0.0, 5.0]}) == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="same cells"):
        ra.proxy_combo({"a": [1.0, 2.0], "b": [1.0]})
    with pytest.raises(ValueError, match="at least one"):
        ra.proxy_combo({})


def test_the_goal_needs_both_100_cells_per_cpu_hour_and_tau_one_half():
    assert ra.cells_per_cpu_hour([30.0, 42.0]) == pytest.approx(100.0)
    assert ra.cells_per_cpu_hour([]) is None
    assert ra.cells_per_cpu_hour([0.0]) == math.inf
    assert ra.meets_goal(100.0, 0.5)
    assert ra.meets_goal(math.inf, 0.9)
    assert not ra.meets_goal(99.9, 0.9)
    assert not ra.meets_goal(1000.0, 0.49)
    assert not ra.meets_goal(None, 0.9)
    assert not ra.meets_goal(1000.0, None)
    assert not ra.meets_goal(1000.0, math.nan)


def test_fractions_of_the_epoch_are_whole_batches_and_at_least_one():
    # 6,000 / 9 = 666.7 -> 10 batches of 64; 6,000 / 3 = 2,000 -> 31 batches.
    assert ra.fraction_examples(6000, 64) == {"frac-1/27": 192, "frac-1/9": 640, "frac-1/3": 1984}
    assert ra.fraction_examples(48, 64) == {"frac-1/27": 64, "frac-1/9": 64, "frac-1/3": 64}


def _planted():
    """Two spaces of four cells: a reference, a proxy that agrees, one that is reversed, an
    ENAS value only for the ENAS cells, a failed run."""
    cells, results = [], {}
    for space in ("nasnet", "enas"):
        for index in range(4):
            key = f"{space}-{index:04d}"
            cells.append({"key": key, "space": space, "index": index})
            accuracy = 0.5 + 0.1 * index + (0.05 if space == "enas" else 0.0)
            for seed, evaluation in enumerate(ra.FULL):
                results[(key, evaluation)] = {
                    "value": accuracy + 0.001 * seed,
                    "seconds": 40.0,
                    "cpu_seconds": 72.0,
                }
            results[(key, "naswot")] = {"value": accuracy * 10, "seconds": 1, "cpu_seconds": 9.0}
            results[(key, "snip")] = {"value": -accuracy, "seconds": 1, "cpu_seconds": 27.0}
            results[(key, "enas-shared")] = (
                {"value": accuracy, "seconds": 0.5, "cpu_seconds": 1.0}
                if space == "enas"
                else {"value": None, "outside": "op 'sep_conv_7x7' is outside"}
            )
    results[("nasnet-0003", "frac-1/3")] = {"value": None, "error": "DivergenceError: NaN"}
    return cells, results


def test_a_tau_over_the_goal_whose_interval_is_not_is_marked_so():
    reference = [0.1, 0.2, 0.3, 0.4, 0.5]
    row = ra.agreement_row("all", "naswot", [1, 2, 3, 5, 4], reference, [1.0] * 5, [1.0] * 5)
    assert row["tau"] == pytest.approx(0.8) and row["tau_interval"][0] < ra.GOAL_TAU
    assert row["meets_goal"] and not row["meets_goal_interval"]
    assert ra._goal_text(row) == "tau only, not its interval"


def test_the_analysis_of_planted_results_by_space_and_over_both():
    cells, results = _planted()
    evaluations = [*ra.FULL, "frac-1/3", "naswot", "snip", ra.ENAS]
    analysis = ra.analyse(cells, results, evaluations, resamples=100)
    rows = {(r["group"], r["evaluation"]): r for r in analysis["rows"]}
    order = [r["evaluation"] for r in analysis["rows"] if r["group"] == "nasnet"]
    assert order == [ra.CEILING, "frac-1/3", "naswot", "snip", ra.COMBO, ra.ENAS]
    assert [r["group"] for r in analysis["rows"]][::6] == ["nasnet", "enas", "all"]
    assert rows[("nasnet", ra.CEILING)]["tau"] == 1.0
    assert rows[("all", "naswot")]["tau"] == 1.0 and rows[("all", "snip")]["tau"] == -1.0
    # naswot and snip disagree exactly: every cell's mean rank ties, so no tau.
    assert rows[("nasnet", ra.COMBO)]["tau"] is None
    # Costs: 3600 / 72 = 50 cells per CPU-hour for a seed; the combo costs 9 + 27 = 36 s.
    assert rows[("all", ra.CEILING)]["cells_per_cpu_hour"] == pytest.approx(50.0)
    assert rows[("all", ra.COMBO)]["cells_per_cpu_hour"] == pytest.approx(100.0)
    assert rows[("all", "naswot")]["cells_per_cpu_hour"] == pytest.approx(400.0)
    assert rows[("all", "naswot")]["meets_goal"]
    assert rows[("all", "naswot")]["meets_goal_interval"]  # tau 1 in every resample
    assert not rows[("all", ra.CEILING)]["meets_goal"]  # tau 1, but too dear
    assert rows[("all", "snip")]["median_cpu_seconds"] == 27.0
    assert rows[("nasnet", ra.ENAS)]["cells"] == 0 and rows[("nasnet", ra.ENAS)]["missing"] == 4
    assert rows[("enas", ra.ENAS)]["cells"] == 4 and rows[("enas", ra.ENAS)]["tau"] == 1.0
    assert rows[("all", "frac-1/3")]["cells"] == 0 and rows[("all", "frac-1/3")]["missing"] == 8
    assert analysis["failed"] == ["nasnet-0003 frac-1/3: DivergenceError: NaN"]
    assert any("4 cell(s) (nasnet)" in note for note in analysis["notes"])
    assert analysis["values"]["enas-0002"]["naswot"] == pytest.approx(7.5)
    text = ra.markdown(analysis)
    assert "| all | naswot | 8 | +1.000 [+1.00, +1.00] |" in text
    assert "| 400.0 | yes |" in text
    assert "| nasnet | enas-shared | 0 (4 without) |" in text
    assert "nasnet-0003 frac-1/3: DivergenceError" in text


def test_each_evaluation_against_the_main_job_s_by_a_paired_tau_difference():
    cells, results = _planted()
    for cell in cells:  # today's evaluation ranks every cell backwards
        accuracy = results[(cell["key"], ra.FULL[0])]["value"]
        results[(cell["key"], ra.MAIN_CHILD)] = {
            "value": -accuracy,
            "seconds": 1,
            "cpu_seconds": 30,
        }
    del results[("nasnet-0001", ra.MAIN_CHILD)]
    evaluations = [*ra.FULL, ra.MAIN_CHILD, "naswot", "snip", ra.ENAS]
    analysis = ra.analyse(cells, results, evaluations, resamples=100)
    rows = {row["evaluation"]: row for row in analysis["against"]}
    assert list(rows) == ["naswot", "snip", ra.ENAS, ra.COMBO]
    # naswot agrees with the reference (tau 1), the main child reverses it (-1): +2 in every
    # resample; snip ranks as the main child does: 0.
    assert rows["naswot"]["cells"] == 7 and rows["naswot"]["difference"] == pytest.approx(2.0)
    assert rows["naswot"]["interval"] == [pytest.approx(2.0)] * 2 and rows["naswot"]["better"]
    assert rows["snip"]["difference"] == 0.0 and not rows["snip"]["better"]
    assert rows[ra.ENAS]["cells"] == 4  # the ENAS cells only
    assert rows[ra.COMBO]["difference"] is None and not rows[ra.COMBO]["better"]
    text = ra.markdown(analysis)
    assert "## Against today's main-job evaluation (main-child)" in text
    assert "| naswot | 7 | +2.000 [+2.00, +2.00] | yes |" in text
    assert ra.analyse(cells, results, [*ra.FULL, "naswot"], resamples=10)["against"] == []


def test_two_references_of_the_same_cells_are_ranked_against_each_other():
    cells, results = _planted()
    # The other reference: the NASNet cells' order reversed, the ENAS cells' kept; one ENAS
    # cell without its second seed there.
    other = {}
    for cell in cells:
        index = int(cell["key"][-1])
        flipped = 3 - index if cell["space"] == "nasnet" else index
        for evaluation in ra.FULL:
            other[(cell["key"], evaluation)] = {"value": 0.6 + 0.01 * flipped, "params": 100}
    del other[("enas-0003", ra.FULL[1])]
    agreement = ra.references_agreement(cells, results, other, resamples=50)
    rows = {row["group"]: row for row in agreement["rows"]}
    assert rows["nasnet"]["tau"] == -1.0 and rows["nasnet"]["cells"] == 4
    assert rows["enas"]["tau"] == 1.0 and rows["enas"]["cells"] == 3
    assert rows["all"]["cells"] == 7
    first = agreement["cells"][0]
    assert first["cell"] == "nasnet-0000" and first["other"] == pytest.approx(0.63)
    assert first["reference"] == pytest.approx(0.5005) and first["other_params"] == 100
    lines = "\n".join(ra.references_markdown(agreement, "runs/fixed"))
    assert "## Against the reference of runs/fixed" in lines
    assert "| nasnet | 4 | -1.000 [-1.00, -1.00] |" in lines
    assert "| nasnet-0000 | 0.5005 (-) | 0.6300 (100) |" in lines


def test_the_report_writes_markdown_json_and_a_png(tmp_path):
    cells, results = _planted()
    analysis = ra.analyse(cells, results, [*ra.FULL, "naswot", "snip"], resamples=50)
    paths = ra.write_report(str(tmp_path), analysis, {"dataset": "x"})
    with open(paths["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(paths["json"], encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["settings"] == {"dataset": "x"} and len(saved["rows"]) == 3 * 4
    assert (tmp_path / "rank_agreement.md").read_text().startswith("# Rank agreement")


def test_cells_resume_from_cells_json_and_grow_with_the_count(tmp_path):
    directory = str(tmp_path)
    first = ra.load_cells(directory, ["nasnet", "enas"], 2, seed=5)
    assert [c["key"] for c in first] == ["nasnet-0000", "nasnet-0001", "enas-0000", "enas-0001"]
    path = tmp_path / ra.CELLS_FILE
    stored = json.loads(path.read_text())
    # The saved cells win over a fresh draw: a resume ranks the cells it began with.
    stored["cells"][0]["architecture"] = stored["cells"][1]["architecture"]
    path.write_text(json.dumps(stored))
    grown = ra.load_cells(directory, ["nasnet", "enas"], 3, seed=5)
    assert grown[0]["architecture"] == first[1]["architecture"]
    assert grown[2] == ra.sample_cells(["nasnet"], 3, seed=5)[2]
    assert len(json.loads(path.read_text())["cells"]) == 6
    with pytest.raises(ValueError, match="--seed 5"):
        ra.load_cells(directory, ["nasnet"], 2, seed=6)
    with pytest.raises(ValueError, match="Unknown cell space 'anynetx-a'"):
        ra.sample_cells(["anynetx-a"], 1, seed=0)


def test_other_settings_are_refused_naming_what_differs(tmp_path):
    ra.check_settings(str(tmp_path), {"dataset": "a", "proxy_batch": 64})
    ra.check_settings(str(tmp_path), {"dataset": "a", "proxy_batch": 64})
    with pytest.raises(ValueError, match=r"\(proxy_batch differ\)"):
        ra.check_settings(str(tmp_path), {"dataset": "a", "proxy_batch": 32})


def test_a_bench_may_gain_a_fraction_but_not_change_one(tmp_path):
    first = {"dataset": "a", "fraction_examples": {"frac-1/9": 640}}
    ra.check_settings(str(tmp_path), first)
    grown = {"dataset": "a", "fraction_examples": {"frac-1/27": 192, "frac-1/9": 640}}
    ra.check_settings(str(tmp_path), grown)
    assert json.loads((tmp_path / ra.SETTINGS_FILE).read_text()) == grown
    ra.check_settings(str(tmp_path), grown)
    with pytest.raises(ValueError, match=r"\(fraction_examples differ\)"):
        ra.check_settings(str(tmp_path), {**grown, "fraction_examples": {"frac-1/9": 704}})
    with pytest.raises(ValueError, match=r"\(dataset differ\)"):
        ra.check_settings(str(tmp_path), {**grown, "dataset": "b"})


def test_a_bench_started_before_the_main_child_gains_its_settings_once(tmp_path):
    before = {"dataset": "a", "fraction_examples": {"frac-1/9": 640}}
    ra.check_settings(str(tmp_path), before)
    main = {"dataset": ra.MAIN_DATASET, "examples": 2048, "validation_examples": 600}
    ra.check_settings(str(tmp_path), {**before, "main_child": main})
    assert json.loads((tmp_path / ra.SETTINGS_FILE).read_text())["main_child"] == main
    with pytest.raises(ValueError, match=r"\(main_child differ\)"):
        ra.check_settings(str(tmp_path), {**before, "main_child": {**main, "examples": 1024}})
    with pytest.raises(ValueError, match=r"\(main_child differ\)"):
        ra.check_settings(str(tmp_path), before)


def test_the_main_child_trains_on_the_sample_and_scores_the_images_it_holds_out():
    plan = ra.make_plan(ra.parse_args([*TINY, "--main-child-examples", "64"]))
    assert plan.settings()["main_child"] == {
        "dataset": "fashion_mnist_sample",
        "examples": 64,
        "validation_examples": 600,
    }
    cell = ra.sample_cells(["enas"], 1, seed=0)[0]
    architecture = ra.Architecture.from_dict(cell["architecture"])
    kwargs = ra.run_kwargs(plan, ra.MAIN_CHILD, architecture, None, 10)
    assert (kwargs["train_split"], kwargs["evaluate_on"]) == ("train[:-600]", "train[-600:]")
    assert kwargs["settings"] == plan.child.replace(epoch_examples=64)
    # Matched: at the F whose count is closest to NASNet-A's child's (ENAS's smaller ops: a
    # wider F), the rest as the main child.
    target = ra.cell_counter(plan.child, ra.MAIN_DATASET, None)(ra.NASNET_A, 4)[0]
    assert plan.main_child_match == {"target_params": target, "tolerance": 0.25}
    assert plan.settings()["main_child_match"] == plan.main_child_match
    matched = ra.run_kwargs(plan, ra.MAIN_CHILD_MATCHED, architecture, None, 10)
    assert matched == {
        **kwargs,
        "evaluation": ra.MAIN_CHILD_MATCHED,
        "match": plan.main_child_match,
    }
    # One training, the matched child's: it runs the main child's kwargs and its match.
    result = ra.evaluate(**matched)
    assert result.metrics["evaluated_on"] == "train[-600:]"
    assert 0.0 <= result.test_accuracy <= 1.0
    assert abs(result.metrics["params"] - target) <= 0.25 * target
    assert result.metrics["settings"]["filters"] > 4
    with pytest.raises(SystemExit):
        ra.parse_args(["--main-child-examples", "0"])


def test_the_flags_always_run_the_reference_and_enas_needs_its_directory():
    args = ra.parse_args(["--evaluations", "params"])
    assert args.evaluations == [*ra.FULL, "params"]
    assert ra.ENAS not in ra.parse_args([]).evaluations
    assert ra.ENAS in ra.parse_args(["--enas-directory", "d"]).evaluations
    with pytest.raises(SystemExit):
        ra.parse_args(["--evaluations", ra.ENAS])
    with pytest.raises(SystemExit):
        ra.parse_args(["--cells", "1"])


TINY = [
    "--dataset",
    "fashion_mnist_sample",
    "--num-blocks",
    "1",
    "--filters",
    "4",
    "--batch-size",
    "32",
    "--epoch-examples",
    "64",
    "--child-blocks",
    "1",
    "--child-filters",
    "4",
    "--proxy-batch",
    "16",
    "--jobs",
    "1",
    "--resamples",
    "100",
    "--reference",
    "fixed",
]


def test_the_reference_matches_parameters_as_compare_does():
    from keras_nasnet.genotypes import NASNET_A

    matched = [f for f in TINY if f not in ("--reference", "fixed")]
    plan = ra.make_plan(ra.parse_args([*matched, "--filters", "8"]))
    count = ra.cell_counter(plan.recipe, plan.dataset, None)
    target = count(NASNET_A, 8)[0]
    assert plan.match == {"target_params": target, "tolerance": 0.15}
    assert plan.settings()["reference_match"] == plan.match
    widths = {}
    for cell in ra.sample_cells(["nasnet", "enas"], 1, seed=0):
        architecture = ra.Architecture.from_dict(cell["architecture"])
        kwargs = ra.run_kwargs(plan, "full-s1", architecture, None, 10)
        assert kwargs["match"] == plan.match and kwargs["seed"] == 1
        settings = ra.matched_settings(
            architecture, kwargs["settings"], plan.dataset, None, **kwargs["match"]
        )
        params = count(architecture, settings.filters)[0]
        assert abs(params - target) <= 0.15 * target
        widths[cell["space"]] = settings.filters
    # ENAS's ops are smaller than NASNet's: the same count needs a wider ENAS cell.
    assert widths["enas"] > widths["nasnet"]
    fixed = ra.make_plan(ra.parse_args([*TINY, "--filters", "8"]))
    assert fixed.match is None and "reference_match" not in fixed.settings()
    assert "match" not in ra.run_kwargs(fixed, "full-s0", architecture, None, 10)
    assert "every cell at F = 8" in ra.reference_text(fixed.settings())
    assert f"closest to {target:,} parameters" in ra.reference_text(plan.settings())
    for bad in (["--reference", "fixed", "--target-params", "5"], ["--tolerance", "1.5"]):
        with pytest.raises(SystemExit):
            ra.parse_args(bad)


def _result_files(directory):
    folder = os.path.join(directory, ra.RESULTS_DIR)
    return {name: os.path.getmtime(os.path.join(folder, name)) for name in os.listdir(folder)}


def test_a_tiny_bench_writes_every_result_then_resumes_training_nothing(tmp_path, capsys):
    directory = str(tmp_path / "bench")
    flags = [*TINY, "--spaces", "enas", "--cells", "2", "--directory", directory]
    first = ra.main([*flags, "--evaluations", "params"])
    assert first["runs"] == 2 * 3
    files = _result_files(directory)
    assert sorted(files) == [
        f"enas-000{i}__{e}.json" for i in range(2) for e in ("full-s0", "full-s1", "params")
    ]
    with open(os.path.join(directory, ra.RESULTS_DIR, "enas-0001__full-s0.json")) as f:
        record = json.load(f)
    assert 0.0 <= record["value"] <= 1.0 and record["cpu_seconds"] > 0 and record["params"] > 0
    again = ra.main([*flags, "--evaluations", "params"])
    assert again["runs"] == 0 and _result_files(directory) == files
    for ext in ("md", "json", "png"):
        assert os.path.getsize(os.path.join(directory, f"rank_agreement.{ext}")) > 0
    rows = {r["evaluation"]: r for r in again["analysis"]["rows"]}
    assert rows["params"]["cells"] == 2 and rows[ra.CEILING]["cells"] == 2
    # Other recipe flags on the same directory are refused, not mixed in.
    with pytest.raises(SystemExit, match="recipe differ"):
        ra.main([*flags, "--filters", "8"])
    only = ra.main(["--directory", directory, "--analyse-only"])
    assert only["runs"] == 0 and [r["evaluation"] for r in only["analysis"]["rows"]] == [
        ra.CEILING,
        "params",
    ]
    assert "0 run(s) started" in capsys.readouterr().out


@pytest.mark.slow
def test_both_spaces_every_training_evaluation_and_a_time_limit(tmp_path):
    directory = str(tmp_path / "bench")
    flags = [*TINY, "--cells", "2", "--directory", directory]
    evaluations = ["--evaluations", "frac-1/9", "frac-1/3", "naswot", "synflow"]
    stopped = ra.main([*flags, *evaluations, "--max-time", "1"])
    assert stopped["runs"] < 4 * 6
    finished = ra.main([*flags, *evaluations])
    assert stopped["runs"] + finished["runs"] == 4 * 6
    assert len(_result_files(directory)) == 4 * 6
    groups = {r["group"] for r in finished["analysis"]["rows"]}
    assert groups == {"nasnet", "enas", "all"}
    combo = [r for r in finished["analysis"]["rows"] if r["evaluation"] == ra.COMBO]
    assert [r["cells"] for r in combo] == [2, 2, 4]


@pytest.mark.slow
def test_shared_weights_score_enas_cells_and_skip_cells_the_supernet_lacks(tmp_path):
    from keras_nasnet.search.enas import EnasSearch, SharedSettings, load_dataset
    from keras_nasnet.search.enas.supernet import enas_space

    train, validation, classes = load_dataset("fashion_mnist_sample")
    settings = SharedSettings(filters=4, batch_size=32, controller_steps=1, derive_samples=1)
    enas_directory = str(tmp_path / "enas")
    search = EnasSearch(
        (train[0][:64], train[1][:64]),
        validation,
        classes,
        enas_directory,
        settings=settings,
        data_source={"dataset": "fashion_mnist_sample", "validation_size": 0.1},
    )
    search.run(1)
    cells = ra.sample_cells(["enas"], 1, seed=0) + ra.sample_cells(["nasnet"], 6, seed=0)
    space = enas_space()
    outside = []
    for cell in cells[1:]:
        try:
            space.encode(ra.Architecture.from_dict(cell["architecture"]))
        except ValueError:
            outside.append(cell)
    assert outside, "six NASNet-space cells all within ENAS's space"
    pairs = [(c["key"], c["architecture"]) for c in (cells[0], outside[0])]
    results_directory = str(tmp_path / "results")
    score = ra.score_shared(
        enas_directory, "fashion_mnist_sample", None, 0.1, pairs, results_directory
    )
    assert score.test_accuracy == 1.0
    results = ra.read_results(results_directory)
    scored = results[(cells[0]["key"], ra.ENAS)]
    assert 0.0 <= scored["value"] <= 1.0 and scored["supernet_epochs"] == 1
    assert results[(outside[0]["key"], ra.ENAS)]["value"] is None
    assert "outside" in results[(outside[0]["key"], ra.ENAS)]
    with pytest.raises(ValueError, match="on other data.*validation_size 0.1 there, 0.2 here"):
        ra.score_shared(enas_directory, "fashion_mnist_sample", None, 0.2, pairs, results_directory)
    with pytest.raises(ValueError, match="holds no ENAS search"):
        ra.score_shared(str(tmp_path), "fashion_mnist_sample", None, 0.1, pairs, results_directory)
