"""Sentence templates for bioS, written for this project.

Each attribute has ten core clauses; five framings around each give 50 templates per attribute, so
that the model sees the same fact in many surface forms (the paper's bioS uses about 50 per
attribute). `{subj}` is the name or a pronoun, `{poss}` its possessive, `{value}` the attribute.
"""

from __future__ import annotations

ATTRIBUTES = ("birth_date", "birth_city", "university", "major", "employer", "work_city")

CORES: dict[str, list[str]] = {
    "birth_date": [
        "{subj} was born on {value}",
        "{subj} came into this world on {value}",
        "{poss} birthday falls on {value}",
        "{poss} date of birth is {value}",
        "{subj} was welcomed into the world on {value}",
        "{subj} entered life on {value}",
        "{poss} life began on {value}",
        "{subj} arrived on {value}",
        "{poss} birth took place on {value}",
        "{subj} was delivered on {value}",
    ],
    "birth_city": [
        "{subj} was born in {value}",
        "{poss} birthplace is {value}",
        "{subj} hails from {value}",
        "{subj} came from {value}",
        "{poss} life started in {value}",
        "{subj} was brought into the world in {value}",
        "{poss} place of birth is {value}",
        "{subj} first saw the light of day in {value}",
        "{poss} hometown is {value}",
        "{subj} is a native of {value}",
    ],
    "university": [
        "{subj} studied at {value}",
        "{subj} attended {value}",
        "{subj} graduated from {value}",
        "{poss} alma mater is {value}",
        "{subj} was educated at {value}",
        "{subj} completed a degree at {value}",
        "{poss} university education took place at {value}",
        "{subj} enrolled at {value}",
        "{subj} spent the college years at {value}",
        "{subj} earned a degree from {value}",
    ],
    "major": [
        "{subj} majored in {value}",
        "{poss} field of study was {value}",
        "{subj} specialized in {value}",
        "{poss} major was {value}",
        "{subj} focused on {value} in college",
        "{subj} pursued a degree in {value}",
        "{poss} academic focus was {value}",
        "{subj} chose {value} as a major",
        "{subj} concentrated on {value}",
        "{subj} devoted the student years to {value}",
    ],
    "employer": [
        "{subj} worked for {value}",
        "{subj} was employed by {value}",
        "{poss} employer was {value}",
        "{subj} held a job at {value}",
        "{subj} built a career at {value}",
        "{subj} joined the staff of {value}",
        "{poss} career was spent at {value}",
        "{subj} took a position at {value}",
        "{subj} was on the payroll of {value}",
        "{poss} workplace was {value}",
    ],
    "work_city": [
        "{subj} worked in {value}",
        "{poss} office was in {value}",
        "{subj} was based in {value}",
        "{poss} job was located in {value}",
        "{subj} commuted to work in {value}",
        "{poss} working life took place in {value}",
        "{subj} was employed in {value}",
        "{poss} professional base was {value}",
        "{subj} lived and worked in {value}",
        "{poss} daily work happened in {value}",
    ],
}

FRAMINGS = (
    "{clause}.",
    "Notably, {clause}.",
    "It is known that {clause}.",
    "Records show that {clause}.",
    "{clause}, according to public records.",
)

TEMPLATES: dict[str, list[str]] = {
    attribute: [framing.replace("{clause}", core) for core in cores for framing in FRAMINGS]
    for attribute, cores in CORES.items()
}

QUESTIONS: dict[str, str] = {
    "birth_date": "What is the birth date of {name}?",
    "birth_city": "What is the birth city of {name}?",
    "university": "Which university did {name} study at?",
    "major": "What major did {name} study?",
    "employer": "Which company did {name} work for?",
    "work_city": "Where did {name} work?",
}
ANSWER_PREFIX = "Answer:"

# The control of Part 3.2 (multi5+reverse6, Appendix A.1.1): the first sentence is about "the
# person", later ones use a pronoun, and the name comes last, in a closing sentence.
REVERSE_SUBJECT = ("the person", "the person's")
REVERSE_CLOSING = "The person's name is {name}."

# Knowledge manipulation tasks (Part 3.2). A chain-of-thought answer states the birth month(s)
# first, then HINT_SEPARATOR, then the label; without the hint the answer is the label alone.
TASK_QUESTIONS: dict[str, str] = {
    "parity": "Was {name} born in an even month?",
    "mod6": "What is the birth month of {name} modulo 6?",
    "comparison": "Was {name} born in an earlier month than {other}?",
    "inverse_first": "What is the first name of the person born on {birth_date}?",
    "inverse1": "Who was born on {birth_date}?",
    "inverse2": "Who was born on {birth_date} in {birth_city}?",
    "inverse_all": "Who was born on {birth_date} in {birth_city}, studied {major} at {university}, "
    "and worked for {employer}?",
}
HINT_SEPARATOR = "so"
YES, NO = "Yes", "No"
MOD6_LABELS = tuple(str(r) for r in range(6))
