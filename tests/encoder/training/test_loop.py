import os

import torch

from encoder.training.loop import STATE_FILE, Budget, StepTimer, learning_rate, load_state, save_state


def test_the_trainer_state_is_replaced_whole_and_leaves_no_temporary_file(tmp_path):
    assert load_state(tmp_path) is None
    save_state(tmp_path, {"step": 1, "weights": torch.ones(3)})
    save_state(tmp_path, {"step": 2, "weights": torch.zeros(3)})
    state = load_state(tmp_path)
    assert state["step"] == 2 and torch.equal(state["weights"], torch.zeros(3))
    assert os.listdir(tmp_path) == [STATE_FILE]


def test_the_learning_rate_warms_up_then_decays_to_zero_at_the_end_of_the_budget():
    assert learning_rate(0.0, 1.0, 0.1) == 0.0
    assert learning_rate(0.05, 1.0, 0.1) == 0.5 and learning_rate(0.1, 1.0, 0.1) == 1.0
    assert abs(learning_rate(0.55, 1.0, 0.1) - 0.5) < 1e-9 and learning_rate(1.2, 1.0, 0.1) == 0.0


def test_a_step_cap_ends_the_budget_before_its_time():
    budget = Budget(seconds=3600, max_steps=4)
    assert not budget.done(3) and budget.done(4) and budget.progress(2) == 0.5


def test_the_step_timer_measures_only_on_cuda():
    timer = StepTimer(torch.device("cpu"))
    timer.start()
    timer.stop()
    assert timer.busy_share() is None
