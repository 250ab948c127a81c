import os

import pytest
import torch

from encoder.training.loop import STATE_FILE, Budget, BudgetedSteps, LossWindow, learning_rate, load_state, save_state
from encoder.training.meters import StepTimer


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
    assert Budget(seconds=3600, max_steps=0).done(0)  # zero steps, not no limit
    assert not Budget(seconds=3600).done(10**6)


def test_the_step_timer_measures_only_on_cuda():
    timer = StepTimer(torch.device("cpu"))
    timer.start()
    timer.stop()
    assert timer.busy_share() is None


def test_budgeted_steps_take_whole_shuffled_batches_pass_after_pass_until_the_step_cap():
    steps = BudgetedSteps(Budget(seconds=3600, max_steps=5), size=10, batch_size=4, peak_lr=1.0, warmup_fraction=0.2,
                          generator=torch.Generator().manual_seed(0), device=torch.device("cpu"), desc="test", show_progress=False)
    taken = list(steps)
    assert [s.number for s in taken] == [1, 2, 3, 4, 5] and [s.epoch for s in taken] == [0, 0, 1, 1, 2]
    assert all(len(s.rows) == 4 for s in taken)
    for epoch in (0, 1):  # no example twice within a pass
        rows = torch.cat([s.rows for s in taken if s.epoch == epoch])
        assert len(set(rows.tolist())) == 8
    assert [s.lr for s in taken] == pytest.approx([learning_rate(k / 5, 1.0, 0.2) for k in range(5)], abs=1e-3)  # the cap, not the clock
    assert steps.steps == 5 and steps.passes == 2.0


def test_budgeted_steps_refuse_a_training_set_smaller_than_a_batch():
    with pytest.raises(ValueError, match="fewer than one batch"):
        BudgetedSteps(Budget(seconds=10), 3, 4, 1.0, 0.1, torch.Generator(), torch.device("cpu"), "test", False)


def test_a_loss_window_gives_each_loss_its_mean_and_starts_afresh():
    window = LossWindow(torch.device("cpu"), 2)
    window.add(torch.tensor(1.0), torch.tensor(4.0))
    window.add(torch.tensor(3.0), torch.tensor(8.0))
    means, rate = window.take(examples_per_step=16)
    assert means == [2.0, 6.0] and rate > 0 and window.steps == 0
    window.add(torch.tensor(5.0), torch.tensor(0.0))
    assert window.take(16)[0] == [5.0, 0.0]
