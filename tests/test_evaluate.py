import pandas as pd
import torch
from fakes import NextToken

from physlm.engine.tokenizer import build_tokenizer
from physlm.knowledge.bios import lexicon, make_biographies, make_qa
from physlm.knowledge.manipulation import make_task
from physlm.knowledge.qa import (
    accuracy_table,
    answer_questions,
    bio_recall,
    exact_match,
    final_answer,
    task_accuracy,
)

EOS = 2


def test_exact_match_stops_at_the_first_eos_and_needs_every_token():
    assert exact_match([5, 6, EOS, 9], [5, 6], EOS)
    assert not exact_match([5, 6, 7, EOS], [5, 6], EOS)  # an answer that runs on is wrong
    assert not exact_match([5, EOS], [5, 6], EOS)  # a truncated answer is wrong
    assert not exact_match([6, 5, EOS], [5, 6], EOS)
    assert exact_match([5, 6], [5, 6], EOS)  # ran out of new tokens exactly at the end


class Oracle(torch.nn.Module):
    """Greedy 'model' that answers from a table, to test batching and scoring without training."""

    def __init__(self, answers: dict[tuple[int, ...], list[int]]):
        super().__init__()
        self.answers = answers
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def generate(self, input_ids, max_new_tokens, eos_token_id, **_):
        rows = []
        for row in input_ids.tolist():
            new = ([*self.answers[tuple(row)], eos_token_id] + [eos_token_id] * max_new_tokens)[
                :max_new_tokens
            ]
            rows.append(row + new)
        return torch.tensor(rows)


def test_answer_questions_scores_each_question_and_tables_accuracy(people):
    tokenizer = build_tokenizer(lexicon(people))
    qa = make_qa(people.head(30))
    answers = {}
    for row in qa.itertuples():
        answer = tokenizer(row.answer)["input_ids"]
        wrong = row.attribute == "major" and row.split == "test"
        # The model must see each prompt after the document separator, as in training.
        seen = (tokenizer.eos_token_id, *tokenizer(row.prompt)["input_ids"])
        answers[seen] = answer[:-1] if wrong else answer
    scored = answer_questions(Oracle(answers), tokenizer, qa, batch_size=7)
    recall = pd.DataFrame({"split": qa.split, "attribute": qa.attribute, "recalled": qa.attribute != "major"})
    assert scored["correct"].tolist() == [
        not (a == "major" and s == "test") for a, s in zip(qa.attribute, qa.split, strict=True)
    ]
    assert (scored.loc[scored.correct, "generated"] == scored.loc[scored.correct, "answer"]).all()
    table = accuracy_table(scored, recall).set_index(["split", "attribute"])
    assert table.loc[("test", "major"), "accuracy"] == 0.0
    assert table.loc[("train", "major"), "accuracy"] == 1.0
    assert table["n"].sum() == len(qa)
    assert (
        table.loc[("train", "major"), "bio_recall"] == 0.0
        and table.loc[("test", "employer"), "bio_recall"] == 1.0
    )


def test_final_answer_is_what_follows_the_last_hint_separator():
    so = 9
    assert final_answer([4, so, 5, EOS, 7], EOS, so) == [5]
    assert final_answer([4, so, 6, so, 5], EOS, so) == [5]
    assert final_answer([5, EOS], EOS, so) == [5]  # no hint: the whole answer


def test_hinted_tasks_are_scored_on_the_label_after_the_hint(people, tokenizer):
    task = make_task(people.head(40), "parity_cot", seed=0, pairs_per_person=1)
    answers, whole = {}, []
    for i, row in enumerate(task.itertuples()):
        hint, label = row.answer.split(" so ")
        # Every third answer gets the hint wrong but the label right; every fifth the label wrong.
        hint = ("February" if hint == "January" else "January") if i % 3 == 0 else hint
        label = ("No" if label == "Yes" else "Yes") if i % 5 == 0 else label
        seen = (tokenizer.eos_token_id, *tokenizer(row.prompt)["input_ids"])
        answers[seen] = tokenizer(f"{hint} so {label}")["input_ids"]
        whole.append(i % 3 != 0 and i % 5 != 0)
    scored = answer_questions(Oracle(answers), tokenizer, task, batch_size=16)
    assert scored["label_correct"].tolist() == [i % 5 != 0 for i in range(len(task))]
    assert scored["correct"].tolist() == whole
    table = task_accuracy(scored).set_index("split")
    assert table["n"].sum() == len(task)
    assert table.loc["test", "accuracy"] == scored[scored.split == "test"].label_correct.mean()
    assert 0.5 <= table.loc["test", "chance"] < 1


def test_bio_recall_finds_each_value_inside_the_biography(people):
    tokenizer = build_tokenizer(lexicon(people))
    subset = people.head(40)
    bios = make_biographies(subset, "multi2_permute", seed=0)
    person = subset.iloc[0]
    blind = tokenizer(person.major)["input_ids"][-1]  # the last word of this person's major
    recall = bio_recall(NextToken(len(tokenizer), blind=blind), tokenizer, bios, subset)
    assert len(recall) == 6 * len(subset)
    mine = recall[recall.person_id == person.person_id].set_index("attribute")["recalled"]
    assert not mine["major"] and mine.drop("major").all()
    assert recall[recall.attribute != "major"]["recalled"].mean() > 0.9
