import errno
import os

import pytest

from keras_nasnet import cli


def test_models_prints_our_counts_beside_the_papers(capsys):
    assert cli.main(["models", "nasnet_a_cifar"]) == 0
    out = capsys.readouterr().out
    assert "nasnet_a_cifar" in out and "6@768" in out and "3.38M" in out and "3.30M" in out


def test_unknown_model_is_an_error(capsys):
    assert cli.main(["models", "nasnet_z"]) == 2
    assert "Unknown model 'nasnet_z'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["summary", "nasnet_z"])


def test_summary(capsys):
    assert cli.main(["summary", "nasnet_a_cifar"]) == 0
    assert "stem_conv1" in capsys.readouterr().out


def test_models_lists_the_nasnet_b_and_c_reconstructions(capsys):
    assert cli.main(["models", "nasnet_c_cifar"]) == 0
    out = capsys.readouterr().out
    assert "nasnet_c_cifar" in out and "4@640" in out and "2.78M" in out and "3.10M" in out
    assert "none published" in out
    with pytest.raises(SystemExit):
        cli.main(["models", "--help"])
    usage = capsys.readouterr().out
    assert all(
        name in usage
        for name in ("nasnet_b_mobile", "nasnet_b_cifar", "nasnet_c_mobile", "nasnet_c_cifar")
    )


# -- expected failures: one line on stderr, exit status 2 ------------------------------------


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("keras-nasnet")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["search", "--dataset", "d", "--directory", "x", "--max-trials", "0"],
            "argument --max-trials: must be an int >= 1; received 0",
        ),
        (["search", "--dataset", "d", "--directory", "x", "--max-trials", "-1"], "received -1"),
        (
            ["search", "--dataset", "d", "--directory", "x", "--max-trials", "2.5"],
            "must be an int; received '2.5'",
        ),
        (
            ["search", "--dataset", "d", "--directory", "x", "--validation-size", "1.5"],
            "fraction in (0, 1)",
        ),
        (["search", "--dataset", "d", "--directory", "x", "--validation-size", "0"], "count >= 1"),
        (
            ["search", "--dataset", "d", "--directory", "x", "--worker-timeout", "0"],
            "> 0; received 0",
        ),
        (
            ["search", "--dataset", "d", "--directory", "x", "--latency-target-ms", "nan"],
            "received nan",
        ),
        (["search", "--dataset", "d", "--directory", "x", "--update-every", "0"], "--update-every"),
        (["search", "--dataset", "d", "--directory", "x", "--final-epochs", "0"], "--final-epochs"),
        (
            ["train", "--architecture", "nasnet_a", "--dataset", "d", "--drop-path-keep-prob", "0"],
            "in (0, 1]",
        ),
        (
            ["train", "--architecture", "nasnet_a", "--dataset", "d", "--batch-size", "0"],
            "--batch-size",
        ),
        (["train", "--architecture", "nasnet_a", "--dataset", "d", "--seed", "-3"], ">= 0"),
        (["export", "m.keras", "o.tflite", "--runs", "0"], "--runs"),
        (["report", "somewhere", "--top", "0"], "--top"),
    ],
)
def test_bad_counts_and_sizes_are_refused_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    line = _error_line(capsys)
    assert message in line and "--help" in line


@pytest.mark.parametrize("text, value", [("0.1", 0.1), ("0.9", 0.9), ("600", 600), ("1", 1)])
def test_good_sizes_pass_the_checks(text, value):
    args = cli.build_parser().parse_args(
        [
            "search",
            "--dataset",
            "d",
            "--directory",
            "x",
            "--validation-size",
            text,
            "--max-trials",
            "1",
        ]
    )
    assert args.validation_size == value and type(args.validation_size) is type(value)
    assert args.max_trials == 1


def test_a_misspelled_architecture_file_is_one_line_naming_file_and_key(tmp_path, capsys):
    import json

    from keras_nasnet.genotypes import NASNET_A

    spec = NASNET_A.to_dict()
    spec["normal"]["blocks"][1]["combin"] = "concat"
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(spec))
    assert cli.main(["plot", str(path), str(tmp_path / "out")]) == 2
    line = _error_line(capsys)
    assert str(path) in line and "'combin'" in line and "normal.blocks[1]" in line
    assert not list(tmp_path.glob("out*"))
    path.write_bytes(b"\xff\xfe{}")
    assert (
        cli.main(["train", "--architecture", str(path), "--dataset", "fashion_mnist_sample"]) == 2
    )
    assert "not UTF-8" in _error_line(capsys)


@pytest.mark.parametrize(
    "code, hint",
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_a_full_or_read_only_disk_is_one_line_and_debug_shows_the_traceback(
    code, hint, tmp_path, capsys, monkeypatch
):
    from keras_nasnet import viz

    target = str(tmp_path / "out_normal.svg")

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code), target)

    monkeypatch.setattr(viz, "plot_architecture", fail)
    assert cli.main(["plot", "nasnet_a", str(tmp_path / "out")]) == 2
    line = _error_line(capsys)
    assert os.strerror(code) in line and target in line and hint in line.lower()
    assert cli.main(["plot", "nasnet_a", str(tmp_path / "out"), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "in fail" in err
    assert cli.main(["--debug", "plot", "nasnet_a", str(tmp_path / "out")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_tensorflow_file_errors_from_keras_tuner_writes_are_one_line(tmp_path, capsys, monkeypatch):
    import tensorflow as tf

    from keras_nasnet import viz

    def fail(*args, **kwargs):  # what tf.io.gfile raises on a read-only file system
        raise tf.errors.PermissionDeniedError(
            None, None, f"{tmp_path}/search/tuner0.json; Read-only file system"
        )

    monkeypatch.setattr(viz, "plot_architecture", fail)
    assert cli.main(["plot", "nasnet_a", str(tmp_path / "out")]) == 2
    line = _error_line(capsys)
    assert "PermissionDeniedError" in line and "tuner0.json; Read-only file system" in line


def test_an_unexpected_error_is_a_bug_and_keeps_its_traceback(monkeypatch):
    from keras_nasnet import viz

    monkeypatch.setattr(viz, "plot_architecture", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["plot", "nasnet_a", "out"])


def test_a_search_directory_in_use_is_refused_at_once(tmp_path, capsys):
    from keras_nasnet.search.lock import DirectoryLock

    directory = tmp_path / "run"
    with DirectoryLock(str(directory)):
        code = cli.main(
            [
                "search",
                "--dataset",
                "fashion_mnist_sample",
                "--directory",
                str(directory),
                "--max-trials",
                "1",
                "--no-final",
            ]
        )
        assert code == 2
        # nothing written beside the holder's lock file
        assert sorted(p.name for p in directory.iterdir()) == [".keras-nasnet.lock"]
    line = _error_line(capsys)
    assert str(directory) in line and f"pid {os.getpid()}" in line and "in use" in line
    assert not directory.exists()  # the holder made it and found it empty: nothing is left


def test_missing_data_dir_and_truncated_model_files_are_named(tmp_path, capsys):
    assert (
        cli.main(
            [
                "train",
                "--architecture",
                "nasnet_a",
                "--dataset",
                "fashion_mnist_sample",
                "--data-dir",
                str(tmp_path / "nope"),
            ]
        )
        == 2
    )
    assert f"'{tmp_path / 'nope'}' does not exist" in _error_line(capsys)
    model = tmp_path / "model.keras"
    model.write_bytes(b"PK\x03\x04 cut here")
    assert cli.main(["export", str(model), str(tmp_path / "m.tflite")]) == 2
    line = _error_line(capsys)
    assert str(model) in line and "truncated" in line
    assert not (tmp_path / "m.tflite").exists()
