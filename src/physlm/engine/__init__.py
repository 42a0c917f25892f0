"""The engine: what every domain's steps run on, knowing no domain.

Model construction (models), the training loop (loop) and the training step's shared part (fit),
token documents (corpus, tokenizer), teacher-forced scoring (scoring), the generic probe (probe),
quantization (quantize), tables and model folders (artifacts), provenance, typed config sections
(config_types), run settings from the environment, figure writing (figures, training_figure), and
the claims table: a row, the verdict rule, the table (verdict).
Nothing here imports physlm.knowledge or physlm.reasoning (tests/test_layout.py checks it).
"""
