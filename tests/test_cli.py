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
    assert all(name in usage for name in ("nasnet_b_mobile", "nasnet_b_cifar", "nasnet_c_mobile", "nasnet_c_cifar"))
