"""Configuration: defaults, validation messages, overrides, files and TOML round trips."""

import numpy as np
import pytest

from metarep.config import KEY_HELP, Config, parse_overrides, read_toml
from metarep.errors import ConfigError

MODEL_KEYS = ("K M N eta eta_in eta_head inner_steps support query_batch first_order v_mean "
             "v_std teacher_spread label_noise teacher alpha_max record_every seed").split()


def test_spec_keys_are_configuration_keys():
    assert set(MODEL_KEYS) <= set(KEY_HELP)
    assert set(KEY_HELP) == {f for f in Config.__dataclass_fields__}


@pytest.mark.parametrize("changes, key", [
    (dict(K=0), "K"), (dict(M=0), "M"), (dict(N=0), "N"), (dict(K=1.5), "K"),
    (dict(eta=-0.1), "eta"), (dict(eta_in=-1), "eta_in"), (dict(eta_head=-1), "eta_head"),
    (dict(inner_steps=-1), "inner_steps"), (dict(query_batch=0), "query_batch"),
    (dict(support=0), "support"), (dict(support="many"), "support"), (dict(support=2.5), "support"),
    (dict(teacher_spread=1.0), "teacher_spread"), (dict(teacher_spread=-0.1), "teacher_spread"),
    (dict(label_noise=-1), "label_noise"), (dict(v_std=-1), "v_std"),
    (dict(v_mean=[1, 2, 3]), "v_mean"), (dict(teacher="random"), "teacher"),
    (dict(alpha_max=0), "alpha_max"), (dict(record_every=0), "record_every"),
    (dict(record_every=200), "record_every"), (dict(seed=-1), "seed"),
    (dict(dtype="float16"), "dtype"), (dict(dt=0), "dt"), (dict(eta=float("nan")), "eta"),
    (dict(first_order="yes"), "first_order"), (dict(M=5, N=4), "M"),
])
def test_invalid_values_name_the_key(changes, key):
    with pytest.raises(ConfigError, match=key):
        Config().replace(**changes)


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown configuration key\(s\) \['etaa'\].*eta_in"):
        Config.from_dict({"etaa": 1.0})
    with pytest.raises(ConfigError, match=r"\(did you mean eta_in for eta_inn\?\)"):
        Config.from_dict({"eta_inn": 0.5})


@pytest.mark.parametrize("changes, key", [
    (dict(Q0=[[1.0, 0.0], [0.0]], R0=np.zeros((2, 2))), "Q0"),
    (dict(Q0="identity", R0=np.zeros((2, 2))), "Q0"),
    (dict(Q0=np.eye(2), R0=[[0.1], "x"]), "R0"), (dict(a0={"a": 1}), "a0"),
    (dict(v_mean="one"), "v_mean"), (dict(v_mean=[1.0, [2.0]]), "v_mean"),
])
def test_non_numeric_arrays_name_the_key(changes, key):
    """Text and ragged lists where numbers are expected (review cases 35, 36, 39)."""
    with pytest.raises(ConfigError, match=rf"^{key} = .* is not a number or a \(rectangular\) "
                                          "array of numbers"):
        Config().replace(**changes)


def test_initial_state_validation():
    good = dict(K=2, M=1, Q0=[[1.0, 0.2], [0.2, 1.0]], R0=[[0.5], [0.1]])
    Config(**good)
    with pytest.raises(ConfigError, match="positive definite"):
        Config(**{**good, "Q0": [[1.0, 2.0], [2.0, 1.0]]})
    with pytest.raises(ConfigError, match="symmetric"):
        Config(**{**good, "Q0": [[1.0, 0.3], [0.2, 1.0]]})
    with pytest.raises(ConfigError, match="shape"):
        Config(**{**good, "R0": [[0.5, 0.1]]})
    with pytest.raises(ConfigError, match="together"):
        Config(K=2, M=1, Q0=good["Q0"])
    with pytest.raises(ConfigError, match="not realisable"):
        Config(**{**good, "R0": [[1.2], [0.0]]})


def test_normalisation_and_derived_quantities():
    cfg = Config(M=3, v_mean=[1, 2, 3], support="inf", alpha_max=2.5, record_every=1.0)
    assert cfg.P is None and np.array_equal(cfg.v_bar, [1.0, 2.0, 3.0])
    assert np.allclose(cfg.record_alphas, [0, 1, 2, 2.5])
    assert Config(support="10").P == 10 and Config(support=float("inf")).P is None
    assert Config(N=500, alpha_max=3).n_steps == 1500
    assert np.array_equal(Config(K=3).a0_array, np.zeros(3))
    assert hash(Config(Q0=np.eye(2), R0=np.zeros((2, 2))))  # frozen and hashable


def test_overrides_parse_toml_values():
    cfg = Config().with_overrides(["eta=0.5", "first_order=true", "support=inf",
                                   "teacher=gaussian", "v_mean=[0.5, 1.5]", "K=3"])
    assert (cfg.eta, cfg.first_order, cfg.P, cfg.teacher, cfg.K) == (0.5, True, None,
                                                                     "gaussian", 3)
    assert cfg.v_mean == (0.5, 1.5)
    with pytest.raises(ConfigError, match="key=value"):
        Config().with_overrides(["eta"])


def test_files_name_themselves_and_the_line(tmp_path):
    """read_toml: one-line errors naming the file (missing, a folder, not text, invalid TOML
    with its line and column); a table passed as a configuration is recognised."""
    with pytest.raises(ConfigError, match=r"'.*nope\.toml' does not exist"):
        read_toml(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        read_toml(tmp_path)
    (tmp_path / "bin.toml").write_bytes(b"eta = \xff\n")
    with pytest.raises(ConfigError, match=r"bin\.toml: not a text \(UTF-8\) file"):
        read_toml(tmp_path / "bin.toml")
    for text, where in (("eta = \n", "line 1, column 7"), ("eta = 1\neta = 2\n", "line 2")):
        (tmp_path / "bad.toml").write_text(text)
        with pytest.raises(ConfigError, match=rf"bad\.toml: invalid TOML: .*\(at {where}"):
            read_toml(tmp_path / "bad.toml")
    (tmp_path / "t.csv").write_text("alpha,eg\n0,1\n")
    with pytest.raises(ConfigError, match="looks like a table"):
        Config.from_toml(tmp_path / "t.csv")


def test_overrides_are_merged_before_validation(tmp_path):
    """Review case 47: a file that is invalid alone is repaired by an override; the [run]
    provenance table of a written configuration is ignored."""
    (tmp_path / "c.toml").write_text("alpha_max = 0.5\n\n[run]\ncommand = \"metarep ode\"\n")
    with pytest.raises(ConfigError, match="record_every = 1.0 exceeds alpha_max = 0.5"):
        Config.from_toml(tmp_path / "c.toml")
    cfg = Config.from_toml(tmp_path / "c.toml", ["record_every=0.1"])
    assert (cfg.alpha_max, cfg.record_every) == (0.5, 0.1)
    assert parse_overrides(["teacher = gaussian", "v_mean=[1, 2]"]) == {
        "teacher": "gaussian", "v_mean": [1, 2]}
    with pytest.raises(ConfigError, match="unknown configuration key.*'model'"):
        Config.from_dict(read_toml(_write(tmp_path / "m.toml", "[model]\nK = 2\n")))


def _write(path, text):
    path.write_text(text)
    return path


def test_provenance_round_trip(tmp_path):
    """to_toml(run) appends a [run] table (strings escaped as TOML) that from_toml skips."""
    cfg = Config(K=3, teacher="gaussian")
    run = {"command": 'metarep sim --set teacher="gaussian" C:\\x', "seeds": [0, 1],
           "partial": False}
    path = _write(tmp_path / "c.toml", cfg.to_toml(run))
    assert Config.from_toml(path) == cfg and read_toml(path)["run"] == run


def test_toml_round_trip(tmp_path):
    cfg = Config(K=3, M=2, v_mean=[1.0, -1.0], support=7, first_order=True,
                 Q0=np.diag([1.0, 0.5, 0.7]), R0=[[0.5, 0], [0, 0.3], [0.1, 0.1]], a0=[1, 2, 3])
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert Config.from_toml(path) == cfg
