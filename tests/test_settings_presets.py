"""The one rule for run settings: what the user set, else the preset's value; "model default" = the weights'
recommendations over the official values (Settings.resolve), used by the Python API when no settings are given."""

import pytest

from actionmesh_core.errors import InputError
from actionmesh_core.pipeline import Settings, animate
from actionmesh_core.pipeline import run as pipeline_run
from pipeline_fixtures import moving_disc, tiny_models

RECOMMENDED = {"prior_steps": 25, "steps": 15, "mesh_resolution": 64, "prior_guidance": 2.0, "guidance": 2.0}


def test_model_default_takes_the_recommendations_over_the_official_values():
    settings = Settings.resolve(RECOMMENDED)
    assert (settings.prior_steps, settings.steps, settings.guidance, settings.prior_guidance) == (25, 15, 2.0, 2.0)
    assert settings.mesh_resolution == 64 and settings.face_budget == 40_000 and settings.seed == 44
    assert settings.describe() == "model default (25/15 steps, guidance 2.0)"
    official = Settings.resolve(None)  # weights that recommend nothing: the official values
    assert (official.prior_steps, official.steps, official.guidance) == (100, 30, 7.5)
    assert official.describe() == "model default = official (100/30 steps, guidance 7.5)"
    newer = Settings.resolve({**RECOMMENDED, "a_setting_of_a_later_version": 1})
    assert newer.steps == 15  # keys that are not settings are ignored


@pytest.mark.parametrize("preset, expected", [("official", (100, 30, 7.5)), ("fast", (50, 15, 7.5)),
                                              ("custom", (100, 30, 7.5))])
def test_other_presets_ignore_the_recommendations(preset, expected):
    settings = Settings.resolve(RECOMMENDED, preset)
    assert (settings.prior_steps, settings.steps, settings.guidance) == expected
    assert settings.mesh_resolution is None and settings.source == preset


def test_what_the_user_sets_wins_and_custom_numbers_apply_only_with_custom():
    settings = Settings.resolve(RECOMMENDED, steps=20, seed=3, guidance=None)
    assert (settings.steps, settings.seed, settings.guidance) == (20, 3, 2.0)  # None = not set
    assert settings.describe() == "model default, with your steps (25/20 steps, guidance 2.0)"
    widgets = {"steps": 4, "guidance": 1.5}
    assert Settings.resolve(RECOMMENDED, "model default", custom=widgets).steps == 15
    assert Settings.resolve(RECOMMENDED, "fast", custom=widgets).steps == 15
    custom = Settings.resolve(RECOMMENDED, "custom", custom=widgets, seed=9)
    assert (custom.prior_steps, custom.steps, custom.guidance, custom.seed) == (100, 4, 1.5, 9)
    assert custom.describe() == "custom (100/4 steps, guidance 7.5/1.5)"
    assert Settings.resolve(RECOMMENDED, "fast", steps=15).source == "fast"  # the preset's own value


def test_low_vram_decodes_one_frame_at_a_time_unless_told_otherwise():
    assert Settings.resolve(RECOMMENDED, low_vram=True).decode_batch == 1
    assert Settings.resolve(RECOMMENDED, low_vram=True, decode_batch=2).decode_batch == 2
    assert Settings.resolve(RECOMMENDED).decode_batch == 4


def test_bad_presets_settings_and_values_are_clear_errors():
    with pytest.raises(InputError, match="unknown preset 'quick'; choose one of: model default, official"):
        Settings.resolve(RECOMMENDED, "quick")
    with pytest.raises(InputError, match="unknown setting 'stepz'"):
        Settings.resolve(RECOMMENDED, stepz=3)
    with pytest.raises(InputError, match="steps must be at least 1"):
        Settings.resolve(RECOMMENDED, "custom", custom={"steps": 0})


def test_the_python_api_uses_the_recommendations_when_given_no_settings(monkeypatch):
    models = tiny_models(recommended={"prior_steps": 1, "steps": 1, "mesh_resolution": 16, "guidance": 3.0})
    used = []

    def stop(frames, reference, models, settings, *args):
        used.append(settings)
        return "animated"

    monkeypatch.setattr(pipeline_run, "animate_reference", stop)
    assert animate(moving_disc(2), models) == "animated"
    assert (used[0].prior_steps, used[0].steps, used[0].guidance, used[0].mesh_resolution) == (1, 1, 3.0, 16)
    assert used[0].source == "model default"
