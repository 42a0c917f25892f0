import pandas as pd
import torch

from physlm.data.bios import lexicon, make_biographies, make_qa
from physlm.data.tokenizer import build_tokenizer
from physlm.evaluate import accuracy_table, answer_questions, bio_recall, exact_match

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
        answers[tuple(tokenizer(row.prompt)["input_ids"])] = answer[:-1] if wrong else answer
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


class NextToken(torch.nn.Module):
    """Teacher-forced 'model' that predicts the true next token, except that it never says `blind`."""

    def __init__(self, vocab: int, blind: int):
        super().__init__()
        self.vocab, self.blind = vocab, blind
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, ids):
        target = torch.roll(ids, -1, dims=1)
        target[target == self.blind] = 0
        return type("Output", (), {"logits": torch.nn.functional.one_hot(target, self.vocab).float()})


def test_bio_recall_finds_each_value_inside_the_biography(people):
    tokenizer = build_tokenizer(lexicon(people))
    subset = people.head(40)
    bios = make_biographies(subset, "multi2_permute", seed=0)
    person = subset.iloc[0]
    blind = tokenizer(person.major)["input_ids"][-1]  # the last word of this person's major
    recall = bio_recall(NextToken(len(tokenizer), blind), tokenizer, bios, subset)
    assert len(recall) == 6 * len(subset)
    mine = recall[recall.person_id == person.person_id].set_index("attribute")["recalled"]
    assert not mine["major"] and mine.drop("major").all()
    assert recall[recall.attribute != "major"]["recalled"].mean() > 0.9
