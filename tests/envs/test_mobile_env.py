"""Mobile-v0 on real Chromium: every template's oracle, actions, gestures, state keys, isolation, crashes."""

import json

import numpy as np
import pytest
from browser_checks import (
    check_blocks_other_loopback_servers,
    check_crash_step,
    kill_browser,
    kill_renderers,
)

import stepgym
from stepgym.envs.mobile import TEMPLATES, MobileEnv, Template, register
from stepgym.envs.mobile.templates import DONE, load_all, open_app, tap, type_in
from stepgym.rewards.mobile import answer_matches

NAMES = sorted(load_all())


def act(**kw):
    return json.dumps(kw)


@pytest.fixture(scope="module")
def env():
    e = stepgym.make("stepgym/Mobile-v0", image=False).unwrapped
    yield e
    e.close()


def play(e, name, seed):
    obs, info = e.reset(seed=seed, options={"task_id": name})
    keys, total, done = [info["state_key"]], 0.0, False
    while not done:
        obs, r, term, trunc, info = e.step(e.oracle_action())
        assert info["action_valid"], (name, seed, info["action_error"])
        keys.append(info["state_key"])
        total += r
        done = term or trunc
    return total, info, keys


def test_ships_30_templates_over_five_apps_with_oracles_in_budget():
    assert len(NAMES) >= 30
    classes = [TEMPLATES[n] for n in NAMES]
    assert {c.app for c in classes} >= {"contacts", "messages", "clock", "notes", "settings"}
    assert sum(c.infeasible for c in classes) >= 3 and sum(c.retrieval for c in classes) >= 6
    assert any(c.complexity > 1 for c in classes)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_template_oracle_succeeds(env, seed):
    instructions = set()
    for name in NAMES:
        total, info, _ = play(env, name, seed)
        assert info["success"] and total == 1.0, (name, seed, env.task.instruction)
        assert env.steps <= env.max_steps == round(10 * TEMPLATES[name].complexity)
        instructions.add(env.task.instruction)
    assert len(instructions) >= len(NAMES) - 3  # goals are filled in, not generic


def test_parameters_and_goals_vary_with_the_seed(env):
    goals = {env.reset(seed=s, options={"task_id": "ContactsAddContact"})[1]["instruction"] for s in range(5)}
    assert len(goals) >= 4


def test_infeasible_scores_only_on_status_infeasible(env):
    env.reset(seed=0, options={"task_id": "SettingsNfcInfeasible"})
    *_, r, term, _, info = env.step(act(action_type="status", goal_status="complete"))
    assert term and r == 0.0 and not info["success"]
    env.reset(seed=0, options={"task_id": "SettingsNfcInfeasible"})
    *_, r, term, _, info = env.step(act(action_type="status", goal_status="infeasible"))
    assert term and r == 1.0 and info["success"]
    env.reset(seed=0, options={"task_id": "SettingsToggle"})  # feasible: giving up scores 0
    *_, r, term, _, info = env.step(act(action_type="status", goal_status="infeasible"))
    assert term and r == 0.0


def test_retrieval_is_judged_on_the_answer(env):
    _, info = env.reset(seed=3, options={"task_id": "ContactsPhoneLookup"})
    expected = env.task.data["params"]["answer"]
    env.step(act(action_type="answer", text="555-9999"))
    *_, r, term, _, info = env.step(act(action_type="status", goal_status="complete"))
    assert term and r == 0.0
    env.reset(seed=3, options={"task_id": "ContactsPhoneLookup"})
    obs, *_ = env.step(act(action_type="answer", text=f"It is {expected}."))
    assert expected in obs["text"]
    *_, r, _, _, info = env.step(act(action_type="status", goal_status="complete"))
    assert r == 1.0
    assert answer_matches("7:05", "07:05") and answer_matches("The version is 14", "14")
    assert not answer_matches("2014", "14") and not answer_matches(None, "x")


def test_composite_task_gives_the_fraction_done(env):
    env.reset(seed=0, options={"task_id": "SettingsTravelMode"})
    env.step(act(action_type="open_app", app_name="settings"))
    env.step(act(action_type="click", index=_index(env, "switch:airplane")))
    *_, r, term, _, info = env.step(act(action_type="status", goal_status="complete"))
    assert term and abs(r - 1 / 3) < 1e-9 and not info["success"]


def _index(env, key):
    return next(e["index"] for e in env._snapshot()["elements"] if e["key"] == key)


@pytest.mark.parametrize("action, expected", [
    ("click here", "JSON object"),
    ("{not json}", "not valid JSON"),
    ('["click"]', "JSON object"),
    (act(action_type="fly"), "unknown action_type 'fly'"),
    (act(action_type="click"), "index or x and y"),
    (act(action_type="click", x=400, y=10), "x=400 is outside the screen"),
    (act(action_type="click", x=10, y=-1), "y=-1 is outside the screen"),
    (act(action_type="click", x=True, y=3), "must be an integer"),
    (act(action_type="click", index=99), "index 99 is not on screen"),
    (act(action_type="scroll", direction="sideways"), "direction"),
    (act(action_type="input_text", text="hi"), "no text field is focused"),
    (act(action_type="input_text", text="hi", index=0), "is not a text field"),
    (act(action_type="input_text", text=5), "text as a string"),
    (act(action_type="open_app", app_name="Camera"), "no app named 'Camera'; installed apps: Contacts"),
    (act(action_type="status", goal_status="done"), "'complete' or 'infeasible'"),
    ({"action_type": "long_press", "x": 1e309, "y": 1}, "must be an integer"),
])
def test_bad_actions_are_reported_not_raised(env, action, expected):
    _, info = env.reset(seed=0, options={"task_id": "ClockAddAlarm"})
    before = info["state_key"]
    obs, r, term, trunc, info = env.step(action)
    assert not info["action_valid"] and expected in info["action_error"], info["action_error"]
    assert info["action_error"] in obs["text"] and r == 0.0 and not term
    assert info["state_key"] == before


def test_an_input_the_page_refuses_is_the_agents_error_and_the_phone_stays_usable(env):
    env.reset(seed=0, options={"task_id": "ClockAddAlarm"})
    env._session.evaluate("() => { phone.home = () => { throw new Error('home is broken'); }; }")
    obs, r, term, trunc, info = env.step(act(action_type="navigate_home"))
    assert not info["action_valid"] and not (term or trunc) and "error" not in info
    assert info["action_error"].startswith("the phone refused navigate_home: ") and "home is broken" in info["action_error"]
    assert info["action_error"] in obs["text"]
    *_, info = env.step(act(action_type="open_app", app_name="Clock"))
    assert info["action_valid"] and info["state_key"].startswith("clock/")


def test_observation_is_a_phone_screenshot_and_android_elements():
    e = MobileEnv(templates=["ContactsFavorite"])
    try:
        obs, info = e.reset(seed=0)
        assert obs["image"].shape == (640, 360, 3) and obs["image"].dtype == np.uint8
        assert obs["image"].std() > 10  # a drawn home screen, not a blank frame
        assert "Screen: home screen" in obs["text"]
        assert '"Contacts" desc="Contacts" bounds=(' in obs["text"] and "clickable" in obs["text"]
        obs, *_ , info = e.step(act(action_type="open_app", app_name="Settings"))
        assert "Switch" in obs["text"] and ("checked" in obs["text"])
        assert info["screen"]["app"] == "settings"
        assert not np.array_equal(obs["image"], e.reset(seed=0)[0]["image"])
    finally:
        e.close()


def test_touch_gestures_reach_the_apps(env):
    env.reset(seed=0, options={"task_id": "ContactsDeleteContact"})
    env.step(act(action_type="open_app", app_name="Contacts"))
    first = env._snapshot()["elements"][1]["text"]
    top = lambda: env._session.evaluate("() => document.querySelector('.scroll').scrollTop")  # noqa: E731
    # AndroidWorld: scroll down == swipe up (the finger moves up, the list shows what is below)
    *_, info = env.step(act(action_type="scroll", direction="down"))
    after_scroll = top()
    assert after_scroll > 50 and env._snapshot()["elements"][1]["text"] != first
    env.step(act(action_type="scroll", direction="up"))
    assert top() == 0
    env.step(act(action_type="swipe", direction="up"))
    assert top() == after_scroll
    env.step(act(action_type="swipe", direction="down"))
    assert top() == 0
    # a long press opens the row's menu; a tap on the same row opens the contact instead
    row = env._snapshot()["elements"][2]
    *_, info = env.step(act(action_type="long_press", index=row["index"]))
    assert info["screen"]["menu"] == "contact" and info["screen"]["view"] == "list"
    env.step(act(action_type="navigate_back"))
    *_, info = env.step(act(action_type="click", index=row["index"]))
    assert info["screen"]["view"] == "detail" and info["screen"]["menu"] is None
    # coordinates work as well as indices: the nav bar's home button
    *_, info = env.step(act(action_type="click", x=180, y=618))
    assert info["screen"]["app"] == "home"


def test_double_tap_and_typing_reach_the_apps(env):
    env.reset(seed=0, options={"task_id": "NotesUnpin"})
    title = env.task.data["params"]["title"]
    env.step(act(action_type="open_app", app_name="Notes"))
    env.step(act(action_type="click", index=_index(env, f"note:{title}")))
    *_, info = env.step(act(action_type="double_tap", index=_index(env, "pinhint")))
    assert not next(n for n in env.app_state()["notes"] if n["title"] == title)["pinned"]
    *_, info = env.step(act(action_type="input_text", index=_index(env, "field:title"), text="Renamed", clear_text=True))
    assert info["screen"]["form"]["title"] == "Renamed"
    env.step(act(action_type="click", index=_index(env, "save")))
    assert any(n["title"] == "Renamed" for n in env.app_state()["notes"])


def test_state_key_follows_app_state_and_screen(env):
    _, info = env.reset(seed=5, options={"task_id": "SettingsToggle"})
    k0 = info["state_key"]
    assert k0.startswith("home/home:")
    *_, info = env.step(act(action_type="wait"))
    assert info["state_key"] == k0
    *_, info = env.step(act(action_type="open_app", app_name="Settings"))
    k1 = info["state_key"]
    assert k1.startswith("settings/list:") and k1 != k0
    *_, info = env.step(act(action_type="navigate_home"))
    assert info["state_key"] == k0
    _, again = env.reset(seed=5, options={"task_id": "SettingsToggle"})
    assert again["state_key"] == k0
    _, other = env.reset(seed=6, options={"task_id": "SettingsToggle"})
    assert other["state_key"] != k0  # different phone data


def test_oracle_follows_its_action_in_any_spelling(env):
    """The oracle's plan moves on when its action is taken as a dict (a tool call) or re-spaced text,
    not only as its exact text; a different action does not move it on."""
    for name in NAMES:
        obs, info = env.reset(seed=0, options={"task_id": name})
        done, i = False, 0
        while not done:
            text = env.oracle_action()
            action = json.loads(text) if i % 2 == 0 else json.dumps(json.loads(text), indent=1)
            obs, r, term, trunc, info = env.step(action)
            done, i = term or trunc, i + 1
        assert info["success"], (name, env.task.instruction)
    env.reset(seed=0, options={"task_id": "SettingsToggle"})
    first = env.oracle_action()
    env.step(act(action_type="wait"))
    assert env.oracle_action() == first


def test_same_seed_same_oracle_trajectory(env):
    assert play(env, "MessagesShareNumber", 4)[2] == play(env, "MessagesShareNumber", 4)[2]


def test_a_template_is_one_class_in_one_file():
    @register
    class NotesWriteHello(Template):
        app = "notes"

        def goal(self, p):
            return "Create a note titled Hello."

        def check(self, state, p, answer):
            return float(any(n["title"] == "Hello" for n in state["notes"]))

        def oracle(self, p):
            return [open_app("Notes"), tap("fab"), type_in("field:title", "Hello"), tap("save"), DONE]

    e = MobileEnv(templates=["NotesWriteHello"], image=False)
    try:
        total, info, _ = play(e, "NotesWriteHello", 0)
        assert info["success"] and e.max_steps == 10
    finally:
        e.close()
        del TEMPLATES["NotesWriteHello"]
    with pytest.raises(KeyError, match="unknown mobile template 'Nope'"):
        MobileEnv(templates=["Nope"])


def test_env_blocks_other_loopback_servers_and_reports_it(env):
    check_blocks_other_loopback_servers(env, "ClockAddAlarm", act(action_type="wait"))


def test_killed_browser_truncates_then_reset_recovers():
    e = MobileEnv(templates=["SettingsToggle"])
    try:
        e.reset(seed=0)
        pid = kill_browser(e)
        check_crash_step(e.step(act(action_type="click", x=180, y=320)), (640, 360, 3))
        assert play(e, "SettingsToggle", 0)[1]["success"]
        assert e._session.host.pid not in (None, pid)
        e.reset(seed=0)
        kill_renderers(e)
        check_crash_step(e.step(act(action_type="swipe", direction="up")), (640, 360, 3))
        _, info = e.reset(seed=0)
        *_, info = e.step(act(action_type="wait"))
        assert info["action_valid"] and info["state_key"] != "crashed"
    finally:
        e.close()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3, 4, 5])
def test_every_template_oracle_succeeds_more_seeds(env, seed):
    for name in NAMES:
        total, info, _ = play(env, name, seed)
        assert info["success"] and total == 1.0, (name, seed, env.task.instruction)


def test_compact_element_list_names_what_the_full_one_shows_and_clicks_by_the_same_index():
    full, compact = MobileEnv(image=False), MobileEnv(image=False, elements="compact")
    try:
        for e in (full, compact):
            e.reset(seed=0, options={"task_id": "SettingsToggle"})
            obs, _, _, _, info = e.step(act(action_type="open_app", app_name="Settings"))
        f_obs, c_obs = full._observe_text(), compact._observe_text()
        c_lines = c_obs.split("UI elements:\n")[1].splitlines()
        f_lines = f_obs.split("UI elements:\n")[1].splitlines()
        assert len(c_lines) == len(f_lines)  # one line per element, same indices
        assert "bounds=" not in c_obs and "Switch" not in c_obs and "bounds=" in f_obs
        assert any("(checked)" in ln or "(unchecked)" in ln for ln in c_lines)  # a toggle's state stays
        # a symbol-only button ("◀") is named by its description
        assert "◀" in f_obs and "◀" not in c_obs and any(ln.endswith("] Back") for ln in c_lines)
        assert '"[index] text (flags)"' in compact.action_doc and "bounds=(left" in full.action_doc
        assert f_obs.split("UI elements:")[0] == c_obs.split("UI elements:")[0]  # task and screen unchanged
        # the same index clicks the same element in both formats
        for e in (full, compact):
            e.step(act(action_type="click", index=1))
        assert full.app_state() == compact.app_state() and full.state_key() == compact.state_key()
        with pytest.raises(ValueError, match="elements must be one of .*'tiny'"):
            MobileEnv(image=False, elements="tiny")
    finally:
        full.close()
        compact.close()
