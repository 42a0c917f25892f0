import pandas as pd
import pytest

from physlm.knowledge.bios import MONTHS
from physlm.knowledge.manipulation import INVERSE, TASKS, majority_accuracy, make_task


@pytest.fixture(scope="module")
def tasks(people) -> dict[str, pd.DataFrame]:
    return {task: make_task(people, task, seed=0, pairs_per_person=3) for task in TASKS}


def test_parity_and_mod6_labels_follow_the_birth_month(tasks, people):
    month = people.set_index("person_id")["birth_month"]
    parity = tasks["parity"].set_index("person_id")
    assert (parity["label"] == month[parity.index].map(lambda m: "Yes" if m % 2 == 0 else "No")).all()
    mod6 = tasks["mod6"].set_index("person_id")
    assert (mod6["label"].astype(int) == month[mod6.index] % 6).all()
    assert set(parity["label"]) == {"Yes", "No"} and len(parity) == len(people)


def test_hint_states_the_month_then_the_label(tasks, people):
    month = people.set_index("person_id")["birth_month"]
    for task in ("parity", "mod6"):
        plain, hinted = tasks[task], tasks[f"{task}_cot"]
        assert (plain["answer"] == plain["label"]).all()
        assert (hinted["label"] == plain["label"]).all() and (hinted["prompt"] == plain["prompt"]).all()
        expected = [
            f"{MONTHS[month[p] - 1]} so {label}"
            for p, label in zip(hinted.person_id, hinted.label, strict=True)
        ]
        assert hinted["answer"].tolist() == expected


def test_comparison_pairs_share_a_split_differ_in_month_and_are_labelled_by_order(tasks, people):
    table = tasks["comparison"]
    info = people.set_index("person_id")
    first, other = info.loc[table.person_id], info.loc[table.other_id]
    assert (first["split"].to_numpy() == other["split"].to_numpy()).all()
    assert (table["split"].to_numpy() == first["split"].to_numpy()).all()
    assert (first["birth_month"].to_numpy() != other["birth_month"].to_numpy()).all()
    earlier = first["birth_month"].to_numpy() < other["birth_month"].to_numpy()
    assert (table["label"] == pd.Series(earlier).map({True: "Yes", False: "No"})).all()
    assert table.groupby("person_id").size().max() == 3
    assert table.apply(lambda r: info.full_name[r.other_id] in r.prompt, axis=1).all()
    hinted = tasks["comparison_cot"]
    months = f"{MONTHS[first.birth_month.iloc[0] - 1]} and {MONTHS[other.birth_month.iloc[0] - 1]}"
    assert hinted["answer"].iloc[0] == f"{months} so {table.label.iloc[0]}"


@pytest.mark.parametrize("task", ["inverse_first", "inverse1", "inverse2", "inverse_all"])
def test_inverse_questions_have_exactly_one_right_answer(tasks, people, task):
    table = tasks[task]
    keys, answer = INVERSE[task]
    assert table["prompt"].is_unique and len(table) > 0.5 * len(people)
    for row in table.itertuples():
        asked = people.loc[people.person_id == row.person_id, keys].iloc[0]
        matches = people[(people[keys] == asked).all(axis=1)]
        assert matches[answer].tolist() == [row.label]
        assert all(str(v) in row.prompt for v in asked)
    # People sharing the asked values are left out rather than given an ambiguous question.
    shared = people[people.duplicated(keys, keep=False)]
    assert not set(shared.person_id) & set(table.person_id)


def test_forward_is_the_qa_of_every_attribute_and_splits_follow_the_people(tasks, people):
    forward = tasks["forward"]
    assert len(forward) == 6 * len(people) and (forward["label"] == forward["answer"]).all()
    split = people.set_index("person_id")["split"]
    for table in tasks.values():
        assert (table["split"].to_numpy() == split[table.person_id].to_numpy()).all()


def test_tasks_are_deterministic_and_unknown_ones_named(people):
    assert make_task(people, "comparison", 1, 2).equals(make_task(people, "comparison", 1, 2))
    assert not make_task(people, "comparison", 1, 2).equals(make_task(people, "comparison", 2, 2))
    with pytest.raises(ValueError, match=r"unknown manipulation task 'mod7'.*parity_cot"):
        make_task(people, "mod7", 0, 2)


def test_majority_accuracy_is_the_best_constant_answer_per_group():
    table = pd.DataFrame({"group": ["a", "a", "a", "b", "b"], "label": ["x", "x", "y", "u", "v"]})
    assert majority_accuracy(table) == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_inverse_tasks_span_the_papers_range_from_first_name_to_all_attributes(tasks, people):
    easiest, hardest = tasks["inverse_first"], tasks["inverse_all"]
    first = people.set_index("person_id")["first"]
    assert (easiest["label"] == first[easiest.person_id].to_numpy()).all()  # a first name, not the full one
    row = hardest.iloc[0]
    person = people.set_index("person_id").loc[row.person_id]
    for attribute in ("birth_date", "birth_city", "university", "major", "employer"):
        assert str(person[attribute]) in row.prompt
    assert row.label == person.full_name
