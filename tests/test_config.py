import argparse
import dataclasses
import typing

import pytest

from storychat.config import DEFAULTS, OPTIONS, AuthError, Option, Settings, add_options, check_exposure, credentials
from storychat.stories.library import default_data_dir


def settings(argv: list[str], monkeypatch=None, **env) -> Settings:
    if monkeypatch:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    parser = argparse.ArgumentParser()
    add_options(parser, "model", "answer", "library", "server")
    return Settings.from_namespace(parser.parse_args(argv))


def test_serving_on_all_interfaces_without_auth_is_refused_with_a_way_out():
    with pytest.raises(AuthError, match="--auth user:password.*--no-auth"):
        check_exposure(settings(["--host", "0.0.0.0"]))


def test_no_auth_on_the_network_starts_with_a_warning():
    warning = check_exposure(settings(["--host", "0.0.0.0", "--no-auth"]))
    assert warning and "without a login" in warning


def test_loopback_needs_no_auth():
    for host in ("127.0.0.1", "localhost", "::1"):
        assert check_exposure(settings(["--host", host])) is None


def test_auth_from_flag_env_and_file_all_count(tmp_path, monkeypatch):
    auth_file = tmp_path / "users.txt"
    auth_file.write_text("# team\ncarol:pw3\n\n", encoding="utf-8")
    s = settings(["--auth", "alice:pw1", "--auth-file", str(auth_file), "--host", "0.0.0.0"])
    assert credentials(s) == [("alice", "pw1"), ("carol", "pw3")]
    assert check_exposure(s) is None
    from_env = settings(["--host", "0.0.0.0"], monkeypatch, STORYCHAT_AUTH="bob:pw2,dan:pw4")
    assert credentials(from_env) == [("bob", "pw2"), ("dan", "pw4")]


def test_a_malformed_auth_entry_is_rejected_without_echoing_a_password():
    with pytest.raises(AuthError, match="user:password") as err:
        credentials(settings(["--auth", "alice"]))
    assert "alice" in str(err.value)


def test_flags_beat_environment_which_beats_defaults(monkeypatch):
    assert settings([]).port == 7860
    assert settings([], monkeypatch, GRADIO_SERVER_PORT="7000").port == 7000
    assert settings([], monkeypatch, STORYCHAT_PORT="7100").port == 7100
    assert settings(["--port", "7200"], monkeypatch, STORYCHAT_PORT="7100").port == 7200


def test_boolean_switches_read_from_the_environment(monkeypatch):
    assert settings([]).strict is True
    assert settings(["--no-strict"]).strict is False
    assert settings([], monkeypatch, STORYCHAT_STRICT="off").strict is False


def test_flash_attention_is_auto_unless_a_flag_or_the_environment_says_on_or_off(monkeypatch):
    assert settings([]).flash_attn == "auto"
    assert settings(["-fa", "on"]).flash_attn == "on"
    assert settings(["--no-flash-attn"]).flash_attn == "off"
    assert settings([], monkeypatch, STORYCHAT_FLASH_ATTN="on").flash_attn == "on"
    assert settings(["--no-flash-attn"], monkeypatch, STORYCHAT_FLASH_ATTN="on").flash_attn == "off"


def option_type(option: Option) -> object:
    """The type of what an option's flag or environment variable sets: a list of values, a switch, or a parsed value."""
    if option.repeat:
        return tuple[str, ...]
    if option.negates or option.default is False:
        return bool
    return option.type if option.default is not None else option.type | None


def test_settings_have_one_field_per_option_with_the_options_type_and_default():
    declared = [o for o in OPTIONS if o.const is None]
    types = typing.get_type_hints(Settings)
    assert [f.name for f in dataclasses.fields(Settings)] == [o.dest for o in declared]
    assert {o.dest: types[o.dest] for o in declared} == {o.dest: option_type(o) for o in declared}
    assert {f.name: f.default for f in dataclasses.fields(Settings)} == {o.dest: o.default for o in declared}


def test_the_parts_take_their_defaults_from_the_options():
    from storychat.answer.pipeline import AnswerOptions
    from storychat.llm.llama import EngineOptions
    from storychat.stories.formats import Limits

    answers, limits, engine = AnswerOptions(), Limits(), EngineOptions()
    assert (answers.max_tokens, answers.temperature, answers.strict, answers.max_question_chars) == (
        DEFAULTS.max_tokens, DEFAULTS.temp, DEFAULTS.strict, DEFAULTS.max_question_chars,
    )
    assert (limits.max_bytes, limits.max_stories) == (DEFAULTS.max_upload_mb * 2**20, DEFAULTS.max_stories)
    assert (engine.flash_attn, engine.kv_type) == (DEFAULTS.flash_attn, DEFAULTS.kv_type)


def test_the_data_dir_is_the_flag_else_the_environment_else_the_per_user_folder(tmp_path, monkeypatch):
    from storychat.runtime import data_dir

    monkeypatch.delenv("STORYCHAT_DATA_DIR")
    assert data_dir(settings([])) == default_data_dir()
    assert data_dir(settings([], monkeypatch, STORYCHAT_DATA_DIR=str(tmp_path / "env"))) == tmp_path / "env"
    assert data_dir(settings(["--data-dir", str(tmp_path / "flag")], monkeypatch, STORYCHAT_DATA_DIR=str(tmp_path / "env"))) == tmp_path / "flag"
