from transformers import AutoTokenizer

from physlm.engine.tokenizer import build_tokenizer
from physlm.knowledge.bios import lexicon, make_biographies, make_qa


def test_round_trip_is_exact_and_nothing_is_unknown(people, tmp_path):
    tokenizer = build_tokenizer(lexicon(people))
    texts = list(make_biographies(people, "multi2_permute_fullname", seed=1)["text"])
    qa = make_qa(people)
    texts += list(qa["prompt"] + " " + qa["answer"])
    encoded = tokenizer(texts)["input_ids"]
    assert all(tokenizer.unk_token_id not in ids for ids in encoded)
    assert [tokenizer.decode(ids) for ids in encoded] == texts
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(texts[:5])["input_ids"] == encoded[:5]


def test_vocabulary_is_word_level(people):
    tokenizer = build_tokenizer(lexicon(people))
    name = people.full_name[0]
    assert len(tokenizer(name)["input_ids"]) == 3
    assert len(tokenizer) < 1000
    prompt, answer = make_qa(people).loc[0, ["prompt", "answer"]]
    # The prompt and the answer tokenise independently, so scoring can compare token lists.
    joint = tokenizer(f"{prompt} {answer}")["input_ids"]
    assert joint == tokenizer(prompt)["input_ids"] + tokenizer(answer)["input_ids"]
